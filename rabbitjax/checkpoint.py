"""Checkpoints of a variant's sweep through orbax, for an exact resume, and stopping on a signal.

A checkpoint holds the sweep's whole train state (every run's parameters, optimizer state and
PRNG keys), the history so far and the epoch. Epoch keys are `fold_in(key, epoch)` of the run's
key, so training on from a checkpoint gives the same numbers, bit for bit, as never stopping.
"""

import pathlib
import shutil
import time

import jax
import numpy as np

from rabbitjax import distributed, io
from rabbitjax.config import ConfigError
from rabbitjax.stopping import STOP, Interrupted

# Automatic period: the first save after this much training, then whenever the training since the
# last save is at least _COST_RATIO times what that save took (saving adds at most 2%).
_FIRST_SAVE_SECONDS = 10.0
_COST_RATIO = 50.0

class Checkpoints:
  """One variant's checkpoints under `directory` (orbax, the latest one kept).

  Args:
    directory: where the checkpoints live (workdir/checkpoints/<variant>).
    every: save every that many epochs; 0: automatic (at most 2% of the training time);
      -1: never (a stop request still saves).
    log: where "checkpoint saved" lines go.
  """

  def __init__(self, directory, every: int = 0, log=print):
    self.directory = pathlib.Path(directory)
    self.every = every
    self.log = log
    self.saved_epoch = 0
    self._last_save_seconds = None
    self._since_save = time.perf_counter()
    self._manager = None

  def _open(self):
    import orbax.checkpoint as ocp  # here: runs that never checkpoint never import it

    if self._manager is None:
      options = ocp.CheckpointManagerOptions(max_to_keep=1, create=True,
                                             enable_async_checkpointing=False,
                                             cleanup_tmp_directories=True)
      self._manager = ocp.CheckpointManager(self.directory.absolute(), options=options)
    return self._manager

  def restore(self, state):
    """(epoch, state, history) of the latest checkpoint, laid out as `state`; None if none."""
    # No orbax manager (and its threads) for a run that has nothing to restore.
    if not self.directory.is_dir() or not any(self.directory.iterdir()):
      return None
    import orbax.checkpoint as ocp

    manager = self._open()
    epoch = manager.latest_step()
    if epoch is None:
      return None
    try:
      restored = manager.restore(epoch, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(jax.tree.map(ocp.utils.to_shape_dtype_struct, state)),
          history=ocp.args.StandardRestore()))
    except (ValueError, TypeError) as err:  # shapes of another layout (padded seeds) or model
      raise ConfigError(
          f"the checkpoint in {str(self.directory)!r} does not fit this run ("
          f"{str(err).strip().splitlines()[0][:160]}): it was saved with other devices, mesh or "
          "config; rerun with those, or pass --fresh") from None
    self.saved_epoch = epoch
    self.log(f"resumed from the checkpoint at epoch {epoch}")
    history = {name: list(np.asarray(values)) for name, values in restored.history.items()}
    return epoch, restored.state, history

  def save(self, epoch: int, state, history: dict) -> None:
    import orbax.checkpoint as ocp

    start = time.perf_counter()
    stacked = {name: np.stack(values) for name, values in history.items()}
    manager = self._open()
    manager.save(epoch, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                history=ocp.args.StandardSave(stacked)))
    manager.wait_until_finished()
    if distributed.is_writer():
      for path in self.directory.rglob("*"):  # as open() and mkdir() would, under the umask
        path.chmod(io.dir_mode() if path.is_dir() else io.file_mode())
    self.saved_epoch = epoch
    self._last_save_seconds = time.perf_counter() - start
    self._since_save = time.perf_counter()
    self.log(f"checkpoint saved at epoch {epoch} ({self._last_save_seconds:.2f} s)")

  def _due(self, epoch: int) -> bool:
    if self.every > 0:
      return epoch % self.every == 0
    if self.every < 0:
      return False
    since = time.perf_counter() - self._since_save
    if self._last_save_seconds is None:
      return since >= _FIRST_SAVE_SECONDS
    return since >= _COST_RATIO * self._last_save_seconds

  def after_epoch(self, epoch: int, num_epochs: int, state, history: dict) -> None:
    """Saves when due (never after the last epoch: the records take over); on a stop request
    saves and raises Interrupted."""
    # Process 0 decides for all: each save is a collective write of the global state.
    stop, due = distributed.agree((STOP.is_set(), epoch < num_epochs and self._due(epoch)))
    if stop:
      if epoch > self.saved_epoch and epoch < num_epochs:
        self.save(epoch, state, history)
      raise Interrupted(f"after epoch {epoch}")
    if due:
      self.save(epoch, state, history)

  def delete(self) -> None:
    """Removes the checkpoints (the variant's records are committed)."""
    if self._manager is not None:
      self._manager.close()
      self._manager = None
    distributed.barrier(f"delete {self.directory}")  # no process still reading them
    if distributed.is_writer():
      shutil.rmtree(self.directory, ignore_errors=True)
