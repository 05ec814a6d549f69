"""What a run draws, as plain data, and who draws it: this process, or a child Python that draws
one variant's figures while the next variant trains.

A `Figure` names a `rabbitjax.plots` function and its arguments (numbers, strings, the
dataclasses below): nothing of JAX, so that the drawing process needs neither JAX nor the
training's state, and the training process never imports matplotlib. Where the process may
use two cores or more, `submit` sends them to a child (started once per process, reused by every
run); on one core, or with $RABBITJAX_FIGURES=inline, here. Either way `Drawing.wait()` returns
once the files are written, or raises what drawing them raised (an OSError of a full disk as
it is): a variant's records are committed only after it.
"""

import atexit
import dataclasses
import os
import pathlib
import pickle
import signal
import subprocess
import sys
import traceback

import numpy as np

FIGURES_ENV = "RABBITJAX_FIGURES"  # "inline", "child", or unset: a child where >= 2 cores


@dataclasses.dataclass(frozen=True)
class Figure:
  """One PNG: `rabbitjax.plots.<function>(**arguments, path=directory / filename)`."""

  function: str
  filename: str
  arguments: dict


@dataclasses.dataclass
class FitPanel:
  """Scattered data with the true curve and one fitted curve per seed, for one sweep point."""

  title: str
  x: np.ndarray
  y: np.ndarray
  x_grid: np.ndarray
  truth: np.ndarray
  fits: list


@dataclasses.dataclass
class ValueMap:
  """A grid world's state values as a heatmap, with an arrow for the greedy action of each cell."""

  title: str
  values: np.ndarray  # (rows * columns,)
  actions: np.ndarray  # (rows * columns,) greedy action per cell, ignored on terminal cells


def draw(figures, directory) -> None:
  """Draws `figures` into `directory`, here."""
  from rabbitjax import plots  # matplotlib: only where figures are drawn

  for figure in figures:
    getattr(plots, figure.function)(**figure.arguments, path=pathlib.Path(directory) / figure.filename)


class Drawing:
  """Figures being drawn; `wait()` until they are written (re-raising what drawing raised)."""

  def __init__(self, wait=lambda: None):
    self._wait = wait

  def wait(self) -> None:
    wait, self._wait = self._wait, lambda: None
    wait()


class _Child:
  """A child Python running `serve()`: one pickled (figures, directory) in per batch on its
  stdin, one pickled exception or None back per batch on its stdout, in order."""

  def __init__(self):
    # Its BLAS on one thread (unless the user says otherwise): a figure's products are small,
    # and OpenBLAS' idle threads spin on the core the training runs on (BUILD_NOTES, Figures).
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
      env.setdefault(name, "1")
    self.process = subprocess.Popen(
        [sys.executable, "-c", "from rabbitjax import figures; figures.serve()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    self.sent = self.received = 0

  def submit(self, figures, directory) -> Drawing:
    try:
      pickle.dump((figures, str(directory)), self.process.stdin)
      self.process.stdin.flush()
    except OSError:  # the child has gone (killed): draw here instead
      return _here(figures, directory)
    self.sent += 1
    number = self.sent

    def wait():
      while self.received < number:
        try:
          error = pickle.load(self.process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):  # gone while drawing: draw here
          self.sent = self.received  # nothing more will come
          draw(figures, directory)
          return
        self.received += 1
        if error is not None and self.received == number:
          raise error

    return Drawing(wait)

  def alive(self) -> bool:
    return self.process.poll() is None

  def close(self) -> None:
    """Ends the child: idle by now (every batch was waited for), it exits when its stdin
    closes; its own tear-down is not waited for."""
    try:
      self.process.stdin.close()
    except OSError:
      pass


def _here(figures, directory) -> Drawing:
  """Drawn in this process, when waited for (as the child's are drawn by then)."""
  return Drawing(lambda: draw(figures, directory))


_child: _Child | None = None


def _use_child() -> bool:
  setting = os.environ.get(FIGURES_ENV, "")
  if setting in ("inline", "child"):
    return setting == "child"
  return len(os.sched_getaffinity(0)) >= 2 if hasattr(os, "sched_getaffinity") else (
      (os.cpu_count() or 1) >= 2)


def start() -> None:
  """Starts the child now (the launcher does, before importing JAX, so that its imports run
  beside the parent's), where figures are drawn in one."""
  global _child
  if _use_child() and (_child is None or not _child.alive()):
    _child = _Child()
    atexit.register(_child.close)


def submit(figures, directory) -> Drawing:
  """Starts drawing `figures` into `directory`: in the child where there is one, else here."""
  if not figures:
    return Drawing()
  start()
  if _child is None or not _use_child():
    return _here(figures, directory)
  return _child.submit(figures, directory)


def _warm_up() -> None:
  """matplotlib imported and its fonts loaded (the first figure's fixed costs) before the
  first batch comes, while the parent is still importing JAX."""
  from rabbitjax import plots

  plots.warm_up()


def serve() -> None:
  """The child's loop: draws each batch it is sent until its stdin closes."""
  # A Ctrl-C reaches the whole process group: the parent stops at its next safe point and
  # still needs the figures of the variant it commits.
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
  sys.stdout = sys.stderr  # nothing but results on the pipe
  _warm_up()
  while True:
    try:
      figures, directory = pickle.load(stdin)
    except EOFError:
      return
    try:
      draw(figures, directory)
      error = None
    except Exception as err:  # sent back whole; the parent raises it
      error = err
      try:
        pickle.dumps(error)
      except Exception:
        error = RuntimeError("".join(traceback.format_exception(err)))
    pickle.dump(error, stdout)
    stdout.flush()
