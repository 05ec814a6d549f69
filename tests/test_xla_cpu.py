"""The fast path: every rabbitjax.xla_cpu drop-in against the reference piece it replaces."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

import rabbitjax
from rabbitjax import xla_cpu
from rabbitjax.models.layers import bfloat16_operands, max_pool_2x2
from rabbitjax.data import Dataset
from rabbitjax.models import MLP
from rabbitjax.models.activations import ACTIVATIONS
from rabbitjax.models.rnn import rnn_states
from rabbitjax.train import Task, fit, make_sweep
from rabbitjax.train.engine import run_inputs, weighted_sum
from rabbitjax.train.losses import accuracy, softmax_cross_entropy
from rabbitjax.xla_cpu.conv import _shifted_views, im2col_conv, winograd_conv

_loss = lambda conv: lambda i, k: jnp.sum(jnp.sin(conv(i, k)))


def _lax_conv(padding, precision=None):
  return lambda inputs, kernel: jax.lax.conv_general_dilated(
      inputs, kernel, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
      precision=precision)


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("kernel_size", [(3, 3), (5, 3)])
def test_im2col_conv_equals_lax_conv_in_values_and_gradients(padding, kernel_size):
  inputs = jax.random.normal(jax.random.key(0), (2, 9, 8, 3))
  kernel = jax.random.normal(jax.random.key(1), (*kernel_size, 3, 4))
  im2col = lambda inputs, kernel: im2col_conv(inputs, kernel, padding)
  chex.assert_trees_all_close(im2col(inputs, kernel), _lax_conv(padding)(inputs, kernel),
                              rtol=1e-4, atol=1e-4)
  chex.assert_trees_all_close(jax.grad(_loss(im2col), (0, 1))(inputs, kernel),
                              jax.grad(_loss(_lax_conv(padding)), (0, 1))(inputs, kernel),
                              rtol=1e-4, atol=1e-4)


# Float32 rounding of sums over 9 x C products, relative to the largest value: measured 2e-7 to
# 4e-6 for F(2x2, 3x3), 1e-6 to 2e-5 for F(4x4, 3x3) (its transforms' coefficients reach 8).
WINOGRAD_TOLERANCE = {2: 1e-5, 4: 5e-5}


@pytest.mark.parametrize("tile", sorted(WINOGRAD_TOLERANCE))
# Outputs a multiple of both tiles, of 2 only, and of neither.
@pytest.mark.parametrize("shape", [(2, 10, 6, 16), (2, 10, 8, 16), (3, 9, 7, 20)])
def test_winograd_conv_equals_lax_conv_in_values_and_gradients(shape, tile):
  inputs = jax.random.normal(jax.random.key(0), shape)
  kernel = jax.random.normal(jax.random.key(1), (3, 3, shape[-1], 5))
  exact_conv = _lax_conv("VALID", "highest")
  conv = functools.partial(winograd_conv, tile=tile)
  for ours, exact in ((conv(inputs, kernel), exact_conv(inputs, kernel)),
                      (jax.grad(_loss(conv), (0, 1))(inputs, kernel),
                       jax.grad(_loss(exact_conv), (0, 1))(inputs, kernel))):
    chex.assert_trees_all_equal_shapes_and_dtypes(ours, exact)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(
        a, b, atol=WINOGRAD_TOLERANCE[tile] * np.abs(b).max()), ours, exact)


@pytest.mark.parametrize("tile", sorted(WINOGRAD_TOLERANCE))
def test_winograd_conv_gradients_under_vmap_equal_one_run_at_a_time(tile):
  # Seeds vmapped (seeds_at_once > 1) batch the custom VJP's transposes and matmuls.
  inputs = jax.random.normal(jax.random.key(0), (3, 2, 9, 8, 16))
  kernels = jax.random.normal(jax.random.key(1), (3, 3, 3, 16, 4))
  grad = jax.grad(_loss(functools.partial(winograd_conv, tile=tile)), (0, 1))
  chex.assert_trees_all_close(jax.vmap(grad)(inputs, kernels),
                              jax.tree.map(lambda *runs: jnp.stack(runs),
                                           *[grad(inputs[i], kernels[i]) for i in range(3)]),
                              rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("channels", [16, 3])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_conv_layer_is_nn_conv_with_its_parameters(channels, padding):
  inputs = jax.random.normal(jax.random.key(0), (2, 7, 9, channels))
  reference = nn.Conv(4, (3, 3), padding=padding)
  params = reference.init(jax.random.key(1), inputs)
  fast = {formulation: xla_cpu.Conv(4, (3, 3), padding=padding, formulation=formulation,
                                    winograd_min_inputs=16)
          for formulation in xla_cpu.conv.FORMULATIONS}
  chex.assert_trees_all_equal_structs(fast["im2col"].init(jax.random.key(1), inputs), params)
  chex.assert_trees_all_equal(fast["im2col"].init(jax.random.key(1), inputs), params)
  outputs = {name: conv.apply(params, inputs) for name, conv in fast.items()}
  for output in outputs.values():
    chex.assert_trees_all_close(output, reference.apply(params, inputs), rtol=1e-4, atol=1e-4)
  if channels < 16:  # under winograd_min_inputs: im2col's very numbers
    for formulation in xla_cpu.conv.WINOGRAD_TILES:
      chex.assert_trees_all_equal(outputs[formulation], outputs["im2col"])
  with pytest.raises(ValueError, match="'fft'"):
    xla_cpu.Conv(4, formulation="fft").init(jax.random.key(0), inputs)
  with pytest.raises(ValueError, match="float32 only"):
    xla_cpu.Conv(4, formulation="winograd4", precision="bfloat16").init(jax.random.key(0), inputs)


def test_bf16_im2col_is_the_reference_bf16_conv_in_values_and_gradients():
  inputs = jax.random.normal(jax.random.key(0), (2, 9, 8, 3))
  reference = nn.Conv(4, (3, 3), padding="VALID", conv_general_dilated=bfloat16_operands)
  params = reference.init(jax.random.key(1), inputs)
  fast = xla_cpu.Conv(4, (3, 3), padding="VALID", precision="bfloat16")
  loss = lambda module: lambda p, x: jnp.sum(jnp.sin(module.apply(p, x)))
  chex.assert_type(fast.apply(params, inputs), jnp.float32)  # float32 accumulation and result
  # The same bfloat16 operands, summed in another order in float32.
  chex.assert_trees_all_close(fast.apply(params, inputs), reference.apply(params, inputs),
                              rtol=1e-5, atol=1e-5)
  grads = jax.grad(loss(fast), (0, 1))(params, inputs)
  chex.assert_trees_all_equal_dtypes(grads, (params, inputs))
  # The reference's gradients pass through bfloat16 casts; the fast path's col2im is float32.
  chex.assert_trees_all_close(grads, jax.grad(loss(reference), (0, 1))(params, inputs),
                              rtol=0.05, atol=0.2)
  mixed = jax.grad(_loss(lambda i, k: im2col_conv(i, k, "VALID", jnp.bfloat16)), (0, 1))(
      inputs.astype(jnp.bfloat16), params["params"]["kernel"])
  chex.assert_trees_all_equal_dtypes(mixed, (inputs.astype(jnp.bfloat16),
                                             params["params"]["kernel"]))


def test_bf16_patches_are_the_float32_patches_rounded():
  # The bf16 patches are concatenated as uint16 bit patterns (a speed measure): same values.
  inputs = jax.random.normal(jax.random.key(0), (2, 7, 6, 3))
  patches = _shifted_views(inputs, 3, 2, jnp.bfloat16)
  chex.assert_type(patches, jnp.bfloat16)
  chex.assert_trees_all_equal(patches,
                              _shifted_views(inputs, 3, 2, jnp.float32).astype(jnp.bfloat16))


@pytest.mark.parametrize("shape", [(2, 6, 6, 3), (2, 7, 5, 3)])
def test_max_pool_equals_the_reference_in_values_and_gradients(shape):
  inputs = jax.random.normal(jax.random.key(0), shape)
  chex.assert_trees_all_equal(xla_cpu.max_pool_2x2(inputs), max_pool_2x2(inputs))
  loss = lambda pool: lambda x: jnp.sum(jnp.sin(pool(x)))
  chex.assert_trees_all_close(jax.grad(loss(xla_cpu.max_pool_2x2))(inputs),
                              jax.grad(loss(max_pool_2x2))(inputs))


@pytest.mark.parametrize("rate", [0.25, 0.5])
def test_byte_dropout_masks_have_nn_dropouts_law(rate):
  inputs = jnp.ones((64, 12, 12, 64))
  apply = lambda module, seed: module.apply({}, inputs, rngs={"dropout": jax.random.key(seed)})
  outputs, reference = apply(xla_cpu.Dropout(rate, deterministic=False), 0), apply(
      nn.Dropout(rate, deterministic=False), 0)
  kept, reference_kept = np.asarray(outputs != 0), np.asarray(reference != 0)
  # 589,824 draws each: the kept fraction's std is ~6e-4.
  assert abs(kept.mean() - (1 - rate)) < 0.005 and abs(reference_kept.mean() - (1 - rate)) < 0.005
  np.testing.assert_allclose(np.asarray(outputs)[kept], 1 / (1 - rate))
  # Neighbouring elements independent (bytes of one word): P(both kept) = keep^2.
  both = (kept[..., :-1] & kept[..., 1:]).mean()
  assert abs(both - (1 - rate) ** 2) < 0.005
  other = apply(xla_cpu.Dropout(rate, deterministic=False), 1)
  assert not np.array_equal(kept, np.asarray(other != 0))
  chex.assert_trees_all_equal(apply(xla_cpu.Dropout(rate, deterministic=True), 0), inputs)


def test_byte_dropout_is_nn_dropout_exactly_at_other_rates():
  inputs = jax.random.normal(jax.random.key(2), (8, 33))
  ours, flax_dropout = (module.apply({}, inputs, rngs={"dropout": jax.random.key(0)})
                        for module in (xla_cpu.Dropout(0.2, deterministic=False),
                                       nn.Dropout(0.2, deterministic=False)))
  chex.assert_trees_all_equal(ours, flax_dropout)


def test_weighted_sum_as_a_dot_equals_the_reference():
  values = jax.random.normal(jax.random.key(0), (37,))
  weights = (jnp.arange(37) < 30).astype(jnp.float32)
  chex.assert_trees_all_close(xla_cpu.engine.weighted_sum(values, weights),
                              weighted_sum(values, weights), rtol=1e-6)


def test_inputs_as_each_runs_own_are_the_inputs_and_train_as_the_reference():
  """Values equal exactly; a 2-seed x 3-rate sweep on shared data trains to the reference's
  numbers within float32 rounding (the matmuls' sums run in other blocks)."""
  inputs = jax.random.normal(jax.random.key(0), (8, 5))
  chex.assert_trees_all_equal(
      xla_cpu.engine.run_inputs(inputs, {"learning_rate": jnp.float32(0.1)}), inputs)
  images = jax.random.normal(jax.random.key(1), (96, 20))
  data = Dataset(images, (images[:, 0] > 0).astype(jnp.int32))
  sweep = make_sweep([0, 1], {"learning_rate": 0.1}, {"learning_rate": (0.01, 0.1, 0.3)})
  trained = {}
  for name, inputs_of_run in (("reference", run_inputs), ("drop-in", xla_cpu.engine.run_inputs)):
    task = Task(model=MLP(hidden=(16,), outputs=2, dropout=0.2),
                loss=softmax_cross_entropy, optimizer="adam", batch_size=16,
                metrics=(("accuracy", accuracy),), run_inputs=inputs_of_run)
    trained[name] = fit(task, sweep, 3, data=(data, data))
  chex.assert_trees_all_close(trained["drop-in"].history, trained["reference"].history,
                              rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(trained["drop-in"].state.params, trained["reference"].state.params,
                              rtol=1e-5, atol=1e-6)
  loss = trained["reference"].history["loss"]
  assert loss[-1].mean() < loss[0].mean()


@pytest.mark.parametrize("size", [1, 3])
def test_vmap_squeezing_size_one_axes_equals_jax_vmap(size):
  fn = lambda params, x, scale: {"out": jnp.tanh(x @ params) * scale, "scalar": 2.0}
  params = jax.random.normal(jax.random.key(0), (size, 4, 2))
  x = jax.random.normal(jax.random.key(1), (5, 4))
  ours = xla_cpu.engine.vmap(fn, (0, None, None))(params, x, 0.5)
  reference = jax.vmap(fn, (0, None, None))(params, x, 0.5)
  chex.assert_trees_all_equal_shapes_and_dtypes(ours, reference)
  chex.assert_trees_all_close(ours, reference, rtol=1e-6)


def _rnn_loss(recurrence, activation, unroll=1):
  """A loss of every state of one RNN layer, differentiable in all its parameters."""
  def loss(params, inputs, state_mask):
    states = recurrence(inputs, params["kernel"], params["bias"], params["recurrent_kernel"],
                        state_mask, ACTIVATIONS.get(activation, activation), unroll)
    return jnp.sum(jnp.sin(states)), states
  return loss


def _rnn_case(units=16, batch=3, time=7, features=2):
  keys = jax.random.split(jax.random.key(5), 5)
  params = {"kernel": jax.random.normal(keys[0], (features, units)),
            "bias": jax.random.normal(keys[1], (units,)) * 0.1,
            "recurrent_kernel": jax.random.normal(keys[2], (units, units)) / np.sqrt(units)}
  inputs = jax.random.bernoulli(keys[3], 0.5, (time, batch, features)).astype(jnp.float32)
  mask = jax.random.bernoulli(keys[4], 0.7, (batch, units)).astype(jnp.float32) / 0.7
  return params, inputs, mask


def test_activation_vjps_from_output_equal_jax_vjps_bit_for_bit():
  # Across both signs, saturation and signed zeros, eagerly and under jit.
  inputs = jnp.concatenate([jnp.linspace(-12.0, 12.0, 2001), jnp.array([0.0, -0.0, 1e-30])])
  grads = jnp.cos(jnp.arange(inputs.size, dtype=jnp.float32))
  for activation, vjp_from_output in xla_cpu.rnn.ACTIVATION_VJPS_FROM_OUTPUT.items():
    jax_vjp = lambda x, g: jax.vjp(activation, x)[1](g)[0]
    ours = lambda x, g: vjp_from_output(activation(x), g)
    chex.assert_trees_all_equal(ours(inputs, grads), jax_vjp(inputs, grads))
    chex.assert_trees_all_equal(jax.jit(ours)(inputs, grads), jax.jit(jax_vjp)(inputs, grads))


# The course's activations (their VJP from the stored states), and one recomputed in the loop.
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", jax.nn.gelu])
@pytest.mark.parametrize("masked", [False, True])
def test_rnn_states_equal_the_reference_in_values_and_gradients(activation, masked):
  params, inputs, mask = _rnn_case()
  state_mask = mask if masked else 1.0
  grad = lambda recurrence: jax.grad(_rnn_loss(recurrence, activation), has_aux=True)(
      params, inputs, state_mask)
  fast_grads, fast_states = grad(xla_cpu.rnn.rnn_states)
  reference_grads, reference_states = grad(rnn_states)
  chex.assert_trees_all_close(fast_states, reference_states, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(fast_grads, reference_grads, rtol=1e-5, atol=1e-5)
  chex.assert_trees_all_equal_shapes_and_dtypes(fast_grads, params)


@pytest.mark.parametrize("units, batch", [(16, 2), (40, 40)])  # multiply-adds, library matmuls
def test_rnn_states_under_vmap_and_unroll_equal_the_reference(units, batch):
  params, inputs, mask = _rnn_case(units=units, batch=batch)
  seeds = jax.tree.map(lambda leaf: jnp.stack([leaf, 0.5 * leaf]), params)

  def grads(recurrence, unroll):
    loss = _rnn_loss(recurrence, "relu", unroll)
    return jax.vmap(lambda p: jax.grad(loss, has_aux=True)(p, inputs, mask))(seeds)

  reference = grads(rnn_states, 1)
  for unroll in (1, True):
    chex.assert_trees_all_close(grads(xla_cpu.rnn.rnn_states, unroll), reference,
                                rtol=1e-5, atol=1e-5)


def test_rnn_fast_path_trains_as_the_reference(tmp_path):
  # The course's base RNN, quick: both paths' runs end at the same losses and accuracies.
  finals = {}
  for fast in (True, False):
    results = rabbitjax.run("rnn_binary_addition:quick", tmp_path / str(fast), log=None,
                            variant="base", fast=fast)
    finals[fast] = {metric: results.finals("base", metric)
                    for metric in ("loss", "val_loss", "val_bit_accuracy")}
  chex.assert_trees_all_close(finals[True], finals[False], rtol=1e-4, atol=1e-6)
