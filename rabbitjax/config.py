"""Config checking: what every config shares, and the rules each exercise's schema is made of.

Every field of a config is checked once, before any work, by its rule: the fields every config
has (`COMMON_FIELDS`) here, the others by the schema of the exercise the config names. A field
no rule knows is an error, as is a bad value anywhere (top level, a variant's overrides, a swept
value); each error is one line naming the field and the value.
"""

import dataclasses
import math
import re
from numbers import Integral, Real
from typing import Any, Callable, Mapping

import ml_collections


class ConfigError(ValueError):
  """A config value the experiment cannot run with; the message names the field and the value."""


@dataclasses.dataclass(frozen=True)
class Rule:
  """A test on one field's value, and what a valid value is (for the error message)."""

  test: Callable[[Any], bool]
  wanted: str


def _is_int(value) -> bool:
  return isinstance(value, Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
  return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def integer(minimum: int = 1, note: str = "") -> Rule:
  """An integer >= minimum; `note` explains a special value, e.g. '0: automatic'."""
  return Rule(lambda v: _is_int(v) and v >= minimum,
              f"an integer >= {minimum}" + (f" ({note})" if note else ""))


def number(minimum: float = 0.0, *, strictly: bool = False, maximum: float | None = None,
           what: str = "a finite number") -> Rule:
  """A finite number >= minimum (> with `strictly`), and <= maximum when given."""
  above = (lambda v: v > minimum) if strictly else (lambda v: v >= minimum)
  below = (lambda v: True) if maximum is None else (lambda v: v <= maximum)
  bounds = f"{'>' if strictly else '>='} {minimum:g}" + (
      "" if maximum is None else f" and <= {maximum:g}")
  return Rule(lambda v: _is_number(v) and above(v) and below(v), f"{what} {bounds}")


def one_of(choices) -> Rule:
  choices = tuple(choices)
  return Rule(lambda v: isinstance(v, str) and v in choices, f"one of {', '.join(choices)}")


def integers(minimum: int = 1) -> Rule:
  """A tuple (possibly empty) of integers >= minimum, e.g. hidden layer widths."""
  return Rule(lambda v: isinstance(v, (tuple, list)) and all(_is_int(x) and x >= minimum
                                                             for x in v),
              f"a tuple of integers >= {minimum}")


def numbers(length: int | None = None, min_length: int = 1) -> Rule:
  """A tuple of finite numbers, of `length` or at least `min_length` entries."""
  def test(v):
    size_ok = len(v) == length if length is not None else len(v) >= min_length
    return isinstance(v, (tuple, list)) and size_ok and all(_is_number(x) for x in v)
  size = f"{length}" if length is not None else f"at least {min_length}"
  return Rule(test, f"a tuple of {size} finite numbers")


BOOLEAN = Rule(lambda v: isinstance(v, bool), "True or False")
TEXT = Rule(lambda v: isinstance(v, str), "a string")
COUNT = integer(1)
AUTOMATIC_OR_COUNT = integer(0, "0: automatic")
POSITIVE = number(0.0, strictly=True)
NON_NEGATIVE = number(0.0)
PROBABILITY = number(0.0, maximum=1.0, what="a probability")
DROPOUT_RATE = Rule(lambda v: _is_number(v) and 0 <= v < 1, "a rate in [0, 1)")
_MAPPING = Rule(lambda v: hasattr(v, "items"), "a dict")

# The fields every config has, whatever its exercise.
# A device mesh: 'auto', or devices along the seed axis x along the data axis.
MESH_PATTERN = r"auto|[1-9][0-9]*x[1-9][0-9]*"

COMMON_FIELDS: dict[str, Rule] = {
    "exercise": TEXT,
    "label": TEXT,
    "variant": TEXT,
    "variants": _MAPPING,
    "sweep": _MAPPING,
    "seed": integer(0),
    "num_seeds": COUNT,
    "reference": Rule(lambda v: hasattr(v, "items") and all(_is_number(x) for x in v.values()),
                      "a dict of metric name -> number"),
    "checkpoint_every": integer(-1, "epochs between checkpoints; 0: automatic, -1: never"),
    "divergence_expected": BOOLEAN,
    "fast": BOOLEAN,
    "epochs_per_dispatch": integer(0, "epochs trained per program call; 0: automatic"),
    "seed_groups": integer(0, "groups of seeds trained side by side; 0: automatic"),
    "tensorboard": BOOLEAN,
    "mesh": Rule(lambda v: isinstance(v, str) and re.fullmatch(MESH_PATTERN, v) is not None,
                 "'auto' or SEEDSxDATA devices, e.g. '4x2'"),
}


@dataclasses.dataclass(frozen=True)
class Schema:
  """An exercise's own config fields, which of them may be swept, and checks across fields.

  Attributes:
    fields: field name -> rule, for every field beyond COMMON_FIELDS.
    sweepable: the fields `config.sweep` may vary (the vmapped axis of points).
    check: resolved variant config -> None; raises ConfigError for values that are each valid
      but wrong together (e.g. a micro-batch that does not divide the batch).
  """

  fields: Mapping[str, Rule]
  sweepable: tuple[str, ...]
  check: Callable[[ml_collections.ConfigDict], None] = lambda config: None


def _check(path: str, rule: Rule, value) -> None:
  if not rule.test(value):
    raise ConfigError(f"{path}={value!r} is invalid: must be {rule.wanted}")


def command_line_fields(argv) -> set[str]:
  """The config fields `--config.NAME...` flags set (they win over every variant's values)."""
  prefix = "--config."
  return {arg[len(prefix):].split("=", 1)[0].split(".", 1)[0]
          for arg in argv if arg.startswith(prefix)}


def variant_names(config: ml_collections.ConfigDict) -> list[str]:
  """The variants `config.variant` selects: one name, a comma-separated list, or 'all'."""
  available = list(config.get("variants", {}) or {})
  chosen = str(config.get("variant", "all"))
  if not available:
    return ["default"]
  if chosen == "all":
    return available
  names = [name.strip() for name in chosen.split(",") if name.strip()]
  if not names:
    raise ConfigError(f"config.variant={chosen!r} selects no variant; choose 'all' or from: "
                      f"{', '.join(available)}")
  for name in names:
    if name not in available:
      raise ConfigError(
          f"config.variant={name!r} is not a variant of this config; "
          f"choose 'all' or from: {', '.join(available)}"
      )
    if names.count(name) > 1:
      raise ConfigError(f"config.variant={chosen!r} names variant {name!r} twice")
  return names


def variant_config(config: ml_collections.ConfigDict, name: str,
                   keep=()) -> ml_collections.ConfigDict:
  """A copy of `config` with variant `name`'s overrides applied, except to the fields in `keep`
  (those set on the command line, which win over every variant's values)."""
  resolved = ml_collections.ConfigDict(config.to_dict())
  overrides = (config.get("variants", {}) or {}).get(name, {})
  for key, value in overrides.items():
    if key not in keep:
      resolved[key] = value
  resolved.variant = name
  return resolved


def _check_common(config: ml_collections.ConfigDict) -> None:
  """Checks across the common fields of a resolved variant config."""
  groups = config.get("seed_groups", 0)
  if groups and config.num_seeds % groups:
    raise ConfigError(f"config.seed_groups={groups!r} is invalid: must divide "
                      f"config.num_seeds={config.num_seeds!r}")


def validate(config: ml_collections.ConfigDict, schema: Schema, keep=()) -> None:
  """Checks every field of `config` against COMMON_FIELDS and `schema`; raises ConfigError.

  `keep`: the fields set on the command line (see `variant_config`).
  """
  rules = {**COMMON_FIELDS, **schema.fields}
  for name, value in config.items():
    if name not in rules:
      raise ConfigError(f"config.{name} is not a field of exercise {config.exercise!r}; its "
                        f"fields: {', '.join(sorted(schema.fields))}")
    _check(f"config.{name}", rules[name], value)
  for variant, overrides in (config.get("variants", {}) or {}).items():
    _check(f"config.variants.{variant}", _MAPPING, overrides)
    for name, value in overrides.items():
      if name not in config:
        raise ConfigError(f"config.variants.{variant}.{name} overrides no field of the config")
      _check(f"config.variants.{variant}.{name}", rules[name], value)
  for name, values in (config.get("sweep", {}) or {}).items():
    if name not in schema.sweepable:
      raise ConfigError(
          f"config.sweep.{name} cannot be swept in exercise {config.exercise!r}; sweepable: "
          f"{', '.join(schema.sweepable)}"
      )
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or not len(values):
      raise ConfigError(f"config.sweep.{name}={values!r} is invalid: must be a non-empty list")
    for value in values:
      _check(f"config.sweep.{name}", rules[name], value)
  for name in variant_names(config):
    resolved = variant_config(config, name, keep)
    try:
      _check_common(resolved)
      schema.check(resolved)
    except ConfigError as err:
      raise ConfigError(f"{err} (variant {name!r})") from None
