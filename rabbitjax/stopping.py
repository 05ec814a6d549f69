"""Stopping on SIGINT or SIGTERM: a request that the run honours at its next safe point.

Deliberately free of heavy imports, so the launcher can install `request_stop` before it imports
JAX: a signal then never raises inside a running XLA program (a KeyboardInterrupt there ended
runs with a traceback, or a segmentation fault).
"""

import os
import signal
import sys
import threading

STOP = threading.Event()
STOP_SIGNAL: list[str] = []


class Interrupted(Exception):
  """The run was asked to stop; what it had reported as saved is saved."""


def request_stop(signum, frame=None) -> None:
  """Signal handler: the first signal asks for a stop at the next epoch's end (after a
  checkpoint) or before the next variant; a second ends the process at once."""
  del frame
  name = signal.Signals(signum).name
  if STOP.is_set():
    print(f"error: stopped at once by a second {name}; rerun the same command to resume from "
          "the last checkpoint", file=sys.stderr, flush=True)
    os._exit(128 + signum)
  STOP_SIGNAL.append(name)
  STOP.set()


def requested() -> int:
  """The signal number of the stop request, 0 where none came."""
  return signal.Signals[STOP_SIGNAL[0]].value if STOP_SIGNAL else 0


def adopt(signum: int) -> None:
  """Takes a stop request made to another process of the run (`signum`, 0: none) as this
  one's: every process stops at the same point, with the same exit status."""
  if signum and not STOP.is_set():
    STOP_SIGNAL.append(signal.Signals(signum).name)
    STOP.set()


def install() -> None:
  signal.signal(signal.SIGINT, request_stop)
  signal.signal(signal.SIGTERM, request_stop)
