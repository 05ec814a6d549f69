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


def _one_line(err: BaseException) -> str:
  """An exception's text on one line; of an embedded traceback only its final line is kept."""
  lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
  if any(line.startswith("Traceback") for line in lines):
    lines = [lines[0], lines[-1]]
  text = " ".join(lines) or type(err).__name__
  return text if len(text) <= 400 else text[:397] + "..."


def parse_flags(argv):
  """absl's parser, but a bad flag is one line and exit status 2 rather than a usage dump."""
  try:
    remaining = FLAGS(argv)
    # config_flags loads the file lazily; load it now so a bad file fails here, in one line.
    FLAGS.config.get("exercise")
    return remaining
  except flags.Error as err:
    _fail(_one_line(err))
  except (AttributeError, KeyError) as err:
    _fail(f"a --config.* override names no field of the config: {_one_line(err)}")
  except Exception as err:  # A config file that fails to load or to apply its overrides.
    _fail(f"cannot load --config: {_one_line(err)}")


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
