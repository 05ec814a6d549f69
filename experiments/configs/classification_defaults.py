"""Settings every classification config starts from; each file overrides what its exercise needs."""

import ml_collections

from experiments.configs import with_mode


def classification_config(variants: dict, order: str, mode: str | None, quick: dict,
                          **settings) -> ml_collections.ConfigDict:
  """A classification config: the first variant's settings are also the top-level defaults.

  Args:
    variants: name -> overrides (each with a "label").
    order: the comma-separated variant order to run (ConfigDict lists keys alphabetically).
    mode: None or "quick"; `quick` holds the smoke run's overrides.
    settings: this exercise's values for the fields below.
  """
  config = ml_collections.ConfigDict()
  config.exercise = "classification"
  config.variants = variants
  config.variant = order
  config.label = ""
  config.dataset = "mnist"
  config.one_hot = False
  config.max_examples = 0  # per split; 0: all of it
  config.split_seed = 0
  config.model = "mlp"
  config.conv_impl = "auto"  # im2col on CPU, lax.conv on GPU/TPU (rabbitjax/models/conv.py)
  config.hidden = ()
  config.outputs = 10
  config.activation = "relu"
  config.dropout = 0.0
  config.loss = "softmax_cross_entropy"
  config.optimizer = "adam"
  config.learning_rate = 0.001
  config.batch_size = 128
  config.eval_batch_size = 1000
  config.num_epochs = 10
  config.seed = 0
  config.num_seeds = 8
  config.sweep = {}
  config.update(settings)
  return with_mode(config, mode, quick)
