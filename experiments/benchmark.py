r"""Speed benchmarks: how much a vmapped sweep costs against one run of the same model.

    python -m experiments.benchmark --suite=regression --repeats=5 --out=runs/bench.json

Each case is trained `repeats` times from scratch, the cases interleaved; compile time (the epoch
program) and training time (all epochs after compilation) are reported apart, as medians. Timings go to stdout as a
Markdown table and, with --out, to a JSON file with the machine's description.
"""

import dataclasses
import json
import os
import platform
import statistics
import time
from typing import Callable

import jax
from absl import app, flags

from experiments.configs import (
    cubic_regression,
    linear_regression,
    q_learning,
    reinforce,
    rnn_binary_addition,
)
from rabbitjax.exercises import EXERCISES
from rabbitjax.config import validate_config, variant_config, variant_names
from rabbitjax.experiment import make_run_sweep
from rabbitjax.train import fit

FLAGS = flags.FLAGS
flags.DEFINE_enum("suite", "regression", ["regression", "rnn", "rl"], "Which benchmark suite.")
flags.DEFINE_integer("repeats", 5, "Timed repetitions per case (medians are reported).")
flags.DEFINE_string("out", None, "Optional JSON file for the figures.")


@dataclasses.dataclass
class Case:
  """One timed configuration: its name and a config factory."""

  name: str
  make_config: Callable


def _single_run(config):
  config.num_seeds = 1
  config.sweep = {}
  return config


def _regression_cases() -> list[Case]:
  cases = []
  for module in (linear_regression, cubic_regression):
    exercise = module.__name__.rsplit(".", 1)[-1]
    cases.append(Case(f"{exercise} 1 seed x 1 noise", lambda m=module: _single_run(m.get_config())))
    cases.append(Case(f"{exercise} 8 seeds x 5 noise", lambda m=module: m.get_config()))
  return cases


def _base_variant():
  config = rnn_binary_addition.get_config()
  config.variant = "base"
  return config


def _rnn_cases() -> list[Case]:
  return [
      Case("rnn base 1 seed", lambda: _single_run(_base_variant())),
      Case("rnn base 8 seeds", _base_variant),
  ]


SUITES = {"regression": _regression_cases, "rnn": _rnn_cases}


def rl_benchmark(repeats: int) -> list[dict]:
  """Env steps per second of 1,024 vmapped tabular Q-learners; 16 REINFORCE seeds end to end."""
  rows = []
  config = variant_config(q_learning.get_config(), "slippery_decaying")
  config.update(num_seeds=1024, sweep={}, total_steps=100_000, num_logs=10)
  for _ in range(repeats):
    spec = EXERCISES["q_learning"]
    result = spec.build(config, None).train(make_run_sweep(config, spec.sweepable))
    steps = config.num_seeds * config.total_steps
    rows.append({"case": "tabular Q-learning, 1024 agents x 100k steps", "compile_s":
                 result.compile_seconds, "train_s": result.train_seconds,
                 "steps_per_s": steps / result.train_seconds})
  config = variant_config(reinforce.get_config(), "baseline")
  for _ in range(repeats):
    start = time.perf_counter()
    spec = EXERCISES["reinforce"]
    result = spec.build(config, None).train(make_run_sweep(config, spec.sweepable))
    episodes = config.num_seeds * config.num_updates * config.episodes_per_update
    rows.append({"case": f"REINFORCE CartPole, {config.num_seeds} seeds x {episodes // 16} "
                 "episodes", "compile_s": result.compile_seconds, "train_s": result.train_seconds,
                 "wall_s_with_compile": time.perf_counter() - start})
  return rows


def _prepare(case: Case):
  config = case.make_config()
  spec = validate_config(config)
  variant = variant_config(config, variant_names(config)[0])
  return spec, variant, make_run_sweep(config, spec.sweepable)


def time_cases(cases: list[Case], repeats: int) -> list[dict]:
  """Setup, compile and training seconds of `repeats` fresh fits of each case's first variant.

  Repeats are interleaved across cases (a, b, a, b, ...) so that the machine's slow drifts in
  load fall on every case alike; medians and ranges are reported.
  """
  prepared = [_prepare(case) for case in cases]
  timings = [{"setup": [], "compile": [], "train": []} for _ in cases]
  for _ in range(repeats):
    for (spec, variant, sweep), case_timings in zip(prepared, timings):
      exercise = spec.build(variant, None)
      result = fit(exercise.task, sweep, variant.num_epochs, data=exercise.data,
                   make_data=exercise.make_data)
      case_timings["setup"].append(result.setup_seconds)
      case_timings["compile"].append(result.compile_seconds)
      case_timings["train"].append(result.train_seconds)
  rows = []
  for case, (_, variant, sweep), case_timings in zip(cases, prepared, timings):
    rows.append({
        "case": case.name,
        "runs": len(sweep.seeds) * sweep.num_points,
        "epochs": variant.num_epochs,
        "median_seconds": {k: statistics.median(v) for k, v in case_timings.items()},
        "all_seconds": case_timings,
    })
  return rows


def machine() -> dict:
  return {"platform": platform.platform(), "processor": platform.processor(),
          "cpus": os.cpu_count(), "devices": [str(d) for d in jax.devices()],
          "jax": jax.__version__}


def main(argv):
  del argv
  if FLAGS.suite == "rl":
    rows = rl_benchmark(FLAGS.repeats)
    print(f"machine: {machine()}")
    for row in rows:
      print(" | ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                       for k, v in row.items()))
    if FLAGS.out:
      with open(FLAGS.out, "w") as f:
        json.dump({"machine": machine(), "suite": "rl", "rows": rows}, f, indent=1)
    return
  rows = time_cases(SUITES[FLAGS.suite](), FLAGS.repeats)
  print(f"machine: {machine()}")
  print(f"| case | runs | epochs | compile s | train s, median of {FLAGS.repeats} [min-max] | "
        "train ms/epoch | x single run |")
  print("|---|---|---|---|---|---|---|")
  baseline = None
  for row in rows:
    seconds = row["median_seconds"]
    if row["runs"] == 1:
      baseline = seconds["train"]
    ratio = seconds["train"] / baseline if baseline else float("nan")
    train = row["all_seconds"]["train"]
    print(f"| {row['case']} | {row['runs']} | {row['epochs']} | {seconds['compile']:.2f} | "
          f"{seconds['train']:.3f} [{min(train):.3f}-{max(train):.3f}] | "
          f"{1e3 * seconds['train'] / row['epochs']:.2f} | {ratio:.2f} |")
  if FLAGS.out:
    with open(FLAGS.out, "w") as f:
      json.dump({"machine": machine(), "suite": FLAGS.suite, "rows": rows}, f, indent=1)


if __name__ == "__main__":
  app.run(main)
