"""Polynomial regression: a Dense(1) layer on the powers x, x^2, ..., x^degree."""

import jax
import jax.numpy as jnp
from flax import linen as nn

from rabbitjax.models.initializers import KERNEL_INITS


class PolynomialRegression(nn.Module):
  """d = sum_k w_k x^k + b. With degree 1 this is the course's Dense(1) linear regression.

  kernel_init: a name from models/initializers.py (Keras' glorot_uniform by default).
  """

  degree: int
  kernel_init: str = "glorot_uniform"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    del train  # No dropout: same function in training and evaluation.
    # Python-int exponents lower to integer_pow (multiplies); an array of exponents would lower
    # to a float pow (exp and log per element), which dominated the step's time on CPU.
    powers = jnp.concatenate([x**k for k in range(1, self.degree + 1)], axis=-1)  # (n, degree)
    return nn.Dense(1, kernel_init=KERNEL_INITS[self.kernel_init], name="linear")(powers)


def polynomial_coefficients(params) -> jax.Array:
  """The fitted coefficients, highest power first, as the target's are written: (w_d, ..., w_1, b)."""
  linear = params["linear"]
  return jnp.concatenate([linear["kernel"][::-1, 0], linear["bias"]])
