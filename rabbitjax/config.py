"""Checking experiment configs up front, so bad values fail in one line, not deep inside JAX."""

import math
from numbers import Integral, Real

import ml_collections

from rabbitjax.exercises import EXERCISES, ExerciseSpec
from rabbitjax.exercises.classification import DATASETS, LOSSES, MODELS
from rabbitjax.models.conv import IMPLEMENTATIONS
from rabbitjax.models.rnn import ACTIVATIONS
from rabbitjax.train import OPTIMIZERS


class ConfigError(ValueError):
  """A config value the experiment cannot run with; the message names the field and the value."""


def _positive_int(value) -> bool:
  return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def _non_negative_int(value) -> bool:
  return isinstance(value, Integral) and not isinstance(value, bool) and value >= 0


def _positive(value) -> bool:
  return isinstance(value, Real) and math.isfinite(value) and value > 0


def _non_negative(value) -> bool:
  return isinstance(value, Real) and math.isfinite(value) and value >= 0


def _probability_below_one(value) -> bool:
  return isinstance(value, Real) and 0 <= value < 1


def _probability(value) -> bool:
  return isinstance(value, Real) and 0 <= value <= 1


def _activation(value) -> bool:
  return value in ACTIVATIONS


# Field name -> (test, what a valid value is). Applied wherever the name appears: top level,
# inside a variant's overrides and to every swept value.
_RULES = {
    "num_seeds": (_positive_int, "an integer >= 1"),
    "num_epochs": (_positive_int, "an integer >= 1"),
    "batch_size": (_positive_int, "an integer >= 1"),
    "num_train": (_positive_int, "an integer >= 1"),
    "num_test": (_positive_int, "an integer >= 1"),
    "max_examples": (_non_negative_int, "an integer >= 0 (0: all)"),
    "learning_rate": (_positive, "a finite number > 0"),
    "noise": (_non_negative, "a finite number >= 0"),
    "eval_batch_size": (_non_negative_int, "an integer >= 0 (0: automatic)"),
    "microbatch_size": (_non_negative_int, "an integer >= 0 (0: automatic)"),
    "seeds_at_once": (_non_negative_int, "an integer >= 0 (0: automatic)"),
    "units": (_positive_int, "an integer >= 1"),
    "dropout": (_probability_below_one, "a rate in [0, 1)"),
    "recurrent_dropout": (_probability_below_one, "a rate in [0, 1)"),
    "activation": (_activation, f"one of {', '.join(ACTIVATIONS)}"),
    "epsilon": (_probability, "a probability in [0, 1]"),
    "epsilon_decay_fraction": (_probability, "a fraction in [0, 1]"),
    "gamma": (_probability, "a discount in [0, 1]"),
    "total_steps": (_positive_int, "an integer >= 1"),
    "num_logs": (_positive_int, "an integer >= 1"),
    "num_envs": (_positive_int, "an integer >= 1"),
    "num_updates": (_positive_int, "an integer >= 1"),
    "episodes_per_update": (_positive_int, "an integer >= 1"),
    "target_period": (_positive_int, "an integer >= 1"),
    "dataset": (lambda value: value in DATASETS, f"one of {', '.join(DATASETS)}"),
    "model": (lambda value: value in MODELS, f"one of {', '.join(MODELS)}"),
    "loss": (lambda value: value in LOSSES, f"one of {', '.join(LOSSES)}"),
    "conv_impl": (lambda value: value in IMPLEMENTATIONS, f"one of {', '.join(IMPLEMENTATIONS)}"),
}


def _check_value(path: str, name: str, value) -> None:
  if name in _RULES:
    test, wanted = _RULES[name]
    if not test(value):
      raise ConfigError(f"{path}={value!r} is invalid: must be {wanted}")


def variant_names(config: ml_collections.ConfigDict) -> list[str]:
  """The variants `config.variant` selects: one name, a comma-separated list, or 'all'."""
  available = list(config.get("variants", {}) or {})
  chosen = str(config.get("variant", "all"))
  if not available:
    return ["default"]
  if chosen == "all":
    return available
  names = [name.strip() for name in chosen.split(",") if name.strip()]
  for name in names:
    if name not in available:
      raise ConfigError(
          f"config.variant={name!r} is not a variant of this config; "
          f"choose 'all' or from: {', '.join(available)}"
      )
  return names


def variant_config(config: ml_collections.ConfigDict, name: str) -> ml_collections.ConfigDict:
  """A copy of `config` with variant `name`'s overrides applied."""
  resolved = ml_collections.ConfigDict(config.to_dict())
  overrides = (config.get("variants", {}) or {}).get(name, {})
  for key, value in overrides.items():
    resolved[key] = value
  resolved.variant = name
  return resolved


def validate_config(config: ml_collections.ConfigDict) -> ExerciseSpec:
  """Checks `config` and returns its exercise's spec; raises ConfigError naming the bad value."""
  exercise = config.get("exercise")
  if exercise not in EXERCISES:
    raise ConfigError(
        f"config.exercise={exercise!r} is not a known exercise; choose one of: "
        f"{', '.join(sorted(EXERCISES))}"
    )
  spec = EXERCISES[exercise]
  for name, value in config.items():
    _check_value(f"config.{name}", name, value)
  for variant, overrides in (config.get("variants", {}) or {}).items():
    for name, value in overrides.items():
      if name not in config:
        raise ConfigError(f"config.variants.{variant}.{name} overrides no field of the config")
      _check_value(f"config.variants.{variant}.{name}", name, value)
  if config.get("optimizer", "sgd") not in OPTIMIZERS:
    raise ConfigError(
        f"config.optimizer={config.optimizer!r} is not known; choose one of: "
        f"{', '.join(OPTIMIZERS)}"
    )
  for name, values in (config.get("sweep", {}) or {}).items():
    if name not in spec.sweepable:
      raise ConfigError(
          f"config.sweep.{name} cannot be swept in exercise {exercise!r}; sweepable: "
          f"{', '.join(spec.sweepable)}"
      )
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not len(values):
      raise ConfigError(f"config.sweep.{name}={values!r} is invalid: must be a non-empty list")
    for value in values:
      _check_value(f"config.sweep.{name}", name, value)
  for name in variant_names(config):
    resolved = variant_config(config, name)
    microbatch_size = resolved.get("microbatch_size", 0)
    if microbatch_size and resolved.batch_size % microbatch_size:
      raise ConfigError(f"config.microbatch_size={microbatch_size!r} is invalid: must divide "
                        f"config.batch_size={resolved.batch_size} (variant {name!r})")
  return spec
