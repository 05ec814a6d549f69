"""rabbitjax: the 'deep learning day 4' exercises as functional JAX/Flax."""

from rabbitjax import compiler as _compiler

# Before JAX starts its CPU backend: an old jaxlib computes with the known miscompiles' fix.
_compiler.apply_workaround()

__version__ = "0.1.0"


def __getattr__(name):
  # `rabbitjax.run` without importing JAX at `import rabbitjax`.
  if name in ("run", "Results", "load_config"):
    from rabbitjax import api

    return getattr(api, name)
  raise AttributeError(f"module 'rabbitjax' has no attribute {name!r}")
