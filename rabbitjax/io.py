"""Writing results so that an interrupted run never leaves a half-written or inconsistent record.

Single files (caches) are replaced atomically. A workdir's records (summary, history, tables,
plots) change together: `RecordStore.commit` writes a complete new set into a fresh generation
directory and then swaps one link to it in a single rename, so at any moment, a SIGKILL
included, the records seen in the workdir are one consistent set. All JSON written is strict:
non-finite numbers become null.
"""

import contextlib
import json
import math
import os
import pathlib
import shutil
import tempfile

import numpy as np


class WorkdirError(RuntimeError):
  """The workdir cannot hold records (empty name, a file, not writable)."""


class StorageError(RuntimeError):
  """Writing a record, a plot, the metrics log or a checkpoint failed (a full disk, an OS
  error); what was committed before stays as it was."""


def first_line(err: BaseException) -> str:
  """An error's first line (storage libraries' messages run to many), at most 200 characters."""
  return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


def storage_error(what: str, err: BaseException) -> StorageError:
  """A StorageError naming `what` could not be written and the cause's first line."""
  if isinstance(err, OSError) and err.strerror:
    cause = err.strerror + (f" ({err.filename})" if err.filename else "")
  else:
    cause = first_line(err)
  return StorageError(f"cannot write {what}: {cause}")


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


# mkstemp and orbax make files 0600; ours get what open() and mkdir() give under the umask.
def file_mode() -> int:
  return 0o666 & ~_umask()


def dir_mode() -> int:
  return 0o777 & ~_umask()


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path next to `path`; on success it replaces `path` in one rename."""
  path = pathlib.Path(path)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
  os.close(fd)
  try:
    yield tmp
    os.chmod(tmp, file_mode())
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def strict(obj):
  """`obj` with every non-finite float (and numpy scalar or array) as JSON-ready values, NaN
  and infinities as None."""
  if isinstance(obj, dict):
    return {str(key): strict(value) for key, value in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [strict(value) for value in obj]
  if isinstance(obj, np.ndarray):
    if obj.dtype.kind in "iub" or (obj.dtype.kind == "f" and np.isfinite(obj).all()):
      return obj.tolist()  # already JSON: no walk over every element
    return strict(obj.tolist())
  if isinstance(obj, np.generic):
    obj = obj.item()
  if isinstance(obj, float) and not math.isfinite(obj):
    return None
  return obj


def _plain(obj):
  if isinstance(obj, np.ndarray):
    return obj.tolist()
  if isinstance(obj, np.generic):
    return obj.item()
  raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj, indent: int | None = 1) -> str:
  """Strict JSON text (never NaN or Infinity tokens)."""
  try:  # the common case, all finite: no walk over the object in Python
    return json.dumps(obj, indent=indent, allow_nan=False, default=_plain)
  except (ValueError, TypeError):  # a non-finite number, or keys json cannot write as they are
    return json.dumps(strict(obj), indent=indent, allow_nan=False)


def drop_partial_line(path) -> None:
  """Cuts an append-only log back to its last complete line (a kill may stop a write midway)."""
  path = pathlib.Path(path)
  if path.is_file():
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
      path.write_bytes(data[:data.rfind(b"\n") + 1])


def write_text(path, text: str) -> None:
  """Atomically writes a text file."""
  with atomic_path(path) as tmp:
    pathlib.Path(tmp).write_text(text)


def write_json(path, obj, indent: int | None = 1) -> None:
  """Atomically writes a strict JSON file (indent=None: compact, and several times faster)."""
  write_text(path, dumps(obj, indent) + "\n")


class RecordStore:
  """A workdir's record files, committed together.

  The files live in generation directories `.records/<n>`; `.records/current` links to the
  newest complete one, and each record name in the workdir is a relative link through it
  (`summary.json -> .records/current/summary.json`). A commit writes the new and changed files
  into a fresh directory, hard-links the unchanged ones from the current generation, and swaps
  `current` in one rename. Interrupted commits leave only `.records/*.tmp` directories and
  dangling links, which `clean` removes.
  """

  def __init__(self, workdir, writable: bool = True):
    if not str(workdir).strip():
      raise WorkdirError("the workdir is empty: give a directory for the records")
    self.workdir = pathlib.Path(workdir)
    self.root = self.workdir / ".records"
    if self.workdir.exists() and not self.workdir.is_dir():
      raise WorkdirError(f"workdir {str(self.workdir)!r} is a file, not a directory")
    if not writable:  # a reader (a process other than 0 of a multi-process run)
      return
    try:
      self.root.mkdir(parents=True, exist_ok=True)
      with tempfile.TemporaryFile(dir=self.root):
        pass
    except OSError as err:
      raise WorkdirError(f"cannot write records into workdir {str(self.workdir)!r}: "
                         f"{err.strerror or err}") from None

  @property
  def current(self) -> pathlib.Path | None:
    link = self.root / "current"
    return self.root / os.readlink(link) if link.is_symlink() else None

  def read_json(self, name: str):
    """A committed JSON record, or None when there is none."""
    path = self.workdir / name
    return json.loads(path.read_text()) if path.is_file() else None

  def clean(self) -> None:
    """Removes what interrupted commits left: temporary and old generations, dangling links."""
    current = self.current
    for entry in self.root.iterdir():
      if entry.name != "current" and (current is None or entry.name != current.name):
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for entry in self.workdir.iterdir():
      if entry.is_symlink() and not entry.exists():
        entry.unlink()
    for entry in self.workdir.glob(".*.tmp"):  # single-file temporaries (atomic_path)
      entry.unlink()

  def wipe(self) -> None:
    """Removes every committed record and its link (for a fresh start)."""
    for entry in self.workdir.iterdir():
      if entry.is_symlink() and os.readlink(entry).startswith(".records/"):
        entry.unlink()
    shutil.rmtree(self.root)
    self.root.mkdir()

  def commit(self, write) -> list[str]:
    """Calls `write(directory)`, which writes the new or changed files there and returns their
    names; unchanged files of the current generation join them; then the new set becomes
    current. Returns the names written."""
    staging, written = self.stage(write)
    self.publish(staging)
    return written

  def stage(self, write) -> tuple[pathlib.Path, list[str]]:
    """The first half of `commit`: a fresh staging directory and what `write` wrote into it.
    More may be written there before `publish` (a variant's figures) or `discard`."""
    staging = None
    try:
      staging = pathlib.Path(tempfile.mkdtemp(dir=self.root, suffix=".tmp"))
      os.chmod(staging, dir_mode())
      return staging, list(write(staging))
    except OSError as err:  # a full disk: the current generation is untouched
      self.discard(staging)
      raise self._failed(err) from None

  def discard(self, staging: pathlib.Path | None) -> None:
    if staging is not None:
      shutil.rmtree(staging, ignore_errors=True)

  def _failed(self, err: OSError) -> StorageError:
    return storage_error(f"the records into {str(self.workdir)!r} (the records stay as the last "
                         "commit left them)", err)

  def publish(self, staging: pathlib.Path, ready=lambda: None) -> None:
    """The second half of `commit`: once `ready()` returns (it waits for files still being
    written into `staging`; its OSError fails the commit as a write here would), the staged
    files, with the current generation's files they do not replace, become current."""
    current = self.current
    number = int(current.name) + 1 if current is not None else 1
    try:
      ready()
      if current is not None:
        for old in current.iterdir():
          if not (staging / old.name).exists():
            try:
              os.link(old, staging / old.name)
            except OSError:  # no hard links on this filesystem
              shutil.copy2(old, staging / old.name)
    except OSError as err:
      self.discard(staging)
      raise self._failed(err) from None
    generation = self.root / f"{number:06d}"
    staging.rename(generation)
    for name in os.listdir(generation):
      link = self.workdir / name
      if not link.is_symlink():
        tmp_link = self.workdir / f".{name}.link.tmp"
        tmp_link.unlink(missing_ok=True)
        tmp_link.symlink_to(f".records/current/{name}")
        os.replace(tmp_link, link)
    tmp_current = self.root / "current.tmp"
    tmp_current.unlink(missing_ok=True)
    tmp_current.symlink_to(generation.name)
    os.replace(tmp_current, self.root / "current")
    if current is not None:
      shutil.rmtree(current)
