"""Classifiers: the course's parameter counts, tuning's choices, learning on mock data, labels."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments.configs import cifar10_cnn, mnist_cnn, mnist_dropout_mlp, perceptron
from flax import linen as nn
from rabbitjax import tuning, xla_cpu
from rabbitjax.config import ConfigError, variant_config
from rabbitjax.data import Dataset, logic_gate, split
from rabbitjax.exercises import classification, exercise_for
from rabbitjax.models import MLP, CifarCNN, MnistCNN, parameter_count, reference_layers
from rabbitjax.models.layers import max_pool_2x2
from rabbitjax.train import Task, evaluate, make_sweep, softmax_cross_entropy
from rabbitjax.train.engine import run_inputs, weighted_sum
from rabbitjax.train.mapping import Programs

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


def test_cpu_facts_are_read_and_recorded_but_never_choose(tmp_path):
  avx512_only, amx = tmp_path / "avx512_only", tmp_path / "amx"
  avx512_only.write_text("model name\t: Some Xeon\nflags\t\t: fpu avx512f avx512_bf16\n")
  amx.write_text("flags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16\n")
  assert tuning.cpu_facts(str(avx512_only)) == ("Some Xeon", {"fpu", "avx512f", "avx512_bf16"})
  assert tuning.cpu_facts(str(tmp_path / "missing"))[1] == frozenset()
  for cpuinfo in (avx512_only, amx, tmp_path / "missing"):
    chosen = tuning.decide(has_conv=True, backend="cpu", cpu=tuning.cpu_facts(str(cpuinfo)))
    assert (chosen.conv_formulation, chosen.conv_precision) == ("winograd4", "float32")


@pytest.mark.parametrize("backend, fast, precision, formulation", [
    ("cpu", True, "float32", "winograd4"), ("cpu", True, "bfloat16", "im2col"),
    ("cpu", False, "float32", "lax"), ("gpu", True, "float32", "lax"),
    ("gpu", True, "bfloat16", "lax"),
])
def test_backend_fast_flag_and_precision_choose_the_layers(backend, fast, precision, formulation):
  cpu = ("test cpu", frozenset({"amx_bf16"}))
  chosen = tuning.decide(fast=fast, has_conv=True, precision=precision, backend=backend, cpu=cpu)
  assert (chosen.conv_formulation, chosen.conv_precision) == (formulation, precision)
  assert chosen.fast_path == (fast and backend == "cpu")
  record = chosen.record()
  assert record["fast_path"] == chosen.fast_path and record["conv_formulation"] == formulation
  layers = chosen.layers
  if chosen.fast_path:
    assert layers.conv.func is xla_cpu.Conv and layers.conv.keywords["formulation"] == formulation
    assert (layers.dropout, layers.max_pool) == (xla_cpu.Dropout, xla_cpu.max_pool_2x2)
    assert (chosen.weighted_sum, chosen.vmap) == (xla_cpu.engine.weighted_sum,
                                                  xla_cpu.engine.vmap)
  else:  # the reference path: Flax's layers, jax.vmap, the plain weighted sum
    assert layers == reference_layers(precision) or precision == "bfloat16"
    assert getattr(layers.conv, "func", layers.conv) is nn.Conv
    assert (layers.dropout, layers.max_pool) == (nn.Dropout, max_pool_2x2)
    assert (chosen.weighted_sum, chosen.vmap) == (weighted_sum, jax.vmap)
  explicit = tuning.decide(fast=fast, has_conv=True, conv_formulation="lax", backend=backend,
                           cpu=cpu)
  assert explicit.conv_formulation == "lax" and explicit.layers.conv is nn.Conv
  assert tuning.decide(has_conv=False, backend=backend, cpu=cpu).conv_formulation is None


def test_conv_formulation_and_precision_must_agree_with_each_other_and_the_fast_flag():
  config = mnist_cnn.get_config()
  config.update(conv_formulation="winograd", precision="bfloat16")
  with pytest.raises(ConfigError, match="config.conv_formulation='winograd' computes in "
                                        "float32 only"):
    exercise_for(config)
  config.update(conv_formulation="im2col", fast=False)
  with pytest.raises(ConfigError, match="is on the fast path, which config.fast=False"):
    exercise_for(config)
  config.fast = True
  assert exercise_for(config).name == "classification"


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
  model = classification.make_model(config, trainer.tuning)
  task = Task(model, softmax_cross_entropy, optimizer="adam", batch_size=16)
  before = evaluate(task, model.init(jax.random.key(0), train.inputs[:1])["params"], train)["loss"]
  result = trainer.train(EXERCISE.sweep(config))
  assert result.history["val_loss"][-1, 0, 0] < before
  assert "Total Parameters" in trainer.model_summary
  assert "\x1b[" not in trainer.model_summary  # Plain text: no terminal colour codes.


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_cnns_on_cpu_default_to_seeds_in_turn_and_small_eval_batches(backend):
  on_cpu = backend == "cpu"
  decide = lambda config: tuning.decide(
      has_conv=config.model != "MLP",
      microbatch_size=config.microbatch_size, seeds_at_once=config.seeds_at_once,
      eval_batch_size=config.eval_batch_size, default_eval_batch_size=1000, backend=backend)
  for config in (mnist_cnn.get_config(), cifar10_cnn.get_config()):
    chosen = decide(config)
    assert (chosen.microbatch_size, chosen.seeds_at_once, chosen.eval_batch_size) == (
        (None, 1, 16) if on_cpu else (None, None, 1000))
    assert len(chosen.reasons) == (4 if on_cpu else 0) and chosen.backend in chosen.line()
    config.update(microbatch_size=8, seeds_at_once=2, eval_batch_size=250)
    chosen = decide(config)
    assert (chosen.microbatch_size, chosen.seeds_at_once, chosen.eval_batch_size) == (8, 2, 250)
  chosen = decide(mnist_dropout_mlp.get_config())
  assert (chosen.microbatch_size, chosen.seeds_at_once, chosen.eval_batch_size) == (
      None, None, 1000)


def test_classifiers_keep_their_seeds_in_one_group_unless_configured():
  # Threads lose on the perceptron's tiny epochs (training 0.16 -> 0.38 s); the MLPs' matmuls
  # take both cores already (the 3-layer MLP at 64 units: 1.13 vs 1.15 s).
  config = perceptron.get_config()
  assert classification.decide_tuning(config).seed_groups is None
  config.seed_groups = 2
  assert classification.decide_tuning(config).seed_groups == 2


def test_small_epochs_are_trained_a_tenth_at_a_time_unless_configured():
  decide = lambda **kwargs: tuning.decide(backend="cpu", cpu=("test", frozenset()), **kwargs)
  chosen = decide(num_epochs=300, train_examples=4)  # the perceptron
  assert chosen.epochs_per_dispatch == 30 and "epochs per dispatch 30" in chosen.line()
  assert decide(num_epochs=20, train_examples=60_000).epochs_per_dispatch is None  # MNIST
  assert decide(num_epochs=5, train_examples=4).epochs_per_dispatch is None  # too few epochs
  assert decide(num_epochs=300, train_examples=4, epochs_per_dispatch=1).epochs_per_dispatch is None
  assert decide(num_epochs=20, train_examples=60_000,
                epochs_per_dispatch=4).epochs_per_dispatch == 4
  assert decide(num_epochs=300).epochs_per_dispatch is None  # examples unknown


def test_large_shuffled_epochs_gather_each_minibatch_in_its_step():
  decide = lambda **kwargs: tuning.decide(backend="cpu", cpu=("test", frozenset()), **kwargs)
  mnist = 60_000 * 28 * 28 * 4 + 60_000 * 4  # float32 images, int32 labels: 188 MB
  chosen = decide(train_bytes=mnist, num_seeds=8)  # the softmax exercise
  assert chosen.gather_per_step and "minibatches gathered per step" in chosen.line()
  assert chosen.record()["gather_per_step"] is True
  assert not decide(train_bytes=mnist, num_seeds=1).gather_per_step  # one copy: a tie
  assert not decide(train_bytes=mnist, num_seeds=8, seeds_at_once=1).gather_per_step
  assert not decide(train_bytes=10_000 * 8 * 3 * 4, num_seeds=8).gather_per_step  # the RNN's
  assert not decide(num_seeds=8).gather_per_step  # size unknown


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
def test_shared_inputs_enter_as_each_runs_own_only_on_the_cpu_fast_path(backend):
  decide = lambda **kwargs: tuning.decide(backend=backend, cpu=("test", frozenset()), **kwargs)
  per_run = decide(shared_inputs=True)
  assert per_run.inputs_per_run == (backend == "cpu")
  assert per_run.run_inputs is (xla_cpu.engine.run_inputs if backend == "cpu" else run_inputs)
  assert not decide(shared_inputs=False).inputs_per_run  # one point: nothing to batch over
  assert not decide(shared_inputs=True, fast=False).inputs_per_run
  assert not decide(shared_inputs=True, has_conv=True).inputs_per_run


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
  config = perceptron.get_config("quick")
  gate_or, gate_and, or_batch10 = (variant_config(config, name)
                                   for name in ("or_batch1", "and_batch1", "or_batch10"))
  programs = Programs()
  train = lambda variant: EXERCISE.build(variant).train(EXERCISE.sweep(variant), programs=programs)
  first = train(gate_or)
  compiled = len(programs)
  second = train(gate_and)  # another gate, the same model and shapes: no new program
  # seed keys, run keys, init, the epochs, the per-run outputs (the gates' inputs are the same:
  # one program, found by its name)
  assert compiled == 5 and len(programs) == compiled
  assert not np.array_equal(first.history["val_accuracy"], second.history["val_accuracy"])
  loaded = {}
  for variant in (gate_or, or_batch10, gate_and):
    EXERCISE.build(variant, None, loaded)
  assert len(loaded) == 2  # OR loaded once for its two batch sizes


def test_logic_gates_and_keyed_split():
  np.testing.assert_array_equal(logic_gate("xor").targets[:, 0], [0, 1, 1, 0])
  data = Dataset(jnp.arange(10.0)[:, None], jnp.arange(10))
  train, test = split(data, 0, 0.8)
  assert train.targets.shape == (8,) and test.targets.shape == (2,)
  order = jax.random.permutation(jax.random.key(0), 10)  # the split's order, drawn op by op
  np.testing.assert_array_equal(np.concatenate([train.targets, test.targets]), order)
  np.testing.assert_array_equal(np.sort(np.concatenate([train.targets, test.targets])),
                                np.arange(10))
