r"""Our CNNs against the course's Keras code, interleaved in one sitting, at equal precision.

    python -m experiments.versus_keras --rounds=3 --keras_python=$HOME/keras-venv/bin/python \
        --peers=../shared/peers --out=runs/versus_keras.json

Each round runs, case by case, our epoch (`experiments.benchmark --suite=versus_keras`, one
process per case: training only and with the test pass) and the peer script (its own virtual
environment: Keras 3 on TensorFlow, see ../shared/peers/README.md): float32 against float32,
bfloat16 matmuls against Keras' `mixed_bfloat16`. Keras' epoch is training only (its steady
epoch: MNIST the second of two, CIFAR-10 extrapolated from 300 steps after 20 warm-up steps).

In the first `--keras_jax_rounds` rounds the same scripts also run on Keras' JAX backend
(`KERAS_BACKEND=jax`, float32 only: the same compiler as ours, so it separates framework overhead
from XLA:CPU's convolutions). Where Keras is slow (its JAX backend; `mixed_bfloat16` on a CPU
without bf16 units) its MNIST epoch is extrapolated from the second of two epochs of
`--keras_slow_steps` batches (the script's data cut to that many); CIFAR-10 is always
extrapolated from 300 steps.
Medians over the rounds, [min-max], go to stdout as a Markdown table with the CPU model.
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

from absl import app, flags

from rabbitjax import tuning

FLAGS = flags.FLAGS
flags.DEFINE_integer("rounds", 3, "Interleaved rounds (medians are reported).")
flags.DEFINE_string("keras_python", os.path.expanduser("~/keras-venv/bin/python"),
                    "Python of the virtual environment with Keras and TensorFlow.")
flags.DEFINE_string("peers", "../shared/peers", "Folder of the course's Keras scripts.")
flags.DEFINE_string("out", None, "Optional JSON file for every measurement.")
flags.DEFINE_list("models", ["mnist CNN", "cifar10 CNN"], "Which CNNs.")
flags.DEFINE_list("precisions", ["float32", "bfloat16"], "Which precisions (bfloat16: ours "
                  "against Keras' mixed_bfloat16, which is very slow on a CPU without bf16 units).")
flags.DEFINE_integer("keras_jax_rounds", 1, "Rounds (the first ones) that also time the Keras "
                     "scripts on Keras' JAX backend, at float32.")
flags.DEFINE_integer("keras_slow_steps", 100, "MNIST on Keras' JAX backend or at mixed_bfloat16: "
                     "batches per epoch timed (the epoch is extrapolated to 60,000 examples).")

# The policy is set before the script builds its model (the CIFAR-10 script has no flag for it).
_WITH_POLICY = ("import runpy, sys, keras; keras.mixed_precision.set_global_policy(sys.argv.pop(1)); "
                "sys.argv[0] = sys.argv[1]; runpy.run_path(sys.argv.pop(1), run_name='__main__')")
# Slow Keras MNIST runs: `fit` sees only the first `steps` batches of the script's data, and the
# steady (second) epoch is scaled to the full 60,000 examples.
_CUT_MNIST = ("import runpy, sys, keras; steps = int(sys.argv.pop(1)); fit = keras.Model.fit; "
              "keras.Model.fit = lambda self, x, y, **kw: fit(self, x[:steps * 128], "
              "y[:steps * 128], **kw); "
              "sys.argv[0] = sys.argv[1]; runpy.run_path(sys.argv.pop(1), run_name='__main__')")
_KERAS = {
    "mnist CNN": (["keras_mnist_cnn.py", "--epochs", "2"], "steady_epoch_s"),
    "cifar10 CNN": (["keras_cifar10_cnn.py", "--steps", "300"], "steady_epoch_s_extrapolated"),
}


def _ours(case: str) -> float:
  """Seconds of our one epoch of `case` (after compilation)."""
  with tempfile.NamedTemporaryFile(suffix=".json") as out:
    subprocess.run([sys.executable, "-m", "experiments.benchmark", "--suite=versus_keras",
                    f"--cases={case}", "--repeats=1", f"--out={out.name}"], check=True,
                   capture_output=True, text=True)
    row = json.load(open(out.name))["rows"][0]
  return row["all_seconds"]["train"][0] / row["epochs"]


def _keras(model: str, precision: str, backend: str = "tensorflow") -> float:
  """Seconds of the peer script's steady epoch on Keras' `backend`."""
  script, key = _KERAS[model]
  policy = "float32" if precision == "float32" else "mixed_bfloat16"
  if script[0] == "keras_mnist_cnn.py":  # its own flag, which would override the wrapper's
    script = [*script, "--policy", policy]
  command = [FLAGS.keras_python, "-c", _WITH_POLICY, policy, *script]
  slow = backend == "jax" or policy != "float32"
  cut_mnist = slow and script[0] == "keras_mnist_cnn.py"
  if cut_mnist:
    command = [FLAGS.keras_python, "-c", _CUT_MNIST, str(FLAGS.keras_slow_steps), *script]
  completed = subprocess.run(command, cwd=FLAGS.peers, check=True, capture_output=True, text=True,
                             env={**os.environ, "KERAS_BACKEND": backend})
  record = json.loads(completed.stdout.strip().splitlines()[-1])
  if record["versions"].get("keras_backend", backend) != backend:
    raise RuntimeError(f"the Keras script ran on {record['versions']['keras_backend']}, not "
                       f"{backend}")
  scale = 60_000 / (FLAGS.keras_slow_steps * 128) if cut_mnist else 1.0
  return float(record[key]) * scale


def main(argv):
  del argv
  if not pathlib.Path(FLAGS.keras_python).exists():
    raise app.UsageError(f"--keras_python={FLAGS.keras_python} does not exist: set up the peers' "
                         f"virtual environment as {FLAGS.peers}/README.md says")
  columns = ["ours, training only", "ours, with test pass", "Keras, training only",
             "Keras on JAX, training only"]
  seconds = {(model, precision): {column: [] for column in columns}
             for model in FLAGS.models for precision in FLAGS.precisions}
  for round_index in range(FLAGS.rounds):
    for (model, precision), figures in seconds.items():
      figures[columns[0]].append(_ours(f"{model} {precision} training only"))
      figures[columns[1]].append(_ours(f"{model} {precision} with test pass"))
      figures[columns[2]].append(_keras(model, precision))
      if round_index < FLAGS.keras_jax_rounds and precision == "float32":
        try:
          figures[columns[3]].append(_keras(model, precision, backend="jax"))
        except subprocess.CalledProcessError as err:  # the other columns still count
          print(f"Keras on JAX failed for {model}: {err.stderr.strip().splitlines()[-1:]}",
                flush=True)
      print(f"round {round_index + 1}: {model} {precision}: "
            + ", ".join(f"{c} {v[-1]:.2f} s" for c, v in figures.items() if v), flush=True)
  cpu = tuning.cpu_facts()[0]
  print(f"\n{cpu}, {os.cpu_count()} cores; s/epoch, median of {FLAGS.rounds} rounds [min-max]\n")
  print("| CNN | precision (ours / Keras) | " + " | ".join(columns) + " | Keras / ours (training) |")
  print("|---|---|---|---|---|---|---|")
  for (model, precision), figures in seconds.items():
    cells = [f"{statistics.median(v):.1f} [{min(v):.1f}-{max(v):.1f}] ({len(v)})" if v else "-"
             for v in figures.values()]
    ratio = statistics.median(figures[columns[2]]) / statistics.median(figures[columns[0]])
    keras_policy = "float32" if precision == "float32" else "mixed_bfloat16"
    print(f"| {model} | {precision} / {keras_policy} | " + " | ".join(cells) + f" | {ratio:.2f} |")
  if FLAGS.out:
    pathlib.Path(FLAGS.out).write_text(json.dumps(
        {"cpu": cpu, "rounds": FLAGS.rounds,
         "seconds": {f"{m} {p}": figures for (m, p), figures in seconds.items()}}, indent=1))


if __name__ == "__main__":
  app.run(main)
