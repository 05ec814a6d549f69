"""Writing results so that an interrupted run never leaves a half-written file behind."""

import contextlib
import json
import os
import pathlib
import tempfile


@contextlib.contextmanager
def atomic_path(path):
  """Yields a temporary path next to `path`; on success it replaces `path` in one rename."""
  path = pathlib.Path(path)
  fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
  os.close(fd)
  try:
    yield tmp
    with open(tmp, "rb") as f:
      os.fsync(f.fileno())
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_text(path, text: str) -> None:
  """Atomically writes a text file."""
  with atomic_path(path) as tmp:
    pathlib.Path(tmp).write_text(text)


def write_json(path, obj) -> None:
  """Atomically writes an indented JSON file."""
  write_text(path, json.dumps(obj, indent=1) + "\n")
