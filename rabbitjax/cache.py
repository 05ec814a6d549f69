"""Where rabbitjax keeps what it can rebuild: decoded datasets and compiled XLA programs.

Both live under $RABBITJAX_CACHE_DIR (default ~/.cache/rabbitjax). The compilation cache is JAX's
persistent one: a rerun, or a variant whose program another one already compiled (the OR, AND
and XOR perceptrons are one program on different data), skips XLA's compilation. Beside it,
`ProgramStore` keeps the programs themselves, exported, so that a rerun skips tracing and
lowering them too.
"""

import dataclasses
import enum
import functools
import hashlib
import importlib.metadata
import json
import os
import pathlib
import pickle

import numpy as np

CACHE_DIR_ENV = "RABBITJAX_CACHE_DIR"
COMPILATION_CACHE_ENV = "RABBITJAX_COMPILATION_CACHE"  # a directory, or "off"


def cache_dir() -> pathlib.Path:
  return pathlib.Path(os.environ.get(CACHE_DIR_ENV) or pathlib.Path.home() / ".cache" / "rabbitjax")


def enable_compilation_cache() -> str | None:
  """Turns on JAX's persistent compilation cache for every program, however quick to compile;
  returns its directory (None when off: $RABBITJAX_COMPILATION_CACHE=off, or JAX's own
  $JAX_COMPILATION_CACHE_DIR already chose one, which is then left as it is)."""
  import jax

  setting = os.environ.get(COMPILATION_CACHE_ENV, "")
  if setting == "off" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    return os.environ.get("JAX_COMPILATION_CACHE_DIR") if setting != "off" else None
  directory = setting or str(cache_dir() / "xla")
  jax.config.update("jax_compilation_cache_dir", directory)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  return directory


def program_store() -> "ProgramStore | None":
  """Where programs are kept across runs: beside JAX's persistent compilation cache, when it is
  on."""
  import jax

  directory = jax.config.jax_compilation_cache_dir
  if os.environ.get(COMPILATION_CACHE_ENV, "") == "off" or not directory:
    return None
  return ProgramStore(pathlib.Path(directory) / "rabbitjax-programs")


def program_name(static_key, structure, donate_argnums, leaves) -> str | None:
  """The text naming a program in every process: `stable_name` of its key (what it closes
  over), its arguments' tree and types, with this package's source, the library versions,
  JAX's configuration, XLA_FLAGS, the backend and the CPU; None where the key names something
  only this process can (a lambda, a local function), or the program spans devices or
  processes (it carries their shardings)."""
  import jax

  key = stable_name(static_key)
  if key is None or jax.process_count() > 1:
    return None
  arguments = []
  for leaf in leaves:
    sharding = getattr(leaf, "sharding", None)
    if sharding is not None and len(sharding.device_set) > 1:
      return None
    aval = jax.typeof(leaf)
    arguments.append(aval.str_short() + ("~weak" if getattr(aval, "weak_type", False) else ""))
  return json.dumps([key, str(structure), repr(donate_argnums), arguments, _environment()])


def export_program(fn, leaves, donated):
  """`fn` (the arguments' leaves in, a tree out) exported with `jax.export` for `leaves`'
  types: (the exported program, its outputs' tree structure), or None where it cannot be
  exported (a host callback)."""
  import jax
  from jax import export

  out_tree = []

  def flat(*args):
    outputs, tree = jax.tree.flatten(fn(*args))
    out_tree.append(tree)
    return outputs
  try:
    return export.export(jax.jit(flat, donate_argnums=donated))(*leaves), out_tree[0]
  except Exception:  # noqa: BLE001 (what export refuses is compiled as it is)
    return None


class ProgramStore:
  """Exported programs (`export_program`) on disk by their `program_name`, so that a rerun
  deserializes them instead of tracing and lowering them again (0.15-0.25 s a program on 2
  cores, against 0.01-0.02 s to load and lower a stored one); JAX's persistent cache then
  serves their executables. A file that cannot be read is removed (the program is exported
  again); one that cannot be written is skipped. Not XLA's executables themselves: XLA:CPU's
  serialized executables lost kernels ("Function wrapped_slice not found" at their first
  call) on jaxlib 0.10.2 and 0.12.1.
  """

  def __init__(self, directory: pathlib.Path):
    self.directory = directory

  def _path(self, name: str) -> pathlib.Path:
    return self.directory / (hashlib.sha256(name.encode()).hexdigest()[:40] + ".pkl")

  def load(self, name: str):
    """(exported program, its outputs' tree structure) stored under `name`, or None."""
    from jax import export

    stored = self.load_value(name)
    if stored is None:
      return None
    serialized, out_tree = stored
    try:
      return export.deserialize(bytearray(serialized)), out_tree
    except Exception:  # noqa: BLE001 (unreadable: exported again)
      self._path(name).unlink(missing_ok=True)
      return None

  def save(self, name: str, exported, out_tree) -> None:
    self.save_value(name, (bytes(exported.serialize()), out_tree))

  def load_value(self, name: str):
    """What `save_value` stored under `name`, or None."""
    path = self._path(name)
    try:
      with open(path, "rb") as file:
        stored_name, value = pickle.load(file)
      return value if stored_name == name else None  # a hash collision: keep the one there
    except FileNotFoundError:
      return None
    except Exception:  # noqa: BLE001 (truncated, unreadable: made again)
      path.unlink(missing_ok=True)
      return None

  def save_value(self, name: str, value) -> None:
    """Stores `value` (picklable, made from what `name` names) under `name`."""
    from rabbitjax.io import atomic_path  # a failed write leaves no temporary behind

    try:
      self.directory.mkdir(parents=True, exist_ok=True)
      with atomic_path(self._path(name)) as tmp, open(tmp, "wb") as file:
        pickle.dump((name, value), file, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 (a full disk: not stored, still used)
      pass


def value_name(key) -> str | None:
  """The text naming a value made from `key` (`stable_name`) in this environment (the
  package's source, the libraries, JAX's configuration), or None where `key` has no name."""
  key = stable_name(key)
  return None if key is None else json.dumps([key, _environment()])


def _environment() -> list:
  """What, beside a program's key, decides what it is traced and compiled to: the package's
  source, the libraries, JAX's configuration now, XLA_FLAGS, the backend and the CPU."""
  import jax

  config = {name: value for name, value in sorted(jax.config.values.items())
            if "cache" not in name}
  device = jax.devices()[0]
  return [*_installed(), config, os.environ.get("XLA_FLAGS", ""), device.platform,
          device.device_kind]


@functools.cache
def _installed() -> tuple:
  """This package's source (a digest of every module), the libraries' versions, the CPU."""
  from rabbitjax import tuning

  source = hashlib.sha256()
  package = pathlib.Path(__file__).resolve().parent
  for path in sorted(package.rglob("*.py")):
    source.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
  versions = {name: importlib.metadata.version(name)
              for name in ("jax", "jaxlib", "flax", "optax", "numpy")}
  model, flags = tuning.cpu_facts()
  return source.hexdigest(), versions, model, sorted(flags)


def stable_name(value) -> str | None:
  """`value` as text that names it the same way in every process, or None where it holds what
  only this process can name: a lambda, a local function, an object without a value's repr."""
  if value is None or isinstance(value, (bool, int, float, str, bytes)):
    return repr(value)
  if isinstance(value, enum.Enum):
    return f"{type(value).__module__}.{type(value).__qualname__}.{value.name}"
  if isinstance(value, (tuple, list, frozenset, set)):
    items = [stable_name(item) for item in value]
    if None in items:
      return None
    if isinstance(value, (frozenset, set)):
      items.sort()
    return f"{type(value).__name__}({', '.join(items)})"
  if isinstance(value, dict):
    items = [(stable_name(key), stable_name(item)) for key, item in value.items()]
    if any(None in pair for pair in items):
      return None
    return "{" + ", ".join(f"{key}: {item}" for key, item in sorted(items)) + "}"
  if isinstance(value, functools.partial):
    return stable_name(("partial", value.func, value.args, value.keywords))
  if isinstance(value, np.ndarray):
    return f"ndarray({value.dtype}, {value.shape}, {hashlib.sha256(value.tobytes()).hexdigest()})"
  if isinstance(value, np.generic):
    return f"{type(value).__name__}({value!r})"
  if dataclasses.is_dataclass(value) and not isinstance(value, type):
    # Flax modules are dataclasses; their parent is where they are bound (none here).
    fields = [(field.name, stable_name(getattr(value, field.name)))
              for field in dataclasses.fields(value) if field.name != "parent"]
    if any(name is None for _, name in fields):
      return None
    kind = stable_name(type(value))
    return None if kind is None else f"{kind}({', '.join(f'{k}={v}' for k, v in fields)})"
  qualname = getattr(value, "__qualname__", None)
  module = getattr(value, "__module__", None)
  if isinstance(value, type) or callable(value):
    # A module-level function or class is its module and name; a local one (a closure, a
    # lambda) may hold anything.
    if not qualname or not module or "<" in qualname:
      return None
    return f"{module}.{qualname}"
  return None
