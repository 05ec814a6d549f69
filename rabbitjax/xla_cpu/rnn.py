"""A drop-in for `rabbitjax.models.rnn.rnn_states` whose time loops XLA:CPU compiles whole.

XLA:CPU runs each matmul as a library call of its own (Eigen, or a YNNPACK fusion), ~0.5 us
however small, and a vmapped sweep makes each one a loop over the seeds. A loop whose body holds
no library call is compiled as one native function instead (XLA's small-while-loop hoisting).
The course's RNN is small enough to need none: 2 input features, 16 units, 2 sequences a batch.
Here every matmul is multiply-adds of whole rows, in both time loops, with a hand-written gradient
of the same form (JAX's own would take them apart into reductions). The backward loop carries
only the state's gradient: it takes the activation's derivative from the stored states, and the
kernels' gradients are summed after it, in the order a loop would add them.

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


# The activation's VJP from its output, by JAX's own rules (relu's select, tanh's 1 - y^2,
# sigmoid's y (1 - y)): the backward loop reads the states the forward loop stored instead of
# computing the activation again (the course's 8-seed sigmoid epoch 0.106 -> 0.073 s, tanh
# 0.107 -> 0.092 s). Other activations are computed again.
ACTIVATION_VJPS_FROM_OUTPUT = {
    jax.nn.relu: lambda output, grad: jnp.where(output > 0, grad, jnp.zeros_like(grad)),
    jnp.tanh: lambda output, grad: grad * jax.lax.one_minus_square(output),
    jax.nn.sigmoid: lambda output, grad: grad * (output * (1 - output)),
}


def _rnn_states_fwd(inputs, kernel, bias, recurrent_kernel, state_mask, activation, unroll):
  pre_activations, states = _forward(inputs, kernel, bias, recurrent_kernel, state_mask,
                                     activation, unroll)
  if activation in ACTIVATION_VJPS_FROM_OUTPUT:
    pre_activations = None
  return states, (inputs, kernel, recurrent_kernel, state_mask, pre_activations, states)


def sum_over_time(xs: jax.Array, ys: jax.Array) -> jax.Array:
  """The sum over t, last to first, of outer_sum(xs[t], ys[t]): (time, b, k), (time, b, n) ->
  (k, n), added in the order a backward loop accumulating it step by step would add it."""
  if xs.shape[0] * xs.shape[1] > MAX_TERMS:
    return jnp.einsum("tbk,tbn->kn", xs, ys)
  total = outer_sum(xs[-1], ys[-1])
  for t in reversed(range(xs.shape[0] - 1)):
    total = total + outer_sum(xs[t], ys[t])
  return total


def _rnn_states_bwd(activation, unroll, residuals, states_grad):
  inputs, kernel, recurrent_kernel, state_mask, pre_activations, states = residuals
  # The states as each step saw them: h_{-1} = 0, then every state but the last, masked.
  previous = jnp.concatenate([jnp.zeros_like(states[:1]), states[:-1]]) * state_mask
  transposed_kernel = recurrent_kernel.T

  vjp_from_output = ACTIVATION_VJPS_FROM_OUTPUT.get(activation)

  def step(carried_grad, xs):
    stored_t, state_grad = xs  # the step's state, or its pre-activation
    if vjp_from_output is None:
      (pre_grad,) = jax.vjp(activation, stored_t)[1](state_grad + carried_grad)
    else:
      pre_grad = vjp_from_output(stored_t, state_grad + carried_grad)
    return rows_matmul(pre_grad, transposed_kernel) * state_mask, pre_grad

  stored = pre_activations if vjp_from_output is None else states
  _, pre_grads = jax.lax.scan(step, jnp.zeros_like(states[0]), (stored, states_grad),
                              reverse=True, unroll=unroll)
  # The kernels' gradients after the loop, from all its steps' gradients at once: summed inside
  # it, each step read and wrote the whole (units, units) sum (8 seeds' epoch ~8% slower).
  ones = jnp.ones((*pre_grads.shape[:2], 1), pre_grads.dtype)
  # Unused in training (the inputs are data); XLA removes it there.
  inputs_grad = pre_grads @ kernel.T
  return (inputs_grad, sum_over_time(inputs, pre_grads), sum_over_time(ones, pre_grads)[0],
          sum_over_time(previous, pre_grads), jnp.zeros_like(state_mask))


_rnn_states.defvjp(_rnn_states_fwd, _rnn_states_bwd)


def rnn_states(inputs, kernel, bias, recurrent_kernel, state_mask, activation, unroll=1):
  """`rabbitjax.models.rnn.rnn_states`: the same states, computed as described above."""
  return _rnn_states(inputs, kernel, bias, recurrent_kernel,
                     jnp.asarray(state_mask, inputs.dtype), activation, unroll)
