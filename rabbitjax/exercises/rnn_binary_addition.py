"""An RNN learns 8-bit binary addition, one bit per time step (the course's RNN exercise)."""

import jax
import ml_collections

from rabbitjax.data import binary_addition
from rabbitjax.exercises.base import Exercise, ExerciseSpec
from rabbitjax.models import BinaryAdder, SimpleRNN
from rabbitjax.train import (
    Task,
    bit_accuracy,
    make_optimizer,
    mean_squared_error,
    sequence_accuracy,
)


def build(config: ml_collections.ConfigDict, data_dir: str | None = None) -> Exercise:
  """SimpleRNN + Dense(1, sigmoid) trained with MSE on fresh sequences drawn per seed."""
  del data_dir  # Synthetic data only.

  def make_data(key, hparams):
    del hparams
    train_key, test_key = jax.random.split(key)
    return binary_addition(train_key, config.num_train), binary_addition(test_key, config.num_test)

  model = BinaryAdder(SimpleRNN(units=config.units, activation=config.activation,
                                dropout=config.dropout, recurrent_dropout=config.recurrent_dropout,
                                unroll=config.unroll))
  task = Task(
      model=model,
      loss=mean_squared_error,
      optimizer=make_optimizer(config.optimizer, config.learning_rate),
      batch_size=config.batch_size,
      eval_batch_size=config.eval_batch_size or 1024,  # 0: automatic
      metrics={"bit_accuracy": bit_accuracy, "sequence_accuracy": sequence_accuracy},
  )
  return Exercise(task=task, make_data=make_data)


SPEC = ExerciseSpec(build=build, sweepable=("learning_rate",))
