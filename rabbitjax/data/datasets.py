"""mnist, cifar10 and iris as device arrays, read offline through `tfds.data_source`.

`tfds.data_source` reads a prepared tfds directory (ArrayRecord files) without TensorFlow. We never
let tfds download: these machines have no internet, and a download attempt spends minutes in
retries before it fails. A missing dataset is one `DatasetUnavailableError` line instead.
"""

import dataclasses
import hashlib
import importlib.metadata
import os
import pathlib

import jax
import numpy as np
from absl import logging

from rabbitjax import cache
from rabbitjax.data.types import Dataset
from rabbitjax.io import atomic_path

DATA_DIR_ENV = "TFDS_DATA_DIR"
_USE_DEFAULT_CACHE = object()


@dataclasses.dataclass(frozen=True)
class _Layout:
  """Where a dataset keeps its inputs, and how to bring them to float32 in [0, 1]."""

  input_key: str
  scale: float
  num_classes: int


_LAYOUTS = {
    "mnist": _Layout("image", 255.0, 10),
    "cifar10": _Layout("image", 255.0, 10),
    "iris": _Layout("features", 1.0, 3),
}
SUPPORTED_DATASETS = tuple(_LAYOUTS)


class DatasetUnavailableError(RuntimeError):
  """A dataset is not prepared where tfds looks (or its files are corrupt), and cannot be
  downloaded here."""


def resolve_data_dir(data_dir: str | None = None) -> str | None:
  """The tfds data directory: the explicit argument, else $TFDS_DATA_DIR, else tfds' default."""
  return data_dir or os.environ.get(DATA_DIR_ENV) or None


def is_prepared(name: str, data_dir: str | None = None) -> bool:
  """Whether a tfds dataset's files are where tfds would look for them (without importing tfds;
  the course's ETA counts nothing for a part it will skip)."""
  return bool(_split_files(name, "train", resolve_data_dir(data_dir)))


def num_classes(name: str) -> int:
  """Number of label classes of a supported dataset."""
  return _layout(name).num_classes


def load_split(
    name: str,
    split: str,
    *,
    data_dir: str | None = None,
    one_hot: bool = False,
    cache_dir=_USE_DEFAULT_CACHE,
) -> Dataset:
  """Loads a whole split into device memory.

  Args:
    name: one of SUPPORTED_DATASETS.
    split: a tfds split, slices included ("train", "test", "train[:80%]").
    data_dir: tfds data directory; defaults to $TFDS_DATA_DIR, then to tfds' own default.
    one_hot: one-hot float32 targets instead of int32 class indices.
    cache_dir: where decoded arrays are kept between runs (decoding 60k MNIST images costs ~6 s);
      None disables the cache. Defaults to $RABBITJAX_CACHE_DIR, else ~/.cache/rabbitjax.

  Returns:
    Dataset with float32 inputs scaled to [0, 1] (images) or as stored (iris features), and
    int32 labels of shape (n,), or float32 one-hot labels of shape (n, num_classes).

  Raises:
    DatasetUnavailableError: the dataset is not prepared in the data directory.
  """
  layout = _layout(name)
  if cache_dir is _USE_DEFAULT_CACHE:
    cache_dir = cache.cache_dir()
  raw_inputs, labels = _read_arrays(name, split, resolve_data_dir(data_dir), cache_dir)
  inputs = raw_inputs.astype(np.float32) / np.float32(layout.scale)
  targets = labels.astype(np.int32)
  if one_hot:
    targets = np.eye(layout.num_classes, dtype=np.float32)[targets]
  return Dataset(inputs=jax.device_put(inputs), targets=jax.device_put(targets))


def _layout(name: str) -> _Layout:
  if name not in _LAYOUTS:
    raise ValueError(f"dataset {name!r} is not supported; choose one of {', '.join(_LAYOUTS)}")
  return _LAYOUTS[name]


def _first_line(err: BaseException, limit: int = 160) -> str:
  """An exception's first line, cut to `limit` characters, for one-line messages."""
  return (str(err).strip().splitlines() or [type(err).__name__])[0][:limit]


def _open_source(name: str, split: str, data_dir: str | None):
  import tensorflow_datasets as tfds  # here: regression and RL runs never pay for its import

  try:
    return tfds.data_source(name, split=split, data_dir=data_dir, download=False)
  except Exception as err:  # tfds signals a missing dataset with several unrelated exception types.
    where = data_dir or f"tfds' default directory (${DATA_DIR_ENV} is not set)"
    cause = _first_line(err, 200)
    raise DatasetUnavailableError(
        f"tfds dataset {name!r} (split {split!r}) is not available in {where}; it cannot be "
        f"downloaded here: pass --data_dir or set ${DATA_DIR_ENV} to a prepared tfds directory "
        f"holding it (../shared/tensorflow_datasets has mnist and iris) [{cause}]"
    ) from None


def _split_files(name: str, split: str, data_dir: str | None) -> list[str]:
  """The prepared files of a split (for error messages); empty when they cannot be found."""
  base = split.split("[", 1)[0]
  where = pathlib.Path(data_dir or os.path.expanduser("~/tensorflow_datasets")) / name
  return sorted(str(path) for path in where.glob(f"*/{name}-{base}.*"))


def _decode(source, name: str, split: str, data_dir: str | None):
  """Every record of `source` as (inputs, labels) arrays; a file that fails to read is named."""
  input_key = _layout(name).input_key
  try:
    records = [source[i] for i in range(len(source))]
  except Exception as err:  # Riegeli and ArrayRecord report corrupt files with plain RuntimeErrors.
    files = ", ".join(_split_files(name, split, data_dir)) or "(files not found)"
    raise DatasetUnavailableError(
        f"tfds dataset {name!r} (split {split!r}) is corrupt: {_first_line(err)}; files: {files}; "
        f"re-prepare it: copy a fresh prepared {name!r} directory into "
        f"{data_dir or 'the tfds data directory'} (or `tfds build {name}` where it can download)"
    ) from None
  inputs = np.stack([np.asarray(record[input_key]) for record in records])
  labels = np.asarray([record["label"] for record in records], dtype=np.int64)
  return inputs, labels


def _load_cache(cache_file: pathlib.Path, size: int | None):
  """The cached (inputs, labels), or None when absent or unusable (then it is removed); `size`:
  the records it must hold, where known."""
  if not cache_file.exists():
    return None
  try:
    with np.load(cache_file) as cached:
      inputs, labels = cached["inputs"], cached["labels"]
    if len(inputs) == len(labels) == (len(labels) if size is None else size) > 0:
      return inputs, labels
    problem = f"{len(inputs)} inputs and {len(labels)} labels for {size or 'some'} records"
  except Exception as err:  # zipfile, zlib, pickle and OS errors: every way a file can be bad
    problem = _first_line(err)
  logging.warning("cached arrays %s are unusable (%s): rebuilding them", cache_file, problem)
  cache_file.unlink(missing_ok=True)
  return None


def _read_arrays(name, split, data_dir, cache_dir) -> tuple[np.ndarray, np.ndarray]:
  # Where the split's prepared files are found, the cache is keyed by them and read without
  # opening tfds (its import is 0.4 s of a small run); elsewhere by what tfds says of the source.
  files = _split_files(name, split, data_dir)
  source = None if files else _open_source(name, split, data_dir)
  cache_file = None
  if cache_dir is not None:
    cache_file = pathlib.Path(cache_dir) / _cache_name(name, split, data_dir, files, source)
    try:
      cache_file.parent.mkdir(parents=True, exist_ok=True)
      cached = _load_cache(cache_file, None if source is None else len(source))
    except OSError as err:
      logging.warning("cache directory %s is unusable (%s): running without the cache",
                      cache_dir, err.strerror or err)
      cache_file = cached = None
    if cached is not None:
      return cached
  source = source if source is not None else _open_source(name, split, data_dir)
  inputs, labels = _decode(source, name, split, data_dir)
  if cache_file is not None:
    try:
      with atomic_path(cache_file) as tmp:
        with open(tmp, "wb") as f:
          np.savez(f, inputs=inputs, labels=labels)
    except OSError as err:
      logging.warning("cannot write the cache file %s (%s): running without the cache",
                      cache_file, err.strerror or err)
  return inputs, labels


def _cache_name(name: str, split: str, data_dir: str | None, files, source) -> str:
  """The cache file of a split: from its prepared files (each one's path, size and time) and
  the tfds release that reads them; without files, from the source's version and directory."""
  if files:
    stats = [os.stat(path) for path in files]
    what = [split, importlib.metadata.version("tensorflow-datasets")] + [
        f"{os.path.realpath(path)}:{stat.st_size}:{stat.st_mtime_ns}"
        for path, stat in zip(files, stats)]
    return f"{name}-{hashlib.sha1('|'.join(what).encode()).hexdigest()[:16]}.npz"
  info = getattr(source, "dataset_info", None)
  version = str(getattr(info, "version", "unknown"))
  where = os.path.realpath(data_dir) if data_dir else "default"
  digest = hashlib.sha1(f"{where}|{split}".encode()).hexdigest()[:12]
  return f"{name}-{version}-{digest}.npz"
