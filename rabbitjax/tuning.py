"""Every choice that depends on the machine, made in one place and recorded.

Models and the engine stay plain: a model takes its `Layers`, the engine its weighted sum, its
vmap, its micro-batch, evaluation batch and seeds-at-once as ordinary arguments, and neither looks
at the machine. `decide` picks them from the backend and the config (`fast`, `conv_formulation`,
`precision`, ...), and says why; the launcher logs the decision once per variant and writes
`Tuning.record()` into summary.json.

The fast path (`rabbitjax.xla_cpu`) is chosen here and nowhere else: on the CPU backend unless
the config says `fast=False`. Every figure below was measured on the project's 2-core CPUs with
jaxlib 0.12.0.1 (BUILD_NOTES.md, "The reference path and the XLA:CPU fast path"). The processor
is recorded, never used to choose: float32 everywhere unless the config asks for bfloat16
matmuls, which pay on some CPUs and not on others.
"""

import dataclasses
import functools
import os
import pathlib
import platform

import jax

from rabbitjax import xla_cpu
from rabbitjax.models.layers import Layers, reference_layers
from rabbitjax.models.rnn import rnn_states
from rabbitjax.train.engine import run_inputs, weighted_sum

# Config values of `conv_formulation`: "auto" for `decide`'s choice, 'lax' for nn.Conv.
CONV_FORMULATIONS = ("auto", "lax", *xla_cpu.conv.FORMULATIONS)
# Of those, the fast path's, and the Winograd ones (float32 only).
FAST_CONV_FORMULATIONS = xla_cpu.conv.FORMULATIONS
WINOGRAD_FORMULATIONS = tuple(xla_cpu.conv.WINOGRAD_TILES)
# Config values of `precision`: of the convolutions' matmul operands (accumulation is float32).
PRECISIONS = tuple(xla_cpu.conv.PRECISIONS)
# Fewer input channels than this and a Winograd tile's matmul has too short a contraction.
WINOGRAD_MIN_INPUTS = 16
# Epochs of at most this many training examples take less time than their dispatch (and the
# host's work for each epoch), so a tenth of the epochs is trained per program call.
SMALL_EPOCH_EXAMPLES = 1024
# Above this many bytes of shuffled epochs (the training set times the seeds vmapped together),
# each step gathers its own batch: there the epoch's copies cost more than the gathers, below it
# less (BUILD_NOTES.md, "Where the shuffled batches are gathered").
GATHER_PER_STEP_MIN_BYTES = 256 * 2**20


@functools.cache
def cpu_facts(cpuinfo: str = "/proc/cpuinfo") -> tuple[str, frozenset]:
  """(model name, flags) of this CPU from Linux's cpuinfo file; empty flags if unreadable."""
  try:
    lines = pathlib.Path(cpuinfo).read_text().splitlines()
  except OSError:
    return platform.processor() or "unknown", frozenset()
  field = lambda key: next((line.split(":", 1)[1].strip() for line in lines
                            if line.split(":", 1)[0].strip() == key), "")
  return field("model name") or platform.processor() or "unknown", frozenset(field("flags").split())


@dataclasses.dataclass(frozen=True)
class Tuning:
  """The machine-dependent arguments a trainer runs with, and why (None: not applicable).

  Attributes:
    backend, cpu: where it runs (the CPU's model name, recorded only).
    fast_path: rabbitjax.xla_cpu's drop-ins replace their references.
    conv_formulation: 'lax' (nn.Conv), 'im2col', 'winograd' or 'winograd4'; None without
      convolutions.
    conv_precision: the convolutions' matmul operands, 'float32' or 'bfloat16'.
    winograd_min_inputs: layers with fewer input channels use im2col instead of Winograd.
    inputs_per_run: training inputs shared by a seed's points enter as each run's own
      (`xla_cpu.engine.run_inputs`).
    microbatch_size, seeds_at_once, eval_batch_size, epochs_per_dispatch, gather_per_step,
      seed_groups: the engine's arguments.
    reasons: why, one sentence per choice that is not the reference's.
  """

  backend: str
  cpu: str
  fast_path: bool = False
  conv_formulation: str | None = None
  conv_precision: str | None = None
  winograd_min_inputs: int | None = None
  inputs_per_run: bool = False
  microbatch_size: int | None = None
  seeds_at_once: int | None = None
  eval_batch_size: int | None = None
  epochs_per_dispatch: int | None = None
  gather_per_step: bool = False
  seed_groups: int | None = None
  reasons: tuple[str, ...] = ()

  @property
  def layers(self) -> Layers:
    """The convolution, dropout and pooling the models are built from."""
    reference = reference_layers(self.conv_precision or "float32")
    conv = reference.conv
    if self.conv_formulation in xla_cpu.conv.FORMULATIONS:  # chosen here, or asked for
      conv = functools.partial(xla_cpu.Conv, formulation=self.conv_formulation,
                               precision=self.conv_precision,
                               winograd_min_inputs=self.winograd_min_inputs or 0)
    if not self.fast_path:
      return dataclasses.replace(reference, conv=conv)
    return Layers(conv=conv, dropout=xla_cpu.Dropout, max_pool=xla_cpu.max_pool_2x2)

  @property
  def recurrence(self):
    """How an RNN computes its states over time (`SimpleRNN.recurrence`)."""
    return xla_cpu.rnn.rnn_states if self.fast_path else rnn_states

  @property
  def weighted_sum(self):
    """The engine's weighted sum of per-example values."""
    return xla_cpu.engine.weighted_sum if self.fast_path else weighted_sum

  @property
  def run_inputs(self):
    """The engine's training inputs of one run."""
    return xla_cpu.engine.run_inputs if self.inputs_per_run else run_inputs

  @property
  def vmap(self):
    """How one run's function is mapped over the sweep's seeds and points."""
    return xla_cpu.engine.vmap if self.fast_path else jax.vmap

  def record(self) -> dict:
    """For summary.json: every field."""
    record = dataclasses.asdict(self)
    record["reasons"] = list(self.reasons)
    return record

  def line(self) -> str:
    """One log line: the choices and their reasons."""
    choices = [f"{name} {value}" for name, value in (
        ("conv", self.conv_formulation and f"{self.conv_formulation} {self.conv_precision}"),
        ("micro-batch", self.microbatch_size), ("seeds at once", self.seeds_at_once),
        ("eval batch", self.eval_batch_size),
        ("epochs per dispatch", self.epochs_per_dispatch),
        ("minibatches gathered", "per step" if self.gather_per_step else None),
        ("seed groups side by side", self.seed_groups))
        if value is not None]
    path = "fast path (rabbitjax.xla_cpu)" if self.fast_path else "reference path"
    return (f"{self.backend} ({self.cpu}), {path}: " + (", ".join(choices) or "no other choice")
            + "".join(f"; {reason}" for reason in self.reasons))


def decide(*, fast: bool = True, has_conv: bool = False, conv_formulation: str = "auto",
           precision: str = "float32", microbatch_size: int = 0, seeds_at_once: int = 0,
           eval_batch_size: int | None = None, default_eval_batch_size: int | None = None,
           shared_inputs: bool = False, num_epochs: int = 1, train_examples: int | None = None,
           epochs_per_dispatch: int = 0, train_bytes: int | None = None, num_seeds: int = 1,
           seeds_side_by_side: bool = False, seed_groups: int = 0, cores: int | None = None,
           backend: str | None = None, cpu: tuple[str, frozenset] | None = None) -> Tuning:
  """The tuning for a run; 0 (or "auto") asks for the automatic choice, anything else is kept.

  Args:
    fast: allow the fast path (config.fast); it is taken on the CPU backend only.
    has_conv: the model has convolutions (the CNNs), which most of the choices are about.
    conv_formulation, precision, microbatch_size, seeds_at_once, eval_batch_size: the config's.
    default_eval_batch_size: the evaluation batch when not a CNN on CPU.
    shared_inputs: several sweep points of a seed train on the same inputs (a tfds dataset);
      with one point there is no point axis to batch over, and the added zero only costs.
    num_epochs, train_examples, epochs_per_dispatch: the run's epochs, the examples in one
      (None: unknown), and the config's epochs per program call (0: automatic).
    train_bytes, num_seeds: the training set's size in bytes (None: unknown, or each run makes
      its own) and the sweep's seeds, of which `seeds_at_once` (all if 0) are shuffled together.
    seeds_side_by_side, seed_groups, cores: the exercise's time is a loop XLA:CPU runs on one
      core (an agent's scan, the RNN's time loops) and a group of its seeds computes what all
      of them vmapped do (measured per exercise: BUILD_NOTES.md); the config's seed groups; the
      cores this process may use (None: os.sched_getaffinity's).
    backend, cpu: this process's (jax.default_backend(), cpu_facts()) unless given (tests); the
      CPU is recorded, never used to choose.
  """
  backend = backend or jax.default_backend()
  cpu_model, _ = cpu or cpu_facts()
  fast_path = fast and backend == "cpu"
  cnn_on_cpu = has_conv and backend == "cpu"
  reasons = []
  if fast_path:
    reasons.append("the fast path: rabbitjax.xla_cpu's drop-ins for their references, each "
                   "faster on XLA:CPU (its table)")
  if has_conv and conv_formulation == "auto":
    if not fast_path:
      conv_formulation = "lax"
    elif precision == "float32":
      conv_formulation = "winograd4"
      reasons.append("Winograd F(4x4,3x3) convolutions in float32, im2col where the input has "
                     f"under {WINOGRAD_MIN_INPUTS} channels: XLA:CPU's lax.conv is 16-20x slower "
                     "inside the epoch's scan, Winograd F(2x2,3x3)'s whole MNIST step 1.5x faster "
                     "than im2col's, F(4x4,3x3)'s 14% faster than F(2x2,3x3)'s")
    else:
      conv_formulation = "im2col"
      reasons.append("im2col convolutions with bfloat16 matmuls, as configured: XLA:CPU's "
                     "lax.conv is 16-20x slower inside the epoch's scan, Winograd 2x slower than "
                     "im2col in bfloat16")
  # Micro-batches are a config option only: on jaxlib 0.12 they no longer pay (1.00-1.03x).
  if not seeds_at_once and cnn_on_cpu:
    seeds_at_once = 1
    reasons.append("seeds in turn, not vmapped: 1.1x faster for the CNNs on CPU")
  if not eval_batch_size:
    eval_batch_size = 16 if cnn_on_cpu else default_eval_batch_size
    if cnn_on_cpu:
      reasons.append("evaluation in batches of 16: the convolutions' intermediates stay in "
                     "cache (1.1-1.5x)")
  inputs_per_run = fast_path and shared_inputs and not has_conv
  if inputs_per_run:
    reasons.append("shared training inputs enter each step as each run's own: XLA:CPU then "
                   "batches the matmuls over seeds x points rather than transposing every weight "
                   "(the dropout MLP's epoch 12% faster; float32 rounding, not bit for bit)")
  if not epochs_per_dispatch and train_examples is not None and (
      train_examples <= SMALL_EPOCH_EXAMPLES and num_epochs >= 20):
    epochs_per_dispatch = num_epochs // 10
    reasons.append(f"{epochs_per_dispatch} epochs per program call (one scan; the same numbers): "
                   f"an epoch of {train_examples} examples costs less than its dispatch")
  shuffled_bytes = (train_bytes or 0) * min(seeds_at_once or num_seeds, num_seeds)
  gather_per_step = shuffled_bytes > GATHER_PER_STEP_MIN_BYTES
  if gather_per_step:
    reasons.append(f"each step gathers its minibatch (the same numbers): the epochs' shuffled "
                   f"copies would be {shuffled_bytes / 2**20:.0f} MiB, written and copied again "
                   "per epoch (the MNIST softmax's 8 seeds: an epoch 4-5x faster)")
  if not seed_groups:
    seed_groups = 1
    if seeds_side_by_side and backend == "cpu":
      cores = cores or len(os.sched_getaffinity(0))
      seed_groups = max(g for g in range(1, min(cores, num_seeds) + 1) if num_seeds % g == 0)
      if seed_groups > 1:
        reasons.append(f"the seeds in {seed_groups} groups trained side by side, one per core "
                       "(the same training; logged means may move by float32 rounding): XLA:CPU "
                       "runs a run's whole loop on one core (REINFORCE and the Q-network train "
                       "1.7-1.9x faster on 2 cores)")
  return Tuning(backend=backend, cpu=cpu_model, fast_path=fast_path,
                conv_formulation=conv_formulation if has_conv else None,
                conv_precision=precision if has_conv else None,
                winograd_min_inputs=(WINOGRAD_MIN_INPUTS if has_conv
                                     and conv_formulation in WINOGRAD_FORMULATIONS
                                     else None),
                inputs_per_run=inputs_per_run,
                microbatch_size=microbatch_size or None, seeds_at_once=seeds_at_once or None,
                eval_batch_size=eval_batch_size,
                epochs_per_dispatch=epochs_per_dispatch if epochs_per_dispatch > 1 else None,
                gather_per_step=gather_per_step,
                seed_groups=seed_groups if seed_groups > 1 else None,
                reasons=tuple(reasons))
