"""MNIST MLP 784-512-512-10, relu, dropout 0.2, Adam, batch 128, 20 epochs.

Integer labels + sparse cross-entropy vs one-hot labels + categorical cross-entropy (the same
numbers), each with Adam lr 1e-4 / 1e-3 / 1e-2 as one vmapped sweep.
"""

from experiments.configs.classification_defaults import classification_config

VARIANTS = {
    "sparse": {"label": "integer labels, sparse cross-entropy", "one_hot": False},
    "one_hot": {"label": "one-hot labels, categorical cross-entropy", "one_hot": True},
}


def get_config(mode: str | None = None):
  return classification_config(
      VARIANTS, "sparse,one_hot", mode,
      quick=dict(num_seeds=2, num_epochs=1, max_examples=2000, sweep={"learning_rate": (1e-3,)}),
      label="integer labels, sparse cross-entropy", hidden=(512, 512), dropout=0.2,
      num_epochs=20, num_seeds=3, sweep={"learning_rate": (1e-4, 1e-3, 1e-2)})
