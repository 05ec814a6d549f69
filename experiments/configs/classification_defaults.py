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
  config.model = "MLP"  # a class of rabbitjax/models/classifiers.py
  # Kernels as Keras draws them (the course's); "lecun_normal" for Flax's default.
  config.kernel_init = "glorot_uniform"
  # The convolutions' matmuls: "float32" (the course's) or "bfloat16" (operands; float32
  # accumulation), like Keras' mixed_bfloat16 policy. Faster on some CPUs only: measure.
  config.precision = "float32"
  # Machine-dependent speed choices; "auto"/0 lets rabbitjax/tuning.py decide, and the run logs
  # and records what it chose and why. conv_formulation: 'lax' (nn.Conv), or the fast path's
  # 'im2col' or 'winograd' (float32 only).
  config.conv_formulation = "auto"
  # Gradient accumulated over micro-batches of this size (the same gradient); 0: automatic.
  config.microbatch_size = 0
  # Seeds trained at a time (the rest wait their turn in the same program); 0: automatic.
  config.seeds_at_once = 0
  config.hidden = ()
  config.outputs = 10
  config.activation = "relu"
  config.dropout = 0.0
  config.loss = "softmax_cross_entropy"
  config.optimizer = "adam"
  config.learning_rate = 0.001
  config.batch_size = 128
  # Evaluation batch; 0: automatic.
  config.eval_batch_size = 0
  config.num_epochs = 10
  config.seed = 0
  config.num_seeds = 8
  config.sweep = {}
  config.update(settings)
  return with_mode(config, mode, quick)
