"""Runs on a device mesh give the numbers of one device; several processes those of one process.

Both need devices or processes of their own, so each test starts Python subprocesses: 8 host CPU
devices (XLA_FLAGS), and two processes joined by jax.distributed on localhost (gloo).
"""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

# Data parallelism reorders the gradient sums (a cross-device reduction): float32 rounding.
RTOL, ATOL = 2e-5, 1e-6

MESH_SCRIPT = """
import json, jax, jax.numpy as jnp, numpy as np
from experiments.configs import rnn_binary_addition
from rabbitjax import distributed
from rabbitjax.config import variant_config
from rabbitjax.data import Dataset
from rabbitjax.exercises.rnn_binary_addition import EXERCISE
from rabbitjax.models import MLP
from rabbitjax.train import Task, fit, make_sweep, softmax_cross_entropy, accuracy

config = variant_config(rnn_binary_addition.get_config("quick"), "recurrent_dropout")
config.update(num_seeds=4, num_epochs=1, num_train=64, num_test=32)
trainer = EXERCISE.build(config)
out = {"devices": jax.device_count()}

def rnn(mesh, num_seeds=4, devices=8):
  config.num_seeds = num_seeds
  layout = None if mesh is None else distributed.decide_layout(
      mesh, num_seeds, trainer.batch_sizes, num_devices=devices)
  result = trainer.train(EXERCISE.sweep(config), layout=layout)
  kernel = result.state.params["rnn"]["kernel"]
  return {"layout": None if layout is None else layout.record(),
          "shards": len(kernel.sharding.device_set), "history": {
              k: v.tolist() for k, v in result.history.items()}, "kernel": np.asarray(kernel).tolist()}

out["rnn_one_device"] = rnn(None)
out["rnn_4x2"] = rnn("4x2")
out["rnn6_one_device"] = rnn(None, 6)
out["rnn6_auto_on_4"] = rnn("auto", 6, devices=4)
out["rnn6_4x1"] = rnn("4x1", 6, devices=4)

# Micro-batches split over the data axis, seeds taking turns on each seed device (the CNN path).
images = jax.random.uniform(jax.random.key(1), (48, 6, 6, 1))
labels = jax.random.randint(jax.random.key(2), (48,), 0, 3)
data = (Dataset(images, labels), Dataset(images[:16], labels[:16]))
task = Task(model=MLP(hidden=(16,), outputs=3, dropout=0.2), loss=softmax_cross_entropy,
            optimizer="adam", batch_size=8, eval_batch_size=8,
            metrics=(("accuracy", accuracy),), microbatch_size=4)
sweep = make_sweep([0, 1, 2, 3], {"learning_rate": 0.01}, {"learning_rate": (0.01, 0.003)})
def mlp(layout):
  result = fit(task, sweep, 2, data=data, seeds_at_once=1, layout=layout)
  return {k: v.tolist() for k, v in result.history.items()}
out["mlp_one_device"] = mlp(None)
out["mlp_4x2"] = mlp(distributed.decide_layout("4x2", 4, (4, 8)))
print(json.dumps(out))
"""


def _python(script_or_args, devices: int, **kwargs):
  # faulthandler: a process stopped by SIGABRT prints every thread's Python stack (see _finish).
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
             JAX_PLATFORMS="cpu", PYTHONFAULTHANDLER="1")
  args = ["-c", script_or_args] if isinstance(script_or_args, str) else script_or_args
  return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def _wait(*processes, timeout=480):
  """(exit status, stdout, stderr) of each process, once all have exited within `timeout`
  seconds. One still running then is stopped by SIGABRT, and the failure shows where every
  process stood: two processes wait on each other in a collective, so a stall must name both."""
  deadline = time.monotonic() + timeout
  outputs, stalled = [], False
  for process in processes:
    try:
      outputs.append(process.communicate(timeout=max(1.0, deadline - time.monotonic())))
    except subprocess.TimeoutExpired:
      stalled = True
      for other in processes:
        if other.poll() is None:
          other.send_signal(signal.SIGABRT)
      outputs.append(process.communicate())
  results = [(process.returncode, out, err) for process, (out, err) in zip(processes, outputs)]
  assert not stalled, f"still running after {timeout} s, stopped by SIGABRT:\n{_report(results)}"
  return results


def _report(results) -> str:
  return "\n".join(f"--- process {index} (exit {status}):\n{out[-2000:]}\n{err[-4000:]}"
                   for index, (status, out, err) in enumerate(results))


def _finish(*processes):
  """The processes' outputs, each having exited with 0 (see `_wait`)."""
  results = _wait(*processes)
  assert all(status == 0 for status, _, _ in results), _report(results)
  return [out for _, out, _ in results] if len(results) > 1 else results[0][1]


@pytest.fixture(scope="module")
def mesh_runs():
  return json.loads(_finish(_python(MESH_SCRIPT, 8)).strip().splitlines()[-1])


def _close(a, b):
  np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=RTOL, atol=ATOL)


def test_seeds_and_data_on_a_4x2_mesh_give_the_one_device_numbers(mesh_runs):
  one, mesh = mesh_runs["rnn_one_device"], mesh_runs["rnn_4x2"]
  assert mesh_runs["devices"] == 8 and mesh["shards"] == 8  # every device holds a part
  assert (mesh["layout"]["seeds"], mesh["layout"]["data"]) == (4, 2)
  for metric in one["history"]:
    _close(mesh["history"][metric], one["history"][metric])
  _close(mesh["kernel"], one["kernel"])
  for metric, values in mesh_runs["mlp_one_device"].items():  # micro-batches, seeds in turn
    _close(mesh_runs["mlp_4x2"][metric], values)


def test_six_seeds_on_four_devices(mesh_runs):
  one = mesh_runs["rnn6_one_device"]
  auto, padded = mesh_runs["rnn6_auto_on_4"], mesh_runs["rnn6_4x1"]
  # Automatic: 2 seed devices x 2 data devices, nothing padded.
  assert auto["layout"] | {"processes": 1} == {"seeds": 2, "data": 2, "num_seeds": 6,
                                                "padded_seeds": 6, "processes": 1}
  # An explicit 4x1: padded to 8 runs, the 2 dummies dropped from what comes back.
  assert (padded["layout"]["seeds"], padded["layout"]["padded_seeds"]) == (4, 8)
  for run in (auto, padded):
    assert np.asarray(run["history"]["loss"]).shape == (1, 6, 1)
    assert np.asarray(run["kernel"]).shape[0] == 6
    for metric in one["history"]:
      _close(run["history"][metric], one["history"][metric])


def test_bad_meshes_are_one_line_errors():
  from rabbitjax import distributed
  with pytest.raises(distributed.LayoutError, match="has 6 devices but 8 are present"):
    distributed.decide_layout("3x2", 4, (2,), num_devices=8)
  with pytest.raises(distributed.LayoutError, match="does not divide the batch sizes 2, 1024"):
    distributed.decide_layout("2x4", 4, (2, 1024), num_devices=8)
  with pytest.raises(distributed.LayoutError, match="no data axis"):
    distributed.decide_layout("1x2", 4, (), num_devices=2)
  with pytest.raises(distributed.LayoutError, match="is not 'auto' or SEEDSxDATA"):
    distributed.parse_mesh("4*2")
  # Automatic, with batches the data axis cannot split: every device on seeds, padded.
  layout = distributed.decide_layout("auto", 6, (1,), num_devices=4)
  assert (layout.seeds, layout.data, layout.padded_seeds) == (4, 1, 8)


def _free_port() -> int:
  with socket.socket() as sock:
    sock.bind(("localhost", 0))
    return sock.getsockname()[1]


RNN_COMMAND = ["-m", "experiments.main", "--config=experiments/configs/rnn_binary_addition.py:quick",
               "--config.num_seeds=4", "--config.num_train=64", "--config.num_test=32"]
ROOT = pathlib.Path(__file__).parent.parent


def _two_processes(arguments):
  address = f"localhost:{_free_port()}"
  return [_python(RNN_COMMAND + arguments + [f"--coordinator_address={address}",
                                             "--num_processes=2", f"--process_id={index}"],
                  2, cwd=ROOT) for index in (0, 1)]


def test_two_processes_write_once_the_records_of_one_process(tmp_path):
  # Two variants: each process drops a variant's checkpoints (a barrier) at the same point.
  command = ["--config.variant=base,tanh", "--config.num_epochs=2"]
  _finish(_python(RNN_COMMAND + command + [f"--workdir={tmp_path / 'one'}"], 4, cwd=ROOT))
  outputs = _finish(*_two_processes(command + [f"--workdir={tmp_path / 'two'}"]))
  # Process 0 alone logs (gloo's connection lines aside).
  assert "[tanh] epoch 2/2" in outputs[0] and "[base]" not in outputs[1]
  one, two = (json.loads((tmp_path / name / "history.json").read_text()) for name in ("one", "two"))
  for variant in ("base", "tanh"):  # same global mesh: identical
    assert one[variant]["metrics"] == two[variant]["metrics"]
  summary = json.loads((tmp_path / "two" / "summary.json").read_text())
  assert summary["provenance"]["devices"]["processes"] == 2
  assert summary["variants"]["base"]["tuning"]["layout"]["seeds"] == 4
  assert len(list((tmp_path / "two" / ".records").iterdir())) == 2  # one generation + link


def test_a_signal_to_one_process_stops_both_at_one_epoch_and_the_rerun_resumes(tmp_path):
  command = ["--config.variant=base", "--config.num_epochs=20000", f"--workdir={tmp_path}"]
  processes = _two_processes(command)
  for line in processes[0].stdout:  # training has started: SIGTERM to process 1 alone
    if "[base] epoch" in line:
      processes[1].send_signal(signal.SIGTERM)
      break
  results = _wait(*processes)
  assert [status for status, _, _ in results] == [143, 143], _report(results)  # both stopped
  saved = re.search(r"checkpoint saved at epoch (\d+)", results[0][1])  # after the same epoch
  assert saved and all("stopped by SIGTERM" in err for _, _, err in results), _report(results)
  outputs = _finish(*_two_processes(command))
  assert f"resumed from the checkpoint at epoch {saved[1]}" in outputs[0]
  assert "[base] epoch 20000/20000" in outputs[0]
