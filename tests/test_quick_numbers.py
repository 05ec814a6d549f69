"""No number changes: every config's quick mode against the figures recorded before a refactor.

The fixture (tests/fixtures/quick_numbers/<config>.json) holds every seed's final metrics and
per-run outputs at every point of every variant, and the machine it was made on
(`rabbitjax.provenance.machine`). On that machine the figures must be equal, bit for bit. On
another (other vector units, so float32 sums in another order) each must agree within
`RTOL`/`ATOL`, the spread measured on this project's quick runs with XLA:CPU held to other
instruction sets (BUILD_NOTES.md, "Tests"). Rewrite the fixtures, on purpose only, with:

    RABBITJAX_WRITE_QUICK_NUMBERS=1 python -m pytest tests/test_quick_numbers.py -n 2
"""

import json
import os
import pathlib

import numpy as np
import pytest
import tensorflow_datasets as tfds

from rabbitjax.experiment import run_experiment
from rabbitjax.provenance import machine

CONFIG_DIR = pathlib.Path(__file__).parent.parent / "experiments" / "configs"
FIXTURE_DIR = pathlib.Path(__file__).parent / "fixtures" / "quick_numbers"
CONFIGS = sorted(path.stem for path in CONFIG_DIR.glob("*.py")
                 if not path.stem.startswith("_") and not path.stem.endswith("_defaults"))
# Another machine's float32 rounding, carried through a quick run's few epochs.
RTOL, ATOL = 1e-3, 1e-4
# An accuracy counts outputs on one side of a threshold: that rounding flips the few that lie on
# it (the RNN's 128 units on an AMX Xeon: 1 sequence in 200, its losses within RTOL), where a
# real change moves an accuracy by far more.
ACCURACY_ATOL = 0.01


def quick_numbers(name: str, tmp_path, **overrides) -> dict:
  """variant -> point label -> metric -> per-seed final values, from summary.json."""
  module = __import__(f"experiments.configs.{name}", fromlist=["get_config"])
  config = module.get_config("quick")
  config.update(overrides)
  with tfds.testing.mock_data(num_examples=64):
    run_experiment(config, tmp_path / "run", data_dir=str(tmp_path / "tfds"),
                   log=lambda line: None)
  summary = json.loads((tmp_path / "run" / "summary.json").read_text())
  return {variant: {point["label"]: {metric: stats["per_seed"]
                                     for metric, stats in point["final"].items()}
                    for point in record["points"]}
          for variant, record in summary["variants"].items()}


def figures(numbers: dict, prefix: str = "") -> dict[str, np.ndarray]:
  """The nested figures flattened: 'variant / point / metric' -> array of per-seed values."""
  flat = {}
  for key, value in numbers.items():
    if isinstance(value, dict):
      flat.update(figures(value, f"{prefix}{key} / "))
    else:
      flat[prefix + key] = np.asarray(value, np.float64)
  return flat


def mismatches(actual: dict, recorded: dict) -> list[str]:
  """Each figure outside RTOL/ATOL of its recorded value (a missing one is a mismatch too)."""
  actual, recorded = figures(actual), figures(recorded)
  wrong = [f"{name}: missing" for name in recorded.keys() ^ actual.keys()]
  for name in recorded.keys() & actual.keys():
    atol = ACCURACY_ATOL if name.endswith("accuracy") else ATOL
    if not np.allclose(actual[name], recorded[name], rtol=RTOL, atol=atol, equal_nan=True):
      wrong.append(f"{name}: {actual[name].tolist()} against {recorded[name].tolist()}")
  return sorted(wrong)


@pytest.mark.parametrize("name", CONFIGS)
def test_quick_run_numbers_are_unchanged(name, tmp_path, monkeypatch):
  monkeypatch.setenv("RABBITJAX_CACHE_DIR", str(tmp_path / "cache"))
  fixture = FIXTURE_DIR / f"{name}.json"
  numbers = quick_numbers(name, tmp_path)
  if os.environ.get("RABBITJAX_WRITE_QUICK_NUMBERS"):
    fixture.write_text(json.dumps({"machine": machine(), "numbers": numbers}, indent=1) + "\n")
    return
  recorded = json.loads(fixture.read_text())
  if recorded["machine"] == machine() and not os.environ.get("XLA_FLAGS"):
    assert numbers == recorded["numbers"]
  else:
    assert not mismatches(numbers, recorded["numbers"]), (
        f"recorded on {recorded['machine']}, this is {machine()}")


# One config per exercise (the classifiers' with dropout, where the layers differ), and the CNNs;
# of the RNN's the variants with dropout and the base, of an agent's one variant (the others'
# programs differ from theirs by settings only).
REFERENCE_CONFIGS = {"linear_regression": None, "mnist_dropout_mlp": None,
                     "rnn_binary_addition": "base,input_dropout,recurrent_dropout",
                     "q_learning": "slippery_decaying", "q_approx": "pqn",
                     "reinforce": "baseline"}


@pytest.mark.parametrize("name", REFERENCE_CONFIGS)
def test_the_reference_path_gives_the_fast_paths_numbers(name, tmp_path, monkeypatch):
  # With config.fast=False: jax.vmap over size-1 axes and sum(values * weights), no drop-ins.
  monkeypatch.setenv("RABBITJAX_CACHE_DIR", str(tmp_path / "cache"))
  recorded = json.loads((FIXTURE_DIR / f"{name}.json").read_text())["numbers"]
  variant = REFERENCE_CONFIGS[name]
  numbers = quick_numbers(name, tmp_path, fast=False, **({"variant": variant} if variant else {}))
  summary = json.loads((tmp_path / "run" / "summary.json").read_text())
  assert not any(variant["tuning"]["fast_path"] for variant in summary["variants"].values())
  assert not mismatches(numbers, {name: recorded[name] for name in numbers})


@pytest.mark.parametrize("name", ["mnist_cnn", "cifar10_cnn"])
def test_the_reference_path_trains_the_cnns(name, tmp_path, monkeypatch):
  # nn.Conv, nn.Dropout and nn.max_pool: other dropout masks, so other numbers; XLA:CPU's
  # lax.conv is slow in a scan, hence a smaller run than the quick mode's.
  monkeypatch.setenv("RABBITJAX_CACHE_DIR", str(tmp_path / "cache"))
  numbers = quick_numbers(name, tmp_path, fast=False, num_seeds=1, max_examples=64,
                          batch_size=32)
  summary = json.loads((tmp_path / "run" / "summary.json").read_text())
  (variant,) = summary["variants"].values()
  assert variant["tuning"]["fast_path"] is False
  assert variant["tuning"]["conv_formulation"] == "lax"
  assert all(np.isfinite(values).all() for values in figures(numbers).values())
