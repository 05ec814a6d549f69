"""The packed-key permutation: a true permutation, deterministic per key, and uniform."""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rabbitjax.train.shuffle import permutation


@pytest.mark.parametrize("size", [1, 2, 7, 256, 257, 5000])
def test_is_a_permutation(size):
  order = permutation(jax.random.key(0), size)
  chex.assert_shape(order, (size,))
  chex.assert_type(order, jnp.int32)
  np.testing.assert_array_equal(np.sort(order), np.arange(size))


def test_same_key_same_order_other_key_other_order():
  first = permutation(jax.random.key(4), 100)
  np.testing.assert_array_equal(first, permutation(jax.random.key(4), 100))
  assert not np.array_equal(first, permutation(jax.random.key(5), 100))


def test_all_orders_equally_likely():
  samples = 24_000
  keys = jax.random.split(jax.random.key(1), samples)
  orders = np.asarray(jax.jit(jax.vmap(lambda key: permutation(key, 4)))(keys))
  index = {order: i for i, order in enumerate(itertools.permutations(range(4)))}
  counts = np.bincount([index[tuple(order)] for order in orders], minlength=24)
  expected = samples / 24
  chi_square = ((counts - expected) ** 2 / expected).sum()
  assert chi_square < 49.7  # The 0.1% critical value for 23 degrees of freedom.
