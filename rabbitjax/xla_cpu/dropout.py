"""A drop-in for `nn.Dropout` whose masks cost a quarter of the random bits where the rate allows.

`jax.random.bernoulli` draws a 32-bit word per element (through a float in [0, 1)); with
threefry on XLA:CPU that was 12 of the MNIST CNN's 84 ms per training step. When the keep
probability is a multiple of 1/256 (the course's CNN rates 0.25 and 0.5), each element compares
one byte of the drawn words instead: the same Bernoulli law exactly, from 4x fewer threefry words
(8 masks: 9.4 -> 1.6 ms). Other rates (the dropout MLP's 0.2) draw as `nn.Dropout` does, and
give its numbers.
"""

import math

import jax
import jax.numpy as jnp
from flax import linen as nn


def keep_mask(key: jax.Array, keep_prob: float, shape) -> jax.Array:
  """A boolean mask, each element True with probability `keep_prob`."""
  threshold = keep_prob * 256
  if threshold != int(threshold):
    return jax.random.bernoulli(key, keep_prob, shape)
  size = math.prod(shape)
  words = jax.random.bits(key, (-(-size // 4),), jnp.uint32)
  values = jax.lax.bitcast_convert_type(words, jnp.uint8).reshape(-1)[:size]
  return values.reshape(shape) < int(threshold)


class Dropout(nn.Module):
  """`nn.Dropout(rate, deterministic=...)`: inputs / keep_prob where kept, 0 elsewhere, its mask
  from `keep_mask`. Named as `nn.Dropout` is, so the two draw from the same 'dropout' key."""

  rate: float
  deterministic: bool | None = None

  @nn.compact
  def __call__(self, inputs: jax.Array, deterministic: bool | None = None) -> jax.Array:
    deterministic = nn.merge_param("deterministic", self.deterministic, deterministic)
    if deterministic or self.rate == 0.0:
      return inputs
    if self.rate == 1.0:
      return jnp.zeros_like(inputs)
    keep_prob = 1.0 - self.rate
    mask = keep_mask(self.make_rng("dropout"), keep_prob, inputs.shape)
    return jax.lax.select(mask, inputs / keep_prob, jnp.zeros_like(inputs))
