"""No number changes: every config's quick mode against the figures recorded before a refactor.

The fixture (tests/fixtures/quick_numbers/<config>.json) holds every seed's final metrics and
per-run outputs at every point of every variant, and the machine it was made on. Floats from
XLA:CPU depend on the processor's vector units (and the CNNs' conv default on AMX), so the
comparison is exact on a matching machine and skipped, saying why, elsewhere. Rewrite the
fixture, on purpose only, with:

    RABBITJAX_WRITE_QUICK_NUMBERS=1 python -m pytest tests/test_quick_numbers.py -n 2
"""

import json
import os
import pathlib
import platform

import jax
import jaxlib
import pytest
import tensorflow_datasets as tfds

from rabbitjax.experiment import run_experiment

CONFIG_DIR = pathlib.Path(__file__).parent.parent / "experiments" / "configs"
FIXTURE_DIR = pathlib.Path(__file__).parent / "fixtures" / "quick_numbers"
CONFIGS = sorted(path.stem for path in CONFIG_DIR.glob("*.py")
                 if not path.stem.startswith("_") and not path.stem.endswith("_defaults"))
# The processor flags XLA:CPU's code generation (and our conv default) depend on.
_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def machine() -> dict:
  """What the figures depend on: jax, the backend and the processor."""
  try:
    cpuinfo = pathlib.Path("/proc/cpuinfo").read_text()
  except OSError:
    cpuinfo = ""
  model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                if line.startswith("model name")), platform.processor())
  flags = set(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                    if line.startswith("flags")), []))
  return {"jax": jax.__version__, "jaxlib": jaxlib.__version__,
          "backend": jax.default_backend(), "cpu": model,
          "cpu_flags": sorted(flag for flag in _FLAGS if flag in flags)}


def quick_numbers(name: str, tmp_path) -> dict:
  """variant -> point label -> metric -> per-seed final values, from summary.json."""
  module = __import__(f"experiments.configs.{name}", fromlist=["get_config"])
  with tfds.testing.mock_data(num_examples=64):
    run_experiment(module.get_config("quick"), tmp_path / "run", data_dir=str(tmp_path / "tfds"),
                   log=lambda line: None)
  summary = json.loads((tmp_path / "run" / "summary.json").read_text())
  return {variant: {point["label"]: {metric: stats["per_seed"]
                                     for metric, stats in point["final"].items()}
                    for point in record["points"]}
          for variant, record in summary["variants"].items()}


@pytest.mark.parametrize("name", CONFIGS)
def test_quick_run_numbers_are_unchanged(name, tmp_path, monkeypatch):
  monkeypatch.setenv("RABBITJAX_CACHE_DIR", str(tmp_path / "cache"))
  fixture = FIXTURE_DIR / f"{name}.json"
  if os.environ.get("RABBITJAX_WRITE_QUICK_NUMBERS"):
    fixture.write_text(json.dumps({"machine": machine(), "numbers": quick_numbers(name, tmp_path)},
                                  indent=1) + "\n")
    return
  recorded = json.loads(fixture.read_text())
  if recorded["machine"] != machine():
    pytest.skip(f"figures recorded on {recorded['machine']}, this is {machine()}")
  assert quick_numbers(name, tmp_path) == recorded["numbers"]
