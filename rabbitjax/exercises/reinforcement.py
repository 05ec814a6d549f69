"""The reinforcement-learning exercises: tabular Q-learning, Q-networks (semi-gradient, PQN),
REINFORCE."""

import jax.numpy as jnp
import ml_collections
import numpy as np

from rabbitjax import config as rules
from rabbitjax import figures, tuning
from rabbitjax.exercises.base import Exercise, Trainer, agent_trainer
from rabbitjax.rl import (
    CartPole,
    FrozenLake,
    PQNParams,
    QApproxParams,
    QLearningParams,
    ReinforceParams,
    greedy_policy,
    make_pqn,
    make_q_approx,
    make_q_learning,
    make_reinforce,
    policy_values,
    value_iteration,
)
from rabbitjax.rl.environments import FrozenLakeParams
from rabbitjax.train import OPTIMIZERS

# Where REINFORCE's policy is watched during training: pi(push right | s) should go to 1 when the
# pole falls right, to 0 when it falls left.
PUSH_RIGHT = 1
PROBES = {
    "p_right_upright": ((0.0, 0.0, 0.0, 0.0), PUSH_RIGHT),
    "p_right_falling_left": ((0.0, 0.0, -0.1, -0.5), PUSH_RIGHT),
    "p_right_falling_right": ((0.0, 0.0, 0.1, 0.5), PUSH_RIGHT),
}
# CartPole-v1 counts as solved by the mean return of 100 consecutive episodes.
RETURN_WINDOW = 100
# The Q-network learners: the course's semi-gradient Q-learning, and PQN.
Q_NETWORK_ALGORITHMS = ("semi_gradient", "pqn")

# The fields both Q-learners have.
Q_FIELDS = {
    "gamma": rules.PROBABILITY,
    "learning_rate": rules.POSITIVE,
    "epsilon": rules.PROBABILITY,
    "epsilon_decay_fraction": rules.PROBABILITY,
    "total_steps": rules.COUNT,
    "num_logs": rules.COUNT,
}


def check_chunks(config: ml_collections.ConfigDict) -> None:
  """The steps must split into num_logs equal logged chunks."""
  if config.total_steps % config.num_logs:
    raise rules.ConfigError(f"config.num_logs={config.num_logs!r} is invalid: must divide "
                            f"config.total_steps={config.total_steps}")


def check_q_network(config: ml_collections.ConfigDict) -> None:
  """check_chunks; for PQN, whole rollouts per chunk and equal minibatches."""
  check_chunks(config)
  if config.algorithm != "pqn":
    return
  if (config.total_steps // config.num_logs) % config.rollout_steps:
    raise rules.ConfigError(
        f"config.rollout_steps={config.rollout_steps!r} is invalid: must divide the "
        f"{config.total_steps // config.num_logs} steps of each logged chunk")
  if (config.num_envs * config.rollout_steps) % config.minibatches:
    raise rules.ConfigError(
        f"config.minibatches={config.minibatches!r} is invalid: must divide the "
        f"{config.num_envs * config.rollout_steps} transitions of a rollout")


def q_learning_params(config: ml_collections.ConfigDict) -> QLearningParams:
  return QLearningParams(
      gamma=config.gamma, total_steps=config.total_steps, num_logs=config.num_logs,
      epsilon_decay_steps=int(config.epsilon_decay_fraction * config.total_steps))


def agent_tuning(config: ml_collections.ConfigDict,
                 seeds_side_by_side: bool = True) -> tuning.Tuning:
  """The tuning of an agent, whose whole run is one scan (on one core)."""
  return tuning.decide(fast=config.fast, seeds_side_by_side=seeds_side_by_side,
                       seed_groups=config.seed_groups, num_seeds=config.num_seeds)


def make_q_learning_trainer(config: ml_collections.ConfigDict) -> Trainer:
  """Tabular Q-learning on FrozenLake 4x4, judged against value iteration on the same model."""
  env = FrozenLake()
  env_params = FrozenLakeParams(slippery=config.slippery, max_steps=config.max_episode_steps)
  probabilities, rewards = env.transition_model(env_params)
  optimal_values, optimal_q = value_iteration(probabilities, rewards, config.gamma)

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

  def plot(result):
    terminal = np.asarray(env.terminal_cells)
    maps = [figures.ValueMap("value iteration: V*(s), optimal policy",
                             np.asarray(optimal_values), np.argmax(np.asarray(optimal_q), -1))]
    for point in range(result.sweep.num_points):
      q_values = result.run.outputs["q_values"][0, point]
      maps.append(figures.ValueMap(f"Q-learning, seed {result.sweep.seeds[0]}, "
                                   f"{result.sweep.point_label(point)}",
                                   q_values.max(-1), q_values.argmax(-1)))
    return [figures.Figure("plot_value_maps", f"{result.name}_values.png", {
        "maps": maps, "layout": env.layout, "terminal": terminal,
        "title": f"{result.label}: V(s) = max_a Q(s, a) and greedy actions"})]

  train = make_q_learning(q_learning_params(config), env, env_params)
  return agent_trainer(train, config.num_logs, "chunk", agent_tuning(config),
                       describe=describe, plot=plot)


def make_q_approx_trainer(config: ml_collections.ConfigDict) -> Trainer:
  """Q-learning with an MLP Q-function on CartPole-v1: semi-gradient (the course's) or PQN."""
  env = CartPole()
  common = dict(**vars(q_learning_params(config)), hidden=tuple(config.hidden),
                num_envs=config.num_envs, optimizer=config.optimizer,
                eval_episodes=config.eval_episodes)
  if config.algorithm == "pqn":
    agent = make_pqn(PQNParams(
        **common, rollout_steps=config.rollout_steps, epochs=config.epochs,
        minibatches=config.minibatches, td_lambda=config.td_lambda,
        reward_scale=config.reward_scale, max_grad_norm=config.max_grad_norm,
        learning_rate_decay=config.learning_rate_decay), env, env.default_params)
  else:
    agent = make_q_approx(QApproxParams(**common, target_period=config.target_period), env,
                          env.default_params)
  # PQN's minibatch matmuls round otherwise for a group of its seeds than for all of them.
  return agent_trainer(agent, config.num_logs, "chunk",
                       agent_tuning(config, seeds_side_by_side=config.algorithm != "pqn"))


def check_reinforce(config: ml_collections.ConfigDict) -> None:
  if RETURN_WINDOW % config.episodes_per_update:
    raise rules.ConfigError(f"config.episodes_per_update={config.episodes_per_update!r} is "
                            f"invalid: must divide the {RETURN_WINDOW}-episode return window")
  if config.num_updates % config.num_logs:
    raise rules.ConfigError(f"config.num_logs={config.num_logs!r} is invalid: must divide "
                            f"config.num_updates={config.num_updates}")


def make_reinforce_trainer(config: ml_collections.ConfigDict) -> Trainer:
  """REINFORCE with a softmax MLP policy on CartPole-v1, with or without a learned baseline."""
  env = CartPole()
  params = ReinforceParams(
      hidden=tuple(config.hidden), gamma=config.gamma, optimizer=config.optimizer,
      baseline=config.baseline, baseline_learning_rate=config.baseline_learning_rate,
      episodes_per_update=config.episodes_per_update, num_updates=config.num_updates,
      num_logs=config.num_logs, return_window=RETURN_WINDOW,
      eval_episodes=config.eval_episodes, probes=PROBES)
  return agent_trainer(make_reinforce(params, env, env.default_params), config.num_logs,
                       "chunk", agent_tuning(config))


Q_LEARNING = Exercise("q_learning", rules.Schema(
    {**Q_FIELDS, "slippery": rules.BOOLEAN, "max_episode_steps": rules.COUNT,
     "optimal_tolerance": rules.NON_NEGATIVE},
    ("epsilon", "learning_rate"), check_chunks), make_q_learning_trainer)
EVAL_EPISODES = rules.integer(0, "0: no greedy evaluation")
Q_APPROX = Exercise("q_approx", rules.Schema(
    {**Q_FIELDS, "algorithm": rules.one_of(Q_NETWORK_ALGORITHMS), "hidden": rules.integers(1),
     "num_envs": rules.COUNT, "optimizer": rules.one_of(OPTIMIZERS),
     "eval_episodes": EVAL_EPISODES, "target_period": rules.COUNT,
     "rollout_steps": rules.COUNT, "epochs": rules.COUNT, "minibatches": rules.COUNT,
     "td_lambda": rules.PROBABILITY, "reward_scale": rules.POSITIVE,
     "max_grad_norm": rules.POSITIVE, "learning_rate_decay": rules.BOOLEAN},
    ("epsilon", "learning_rate"), check_q_network), make_q_approx_trainer)
REINFORCE = Exercise("reinforce", rules.Schema(
    {"baseline": rules.BOOLEAN, "hidden": rules.integers(1), "gamma": rules.PROBABILITY,
     "optimizer": rules.one_of(OPTIMIZERS), "learning_rate": rules.POSITIVE,
     "baseline_learning_rate": rules.POSITIVE, "episodes_per_update": rules.COUNT,
     "num_updates": rules.COUNT, "num_logs": rules.COUNT, "eval_episodes": EVAL_EPISODES},
    ("learning_rate",), check_reinforce), make_reinforce_trainer)
