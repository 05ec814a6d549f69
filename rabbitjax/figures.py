"""What a run draws, as plain data, and who draws it: this process, or a child Python and a
drawer it forks, which draw variants' figures while the next variants train.

A `Figure` names a `rabbitjax.plots` function and its arguments (numbers, strings, the
dataclasses below): nothing of JAX, so that the drawing process needs neither JAX nor the
training's state, and the training process never imports matplotlib. Where the process may
use two cores or more, `submit` sends them round the drawers (started once per process, reused
by every run); on one core, or with $RABBITJAX_FIGURES=inline, here. Either way
`Drawing.wait()` returns once the files are written, or raises what drawing them raised (an OSError of a full disk as
it is): a variant's records are committed only after it.
"""

import atexit
import dataclasses
import os
import pathlib
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import traceback

import numpy as np

FIGURES_ENV = "RABBITJAX_FIGURES"  # "inline", "child", or unset: a child where >= 2 cores
DRAWERS = 2  # drawing processes of the child


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
  """Figures being drawn; `wait()` until they are written (re-raising what drawing raised);
  `done()` says, without waiting, whether `wait()` would return at once."""

  def __init__(self, wait=lambda: None, done=lambda: True):
    self._wait, self._done = wait, done

  def wait(self) -> None:
    wait, self._wait, self._done = self._wait, lambda: None, lambda: True
    wait()

  def done(self) -> bool:
    return self._done()


class _Child:
  """A child Python running `serve()` on `drawers` channels (socket pairs): after its warm-up
  it forks, so that each channel has a process of its own, drawing in parallel. Per channel,
  one pickled (figures, directory) in per batch, one pickled exception or None back, in order.
  """

  def __init__(self, drawers: int):
    # Its BLAS on one thread (unless the user says otherwise): a figure's products are small,
    # and OpenBLAS' idle threads spin on the core the training runs on (BUILD_NOTES, Figures).
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
      env.setdefault(name, "1")
    pairs = [socket.socketpair() for _ in range(drawers)]
    theirs = [pair[1].fileno() for pair in pairs]
    # A session of its own: a signal to the run's process group (Ctrl-C, a job's SIGTERM)
    # stops the run at its next safe point, which still needs the variant's figures.
    self.process = subprocess.Popen(
        [sys.executable, "-c", f"from rabbitjax import figures; figures.serve({theirs})"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, pass_fds=theirs, env=env,
        start_new_session=True)
    for pair in pairs:
      pair[1].close()
    self.channels = [_Channel(pair[0]) for pair in pairs]
    self.turn = 0  # the channel the next figure goes to first

  def submit(self, figures, directory) -> Drawing:
    """Sends the figures round the open channels, one at a time; waits for every part."""
    parts = {}
    for figure in figures:
      open_channels = [channel for channel in self.channels if channel.open]
      if not open_channels:
        parts.setdefault(None, []).append(figure)
        continue
      channel = open_channels[self.turn % len(open_channels)]
      self.turn += 1
      parts.setdefault(channel, []).append(figure)
    drawings = [channel.submit(part, directory) if channel is not None else
                _here(part, directory) for channel, part in parts.items()]

    def wait():
      errors = []
      for drawing in drawings:  # every part waited for, the first failure raised
        try:
          drawing.wait()
        except Exception as err:  # noqa: BLE001 (raised below, as it is)
          errors.append(err)
      if errors:
        raise errors[0]

    return Drawing(wait, lambda: all(drawing.done() for drawing in drawings))

  def alive(self) -> bool:
    return self.process.poll() is None and all(channel.open for channel in self.channels)

  def close(self) -> None:
    """Ends the drawers: idle by now (every batch was waited for), each exits when its channel
    closes; their own tear-down is not waited for."""
    for channel in self.channels:
      channel.close()


class _Channel:
  """One drawer's socket: batches sent as pickles, answers read back in order, each a pickle
  after its length (read straight from the socket, so that `select` sees every answer not yet
  read and `done` need not wait)."""

  def __init__(self, sock):
    self.socket = sock
    self.writer = sock.makefile("wb")
    self.open = True
    self.sent = self.received = 0
    self.errors = {}  # batch number -> what drawing it raised, until its wait takes it

  def submit(self, figures, directory) -> Drawing:
    """Sends one batch; a drawing of it here where the drawer has gone."""
    try:
      pickle.dump((figures, str(directory)), self.writer)
      self.writer.flush()
    except OSError:  # the drawer has gone (killed): draw here instead
      self.open = False
      return _here(figures, directory)
    self.sent += 1
    number = self.sent

    def wait():
      while self.received < number and self.open:
        self._receive()
      if self.received < number:  # its answer never comes: drawn here
        draw(figures, directory)
      elif number in self.errors:
        raise self.errors.pop(number)

    def done():
      while (self.received < number and self.open
             and select.select([self.socket], [], [], 0)[0]):
        self._receive()
      return self.received >= number

    return Drawing(wait, done)

  def _receive(self) -> None:
    """Reads the next answer (waiting for it); on a closed or broken socket, marks it closed."""
    try:
      length = struct.unpack("<Q", self._read(8))[0]
      error = pickle.loads(self._read(length))
    except (EOFError, OSError, pickle.UnpicklingError):  # the drawer has gone
      self.open = False
      return
    self.received += 1
    if error is not None:
      self.errors[self.received] = error

  def _read(self, size: int) -> bytes:
    data = b""
    while len(data) < size:
      chunk = self.socket.recv(size - len(data))
      if not chunk:
        raise EOFError
      data += chunk
    return data

  def close(self) -> None:
    self.open = False
    for stream in (self.writer, self.socket):
      try:
        stream.close()
      except OSError:
        pass


def _here(figures, directory) -> Drawing:
  """Drawn in this process, when waited for (as the child's are drawn by then)."""
  return Drawing(lambda: draw(figures, directory), done=lambda: False)


_child: _Child | None = None


def _cores() -> int:
  return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
      os.cpu_count() or 1)


def _use_child() -> bool:
  setting = os.environ.get(FIGURES_ENV, "")
  if setting in ("inline", "child"):
    return setting == "child"
  return _cores() >= 2


def start() -> None:
  """Starts the child now (the launcher does, before importing JAX, so that its imports run
  beside the parent's), where figures are drawn in one."""
  global _child
  if _use_child() and (_child is None or not _child.alive()):
    if _child is not None:
      _child.close()  # what is left of it (a drawer whose sibling died) exits
    # Two drawers: a variant's figures are drawn beside the next variant's (`run_experiment`
    # sends them before it waits for the previous), and beside each other.
    _child = _Child(DRAWERS)
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


def serve(channels: list[int]) -> None:
  """The child: warms up, forks a drawer for every channel (socket descriptor) but the first,
  which it serves itself; each draws the batches of its channel until it closes."""
  # The parent decides when to stop (at its next safe point), and still needs the figures of
  # the variant it commits then.
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  sys.stdout = sys.stderr  # what it prints, beside its warnings
  _warm_up()
  signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # its drawers reaped as they exit
  mine = channels[0]
  for channel in channels[1:]:  # forked warm: matplotlib and its fonts loaded once
    if os.fork() == 0:
      mine = channel
      break
  for channel in channels:
    if channel != mine:
      os.close(channel)
  sock = socket.socket(fileno=mine)
  _serve(sock.makefile("rb"), sock)
  # At once, nothing flushed or closed but stderr (the parent may have gone): Python's tear-down
  # of matplotlib's modules would keep the run's stderr open (a pipe's reader waiting).
  sys.stderr.flush()
  os._exit(0)


def _serve(requests, sock) -> None:
  """Draws each batch read from `requests`, answering on `sock`, until `requests` ends or the
  parent has gone."""
  while True:
    try:
      figures, directory = pickle.load(requests)
    except (EOFError, OSError):
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
    answer = pickle.dumps(error)
    try:
      sock.sendall(struct.pack("<Q", len(answer)) + answer)
    except OSError:  # the parent has gone
      return
