"""Runs mapped over seeds, hyper-parameter points and devices, and their compiled programs.

`over_runs` lays a one-run function over the sweep's (seed, point) axes; `placement` puts the
seed axis on the devices of a mesh (`rabbitjax.distributed`); `in_seed_groups` runs a program
on groups of the seeds side by side; a run's `Programs` keeps what it compiled, so its variants
of one shape compile once.
"""

import concurrent.futures
import contextlib
import functools

import jax
import jax.numpy as jnp

from rabbitjax import cache, distributed
from rabbitjax.distributed import Layout


class Programs:
  """The compiled programs of one run (an experiment's variants), by what they were built from.

  `get(fn, static_key, *args)` is `jax.jit(fn).lower(*args).compile()`, compiled once per
  `static_key` (a value naming everything `fn` closes over, e.g. the Task) and the arguments'
  types and placements: variants of one shape and model (the perceptron's OR, AND and XOR)
  trace, lower and load one program. A program whose key every process can name
  (`cache.program_name`) is exported (`jax.export`) and the export compiled, stored in `store`
  (a `cache.ProgramStore`) and loaded from it by later runs, which skip tracing and lowering:
  the same program with the store or without (an export can round differently from a direct
  `jit`, so every nameable program is compiled through one); the others are compiled directly.
  """

  def __init__(self, store=None):
    self._compiled = {}
    self._named = {}  # the exported ones, by `cache.program_name`
    self.store = store
    self.loaded = 0  # programs the store served

  def __len__(self) -> int:
    """The programs compiled (one served under two keys counts once)."""
    return len({id(program) for program in self._compiled.values()})

  def get(self, fn, static_key, *args, donate_argnums=()):
    leaves, structure = jax.tree.flatten(args)
    key = (static_key, structure, donate_argnums,
           tuple((jax.typeof(leaf), getattr(leaf, "sharding", None)) for leaf in leaves))
    if key not in self._compiled:
      name = cache.program_name(static_key, structure, donate_argnums, leaves)
      if name in self._named:  # a key equal in value only (a partial holding arrays)
        self._compiled[key] = self._named[name]
        return self._compiled[key]
      exported = name and self.store and self.store.load(name)
      self.loaded += bool(exported)
      # Donated arguments as leaf positions: an exported program takes the leaves.
      counts = [len(jax.tree.leaves(arg)) for arg in args]
      donated = tuple(leaf for arg in (donate_argnums if isinstance(donate_argnums, tuple)
                                       else (donate_argnums,))
                      for leaf in range(sum(counts[:arg]), sum(counts[:arg + 1])))
      if name and not exported:
        exported = cache.export_program(
            lambda *leaves: fn(*jax.tree.unflatten(structure, leaves)), leaves, donated)
        if exported and self.store:
          self.store.save(name, *exported)
      if not exported:
        self._compiled[key] = jax.jit(fn, donate_argnums=donate_argnums).lower(*args).compile()
      else:
        program, out_tree = exported
        compiled = jax.jit(program.call, donate_argnums=donated).lower(*leaves).compile()
        self._compiled[key] = self._named[name] = lambda *args: jax.tree.unflatten(
            out_tree, compiled(*jax.tree.leaves(args)))
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


def seed_group(args, seed_args, group: int, groups: int):
  """Group `group` of `groups` equal slices of the seed axis (axis 0) of the args marked True
  in `seed_args`; the other args as they are."""
  def take(leaf):
    size = leaf.shape[0] // groups
    return leaf[group * size:(group + 1) * size]
  return tuple(jax.tree.map(take, arg) if split else arg for arg, split in zip(args, seed_args))


def in_seed_groups(program, groups: int, seed_args, out_seed_axes=0):
  """`program` (compiled for one group's shapes) applied to each of `groups` equal slices of the
  seed axis, on threads of their own; its outputs joined in seed order along `out_seed_axes`
  (an int, or a tree prefix of the outputs as vmap's `out_axes`).

  XLA:CPU runs a loop with no library call (an agent's scan, the RNN's fast path) on one core,
  and one program's independent loops one after another; programs called from threads of their
  own run side by side. Each run is computed alone under vmap, but XLA:CPU may compile a
  smaller vmap another way: the numbers are one call's to float32 rounding, and bit for bit
  where the compiled ops do not depend on how many seeds are vmapped (tests/test_engine.py,
  tests/test_rl.py). With `groups` 1 it is `program`.
  """
  if groups == 1:
    return program

  # Argument position -> (the argument, its groups' slices), kept for the next call, which
  # passes the same data again; not an argument the program donated (the state).
  kept = {}

  def run(*args):
    sliced = [None] * len(args)
    for position, (arg, split) in enumerate(zip(args, seed_args)):
      if split:
        if position not in kept or kept[position][0] is not arg:
          kept[position] = (arg, _split_seed_groups(arg, groups))
        sliced[position] = kept[position][1]
    call = lambda group: jax.block_until_ready(program(*(
        arg if slices is None else slices[group] for arg, slices in zip(args, sliced))))
    with concurrent.futures.ThreadPoolExecutor(groups) as pool:
      results = list(pool.map(call, range(groups)))
    for position, (_, slices) in list(kept.items()):
      if any(leaf.is_deleted() for leaf in jax.tree.leaves(slices)):
        del kept[position]
    return _join_seed_groups(results, out_seed_axes)
  return run


# An argument's groups, and the groups' outputs joined, by one program each (the data sliced once
# per run, not per call): as eager ops, one per leaf, from the groups' threads, they took 7-17 ms
# of the RNN's 2-seed epoch of ~30 (Intel AMX).
@functools.partial(jax.jit, static_argnums=1)
def _split_seed_groups(arg, groups):
  return [seed_group((arg,), (True,), group, groups)[0] for group in range(groups)]


@functools.partial(jax.jit, static_argnums=1)
def _join_seed_groups(outputs, out_seed_axes):
  join = lambda axis, *parts: jax.tree.map(lambda *leaves: jnp.concatenate(leaves, axis), *parts)
  return jax.tree.map(join, out_seed_axes, *outputs)


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
