"""Classifiers: the course's parameter counts, conv formulations, learning on mock data, labels."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments.configs import cifar10_cnn, mnist_cnn, mnist_dropout_mlp, perceptron
from flax import linen as nn
from rabbitjax import tuning
from rabbitjax.config import ConfigError, variant_config
from rabbitjax.data import Dataset, logic_gate, split
from rabbitjax.exercises import classification, exercise_for
from rabbitjax.models import MLP, CifarCNN, MnistCNN, parameter_count
from rabbitjax.models.conv import Conv, _shifted_views, im2col_conv, max_pool_2x2, winograd_conv
from rabbitjax.models.dropout import Dropout
from rabbitjax.train import Task, evaluate, make_sweep, softmax_cross_entropy

EXERCISE = classification.EXERCISE


def _train(config, data_dir=None, seeds=None):
  """The variant `config` trained as the launcher would (on `seeds` if given)."""
  sweep = EXERCISE.sweep(config)
  if seeds is not None:
    sweep = make_sweep(seeds, {"learning_rate": config.learning_rate})
  return EXERCISE.build(config, data_dir).train(sweep)


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


@pytest.mark.parametrize("shape", [(2, 10, 8, 16), (3, 9, 7, 20)])  # even and odd outputs
def test_winograd_conv_equals_lax_conv_in_values_and_gradients(shape):
  inputs = jax.random.normal(jax.random.key(0), shape)
  kernel = jax.random.normal(jax.random.key(1), (3, 3, shape[-1], 5))
  lax_conv = lambda inputs, kernel: jax.lax.conv_general_dilated(
      inputs, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
      precision="highest")
  loss = lambda conv: lambda i, k: jnp.sum(jnp.sin(conv(i, k)))
  for ours, exact in ((winograd_conv(inputs, kernel), lax_conv(inputs, kernel)),
                      (jax.grad(loss(winograd_conv), (0, 1))(inputs, kernel),
                       jax.grad(loss(lax_conv), (0, 1))(inputs, kernel))):
    chex.assert_trees_all_equal_shapes_and_dtypes(ours, exact)
    # Float32 rounding of sums over 9 x C products (measured relative errors 2e-7 to 3e-6).
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5 * np.abs(b).max()),
                 ours, exact)


def test_winograd_conv_gradients_under_vmap_equal_one_run_at_a_time():
  # Seeds vmapped (seeds_at_once > 1) batch the custom VJP's transposes and matmuls.
  inputs = jax.random.normal(jax.random.key(0), (3, 2, 9, 8, 16))
  kernels = jax.random.normal(jax.random.key(1), (3, 3, 3, 16, 4))
  grad = jax.grad(lambda i, k: jnp.sum(jnp.sin(winograd_conv(i, k))), (0, 1))
  chex.assert_trees_all_close(jax.vmap(grad)(inputs, kernels),
                              jax.tree.map(lambda *runs: jnp.stack(runs),
                                           *[grad(inputs[i], kernels[i]) for i in range(3)]),
                              rtol=1e-6, atol=1e-6)


def test_winograd_conv_layer_pads_like_lax_and_leaves_few_channels_to_im2col():
  wide, narrow = (jax.random.normal(jax.random.key(0), (2, 7, 9, c)) for c in (16, 3))
  for inputs in (wide, narrow):
    for padding in ("SAME", "VALID"):
      params = Conv(4, padding=padding).init(jax.random.key(1), inputs)
      outputs = {impl: Conv(4, padding=padding, impl=impl).apply(params, inputs)
                 for impl in ("lax", "im2col", "winograd")}
      chex.assert_trees_all_close(outputs["winograd"], outputs["lax"], rtol=1e-4, atol=1e-4)
      if inputs is narrow:  # under 16 channels: im2col's very numbers
        chex.assert_trees_all_equal(outputs["winograd"], outputs["im2col"])


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


@pytest.mark.parametrize("rate", [0.25, 0.5])
def test_byte_dropout_masks_keep_the_rate_and_scale(rate):
  inputs = jnp.ones((64, 12, 12, 64))
  outputs = Dropout(rate).apply({}, inputs, rngs={"dropout": jax.random.key(0)})
  kept = np.asarray(outputs != 0)
  assert abs(kept.mean() - (1 - rate)) < 0.005  # 589,824 draws: std ~6e-4
  np.testing.assert_allclose(np.asarray(outputs)[kept], 1 / (1 - rate))
  # Another key, another mask; a rate that is not a multiple of 1/256 is nn.Dropout's mask.
  other = Dropout(rate).apply({}, inputs, rngs={"dropout": jax.random.key(1)})
  assert not np.array_equal(kept, np.asarray(other != 0))
  ours, flax_dropout = (module.apply({}, inputs, rngs={"dropout": jax.random.key(0)})
                        for module in (Dropout(0.2), nn.Dropout(0.2, deterministic=False)))
  chex.assert_trees_all_equal(ours, flax_dropout)


def test_cpu_facts_are_read_and_recorded_but_never_choose(tmp_path):
  avx512_only, amx = tmp_path / "avx512_only", tmp_path / "amx"
  avx512_only.write_text("model name\t: Some Xeon\nflags\t\t: fpu avx512f avx512_bf16\n")
  amx.write_text("flags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16\n")
  assert tuning.cpu_facts(str(avx512_only)) == ("Some Xeon", {"fpu", "avx512f", "avx512_bf16"})
  assert tuning.cpu_facts(str(tmp_path / "missing"))[1] == frozenset()
  for cpuinfo in (avx512_only, amx, tmp_path / "missing"):
    chosen = tuning.decide(has_conv=True, batch_size=128, backend="cpu",
                           cpu=tuning.cpu_facts(str(cpuinfo)))
    assert chosen.conv_impl == "winograd" and chosen.record()["conv_precision"] == "float32"


@pytest.mark.parametrize("backend, precision, conv_impl", [
    ("cpu", "float32", "winograd"), ("cpu", "bfloat16", "im2col_bf16"),
    ("gpu", "float32", "lax"), ("gpu", "bfloat16", "lax_bf16"),
])
def test_precision_and_backend_choose_the_conv(backend, precision, conv_impl):
  cpu = ("test cpu", frozenset({"amx_bf16"}))
  chosen = tuning.decide(has_conv=True, batch_size=128, precision=precision, backend=backend,
                         cpu=cpu)
  assert chosen.conv_impl == conv_impl and chosen.record()["conv_precision"] == precision
  explicit = tuning.decide(has_conv=True, batch_size=128, conv_impl="lax", backend=backend, cpu=cpu)
  assert explicit.conv_impl == "lax"
  assert tuning.decide(has_conv=False, backend=backend, cpu=cpu).conv_impl is None


def test_conv_impl_must_compute_in_the_configured_precision():
  config = mnist_cnn.get_config()
  config.conv_impl = "im2col_bf16"
  with pytest.raises(ConfigError, match="config.conv_impl='im2col_bf16' does not compute in "
                                        "config.precision='float32'"):
    exercise_for(config)
  config.precision = "bfloat16"
  assert exercise_for(config).name == "classification"
  with pytest.raises(ValueError, match="'fft'"):
    MnistCNN(conv_impl="fft").init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))


def test_bf16_lax_conv_is_lax_conv_to_bfloat16_precision():
  inputs = jax.random.normal(jax.random.key(0), (2, 9, 8, 3))
  params = Conv(4).init(jax.random.key(1), inputs)
  exact, bf16 = (Conv(4, impl=impl).apply(params, inputs) for impl in ("lax", "lax_bf16"))
  chex.assert_type(bf16, jnp.float32)
  chex.assert_trees_all_close(bf16, exact, rtol=0.05, atol=0.05)


def test_course_initialisers_by_default_flax_as_an_option():
  """Keras' glorot_uniform kernels (bound sqrt(6 / (fan_in + fan_out))) and zero biases."""
  params = MLP((12,), 3).init(jax.random.key(0), jnp.zeros((1, 4)))["params"]
  bound = np.sqrt(6 / (4 + 12))
  assert np.abs(params["Dense_0"]["kernel"]).max() <= bound and np.all(params["Dense_0"]["bias"] == 0)
  flax = MLP((12,), 3, kernel_init="lecun_normal").init(jax.random.key(0), jnp.zeros((1, 4)))
  assert not np.allclose(flax["params"]["Dense_0"]["kernel"], params["Dense_0"]["kernel"])
  cnn = MnistCNN().init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
  assert np.abs(cnn["Conv_1"]["kernel"]).max() <= np.sqrt(6 / (9 * 32 + 9 * 64))


@pytest.fixture
def mock_tfds(tmp_path, monkeypatch):
  monkeypatch.setenv("RABBITJAX_CACHE_DIR", str(tmp_path / "cache"))
  with tfds.testing.mock_data(num_examples=64):
    yield str(tmp_path / "tfds")


@pytest.mark.parametrize("config_module", [mnist_cnn, cifar10_cnn])
def test_one_epoch_on_mock_data_lowers_the_loss(config_module, mock_tfds):
  config = variant_config(config_module.get_config("quick"), "cnn")
  config.update(num_seeds=1, batch_size=16, microbatch_size=8)  # 2 micro-batches per step
  exercise_for(config)
  train, _ = EXERCISE.load_data(config, mock_tfds)
  trainer = EXERCISE.make_trainer(config, (train, train))
  assert trainer.tuning.microbatch_size == 8
  model = classification.make_model(config, trainer.tuning.conv_impl)
  task = Task(model, softmax_cross_entropy, optimizer=None, batch_size=16)
  before = evaluate(task, model.init(jax.random.key(0), train.inputs[:1])["params"], train)["loss"]
  result = trainer.train(EXERCISE.sweep(config))
  assert result.history["val_loss"][-1, 0, 0] < before
  assert "Total Parameters" in trainer.model_summary
  assert "\x1b[" not in trainer.model_summary  # Plain text: no terminal colour codes.


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_cnns_on_cpu_default_to_seeds_in_turn_and_small_eval_batches(backend):
  on_cpu = backend == "cpu"
  decide = lambda config: tuning.decide(
      has_conv=config.model != "mlp", batch_size=config.batch_size,
      microbatch_size=config.microbatch_size, seeds_at_once=config.seeds_at_once,
      eval_batch_size=config.eval_batch_size, default_eval_batch_size=1000, backend=backend)
  for config in (mnist_cnn.get_config(), cifar10_cnn.get_config()):
    chosen = decide(config)
    assert (chosen.microbatch_size, chosen.seeds_at_once, chosen.eval_batch_size) == (
        (None, 1, 16) if on_cpu else (None, None, 1000))
    assert len(chosen.reasons) == (3 if on_cpu else 0) and chosen.backend in chosen.line()
    config.update(microbatch_size=8, seeds_at_once=2, eval_batch_size=250)
    chosen = decide(config)
    assert (chosen.microbatch_size, chosen.seeds_at_once, chosen.eval_batch_size) == (8, 2, 250)
  chosen = decide(mnist_dropout_mlp.get_config())
  assert (chosen.microbatch_size, chosen.seeds_at_once, chosen.eval_batch_size) == (
      None, None, 1000)


def test_one_hot_and_integer_labels_give_the_same_numbers(mock_tfds):
  histories = []
  for variant in ("sparse", "one_hot"):
    config = variant_config(mnist_dropout_mlp.get_config("quick"), variant)
    config.update(num_seeds=1, hidden=(32,), num_epochs=2)
    histories.append(_train(config, mock_tfds).history)
  assert histories[1] and set(histories[0]) == set(histories[1])
  chex.assert_trees_all_close(histories[0], histories[1], rtol=1e-5)


def test_vmapped_dropout_seeds_equal_separate_runs(mock_tfds):
  config = variant_config(mnist_dropout_mlp.get_config("quick"), "sparse")
  config.update(hidden=(32,), num_epochs=2)
  together, alone = _train(config, mock_tfds, [0, 1]), _train(config, mock_tfds, [1])
  chex.assert_trees_all_close(jax.tree.map(lambda a: a[1], together.state.params),
                              jax.tree.map(lambda a: a[0], alone.state.params), rtol=1e-5, atol=1e-6)


def test_perceptron_learns_or_and_not_xor():
  finals = {}
  for gate in ("or", "xor"):
    config = variant_config(perceptron.get_config(), f"{gate}_batch1")
    config.update(num_seeds=4, num_epochs=150)
    finals[gate] = _train(config).history["val_accuracy"][-1, :, 0]
  np.testing.assert_array_equal(finals["or"], 1.0)
  assert np.all(finals["xor"] <= 0.75)  # No line separates XOR.


def test_variants_of_one_shape_share_programs_and_variants_of_one_dataset_share_data():
  from rabbitjax.train import mapping
  config = perceptron.get_config("quick")
  gate_or, gate_and, or_batch10 = (variant_config(config, name)
                                   for name in ("or_batch1", "and_batch1", "or_batch10"))
  first = _train(gate_or)
  programs = len(mapping._PROGRAMS)
  second = _train(gate_and)  # another gate, the same model and shapes: no new program
  assert len(mapping._PROGRAMS) == programs
  assert not np.array_equal(first.history["val_accuracy"], second.history["val_accuracy"])
  loaded = {}
  for variant in (gate_or, or_batch10, gate_and):
    EXERCISE.build(variant, None, loaded)
  assert len(loaded) == 2  # OR loaded once for its two batch sizes


def test_logic_gates_and_keyed_split():
  np.testing.assert_array_equal(logic_gate("xor").targets[:, 0], [0, 1, 1, 0])
  data = Dataset(jnp.arange(10.0)[:, None], jnp.arange(10))
  train, test = split(data, jax.random.key(0), 0.8)
  assert train.targets.shape == (8,) and test.targets.shape == (2,)
  np.testing.assert_array_equal(np.sort(np.concatenate([train.targets, test.targets])),
                                np.arange(10))
