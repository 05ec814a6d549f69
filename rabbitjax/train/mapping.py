"""Runs mapped over seeds, hyper-parameter points and devices, and their compiled programs.

`over_runs` lays a one-run function over the sweep's (seed, point) axes; `placement` puts the
seed axis on the devices of a mesh (`rabbitjax.distributed`); a run's `Programs` keeps what it
compiled, so its variants of one shape compile once.
"""

import contextlib

import jax

from rabbitjax import distributed
from rabbitjax.distributed import Layout


class Programs:
  """The compiled programs of one run (an experiment's variants), by what they were built from.

  `get(fn, static_key, *args)` is `jax.jit(fn).lower(*args).compile()`, compiled once per
  `static_key` (a value naming everything `fn` closes over, e.g. the Task) and the arguments'
  types and placements: variants of one shape and model (the perceptron's OR, AND and XOR)
  trace, lower and load one program.
  """

  def __init__(self):
    self._compiled = {}

  def __len__(self) -> int:
    return len(self._compiled)

  def get(self, fn, static_key, *args, donate_argnums=()):
    leaves, structure = jax.tree.flatten(args)
    key = (static_key, structure, donate_argnums,
           tuple((jax.typeof(leaf), getattr(leaf, "sharding", None)) for leaf in leaves))
    if key not in self._compiled:
      self._compiled[key] = jax.jit(fn, donate_argnums=donate_argnums).lower(*args).compile()
    return self._compiled[key]


def over_runs(fn, seed_axes, point_axes, seeds_at_once: int | None = None,
              layout: Layout | None = None, vmap=jax.vmap):
  """Maps `fn` over points (inner axis) and seeds (outer): results lead with (seed, point).

  Both axes are mapped by `vmap` (jax.vmap, or a drop-in with its signature). With
  `seeds_at_once`, the seed axis is walked by `lax.map` that many seeds at a time (still one
  program): for a compute-bound model whose activations must stay in cache, seeds taking turns
  can be faster than vmapped (`rabbitjax.tuning` decides).
  With a `layout` whose seed axis spans devices, each device walks its own seeds.
  `seed_axes` entries must be 0 or None.
  """
  over_points = vmap(fn, point_axes)
  spmd = distributed.seed_axis_name(layout)
  if seeds_at_once is None:
    return vmap(over_points, seed_axes, spmd_axis_name=spmd)

  def over_seeds(*args):
    per_seed = [arg for arg, axis in zip(args, seed_axes) if axis == 0]

    def one_seed(seed_args):
      seed_args = iter(seed_args)
      return over_points(*[next(seed_args) if axis == 0 else arg
                           for arg, axis in zip(args, seed_axes)])

    in_turn = lambda seeds: jax.lax.map(
        one_seed, seeds, batch_size=None if seeds_at_once == 1 else seeds_at_once)
    shards = 1 if spmd is None else layout.seeds
    if shards == 1:
      return in_turn(per_seed)
    # (seeds, ...) -> (devices, seeds per device, ...): the device axis vmapped and split.
    split = lambda leaf: leaf.reshape(shards, -1, *leaf.shape[1:])
    results = jax.vmap(in_turn, spmd_axis_name=spmd)(jax.tree.map(split, per_seed))
    return jax.tree.map(lambda leaf: leaf.reshape(-1, *leaf.shape[2:]), results)

  return over_seeds


def _as_is(fn):
  return fn


def placement(layout: Layout | None, num_seeds: int):
  """(context to trace in, wrapper splitting a program's seed-leading outputs over the mesh):
  nothing to do on one device."""
  mesh = distributed.mesh_of(layout)
  if mesh is None:
    return contextlib.nullcontext, _as_is
  split = lambda fn: lambda *args: distributed.constrain_seeds(fn(*args), layout, num_seeds)
  return (lambda: jax.set_mesh(mesh)), split
