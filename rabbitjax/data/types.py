"""The one container every exercise's data comes in."""

import functools
from typing import NamedTuple

import jax


class Dataset(NamedTuple):
  """Inputs and targets with a shared leading example axis (a pytree, so it vmaps and jits)."""

  inputs: jax.Array
  targets: jax.Array


def num_examples(data: Dataset) -> int:
  """Number of examples, read from the static shape."""
  return data.inputs.shape[0]


def take(data: Dataset, indices: jax.Array) -> Dataset:
  """The examples at `indices` (a minibatch gather that stays on device)."""
  return Dataset(inputs=data.inputs[indices], targets=data.targets[indices])


# One program (the persistent cache serves it): op by op, iris' split lowered 22 programs a run.
@functools.partial(jax.jit, static_argnames="train_fraction")
def split(data: Dataset, seed, train_fraction: float) -> tuple[Dataset, Dataset]:
  """A shuffled (train, test) split, like scikit-learn's train_test_split, keyed by
  `jax.random.key(seed)` for repeatability."""
  key = jax.random.key(seed)
  order = jax.random.permutation(key, num_examples(data))
  cut = round(train_fraction * num_examples(data))
  return take(data, order[:cut]), take(data, order[cut:])
