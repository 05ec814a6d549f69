"""Iris 4-12-3 MLP, softmax output, SGD (Keras' default lr 0.01 vs 0.1), batch 5, 20 epochs, 80/20."""

from experiments.configs.classification_defaults import classification_config

VARIANTS = {
    "relu_default_lr": {"label": "relu, SGD default lr 0.01", "activation": "relu"},
    "relu_lr_0p1": {"label": "relu, SGD lr 0.1", "activation": "relu", "learning_rate": 0.1},
    "sigmoid_default_lr": {"label": "sigmoid, SGD default lr 0.01", "activation": "sigmoid"},
    "sigmoid_lr_0p1": {"label": "sigmoid, SGD lr 0.1", "activation": "sigmoid",
                      "learning_rate": 0.1},
}


def get_config(mode: str | None = None):
  return classification_config(
      VARIANTS, ",".join(VARIANTS), mode, quick=dict(num_seeds=2, num_epochs=3),
      label="relu, SGD default lr 0.01", dataset="iris", hidden=(12,), outputs=3,
      optimizer="sgd", learning_rate=0.01, batch_size=5, eval_batch_size=30, num_epochs=20)
