"""Settings the linear and cubic regression configs share."""

import ml_collections

from experiments.configs import with_mode

NOISE_LEVELS = (0.0, 0.1, 0.3, 1.0, 3.0)


def regression_config(variants: dict, mode: str | None, **settings) -> ml_collections.ConfigDict:
  """A regression config over `variants` (name -> overrides), 8 seeds x NOISE_LEVELS.

  `settings` replace the shared defaults below (e.g. x_range, learning_rate, num_epochs).
  `mode='quick'` then shrinks it to a few-second smoke run (2 seeds, 2 noise levels, 5 epochs).
  """
  config = ml_collections.ConfigDict()
  config.exercise = "regression"
  config.variants = variants
  config.variant = "all"
  first = next(iter(variants.values()))
  config.label = first["label"]
  config.coefficients = first["coefficients"]

  config.seed = 0
  config.num_seeds = 8
  config.noise = 0.0
  config.sweep = ml_collections.ConfigDict({"noise": NOISE_LEVELS})
  config.num_train = 256
  config.num_test = 256
  config.x_range = (-1.0, 1.0)
  config.kernel_init = "glorot_uniform"  # Keras' Dense default; "lecun_normal" for Flax's

  config.optimizer = "sgd"
  config.learning_rate = 0.1
  config.batch_size = 16
  config.num_epochs = 30
  config.update(settings)
  return with_mode(config, mode, quick=dict(num_seeds=2, sweep={"noise": (0.0, 1.0)},
                                            num_epochs=5))
