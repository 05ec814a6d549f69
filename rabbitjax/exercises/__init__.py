"""The exercise registry: `config.exercise` names one of these."""

from rabbitjax.exercises import regression
from rabbitjax.exercises.base import Exercise, ExerciseSpec

EXERCISES: dict[str, ExerciseSpec] = {
    "regression": regression.SPEC,
}

__all__ = ["EXERCISES", "Exercise", "ExerciseSpec"]
