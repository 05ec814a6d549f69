"""Optimizers by name, with hyper-parameters kept in the optimizer state so they can be vmapped."""

import jax.numpy as jnp
import optax

# Keras' defaults where optax's differ (the course runs Keras with its defaults).
OPTIMIZERS = {
    "sgd": lambda learning_rate: optax.sgd(learning_rate),
    "momentum": lambda learning_rate: optax.sgd(learning_rate, momentum=0.9),
    "adam": lambda learning_rate: optax.adam(learning_rate, b1=0.9, b2=0.999, eps=1e-7),
    "rmsprop": lambda learning_rate: optax.rmsprop(learning_rate, decay=0.9, eps=1e-7),
}


def make_optimizer(name: str, learning_rate: float) -> optax.GradientTransformation:
  """An optax optimizer whose learning rate lives in its state (`opt_state.hyperparams`).

  `inject_hyperparams` is what lets one compiled program train runs with different learning
  rates: the engine overwrites the value per run after `init`, under vmap.
  """
  if name not in OPTIMIZERS:
    raise ValueError(f"optimizer {name!r} is not known; choose one of {', '.join(OPTIMIZERS)}")
  return optax.inject_hyperparams(OPTIMIZERS[name])(learning_rate=learning_rate)


def set_hyperparams(opt_state, hparams):
  """Returns `opt_state` with the injected hyper-parameters named in `hparams` replaced."""
  if not hasattr(opt_state, "hyperparams"):
    return opt_state
  injected = dict(opt_state.hyperparams)
  for name in injected.keys() & hparams.keys():
    injected[name] = jnp.asarray(hparams[name], injected[name].dtype)
  return opt_state._replace(hyperparams=injected)
