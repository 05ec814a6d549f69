"""Synthetic data as pure functions of a PRNG key (so seed and noise level are both vmappable)."""

import jax
import jax.numpy as jnp
import numpy as np

from rabbitjax.data.types import Dataset


def polynomial_regression(
    key: jax.Array,
    coefficients: jax.Array,
    noise: jax.Array | float,
    num_examples: int,
    x_range: tuple[float, float] = (-1.0, 1.0),
) -> Dataset:
  """Samples d = polyval(coefficients, x) + noise * N(0, 1), x ~ U(x_range).

  Args:
    key: PRNG key; the same key gives the same x and the same standard-normal draws.
    coefficients: highest power first, as written: (3, 2) is d = 3x + 2.
    noise: standard deviation of the additive Gaussian noise (may be traced).
    num_examples: number of (x, d) pairs.
    x_range: interval x is drawn from uniformly.

  Returns:
    Dataset with float32 inputs and targets, both of shape (num_examples, 1).
  """
  x_key, noise_key = jax.random.split(key)
  low, high = x_range
  x = jax.random.uniform(x_key, (num_examples, 1), jnp.float32, low, high)
  clean = jnp.polyval(jnp.asarray(coefficients, jnp.float32), x)
  # Noise is drawn at unit scale and then scaled, so one seed shares its draws across noise levels.
  standard_normal = jax.random.normal(noise_key, (num_examples, 1), jnp.float32)
  return Dataset(inputs=x, targets=clean + jnp.asarray(noise, jnp.float32) * standard_normal)


LOGIC_GATES = {"or": (0, 1, 1, 1), "and": (0, 0, 0, 1), "xor": (0, 1, 1, 0)}


def logic_gate(name: str) -> Dataset:
  """The 4 input pairs (0/1, 0/1) with the gate's output: float32 (4, 2) and (4, 1)."""
  inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
  targets = np.array(LOGIC_GATES[name], np.float32)[:, None]
  # Made in numpy and transferred: jnp ops here would compile a program each.
  return Dataset(inputs=jax.device_put(inputs), targets=jax.device_put(targets))
