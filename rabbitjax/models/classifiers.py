"""The course's networks as Linen modules; each returns logits (losses apply the softmax)."""

import jax
from flax import linen as nn

from rabbitjax.models.activations import ACTIVATIONS
from rabbitjax.models.initializers import KERNEL_INITS
from rabbitjax.models.layers import Layers


class MLP(nn.Module):
  """Dense layers with `activation` and dropout after each hidden one, on flattened inputs.

  hidden=() with outputs=1 is the course's perceptron (Dense(1) + sigmoid in the loss);
  hidden=() with 10 outputs is softmax regression; (12,) with 3 outputs the iris net;
  (512, 512) with dropout 0.2 the MNIST MLP; the RL agents' Q-network, policy and baseline.
  flatten=False keeps every leading axis (an agent's (time, episodes, observation) batches).
  kernel_init: a name from KERNEL_INITS (Keras' glorot_uniform by default); biases start at 0.
  layer_norm: normalise each hidden layer's pre-activations (LayerNorm), as PQN's Q-network.
  layers: where the dropout layers come from (models/layers.py).
  """

  hidden: tuple = ()
  outputs: int = 10
  activation: str = "relu"
  dropout: float = 0.0
  flatten: bool = True
  kernel_init: str = "glorot_uniform"
  layer_norm: bool = False
  layers: Layers = Layers()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    dense = lambda width: nn.Dense(width, kernel_init=KERNEL_INITS[self.kernel_init])
    normalise = (lambda x: nn.LayerNorm()(x)) if self.layer_norm else (lambda x: x)
    if self.flatten:
      x = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      x = ACTIVATIONS[self.activation](normalise(dense(width)(x)))
      x = self.layers.dropout(self.dropout, deterministic=not train)(x)
    return dense(self.outputs)(x)


class MnistCNN(nn.Module):
  """conv32-conv64 (3x3, valid, relu), maxpool 2, dropout .25, dense 128 relu, dropout .5, dense 10.

  kernel_init: as MLP's; layers: the convolution, dropout and pooling (models/layers.py).
  """

  kernel_init: str = "glorot_uniform"
  layers: Layers = Layers()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    init = KERNEL_INITS[self.kernel_init]
    conv = lambda features: self.layers.conv(features, (3, 3), padding="VALID", kernel_init=init)
    dropout = lambda rate: self.layers.dropout(rate, deterministic=not train)
    x = nn.relu(conv(32)(x))
    x = nn.relu(conv(64)(x))
    x = dropout(0.25)(self.layers.max_pool(x))
    x = nn.relu(nn.Dense(128, kernel_init=init)(x.reshape(x.shape[0], -1)))
    x = dropout(0.5)(x)
    return nn.Dense(10, kernel_init=init)(x)


class CifarCNN(nn.Module):
  """2 x (conv32 same, conv32 valid), pool, drop .25, 2 x conv64 likewise, dense 512, drop .5, 10.

  kernel_init, layers: as MnistCNN's.
  """

  kernel_init: str = "glorot_uniform"
  layers: Layers = Layers()

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    init = KERNEL_INITS[self.kernel_init]
    conv = lambda features, padding: self.layers.conv(features, (3, 3), padding=padding,
                                                      kernel_init=init)
    dropout = lambda rate: self.layers.dropout(rate, deterministic=not train)
    for features in (32, 64):
      x = nn.relu(conv(features, "SAME")(x))
      x = nn.relu(conv(features, "VALID")(x))
      x = dropout(0.25)(self.layers.max_pool(x))
    x = nn.relu(nn.Dense(512, kernel_init=init)(x.reshape(x.shape[0], -1)))
    x = dropout(0.5)(x)
    return nn.Dense(10, kernel_init=init)(x)


def parameter_count(params) -> int:
  """Number of scalars in a parameter tree (Keras' "Total params")."""
  return sum(leaf.size for leaf in jax.tree.leaves(params))
