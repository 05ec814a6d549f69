"""Where a run's numbers came from: package versions, code, machine, command and times."""

import datetime
import importlib.metadata
import os
import pathlib
import subprocess
import sys

import jax
import jaxlib

from rabbitjax import compiler, tuning

_PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "tensorflow-datasets", "numpy")
# The CPU flags a default here (or XLA:CPU's code) depends on.
_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _git(*args) -> str | None:
  try:
    completed = subprocess.run(["git", *args], cwd=pathlib.Path(__file__).parent,
                               capture_output=True, text=True, timeout=10)
  except (OSError, subprocess.SubprocessError):
    return None
  return completed.stdout.strip() if completed.returncode == 0 else None


def machine() -> dict:
  """What float32 figures depend on: jax and jaxlib, the backend, the CPU and its vector units."""
  cpu_model, flags = tuning.cpu_facts()
  return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "backend": jax.default_backend(),
          "cpu": cpu_model, "cpu_flags": sorted(flag for flag in _CPU_FLAGS if flag in flags)}


def provenance(argv=None) -> dict:
  """The run's provenance, for summary.json (the start time; `finished` is set per commit)."""
  versions = {}
  for package in _PACKAGES:
    try:
      versions[package] = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
      versions[package] = None
  commit = _git("rev-parse", "HEAD")
  facts = machine()
  devices = jax.devices()
  return {
      "versions": versions,
      "git": {"commit": commit, "dirty": bool(_git("status", "--porcelain")) if commit else None},
      "python": sys.version.split()[0],
      "backend": jax.default_backend(),
      "devices": {"kind": devices[0].device_kind, "count": len(devices),
                  "processes": jax.process_count()},
      "cpu": {"model": facts["cpu"], "flags": facts["cpu_flags"]},
      "xla_flags": os.environ.get("XLA_FLAGS", ""),
      "compiler": compiler.check(),
      "argv": list(sys.argv if argv is None else argv),
      "started": now(),
  }
