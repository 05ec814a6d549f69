"""The course's binary-addition sequences, drawn from a PRNG key."""

import jax
import jax.numpy as jnp

from rabbitjax.data.types import Dataset

NUM_BITS = 8


def little_endian_bits(values: jax.Array, num_bits: int = NUM_BITS) -> jax.Array:
  """(...,) integers -> (..., num_bits) float32 bits, least significant first.

  The course's `unpackbits(range(256))` table read backwards, so that the RNN meets the low
  bits (and their carries) first.
  """
  return ((values[..., None] >> jnp.arange(num_bits)) & 1).astype(jnp.float32)


def binary_addition(key: jax.Array, num_examples: int) -> Dataset:
  """a, b ~ U{0..127}; inputs (n, 8, 2) hold the bits of a and b per step, targets (n, 8, 1) a + b's."""
  a_key, b_key = jax.random.split(key)
  half = 2 ** (NUM_BITS - 1)  # a + b < 256 fits in 8 bits
  a = jax.random.randint(a_key, (num_examples,), 0, half)
  b = jax.random.randint(b_key, (num_examples,), 0, half)
  inputs = jnp.stack([little_endian_bits(a), little_endian_bits(b)], axis=-1)
  return Dataset(inputs=inputs, targets=little_endian_bits(a + b)[..., None])
