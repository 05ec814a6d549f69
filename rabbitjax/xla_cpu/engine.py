"""Drop-ins for two of the engine's pure functions, shaped by how XLA:CPU compiles them."""

import jax
import jax.numpy as jnp


def weighted_sum(values: jax.Array, weights: jax.Array) -> jax.Array:
  """`rabbitjax.train.engine.weighted_sum` as a dot: XLA:CPU hands sum(values * weights) to a
  slow library fusion, which made a 40-run regression sweep ~30% slower."""
  return jnp.dot(values, weights)


def vmap(fn, in_axes, spmd_axis_name=None):
  """`jax.vmap(fn, in_axes, spmd_axis_name=...)` (in_axes entries 0 or None), except that an
  axis of size 1 is squeezed and restored rather than vmapped: a vmapped single run ran the
  MNIST CNN step 12-18% slower (XLA:CPU's batched matmuls of batch 1)."""
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
