"""Running an agent's `train(key, hparams)` over a sweep: one compiled program for all runs."""

import time

import jax
import jax.numpy as jnp
import numpy as np

from rabbitjax.train import FitResult, Sweep, over_runs


def run_sweep(train, sweep: Sweep) -> FitResult:
  """`jax.jit(over_runs(train))` over the sweep's seeds and points, compile timed apart.

  Returns:
    FitResult whose `state` is each run's final agent state and whose history is laid out as
    the supervised engine's: metric -> (logged steps, seeds, points).
  """
  start = time.perf_counter()
  keys = jax.vmap(jax.random.key)(jnp.asarray(sweep.seeds))
  hparams = {name: jnp.asarray(values) for name, values in sweep.hparams.items()}
  setup_seconds = time.perf_counter() - start
  start = time.perf_counter()
  compiled = jax.jit(over_runs(train, (0, None), (None, 0))).lower(keys, hparams).compile()
  compile_seconds = time.perf_counter() - start
  start = time.perf_counter()
  final, history = jax.block_until_ready(compiled(keys, hparams))
  train_seconds = time.perf_counter() - start
  return FitResult(
      state=final,
      history={name: np.moveaxis(np.asarray(values), 2, 0) for name, values in history.items()},
      train_data=None,
      val_data=None,
      setup_seconds=setup_seconds,
      compile_seconds=compile_seconds,
      train_seconds=train_seconds,
  )
