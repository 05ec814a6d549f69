"""Kernel initialisers by config name: Keras' default (the course's) and Flax's.

Keras' Dense and Conv2D draw kernels from glorot_uniform and start biases at zero; Flax's draw
from lecun_normal. The course's models default to Keras' so that seed-to-seed spread is
comparable to the course's runs.
"""

from flax import linen as nn

KERNEL_INITS = {
    "glorot_uniform": nn.initializers.glorot_uniform(),  # Keras' default
    "lecun_normal": nn.initializers.lecun_normal(),  # Flax's default
}
