"""Data functions: shapes, dtypes, determinism, and the tfds loader on mock data."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from rabbitjax.data import DatasetUnavailableError, load_split, polynomial_regression

CUBIC = jnp.array([2.1, -1.2, -4.8, 2.0])


def test_polynomial_regression_shapes_and_dtypes():
  data = polynomial_regression(jax.random.key(0), CUBIC, 0.5, 37, (-2.0, 2.0))
  chex.assert_shape([data.inputs, data.targets], (37, 1))
  chex.assert_type([data.inputs, data.targets], jnp.float32)
  assert float(data.inputs.min()) >= -2.0 and float(data.inputs.max()) <= 2.0


def test_polynomial_regression_same_key_same_data_other_key_other_data():
  first = polynomial_regression(jax.random.key(3), CUBIC, 1.0, 50)
  again = polynomial_regression(jax.random.key(3), CUBIC, 1.0, 50)
  other = polynomial_regression(jax.random.key(4), CUBIC, 1.0, 50)
  chex.assert_trees_all_equal(first, again)
  assert not np.allclose(first.inputs, other.inputs)
  assert not np.allclose(first.targets, other.targets)


def test_zero_noise_targets_are_the_polynomial():
  data = polynomial_regression(jax.random.key(1), jnp.array([3.0, 2.0]), 0.0, 20)
  np.testing.assert_allclose(data.targets, 3.0 * data.inputs + 2.0, rtol=1e-6)


def test_noise_is_vmappable_and_scales_shared_draws():
  noises = jnp.array([0.0, 1.0, 2.5])
  sweep = jax.vmap(lambda noise: polynomial_regression(jax.random.key(2), CUBIC, noise, 30))(noises)
  chex.assert_shape(sweep.targets, (3, 30, 1))
  # One key gives the same x and the same unit draws at every noise level.
  chex.assert_trees_all_equal(sweep.inputs[0], sweep.inputs[2])
  residual = sweep.targets - sweep.targets[0]
  np.testing.assert_allclose(residual[2], 2.5 * residual[1], rtol=1e-5, atol=1e-5)
  single = polynomial_regression(jax.random.key(2), CUBIC, 2.5, 30)
  chex.assert_trees_all_close(jax.tree.map(lambda a: a[2], sweep), single)


@pytest.mark.parametrize(
    "name, input_shape, num_classes",
    [("mnist", (28, 28, 1), 10), ("cifar10", (32, 32, 3), 10), ("iris", (4,), 3)],
)
def test_load_split_on_mock_data(name, input_shape, num_classes, tmp_path):
  with tfds.testing.mock_data(num_examples=12):
    sparse = load_split(name, "train", data_dir=str(tmp_path), cache_dir=None)
    dense = load_split(name, "train", data_dir=str(tmp_path), one_hot=True, cache_dir=None)
  chex.assert_shape(sparse.inputs, (12, *input_shape))
  chex.assert_type(sparse.inputs, jnp.float32)
  chex.assert_shape(sparse.targets, (12,))
  chex.assert_type(sparse.targets, jnp.int32)
  assert int(sparse.targets.min()) >= 0 and int(sparse.targets.max()) < num_classes
  chex.assert_shape(dense.targets, (12, num_classes))
  chex.assert_type(dense.targets, jnp.float32)
  np.testing.assert_array_equal(jnp.argmax(dense.targets, -1), sparse.targets)
  np.testing.assert_array_equal(dense.targets.sum(-1), 1.0)
  if len(input_shape) == 3:  # Images come scaled to [0, 1].
    assert float(sparse.inputs.min()) >= 0.0 and float(sparse.inputs.max()) <= 1.0
    assert float(sparse.inputs.max()) > 0.5


def test_load_split_cache_round_trip(tmp_path):
  cache = tmp_path / "cache"
  with tfds.testing.mock_data(num_examples=5):
    fresh = load_split("mnist", "test", data_dir=str(tmp_path), cache_dir=cache)
    files = list(cache.glob("mnist-*.npz"))
    cached = load_split("mnist", "test", data_dir=str(tmp_path), cache_dir=cache)
  assert len(files) == 1
  chex.assert_trees_all_equal(fresh, cached)


def test_a_prepared_split_in_the_cache_is_read_without_tfds_until_its_files_change(
    tmp_path, monkeypatch):
  split_file = tmp_path / "mnist" / "3.0.1" / "mnist-test.array_record-00000-of-00001"
  split_file.parent.mkdir(parents=True)
  split_file.write_bytes(b"records")
  cache = tmp_path / "cache"
  with tfds.testing.mock_data(num_examples=5):
    fresh = load_split("mnist", "test", data_dir=str(tmp_path), cache_dir=cache)
  opened = []
  monkeypatch.setattr(tfds, "data_source", lambda *args, **kwargs: opened.append(1) or 1 / 0)
  cached = load_split("mnist", "test", data_dir=str(tmp_path), cache_dir=cache)
  chex.assert_trees_all_equal(fresh, cached)
  assert not opened
  split_file.write_bytes(b"other records")  # re-prepared: tfds reads it again
  with pytest.raises(DatasetUnavailableError):
    load_split("mnist", "test", data_dir=str(tmp_path), cache_dir=cache)
  assert opened


def test_missing_dataset_is_one_clear_line(tmp_path):
  with pytest.raises(DatasetUnavailableError) as error:
    load_split("cifar10", "train", data_dir=str(tmp_path / "empty"), cache_dir=None)
  message = str(error.value)
  assert "\n" not in message
  assert "'cifar10'" in message and "TFDS_DATA_DIR" in message and "--data_dir" in message
  assert str(tmp_path / "empty") in message


def test_unsupported_dataset_is_named():
  with pytest.raises(ValueError, match="'fashion'"):
    load_split("fashion", "train", cache_dir=None)
