"""REINFORCE (policy gradient, theta <- theta + eps * grad J) on CartPole-v1, 16 seeds."""

import ml_collections

from experiments.configs import with_mode


def get_config(mode: str | None = None):
  config = ml_collections.ConfigDict()
  config.exercise = "reinforce"
  config.variants = {
      "baseline": {"label": "REINFORCE with a learned value baseline", "baseline": True},
      "no_baseline": {"label": "REINFORCE without baseline", "baseline": False},
      # The course's rule as written: theta <- theta + eps * grad J, a fixed step eps.
      # 0.0003: of 0.0003 / 0.001 / 0.003 / 0.01, the one that learns (16 seeds, BUILD_NOTES.md).
      "sgd": {"label": "REINFORCE, plain SGD step, with baseline", "optimizer": "sgd",
              "learning_rate": 0.0003},
  }
  config.variant = "baseline,no_baseline,sgd"
  config.label = "REINFORCE with a learned value baseline"
  config.baseline = True
  config.hidden = (32,)
  config.gamma = 0.99
  config.optimizer = "adam"
  config.learning_rate = 0.005
  config.baseline_learning_rate = 0.01
  config.episodes_per_update = 10
  config.num_updates = 300
  config.num_logs = 30
  # Greedy episodes (the most probable action) at each log entry, on evaluation keys of their own.
  config.eval_episodes = 8
  config.sweep = {}
  config.seed = 0
  config.num_seeds = 16
  return with_mode(config, mode, quick=dict(num_seeds=2, num_updates=4, num_logs=4,
                                            episodes_per_update=2, eval_episodes=2))
