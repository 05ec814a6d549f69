"""Shared test settings: small, CPU-only and quick to compile."""

import os

# Tests never read the real datasets; a stray TFDS_DATA_DIR must not leak into them.
os.environ.pop("TFDS_DATA_DIR", None)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

# The test models are tiny: compiling dominates, so skip most of XLA's optimisation passes.
jax.config.update("jax_disable_most_optimizations", True)
