"""A drop-in for `rabbitjax.models.rnn.rnn_states` whose time loops XLA:CPU compiles whole.

XLA:CPU runs each matmul as a library call of its own (Eigen, or a YNNPACK fusion), ~0.5 us
however small, and a vmapped sweep makes each one a loop over the seeds. A loop whose body holds
no library call is compiled as one native function instead (XLA's small-while-loop hoisting).
The course's RNN is small enough to need none: 2 input features, 16 units, 2 sequences a batch.
Here every matmul is multiply-adds of whole rows, in both time loops, with a hand-written gradient
of the same form (JAX's own would take them apart into reductions) that also sums the kernels'
gradients step by step inside the backward loop.

The same states and gradients to float32 rounding: the sums run in another order.
"""

import functools

import jax
import jax.numpy as jnp

# Above this many terms in a sum, a library call costs less than the multiply-adds written out.
MAX_TERMS = 32


def rows_matmul(x: jax.Array, w: jax.Array) -> jax.Array:
  """x (..., k) @ w (k, n) as k multiply-adds of w's rows."""
  if w.shape[0] > MAX_TERMS:
    return x @ w
  out = x[..., 0, None] * w[0]
  for i in range(1, w.shape[0]):
    out = out + x[..., i, None] * w[i]
  return out


def outer_sum(x: jax.Array, y: jax.Array) -> jax.Array:
  """x (b, k)^T @ y (b, n): the sum of b outer products, as multiply-adds."""
  if x.shape[0] > MAX_TERMS:
    return x.T @ y
  out = x[0, :, None] * y[0]
  for b in range(1, x.shape[0]):
    out = out + x[b, :, None] * y[b]
  return out


def _forward(inputs, kernel, bias, recurrent_kernel, state_mask, activation, unroll):
  def step(state, inputs_t):
    pre_activation = (rows_matmul(inputs_t, kernel) + bias
                      + rows_matmul(state * state_mask, recurrent_kernel))
    state = activation(pre_activation)
    return state, (pre_activation, state)

  initial = jnp.zeros((inputs.shape[1], kernel.shape[1]), inputs.dtype)
  _, (pre_activations, states) = jax.lax.scan(step, initial, inputs, unroll=unroll)
  return pre_activations, states


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def _rnn_states(inputs, kernel, bias, recurrent_kernel, state_mask, activation, unroll):
  return _forward(inputs, kernel, bias, recurrent_kernel, state_mask, activation, unroll)[1]


def _rnn_states_fwd(inputs, kernel, bias, recurrent_kernel, state_mask, activation, unroll):
  pre_activations, states = _forward(inputs, kernel, bias, recurrent_kernel, state_mask,
                                     activation, unroll)
  return states, (inputs, kernel, recurrent_kernel, state_mask, pre_activations, states)


def _rnn_states_bwd(activation, unroll, residuals, states_grad):
  inputs, kernel, recurrent_kernel, state_mask, pre_activations, states = residuals
  # The states as each step saw them: h_{-1} = 0, then every state but the last, masked.
  previous = jnp.concatenate([jnp.zeros_like(states[:1]), states[:-1]]) * state_mask
  transposed_kernel = recurrent_kernel.T

  def step(carry, xs):
    carried_grad, kernel_grad, bias_grad, recurrent_grad = carry
    pre_activation, state_grad, inputs_t, previous_t = xs
    _, activation_vjp = jax.vjp(activation, pre_activation)
    (pre_grad,) = activation_vjp(state_grad + carried_grad)
    carry = (rows_matmul(pre_grad, transposed_kernel) * state_mask,
             kernel_grad + outer_sum(inputs_t, pre_grad),
             bias_grad + jnp.sum(pre_grad, axis=0),
             recurrent_grad + outer_sum(previous_t, pre_grad))
    return carry, pre_grad

  initial = (jnp.zeros_like(states[0]), jnp.zeros_like(kernel), jnp.zeros(kernel.shape[1:],
             kernel.dtype), jnp.zeros_like(recurrent_kernel))
  (_, kernel_grad, bias_grad, recurrent_grad), pre_grads = jax.lax.scan(
      step, initial, (pre_activations, states_grad, inputs, previous), reverse=True,
      unroll=unroll)
  # Unused in training (the inputs are data); XLA removes it there.
  inputs_grad = pre_grads @ kernel.T
  return inputs_grad, kernel_grad, bias_grad, recurrent_grad, jnp.zeros_like(state_mask)


_rnn_states.defvjp(_rnn_states_fwd, _rnn_states_bwd)


def rnn_states(inputs, kernel, bias, recurrent_kernel, state_mask, activation, unroll=1):
  """`rabbitjax.models.rnn.rnn_states`: the same states, computed as described above."""
  return _rnn_states(inputs, kernel, bias, recurrent_kernel,
                     jnp.asarray(state_mask, inputs.dtype), activation, unroll)
