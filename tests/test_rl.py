"""RL: the Bellman update, termination vs truncation, planning, environments vs gymnasium, agents."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import reinforce as reinforce_config
from rabbitjax import tuning, xla_cpu
from rabbitjax.config import variant_config
from rabbitjax.exercises import reinforcement
from rabbitjax.rl import (
    CartPole,
    FrozenLake,
    PQNParams,
    QLearningParams,
    epsilon_greedy,
    greedy_return,
    greedy_policy,
    lambda_returns,
    make_pqn,
    make_q_learning,
    policy_values,
    q_learning_update,
    step_and_reset,
    value_iteration,
)
from rabbitjax.rl.agents import discounted_returns
from rabbitjax.rl.environments import CartPoleState, FrozenLakeParams, LEFT, RIGHT
from rabbitjax.train import make_sweep, train_agents

Q = jnp.array([[0.0, 1.0], [2.0, 3.0]])


def test_q_learning_update_is_the_bellman_update():
  updated = q_learning_update(Q, obs=0, action=1, reward=0.5, next_obs=1, terminated=False,
                              learning_rate=0.5, gamma=0.9)
  # target = 0.5 + 0.9 * max(2, 3) = 3.2; Q(0, 1) = 1 + 0.5 * (3.2 - 1) = 2.1
  np.testing.assert_allclose(updated, [[0.0, 2.1], [2.0, 3.0]], rtol=1e-6)


def test_terminated_transitions_do_not_bootstrap():
  updated = q_learning_update(Q, obs=0, action=1, reward=0.5, next_obs=1, terminated=True,
                              learning_rate=0.5, gamma=0.9)
  np.testing.assert_allclose(updated[0, 1], 1.0 + 0.5 * (0.5 - 1.0))


def test_time_limits_truncate_and_the_agent_bootstraps_from_the_true_next_state():
  env = FrozenLake()
  params = FrozenLakeParams(slippery=False, max_steps=1)
  _, state = env.reset(jax.random.key(0), params)
  timestep, obs, _ = step_and_reset(env, jax.random.key(1), state, RIGHT, params)
  assert bool(timestep.truncated) and not bool(timestep.terminated)
  assert int(timestep.obs) == 1 and int(obs) == env.start  # next state kept; play resumes at S
  # The update of make_q_learning receives timestep.obs and terminated=False: it bootstraps.
  q_values = jnp.zeros((16, 4)).at[1].set(2.0)
  updated = q_learning_update(q_values, 0, RIGHT, timestep.reward, timestep.obs,
                              timestep.terminated, 1.0, 0.9)
  np.testing.assert_allclose(updated[0, RIGHT], 0.9 * 2.0)


def test_cartpole_time_limit_is_truncation_not_termination():
  env = CartPole()
  state = CartPoleState(physics=jnp.zeros(4), time=jnp.int32(499))
  timestep = env.step(jax.random.key(0), state, 1, env.default_params)
  assert bool(timestep.truncated) and not bool(timestep.terminated)
  falling = CartPoleState(physics=jnp.array([0.0, 0.0, 0.25, 0.0]), time=jnp.int32(10))
  timestep = env.step(jax.random.key(0), falling, 1, env.default_params)
  assert bool(timestep.terminated) and not bool(timestep.truncated)


def test_value_iteration_on_two_state_mdps_with_known_answers():
  gamma = 0.9
  # State 0: stay (reward 1 forever: 1 / (1 - gamma) = 10) or leave to terminal state 1 (reward 5).
  probabilities = jnp.zeros((2, 2, 2)).at[0, 0, 0].set(1.0).at[0, 1, 1].set(1.0)
  rewards = jnp.array([[1.0, 5.0], [0.0, 0.0]])
  values, q_values = value_iteration(probabilities, rewards, gamma)
  np.testing.assert_allclose(values, [10.0, 0.0], rtol=1e-4)
  np.testing.assert_allclose(q_values[0], [10.0, 5.0], rtol=1e-4)
  # Two states taking turns, reward 1 on leaving state 1: V1 = 1 / (1 - g^2), V0 = g V1.
  probabilities = jnp.array([[[0.0, 1.0]], [[1.0, 0.0]]])
  rewards = jnp.array([[0.0], [1.0]])
  values, _ = value_iteration(probabilities, rewards, gamma)
  np.testing.assert_allclose(values, [gamma / (1 - gamma**2), 1 / (1 - gamma**2)], rtol=1e-4)
  np.testing.assert_allclose(policy_values(probabilities, rewards, jnp.ones((2, 1)), gamma), values,
                             rtol=1e-4)


def test_greedy_policy_of_value_iteration_is_optimal_on_frozen_lake():
  env = FrozenLake()
  probabilities, rewards = env.transition_model(env.default_params)
  values, q_values = value_iteration(probabilities, rewards, 0.99)
  greedy_values = policy_values(probabilities, rewards, greedy_policy(q_values), 0.99)
  np.testing.assert_allclose(greedy_values, values, atol=1e-4)
  np.testing.assert_allclose(values[env.start], 0.542, atol=1e-3)  # The known slippery optimum.


gymnasium = pytest.importorskip("gymnasium")


def test_cartpole_step_matches_gymnasium():
  env, oracle = CartPole(), gymnasium.make("CartPole-v1").unwrapped
  rng = np.random.default_rng(0)
  for _ in range(40):
    physics, action = rng.uniform(-0.2, 0.2, 4), int(rng.integers(2))
    oracle.reset(seed=0)
    oracle.state = physics.copy()
    expected, reward, terminated, _, _ = oracle.step(action)
    timestep = env.step(jax.random.key(0), CartPoleState(jnp.asarray(physics, jnp.float32),
                                                         jnp.int32(0)), action, env.default_params)
    np.testing.assert_allclose(timestep.obs, expected, atol=1e-6)
    assert float(timestep.reward) == reward and bool(timestep.terminated) == terminated


@pytest.mark.parametrize("slippery", [True, False])
def test_frozen_lake_model_matches_gymnasium(slippery):
  env = FrozenLake()
  oracle = gymnasium.make("FrozenLake-v1", is_slippery=slippery).unwrapped
  expected = np.zeros((16, 4, 16))
  for state in range(16):
    for action in range(4):
      for probability, next_state, _, _ in oracle.P[state][action]:
        if not env.terminal_cells[state]:
          expected[state, action, next_state] += probability
  probabilities, _ = env.transition_model(FrozenLakeParams(slippery=slippery))
  np.testing.assert_allclose(probabilities, expected, atol=1e-6)


def test_frozen_lake_slips_as_the_model_says():
  env, params = FrozenLake(), FrozenLakeParams(slippery=True)
  _, state = env.reset(jax.random.key(0), params)
  keys = jax.random.split(jax.random.key(1), 3000)
  landed = jax.vmap(lambda key: env.step(key, state, LEFT, params).obs)(keys)
  probabilities, _ = env.transition_model(params)
  frequencies = np.bincount(np.asarray(landed), minlength=16) / 3000
  np.testing.assert_allclose(frequencies, probabilities[env.start, LEFT], atol=0.03)


def test_epsilon_greedy_exploits_at_zero_and_explores_at_one():
  keys = jax.random.split(jax.random.key(0), 4000)
  q_values = jnp.array([0.0, 5.0, 1.0, 2.0])
  greedy = jax.vmap(epsilon_greedy, (0, None, None))(keys, q_values, 0.0)
  assert np.all(np.asarray(greedy) == 1)
  uniform = jax.vmap(epsilon_greedy, (0, None, None))(keys, q_values, 1.0)
  np.testing.assert_allclose(np.bincount(np.asarray(uniform), minlength=4) / 4000, 0.25, atol=0.03)


def test_discounted_returns():
  rewards = jnp.ones((4, 1))
  alive = jnp.array([[True], [True], [True], [False]])
  np.testing.assert_allclose(discounted_returns(rewards, alive, 0.5)[:, 0], [1.75, 1.5, 1.0, 0.0])


def _lambda_returns_by_definition(rewards, next_values, terminated, done, gamma, td_lambda):
  """G_t as a weighted sum of n-step returns, looped forward from each t (the definition):
  (1 - lambda) * sum_n lambda^(n-1) G_t^(n), the last n-step return taking the rest of the weight
  where the rollout or the episode ends."""
  steps, envs = rewards.shape
  returns = np.zeros((steps, envs))
  for env in range(envs):
    for t in range(steps):
      total, weight_left, discounted_reward, discount = 0.0, 1.0, 0.0, 1.0
      for k in range(t, steps):
        discounted_reward += discount * rewards[k, env]
        discount *= gamma
        bootstrap = 0.0 if terminated[k, env] else next_values[k, env]
        n_step = discounted_reward + discount * bootstrap
        if done[k, env] or k == steps - 1:
          total += weight_left * n_step  # the episode or the rollout ends: all remaining weight
          break
        total += weight_left * (1 - td_lambda) * n_step
        weight_left *= td_lambda
      returns[t, env] = total
  return returns


@pytest.mark.parametrize("td_lambda", [0.0, 0.65, 1.0])
def test_lambda_returns_against_the_definition(td_lambda):
  rng = np.random.default_rng(0)
  rewards = rng.normal(size=(7, 3)).astype(np.float32)
  next_values = rng.normal(size=(7, 3)).astype(np.float32)
  terminated = np.zeros((7, 3), bool)
  truncated = np.zeros((7, 3), bool)
  terminated[2, 0] = terminated[5, 1] = True  # episodes that end: no value after them
  truncated[3, 2] = True  # a time limit: the true next state keeps its value
  done = terminated | truncated
  expected = _lambda_returns_by_definition(rewards, next_values, terminated, done, 0.9, td_lambda)
  actual = lambda_returns(rewards, next_values, terminated, done, 0.9, td_lambda)
  chex.assert_shape(actual, (7, 3))
  np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
  if td_lambda == 0.0:  # one-step Q-learning targets
    np.testing.assert_allclose(actual, rewards + 0.9 * np.where(terminated, 0, next_values),
                               rtol=1e-6)


def test_greedy_return_plays_the_argmax_of_the_scores():
  env = CartPole()
  always_right = lambda obs: jnp.stack([jnp.zeros(len(obs)), jnp.ones(len(obs))], -1)
  mean_return = greedy_return(env, env.default_params, always_right, jax.random.key(0), 4)
  # Pushing right every step topples the pole within a few dozen steps.
  assert 5 <= float(mean_return) < 60, mean_return


def _tiny_pqn(eval_episodes):
  params = PQNParams(gamma=0.99, total_steps=1_536, num_logs=6, epsilon_decay_steps=300,
                     hidden=(32, 32), num_envs=8, eval_episodes=eval_episodes, rollout_steps=16,
                     epochs=2, minibatches=2)
  return make_pqn(params, CartPole(), CartPole.default_params)


def test_a_tiny_pqn_run_raises_its_greedy_return():
  # Against the same network never trained (learning rate 0: same seed, so the same initial
  # weights and evaluation episodes). Early greedy returns of a learning run are too noisy.
  sweep = make_sweep([0, 1], {"epsilon": 0.2, "learning_rate": 3e-3},
                     {"learning_rate": (0.0, 3e-3)})
  greedy = train_agents(_tiny_pqn(eval_episodes=4), sweep).history["greedy_return"]
  chex.assert_shape(greedy, (6, 2, 2))  # (entries, seeds, points)
  untrained, trained = greedy[-1, :, 0], greedy[-1, :, 1]
  assert np.all(trained > np.maximum(2 * untrained, 100)), greedy[-1]


def test_evaluation_keys_leave_training_unchanged():
  # The training's numbers do not depend on how many evaluation episodes are played.
  params = PQNParams(gamma=0.99, total_steps=64, num_logs=2, epsilon_decay_steps=32,
                     hidden=(8,), num_envs=4, rollout_steps=16, epochs=1, minibatches=2)
  sweep = make_sweep([3], {"epsilon": 0.2, "learning_rate": 3e-3})
  runs = {episodes: train_agents(make_pqn(dataclasses.replace(params, eval_episodes=episodes),
                                          CartPole(), CartPole.default_params), sweep)
          for episodes in (0, 3)}
  assert "greedy_return" not in runs[0].history
  chex.assert_shape(runs[3].history["greedy_return"], (2, 1, 1))
  chex.assert_trees_all_equal(runs[3].state, runs[0].state)
  chex.assert_trees_all_equal({k: v for k, v in runs[3].history.items()
                               if k != "greedy_return"}, runs[0].history)


def _small_q_learning():
  params = QLearningParams(gamma=0.99, total_steps=4_000, num_logs=4, epsilon_decay_steps=2_000)
  return make_q_learning(params, FrozenLake(), FrozenLakeParams(slippery=True))


def test_same_key_same_training_curves_and_vmapped_seeds_equal_separate_runs():
  train = _small_q_learning()
  together = train_agents(train, make_sweep([3, 4], {"epsilon": 0.1, "learning_rate": 0.1}))
  again = train_agents(train, make_sweep([3, 4], {"epsilon": 0.1, "learning_rate": 0.1}))
  alone = train_agents(train, make_sweep([4], {"epsilon": 0.1, "learning_rate": 0.1}))
  chex.assert_trees_all_equal(together.history, again.history)
  chex.assert_trees_all_close({k: v[:, 1] for k, v in together.history.items()},
                              {k: v[:, 0] for k, v in alone.history.items()}, rtol=1e-5)
  assert not np.allclose(together.history["episodes"][:, 0], together.history["episodes"][:, 1])


@pytest.mark.parametrize("seeds", [[0, 1, 2, 3], [5, 6]])
@pytest.mark.parametrize("vmap", [jax.vmap, xla_cpu.engine.vmap], ids=["reference", "fast"])
def test_seed_groups_side_by_side_compute_what_one_call_does(seeds, vmap):
  # Two seeds: groups of one seed, where the fast path's vmap squeezes the seed axis away.
  params = PQNParams(gamma=0.99, total_steps=64, num_logs=2, epsilon_decay_steps=32,
                     hidden=(8,), num_envs=4, rollout_steps=16, epochs=1, minibatches=2)
  train = make_pqn(params, CartPole(), CartPole.default_params)
  sweep = make_sweep(seeds, {"epsilon": 0.2, "learning_rate": 3e-3},
                     {"learning_rate": (1e-3, 3e-3)})
  together, side_by_side = (train_agents(train, sweep, vmap=vmap, seed_groups=groups)
                            for groups in (1, 2))
  chex.assert_shape(side_by_side.history["episode_return"], (2, len(seeds), 2))
  # A group vmaps fewer seeds, and XLA:CPU may then compile a matmul another way: float32
  # rounding (bit-equal for the course's agents, BUILD_NOTES.md).
  chex.assert_trees_all_close(side_by_side.state, together.state, rtol=1e-5,
                              atol=1e-7)
  chex.assert_trees_all_close(side_by_side.history, together.history, rtol=1e-5, atol=1e-6)


def test_tabular_seed_groups_side_by_side_are_bit_equal_to_one_call():
  sweep = make_sweep([0, 1, 2, 3], {"epsilon": 0.1, "learning_rate": 0.1},
                     {"learning_rate": (0.05, 0.1)})
  train = _small_q_learning()
  together, side_by_side = (train_agents(train, sweep, seed_groups=groups) for groups in (1, 2))
  chex.assert_trees_all_equal(side_by_side.state, together.state)
  chex.assert_trees_all_equal(side_by_side.history, together.history)
  with pytest.raises(ValueError, match="seed_groups=3 does not divide"):
    train_agents(train, sweep, seed_groups=3)


def test_agents_train_one_group_of_seeds_per_core_on_cpu():
  decide = lambda backend="cpu", seeds_side_by_side=True, **kwargs: tuning.decide(
      backend=backend, cpu=("test", frozenset()), seeds_side_by_side=seeds_side_by_side, **kwargs)
  chosen = decide(num_seeds=16, cores=2)
  assert chosen.seed_groups == 2 and "seed groups side by side 2" in chosen.line()
  assert decide(num_seeds=6, cores=4).seed_groups == 3  # the most groups the cores hold
  assert decide(num_seeds=7, cores=2).seed_groups is None
  assert decide(num_seeds=16, cores=1).seed_groups is None
  assert decide(num_seeds=16, cores=2, seed_groups=1).seed_groups is None
  assert decide(num_seeds=16, cores=2, seed_groups=4).seed_groups == 4  # the config's
  assert decide(backend="gpu", num_seeds=16, cores=2).seed_groups is None
  assert decide(seeds_side_by_side=False, num_seeds=16, cores=2).seed_groups is None  # an MLP
  config = variant_config(reinforce_config.get_config(), "baseline")
  assert reinforcement.agent_tuning(config).seed_groups == (
      None if jax.default_backend() != "cpu" else tuning.decide(
          seeds_side_by_side=True, num_seeds=16).seed_groups)


def test_reinforce_learns_on_a_small_budget():
  config = variant_config(reinforce_config.get_config(), "baseline")
  config.update(num_updates=40, num_logs=8, num_seeds=1, eval_episodes=2)
  exercise = reinforcement.REINFORCE
  history = exercise.build(config).train(exercise.sweep(config)).history
  chex.assert_shape(history["episode_return"], (8, 1, 1))
  returns = history["episode_return"][:, 0, 0]
  assert returns[-2:].mean() > 2 * returns[:2].mean(), returns
  greedy = history["greedy_return"][:, 0, 0]  # the most probable action, on its own keys
  assert greedy[-1] > 2 * greedy[0], greedy
  # The policy learns to push towards the side the pole falls to.
  assert history["p_right_falling_right"][-1, 0, 0] > history["p_right_falling_left"][-1, 0, 0]
