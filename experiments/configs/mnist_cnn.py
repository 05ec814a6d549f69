"""MNIST CNN: conv32-conv64-pool-dropout-dense128-dropout-10, Adam, batch 128, 3 seeds."""

from experiments.configs.classification_defaults import classification_config

VARIANTS = {"cnn": {"label": "conv32-conv64-pool-drop-dense128-drop-10, Adam"}}


def get_config(mode: str | None = None):
  return classification_config(
      VARIANTS, "cnn", mode, quick=dict(num_seeds=2, num_epochs=1, max_examples=512),
      label="conv32-conv64-pool-drop-dense128-drop-10, Adam", model="MnistCNN",
      num_epochs=12, num_seeds=3)
