"""Keras' SimpleRNN as a Linen module whose time loop is `lax.scan`, and the course's adder."""

from typing import Callable

import jax
import jax.numpy as jnp
from flax import linen as nn

from rabbitjax.models.activations import ACTIVATIONS


def sequence_dropout_mask(module: nn.Module, rate: float, shape, train: bool):
  """Keras' RNN dropout: one inverted-dropout mask per sequence, reused at every time step.

  Returns 1.0 (no mask) outside training or when `rate` is 0.
  """
  if not train or rate == 0.0:
    return 1.0
  keep = jax.random.bernoulli(module.make_rng("dropout"), 1.0 - rate, shape)
  return keep.astype(jnp.float32) / (1.0 - rate)


def rnn_states(inputs: jax.Array, kernel: jax.Array, bias: jax.Array,
               recurrent_kernel: jax.Array, state_mask, activation,
               unroll: int | bool = 1) -> jax.Array:
  """Every h_t = activation(x_t W + b + (h_{t-1} * state_mask) U) from h_{-1} = 0.

  inputs: time-major, (time, batch, features); state_mask: 1.0 or (batch, units). Returns the
  states, (time, batch, units). Differentiated by JAX's autodiff.
  """
  # The input projection of every step at once: one matmul outside the sequential loop.
  projected = inputs @ kernel + bias

  def step(state, projected_t):
    state = activation(projected_t + (state * state_mask) @ recurrent_kernel)
    return state, state

  initial = jnp.zeros(projected.shape[1:], projected.dtype)
  _, states = jax.lax.scan(step, initial, projected, unroll=unroll)
  return states


class SimpleRNN(nn.Module):
  """h_t = activation((x_t * m_x) W + (h_{t-1} * m_h) U + b), all time steps returned.

  Keras' SimpleRNN(return_sequences=True) with its initialisers (glorot-uniform W, orthogonal U,
  zero b) and its dropout semantics: `dropout` masks the inputs and `recurrent_dropout` the
  previous state, each with one mask per sequence for all time steps, in training only.
  `unroll` is `lax.scan`'s: it changes speed, never the numbers. `recurrence` computes the
  states: `rnn_states` or a drop-in of its signature (chosen by `rabbitjax.tuning`).
  """

  units: int
  activation: str = "tanh"
  dropout: float = 0.0
  recurrent_dropout: float = 0.0
  unroll: int | bool = 1
  recurrence: Callable[..., jax.Array] = rnn_states

  @nn.compact
  def __call__(self, inputs: jax.Array, *, train: bool = False) -> jax.Array:
    batch, _, features = inputs.shape
    kernel = self.param("kernel", nn.initializers.glorot_uniform(), (features, self.units))
    recurrent_kernel = self.param(
        "recurrent_kernel", nn.initializers.orthogonal(), (self.units, self.units))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.units,))
    activation = ACTIVATIONS[self.activation]
    input_mask = sequence_dropout_mask(self, self.dropout, (batch, 1, features), train)
    state_mask = sequence_dropout_mask(self, self.recurrent_dropout, (batch, self.units), train)
    states = self.recurrence(jnp.swapaxes(inputs * input_mask, 0, 1), kernel, bias,
                             recurrent_kernel, state_mask, activation, self.unroll)
    return jnp.swapaxes(states, 0, 1)  # (batch, time, units)


class BinaryAdder(nn.Module):
  """The course's adder: an RNN (the course's is SimpleRNN(16, relu)), then Dense(1, sigmoid)
  at every time step."""

  rnn: SimpleRNN

  @nn.compact
  def __call__(self, bits: jax.Array, *, train: bool = False) -> jax.Array:
    states = self.rnn(bits, train=train)
    readout = nn.Dense(1, kernel_init=nn.initializers.glorot_uniform(), name="readout")
    return nn.sigmoid(readout(states))  # (batch, time, 1): probability of each sum bit
