"""Every speed measure that depends on the machine, decided in one place and recorded.

Models and the engine stay plain: a model takes its convolution formulation, the engine its
micro-batch, evaluation batch and seeds-at-once as ordinary arguments, and neither looks at the
machine. `decide` picks those arguments from the backend and the config's precision, and says
why; the launcher logs the decision once per variant and writes `Tuning.record()` into
summary.json. Each choice was measured on the project's 2-core CPU with the jaxlib in use
(BUILD_NOTES.md, "Compiler": the table of every XLA:CPU choice on jaxlib 0.10.2 and 0.12.0.1).
No default depends on the processor's flags: float32 everywhere unless the config asks for
bfloat16 matmuls (`precision`), which pay on some CPUs and not on others.

XLA:CPU measures that act elsewhere, each tested against the plain form: one gather per epoch
(`engine.minibatches`), weighted sums as dots (`engine._weighted_sums`), no vmap over a size-1
run axis (`mapping._map_axis`), the reshape max-pool (`models/conv.py`) and byte dropout masks
(`models/dropout.py`).
"""

import dataclasses
import functools
import pathlib
import platform

import jax

from rabbitjax.models.conv import IMPLEMENTATIONS, WINOGRAD_MIN_INPUTS

# Config values of `conv_impl`: a formulation, or "auto" for `decide`'s choice.
CONV_CHOICES = ("auto", *IMPLEMENTATIONS)
# Config values of `precision`: of the convolutions' matmuls (accumulation is float32 in both).
PRECISIONS = ("float32", "bfloat16")


def conv_precision(conv_impl: str | None) -> str | None:
  """The matmul precision of a conv formulation ('float32' or 'bfloat16'), None for no conv."""
  if conv_impl is None:
    return None
  return "bfloat16" if conv_impl.endswith("_bf16") else "float32"


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
  """The machine-dependent arguments a trainer runs with, and why (None: not applicable)."""

  backend: str
  cpu: str
  conv_impl: str | None = None
  microbatch_size: int | None = None
  seeds_at_once: int | None = None
  eval_batch_size: int | None = None
  reasons: tuple[str, ...] = ()

  def record(self) -> dict:
    """For summary.json: every field, plus the convolutions' matmul precision."""
    record = dataclasses.asdict(self)
    record["reasons"] = list(self.reasons)
    record["conv_precision"] = conv_precision(self.conv_impl)
    return record

  def line(self) -> str:
    """One log line: the choices and their reasons."""
    choices = [f"{name} {value}" for name, value in (
        ("conv", self.conv_impl), ("micro-batch", self.microbatch_size),
        ("seeds at once", self.seeds_at_once), ("eval batch", self.eval_batch_size))
        if value is not None]
    return (f"{self.backend} ({self.cpu}): " + (", ".join(choices) or "no machine-dependent "
            "choice") + "".join(f"; {reason}" for reason in self.reasons))


def decide(*, has_conv: bool = False, batch_size: int | None = None, conv_impl: str = "auto",
           precision: str = "float32", microbatch_size: int = 0, seeds_at_once: int = 0,
           eval_batch_size: int | None = None, default_eval_batch_size: int | None = None,
           backend: str | None = None, cpu: tuple[str, frozenset] | None = None) -> Tuning:
  """The tuning for a run; 0 (or "auto") asks for the automatic choice, anything else is kept.

  Args:
    has_conv: the model has convolutions (the CNNs), which most of the choices are about.
    batch_size: the training batch, which a micro-batch must divide.
    conv_impl, precision, microbatch_size, seeds_at_once, eval_batch_size: the config's values.
    default_eval_batch_size: the evaluation batch when not a CNN on CPU.
    backend, cpu: this process's (jax.default_backend(), cpu_facts()) unless given (tests); the
      CPU is recorded, never used to choose.
  """
  backend = backend or jax.default_backend()
  cpu_model, _ = cpu or cpu_facts()
  cnn_on_cpu = has_conv and backend == "cpu"
  bf16 = "_bf16" if precision == "bfloat16" else ""
  reasons = []
  if has_conv and conv_impl == "auto":
    if backend != "cpu":
      conv_impl = "lax" + bf16
    elif precision == "float32":
      conv_impl = "winograd"
      reasons.append("Winograd F(2x2,3x3) convolutions in float32, im2col where the input has "
                     f"under {WINOGRAD_MIN_INPUTS} channels: XLA:CPU's lax.conv is 16-20x slower "
                     "inside the epoch's scan, Winograd's whole MNIST step 1.5x faster than "
                     "im2col's")
    else:
      conv_impl = "im2col_bf16"
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
  return Tuning(backend=backend, cpu=cpu_model, conv_impl=conv_impl if has_conv else None,
                microbatch_size=microbatch_size or None, seeds_at_once=seeds_at_once or None,
                eval_batch_size=eval_batch_size, reasons=tuple(reasons))
