"""Optimizers by name, with the learning rate given at each update rather than at build time.

An optimizer here is the optax chain of its direction transform (`scale_by_adam`, a momentum
trace, ...) and `scale_by_learning_rate_arg`, which multiplies by -learning_rate passed to
`update`. The rate then enters once, from the run's swept values, and one compiled program
trains runs with different rates under vmap. The arithmetic is optax's own: `optax.adam(lr)` is
`chain(scale_by_adam(...), scale(-lr))`.
"""

import jax
import optax

# Keras' defaults where optax's differ (the course runs Keras with its defaults).
OPTIMIZERS = {
    "sgd": optax.identity,
    "momentum": lambda: optax.trace(decay=0.9, nesterov=False),
    "adam": lambda: optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-7),
    "rmsprop": lambda: optax.scale_by_rms(decay=0.9, eps=1e-7),
}


def scale_by_learning_rate_arg() -> optax.GradientTransformationExtraArgs:
  """Scales updates by -learning_rate, the rate being an argument of `update`."""

  def update(updates, state, params=None, *, learning_rate, **unused_extra_args):
    del params, unused_extra_args
    return jax.tree.map(lambda g: -learning_rate * g, updates), state

  return optax.GradientTransformationExtraArgs(optax.init_empty_state, update)


def make_optimizer(name: str) -> optax.GradientTransformationExtraArgs:
  """Optimizer `name` (one of OPTIMIZERS); call `update(..., learning_rate=rate)`."""
  return optax.chain(OPTIMIZERS[name](), scale_by_learning_rate_arg())


def optimizer_step(optimizer, params, opt_state, grads, learning_rate):
  """One update of an optimizer from `make_optimizer` at `learning_rate`: (params, opt_state)."""
  updates, opt_state = optimizer.update(grads, opt_state, params, learning_rate=learning_rate)
  return optax.apply_updates(params, updates), opt_state
