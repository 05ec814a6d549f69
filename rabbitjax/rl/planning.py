"""Exact answers for a known tabular MDP: value iteration and policy evaluation."""

import jax
import jax.numpy as jnp


def q_from_values(probabilities, rewards, values, gamma):
  """Q(s, a) = r(s, a) + gamma * sum_s' P(s' | s, a) V(s')."""
  return rewards + gamma * probabilities @ values


def value_iteration(probabilities, rewards, gamma: float, num_iterations: int = 2000):
  """V* and Q* by repeated Bellman optimality backups (terminal rows of P are zero).

  Returns:
    (values (S,), q_values (S, A)).
  """

  def backup(_, values):
    return jnp.max(q_from_values(probabilities, rewards, values, gamma), axis=-1)

  values = jax.lax.fori_loop(0, num_iterations, backup, jnp.zeros(probabilities.shape[0]))
  return values, q_from_values(probabilities, rewards, values, gamma)


def policy_values(probabilities, rewards, policy, gamma: float):
  """V^pi exactly, by solving (I - gamma P_pi) V = r_pi.

  Args:
    policy: (S, A) action probabilities per state (one-hot for a greedy policy).
  """
  transitions = jnp.einsum("sa,sat->st", policy, probabilities)
  expected_rewards = jnp.sum(policy * rewards, axis=-1)
  identity = jnp.eye(probabilities.shape[0])
  return jnp.linalg.solve(identity - gamma * transitions, expected_rewards)


def greedy_policy(q_values):
  """One-hot (S, A) policy taking the first arg-max action of each state."""
  return jax.nn.one_hot(jnp.argmax(q_values, axis=-1), q_values.shape[-1])
