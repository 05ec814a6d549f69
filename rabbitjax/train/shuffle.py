"""A uniformly random permutation that XLA:CPU computes several times faster than jax's."""

import math

import jax
import jax.numpy as jnp


def permutation(key: jax.Array, size: int) -> jax.Array:
  """A random permutation of range(size), as int32.

  Same method as `jax.random.permutation`: rounds of sorting by random keys, enough rounds that
  ties (which keep their previous order) are as unlikely as jax makes them. The difference:
  each element's position rides in the low bits of its uint32 sort key, so every round is a
  one-operand sort, which XLA:CPU runs 4-5x faster than jax's key-value sort (BUILD_NOTES.md).
  """
  index_bits = max(1, (size - 1).bit_length())
  random_bits = 32 - index_bits
  if random_bits < 8:  # Beyond 2^24 examples, the packed keys hold too little randomness.
    return jax.random.permutation(key, size).astype(jnp.int32)
  # jax's bound: rounds * key_bits >= 3 * log2(size) keeps tie bias negligible.
  rounds = math.ceil(3 * math.log2(max(size, 2)) / random_bits)
  positions = jnp.arange(size, dtype=jnp.uint32)
  order = positions
  for round_key in jax.random.split(key, rounds):
    noise = jax.random.bits(round_key, (size,), jnp.uint32) >> index_bits << index_bits
    order = order[jnp.sort(noise | positions) & ((1 << index_bits) - 1)]
  return order.astype(jnp.int32)
