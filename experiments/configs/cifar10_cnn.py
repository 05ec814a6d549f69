"""CIFAR-10 CNN: 2x conv32, pool, 2x conv64, pool, dense 512, Adam, batch 32, 3 seeds.

CIFAR-10 is not on these machines: point --data_dir / $TFDS_DATA_DIR at a prepared tfds copy.
"""

from experiments.configs.classification_defaults import classification_config

VARIANTS = {"cnn": {"label": "2x conv32, 2x conv64, dense 512, Adam, batch 32"}}


def get_config(mode: str | None = None):
  return classification_config(
      VARIANTS, "cnn", mode, quick=dict(num_seeds=2, num_epochs=1, max_examples=256),
      label="2x conv32, 2x conv64, dense 512, Adam, batch 32", dataset="cifar10",
      model="CifarCNN", batch_size=32, num_epochs=20, num_seeds=3)
