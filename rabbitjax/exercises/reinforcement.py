"""The reinforcement-learning exercises: tabular Q-learning, Q-learning with an MLP, REINFORCE."""

import jax.numpy as jnp
import ml_collections
import numpy as np

from rabbitjax import plots
from rabbitjax.exercises.base import Exercise, ExerciseSpec
from rabbitjax.rl import (
    CartPole,
    FrozenLake,
    greedy_policy,
    make_q_approx,
    make_q_learning,
    make_reinforce,
    policy_values,
    run_sweep,
    value_iteration,
)
from rabbitjax.rl.environments import FrozenLakeParams

# Where REINFORCE's policy is watched during training: pi(push right | s) should go to 1 when the
# pole falls right, to 0 when it falls left.
PROBE_STATES = {
    "upright": (0.0, 0.0, 0.0, 0.0),
    "falling_left": (0.0, 0.0, -0.1, -0.5),
    "falling_right": (0.0, 0.0, 0.1, 0.5),
}


def build_q_learning(config: ml_collections.ConfigDict, data_dir=None) -> Exercise:
  """Tabular Q-learning on FrozenLake 4x4, judged against value iteration on the same model."""
  del data_dir
  env = FrozenLake()
  env_params = FrozenLakeParams(slippery=config.slippery, max_steps=config.max_episode_steps)
  probabilities, rewards = env.transition_model(env_params)
  optimal_values, optimal_q = value_iteration(probabilities, rewards, config.gamma)
  train = make_q_learning(config, env, env_params)

  def describe(q_values):
    greedy_values = policy_values(probabilities, rewards, greedy_policy(q_values), config.gamma)
    gap = optimal_values[env.start] - greedy_values[env.start]
    return {
        "greedy_value": greedy_values[env.start],
        "optimal_value": optimal_values[env.start],
        "reaches_optimal": (gap <= config.optimal_tolerance * optimal_values[env.start]).astype(
            jnp.float32),
        "q_values": q_values,
    }

  def plot(result, workdir):
    terminal = np.asarray(env.terminal_cells)
    maps = [plots.ValueMap("value iteration: V*(s), optimal policy",
                           np.asarray(optimal_values), np.argmax(np.asarray(optimal_q), -1))]
    for point in range(result.sweep.num_points):
      q_values = result.outputs["q_values"][0, point]
      maps.append(plots.ValueMap(f"Q-learning, seed {result.sweep.seeds[0]}, "
                                 f"{plots.point_label(result.sweep, point)}",
                                 q_values.max(-1), q_values.argmax(-1)))
    path = workdir / f"{result.name}_values.png"
    plots.plot_value_maps(maps, env.layout, terminal,
                          f"{result.label}: V(s) = max_a Q(s, a) and greedy actions", path)
    return [path]

  return Exercise(train=lambda sweep: run_sweep(train, sweep), describe=describe, plot=plot)


def build_q_approx(config: ml_collections.ConfigDict, data_dir=None) -> Exercise:
  """Q-learning with an MLP Q-function on CartPole-v1."""
  del data_dir
  env = CartPole()
  train = make_q_approx(config, env, env.default_params)
  return Exercise(train=lambda sweep: run_sweep(train, sweep))


def build_reinforce(config: ml_collections.ConfigDict, data_dir=None) -> Exercise:
  """REINFORCE with a softmax MLP policy on CartPole-v1, with or without a learned baseline."""
  del data_dir
  env = CartPole()
  train = make_reinforce(config, env, env.default_params, PROBE_STATES)
  return Exercise(train=lambda sweep: run_sweep(train, sweep))


Q_LEARNING = ExerciseSpec(build=build_q_learning, sweepable=("epsilon", "learning_rate"))
Q_APPROX = ExerciseSpec(build=build_q_approx, sweepable=("epsilon", "learning_rate"))
REINFORCE = ExerciseSpec(build=build_reinforce, sweepable=("learning_rate",))
