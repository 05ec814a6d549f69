"""Tabular Q-learning on FrozenLake 4x4 with epsilon-greedy exploration, epsilon swept.

Exploration vs exploitation made visible: every variant trains 16 seeds at each epsilon of the
sweep in one compiled run (constant epsilon, or a linear decay from 1.0 down to it).
"""

import ml_collections

from experiments.configs import with_mode


def get_config(mode: str | None = None):
  config = ml_collections.ConfigDict()
  config.exercise = "q_learning"
  config.variants = {
      "slippery_constant": {"label": "slippery FrozenLake, constant epsilon",
                            "slippery": True, "epsilon_decay_fraction": 0.0},
      "slippery_decaying": {"label": "slippery FrozenLake, epsilon decaying from 1.0",
                            "slippery": True, "epsilon_decay_fraction": 0.5},
      "not_slippery_decaying": {"label": "non-slippery FrozenLake, epsilon decaying from 1.0",
                                "slippery": False, "epsilon_decay_fraction": 0.5},
  }
  config.variant = "slippery_constant,slippery_decaying,not_slippery_decaying"
  config.label = "slippery FrozenLake, constant epsilon"
  config.slippery = True
  config.max_episode_steps = 100
  config.gamma = 0.99
  config.learning_rate = 0.1
  config.epsilon = 0.1
  config.epsilon_decay_fraction = 0.0
  config.sweep = {"epsilon": (0.0, 0.01, 0.1, 0.3, 1.0)}
  config.total_steps = 200_000
  config.num_logs = 50
  # The greedy policy "reaches the optimum" when its exact value at the start state is within
  # this fraction of value iteration's.
  config.optimal_tolerance = 0.01
  config.seed = 0
  config.num_seeds = 16
  return with_mode(config, mode, quick=dict(num_seeds=2, total_steps=2_000, num_logs=4,
                                            sweep={"epsilon": (0.1, 1.0)}))
