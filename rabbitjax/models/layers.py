"""The layers the course's networks are built from: Flax's own, unless tuning swaps them.

A model takes a `Layers` and builds every convolution, dropout and pooling through it, so that
`rabbitjax.tuning` can hand it `rabbitjax.xla_cpu`'s drop-ins (same signatures, same numbers)
without the model changing. `Layers()` is the reference path: what GPUs and TPUs run.
"""

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
from flax import linen as nn


def max_pool_2x2(inputs: jax.Array) -> jax.Array:
  """Keras' MaxPooling2D(2): 2x2 windows, stride 2, VALID, NHWC."""
  return nn.max_pool(inputs, (2, 2), strides=(2, 2))


def bfloat16_operands(lhs, rhs, *args, **kwargs) -> jax.Array:
  """`lax.conv_general_dilated` on operands rounded to bfloat16, accumulated and returned in
  float32: `nn.Conv(conv_general_dilated=bfloat16_operands)` is config.precision='bfloat16'."""
  return jax.lax.conv_general_dilated(lhs.astype(jnp.bfloat16), rhs.astype(jnp.bfloat16), *args,
                                      preferred_element_type=jnp.float32, **kwargs)


@dataclasses.dataclass(frozen=True)
class Layers:
  """Constructors with the signatures of `nn.Conv`, `nn.Dropout` and `max_pool_2x2`."""

  conv: Callable[..., nn.Module] = nn.Conv
  dropout: Callable[..., nn.Module] = nn.Dropout
  max_pool: Callable[[jax.Array], jax.Array] = max_pool_2x2


def reference_layers(precision: str = "float32") -> Layers:
  """Flax's layers, the convolutions' matmul operands in `precision`."""
  if precision == "float32":
    return Layers()
  return Layers(conv=functools.partial(nn.Conv, conv_general_dilated=bfloat16_operands))
