"""RNN learning 8-bit binary addition, with the course's seven variants beside its base model.

    python -m experiments.main --config=experiments/configs/rnn_binary_addition.py --workdir=runs/rnn
    ... --config.variant=tanh,adam        # some variants;  ...:quick for a smoke run

`reference` holds the course's single-run test bit accuracy after 5 epochs, for the table.
"""

import ml_collections

from experiments.configs import with_mode


def get_config(mode: str | None = None):
  config = ml_collections.ConfigDict()
  config.exercise = "rnn_binary_addition"
  config.variants = {
      "base": {"label": "SimpleRNN 16 relu, SGD 0.1", "reference": {"val_bit_accuracy": 1.0}},
      "units_128": {"label": "128 units", "units": 128, "reference": {"val_bit_accuracy": 1.0}},
      "sigmoid": {"label": "sigmoid activation", "activation": "sigmoid",
                  "reference": {"val_bit_accuracy": 0.745}},
      "tanh": {"label": "tanh activation", "activation": "tanh",
               "reference": {"val_bit_accuracy": 1.0}},
      "adam": {"label": "Adam (lr 0.001)", "optimizer": "adam", "learning_rate": 0.001,
               "reference": {"val_bit_accuracy": 1.0}},
      "input_dropout": {"label": "input dropout 0.5", "dropout": 0.5,
                        "reference": {"val_bit_accuracy": 0.862}},
      "recurrent_dropout": {"label": "recurrent dropout 0.3", "recurrent_dropout": 0.3,
                            "reference": {"val_bit_accuracy": 0.902}},
      "unroll": {"label": "unroll=True", "unroll": True, "reference": {"val_bit_accuracy": 1.0}},
  }
  # The course's order (ConfigDict would list the variants alphabetically).
  config.variant = "base,units_128,sigmoid,tanh,adam,input_dropout,recurrent_dropout,unroll"
  config.label = "SimpleRNN 16 relu, SGD 0.1"
  config.reference = {"val_bit_accuracy": 1.0}

  config.units = 16
  config.activation = "relu"
  config.dropout = 0.0
  config.recurrent_dropout = 0.0
  config.unroll = False

  config.seed = 0
  config.num_seeds = 8
  config.sweep = {}
  config.num_train = 10_000
  config.num_test = 9_999
  config.optimizer = "sgd"
  config.learning_rate = 0.1
  config.batch_size = 2
  config.eval_batch_size = 1024
  config.num_epochs = 5
  return with_mode(config, mode, quick=dict(num_seeds=2, num_train=400, num_test=200,
                                            num_epochs=2))
