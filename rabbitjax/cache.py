"""Where rabbitjax keeps what it can rebuild: decoded datasets and compiled XLA programs.

Both live under $RABBITJAX_CACHE_DIR (default ~/.cache/rabbitjax). The compilation cache is JAX's
persistent one: a rerun, or a variant whose program another one already compiled (the OR, AND
and XOR perceptrons are one program on different data), skips XLA's compilation.
"""

import os
import pathlib

CACHE_DIR_ENV = "RABBITJAX_CACHE_DIR"
COMPILATION_CACHE_ENV = "RABBITJAX_COMPILATION_CACHE"  # a directory, or "off"


def cache_dir() -> pathlib.Path:
  return pathlib.Path(os.environ.get(CACHE_DIR_ENV) or pathlib.Path.home() / ".cache" / "rabbitjax")


def enable_compilation_cache() -> str | None:
  """Turns on JAX's persistent compilation cache for every program, however quick to compile;
  returns its directory (None when off: $RABBITJAX_COMPILATION_CACHE=off, or JAX's own
  $JAX_COMPILATION_CACHE_DIR already chose one, which is then left as it is)."""
  import jax

  setting = os.environ.get(COMPILATION_CACHE_ENV, "")
  if setting == "off" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    return os.environ.get("JAX_COMPILATION_CACHE_DIR") if setting != "off" else None
  directory = setting or str(cache_dir() / "xla")
  jax.config.update("jax_compilation_cache_dir", directory)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return directory
