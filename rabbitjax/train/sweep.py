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
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from rabbitjax.data import Dataset
from rabbitjax.train.engine import Task, create_train_state, run_epoch

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


def shard_seeds(tree, num_seeds: int):
  """Places every array whose leading axis is the seed axis across all devices, seeds split evenly.

  With one device, or a seed count the devices do not divide, the tree is returned as it is.
  jit then partitions the vmapped program along the seed axis (on a CPU host, several devices
  from --xla_force_host_platform_device_count run on separate cores).
  """
  devices = jax.devices()
  if len(devices) == 1 or num_seeds % len(devices):
    return tree
  sharding = jax.sharding.NamedSharding(jax.sharding.Mesh(np.array(devices), ("seeds",)),
                                        jax.sharding.PartitionSpec("seeds"))
  leading = lambda leaf: getattr(leaf, "ndim", 0) >= 1 and leaf.shape[0] == num_seeds
  return jax.tree.map(lambda leaf: jax.device_put(leaf, sharding) if leading(leaf) else leaf, tree)


_PROGRAMS: dict = {}


def compiled(fn, static_key, *args, donate_argnums=()):
  """`jax.jit(fn).lower(*args).compile()`, kept for this process by `static_key` (everything
  `fn` closes over) and the arguments' types and placements: variants of one shape and model
  (the perceptron's OR, AND and XOR) trace, lower and load their program once."""
  leaves, structure = jax.tree.flatten(args)
  key = (static_key, structure, donate_argnums,
         tuple((jax.typeof(leaf), getattr(leaf, "sharding", None)) for leaf in leaves))
  if key not in _PROGRAMS:
    _PROGRAMS[key] = jax.jit(fn, donate_argnums=donate_argnums).lower(*args).compile()
  return _PROGRAMS[key]


def _map_axis(fn, in_axes):
  """`jax.vmap(fn, in_axes)` with in_axes entries 0 or None, except that an axis of size 1 is
  squeezed and restored rather than vmapped: a vmapped single run ran the MNIST CNN step 12-18%
  slower (XLA:CPU's batched matmuls of batch 1)."""
  batched = jax.vmap(fn, in_axes=in_axes)

  def mapped(*args):
    axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
    sizes = {leaf.shape[0] for arg, axis in zip(args, axes) if axis == 0
             for leaf in jax.tree.leaves(arg)}
    if sizes != {1}:
      return batched(*args)
    squeezed = [jax.tree.map(lambda leaf: leaf[0], arg) if axis == 0 else arg
                for arg, axis in zip(args, axes)]
    # jnp.asarray: as vmap would, outputs that are Python scalars come back as arrays.
    return jax.tree.map(lambda leaf: (leaf if hasattr(leaf, "ndim") else jnp.asarray(leaf))[None],
                        fn(*squeezed))

  return mapped


def over_runs(fn, seed_axes, point_axes, seeds_at_once: int | None = None):
  """Maps `fn` over points (inner axis) and seeds (outer): results lead with (seed, point).

  Both axes are vmapped. With `seeds_at_once`, the seed axis is walked by `lax.map` that many
  seeds at a time (still one program): for a compute-bound model whose activations must stay in
  cache (the CNNs on CPU), seeds taking turns are 1.4x faster than vmapped (BUILD_NOTES.md).
  `seed_axes` entries must be 0 or None.
  """
  over_points = _map_axis(fn, point_axes)
  if seeds_at_once is None:
    return _map_axis(over_points, seed_axes)

  def over_seeds(*args):
    per_seed = [arg for arg, axis in zip(args, seed_axes) if axis == 0]

    def one_seed(seed_args):
      seed_args = iter(seed_args)
      return over_points(*[next(seed_args) if axis == 0 else arg
                           for arg, axis in zip(args, seed_axes)])

    return jax.lax.map(one_seed, per_seed,
                       batch_size=None if seeds_at_once == 1 else seeds_at_once)

  return over_seeds


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


def _keys_and_hparams(sweep: Sweep):
  """Each seed's PRNG key (S,) and the points' hyper-parameters as device arrays (M,)."""
  keys = jax.vmap(jax.random.key)(jnp.asarray(sweep.seeds))
  return keys, {name: jnp.asarray(values) for name, values in sweep.hparams.items()}


def fit(task: Task, sweep: Sweep, num_epochs: int, *,
        data: tuple[Dataset, Dataset] | None = None, make_data: MakeData | None = None,
        on_epoch: Callable[[int, dict[str, np.ndarray]], None] | None = None,
        seeds_at_once: int | None = None, checkpoints=None) -> RunResult:
  """Trains every run of `sweep` for `num_epochs`, one compiled program per epoch for all runs.

  Give either `data` (one (train, validation) pair shared by all runs, e.g. MNIST) or
  `make_data` (per-run data from the run's key and hyper-parameters, e.g. a noise sweep).
  `on_epoch(epoch, metrics)` sees each epoch's metrics as (seeds, points) host arrays.
  `seeds_at_once`: train that many seeds at a time in the epoch program (see `over_runs`);
  None: all of them vmapped together.
  `checkpoints` (a `rabbitjax.checkpoint.Checkpoints`): training resumes from its latest
  checkpoint, and it is shown (epoch, state, history) after every epoch, to save or to stop.
  """
  if (data is None) == (make_data is None):
    raise ValueError("fit needs exactly one of `data` and `make_data`")
  start = time.perf_counter()
  run_keys, hparams = _keys_and_hparams(sweep)
  data_keys, init_keys, shuffle_keys = jnp.moveaxis(
      jax.vmap(lambda key: jax.random.split(key, 3))(run_keys), 1, 0)
  if make_data is not None:
    train_data, val_data = jax.jit(over_runs(make_data, (0, None), (None, 0)))(data_keys, hparams)
    data_axis = 0
    sample_inputs = train_data.inputs[0, 0, :1]
  else:
    train_data, val_data = data
    data_axis = None
    sample_inputs = train_data.inputs[:1]

  init = over_runs(functools.partial(create_train_state, task), (0, None, None), (None, None, 0))
  state = compiled(init, ("init", task), init_keys, sample_inputs, hparams)(
      init_keys, sample_inputs, hparams)
  num_seeds = len(sweep.seeds)
  state, shuffle_keys = shard_seeds((state, shuffle_keys), num_seeds)
  if make_data is not None:
    train_data, val_data = shard_seeds((train_data, val_data), num_seeds)
  state = jax.block_until_ready(state)
  done, history = 0, {}
  if checkpoints is not None and (restored := checkpoints.restore(state)) is not None:
    done, state, history = restored
  seconds = {"setup": time.perf_counter() - start}

  def sweep_epoch(state, train_data, val_data, shuffle_keys, epoch):
    epoch_keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(shuffle_keys, epoch)
    one_epoch = functools.partial(run_epoch, task)
    return over_runs(one_epoch, (0, data_axis, data_axis, 0), (0, data_axis, data_axis, None),
                     seeds_at_once)(state, train_data, val_data, epoch_keys)

  start = time.perf_counter()
  compiled_epoch = compiled(sweep_epoch, ("epoch", task, data_axis, seeds_at_once), state,
                            train_data, val_data, shuffle_keys, 0, donate_argnums=0)
  seconds["compile"] = time.perf_counter() - start

  start = time.perf_counter()
  for epoch in range(done + 1, num_epochs + 1):
    state, metrics = compiled_epoch(state, train_data, val_data, shuffle_keys, epoch)
    metrics = jax.device_get(metrics)
    for name, value in metrics.items():
      history.setdefault(name, []).append(value)
    if on_epoch is not None:
      on_epoch(epoch, metrics)
    if checkpoints is not None:
      checkpoints.after_epoch(epoch, num_epochs, state, history)
  jax.block_until_ready(state)
  seconds["train"] = time.perf_counter() - start
  return RunResult(state=state, history={name: np.stack(values) for name, values in history.items()},
                   seconds=seconds, train_data=train_data)


def train_agents(train: Callable, sweep: Sweep) -> RunResult:
  """Every run of an agent whose whole training is one scan, as one compiled program:
  `train(key, hparams) -> (final state, history: metric -> (log entries,))`, PureJaxRL-style."""
  start = time.perf_counter()
  keys, hparams = _keys_and_hparams(sweep)
  seconds = {"setup": time.perf_counter() - start}
  start = time.perf_counter()
  compiled = jax.jit(over_runs(train, (0, None), (None, 0))).lower(keys, hparams).compile()
  seconds["compile"] = time.perf_counter() - start
  start = time.perf_counter()
  final, history = jax.block_until_ready(compiled(keys, hparams))
  seconds["train"] = time.perf_counter() - start
  # (seed, point, entry) -> (entry, seed, point), as fit lays out its epochs.
  return RunResult(state=final, seconds=seconds,
                   history={name: np.moveaxis(np.asarray(v), 2, 0) for name, v in history.items()})
