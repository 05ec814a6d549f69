"""Runs past one device and one host: a ("seeds", "data") device mesh, and JAX's multi-controller
runtime (`jax.distributed`) for several processes.

A sweep's seed axis is split over the mesh's "seeds" axis; each minibatch's examples over its
"data" axis (data parallelism: the engine marks the example axis with `shard_examples`, and the
compiler reduces the gradients the sharding implies). Every process runs the same programs on
its own devices; only process 0 writes records, plots, metrics and logs.
"""

import dataclasses
import functools
import math
import re

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from rabbitjax import stopping
from rabbitjax.config import MESH_PATTERN, ConfigError

SEEDS, DATA = "seeds", "data"
AUTOMATIC = "auto"


class LayoutError(ConfigError):
  """A mesh that does not fit the devices or the run; its text is the one-line message."""


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where a sweep's runs and examples go.

  Attributes:
    seeds: devices along the seed axis; the runs' seeds are split evenly over them.
    data: devices along the data axis; each minibatch's examples are split over them.
    num_seeds: the sweep's seeds; `padded_seeds` - num_seeds dummy runs fill the seed axis.
    padded_seeds: a multiple of `seeds`.
    processes: JAX processes (hosts) taking part.
  """

  seeds: int = 1
  data: int = 1
  num_seeds: int = 1
  padded_seeds: int = 1
  processes: int = 1

  @functools.cached_property  # one Mesh object per layout, however often it is asked for
  def mesh(self) -> jax.sharding.Mesh | None:
    """The device mesh, or None on a single device (then nothing is placed or constrained)."""
    if self.seeds * self.data == 1:
      return None
    auto = (jax.sharding.AxisType.Auto,) * 2  # shardings propagated by the compiler (GSPMD)
    return jax.make_mesh((self.seeds, self.data), (SEEDS, DATA), axis_types=auto,
                         devices=jax.devices()[:self.seeds * self.data])

  def record(self) -> dict:
    return dataclasses.asdict(self)

  def line(self) -> str:
    text = (f"mesh seeds={self.seeds} x data={self.data} over {self.seeds * self.data} device(s)"
            f", {self.processes} process(es)")
    if self.padded_seeds > self.num_seeds:
      text += (f"; {self.num_seeds} seeds padded to {self.padded_seeds} with dummy runs "
               "(trained, dropped from the records)")
    return text


def parse_mesh(text: str) -> tuple[int, int] | None:
  """'auto' -> None; 'SxD' (e.g. '4x2') -> (S, D); anything else is a LayoutError."""
  if not isinstance(text, str) or not re.fullmatch(MESH_PATTERN, text):
    raise LayoutError(f"mesh={text!r} is not 'auto' or SEEDSxDATA with positive integers, "
                      "e.g. '4x2'")
  if text == AUTOMATIC:
    return None
  seeds, data = text.split("x")
  return int(seeds), int(data)


def decide_layout(mesh: str, num_seeds: int, batch_sizes: tuple[int, ...],
                  num_devices: int | None = None) -> Layout:
  """The layout for `num_seeds` runs on every device, from the config's `mesh` field.

  `batch_sizes`: the example counts the data axis must divide (training micro-batch, evaluation
  batch); empty where there is no data axis (RL agents). Automatic: the seed axis takes the
  devices the seed count divides (all of them when it can), the data axis the rest when every
  batch divides it; otherwise all devices go to seeds, padded with dummy runs. An explicit
  mesh must use every device; a seed count it does not divide is padded.
  """
  devices = jax.device_count() if num_devices is None else num_devices
  requested = parse_mesh(mesh)
  fits = lambda data: data == 1 or bool(batch_sizes) and all(size % data == 0
                                                             for size in batch_sizes)
  if requested is None:
    seeds = math.gcd(num_seeds, devices)
    if not fits(devices // seeds):
      seeds = devices
  else:
    seeds, data = requested
    if seeds * data != devices:
      raise LayoutError(f"mesh={mesh!r} has {seeds * data} devices but {devices} are present: "
                        f"give SEEDSxDATA with a product of {devices}, or 'auto'")
    if not fits(data):
      what = (f"the batch sizes {', '.join(map(str, batch_sizes))}" if batch_sizes
              else "this exercise (it has no data axis)")
      raise LayoutError(f"mesh={mesh!r}: a data axis of {data} devices does not divide {what}")
  padded = -(-num_seeds // seeds) * seeds
  return Layout(seeds=seeds, data=devices // seeds, num_seeds=num_seeds, padded_seeds=padded,
                processes=jax.process_count())


def shard_examples(tree, axis: int = 0):
  """Marks `axis` of every leaf as split over the current mesh's data axis (as it is without
  one): data parallelism. Inside a vmap over seeds named SEEDS the seed axis stays split too."""
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty or DATA not in mesh.axis_names or mesh.shape[DATA] == 1:
    return tree

  def constrain(leaf):
    if leaf.shape[axis] % mesh.shape[DATA]:  # e.g. a test set smaller than one eval batch
      return leaf
    return jax.lax.with_sharding_constraint(leaf, P(*[DATA if i == axis else None
                                                      for i in range(leaf.ndim)]))

  return jax.tree.map(constrain, tree)


def mesh_of(layout: Layout | None) -> jax.sharding.Mesh | None:
  """The layout's mesh; None without a layout or on one device (nothing to place)."""
  return None if layout is None else layout.mesh


def seed_axis_name(layout: Layout | None) -> str | None:
  """The name a vmap over seeds carries (`spmd_axis_name`) when seeds are split over devices."""
  return None if mesh_of(layout) is None else SEEDS


def put(value, layout: Layout, split_seeds: bool):
  """A host value (or a tree of them) as global arrays: its leading axis split over the seed
  axis, or replicated. Every process passes the same value and places its own devices' part."""
  mesh = layout.mesh

  def place(leaf):
    leaf = np.asarray(leaf)
    spec = P(SEEDS) if split_seeds and leaf.ndim else P()
    return jax.make_array_from_callback(leaf.shape, NamedSharding(mesh, spec),
                                        lambda index: leaf[index])

  return jax.tree.map(place, value)


def constrain_seeds(tree, layout: Layout, num_seeds: int):
  """Inside a program: leaves whose leading axis is the seed axis split over SEEDS."""
  spec = lambda leaf: P(SEEDS) if getattr(leaf, "ndim", 0) and leaf.shape[0] == num_seeds else P()
  return jax.tree.map(
      lambda leaf: jax.lax.with_sharding_constraint(leaf, NamedSharding(layout.mesh, spec(leaf))),
      tree)


def to_host(tree):
  """Device arrays as numpy, gathered from every process where they are split across hosts."""
  def fetch(leaf):
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
      return multihost_utils.process_allgather(leaf, tiled=True)
    return np.asarray(jax.device_get(leaf))

  return jax.tree.map(fetch, tree)


def is_writer() -> bool:
  """Whether this process writes records, plots, metrics and logs (process 0)."""
  return jax.process_index() == 0


def barrier(name: str) -> None:
  """Waits for every process (nothing with one)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def agree_to_stop(*decisions: bool) -> tuple[bool, ...]:
  """(whether any process was asked to stop, process 0's `decisions`: save a checkpoint now),
  the same in every process: a signal- or time-based decision taken alone would leave the
  processes in different programs, each waiting for the others. A stop requested elsewhere is
  adopted here (`stopping.adopt`)."""
  if jax.process_count() == 1:
    return (stopping.STOP.is_set(), *decisions)
  flags = multihost_utils.process_allgather(np.asarray((stopping.requested(), *decisions),
                                                       np.int32))
  stopping.adopt(int(flags[:, 0].max()))
  return (stopping.STOP.is_set(), *(bool(flag) for flag in flags[0, 1:]))


def initialize(coordinator_address: str | None, num_processes: int | None,
               process_id: int | None, automatic: bool) -> None:
  """`jax.distributed.initialize` with the launcher's flags; with `automatic` and no flags, JAX
  detects the cluster (Cloud TPU, SLURM, ...). CPU devices talk through gloo."""
  if not (automatic or coordinator_address or num_processes):
    return
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  # JAX's preemption service would take SIGTERM from rabbitjax.stopping, whose request every
  # process honours at the same epoch (`agree_to_stop`), saving a checkpoint first.
  jax.config.update("jax_enable_preemption_service", False)
  jax.distributed.initialize(coordinator_address=coordinator_address,
                             num_processes=num_processes, process_id=process_id)
