r"""Launches an exercise from its config file.

    python -m experiments.main --config=experiments/configs/linear_regression.py --workdir=runs/lin
    python -m experiments.main --config=experiments/configs/linear_regression.py:quick \
        --workdir=/tmp/lin --config.num_seeds=4

Bad flags or config values end the run with one line on stderr and exit status 2.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from rabbitjax.config import ConfigError
from rabbitjax.data import DatasetUnavailableError
from rabbitjax.experiment import run_experiment

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Directory for history.json, summary.json/md and plots.")
flags.DEFINE_string(
    "data_dir", None, "tfds data directory (default: $TFDS_DATA_DIR, then tfds' default)."
)
config_flags.DEFINE_config_file(
    "config", None, "Exercise config file, optionally with ':quick'.", lock_config=True
)
flags.mark_flags_as_required(["config", "workdir"])


def _fail(message: str) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def parse_flags(argv):
  """absl's parser, but a bad flag is one line and exit status 2 rather than a usage dump."""
  try:
    return FLAGS(argv)
  except flags.Error as err:
    _fail(str(err).splitlines()[0])
  except Exception as err:  # A config file that fails to load or to override.
    _fail(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")


def main(argv):
  if len(argv) > 1:
    _fail(f"unexpected arguments: {' '.join(argv[1:])}")
  logging.set_verbosity(logging.WARNING)
  try:
    run_experiment(FLAGS.config, FLAGS.workdir, data_dir=FLAGS.data_dir)
  except (ConfigError, DatasetUnavailableError) as err:
    _fail(str(err))


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
