r"""Launches an exercise from its config file.

    python -m experiments.main --config=experiments/configs/linear_regression.py --workdir=runs/lin
    python -m experiments.main --config=experiments/configs/linear_regression.py:quick \
        --workdir=/tmp/lin --config.num_seeds=4

Rerunning the same command resumes (finished variants kept, an interrupted one from its last
checkpoint); --fresh starts over. Epoch lines are rate-limited (the first, the last, at most
one a second and one per tenth of the epochs); --verbosity=1 logs every one (metrics.jsonl
always has them all). Several hosts: the same command on each, with
--coordinator_address=HOST:PORT --num_processes=N --process_id=I (or --distributed where JAX
detects the cluster: Cloud TPU, SLURM); process 0 writes the records. Exit status: 0 done; 2 bad input (one line on stderr); 3 a run
diverged (NaN or infinite loss or metric) and the config does not expect it; 4 a file could not
be written (a full disk); 130 / 143 stopped by SIGINT / SIGTERM after saving.
"""

import sys

from rabbitjax import figures, stopping

if __name__ == "__main__":
  stopping.install()  # before JAX is imported: see rabbitjax/stopping.py
  figures.start()  # the figures' process imports matplotlib while this one imports JAX

from absl import app, flags  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from experiments import cli  # noqa: E402
from rabbitjax import api, distributed  # noqa: E402
from rabbitjax.config import ConfigError, command_line_fields  # noqa: E402
from rabbitjax.data import DatasetUnavailableError  # noqa: E402
from rabbitjax.io import StorageError, WorkdirError  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Directory for the records (summary, history, plots), "
                    "checkpoints and metrics.jsonl.")
flags.DEFINE_string(
    "data_dir", None, "tfds data directory (default: $TFDS_DATA_DIR, then tfds' default)."
)
flags.DEFINE_bool("fresh", False, "Discard the workdir's records and checkpoints and start over "
                  "(needed to rerun into a workdir with another config).")
flags.DEFINE_string("coordinator_address", None, "Several processes (jax.distributed): "
                    "HOST:PORT of process 0's coordinator.")
flags.DEFINE_integer("num_processes", None, "Several processes: how many take part.")
flags.DEFINE_integer("process_id", None, "Several processes: this one's index, 0 .. N-1.")
flags.DEFINE_bool("distributed", False, "Start jax.distributed with what JAX detects of the "
                  "cluster (Cloud TPU, SLURM, ...) where the three flags above are not given.")
config_flags.DEFINE_config_file(
    "config", None, "Exercise config file, optionally with ':quick'.", lock_config=True
)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
  every_entry = cli.every_entry()
  distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id,
                         automatic=FLAGS.distributed)
  cli.check_compiler()
  log = print if distributed.is_writer() else None
  try:
    summary = api.run(FLAGS.config, FLAGS.workdir, data_dir=FLAGS.data_dir, log=log,
                      command_line=command_line_fields(sys.argv), fresh=FLAGS.fresh,
                      every_entry=every_entry).summary
  except (ConfigError, DatasetUnavailableError, WorkdirError) as err:
    cli.fail(cli.one_line(err))
  except stopping.Interrupted as err:
    cli.stopped(err)
  except (StorageError, OSError) as err:
    cli.storage_failed(err)
  diverged = sum(variant["diverged_runs"] for variant in summary["variants"].values())
  if diverged and not FLAGS.config.get("divergence_expected", False):
    cli.fail(f"{diverged} runs diverged (NaN or infinite loss or metric; marked in summary.md and "
          "summary.json, left out of the means); set config.divergence_expected=True if the "
          "sweep is meant to find that", cli.DIVERGED)


if __name__ == "__main__":
  cli.run(lambda: app.run(main, flags_parser=lambda argv: cli.parse_flags(argv, load_config=True)))
