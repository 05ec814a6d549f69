r"""Speed benchmarks: sweep cost against one run, and steady epochs against the course's Keras.

    python -m experiments.benchmark --suite=regression --repeats=5 --out=runs/bench.json
    TFDS_DATA_DIR=../shared/tensorflow_datasets python -m experiments.benchmark \
        --suite=classification --repeats=3
    XLA_FLAGS=--xla_force_host_platform_device_count=2 python -m experiments.benchmark \
        --suite=scaling --repeats=3     # and again without XLA_FLAGS: 1 device

The classification suite trains one seed of each classifier for a few epochs (CIFAR-10 on
random data of the real shape, as the dataset is not on these machines) and sets its steady
epoch beside what the course's Keras code took on the same machine kind.

Each case is trained `repeats` times from scratch, the cases interleaved; compile time (the epoch
program) and training time (all epochs after compilation) are reported apart, as medians. Timings go to stdout as a
Markdown table and, with --out, to a JSON file with the machine's description.
"""

import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time
from typing import Callable

import jax
from absl import app, flags, logging

from experiments.configs import (
    cifar10_cnn,
    cubic_regression,
    iris,
    mnist_cnn,
    mnist_dropout_mlp,
    mnist_softmax,
    linear_regression,
    q_approx,
    q_learning,
    reinforce,
    rnn_binary_addition,
)
from rabbitjax import checkpoint, course, distributed, tuning
from rabbitjax.config import variant_config, variant_names
from rabbitjax.data import Dataset
from rabbitjax.exercises import exercise_for
from rabbitjax.rl import CartPole

FLAGS = flags.FLAGS
flags.DEFINE_enum("suite", "regression",
                  ["regression", "rnn", "rl", "classification", "cnn_step", "checkpoint",
                   "scaling", "versus_keras"],
                  "Which benchmark suite.")
flags.DEFINE_integer("repeats", 5, "Timed repetitions per case (medians are reported).")
flags.DEFINE_string("out", None, "Optional JSON file for the figures.")
flags.DEFINE_list("cases", None, "Only the suite's cases whose name contains one of these "
                  "(case-insensitive), e.g. --cases=cnn to time the CNNs alone.")


@dataclasses.dataclass
class Case:
  """One timed configuration of a suite: its name and a config factory."""

  name: str
  make_config: Callable
  keras_seconds_per_epoch: float | None = None  # course.KERAS_SECONDS_PER_EPOCH
  # (image shape, train size, test size): train on random data of that shape, not the dataset.
  random_data: tuple | None = None


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


def _epochs(module, num_epochs: int):
  def make_config():
    config = _single_run(module.get_config())
    config.num_epochs = num_epochs
    return config
  return make_config


def _classification_cases() -> list[Case]:
  keras = course.KERAS_SECONDS_PER_EPOCH  # a reference from another sitting: see its comment
  return [
      Case("iris relu 4-12-3", _epochs(iris, 20), keras["iris"]),
      Case("mnist softmax", _epochs(mnist_softmax, 3)),
      Case("mnist 512-512 dropout MLP", _epochs(mnist_dropout_mlp, 3), keras["mnist_dropout_mlp"]),
      Case("mnist CNN", _epochs(mnist_cnn, 2), keras["mnist_cnn"]),
      Case("cifar10 CNN (random data)", _epochs(cifar10_cnn, 2), keras["cifar10_cnn"],
           random_data=((32, 32, 3), 50_000, 10_000)),
  ]


def _cnn_step_cases() -> list[Case]:
  """The MNIST CNN's training step under each formulation (50 steps of 128, random data)."""
  def case(name, num_seeds=1, **overrides):
    def make_config():
      config = _epochs(mnist_cnn, 2)()
      config.update(num_seeds=num_seeds, **overrides)
      return config
    return Case(name, make_config, random_data=((28, 28, 1), 6400, 128))

  # lax.conv inside the epoch's scan takes ~7.5 s a step on the 2-core CPU: timed off CPU only.
  accelerator_cases = [] if jax.default_backend() == "cpu" else [
      case("lax.conv, whole batch (GPU/TPU default)", conv_formulation="lax", microbatch_size=128),
      case("3 seeds vmapped, lax.conv, whole batch (GPU/TPU default)", 3, conv_formulation="lax",
           microbatch_size=128, seeds_at_once=3),
  ]
  im2col, im2col_bf16 = ({"conv_formulation": "im2col", "precision": precision}
                         for precision in ("float32", "bfloat16"))
  return accelerator_cases + [
      case("im2col f32, whole batch", **im2col, microbatch_size=128),
      case("im2col f32, micro-batches of 16", **im2col, microbatch_size=16),
      case("winograd f32, whole batch", conv_formulation="winograd", microbatch_size=128),
      case("winograd f32, micro-batches of 16", conv_formulation="winograd", microbatch_size=16),
      case("winograd4 f32, whole batch", conv_formulation="winograd4", microbatch_size=128),
      case("im2col bf16, whole batch", **im2col_bf16, microbatch_size=128),
      case("im2col bf16, micro-batches of 16", **im2col_bf16, microbatch_size=16),
      case("3 seeds vmapped, im2col f32, micro 16", 3, **im2col, microbatch_size=16,
           seeds_at_once=3),
      case("3 seeds one at a time, im2col f32, micro 16", 3, **im2col, microbatch_size=16,
           seeds_at_once=1),
      case("3 seeds vmapped, bf16, micro 16", 3, **im2col_bf16, microbatch_size=16,
           seeds_at_once=3),
      case("3 seeds one at a time, bf16, micro 16", 3, **im2col_bf16, microbatch_size=16,
           seeds_at_once=1),
  ]


def _checkpoint_cases() -> list[Case]:
  """What checkpointing costs: the same runs with checkpoints never, and at each period."""
  def with_checkpoints(make_config, every):
    def make():
      config = make_config()
      config.checkpoint_every = every
      return config
    return make

  cases = []
  for module in (linear_regression, cubic_regression):
    name = module.__name__.rsplit(".", 1)[-1]
    cases += [Case(f"{name} 8 seeds x 5 noise, {label}", with_checkpoints(module.get_config, every))
              for label, every in (("no checkpoints", -1), ("automatic", 0), ("every epoch", 1))]
  # 3 epochs: checkpoints after the first two (never after the last: the records take over).
  cases += [Case(f"mnist CNN 1 seed, {label}", with_checkpoints(_epochs(mnist_cnn, 3), every))
            for label, every in (("no checkpoints", -1), ("every epoch", 1))]
  return cases


def _scaling_cases() -> list[Case]:
  """Scale-out over the devices present (run once per device count, e.g. XLA_FLAGS=
  --xla_force_host_platform_device_count=2): the RNN's 8-seed sweep on the seed axis, and one
  MNIST CNN run data-parallel (50 steps of 128 on random data, micro-batches of 16)."""
  def cnn(mesh):
    def make_config():
      config = _epochs(mnist_cnn, 2)()
      config.update(microbatch_size=16, mesh=mesh)
      return config
    return make_config

  devices = jax.device_count()
  return [Case(f"rnn base 8 seeds, mesh auto on {devices} device(s)", _base_variant),
          Case(f"mnist CNN 1 seed, data-parallel on {devices} device(s)", cnn(f"1x{devices}"),
               random_data=((28, 28, 1), 6400, 128))]


def _versus_keras_cases() -> list[Case]:
  """The CNNs' epochs at both precisions, on random data of the real shapes, training only (a
  16-example test set) and with the 10,000-example test pass: what experiments/versus_keras.py
  sets beside the course's Keras code run in the same sitting."""
  def config(module, precision):
    def make_config():
      config = _epochs(module, 1)()
      config.precision = precision
      return config
    return make_config

  return [Case(f"{name} {precision} {label}", config(module, precision),
               random_data=(shape, train_size, test_size))
          for name, module, shape, train_size in (("mnist CNN", mnist_cnn, (28, 28, 1), 60_000),
                                                  ("cifar10 CNN", cifar10_cnn, (32, 32, 3), 50_000))
          for precision in ("float32", "bfloat16")
          for label, test_size in (("training only", 16), ("with test pass", 10_000))]


SUITES = {"checkpoint": _checkpoint_cases, "regression": _regression_cases, "rnn": _rnn_cases,
          "classification": _classification_cases, "cnn_step": _cnn_step_cases,
          "scaling": _scaling_cases, "versus_keras": _versus_keras_cases}


def random_images(key: jax.Array, shape: tuple, train_size: int, test_size: int):
  """(train, test) of uniform images of `shape` with 10 random labels."""
  def split(key, size):
    image_key, label_key = jax.random.split(key)
    return Dataset(jax.random.uniform(image_key, (size, *shape)),
                   jax.random.randint(label_key, (size,), 0, 10))
  train_key, test_key = jax.random.split(key)
  return split(train_key, train_size), split(test_key, test_size)


def _trainer(case: Case, exercise, variant):
  """The launcher's trainer for the case, on random images of the given shape if it says so."""
  if case.random_data is not None:
    return exercise.make_trainer(variant, random_images(jax.random.key(0), *case.random_data))
  return exercise.build(variant)


def _train(config):
  """The first variant of `config` trained as the launcher would; (variant, result)."""
  exercise = exercise_for(config)
  variant = variant_config(config, variant_names(config)[0])
  return variant, exercise.build(variant).train(exercise.sweep(variant))


# The seeds CartPole's agents were tuned on, and a second set nobody tuned on.
RL_SEED_SETS = (0, 100)


def _cartpole_row(case: str, variant, result, wall: float) -> dict:
  """Timings, and the final greedy and training returns per seed, of one CartPole run."""
  greedy = result.history["greedy_return"][-1, :, 0]
  training = result.history["episode_return"][-1, :, 0]
  solved = CartPole.solved_return
  return {"case": case, "seeds": f"{variant.seed}-{variant.seed + variant.num_seeds - 1}",
          "compile_s": result.seconds["compile"], "train_s": result.seconds["train"],
          "wall_s_with_compile": wall,
          "greedy_solved": f"{int((greedy >= solved).sum())} of {len(greedy)}",
          "greedy_mean": float(greedy.mean()), "greedy_per_seed": greedy.round(1).tolist(),
          "training_return_mean": float(training.mean()),
          "training_return_per_seed": training.round(1).tolist()}


def rl_benchmark(repeats: int, patterns: list[str] | None = None) -> list[dict]:
  """Env steps per second of 1,024 vmapped tabular Q-learners; 16 seeds of each CartPole agent
  end to end (with compilation), on the tuned seeds and on an untuned set.

  Cases (--cases): "tabular", "pqn", "semi_gradient", "reinforce".
  """
  chosen = lambda name: not patterns or any(p.lower() in name for p in patterns)
  rows = []
  if chosen("tabular"):
    config = q_learning.get_config()
    config.update(variant="slippery_decaying", num_seeds=1024, sweep={}, total_steps=100_000,
                  num_logs=10)
    for _ in range(repeats):
      variant, result = _train(config)
      steps = variant.num_seeds * variant.total_steps
      rows.append({"case": "tabular Q-learning, 1024 agents x 100k steps", "compile_s":
                   result.seconds["compile"], "train_s": result.seconds["train"],
                   "steps_per_s": steps / result.seconds["train"]})
  agents = [(q_approx, "pqn", "pqn"), (q_approx, "target_network", "semi_gradient"),
            (q_approx, "no_target_network", "semi_gradient"), (reinforce, "baseline", "reinforce")]
  for module, name, case in agents:
    if not chosen(case):
      continue
    for seed in RL_SEED_SETS:
      config = module.get_config()
      config.update(variant=name, seed=seed)
      for _ in range(repeats):
        start = time.perf_counter()
        variant, result = _train(config)
        rows.append(_cartpole_row(f"{module.__name__.rsplit('.', 1)[-1]}/{name}, CartPole",
                                  variant, result, time.perf_counter() - start))
  return rows


def _prepare(case: Case):
  config = case.make_config()
  exercise = exercise_for(config)
  variant = variant_config(config, variant_names(config)[0])
  return exercise, variant, exercise.sweep(variant)


def selected_cases(cases: list[Case], patterns: list[str] | None) -> list[Case]:
  """The cases whose name contains one of `patterns` (all of them when None)."""
  if not patterns:
    return cases
  chosen = [case for case in cases if any(p.lower() in case.name.lower() for p in patterns)]
  if not chosen:
    raise app.UsageError(f"--cases={','.join(patterns)} matches none of: "
                         f"{', '.join(case.name for case in cases)}")
  return chosen


def time_cases(cases: list[Case], repeats: int) -> list[dict]:
  """Setup, compile and training seconds of `repeats` fresh fits of each case's first variant.

  Repeats are interleaved across cases (a, b, a, b, ...) so that the machine's slow drifts in
  load fall on every case alike; medians and ranges are reported.
  """
  prepared = [_prepare(case) for case in cases]
  timings = [{"setup": [], "compile": [], "train": []} for _ in cases]
  steps_per_epoch = [0] * len(cases)
  layouts = [None] * len(cases)
  for _ in range(repeats):
    for index, (case, (exercise, variant, sweep)) in enumerate(zip(cases, prepared)):
      with tempfile.TemporaryDirectory() as directory:
        checkpoints = checkpoint.Checkpoints(directory, variant.checkpoint_every,
                                             log=lambda line: None)
        trainer = _trainer(case, exercise, variant)
        layout = distributed.decide_layout(variant.mesh, len(sweep.seeds), trainer.batch_sizes)
        layouts[index] = layout.line()
        result = trainer.train(sweep, None, checkpoints, layout)
      # Per-run data (drawn per run) leads with (seed, point) axes.
      targets = result.train_data.targets
      per_run = targets.shape[:2] == (len(sweep.seeds), sweep.num_points) and targets.ndim > 2
      steps_per_epoch[index] = -(-targets.shape[2 if per_run else 0] // variant.batch_size)
      for part in ("setup", "compile", "train"):
        timings[index][part].append(result.seconds[part])
      print(f"{case.name}: compile {result.seconds['compile']:.2f} s, "
            f"train {result.seconds['train']:.3f} s", flush=True)
  rows = []
  for case, (_, variant, sweep), case_timings, steps, layout in zip(
      cases, prepared, timings, steps_per_epoch, layouts):
    rows.append({
        "case": case.name,
        "layout": layout,
        "runs": len(sweep.seeds) * sweep.num_points,
        "epochs": variant.num_epochs,
        "median_seconds": {k: statistics.median(v) for k, v in case_timings.items()},
        "all_seconds": case_timings,
        "keras_seconds_per_epoch": case.keras_seconds_per_epoch,
        "steps_per_epoch": steps,
    })
  return rows


def machine() -> dict:
  return {"platform": platform.platform(), "cpu": tuning.cpu_facts()[0],
          "cpus": os.cpu_count(), "devices": [str(d) for d in jax.devices()],
          "jax": jax.__version__}


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # orbax logs every checkpoint at INFO
  if FLAGS.suite == "rl":
    rows = rl_benchmark(FLAGS.repeats, FLAGS.cases)
    print(f"machine: {machine()}")
    for row in rows:
      print(" | ".join(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                       for k, v in row.items()))
    if FLAGS.out:
      with open(FLAGS.out, "w") as f:
        json.dump({"machine": machine(), "suite": "rl", "rows": rows}, f, indent=1)
    return
  rows = time_cases(selected_cases(SUITES[FLAGS.suite](), FLAGS.cases), FLAGS.repeats)
  print(f"machine: {machine()}")
  for row in rows:
    print(f"{row['case']}: {row['layout']}")
  if FLAGS.suite in ("classification", "cnn_step", "checkpoint", "scaling", "versus_keras"):
    print_against_keras(rows)
  else:
    print_sweep_cost(rows)
  if FLAGS.out:
    with open(FLAGS.out, "w") as f:
      json.dump({"machine": machine(), "suite": FLAGS.suite, "rows": rows}, f, indent=1)


def print_against_keras(rows: list[dict]) -> None:
  print(f"Keras: {course.KERAS_MACHINE} (another sitting; same-sitting: experiments.versus_keras)")
  print(f"| case | runs | epochs | compile s | s/epoch, median of {FLAGS.repeats} [min-max] | "
        "ms/step per run | Keras s/epoch | Keras / ours |")
  print("|---|---|---|---|---|---|---|---|")
  for row in rows:
    per_epoch = [seconds / row["epochs"] for seconds in row["all_seconds"]["train"]]
    median = statistics.median(per_epoch)
    keras = row["keras_seconds_per_epoch"]
    versus = f"{keras} | {keras / median:.1f}x" if keras else "- | -"
    per_step = 1e3 * median / row["steps_per_epoch"] / row["runs"]
    print(f"| {row['case']} | {row['runs']} | {row['epochs']} | "
          f"{row['median_seconds']['compile']:.1f} | "
          f"{median:.3g} [{min(per_epoch):.3g}-{max(per_epoch):.3g}] | {per_step:.1f} | {versus} |")


def print_sweep_cost(rows: list[dict]) -> None:
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


if __name__ == "__main__":
  app.run(main)
