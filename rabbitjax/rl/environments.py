"""Environments as pure functions of explicit parameters and keys, in gymnax's API.

`reset(key, params) -> (obs, state)` and `step(key, state, action, params) -> Timestep`. Unlike
gymnax, a step reports `terminated` (the episode really ended: no value after it) apart from
`truncated` (the time limit cut it: the next state still has value), so that learners bootstrap
through time limits. (gymnax folds the limit into `done` and a zero discount.)
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


class Timestep(NamedTuple):
  """One transition: the true next observation and state, even when the episode ended."""

  obs: jax.Array
  state: Any
  reward: jax.Array
  terminated: jax.Array
  truncated: jax.Array


def step_and_reset(env, key, state, action, params):
  """Steps, then resets where the episode ended (gymnax's auto-reset, kept outside `step`).

  Returns:
    (timestep, obs, state): the transition as it happened, and the observation and state to act
    from next (a fresh episode's where the transition ended one).
  """
  step_key, reset_key = jax.random.split(key)
  timestep = env.step(step_key, state, action, params)
  done = timestep.terminated | timestep.truncated
  reset_obs, reset_state = env.reset(reset_key, params)
  next_state = jax.tree.map(lambda a, b: jnp.where(done, a, b), reset_state, timestep.state)
  return timestep, jnp.where(done, reset_obs, timestep.obs), next_state


# --- FrozenLake -----------------------------------------------------------------------------

FROZEN_LAKE_4X4 = ("SFFF", "FHFH", "FFFH", "HFFG")
LEFT, DOWN, RIGHT, UP = range(4)
_MOVES = np.array([(0, -1), (1, 0), (0, 1), (-1, 0)])  # (row, column) per action


@struct.dataclass
class FrozenLakeParams:
  """slippery: the move goes the intended way or either perpendicular way, 1/3 each."""

  slippery: bool = True
  max_steps: int = 100  # gymnasium's time limit for the 4x4 map


@struct.dataclass
class FrozenLakeState:
  position: jax.Array
  time: jax.Array


class FrozenLake:
  """gymnasium's FrozenLake: reach G from S over the ice without falling into a hole H.

  Observations are the cell index (row * columns + column); reward 1 on reaching the goal.
  """

  def __init__(self, layout=FROZEN_LAKE_4X4):
    self.layout = tuple(layout)
    self.rows, self.columns = len(layout), len(layout[0])
    cells = np.array([list(row) for row in layout])
    self.num_states = self.rows * self.columns
    self.num_actions = 4
    self.start = int(np.flatnonzero(cells.ravel() == "S")[0])
    self.goal_cells = jnp.asarray(cells.ravel() == "G")
    self.terminal_cells = jnp.asarray(np.isin(cells.ravel(), ["H", "G"]))

  default_params = FrozenLakeParams()

  def reset(self, key, params):
    del key, params  # Always starts at S.
    state = FrozenLakeState(position=jnp.int32(self.start), time=jnp.int32(0))
    return state.position, state

  def _move(self, position, direction):
    row, column = jnp.divmod(position, self.columns)
    delta = jnp.asarray(_MOVES)[direction]
    row = jnp.clip(row + delta[0], 0, self.rows - 1)
    column = jnp.clip(column + delta[1], 0, self.columns - 1)
    return (row * self.columns + column).astype(jnp.int32)

  def step(self, key, state, action, params):
    slip = jax.random.randint(key, (), -1, 2)  # -1, 0, +1: perpendicular, intended, perpendicular
    direction = jnp.where(params.slippery, (action + slip) % 4, action)
    position = self._move(state.position, direction)
    time = state.time + 1
    terminated = self.terminal_cells[position]
    return Timestep(
        obs=position,
        state=FrozenLakeState(position=position, time=time),
        reward=self.goal_cells[position].astype(jnp.float32),
        terminated=terminated,
        truncated=(time >= params.max_steps) & ~terminated,
    )

  def transition_model(self, params):
    """The MDP behind `step`: P[s, a, s'] and expected rewards r[s, a]; terminal rows are zero."""
    num_states, num_actions = self.num_states, self.num_actions
    probabilities = np.zeros((num_states, num_actions, num_states), np.float32)
    slips = (-1, 0, 1) if bool(params.slippery) else (0,)
    terminal = np.asarray(self.terminal_cells)
    for state in range(num_states):
      if terminal[state]:
        continue  # Absorbing with no reward: V = 0 there.
      for action in range(num_actions):
        for slip in slips:
          target = int(self._move(jnp.int32(state), (action + slip) % 4))
          probabilities[state, action, target] += 1.0 / len(slips)
    rewards = probabilities @ np.asarray(self.goal_cells, np.float32)
    return jnp.asarray(probabilities), jnp.asarray(rewards)


# --- CartPole-v1 ----------------------------------------------------------------------------

@struct.dataclass
class CartPoleParams:
  """gymnasium's CartPole-v1 constants (Euler integration, 500-step time limit)."""

  gravity: float = 9.8
  cart_mass: float = 1.0
  pole_mass: float = 0.1
  half_pole_length: float = 0.5
  force: float = 10.0
  tau: float = 0.02
  theta_limit: float = 12 * 2 * np.pi / 360
  x_limit: float = 2.4
  max_steps: int = 500


@struct.dataclass
class CartPoleState:
  physics: jax.Array  # (x, x_dot, theta, theta_dot)
  time: jax.Array


class CartPole:
  """Balance a pole on a cart by pushing left (0) or right (1); reward 1 per step."""

  num_actions = 2
  observation_size = 4
  solved_return = 475.0  # gymnasium's reward threshold for CartPole-v1
  default_params = CartPoleParams()

  def reset(self, key, params):
    del params
    physics = jax.random.uniform(key, (4,), jnp.float32, -0.05, 0.05)
    return physics, CartPoleState(physics=physics, time=jnp.int32(0))

  def step(self, key, state, action, params):
    del key  # Deterministic dynamics.
    x, x_dot, theta, theta_dot = state.physics
    force = jnp.where(action == 1, params.force, -params.force)
    total_mass = params.cart_mass + params.pole_mass
    pole_mass_length = params.pole_mass * params.half_pole_length
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    temp = (force + pole_mass_length * theta_dot**2 * sin) / total_mass
    theta_acc = (params.gravity * sin - cos * temp) / (
        params.half_pole_length * (4.0 / 3.0 - params.pole_mass * cos**2 / total_mass))
    x_acc = temp - pole_mass_length * theta_acc * cos / total_mass
    physics = jnp.stack([
        x + params.tau * x_dot,
        x_dot + params.tau * x_acc,
        theta + params.tau * theta_dot,
        theta_dot + params.tau * theta_acc,
    ])
    time = state.time + 1
    terminated = (jnp.abs(physics[0]) > params.x_limit) | (jnp.abs(physics[2]) > params.theta_limit)
    return Timestep(
        obs=physics,
        state=CartPoleState(physics=physics, time=time),
        reward=jnp.float32(1.0),  # gymnasium pays the terminating step too
        terminated=terminated,
        truncated=(time >= params.max_steps) & ~terminated,
    )
