"""One config file per exercise; `get_config('quick')` gives a small smoke-test run."""


def with_mode(config, mode: str | None, quick: dict):
  """Adds the run-management fields every config has, then applies a config file's mode: none
  (the full run), or 'quick' (`quick`'s overrides, which win over every variant's values)."""
  # Epochs between checkpoints; 0: automatic (saving costs at most 2% of the training time),
  # -1: never. Agents, whose whole run is one program, are not checkpointed.
  config.checkpoint_every = 0
  # A sweep that is expected to blow up somewhere (e.g. too large a learning rate) sets this;
  # otherwise a diverged run makes the launcher exit with status 3.
  config.divergence_expected = False
  # Devices along the seed axis x along each batch's example axis, e.g. '4x2'; 'auto': the
  # seeds take the devices their count divides, the data axis the rest (rabbitjax.distributed).
  config.mesh = "auto"
  # The XLA:CPU drop-ins (rabbitjax/xla_cpu/) on the CPU backend, as rabbitjax/tuning.py decides;
  # False: the reference path (models/ and train/ as they read) on every backend.
  config.fast = True
  # Epochs trained per program call (a scan over them; the same numbers); 0: rabbitjax/tuning.py
  # decides (a tenth of the epochs where an epoch is a few examples, else 1).
  config.epochs_per_dispatch = 0
  # Groups of seeds trained side by side, one thread each, by one program compiled for a group
  # (the same numbers); 0: rabbitjax/tuning.py decides (one per core where a run's whole loop
  # runs on one core: the agents, the RNN), 1: every seed in one program call.
  config.seed_groups = 0
  # TensorBoard event files in workdir/tensorboard/, one run per variant, seed and point.
  config.tensorboard = True
  if mode == "quick":
    config.update(quick)
    for overrides in (config.get("variants") or {}).values():
      for name in quick.keys() & overrides.keys():
        del overrides[name]
  elif mode:
    raise ValueError(f"unknown config mode {mode!r}; use no mode or 'quick'")
  return config
