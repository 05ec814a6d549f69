"""Activations by config name, for every model that takes one."""

import jax.numpy as jnp
from flax import linen as nn

ACTIVATIONS = {"relu": nn.relu, "sigmoid": nn.sigmoid, "tanh": jnp.tanh}
