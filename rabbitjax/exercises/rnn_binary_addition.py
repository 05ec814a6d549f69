"""An RNN learns 8-bit binary addition, one bit per time step (the course's RNN exercise)."""

import jax
import ml_collections

from rabbitjax import config as rules
from rabbitjax import tuning
from rabbitjax.data import binary_addition
from rabbitjax.exercises.base import Exercise, Trainer, supervised_trainer
from rabbitjax.models import BinaryAdder, SimpleRNN
from rabbitjax.models.activations import ACTIVATIONS
from rabbitjax.train import (
    OPTIMIZERS,
    Task,
    bit_accuracy,
    mean_squared_error,
    sequence_accuracy,
)

FIELDS = {
    "units": rules.COUNT,
    "activation": rules.one_of(ACTIVATIONS),
    "dropout": rules.DROPOUT_RATE,
    "recurrent_dropout": rules.DROPOUT_RATE,
    # lax.scan's unroll: True (all steps), False (none) or that many steps per loop iteration.
    "unroll": rules.Rule(lambda v: isinstance(v, bool) or (isinstance(v, int) and v >= 1),
                         "True, False or an integer >= 1"),
    "num_train": rules.COUNT,
    "num_test": rules.COUNT,
    "optimizer": rules.one_of(OPTIMIZERS),
    "learning_rate": rules.POSITIVE,
    "batch_size": rules.COUNT,
    "eval_batch_size": rules.AUTOMATIC_OR_COUNT,
    "num_epochs": rules.COUNT,
}


def make_trainer(config: ml_collections.ConfigDict) -> Trainer:
  """SimpleRNN + Dense(1, sigmoid) trained with MSE on fresh sequences drawn per seed."""

  def make_data(key, hparams):
    del hparams
    train_key, test_key = jax.random.split(key)
    return binary_addition(train_key, config.num_train), binary_addition(test_key, config.num_test)

  chosen = tuning.decide(fast=config.fast, eval_batch_size=config.eval_batch_size,
                         default_eval_batch_size=1024, num_epochs=config.num_epochs,
                         train_examples=config.num_train,
                         epochs_per_dispatch=config.epochs_per_dispatch,
                         seeds_side_by_side=True, seed_groups=config.seed_groups,
                         num_seeds=config.num_seeds)
  model = BinaryAdder(SimpleRNN(units=config.units, activation=config.activation,
                                dropout=config.dropout, recurrent_dropout=config.recurrent_dropout,
                                unroll=config.unroll, recurrence=chosen.recurrence))
  task = Task(model=model, loss=mean_squared_error, optimizer=config.optimizer,
              batch_size=config.batch_size,
              metrics=(("bit_accuracy", bit_accuracy), ("sequence_accuracy", sequence_accuracy)))
  return supervised_trainer(task, config.num_epochs, chosen, make_data=make_data)


EXERCISE = Exercise("rnn_binary_addition", rules.Schema(FIELDS, ("learning_rate",)), make_trainer)
