"""What both launchers share: one-line failures with documented exit statuses, flag parsing
that never dumps usage, and the compiler check before anything is computed."""

import atexit
import os
import signal
import sys
import threading

from absl import flags, logging

from rabbitjax import compiler, io, stopping

# Exit statuses (README, "Long runs"); 130 / 143 are 128 + SIGINT / SIGTERM.
BAD_INPUT = 2
DIVERGED = 3
STORAGE = 4  # a record, plot, log or checkpoint could not be written (a full disk, an OS error)


def run(app_run) -> None:
  """`app_run()` (absl's `app.run(main, ...)`), then the process ends without Python's
  finalization: the exit handlers run and the streams are flushed as at a normal exit, but the
  interpreter does not tear down JAX's, tfds' and matplotlib's modules one by one, which took
  about a second of a small run's wall time (on the 2-core AMD EPYC)."""
  try:
    app_run()
    status = 0
  except SystemExit as done:
    status = done.code
  if status is not None and not isinstance(status, int):  # sys.exit("message")
    print(status, file=sys.stderr)
    status = 1
  for thread in threading.enumerate():  # as a normal exit does, before its exit handlers
    if thread is not threading.main_thread() and not thread.daemon:
      thread.join()
  atexit._run_exitfuncs()  # noqa: SLF001 (the handlers a normal exit runs: logging, JAX's)
  for stream in (sys.stdout, sys.stderr):
    try:
      stream.flush()
    except (OSError, ValueError):  # a closed pipe: nothing more can reach it
      pass
  os._exit(status or 0)


def fail(message: str, status: int = BAD_INPUT) -> None:
  print(f"error: {message}", file=sys.stderr, flush=True)
  sys.exit(status)


def one_line(err: BaseException) -> str:
  """An exception's text on one line; of an embedded traceback only its final line is kept."""
  lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
  if any(line.startswith("Traceback") for line in lines):
    lines = [lines[0], lines[-1]]
  text = " ".join(lines) or type(err).__name__
  return text if len(text) <= 400 else text[:397] + "..."


def parse_flags(argv, load_config: bool = False):
  """absl's parser, but a bad flag is one line and exit status 2 rather than a usage dump."""
  try:
    remaining = flags.FLAGS(argv)
    if load_config:
      # config_flags loads the file lazily; load it now so a bad file fails here, in one line.
      flags.FLAGS.config.get("exercise")
    return remaining
  except flags.Error as err:
    fail(one_line(err))
  except (AttributeError, KeyError) as err:
    fail(f"a --config.* override names no field of the config: {one_line(err)}")
  except Exception as err:  # A config file that fails to load or to apply its overrides.
    fail(f"cannot load --config: {one_line(err)}")


def every_entry() -> bool:
  """absl's --verbosity: at 1 or more every epoch (entry) line is logged. Without the flag the
  libraries' absl logging is held to warnings, and entry lines are rate-limited."""
  if flags.FLAGS["verbosity"].present:
    return flags.FLAGS.verbosity >= 1
  logging.set_verbosity(logging.WARNING)
  return False


def check_compiler() -> None:
  """Refuses (one line, exit 2) a jaxlib that computes a known pattern wrong; logs the warning
  for an old one computing with the workaround."""
  try:
    record = compiler.check()
  except compiler.CompilerError as err:
    fail(str(err))
  if compiler.warning(record):
    print(compiler.warning(record), file=sys.stderr, flush=True)


def stopped(err: stopping.Interrupted) -> None:
  """Ends a run stopped by SIGINT or SIGTERM: one line, exit status 128 + the signal."""
  name = stopping.STOP_SIGNAL[0]
  fail(f"stopped by {name} {err}; everything reported as saved is saved: rerun the same command "
       "to resume", 128 + signal.Signals[name].value)


def storage_failed(err: BaseException) -> None:
  """Ends a run whose files could not be written: one line naming the file, exit status 4."""
  if not isinstance(err, io.StorageError):  # the OS error names its file itself
    err = io.storage_error("a file of the run", err)
  fail(f"{err}; rerun once there is room: what was reported as saved is saved", STORAGE)
