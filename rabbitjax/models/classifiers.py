"""The course's networks as Linen modules; each returns logits (losses apply the softmax)."""

import jax
from flax import linen as nn

from rabbitjax.models.activations import ACTIVATIONS
from rabbitjax.models.conv import Conv, max_pool_2x2
from rabbitjax.models.dropout import Dropout
from rabbitjax.models.initializers import KERNEL_INITS


class MLP(nn.Module):
  """Dense layers with `activation` and dropout after each hidden one, on flattened inputs.

  hidden=() with outputs=1 is the course's perceptron (Dense(1) + sigmoid in the loss);
  hidden=() with 10 outputs is softmax regression; (12,) with 3 outputs the iris net;
  (512, 512) with dropout 0.2 the MNIST MLP; the RL agents' Q-network, policy and baseline.
  flatten=False keeps every leading axis (an agent's (time, episodes, observation) batches).
  kernel_init: a name from KERNEL_INITS (Keras' glorot_uniform by default); biases start at 0.
  """

  hidden: tuple = ()
  outputs: int = 10
  activation: str = "relu"
  dropout: float = 0.0
  flatten: bool = True
  kernel_init: str = "glorot_uniform"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    dense = lambda width: nn.Dense(width, kernel_init=KERNEL_INITS[self.kernel_init])
    if self.flatten:
      x = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      x = ACTIVATIONS[self.activation](dense(width)(x))
      x = Dropout(self.dropout, deterministic=not train)(x)
    return dense(self.outputs)(x)


class MnistCNN(nn.Module):
  """conv32-conv64 (3x3, valid, relu), maxpool 2, dropout .25, dense 128 relu, dropout .5, dense 10.

  conv_impl: a formulation from models/conv.py; kernel_init: as MLP's.
  """

  conv_impl: str = "lax"
  kernel_init: str = "glorot_uniform"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    conv = lambda features: Conv(features, padding="VALID", impl=self.conv_impl,
                                 kernel_init=self.kernel_init)
    dense = lambda width: nn.Dense(width, kernel_init=KERNEL_INITS[self.kernel_init])
    x = nn.relu(conv(32)(x))
    x = nn.relu(conv(64)(x))
    x = Dropout(0.25, deterministic=not train)(max_pool_2x2(x))
    x = nn.relu(dense(128)(x.reshape(x.shape[0], -1)))
    x = Dropout(0.5, deterministic=not train)(x)
    return dense(10)(x)


class CifarCNN(nn.Module):
  """2 x (conv32 same, conv32 valid), pool, drop .25, 2 x conv64 likewise, dense 512, drop .5, 10.

  conv_impl, kernel_init: as MnistCNN's.
  """

  conv_impl: str = "lax"
  kernel_init: str = "glorot_uniform"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    conv = lambda features, padding: Conv(features, padding=padding, impl=self.conv_impl,
                                          kernel_init=self.kernel_init)
    dense = lambda width: nn.Dense(width, kernel_init=KERNEL_INITS[self.kernel_init])
    for features in (32, 64):
      x = nn.relu(conv(features, "SAME")(x))
      x = nn.relu(conv(features, "VALID")(x))
      x = Dropout(0.25, deterministic=not train)(max_pool_2x2(x))
    x = nn.relu(dense(512)(x.reshape(x.shape[0], -1)))
    x = Dropout(0.5, deterministic=not train)(x)
    return dense(10)(x)


def parameter_count(params) -> int:
  """Number of scalars in a parameter tree (Keras' "Total params")."""
  return sum(leaf.size for leaf in jax.tree.leaves(params))
