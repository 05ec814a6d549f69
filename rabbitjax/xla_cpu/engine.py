"""Drop-ins for three of the engine's pure functions, shaped by how XLA:CPU compiles them."""

import jax
import jax.numpy as jnp


def weighted_sum(values: jax.Array, weights: jax.Array) -> jax.Array:
  """`rabbitjax.train.engine.weighted_sum` as a dot: XLA:CPU hands sum(values * weights) to a
  slow library fusion, which made a 40-run regression sweep ~30% slower."""
  return jnp.dot(values, weights)


def run_inputs(inputs: jax.Array, hparams: dict[str, jax.Array]) -> jax.Array:
  """`rabbitjax.train.engine.run_inputs`, the same values, as an array of the run (`inputs + 0 *`
  a swept value): data shared by a seed's sweep points then enters each step's matmuls with the
  point axis, so XLA:CPU batches them over seeds x points instead of transposing every weight
  and weight gradient around one matmul per seed (the dropout MLP's 3 x 3 epoch 12% faster).
  The sums run in other blocks: values equal within float32 rounding, not bit for bit."""
  if not hparams:
    return inputs
  return inputs + 0.0 * next(iter(hparams.values())).astype(inputs.dtype)


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
