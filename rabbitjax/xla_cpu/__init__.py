"""The fast path: drop-ins that exist for XLA:CPU's speed, each replacing one reference piece.

Every entry has its reference's signature and numbers (values and gradients to float32
rounding; for dropout, the law of its samples) and is tested against it (tests/test_xla_cpu.py).
Only `rabbitjax.tuning.decide` picks them, for the CPU backend unless `config.fast=False`, and
the run records which (summary.json's "tuning"). With the fast path off, or on a GPU or TPU,
the reference path runs: what models/ and train/ say.

  drop-in                    replaces                                  why (XLA:CPU, 2 cores)
  conv.Conv('winograd4')     nn.Conv (3x3, >= 16 input channels)       16-20x faster in a scan
  conv.Conv('im2col')        nn.Conv (and bfloat16_operands)           16-20x faster in a scan
  conv.max_pool_2x2          models.layers.max_pool_2x2                12-19% off a CNN step
  dropout.Dropout            nn.Dropout (rates k/256: byte masks)      12 -> 2 ms of 84 per step
  engine.weighted_sum        train.engine.weighted_sum (a dot)         ~30% off a regression sweep
  engine.vmap                jax.vmap (size-1 axes squeezed)           12-18% off a CNN step
  rnn.rnn_states             models.rnn.rnn_states (scan + autodiff)   the RNN epoch 2.4-5.6x faster
"""

from rabbitjax.xla_cpu import engine, rnn
from rabbitjax.xla_cpu.conv import Conv, max_pool_2x2
from rabbitjax.xla_cpu.dropout import Dropout

__all__ = ["Conv", "Dropout", "engine", "max_pool_2x2", "rnn"]
