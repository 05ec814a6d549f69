"""What an exercise hands the engine: a Task, its data, and optional per-run results and plots."""

import dataclasses
from typing import Any, Callable, Mapping

import jax
import ml_collections

from rabbitjax.data import Dataset
from rabbitjax.train import Task
from rabbitjax.train.sweep import MakeData


@dataclasses.dataclass(frozen=True)
class Exercise:
  """One variant of an exercise, ready to train.

  Supervised exercises give a `task` and its data and train through the engine; the RL ones give
  `train`, which runs the whole sweep as one program of its own (`rabbitjax.rl.run_sweep`).

  Attributes:
    task: model, loss, metrics, optimizer and batch sizes.
    data: (train, validation) shared by every run; or
    make_data: per-run (train, validation) from the run's key and hyper-parameters.
    train: sweep -> FitResult, for exercises that are not trained by the supervised engine.
    describe: final state of one run -> named arrays reported per run (e.g. fitted coefficients).
    plot: (variant result, workdir) -> paths of extra PNGs this exercise draws.
    model_summary: the model as a table (Keras' `model.summary()`), saved beside the records.
    seeds_at_once: seeds trained together in the epoch program (`fit`'s); None: all at once.
  """

  task: Task | None = None
  train: Callable[[Any], Any] | None = None
  data: tuple[Dataset, Dataset] | None = None
  make_data: MakeData | None = None
  describe: Callable[[Any], Mapping[str, jax.Array]] | None = None
  plot: Callable[[Any, Any], list] | None = None
  model_summary: str | None = None
  seeds_at_once: int | None = None


@dataclasses.dataclass(frozen=True)
class ExerciseSpec:
  """A registered exercise: how to build a variant, and which hyper-parameters may be swept."""

  build: Callable[[ml_collections.ConfigDict, str | None], Exercise]
  sweepable: tuple[str, ...]
