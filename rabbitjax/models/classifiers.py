"""The course's networks as Linen modules; each returns logits (losses apply the softmax)."""

import jax
from flax import linen as nn

from rabbitjax.models.activations import ACTIVATIONS
from rabbitjax.models.conv import Conv, max_pool_2x2


class MLP(nn.Module):
  """Dense layers with `activation` and dropout after each hidden one, on flattened inputs.

  hidden=() with outputs=1 is the course's perceptron (Dense(1) + sigmoid in the loss);
  hidden=() with 10 outputs is softmax regression; (12,) with 3 outputs the iris net;
  (512, 512) with dropout 0.2 the MNIST MLP; the RL agents' Q-network, policy and baseline.
  flatten=False keeps every leading axis (an agent's (time, episodes, observation) batches).
  """

  hidden: tuple = ()
  outputs: int = 10
  activation: str = "relu"
  dropout: float = 0.0
  flatten: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    if self.flatten:
      x = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      x = ACTIVATIONS[self.activation](nn.Dense(width)(x))
      x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(self.outputs)(x)


class MnistCNN(nn.Module):
  """conv32-conv64 (3x3, valid, relu), maxpool 2, dropout .25, dense 128 relu, dropout .5, dense 10.

  conv_impl: 'lax', 'im2col' or 'im2col_bf16'; see models/conv.py.
  """

  conv_impl: str = "lax"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    x = nn.relu(Conv(32, padding="VALID", impl=self.conv_impl)(x))
    x = nn.relu(Conv(64, padding="VALID", impl=self.conv_impl)(x))
    x = nn.Dropout(0.25, deterministic=not train)(max_pool_2x2(x))
    x = nn.relu(nn.Dense(128)(x.reshape(x.shape[0], -1)))
    x = nn.Dropout(0.5, deterministic=not train)(x)
    return nn.Dense(10)(x)


class CifarCNN(nn.Module):
  """2 x (conv32 same, conv32 valid), pool, drop .25, 2 x conv64 likewise, dense 512, drop .5, 10.

  conv_impl: as MnistCNN's.
  """

  conv_impl: str = "lax"

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
    for features in (32, 64):
      x = nn.relu(Conv(features, padding="SAME", impl=self.conv_impl)(x))
      x = nn.relu(Conv(features, padding="VALID", impl=self.conv_impl)(x))
      x = nn.Dropout(0.25, deterministic=not train)(max_pool_2x2(x))
    x = nn.relu(nn.Dense(512)(x.reshape(x.shape[0], -1)))
    x = nn.Dropout(0.5, deterministic=not train)(x)
    return nn.Dense(10)(x)


def parameter_count(params) -> int:
  """Number of scalars in a parameter tree (Keras' "Total params")."""
  return sum(leaf.size for leaf in jax.tree.leaves(params))
