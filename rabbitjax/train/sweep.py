"""Seeds x hyper-parameter points as two leading vmap axes: a whole sweep is one compiled program.

Every leaf of the sweep's train state has leading axes (seed, point), the seed axis first so that
it can be sharded over devices. Runs of one seed share their PRNG key at every point (same
initial parameters, shuffles and data draws), so differences along the point axis come from
the hyper-parameter alone. Because the shuffle key enters the vmapped epoch with no point axis,
vmap computes each seed's shuffle (and, for shared data, its gathered batches) once, not once
per point.
"""

import dataclasses
import functools
import itertools
import math
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from rabbitjax import distributed
from rabbitjax.data import Dataset
from rabbitjax.distributed import Layout
from rabbitjax.train.engine import Task, create_train_state, run_epoch
from rabbitjax.train.mapping import Programs, in_seed_groups, over_runs, placement, seed_group

# Per-run synthetic data: (key, hparams) -> (train, validation).
MakeData = Callable[[jax.Array, Mapping[str, jax.Array]], tuple[Dataset, Dataset]]


@dataclasses.dataclass(frozen=True)
class Sweep:
  """The runs of one experiment: every seed crossed with every hyper-parameter point.

  Attributes:
    seeds: (S,) integer seeds; run (s, m) draws all its randomness from `jax.random.key(seeds[s])`.
    hparams: name -> (M,) float32 values, one per point; every name is set at every point.
    swept: the names that were swept (the others hold their default at every point).
  """

  seeds: np.ndarray
  hparams: Mapping[str, np.ndarray]
  swept: tuple[str, ...] = ()

  @property
  def num_points(self) -> int:
    return len(next(iter(self.hparams.values()))) if self.hparams else 1

  def point(self, index: int) -> dict[str, float]:
    """The swept hyper-parameters of point `index` as plain floats."""
    return {name: float(self.hparams[name][index]) for name in self.swept}

  def point_label(self, index: int) -> str:
    """'noise=0.3, learning_rate=0.01' for a point; 'default' when nothing is swept."""
    return ", ".join(f"{name}={value:g}" for name, value in self.point(index).items()) or "default"


def make_sweep(seeds: Sequence[int], defaults: Mapping[str, float],
               swept: Mapping[str, Sequence[float]] | None = None) -> Sweep:
  """The cartesian product of the `swept` values; other names keep their default everywhere."""
  swept = dict(swept or {})
  combos = list(itertools.product(*swept.values()))
  hparams = {name: np.full(len(combos), value, np.float32) for name, value in defaults.items()}
  for index, combo in enumerate(combos):
    for name, value in zip(swept, combo):
      hparams[name][index] = value
  return Sweep(seeds=np.asarray(seeds, np.int32), hparams=hparams, swept=tuple(swept))


@dataclasses.dataclass
class RunResult:
  """A trained sweep, the same for every exercise.

  Attributes:
    state: the final state of every run; leaves lead with (seed, point).
    history: metric name -> (log entries, seeds, points): epochs, or an agent's logged chunks.
    seconds: "setup" (data, initialisation), "compile" (once for all runs), "train".
    train_data: the training data, per run (leading (seed, point)) when drawn per run, else
      shared; None for agents.
    outputs: per-run arrays (seed, point, ...) an exercise reports, e.g. fitted coefficients.
  """

  state: Any
  history: dict[str, np.ndarray]
  seconds: dict[str, float]
  train_data: Dataset | None = None
  outputs: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def _keys_and_hparams(sweep: Sweep, layout: Layout | None, programs: Programs):
  """Each seed's PRNG key (S,) and the points' hyper-parameters as device arrays (M,); on a
  mesh the keys are split over its seed axis and the rest replicated."""
  if distributed.mesh_of(layout) is None:  # a transfer, where jnp.asarray compiles a program
    place = lambda value, split_seeds: jax.device_put(value)
  else:
    place = lambda value, split_seeds: distributed.put(value, layout, split_seeds)
  seeds = place(sweep.seeds, True)
  keys = programs.get(_seed_keys, ("seed keys",), seeds)(seeds)
  return keys, {name: place(values, False) for name, values in sweep.hparams.items()}


# Set-up ops as one program each (stored across runs like the others), not op by op.
def _seed_keys(seeds):
  return jax.vmap(jax.random.key)(seeds)


def _split_run_keys(keys):
  """Each run's keys for its data, its initialisation and its shuffles."""
  return jax.vmap(lambda key: tuple(jax.random.split(key, 3)))(keys)


def fit(task: Task, sweep: Sweep, num_epochs: int, *,
        data: tuple[Dataset, Dataset] | None = None, make_data: MakeData | None = None,
        on_epoch: Callable[[int, dict[str, np.ndarray], float], None] | None = None,
        seeds_at_once: int | None = None, checkpoints=None,
        layout: Layout | None = None, vmap=jax.vmap,
        programs: Programs | None = None, epochs_per_dispatch: int = 1,
        seed_groups: int = 1) -> RunResult:
  """Trains every run of `sweep` for `num_epochs`, one compiled program per epoch for all runs.

  Give either `data` (one (train, validation) pair shared by all runs, e.g. MNIST) or
  `make_data` (per-run data from the run's key and hyper-parameters, e.g. a noise sweep).
  `on_epoch(first_epoch, metrics, seconds)` sees the epochs of each program call: their metrics
  as (epochs, seeds, points) host arrays, and each epoch's training time (its share of the call).
  `epochs_per_dispatch`: epochs trained per program call, one `lax.scan` over them (the same
  numbers as one call per epoch: tests/test_engine.py); `checkpoints` see them when the call
  returns. A fixed checkpoint cadence (`checkpoints.every`) shortens the blocks to end on each
  epoch it saves at.
  `seeds_at_once`: train that many seeds at a time in the epoch program (see `over_runs`);
  None: all of them vmapped together.
  `checkpoints` (a `rabbitjax.checkpoint.Checkpoints`): training resumes from its latest
  checkpoint, and it is shown (epoch, state, history) after every epoch, to save or to stop.
  `layout`: the device mesh (`rabbitjax.distributed`); its seed count must equal the sweep's.
  `vmap`: maps one run over seeds and points (`over_runs`); `programs`: the run's compiled
  programs, shared with its other variants (a fresh one when None).
  `seed_groups`: the epochs' program compiled for that many equal groups of the seeds, which
  train side by side (`in_seed_groups`), each as `seeds_at_once` says; off a mesh only.
  """
  if (data is None) == (make_data is None):
    raise ValueError("fit needs exactly one of `data` and `make_data`")
  start = time.perf_counter()
  programs = Programs() if programs is None else programs
  num_seeds, sweep = len(sweep.seeds), _padded(sweep, layout)
  groups = _seed_groups(seed_groups, len(sweep.seeds), layout)
  on_mesh, seed_split = placement(layout, len(sweep.seeds))
  with on_mesh():
    run_keys, hparams = _keys_and_hparams(sweep, layout, programs)
    data_keys, init_keys, shuffle_keys = programs.get(_split_run_keys, ("run keys",), run_keys)(
        run_keys)
    if make_data is not None:
      make = over_runs(make_data, (0, None), (None, 0), layout=layout, vmap=vmap)
      train_data, val_data = programs.get(
          seed_split(make), ("data", make_data, layout, vmap), data_keys, hparams)(
              data_keys, hparams)
      data_axis = 0
      sample = lambda inputs: inputs[0, 0, :1]
    else:
      train_data, val_data = data if distributed.mesh_of(layout) is None else distributed.put(
          distributed.to_host(data), layout, split_seeds=False)
      data_axis = None
      sample = lambda inputs: inputs[:1]

    # create_train_state reads the task's model and optimizer alone: tasks equal in them (the
    # perceptron's batch sizes) share the program.
    init = over_runs(functools.partial(create_train_state, task), (0, None, None),
                     (None, None, 0), layout=layout, vmap=vmap)
    init_from_data = lambda keys, inputs, hparams: init(keys, sample(inputs), hparams)
    state = programs.get(seed_split(init_from_data),
                         ("init", task.model, task.optimizer, data_axis, layout, vmap),
                         init_keys, train_data.inputs, hparams)(init_keys, train_data.inputs,
                                                                hparams)
    state = jax.block_until_ready(state)
    done, history = 0, {}
    if checkpoints is not None and (restored := checkpoints.restore(state)) is not None:
      done, state, history = restored
    seconds = {"setup": time.perf_counter() - start}

    def sweep_epoch(state, train_data, val_data, shuffle_keys, epoch):
      epoch_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(shuffle_keys, epoch)
      # Every point of a seed holds the same dropout key (it is split from the seed's key, and
      # only ever split again): entering without the point axis, it lets vmap draw each seed's
      # dropout masks once for all its points, the same numbers (3x fewer masks for the
      # dropout MLP's 3 learning rates).
      seed_keys = state.key[:, 0]
      one_epoch = lambda state, key, *args: run_epoch(task, state.replace(key=key), *args)
      return over_runs(one_epoch, (0, 0, data_axis, data_axis, 0),
                       (0, None, data_axis, data_axis, None), seeds_at_once, layout, vmap)(
                           state, seed_keys, train_data, val_data, epoch_keys)

    def sweep_epochs(state, train_data, val_data, shuffle_keys, first_epoch):
      step = lambda state, epoch: sweep_epoch(state, train_data, val_data, shuffle_keys, epoch)
      return jax.lax.scan(step, state, first_epoch + jnp.arange(epochs_per_dispatch))

    # The programs this run calls: one epoch (for a remainder), and the block of epochs, whose
    # calls end on every epoch a fixed checkpoint cadence saves at.
    start = time.perf_counter()
    if checkpoints is not None and checkpoints.every > 0:
      epochs_per_dispatch = math.gcd(epochs_per_dispatch, checkpoints.every)
    left, block = num_epochs - done, epochs_per_dispatch
    needed = {1: sweep_epoch} if block == 1 or left % block else {}
    if 1 < block <= left:
      needed[block] = sweep_epochs
    compiled = {}
    # Which arguments lead with the seed axis: the state, per-run data, the shuffle keys.
    seed_args = (True, data_axis == 0, data_axis == 0, True, False)
    group_args = seed_group((state, train_data, val_data, shuffle_keys, 0), seed_args, 0,
                            groups)
    for length, fn in needed.items():
      # (state, metrics): a block's metrics lead with its epochs, then the seeds.
      compiled[length] = in_seed_groups(programs.get(
          seed_split(fn), ("epochs", length, task, data_axis, seeds_at_once, layout, vmap),
          *group_args, donate_argnums=0), groups, seed_args, (0, 0 if length == 1 else 1))
    seconds["compile"] = time.perf_counter() - start

  start = time.perf_counter()
  epoch = done
  while epoch < num_epochs:
    call_start = time.perf_counter()
    length = epochs_per_dispatch if num_epochs - epoch >= epochs_per_dispatch else 1
    state, metrics = compiled[length](state, train_data, val_data, shuffle_keys, epoch + 1)
    metrics = distributed.to_host(metrics)
    # (epochs, seeds, points): one epoch's metrics get the leading axis a block's have.
    metrics = {name: (value[None] if length == 1 else value)[:, :num_seeds]
               for name, value in metrics.items()}
    entry_seconds = (time.perf_counter() - call_start) / length
    for name, value in metrics.items():
      history.setdefault(name, []).extend(value)
    if on_epoch is not None:
      on_epoch(epoch + 1, metrics, entry_seconds)
    epoch += length
    if checkpoints is not None:
      checkpoints.after_epoch(epoch, num_epochs, state, history)
  jax.block_until_ready(state)
  seconds["train"] = time.perf_counter() - start
  # A resumed run times only the epochs it trained: per epoch, it still compares with others.
  seconds["per_entry"] = seconds["train"] / (num_epochs - done) if num_epochs > done else None
  if make_data is not None:
    train_data = _first(train_data, num_seeds)
    if jax.process_count() > 1:  # on every host for the plots, which process 0 alone draws
      train_data = distributed.to_host(train_data)
  return RunResult(state=_first(state, num_seeds), seconds=seconds, train_data=train_data,
                   history={name: np.stack(values) for name, values in history.items()})


def _seed_groups(groups: int, num_seeds: int, layout: Layout | None) -> int:
  """`groups` on one device (a mesh splits the seeds over its devices instead), else 1."""
  if distributed.mesh_of(layout) is not None:
    return 1
  if num_seeds % groups:
    raise ValueError(f"seed_groups={groups} does not divide the {num_seeds} seeds")
  return groups


def _padded(sweep: Sweep, layout: Layout | None) -> Sweep:
  """The sweep with the layout's dummy runs (seeds after the last) filling its seed axis."""
  extra = 0 if layout is None else layout.padded_seeds - len(sweep.seeds)
  if extra <= 0:
    return sweep
  dummies = np.max(sweep.seeds) + 1 + np.arange(extra)
  return dataclasses.replace(sweep, seeds=np.concatenate([sweep.seeds, dummies]).astype(np.int32))


def _first(tree, num_seeds: int):
  """The first `num_seeds` runs of every seed-leading leaf: the dummy runs dropped."""
  return jax.tree.map(lambda leaf: leaf if leaf.shape[0] == num_seeds else leaf[:num_seeds], tree)


def train_agents(train: Callable, sweep: Sweep, layout: Layout | None = None,
                 vmap=jax.vmap, seed_groups: int = 1) -> RunResult:
  """Every run of an agent whose whole training is one scan, as one compiled program:
  `train(key, hparams) -> (final state, history: metric -> (log entries,))`, PureJaxRL-style.

  `seed_groups`: the seeds in that many equal groups, trained side by side by one program
  compiled for a group (`in_seed_groups`); off a mesh only, and it must divide the seeds.
  """
  start = time.perf_counter()
  num_seeds, sweep = len(sweep.seeds), _padded(sweep, layout)
  groups = _seed_groups(seed_groups, len(sweep.seeds), layout)
  on_mesh, seed_split = placement(layout, len(sweep.seeds))
  with on_mesh():
    keys, hparams = _keys_and_hparams(sweep, layout, Programs())
    seconds = {"setup": time.perf_counter() - start}
    start = time.perf_counter()
    program = jax.jit(seed_split(over_runs(train, (0, None), (None, 0), layout=layout,
                                           vmap=vmap)))
    seed_args = (True, False)
    program = in_seed_groups(
        program.lower(*seed_group((keys, hparams), seed_args, 0, groups)).compile(), groups,
        seed_args)
  seconds["compile"] = time.perf_counter() - start
  start = time.perf_counter()
  final, history = jax.block_until_ready(program(keys, hparams))
  seconds["train"] = time.perf_counter() - start
  # (seed, point, entry) -> (entry, seed, point), as fit lays out its epochs.
  history = {name: np.moveaxis(v[:num_seeds], 2, 0)
             for name, v in distributed.to_host(history).items()}
  seconds["per_entry"] = seconds["train"] / len(next(iter(history.values())))
  return RunResult(state=_first(final, num_seeds), seconds=seconds, history=history)
