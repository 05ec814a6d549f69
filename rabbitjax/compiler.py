"""The compiler under every number: the jaxlib in use, its known CPU miscompiles, a canary.

jaxlib 0.10.2 (the newest JAX a Python 3.11 can install) computes two known patterns wrong on
CPU, both inside XLA:CPU's YNN fusions: a vmapped matrix-vector product followed by a reduction
returns another row's value (jax#39103), and a rank-7 multiply-reduce with a size-1 dimension
crashes the process (jax#40412; jax#39257 is the same class). jaxlib >= 0.11.2 computes both
right. On an older supported jaxlib, importing rabbitjax adds `WORKAROUND_FLAG` to XLA_FLAGS
(YNN still computes single dots, it fuses none), which computes both right; the launchers say
so and provenance records it. `canary` runs every pattern eagerly and under `jit` in a child
process (a crash must not take the run with it) and compares; a run refuses to start when
they differ.

Deliberately free of heavy imports: `apply_workaround` runs before JAX is imported.
"""

import functools
import hashlib
import importlib.metadata
import json
import os
import pathlib
import subprocess
import sys

XLA_FLAGS_ENV = "XLA_FLAGS"
# The setting `apply_workaround` adds; an explicit setting of the same flag is left alone.
WORKAROUND_FLAG = "--xla_cpu_experimental_ynn_fusion_type=individual_dot"
WORKAROUND_ENV = "RABBITJAX_XLA_WORKAROUND"  # "off": compute with the jaxlib's own defaults
# The first jaxlib that computes every pattern right, and the oldest this project runs on (the
# oldest with the workaround's flag known to fix them).
FIXED_JAXLIB = (0, 11, 2)
OLDEST_JAXLIB = (0, 10, 2)


class CompilerError(Exception):
  """The installed jaxlib cannot be trusted, and nothing here makes it so."""


def version_tuple(version: str) -> tuple[int, ...]:
  """(0, 12, 0, 1) from '0.12.0.1'; a suffix such as '.dev2026' ends the numbers."""
  numbers = []
  for part in version.split("."):
    if not part.isdigit():
      break
    numbers.append(int(part))
  return tuple(numbers)


def installed_jaxlib() -> str:
  try:
    return importlib.metadata.version("jaxlib")
  except importlib.metadata.PackageNotFoundError:
    return "none"


def needs_workaround(jaxlib_version: str) -> bool:
  """Whether this jaxlib has the known miscompiles (and is new enough for the workaround)."""
  version = version_tuple(jaxlib_version)
  if version < OLDEST_JAXLIB:
    raise CompilerError(
        f"jaxlib {jaxlib_version} is older than the oldest rabbitjax runs on "
        f"({'.'.join(map(str, OLDEST_JAXLIB))}); install jax>="
        f"{'.'.join(map(str, FIXED_JAXLIB))} on Python >= 3.12 (README, Run)")
  return version < FIXED_JAXLIB


def with_workaround(xla_flags: str) -> str:
  """`xla_flags` with the workaround added, unless it already sets the same flag."""
  flag_name = WORKAROUND_FLAG.split("=", 1)[0]
  if any(flag.split("=", 1)[0] == flag_name for flag in xla_flags.split()):
    return xla_flags
  return f"{xla_flags} {WORKAROUND_FLAG}".strip()


def apply_workaround(environ=os.environ) -> str | None:
  """Adds the workaround to XLA_FLAGS where the installed jaxlib needs it (before JAX starts its
  CPU backend); returns the flag added, None when nothing was needed or it was turned off. A
  jaxlib too old to run on is left for `check` to refuse."""
  if environ.get(WORKAROUND_ENV) == "off":
    return None
  try:
    if not needs_workaround(installed_jaxlib()):
      return None
  except CompilerError:
    return None
  environ[XLA_FLAGS_ENV] = with_workaround(environ.get(XLA_FLAGS_ENV, ""))
  return WORKAROUND_FLAG


def matvec_norms() -> tuple[float, float]:
  """jax#39103: the last of 32,769 vmapped |I r|^2, eagerly and under jit (equal if right)."""
  import jax
  import jax.numpy as jnp

  eye = jnp.eye(3, dtype=jnp.float32)
  rows = jnp.arange(32769, dtype=jnp.float32)
  rows = jnp.stack((rows, jnp.zeros_like(rows), jnp.zeros_like(rows)), axis=1)
  norms = lambda x: jax.vmap(lambda row: jnp.sum((eye @ row) ** 2))(x)
  return float(norms(rows)[-1]), float(jax.jit(norms)(rows)[-1])


def rank7_product_sum() -> tuple[float, float]:
  """jax#40412: sum |sum(u * v, axis=3)| over rank-7 operands with a size-1 dimension,
  eagerly and under jit (a crash on the bad jaxlibs)."""
  import jax
  import jax.numpy as jnp

  shape = (3, 1, 2, 2, 8, 8, 8)
  u, v = (jax.random.normal(jax.random.key(seed), shape) for seed in (0, 1))
  product_sum = lambda a, b: jnp.sum(a * b, axis=3)
  return (float(jnp.sum(jnp.abs(product_sum(u, v)))),
          float(jnp.sum(jnp.abs(jax.jit(product_sum)(u, v)))))


PATTERNS = {"jax#39103": matvec_norms, "jax#40412": rank7_product_sum}


def _child() -> None:
  """The canary's child process: prints issue -> [eager, jit] after each pattern, so that a
  crash in one still reports those before it."""
  results = {}
  for issue, pattern in PATTERNS.items():
    results[issue] = pattern()
    print(json.dumps(results), flush=True)


def _verdict(pattern: str, values) -> str:
  eager, jitted = values
  # The crash pattern's sum of |x| over 6,144 values may differ in float32 rounding.
  tolerance = 0.0 if pattern == "jax#39103" else 1e-5 * max(abs(eager), 1.0)
  return "ok" if abs(eager - jitted) <= tolerance else f"wrong: eager {eager!r}, jit {jitted!r}"


def run_canary(environ=None, timeout: float = 120.0) -> dict:
  """Runs the patterns in a child process with `environ` (default: this process's); returns
  {"ok": bool, "patterns": {issue: "ok" | "crashed" | "wrong: ..."}}."""
  environ = dict(environ or os.environ)
  # The child imports this module from the same checkout, installed or not.
  package_root = str(pathlib.Path(__file__).resolve().parent.parent)
  environ["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, environ.get("PYTHONPATH")]))
  try:
    completed = subprocess.run([sys.executable, "-m", "rabbitjax.compiler"], capture_output=True,
                               text=True, timeout=timeout, env=environ)
    lines = completed.stdout.strip().splitlines()
    results, missing = (json.loads(lines[-1]) if lines else {}), "crashed"
  except subprocess.TimeoutExpired:
    results, missing = {}, f"did not finish in {timeout:.0f} s"
  patterns = {issue: _verdict(issue, results.get(issue)) if issue in results else missing
              for issue in PATTERNS}
  return {"ok": all(verdict == "ok" for verdict in patterns.values()), "patterns": patterns}


def _cached_canary(cache_path) -> dict:
  """`run_canary`'s result for this jaxlib, XLA_FLAGS and CPU, from `cache_path` when there."""
  try:
    return json.loads(cache_path.read_text())
  except (OSError, ValueError):
    pass
  result = run_canary()
  if result["ok"]:  # a failure is never cached: it may have been a machine too busy to finish
    try:
      cache_path.parent.mkdir(parents=True, exist_ok=True)
      cache_path.write_text(json.dumps(result))
    except OSError:
      pass  # an unusable cache directory costs the next run one more canary, nothing else
  return result


@functools.cache
def check() -> dict:
  """The compiler's record for provenance, after refusing one that computes a pattern wrong.

  Raises CompilerError (one line naming the versions and the way out) for a jaxlib too old to
  run on, or when the canary finds a pattern computed wrong under this process's XLA_FLAGS.
  The child's result is cached on disk per (jax, jaxlib, XLA_FLAGS, CPU model, Python), the
  whole record per process.
  """
  from rabbitjax import cache, tuning  # heavy-ish: not needed by apply_workaround

  jaxlib_version = installed_jaxlib()
  jax_version = importlib.metadata.version("jax")
  old = needs_workaround(jaxlib_version)
  xla_flags = os.environ.get(XLA_FLAGS_ENV, "")
  key = hashlib.sha256(json.dumps([jax_version, jaxlib_version, xla_flags,
                                   tuning.cpu_facts()[0], sys.executable]).encode()).hexdigest()
  result = _cached_canary(cache.cache_dir() / "canary" / f"{key[:16]}.json")
  # On a jaxlib that needs the workaround, the wrong-value pattern again in this process: its
  # backend may have started before the flag was added to XLA_FLAGS (JAX used before rabbitjax
  # was imported). A fixed jaxlib computes here as in the child (half a second saved a run).
  in_process = _verdict("jax#39103", matvec_norms()) if old else "ok"
  if in_process != "ok":
    result = {"ok": False, "patterns": {**result["patterns"], "jax#39103": in_process}}
  record = {"jax": jax_version, "jaxlib": jaxlib_version,
            "workaround": WORKAROUND_FLAG if WORKAROUND_FLAG in xla_flags.split() else None,
            "canary": result}
  if not result["ok"]:
    wrong = "; ".join(f"{issue} {verdict}" for issue, verdict in result["patterns"].items()
                      if verdict != "ok")
    raise CompilerError(
        f"jax {jax_version} / jaxlib {jaxlib_version} with XLA_FLAGS={xla_flags!r} computes a "
        f"known pattern wrong ({wrong}); install jax>={'.'.join(map(str, FIXED_JAXLIB))} on "
        f"Python >= 3.12" + (f", or leave {WORKAROUND_ENV} unset" if old else ""))
  return record


def warning(record: dict) -> str | None:
  """The loud line for a run on an old jaxlib (None on a fixed one)."""
  if record["workaround"] is None:
    return None
  return (f"warning: jaxlib {record['jaxlib']} miscompiles on CPU ({', '.join(PATTERNS)}); "
          f"computing with XLA_FLAGS {WORKAROUND_FLAG} (canary: ok). Install jax>="
          f"{'.'.join(map(str, FIXED_JAXLIB))} on Python >= 3.12 for the fixed compiler")


if __name__ == "__main__":
  _child()
