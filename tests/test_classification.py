"""Classifiers: the course's parameter counts, the im2col conv, learning on mock data, labels."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments.configs import cifar10_cnn, mnist_cnn, mnist_dropout_mlp, perceptron
from rabbitjax.config import validate_config, variant_config
from rabbitjax.data import Dataset, logic_gate, split
from rabbitjax.exercises import classification
from rabbitjax.experiment import make_run_sweep
from rabbitjax.models import MLP, CifarCNN, MnistCNN, parameter_count
from flax import linen as nn

from rabbitjax.models.conv import (_shifted_views, cpu_has_amx_bf16, im2col_conv, max_pool_2x2,
                                   resolve_impl)
from rabbitjax.train import evaluate, fit, make_sweep


@pytest.mark.parametrize("model, shape, count", [
    (MnistCNN(), (1, 28, 28, 1), 1_199_882),
    (MLP((512, 512), 10, dropout=0.2), (1, 28, 28, 1), 669_706),
    (CifarCNN(), (1, 32, 32, 3), 1_250_858),
])
def test_parameter_counts_match_the_course(model, shape, count):
  assert parameter_count(model.init(jax.random.key(0), jnp.zeros(shape))["params"]) == count


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("kernel_size", [(3, 3), (5, 3)])
def test_im2col_conv_equals_lax_conv_in_values_and_gradients(padding, kernel_size):
  inputs = jax.random.normal(jax.random.key(0), (2, 9, 8, 3))
  kernel = jax.random.normal(jax.random.key(1), (*kernel_size, 3, 4))

  def lax_conv(inputs, kernel):
    return jax.lax.conv_general_dilated(inputs, kernel, (1, 1), padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

  im2col = lambda inputs, kernel: im2col_conv(inputs, kernel, padding)
  chex.assert_trees_all_close(im2col(inputs, kernel), lax_conv(inputs, kernel), rtol=1e-4, atol=1e-4)
  loss = lambda conv: lambda i, k: jnp.sum(jnp.sin(conv(i, k)))
  chex.assert_trees_all_close(jax.grad(loss(im2col), (0, 1))(inputs, kernel),
                              jax.grad(loss(lax_conv), (0, 1))(inputs, kernel), rtol=1e-4, atol=1e-4)


def test_bf16_im2col_conv_is_lax_conv_to_bfloat16_precision():
  inputs = jax.random.normal(jax.random.key(0), (2, 9, 8, 3))
  kernel = jax.random.normal(jax.random.key(1), (3, 3, 3, 4))

  def lax_conv(inputs, kernel):
    return jax.lax.conv_general_dilated(inputs, kernel, (1, 1), "VALID",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

  bf16 = lambda inputs, kernel: im2col_conv(inputs, kernel, "VALID", jnp.bfloat16)
  outputs = bf16(inputs, kernel)
  chex.assert_type(outputs, jnp.float32)  # bfloat16 operands, float32 accumulation and result
  # 8 mantissa bits: relative error ~2^-8 per operand, summed over 27 products.
  chex.assert_trees_all_close(outputs, lax_conv(inputs, kernel), rtol=0.05, atol=0.1)
  loss = lambda conv: lambda i, k: jnp.sum(jnp.sin(conv(i, k)))
  grads = jax.grad(loss(bf16), (0, 1))(inputs, kernel)
  chex.assert_trees_all_equal_dtypes(grads, (inputs, kernel))
  chex.assert_trees_all_close(grads, jax.grad(loss(lax_conv), (0, 1))(inputs, kernel),
                              rtol=0.05, atol=0.2)
  # Each gradient takes its own argument's dtype, whatever the other's.
  mixed_grads = jax.grad(loss(bf16), (0, 1))(inputs.astype(jnp.bfloat16), kernel)
  chex.assert_trees_all_equal_dtypes(mixed_grads, (inputs.astype(jnp.bfloat16), kernel))


def test_bf16_patches_are_the_float32_patches_rounded():
  # The bf16 patches are concatenated as uint16 bit patterns (a speed measure): same values.
  inputs = jax.random.normal(jax.random.key(0), (2, 7, 6, 3))
  patches = _shifted_views(inputs, 3, 2, jnp.bfloat16)
  chex.assert_type(patches, jnp.bfloat16)
  chex.assert_trees_all_equal(patches, _shifted_views(inputs, 3, 2, jnp.float32).astype(jnp.bfloat16))


@pytest.mark.parametrize("shape", [(2, 6, 6, 3), (2, 7, 5, 3)])
def test_max_pool_equals_flax_max_pool_in_values_and_gradients(shape):
  inputs = jax.random.normal(jax.random.key(0), shape)
  flax_pool = lambda x: nn.max_pool(x, (2, 2), strides=(2, 2))
  chex.assert_trees_all_equal(max_pool_2x2(inputs), flax_pool(inputs))
  loss = lambda pool: lambda x: jnp.sum(jnp.sin(pool(x)))
  chex.assert_trees_all_close(jax.grad(loss(max_pool_2x2))(inputs), jax.grad(loss(flax_pool))(inputs))


def test_bf16_default_needs_amx_tiles(tmp_path):
  avx512_only, amx = tmp_path / "avx512_only", tmp_path / "amx"
  avx512_only.write_text("flags\t\t: fpu avx512f avx512_bf16\n")
  amx.write_text("flags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16\n")
  assert not cpu_has_amx_bf16(str(avx512_only))  # measured slower than float32 without AMX
  assert cpu_has_amx_bf16(str(amx))
  assert not cpu_has_amx_bf16(str(tmp_path / "missing"))


def test_conv_impl_default_per_backend():
  on_cpu = "im2col_bf16" if cpu_has_amx_bf16() else "im2col"
  assert resolve_impl("auto") == (on_cpu if jax.default_backend() == "cpu" else "lax")
  assert resolve_impl("lax") == "lax"
  with pytest.raises(ValueError, match="'winograd'"):
    resolve_impl("winograd")


@pytest.fixture
def mock_tfds(tmp_path, monkeypatch):
  monkeypatch.setenv("RABBITJAX_CACHE_DIR", str(tmp_path / "cache"))
  with tfds.testing.mock_data(num_examples=64):
    yield str(tmp_path / "tfds")


@pytest.mark.parametrize("config_module", [mnist_cnn, cifar10_cnn])
def test_one_epoch_on_mock_data_lowers_the_loss(config_module, mock_tfds):
  config = variant_config(config_module.get_config("quick"), "cnn")
  config.update(num_seeds=1, batch_size=16, microbatch_size=8)  # 2 micro-batches per step
  validate_config(config)
  exercise = classification.build(config, mock_tfds)
  train, _ = exercise.data
  sweep = make_run_sweep(config, classification.SPEC.sweepable)
  before = evaluate(exercise.task, exercise.task.model.init(jax.random.key(0), train.inputs[:1])[
      "params"], train)["loss"]
  result = fit(exercise.task, sweep, 1, data=(train, train))
  assert result.history["val_loss"][-1, 0, 0] < before
  assert "Total Parameters" in exercise.model_summary
  assert "\x1b[" not in exercise.model_summary  # Plain text: no terminal colour codes.


def test_cnns_use_micro_batches_of_16_on_cpu_by_default():
  on_cpu = jax.default_backend() == "cpu"
  for config in (mnist_cnn.get_config(), cifar10_cnn.get_config()):
    assert classification.resolve_microbatch_size(config) == (16 if on_cpu else None)
    config.microbatch_size = 8
    assert classification.resolve_microbatch_size(config) == 8
  assert classification.resolve_microbatch_size(mnist_dropout_mlp.get_config()) is None


def test_cnns_evaluate_in_batches_of_16_on_cpu_by_default():
  on_cpu = jax.default_backend() == "cpu"
  for config in (mnist_cnn.get_config(), cifar10_cnn.get_config()):
    assert classification.make_task(config).eval_batch_size == (16 if on_cpu else 1000)
    config.eval_batch_size = 250
    assert classification.make_task(config).eval_batch_size == 250
  assert classification.make_task(mnist_dropout_mlp.get_config()).eval_batch_size == 1000


def test_one_hot_and_integer_labels_give_the_same_numbers(mock_tfds):
  histories = []
  for variant in ("sparse", "one_hot"):
    config = variant_config(mnist_dropout_mlp.get_config("quick"), variant)
    config.update(num_seeds=1, hidden=(32,), num_epochs=2)
    exercise = classification.build(config, mock_tfds)
    histories.append(fit(exercise.task, make_run_sweep(config, ("learning_rate",)),
                         config.num_epochs, data=exercise.data).history)
  assert histories[1] and set(histories[0]) == set(histories[1])
  chex.assert_trees_all_close(histories[0], histories[1], rtol=1e-5)


def test_vmapped_dropout_seeds_equal_separate_runs(mock_tfds):
  config = variant_config(mnist_dropout_mlp.get_config("quick"), "sparse")
  config.update(hidden=(32,), num_epochs=2)
  exercise = classification.build(config, mock_tfds)
  run = lambda seeds: fit(exercise.task, make_sweep(seeds, {"learning_rate": 1e-3}), 2,
                          data=exercise.data)
  together, alone = run([0, 1]), run([1])
  chex.assert_trees_all_close(jax.tree.map(lambda a: a[1], together.state.params),
                              jax.tree.map(lambda a: a[0], alone.state.params), rtol=1e-5, atol=1e-6)


def test_perceptron_learns_or_and_not_xor():
  finals = {}
  for gate in ("or", "xor"):
    config = variant_config(perceptron.get_config(), f"{gate}_batch1")
    config.update(num_seeds=4, num_epochs=150)
    exercise = classification.build(config)
    history = fit(exercise.task, make_run_sweep(config, ("learning_rate",)), config.num_epochs,
                  data=exercise.data).history
    finals[gate] = history["val_accuracy"][-1, :, 0]
  np.testing.assert_array_equal(finals["or"], 1.0)
  assert np.all(finals["xor"] <= 0.75)  # No line separates XOR.


def test_logic_gates_and_keyed_split():
  np.testing.assert_array_equal(logic_gate("xor").targets[:, 0], [0, 1, 1, 0])
  data = Dataset(jnp.arange(10.0)[:, None], jnp.arange(10))
  train, test = split(data, jax.random.key(0), 0.8)
  assert train.targets.shape == (8,) and test.targets.shape == (2,)
  np.testing.assert_array_equal(np.sort(np.concatenate([train.targets, test.targets])),
                                np.arange(10))
