"""MNIST 3-layer MLP (two hidden relu layers): a hidden-size sweep and an optimizer sweep."""

from experiments.configs.classification_defaults import classification_config

VARIANTS = {
    **{f"hidden{width}": {"label": f"{width}-{width}, Adam", "hidden": (width, width)}
       for width in (64, 128, 256, 512)},
    "sgd": {"label": "256-256, SGD 0.1", "optimizer": "sgd", "learning_rate": 0.1},
    "momentum": {"label": "256-256, SGD 0.01 + momentum 0.9", "optimizer": "momentum",
                 "learning_rate": 0.01},
    "rmsprop": {"label": "256-256, RMSprop", "optimizer": "rmsprop"},
}


def get_config(mode: str | None = None):
  return classification_config(
      VARIANTS, ",".join(VARIANTS), mode, quick=dict(num_seeds=2, num_epochs=1, max_examples=2000),
      label="256-256, Adam", hidden=(256, 256), num_epochs=10)
