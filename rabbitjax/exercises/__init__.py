"""The exercise registry: `config.exercise` names one of these."""

from rabbitjax.exercises import classification, reinforcement, regression, rnn_binary_addition
from rabbitjax.exercises.base import Exercise, ExerciseSpec

EXERCISES: dict[str, ExerciseSpec] = {
    "regression": regression.SPEC,
    "classification": classification.SPEC,
    "rnn_binary_addition": rnn_binary_addition.SPEC,
    "q_learning": reinforcement.Q_LEARNING,
    "q_approx": reinforcement.Q_APPROX,
    "reinforce": reinforcement.REINFORCE,
}

__all__ = ["EXERCISES", "Exercise", "ExerciseSpec"]
