"""Configs: bad values are rejected in one line naming the value; the launcher exits 2."""

import subprocess
import sys

import pytest

from experiments.configs import cubic_regression, linear_regression, mnist_cnn
from rabbitjax.config import ConfigError, validate_config, variant_config, variant_names


@pytest.mark.parametrize("module", [linear_regression, cubic_regression])
@pytest.mark.parametrize("mode", [None, "quick"])
def test_shipped_configs_are_valid(module, mode):
  config = module.get_config(mode)
  validate_config(config)
  assert len(variant_names(config)) == 2


def test_variant_overrides_apply():
  config = cubic_regression.get_config()
  resolved = variant_config(config, "cubic_b")
  assert resolved.coefficients == (2.1, -1.2, -4.8, 2.0)
  assert resolved.variant == "cubic_b"
  config.variant = "cubic_b"
  assert variant_names(config) == ["cubic_b"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("exercise", "telepathy", "config.exercise='telepathy' is not a known exercise"),
        ("learning_rate", -0.1, "config.learning_rate=-0.1 is invalid: must be a finite number > 0"),
        ("learning_rate", float("nan"), "config.learning_rate=nan is invalid"),
        ("num_seeds", 0, "config.num_seeds=0 is invalid: must be an integer >= 1"),
        ("batch_size", -4, "config.batch_size=-4 is invalid"),
        ("noise", -1.0, "config.noise=-1.0 is invalid: must be a finite number >= 0"),
        ("optimizer", "adamw2", "config.optimizer='adamw2' is not known"),
        ("variant", "slope_9", "config.variant='slope_9' is not a variant of this config"),
    ],
)
def test_bad_values_are_rejected_by_name(field, value, message):
  config = linear_regression.get_config()
  config[field] = value
  with pytest.raises(ConfigError) as error:
    validate_config(config)
  assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "sweep, message",
    [
        ({"learning_rate": (0.1, -0.01)}, "config.sweep.learning_rate=-0.01 is invalid"),
        ({"noise": ()}, "config.sweep.noise=() is invalid: must be a non-empty list"),
        ({"dropout": (0.1,)}, "config.sweep.dropout cannot be swept in exercise 'regression'"),
    ],
)
def test_bad_sweeps_are_rejected_by_name(sweep, message):
  config = linear_regression.get_config()
  config.sweep = sweep
  with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
    validate_config(config)


def test_bad_variant_override_is_rejected():
  config = linear_regression.get_config()
  config.variants.slope_3.learning_rate = 0.0
  with pytest.raises(ConfigError, match=r"config.variants.slope_3.learning_rate=0.0 is invalid"):
    validate_config(config)


def test_micro_batch_size_that_does_not_divide_the_batch_is_rejected():
  config = mnist_cnn.get_config()
  config.microbatch_size = 48
  with pytest.raises(ConfigError, match=r"config.microbatch_size=48 is invalid: must divide "
                                        r"config.batch_size=128 \(variant 'cnn'\)"):
    validate_config(config)


def _launch(*flags, tmp_path):
  command = [sys.executable, "-m", "experiments.main",
             "--config=experiments/configs/linear_regression.py:quick",
             f"--workdir={tmp_path}", *flags]
  return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--config.learning_rate=-0.5", "config.learning_rate=-0.5 is invalid"),
        ("--config.exercise=telepathy", "config.exercise='telepathy' is not a known"),
        ("--config.no_such_field=3", "no_such_field"),
        ("--config.num_seeds=many", "--config.num_seeds=many"),
        ("--config=experiments/configs/no_such_exercise.py", "no_such_exercise.py"),
        ("--config=experiments/configs/linear_regression.py:slow", "unknown config mode 'slow'"),
    ],
)
def test_launcher_rejects_bad_input_with_one_line_and_status_2(flag, message, tmp_path):
  completed = _launch(flag, tmp_path=tmp_path)
  assert completed.returncode == 2, completed.stderr
  lines = [line for line in completed.stderr.splitlines() if line.strip()]
  assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
  assert not list(tmp_path.iterdir())  # Rejected before any work.
