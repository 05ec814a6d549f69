"""Runs a researcher can trust: divergence, overrides, one-line failures, caches, file modes,
checkpoints with exact resume, signals and kills (subprocesses where the signal or exit status
is the point)."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import chex
import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments.configs import linear_regression, rnn_binary_addition
from rabbitjax import checkpoint, io, report, stats, stopping
from rabbitjax.config import ConfigError, command_line_fields
from rabbitjax.data import DatasetUnavailableError, load_split
from rabbitjax.experiment import run_experiment
from rabbitjax.exercises.rnn_binary_addition import EXERCISE as RNN
from rabbitjax.train import make_sweep

QUIET = dict(log=lambda line: None)
# Subprocesses compile like the in-process tests (fast) and read no real dataset.
ENV = {key: value for key, value in os.environ.items() if key != "TFDS_DATA_DIR"}
ENV.update(JAX_DISABLE_MOST_OPTIMIZATIONS="true", JAX_PLATFORMS="cpu")
LINEAR = "experiments/configs/linear_regression.py:quick"
RNN_FLAGS = ["--config=experiments/configs/rnn_binary_addition.py:quick", "--config.variant=base",
             "--config.num_epochs=24", "--config.checkpoint_every=1"]


def strict_json(path):
  """Parses a JSON file, refusing the NaN / Infinity tokens strict parsers reject."""
  def refuse(token):
    raise ValueError(f"non-standard JSON token {token}")
  return json.loads(pathlib.Path(path).read_text(), parse_constant=refuse)


def launch(*flags, workdir, timeout=180):
  command = [sys.executable, "-m", "experiments.main", f"--workdir={workdir}", *flags]
  return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=ENV)


def one_error_line(completed) -> str:
  lines = [line for line in completed.stderr.splitlines() if line.strip()]
  assert len(lines) == 1 and lines[0].startswith("error: "), completed.stderr[-2000:]
  assert "Traceback" not in completed.stderr
  return lines[0]


def final_numbers(workdir) -> dict:
  summary = strict_json(pathlib.Path(workdir) / "summary.json")
  return {name: [point["final"] for point in variant["points"]]
          for name, variant in summary["variants"].items()}


def assert_consistent(workdir) -> None:
  """Summary, history and plots describe the same variants; every record link resolves."""
  workdir = pathlib.Path(workdir)
  if not (workdir / "summary.json").exists():
    assert not (workdir / "history.json").exists()
    return
  variants = set(strict_json(workdir / "summary.json")["variants"])
  assert set(strict_json(workdir / "history.json")) == variants
  for name in variants:
    assert (workdir / f"{name}_curves.png").stat().st_size > 0
  assert {path.name.removesuffix("_curves.png") for path in workdir.glob("*_curves.png")
          if path.exists()} == variants


def no_temporaries(workdir) -> None:
  workdir = pathlib.Path(workdir)
  leftovers = [path for path in workdir.rglob("*") if path.name.endswith(".tmp")
               or "orbax-checkpoint-tmp" in path.name or (path.is_symlink() and not path.exists())]
  assert not leftovers, leftovers
  assert [path.name for path in (workdir / ".records").iterdir()] in (
      ["current", (workdir / ".records" / "current").resolve().name],
      [(workdir / ".records" / "current").resolve().name, "current"])


# --- divergence ----------------------------------------------------------------------------

def test_diverged_runs_are_logged_marked_excluded_and_strict_json(tmp_path):
  config = linear_regression.get_config("quick")
  config.variant = "slope_3"
  config.sweep = {"learning_rate": (0.1, 1e6)}
  lines = []
  summary = run_experiment(config, tmp_path, log=lines.append)
  variant = summary["variants"]["slope_3"]
  assert variant["diverged_runs"] == 2  # both seeds at lr 1e6
  fine, blown = variant["points"]
  assert fine["diverged"] == [] and fine["final"]["val_loss"]["runs"] == 2
  assert [run["seed"] for run in blown["diverged"]] == [0, 1] and blown["diverged"][0]["epoch"] >= 1
  assert blown["final"]["val_loss"]["mean"] is None and blown["final"]["val_loss"]["runs"] == 0
  logged = [line for line in lines if "diverged at epoch" in line]
  assert len(logged) == 2 and "seed 0, learning_rate=1e+06" in logged[0]  # once per run
  for name in ("summary.json", "history.json"):
    strict_json(tmp_path / name)
  for line in (tmp_path / "metrics.jsonl").read_text().splitlines():
    json.loads(line, parse_constant=lambda token: pytest.fail(token))
  assert "2 runs diverged" in (tmp_path / "summary.md").read_text()


def test_json_of_numpy_values_finite_and_not():
  values = {"a": np.float32(0.5), "b": np.arange(3), "c": [np.float64(2.0)], 1: True}
  assert json.loads(io.dumps(values)) == {"a": 0.5, "b": [0, 1, 2], "c": [2.0], "1": True}
  assert json.loads(io.dumps({**values, "d": np.array([1.0, np.inf])}))["d"] == [1.0, None]


def test_a_run_that_diverged_is_left_out_of_the_point_means():
  history = {"loss": np.array([[[1.0], [2.0]], [[0.5], [np.nan]], [[0.25], [np.nan]]])}

  class Result:  # just what summarize_variant reads
    run = type("Run", (), {"history": history, "outputs": {}, "seconds": {}})()
    sweep = make_sweep([7, 8], {"learning_rate": 0.1})
    label, log_unit, tuning = "x", "epoch", {}
    config = linear_regression.get_config("quick")

  point = report.summarize_variant(Result())["points"][0]
  assert point["diverged"] == [{"seed": 8, "epoch": 2}]
  assert point["final"]["loss"]["mean"] == 0.25 and point["final"]["loss"]["runs"] == 1
  # Tables show the sample std.
  mean, std, count = stats.over_seeds([[1.0], [2.0], [4.0]])
  np.testing.assert_allclose(std, np.std([1.0, 2.0, 4.0], ddof=1))


@pytest.mark.parametrize("expected, status", [(False, 3), (True, 0)])
def test_divergence_exits_3_unless_expected(expected, status, tmp_path):
  completed = launch(f"--config={LINEAR}", "--config.learning_rate=1e6",
                     f"--config.divergence_expected={expected}", workdir=tmp_path)
  assert completed.returncode == status, completed.stderr[-2000:]
  if status:
    assert "8 runs diverged" in one_error_line(completed)


# --- overrides, bad input ------------------------------------------------------------------

def test_command_line_fields_are_found():
  argv = ["main", "--config=x.py", "--config.coefficients=(1,2)", "--config.sweep.noise=(0.,)",
          "--workdir=w"]
  assert command_line_fields(argv) == {"coefficients", "sweep"}


def test_command_line_overrides_win_over_the_variant(tmp_path):
  completed = launch(f"--config={LINEAR}", "--config.variant=slope_3",
                     "--config.coefficients=(0.5,-1.0)", "--config.num_epochs=40",
                     "--config.sweep.noise=(0.0,)", workdir=tmp_path)
  assert completed.returncode == 0, completed.stderr[-2000:]
  variant = strict_json(tmp_path / "summary.json")["variants"]["slope_3"]
  assert variant["config"]["coefficients"] == [0.5, -1.0]  # the records say what ran
  np.testing.assert_allclose(variant["points"][0]["final"]["coefficients"]["mean"], [0.5, -1.0],
                             atol=0.05)


@pytest.mark.parametrize("workdir, flag, message", [
    ("run", "--config.variant=", "config.variant='' selects no variant"),
    ("run", "--config.variant=,", "config.variant=',' selects no variant"),
    ("run", "--config.variant=slope_3,slope_3", "names variant 'slope_3' twice"),
    ("run", "--config.checkpoint_every=-2", "config.checkpoint_every=-2 is invalid"),
    ("", "--config.seed=0", "the workdir is empty"),
    ("a_file", "--config.seed=0", "is a file, not a directory"),
    ("a_file/below", "--config.seed=0", "cannot write records into workdir"),
    ("/proc/rabbitjax", "--config.seed=0", "cannot write records into workdir"),
])
def test_bad_selection_or_workdir_is_one_line_and_status_2(workdir, flag, message, tmp_path):
  (tmp_path / "a_file").write_text("not a directory")
  if workdir and not workdir.startswith("/"):
    workdir = str(tmp_path / workdir)
  completed = launch(f"--config={LINEAR}", flag, workdir=workdir)
  assert completed.returncode == 2 and message in one_error_line(completed)
  assert not (pathlib.Path.cwd() / "summary.json").exists()


# --- data and caches -----------------------------------------------------------------------

@pytest.mark.parametrize("cache", ["a_file", "/proc/rabbitjax-cache"])
def test_unusable_cache_directory_means_no_cache_and_a_warning(cache, tmp_path, caplog):
  (tmp_path / "a_file").write_text("not a directory")
  with tfds.testing.mock_data(num_examples=6):
    data = load_split("mnist", "test", data_dir=str(tmp_path), cache_dir=tmp_path / cache)
  assert data.inputs.shape == (6, 28, 28, 1)
  assert "running without the cache" in caplog.text


@pytest.mark.parametrize("damage", ["truncate", "overwrite"])
def test_corrupt_cache_entry_is_rebuilt_with_a_warning(damage, tmp_path, caplog):
  cache = tmp_path / "cache"
  with tfds.testing.mock_data(num_examples=5):
    fresh = load_split("mnist", "test", data_dir=str(tmp_path), cache_dir=cache)
    [cached_file] = cache.glob("*.npz")
    data = cached_file.read_bytes()
    cached_file.write_bytes(data[:len(data) // 2] if damage == "truncate" else b"x" * len(data))
    rebuilt = load_split("mnist", "test", data_dir=str(tmp_path), cache_dir=cache)
    again = load_split("mnist", "test", data_dir=str(tmp_path), cache_dir=cache)
  chex.assert_trees_all_equal(fresh, rebuilt, again)
  assert "unusable" in caplog.text and "rebuilding" in caplog.text


def test_corrupt_dataset_file_is_named(tmp_path, monkeypatch):
  split_file = tmp_path / "mnist" / "3.0.1" / "mnist-test.array_record-00000-of-00001"
  split_file.parent.mkdir(parents=True)
  split_file.write_bytes(b"half a file")

  class CorruptSource:  # what tfds.data_source gives for a truncated ArrayRecord file
    def __len__(self):
      return 3

    def __getitem__(self, index):
      raise RuntimeError("Corrupted Riegeli/records file: chunk header hash mismatch")

  monkeypatch.setattr(tfds, "data_source", lambda *args, **kwargs: CorruptSource())
  with pytest.raises(DatasetUnavailableError) as error:
    load_split("mnist", "test", data_dir=str(tmp_path), cache_dir=None)
  message = str(error.value)
  assert "\n" not in message and str(split_file) in message and "is corrupt" in message
  assert "hash mismatch" in message and "re-prepare" in message


def test_files_follow_the_umask(tmp_path, monkeypatch):
  monkeypatch.setenv("RABBITJAX_CACHE_DIR", str(tmp_path / "cache"))
  previous = os.umask(0o022)
  try:
    run_experiment(linear_regression.get_config("quick"), tmp_path / "run", **QUIET)
    with tfds.testing.mock_data(num_examples=4):
      load_split("mnist", "test", data_dir=str(tmp_path))
    saver = checkpoint.Checkpoints(tmp_path / "checkpoints", every=1, **QUIET)
    saver.save(1, {"w": np.ones(3, np.float32)}, {"loss": [np.zeros((1, 1), np.float32)]})
  finally:
    os.umask(previous)
  files = [path for path in (tmp_path / "run").rglob("*") if path.is_file()]
  files += list((tmp_path / "cache").rglob("*.npz"))
  files += [path for path in (tmp_path / "checkpoints").rglob("*") if path.is_file()]
  assert len(files) > 10
  assert {oct(path.stat().st_mode & 0o777) for path in files} == {"0o644"}


# --- records: merge, refusal ---------------------------------------------------------------

def test_a_rerun_merges_variants_keeps_finished_ones_and_refuses_another_config(tmp_path):
  config = linear_regression.get_config("quick")
  config.variant = "slope_3"
  first = run_experiment(config, tmp_path, **QUIET)
  config.variant = "slope_minus_6"
  second = run_experiment(config, tmp_path, **QUIET)
  assert list(second["variants"]) == ["slope_3", "slope_minus_6"]
  assert second["variants"]["slope_3"] == first["variants"]["slope_3"]
  assert set(strict_json(tmp_path / "history.json")) == {"slope_3", "slope_minus_6"}
  assert_consistent(tmp_path)
  lines = []
  config.variant = "all"
  run_experiment(config, tmp_path, log=lines.append)
  assert sum("finished in an earlier run: kept" in line for line in lines) == 2
  config.num_epochs = 6
  with pytest.raises(ConfigError, match=r"config.num_epochs=5, this run has 6: pass --fresh"):
    run_experiment(config, tmp_path, **QUIET)
  fresh = run_experiment(config, tmp_path, fresh=True, **QUIET)
  assert fresh["variants"]["slope_3"]["num_epochs"] == 6
  no_temporaries(tmp_path)


def test_summary_records_provenance(tmp_path):
  summary = run_experiment(linear_regression.get_config("quick"), tmp_path, argv=["x"], **QUIET)
  provenance = summary["provenance"]
  assert provenance["versions"]["jax"] == jax.__version__ and provenance["argv"] == ["x"]
  assert provenance["devices"]["count"] == len(jax.devices()) and provenance["backend"] == "cpu"
  assert provenance["started"] <= provenance["finished"]
  assert set(provenance) >= {"git", "cpu", "xla_flags", "python"}
  assert summary["variants"]["slope_3"]["tuning"]["backend"] == "cpu"


# --- checkpoints and exact resume ----------------------------------------------------------

def test_a_checkpoint_of_another_layout_is_a_one_line_error(tmp_path):
  # 8 runs saved (6 seeds padded for a 4-device seed axis), 6 wanted on one device.
  saved = checkpoint.Checkpoints(tmp_path, every=1, **QUIET)
  saved.save(1, {"w": jax.numpy.zeros((8, 3))}, {"loss": [np.zeros((8, 1), np.float32)]})
  with pytest.raises(ConfigError, match=r"does not fit this run \(w: saved \(8, 3\), this run \(6, 3\)\)"):
    checkpoint.Checkpoints(tmp_path, **QUIET).restore({"w": jax.numpy.zeros((6, 3))})


def test_interrupted_fit_resumes_to_the_same_numbers_bit_for_bit(tmp_path):
  config = rnn_binary_addition.get_config("quick")
  config.update(variant="recurrent_dropout", num_epochs=4, num_seeds=2)  # dropout keys too
  from rabbitjax.config import variant_config
  config = variant_config(config, "recurrent_dropout")
  trainer, sweep = RNN.build(config), RNN.sweep(config)
  uninterrupted = trainer.train(sweep)

  class StopAfter(checkpoint.Checkpoints):
    def after_epoch(self, epoch, num_epochs, state, history):
      if epoch == 2:
        stopping.STOP.set()
      try:
        super().after_epoch(epoch, num_epochs, state, history)
      finally:
        stopping.STOP.clear()

  with pytest.raises(stopping.Interrupted):
    trainer.train(sweep, None, StopAfter(tmp_path / "ck", every=-1, **QUIET))
  resumed = trainer.train(sweep, None, checkpoint.Checkpoints(tmp_path / "ck", **QUIET))
  chex.assert_trees_all_equal(resumed.history, uninterrupted.history)
  chex.assert_trees_all_equal(resumed.state.params, uninterrupted.state.params)
  # Seconds per epoch from the epochs each run timed: 4 uninterrupted, the last 2 resumed.
  assert uninterrupted.seconds["per_entry"] == pytest.approx(uninterrupted.seconds["train"] / 4)
  assert resumed.seconds["per_entry"] == pytest.approx(resumed.seconds["train"] / 2)


def _start(workdir, *flags, launcher="experiments.main"):
  command = [sys.executable, "-u", "-m", launcher, f"--workdir={workdir}", *flags]
  return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=ENV)


def _wait_for(process, text, timeout=120):
  deadline = time.monotonic() + timeout
  for line in process.stdout:
    if text in line:
      return
    assert time.monotonic() < deadline, f"no {text!r} in time"
  pytest.fail(f"the run ended before {text!r}: {process.stderr.read()[-2000:]}")


def _kill_after(workdir, text: str) -> None:
  """Starts the RNN run in `workdir` and SIGKILLs it once it has printed `text`."""
  process = _start(workdir, *RNN_FLAGS)
  _wait_for(process, text)
  process.kill()
  process.communicate(timeout=60)


@pytest.fixture(scope="module")
def uninterrupted_rnn(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("uninterrupted")
  completed = launch(*RNN_FLAGS, workdir=workdir)
  assert completed.returncode == 0, completed.stderr[-2000:]
  return final_numbers(workdir)


def _stop(process, stop_signal: signal.Signals) -> None:
  """Sends `stop_signal`; the run must end with one line and exit status 128 + the signal."""
  process.send_signal(stop_signal)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 128 + stop_signal, stderr[-2000:]
  line = one_error_line(subprocess.CompletedProcess([], process.returncode, stdout, stderr))
  assert f"stopped by {stop_signal.name}" in line and "rerun the same command to resume" in line


def test_sigint_stops_with_one_line_and_the_rerun_resumes_exactly(uninterrupted_rnn, tmp_path):
  process = _start(tmp_path, *RNN_FLAGS)
  _wait_for(process, "checkpoint saved at epoch 2")
  _stop(process, signal.SIGINT)
  resumed = launch(*RNN_FLAGS, workdir=tmp_path)
  assert resumed.returncode == 0 and "resumed from the checkpoint at epoch" in resumed.stdout
  assert final_numbers(tmp_path) == uninterrupted_rnn
  no_temporaries(tmp_path)
  assert not (tmp_path / "checkpoints" / "base").exists()


def test_sigterm_stops_the_course_launcher_with_one_line_and_status_143(tmp_path):
  process = _start(tmp_path, "--tier=quick", "--parts=rnn_binary_addition",
                   launcher="experiments.course")
  _wait_for(process, "] epoch")
  _stop(process, signal.SIGTERM)


def test_sigkill_leaves_consistent_records_and_the_rerun_resumes_exactly(uninterrupted_rnn,
                                                                          tmp_path):
  _kill_after(tmp_path, "checkpoint saved at epoch 3")
  assert_consistent(tmp_path)
  resumed = launch(*RNN_FLAGS, workdir=tmp_path)
  assert resumed.returncode == 0 and "resumed from the checkpoint at epoch" in resumed.stdout
  assert final_numbers(tmp_path) == uninterrupted_rnn
  assert_consistent(tmp_path)
  no_temporaries(tmp_path)
  epochs = [json.loads(line)["epoch"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert epochs[-1] == 24 and set(range(1, 25)) <= set(epochs)


def test_sigkill_between_variants_keeps_records_consistent(tmp_path):
  flags = [f"--config={LINEAR}", "--config.num_epochs=60"]
  for delay in (0.0, 0.02):  # into the first variant's commit, then somewhere later
    process = _start(tmp_path, *flags)
    _wait_for(process, "[slope_3] epoch 60/60")
    time.sleep(delay)
    process.kill()
    process.communicate(timeout=60)
    assert_consistent(tmp_path)
  completed = launch(*flags, workdir=tmp_path)
  assert completed.returncode == 0, completed.stderr[-2000:]
  assert_consistent(tmp_path)
  no_temporaries(tmp_path)
  assert set(strict_json(tmp_path / "summary.json")["variants"]) == {"slope_3", "slope_minus_6"}


def _largest_data_file(directory: pathlib.Path) -> pathlib.Path:
  """The largest file of the checkpoint's array data (TensorStore's OCDBT `d/` files)."""
  return max((path for path in directory.rglob("*") if path.is_file() and path.parent.name == "d"),
             key=lambda path: path.stat().st_size)


def test_a_truncated_checkpoint_is_one_line_and_the_variant_starts_over(uninterrupted_rnn,
                                                                        tmp_path):
  _kill_after(tmp_path, "checkpoint saved at epoch 2")
  damaged = _largest_data_file(tmp_path / "checkpoints" / "base")
  damaged.write_bytes(b"")  # as a crash or a full disk would leave it
  resumed = launch(*RNN_FLAGS, workdir=tmp_path)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  warnings = [line for line in resumed.stdout.splitlines() if "cannot be read" in line]
  assert len(warnings) == 1 and "starts over from epoch 0" in warnings[0], resumed.stdout[-2000:]
  assert "Traceback" not in resumed.stderr and "Event loop is closed" not in resumed.stderr
  assert "resumed from the checkpoint" not in resumed.stdout
  assert final_numbers(tmp_path) == uninterrupted_rnn
  assert_consistent(tmp_path)
  no_temporaries(tmp_path)


def test_a_missing_checkpoint_file_means_starting_over(tmp_path):
  state = {"w": jax.numpy.arange(12.0).reshape(4, 3)}
  checkpoint.Checkpoints(tmp_path, every=1, **QUIET).save(1, state, {"loss": [np.zeros(4)]})
  _largest_data_file(tmp_path).unlink()
  lines = []
  assert checkpoint.Checkpoints(tmp_path, log=lines.append).restore(state) is None
  assert len(lines) == 1 and "cannot be read" in lines[0] and str(tmp_path) in lines[0]
  assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_a_checkpoint_that_cannot_be_written_is_a_storage_error(tmp_path, monkeypatch):
  import orbax.checkpoint as ocp

  def full_disk(*args, **kwargs):
    raise OSError(28, "No space left on device")
  monkeypatch.setattr(ocp.CheckpointManager, "save", full_disk)
  with pytest.raises(io.StorageError, match="checkpoint at epoch 1.*No space left on device"):
    checkpoint.Checkpoints(tmp_path, **QUIET).save(1, {"w": jax.numpy.zeros(3)},
                                                   {"loss": [np.zeros(1)]})


class _FullDisk:
  """A metrics file on a full disk: every write fails as the OS would fail it."""

  name = "metrics.jsonl"

  def write(self, text):
    raise OSError(28, "No space left on device")

  def close(self):
    pass


@pytest.mark.parametrize("site", ["plot", "metrics"])
def test_a_failed_write_leaves_the_last_commit_as_it_was(site, tmp_path, monkeypatch):
  from rabbitjax import experiment, figures, plots

  first = linear_regression.get_config("quick")
  first.variant = "slope_3"
  run_experiment(first, tmp_path, **QUIET)
  committed = {name: (tmp_path / name).read_bytes() for name in ("summary.json", "history.json")}
  if site == "plot":
    def full_disk(*args, **kwargs):
      raise OSError(28, "No space left on device")
    monkeypatch.setenv(figures.FIGURES_ENV, "inline")  # drawn here, where the patch applies
    monkeypatch.setattr(plots, "plot_learning_curves", full_disk)
  else:
    monkeypatch.setattr(experiment, "open", lambda *args, **kwargs: _FullDisk(), raising=False)
  with pytest.raises(io.StorageError, match="cannot write .*No space left on device"):
    run_experiment(linear_regression.get_config("quick"), tmp_path, **QUIET)  # + slope_minus_6
  monkeypatch.undo()
  assert {name: (tmp_path / name).read_bytes() for name in committed} == committed
  assert not list((tmp_path / ".records").glob("*.tmp"))
  assert_consistent(tmp_path)


def _mounted_full_disk(path: pathlib.Path, size: str = "96k") -> bool:
  path.mkdir(parents=True, exist_ok=True)
  return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                        capture_output=True).returncode == 0


def test_a_full_filesystem_is_one_line_and_status_4(tmp_path):
  workdir = tmp_path / "small"
  if not _mounted_full_disk(workdir):
    pytest.skip("mounting a tmpfs is not allowed here (needs root)")
  try:
    completed = launch(f"--config={LINEAR}", workdir=workdir)
    assert completed.returncode == 4, completed.stderr[-2000:]
    line = one_error_line(completed)
    assert "cannot write" in line and "No space left on device" in line
    assert_consistent(workdir)
  finally:
    subprocess.run(["umount", str(workdir)], check=False)


def test_the_course_launcher_refuses_a_bad_flag_in_one_line(tmp_path):
  command = [sys.executable, "-m", "experiments.course", f"--workdir={tmp_path}", "--tier=huge"]
  completed = subprocess.run(command, capture_output=True, text=True, timeout=120, env=ENV)
  assert completed.returncode == 2
  assert "--tier" in one_error_line(completed)
