"""Per-example losses and metrics: each maps (outputs, targets) to one value per example.

The engine weights and averages them, so a padded final batch counts only its real examples.
"""

import jax
import jax.numpy as jnp
import optax


def _per_example_mean(values: jax.Array) -> jax.Array:
  return jnp.mean(values.reshape(values.shape[0], -1), axis=-1)


def mean_squared_error(outputs: jax.Array, targets: jax.Array) -> jax.Array:
  """Keras' "mse": squared error averaged over all non-batch axes."""
  return _per_example_mean(jnp.square(outputs - targets))


def softmax_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """Categorical cross-entropy from logits: one-hot targets, or integer labels (sparse)."""
  if jnp.issubdtype(targets.dtype, jnp.integer):
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets)
  return optax.softmax_cross_entropy(logits, targets)


def sigmoid_binary_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """Binary cross-entropy of a sigmoid output given as logits (numerically stable)."""
  return _per_example_mean(optax.sigmoid_binary_cross_entropy(logits, targets))


def binary_accuracy(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """Keras' binary accuracy for a sigmoid output given as logits: 1 where sign matches."""
  return _per_example_mean(((logits > 0) == (targets > 0.5)).astype(jnp.float32))


def accuracy(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """1.0 where the arg-max class is the label (integer or one-hot targets)."""
  labels = targets if jnp.issubdtype(targets.dtype, jnp.integer) else jnp.argmax(targets, -1)
  return (jnp.argmax(logits, -1) == labels).astype(jnp.float32)


def bit_accuracy(probabilities: jax.Array, targets: jax.Array) -> jax.Array:
  """Keras' "accuracy" for a sigmoid output: the fraction of bits on the right side of 0.5."""
  return _per_example_mean(((probabilities > 0.5) == (targets > 0.5)).astype(jnp.float32))


def sequence_accuracy(probabilities: jax.Array, targets: jax.Array) -> jax.Array:
  """1.0 where every bit of the example is right (the whole sum is correct)."""
  correct = (probabilities > 0.5) == (targets > 0.5)
  return jnp.all(correct.reshape(correct.shape[0], -1), axis=-1).astype(jnp.float32)
