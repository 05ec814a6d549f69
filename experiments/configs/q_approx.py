"""Q-learning with function approximation (an MLP Q-network) on CartPole-v1, 16 seeds.

`pqn` solves CartPole-v1; `target_network` and `no_target_network` are the course's semi-gradient
Q-learning as written (one step per transition batch, no replay), kept as its contrast.
"""

import ml_collections

from experiments.configs import with_mode


def get_config(mode: str | None = None):
  config = ml_collections.ConfigDict()
  config.exercise = "q_approx"
  config.variants = {
      # Chosen on seeds 0-15 (BUILD_NOTES.md, "Q-networks on CartPole"); checked on 100-115.
      "pqn": {"label": "PQN: lambda-returns, LayerNorm Q-network, 32 envs, no replay",
              "algorithm": "pqn", "num_envs": 32, "total_steps": 8192, "num_logs": 16,
              "learning_rate": 1e-3, "epsilon": 0.2, "epsilon_decay_fraction": 0.2},
      "target_network": {"label": "course: semi-gradient Q-network, target network every 200 "
                                  "steps", "target_period": 200},
      "no_target_network": {"label": "course: semi-gradient Q-network, no target network",
                            "target_period": 1},
  }
  config.variant = "pqn,target_network,no_target_network"
  config.label = "course: semi-gradient Q-network, target network every 200 steps"
  config.algorithm = "semi_gradient"
  config.hidden = (64, 64)
  config.num_envs = 16
  config.gamma = 0.99
  config.optimizer = "adam"
  config.learning_rate = 3e-4
  config.epsilon = 0.05
  config.epsilon_decay_fraction = 0.3
  config.total_steps = 50_000
  config.num_logs = 50
  # Greedy episodes (epsilon 0) at each log entry, on evaluation keys of their own.
  config.eval_episodes = 8
  # Semi-gradient only.
  config.target_period = 200
  # PQN only (rabbitjax.rl.PQNParams).
  config.rollout_steps = 32
  config.epochs = 2
  config.minibatches = 4
  config.td_lambda = 0.95
  config.reward_scale = 0.1
  config.max_grad_norm = 10.0
  config.learning_rate_decay = True
  config.sweep = {}
  config.seed = 0
  config.num_seeds = 16
  return with_mode(config, mode, quick=dict(num_seeds=2, total_steps=400, num_logs=4, num_envs=4,
                                            eval_episodes=2, rollout_steps=20))
