"""Configs: bad values are rejected in one line naming the value; the launcher exits 2."""

import importlib
import pathlib
import subprocess
import sys

import pytest

from experiments.configs import (
    cubic_regression,
    iris,
    linear_regression,
    mnist_cnn,
    perceptron,
    q_approx,
    q_learning,
    reinforce,
    rnn_binary_addition,
)
from rabbitjax.config import ConfigError, variant_config, variant_names
from rabbitjax.exercises import exercise_for as validate_config

CONFIGS = sorted(path.stem for path in (pathlib.Path(__file__).parent.parent / "experiments" /
                                        "configs").glob("*.py")
                 if not path.stem.startswith("_") and not path.stem.endswith("_defaults"))


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("mode", [None, "quick"])
def test_shipped_configs_are_valid(name, mode):
  config = importlib.import_module(f"experiments.configs.{name}").get_config(mode)
  assert validate_config(config).name == config.exercise
  assert variant_names(config)


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
        ("optimizer", "adamw2", "config.optimizer='adamw2' is invalid: must be one of sgd, "
                                "momentum, adam, rmsprop"),
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


@pytest.mark.parametrize(
    "module, overrides, message",
    [
        (linear_regression, {"colour": "red"},
         "config.colour is not a field of exercise 'regression'"),
        (linear_regression, {"x_range": (1.0, -1.0)}, "config.x_range=(1.0, -1.0) is invalid"),
        (linear_regression, {"coefficients": (3.0,)}, "config.coefficients=(3.0,) is invalid"),
        (iris, {"hidden": (0,)}, "config.hidden=(0,) is invalid: must be a tuple of integers >= 1"),
        (iris, {"outputs": 0}, "config.outputs=0 is invalid: must be an integer >= 1"),
        (iris, {"outputs": 10}, "config.outputs=10 does not fit config.dataset='iris'"),
        (iris, {"loss": "binary_cross_entropy"}, "config.loss='binary_cross_entropy' does not "
                                                 "fit config.dataset='iris'"),
        (perceptron, {"seeds_at_once": -1}, "config.seeds_at_once=-1 is invalid: must be an "
                                            "integer >= 0 (0: automatic)"),
        (mnist_cnn, {"dataset": "iris"}, "config.model='MnistCNN' takes mnist images, not "
                                         "config.dataset='iris'"),
        (mnist_cnn, {"eval_batch_size": -16}, "config.eval_batch_size=-16 is invalid"),
        (mnist_cnn, {"conv_formulation": "fft"}, "config.conv_formulation='fft' is invalid"),
        (rnn_binary_addition, {"recurrent_dropout": 1.0},
         "config.recurrent_dropout=1.0 is invalid: must be a rate in [0, 1)"),
        (rnn_binary_addition, {"activation": "swish"}, "config.activation='swish' is invalid"),
        (q_learning, {"total_steps": 3, "num_logs": 4},
         "config.num_logs=4 is invalid: must divide config.total_steps=3"),
        (q_approx, {"target_period": 0}, "config.target_period=0 is invalid"),
        (q_approx, {"algorithm": "dqn"}, "config.algorithm='dqn' is invalid"),
        (q_approx, {"rollout_steps": 3}, "config.rollout_steps=3 is invalid: must divide the "
                                         "512 steps of each logged chunk (variant 'pqn')"),
        (q_approx, {"minibatches": 5}, "config.minibatches=5 is invalid: must divide the 1024 "
                                       "transitions of a rollout (variant 'pqn')"),
        (reinforce, {"num_logs": 7}, "config.num_logs=7 is invalid: must divide "
                                     "config.num_updates=300"),
        (reinforce, {"baseline_learning_rate": -1.0}, "config.baseline_learning_rate=-1.0 is "
                                                     "invalid: must be a finite number > 0"),
        (reinforce, {"baseline_learning_rate": float("nan")},
         "config.baseline_learning_rate=nan is invalid"),
        (reinforce, {"episodes_per_update": 3}, "config.episodes_per_update=3 is invalid: must "
                                                "divide the 100-episode return window"),
        (reinforce, {"seed_groups": 3}, "config.seed_groups=3 is invalid: must divide "
                                         "config.num_seeds=16 (variant 'baseline')"),
    ],
)
def test_each_exercise_checks_its_own_fields(module, overrides, message):
  config = module.get_config()
  with config.unlocked():
    config.update(overrides)
  with pytest.raises(ConfigError) as error:
    validate_config(config)
  assert message in str(error.value) and "\n" not in str(error.value), str(error.value)


def test_a_field_of_another_exercise_is_not_a_field_here():
  """The RNN's `units` is no field of a regression config (no global table of names)."""
  config = linear_regression.get_config()
  config.units = 16
  with pytest.raises(ConfigError, match="config.units is not a field of exercise 'regression'"):
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
