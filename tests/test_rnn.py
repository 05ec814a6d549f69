"""The scanned SimpleRNN, its dropout semantics, the addition data, and learning on small data."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import rnn_binary_addition
from rabbitjax.data import binary_addition
from rabbitjax.exercises.rnn_binary_addition import EXERCISE
from rabbitjax.models import BinaryAdder, SimpleRNN
from rabbitjax.models.activations import ACTIVATIONS

SEQUENCES = jax.random.normal(jax.random.key(0), (3, 8, 2))


def python_loop_rnn(params, inputs, activation):
  """The textbook recurrence, one time step per Python iteration."""
  state = jnp.zeros((inputs.shape[0], params["kernel"].shape[1]))
  outputs = []
  for t in range(inputs.shape[1]):
    state = ACTIVATIONS[activation](
        inputs[:, t] @ params["kernel"] + state @ params["recurrent_kernel"] + params["bias"])
    outputs.append(state)
  return jnp.stack(outputs, axis=1)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_scan_equals_python_loop(activation):
  rnn = SimpleRNN(units=5, activation=activation)
  params = rnn.init(jax.random.key(1), SEQUENCES)["params"]
  params["bias"] = jnp.linspace(-0.5, 0.5, 5)  # Non-zero, so the bias is checked too.
  chex.assert_trees_all_close(rnn.apply({"params": params}, SEQUENCES),
                              python_loop_rnn(params, SEQUENCES, activation), rtol=1e-5, atol=1e-6)


def test_unroll_changes_no_numbers():
  model = BinaryAdder(SimpleRNN(units=6, activation="relu"))
  params = model.init(jax.random.key(2), SEQUENCES)["params"]

  def loss(params, unroll):
    rnn = SimpleRNN(units=6, activation="relu", unroll=unroll)
    outputs = BinaryAdder(rnn).apply({"params": params}, SEQUENCES)
    return jnp.mean(outputs**2), outputs

  (_, reference_outputs), reference_grads = jax.value_and_grad(loss, has_aux=True)(params, 1)
  for unroll in (True, 3):
    (_, outputs), grads = jax.value_and_grad(loss, has_aux=True)(params, unroll)
    chex.assert_trees_all_close(outputs, reference_outputs, rtol=1e-6)
    chex.assert_trees_all_close(grads, reference_grads, rtol=1e-5, atol=1e-7)


def _probe(dropout=0.0, recurrent_dropout=0.0, units=64):
  """An RNN wired so that each unit's trajectory shows its masks (see the two tests below)."""
  rnn = SimpleRNN(units=units, activation="relu", dropout=dropout,
                  recurrent_dropout=recurrent_dropout)
  inputs = jnp.ones((2, 8, units))
  params = {"kernel": jnp.eye(units) if dropout else jnp.zeros((units, units)),
            "recurrent_kernel": jnp.zeros((units, units)) if dropout else jnp.eye(units),
            "bias": jnp.zeros(units) if dropout else jnp.ones(units)}
  run = lambda train: rnn.apply({"params": params}, inputs, train=train,
                                rngs={"dropout": jax.random.key(3)})
  return run(True), run(False)


def test_recurrent_dropout_mask_is_fixed_over_time_and_absent_at_evaluation():
  # h_t = relu(1 + m * h_{t-1}): h_t = 1 forever where m = 0, strictly growing where m > 0.
  train, evaluation = _probe(recurrent_dropout=0.3)
  steps = np.diff(np.asarray(train), axis=1)  # (batch, time - 1, units)
  dropped = np.all(train == 1.0, axis=1)
  kept = np.all(steps > 0, axis=1)
  assert np.all(dropped ^ kept)  # Every unit is dropped at all steps or at none.
  assert dropped.any() and kept.any()
  np.testing.assert_allclose(evaluation[0, :, 0], np.arange(1, 9))  # No mask: h_t = t.


def test_input_dropout_mask_is_fixed_over_time_and_absent_at_evaluation():
  # h_t = relu(m * x_t) with x_t = 1: each unit shows its input mask, 0 or 1 / (1 - rate).
  train, evaluation = _probe(dropout=0.5)
  np.testing.assert_array_equal(train, np.broadcast_to(train[:, :1], train.shape))
  assert set(np.unique(train).tolist()) == {0.0, 2.0}
  np.testing.assert_array_equal(evaluation, 1.0)


def test_binary_addition_targets_are_exactly_a_plus_b():
  data = binary_addition(jax.random.key(4), 500)
  chex.assert_shape(data.inputs, (500, 8, 2))
  chex.assert_shape(data.targets, (500, 8, 1))
  chex.assert_type([data.inputs, data.targets], jnp.float32)
  powers = 2 ** np.arange(8)
  a, b = (np.asarray(data.inputs[..., i]) @ powers for i in range(2))
  total = np.asarray(data.targets[..., 0]) @ powers
  np.testing.assert_array_equal(total, a + b)
  assert a.max() < 128 and b.max() < 128 and a.min() >= 0
  chex.assert_trees_all_equal(data, binary_addition(jax.random.key(4), 500))


def test_parameter_count_matches_keras():
  # Keras: SimpleRNN(16) on 2 features: 16 * (2 + 16 + 1) = 304; Dense(1): 17.
  model = BinaryAdder(SimpleRNN(units=16, activation="relu"))
  params = model.init(jax.random.key(0), SEQUENCES)["params"]
  assert sum(leaf.size for leaf in jax.tree.leaves(params)) == 321


def test_a_few_hundred_steps_lower_the_loss():
  config = rnn_binary_addition.get_config("quick")  # 400 sequences, batch 2: 200 steps an epoch
  config.num_epochs = 3
  config.variant = "base"
  history = EXERCISE.build(config).train(EXERCISE.sweep(config)).history
  assert np.all(history["loss"][-1] < history["loss"][0])
  assert np.all(history["val_loss"][-1] < history["val_loss"][0])
  assert history["val_bit_accuracy"][-1].mean() > 0.6
