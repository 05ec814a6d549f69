"""Q-learning with function approximation (an MLP Q-network) on CartPole-v1, 16 seeds."""

import ml_collections

from experiments.configs import with_mode


def get_config(mode: str | None = None):
  config = ml_collections.ConfigDict()
  config.exercise = "q_approx"
  config.variants = {
      "target_network": {"label": "MLP Q-network, target network every 200 steps",
                         "target_period": 200},
      "no_target_network": {"label": "MLP Q-network, no target network", "target_period": 1},
  }
  config.variant = "target_network,no_target_network"
  config.label = "MLP Q-network, target network every 200 steps"
  config.hidden = (64, 64)
  config.num_envs = 16
  config.gamma = 0.99
  config.optimizer = "adam"
  config.learning_rate = 3e-4
  config.epsilon = 0.05
  config.epsilon_decay_fraction = 0.3
  config.target_period = 200
  config.total_steps = 50_000
  config.num_logs = 50
  config.sweep = {}
  config.seed = 0
  config.num_seeds = 16
  return with_mode(config, mode, quick=dict(num_seeds=2, total_steps=400, num_logs=4, num_envs=4))
