"""Runs mapped over seeds, hyper-parameter points and devices, and their compiled programs.

`over_runs` lays a one-run function over the sweep's (seed, point) axes; `placement` puts the
seed axis on the devices of a mesh (`rabbitjax.distributed`); `compiled` keeps each program
for the process, so variants of one shape compile once.
"""

import contextlib

import jax
import jax.numpy as jnp

from rabbitjax import distributed
from rabbitjax.distributed import Layout


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


def _map_axis(fn, in_axes, spmd_axis_name=None):
  """`jax.vmap(fn, in_axes)` with in_axes entries 0 or None, except that an axis of size 1 is
  squeezed and restored rather than vmapped: a vmapped single run ran the MNIST CNN step 12-18%
  slower (XLA:CPU's batched matmuls of batch 1)."""
  batched = jax.vmap(fn, in_axes=in_axes, spmd_axis_name=spmd_axis_name)

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


def over_runs(fn, seed_axes, point_axes, seeds_at_once: int | None = None,
              layout: Layout | None = None):
  """Maps `fn` over points (inner axis) and seeds (outer): results lead with (seed, point).

  Both axes are vmapped. With `seeds_at_once`, the seed axis is walked by `lax.map` that many
  seeds at a time (still one program): for a compute-bound model whose activations must stay in
  cache (the CNNs on CPU), seeds taking turns are 1.4x faster than vmapped (BUILD_NOTES.md).
  With a `layout` whose seed axis spans devices, each device walks its own seeds.
  `seed_axes` entries must be 0 or None.
  """
  over_points = _map_axis(fn, point_axes)
  spmd = distributed.seed_axis_name(layout)
  if seeds_at_once is None:
    return _map_axis(over_points, seed_axes, spmd)

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
