"""MNIST softmax regression: one Dense(10) layer on the 784 pixels."""

from experiments.configs.classification_defaults import classification_config

VARIANTS = {"softmax": {"label": "1-layer softmax, SGD 0.1, batch 32"}}


def get_config(mode: str | None = None):
  return classification_config(
      VARIANTS, "softmax", mode, quick=dict(num_seeds=2, num_epochs=1, max_examples=2000),
      label="1-layer softmax, SGD 0.1, batch 32", hidden=(), optimizer="sgd",
      learning_rate=0.1, batch_size=32, num_epochs=10)
