"""The one run protocol: an Exercise builds a Trainer from a variant; a Trainer trains a sweep.

Supervised exercises and RL agents alike: `exercise.build(variant, data_dir)` gives a `Trainer`,
whose `train(sweep, on_log)` returns a `RunResult` (history with leading (entry, seed, point)
axes, final state, per-run outputs, timings). `supervised_trainer` wraps the engine's `fit`,
`agent_trainer` an agent's one-scan `train(key, hparams)`; nothing downstream tells them apart.
"""

import dataclasses
from typing import Any, Callable, Mapping

import jax
import ml_collections
import numpy as np

from rabbitjax import distributed
from rabbitjax.config import Schema
from rabbitjax.train import RunResult, Sweep, Task, fit, make_sweep, over_runs, train_agents
from rabbitjax.train.mapping import Programs
from rabbitjax.train.sweep import MakeData
from rabbitjax.tuning import Tuning

# on_log(first_entry, metrics, seconds=None): consecutive history entries from `first_entry`,
# their metrics as (entries, seeds, points) host arrays, and each entry's training time where
# they are trained live (None: an agent's, whose history comes back when its whole run has
# ended, in one call).
OnLog = Callable[[int, Mapping[str, np.ndarray]], None]
# describe(final state of one run) -> named arrays reported per run.
Describe = Callable[[Any], Mapping[str, jax.Array]]


@dataclasses.dataclass(frozen=True)
class Trainer:
  """One variant of an exercise, ready to train a sweep.

  Attributes:
    train: (sweep, on_log=None, checkpoints=None, layout=None, programs=None) -> RunResult,
      its `outputs` filled; with `checkpoints` (rabbitjax.checkpoint.Checkpoints) it resumes
      and saves between epochs (agents, whose whole run is one program, restart instead);
      `layout` (rabbitjax.distributed) places the runs and examples on a device mesh;
      `programs` (rabbitjax.train.mapping.Programs) holds the run's compiled programs.
    num_logs: entries in the history (epochs, logged chunks, updates).
    log_unit: what one entry is: "epoch", "chunk" (of environment steps) or "update".
    tuning: the machine-dependent choices it runs with (logged and recorded).
    plot: (variant result) -> the exercise's own figures (`rabbitjax.figures.Figure`).
    model_summary: the model as a table (Keras' `model.summary()`), saved beside the records.
    batch_sizes: the example counts a mesh's data axis must divide (training micro-batch,
      evaluation batch); empty: no data axis (agents).
    centre: the summary over seeds its curves draw (rabbitjax.plots.CENTRES): the mean, or for
      agents the interquartile mean, the RL field's.
  """

  train: Callable[..., RunResult]
  num_logs: int
  log_unit: str
  tuning: Tuning
  plot: Callable[[Any, Any], list] | None = None
  model_summary: str | None = None
  batch_sizes: tuple[int, ...] = ()
  centre: str = "mean"


@dataclasses.dataclass(frozen=True)
class Exercise:
  """A registered kind of training: its config schema, and how a variant becomes a Trainer.

  Attributes:
    name: what `config.exercise` says.
    schema: the exercise's own config fields, their rules, and which may be swept.
    make_trainer: (variant) -> Trainer; or (variant, data) -> Trainer with `load_data`.
    load_data: (variant, tfds data directory or None) -> the data `make_trainer` takes.
    data_fields: the variant fields `load_data` reads: variants equal in them share the data
      when `build` is given a `loaded` dict (one run's variants, not the process).
  """

  name: str
  schema: Schema
  make_trainer: Callable[..., Trainer]
  load_data: Callable[[ml_collections.ConfigDict, str | None], Any] | None = None
  data_fields: tuple[str, ...] = ()

  def build(self, variant: ml_collections.ConfigDict, data_dir: str | None = None,
            loaded: dict | None = None) -> Trainer:
    """The variant's Trainer; `loaded` keeps loaded data for the next variants of this run."""
    if self.load_data is None:
      return self.make_trainer(variant)
    if loaded is None or not self.data_fields:
      return self.make_trainer(variant, self.load_data(variant, data_dir))
    key = (self.name, data_dir, tuple(repr(variant.get(name)) for name in self.data_fields))
    if key not in loaded:
      loaded[key] = self.load_data(variant, data_dir)
    return self.make_trainer(variant, loaded[key])

  def sweep(self, variant: ml_collections.ConfigDict) -> Sweep:
    """Seeds variant.seed .. + num_seeds - 1, crossed with the grid of variant.sweep."""
    seeds = variant.seed + np.arange(variant.num_seeds)
    defaults = {name: variant[name] for name in self.schema.sweepable if name in variant}
    return make_sweep(seeds, defaults, dict(variant.get("sweep", {}) or {}))


def _with_outputs(result: RunResult, describe: Describe | None, tuning: Tuning,
                  programs) -> RunResult:
  if describe is None:
    return result
  per_run = over_runs(describe, 0, 0, vmap=tuning.vmap)
  programs = Programs() if programs is None else programs
  outputs = distributed.to_host(programs.get(per_run, ("outputs", describe, tuning.vmap),
                                             result.state)(result.state))
  return dataclasses.replace(result, outputs={k: np.asarray(v) for k, v in outputs.items()})


def supervised_trainer(task: Task, num_epochs: int, tuning: Tuning, *,
                       data=None, make_data: MakeData | None = None,
                       describe: Describe | None = None, plot=None,
                       model_summary: str | None = None) -> Trainer:
  """A Trainer running the engine's `fit` with `tuning`'s arguments."""
  task = dataclasses.replace(task, eval_batch_size=tuning.eval_batch_size,
                             microbatch_size=tuning.microbatch_size,
                             weighted_sum=tuning.weighted_sum, run_inputs=tuning.run_inputs,
                             gather_per_step=tuning.gather_per_step)

  def train(sweep: Sweep, on_log: OnLog | None = None, checkpoints=None, layout=None,
            programs=None) -> RunResult:
    result = fit(task, sweep, num_epochs, data=data, make_data=make_data, on_epoch=on_log,
                 seeds_at_once=tuning.seeds_at_once, checkpoints=checkpoints, layout=layout,
                 vmap=tuning.vmap, programs=programs,
                 epochs_per_dispatch=tuning.epochs_per_dispatch or 1,
                 seed_groups=tuning.seed_groups or 1)
    return _with_outputs(result, describe, tuning, programs)

  return Trainer(train=train, num_logs=num_epochs, log_unit="epoch", tuning=tuning, plot=plot,
                 model_summary=model_summary,
                 batch_sizes=(task.microbatch_size or task.batch_size, task.eval_batch_size))


def agent_trainer(agent_train: Callable, num_logs: int, log_unit: str, tuning: Tuning, *,
                  describe: Describe | None = None, plot=None) -> Trainer:
  """A Trainer for an agent's `train(key, hparams) -> (final, history)`, one program per sweep.

  The history comes back when the whole run has ended, and is then passed to `on_log` whole.
  """

  def train(sweep: Sweep, on_log: OnLog | None = None, checkpoints=None, layout=None,
            programs=None) -> RunResult:
    del checkpoints  # one program per sweep: an interrupted agent run starts again
    result = train_agents(agent_train, sweep, layout, tuning.vmap, tuning.seed_groups or 1)
    if on_log is not None:
      on_log(1, result.history)
    return _with_outputs(result, describe, tuning, programs)

  return Trainer(train=train, num_logs=num_logs, log_unit=log_unit, tuning=tuning, plot=plot,
                 centre="iqm")
