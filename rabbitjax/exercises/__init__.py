"""The exercise registry: `config.exercise` names one of these."""

from rabbitjax.exercises import regression, rnn_binary_addition
from rabbitjax.exercises.base import Exercise, ExerciseSpec

EXERCISES: dict[str, ExerciseSpec] = {
    "regression": regression.SPEC,
    "rnn_binary_addition": rnn_binary_addition.SPEC,
}

__all__ = ["EXERCISES", "Exercise", "ExerciseSpec"]
