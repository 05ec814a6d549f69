"""One config file per exercise; `get_config('quick')` gives a small smoke-test run."""


def with_mode(config, mode: str | None, quick: dict):
  """Applies a config file's mode: none (the full run), or 'quick' (`quick`'s overrides)."""
  if mode == "quick":
    config.update(quick)
  elif mode:
    raise ValueError(f"unknown config mode {mode!r}; use no mode or 'quick'")
  return config
