"""`rabbitjax.run`: an exercise from Python (a notebook, a script), as the launcher runs it.

The same records in the same workdir, the same resume: a second call with the same config keeps
the variants already finished and trains only the rest. `experiments.main` is this function
behind absl flags.

>>> import rabbitjax
>>> results = rabbitjax.run("linear_regression:quick", log=None, num_seeds=2)
>>> results.variants
['slope_3', 'slope_minus_6']
>>> results.finals("slope_3", "val_loss").shape  # (seeds, points: the noise levels swept)
(2, 2)
"""

import dataclasses
import functools
import importlib.util
import json
import pathlib
import sys
import tempfile
from typing import Callable

import ml_collections
import numpy as np

from rabbitjax import compiler, figures
from rabbitjax.cache import enable_compilation_cache
from rabbitjax.config import ConfigError
from rabbitjax.report import recorded_finals

# The course's config files, beside the package in a checkout.
REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
CONFIG_DIR = REPOSITORY / "experiments" / "configs"


@dataclasses.dataclass(frozen=True)
class Results:
  """A workdir's records: the summary (summary.json) and history (history.json, read when
  first needed) of every variant, as `rabbitjax.run` or `experiments.main` left them."""

  workdir: pathlib.Path
  summary: dict

  @classmethod
  def load(cls, workdir) -> "Results":
    workdir = pathlib.Path(workdir)
    return cls(workdir, json.loads((workdir / "summary.json").read_text()))

  @functools.cached_property
  def history(self) -> dict:
    return json.loads((self.workdir / "history.json").read_text())

  @property
  def variants(self) -> list[str]:
    return list(self.summary["variants"])

  def seeds(self, variant: str) -> list[int]:
    return self.summary["variants"][variant]["seeds"]

  def points(self, variant: str) -> list[dict]:
    """Each sweep point's swept values, in the order of the points axis."""
    return [point["hparams"] for point in self.summary["variants"][variant]["points"]]

  def finals(self, variant: str, metric: str) -> np.ndarray:
    """(seeds, points) final values of a metric (or per-run output); NaN for diverged runs."""
    return recorded_finals(self.summary["variants"][variant], metric)

  def curves(self, variant: str, metric: str) -> np.ndarray:
    """(entries, seeds, points): the metric at every epoch (or log entry) of every run."""
    return np.array(self.history[variant]["metrics"][metric], np.float64)

  @property
  def figures(self) -> list[pathlib.Path]:
    return sorted(self.workdir.glob("*.png"))


def load_config(config) -> ml_collections.ConfigDict:
  """A ConfigDict (copied), a config file's path, or a config's name ("mnist_cnn"), either
  with ":quick" for its quick mode."""
  if isinstance(config, ml_collections.ConfigDict):
    return ml_collections.ConfigDict(config.to_dict())
  text, _, mode = str(config).partition(":")
  path = pathlib.Path(text)
  if path.suffix != ".py":
    path = CONFIG_DIR / f"{text}.py"
  if not path.is_file():
    names = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.py") if not p.stem.startswith("_")))
    raise ConfigError(f"no config {text!r}: give a config file, a ConfigDict or one of {names}")
  if str(REPOSITORY) not in sys.path:  # config files import experiments.configs
    sys.path.insert(0, str(REPOSITORY))
  spec = importlib.util.spec_from_file_location(f"_rabbitjax_config_{path.stem}", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  try:
    return module.get_config(mode or None)
  except ValueError as err:  # an unknown mode
    raise ConfigError(str(err)) from None


def run(config, workdir=None, *, data_dir: str | None = None, fresh: bool = False,
        log: Callable[[str], None] | None = print, every_entry: bool = False, command_line=(),
        **overrides) -> Results:
  """Trains `config`'s selected variants into `workdir` and returns its records.

  Args:
    config: a ConfigDict, a config file's path or a config's name, optionally ":quick".
    workdir: where the records go; None: a new temporary directory (`Results.workdir`).
    data_dir: the tfds data directory (default: $TFDS_DATA_DIR, then tfds' default).
    fresh: discard the workdir's earlier records first.
    log: where the progress lines go (None: nowhere).
    every_entry: log every epoch line (the launcher's --verbosity=1).
    command_line: fields already set on `config` that win over every variant's values (the
      launcher's --config.NAME flags); `overrides` are set and win likewise.
    **overrides: config fields, e.g. num_seeds=2, variant="slope_3".

  Raises:
    ConfigError, DatasetUnavailableError, WorkdirError, StorageError as the launcher reports
    them (compiler.CompilerError for a jaxlib that computes wrong).
  """
  from rabbitjax.experiment import run_experiment

  figures.start()  # its imports and warm-up beside the checks and the first variant's training
  compiler.check()
  enable_compilation_cache()
  config = load_config(config)
  with config.unlocked():
    config.update(overrides)
  if workdir is None:
    workdir = tempfile.mkdtemp(prefix="rabbitjax_")
  # As given: run_experiment refuses an empty one (pathlib would make it the current directory).
  summary = run_experiment(config, workdir, data_dir=data_dir, log=log or (lambda line: None),
                           command_line=set(command_line) | set(overrides), fresh=fresh,
                           every_entry=every_entry)
  return Results(pathlib.Path(workdir), summary)
