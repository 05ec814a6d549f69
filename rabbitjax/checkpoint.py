"""Checkpoints of a variant's sweep through orbax, for an exact resume, and stopping on a signal.

A checkpoint holds the sweep's whole train state (every run's parameters, optimizer state and
PRNG keys), the history so far and the epoch. Epoch keys are `fold_in(key, epoch)` of the run's
key, so training on from a checkpoint gives the same numbers, bit for bit, as never stopping.
"""

import pathlib
import shutil
import sys
import time

import jax
import numpy as np

from rabbitjax import distributed, io
from rabbitjax.config import ConfigError
from rabbitjax.stopping import Interrupted

# Automatic period: the first save after this much training, then whenever the training since the
# last save is at least _COST_RATIO times what that save took (saving adds at most 2%).
_FIRST_SAVE_SECONDS = 10.0
_COST_RATIO = 50.0

def _quiet_abandoned_reads() -> None:
  """Keep orbax's abandoned reads of a failed restore from printing tracebacks.

  When one array of a checkpoint cannot be read, orbax gives up on the reads still pending:
  each of its coroutines raises the same error again when garbage collected, and TensorStore's
  completion callbacks may find orbax's event loop closed ("Event loop is closed"), at any
  moment later. Python prints each as "Exception ignored in" with a traceback. The failure has
  been reported in one line; any other unraisable exception still reaches the previous hook.
  """
  previous = sys.unraisablehook
  if getattr(previous, "quiets_orbax", False):
    return

  closed_loop = lambda err: isinstance(err, RuntimeError) and str(err) == "Event loop is closed"

  def hook(unraisable):
    code = getattr(unraisable.object, "cr_code", None)
    if not ((code is not None and "orbax" in code.co_filename)
            or closed_loop(unraisable.exc_value)):
      previous(unraisable)

  # A callback raising in one of TensorStore's threads is printed through sys.excepthook.
  previous_excepthook = sys.excepthook

  def excepthook(kind, value, traceback):
    if not closed_loop(value):
      previous_excepthook(kind, value, traceback)

  hook.quiets_orbax = True
  sys.unraisablehook, sys.excepthook = hook, excepthook


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
    """(epoch, state, history) of the latest checkpoint, laid out as `state`; None if none.

    A checkpoint of another layout or model is refused (ConfigError). One that cannot be read
    (a file truncated or missing: a crash or a full disk while it was written) is logged in one
    line and removed, and the variant starts over: a checkpoint only saves time, and a variant
    trained from its start ends with the same numbers as one resumed.
    """
    # No orbax manager (and its threads) for a run that has nothing to restore.
    if not self.directory.is_dir() or not any(self.directory.iterdir()):
      return None
    import orbax.checkpoint as ocp

    manager = self._open()
    epoch = manager.latest_step()
    if epoch is None:
      return None
    self._refuse_other_layout(epoch, state)
    try:
      restored = manager.restore(epoch, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(jax.tree.map(ocp.utils.to_shape_dtype_struct, state)),
          history=ocp.args.StandardRestore()))
    except Exception as err:  # orbax and TensorStore raise several kinds for damaged files
      self.log(f"warning: the checkpoint at epoch {epoch} in {str(self.directory)!r} cannot be "
               f"read ({io.first_line(err)}); removed, the variant starts over from epoch 0")
      _quiet_abandoned_reads()
      self._discard()
      return None
    self.saved_epoch = epoch
    self.log(f"resumed from the checkpoint at epoch {epoch}")
    history = {name: list(np.asarray(values)) for name, values in restored.history.items()}
    return epoch, restored.state, history

  def _refuse_other_layout(self, epoch: int, state) -> None:
    """ConfigError when the checkpoint's arrays are not `state`'s (another mesh, padded seed
    count or model); nothing when its metadata cannot be read (`restore` then decides)."""
    import orbax.checkpoint as ocp

    def shapes(tree, shape=np.shape):
      """{'params/readout/bias': shape}: orbax stores dataclasses as dicts, keys as their data."""
      name = lambda key: str(getattr(key, "name", getattr(key, "key", getattr(key, "idx", key))))
      return {"/".join(map(name, path)): tuple(shape(leaf))
              for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}
    key_data = lambda leaf: np.shape(jax.random.key_data(leaf) if jax.dtypes.issubdtype(
        leaf.dtype, jax.dtypes.prng_key) else leaf)
    try:
      with ocp.StandardCheckpointer() as checkpointer:
        saved = checkpointer.metadata(self.directory.absolute() / str(epoch) / "state")
      saved = shapes(saved.item_metadata.tree, lambda leaf: leaf.shape)
    except Exception:  # damaged or missing metadata: the restore itself will fail and say so
      return
    wanted = shapes(state, key_data)
    if saved != wanted:
      name = next((name for name in wanted if saved.get(name) != wanted[name]),
                  next(iter(saved.keys() - wanted.keys()), "?"))
      raise ConfigError(
          f"the checkpoint in {str(self.directory)!r} does not fit this run ({name}: saved "
          f"{saved.get(name)}, this run {wanted.get(name)}): it was saved with other devices, "
          "mesh or config; rerun with those, or pass --fresh")

  def _discard(self) -> None:
    if self._manager is not None:
      self._manager.close()
      self._manager = None
    if distributed.is_writer():
      shutil.rmtree(self.directory, ignore_errors=True)
    distributed.barrier(f"discard {self.directory}")

  def save(self, epoch: int, state, history: dict) -> None:
    import orbax.checkpoint as ocp

    start = time.perf_counter()
    stacked = {name: np.stack(values) for name, values in history.items()}
    manager = self._open()
    try:
      manager.save(epoch, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                  history=ocp.args.StandardSave(stacked)))
      manager.wait_until_finished()
    except Exception as err:  # a full disk, an OS error: the previous checkpoint stays
      raise io.storage_error(f"the checkpoint at epoch {epoch} in {str(self.directory)!r}",
                             err) from None
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
    # One decision for all processes: each save is a collective write of the global state.
    stop, due = distributed.agree_to_stop(epoch < num_epochs and self._due(epoch))
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
