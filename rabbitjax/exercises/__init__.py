"""The exercise registry: `config.exercise` names one of these."""

import ml_collections

from rabbitjax.config import ConfigError, validate
from rabbitjax.exercises import classification, regression, reinforcement, rnn_binary_addition
from rabbitjax.exercises.base import Exercise, Trainer, agent_trainer, supervised_trainer

EXERCISES: dict[str, Exercise] = {exercise.name: exercise for exercise in (
    regression.EXERCISE,
    classification.EXERCISE,
    rnn_binary_addition.EXERCISE,
    reinforcement.Q_LEARNING,
    reinforcement.Q_APPROX,
    reinforcement.REINFORCE,
)}


def exercise_for(config: ml_collections.ConfigDict, keep=()) -> Exercise:
  """The exercise `config` names, once every field of `config` has passed its schema.

  `keep`: the fields set on the command line, which win over the variants' values.
  """
  name = config.get("exercise")
  if name not in EXERCISES:
    raise ConfigError(f"config.exercise={name!r} is not a known exercise; choose one of: "
                      f"{', '.join(sorted(EXERCISES))}")
  validate(config, EXERCISES[name].schema, keep)
  return EXERCISES[name]


__all__ = ["EXERCISES", "Exercise", "Trainer", "agent_trainer", "exercise_for",
           "supervised_trainer"]
