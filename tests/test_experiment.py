"""The launcher's job end to end: records, tables and plots in the workdir, written atomically."""

import json

import numpy as np
import pytest

from experiments.configs import linear_regression, rnn_binary_addition
from rabbitjax import io
from rabbitjax.exercises import base
from rabbitjax.experiment import run_experiment
from rabbitjax.train import fit


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("linear")
  lines = []
  config = linear_regression.get_config("quick")
  summary = run_experiment(config, workdir, log=lines.append)
  return workdir, summary, lines, config


def test_run_writes_every_record_and_plot(quick_run):
  workdir, _, _, _ = quick_run
  for name in ["config.json", "history.json", "summary.json", "summary.md",
               "slope_3_curves.png", "slope_3_fits.png", "slope_minus_6_curves.png",
               "val_loss_vs_noise.png", "coefficient_error_vs_noise.png"]:
    assert (workdir / name).stat().st_size > 0, name
  assert not list(workdir.glob(".*.tmp"))


def _epoch_lines(lines, variant):
  return [line for line in lines if line.startswith(f"[{variant}] epoch")]


def test_epoch_lines_are_rate_limited_and_metrics_jsonl_keeps_every_epoch(quick_run):
  workdir, _, lines, config = quick_run
  logged = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  for variant in ["slope_3", "slope_minus_6"]:
    epochs = _epoch_lines(lines, variant)
    # The first and the last; between them at most one a second and one per tenth.
    assert 2 <= len(epochs) <= 11 and "val_loss" in epochs[-1]
    assert f"epoch {1:>{len(str(config.num_epochs))}}/" in epochs[0]
    assert f"epoch {config.num_epochs}/{config.num_epochs}" in epochs[-1]
    assert [r["epoch"] for r in logged if r["variant"] == variant] == list(
        range(1, config.num_epochs + 1))
  assert sum(line.startswith("[slope_minus_6] tuning:") for line in lines) == 0  # as slope_3's


def test_every_entry_logs_every_epoch_and_tensorboard_can_be_off(tmp_path):
  lines = []
  config = linear_regression.get_config("quick")
  config.update(variant="slope_3", tensorboard=False)
  run_experiment(config, tmp_path, log=lines.append, every_entry=True)
  assert len(_epoch_lines(lines, "slope_3")) == config.num_epochs
  assert not (tmp_path / "tensorboard").exists()


def test_tensorboard_holds_one_scalar_series_per_seed_and_point(quick_run):
  from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

  workdir, _, _, config = quick_run
  history = json.loads((workdir / "history.json").read_text())["slope_3"]
  runs = sorted((workdir / "tensorboard" / "slope_3").iterdir())
  assert [run.name for run in runs] == ["seed_0_noise=0", "seed_0_noise=1", "seed_1_noise=0",
                                        "seed_1_noise=1"]
  for index, run in enumerate(runs):
    seed, point = divmod(index, 2)
    events = EventAccumulator(str(run)).Reload()
    assert set(events.Tags()["scalars"]) == {"loss", "val_loss"}
    loss = events.Scalars("loss")
    assert [event.step for event in loss] == list(range(1, config.num_epochs + 1))
    np.testing.assert_allclose([event.value for event in loss],
                               np.asarray(history["metrics"]["loss"])[:, seed, point], rtol=1e-6)


def test_summary_has_per_seed_values_mean_and_std(quick_run):
  workdir, summary, _, config = quick_run
  assert json.loads((workdir / "summary.json").read_text()) == summary
  variant = summary["variants"]["slope_3"]
  assert variant["seeds"] == [0, 1] and variant["swept"] == ["noise"]
  assert [point["hparams"] for point in variant["points"]] == [{"noise": 0.0}, {"noise": 1.0}]
  val_loss = variant["points"][1]["final"]["val_loss"]
  assert len(val_loss["per_seed"]) == config.num_seeds
  np.testing.assert_allclose(val_loss["mean"], np.mean(val_loss["per_seed"]))
  np.testing.assert_allclose(val_loss["std"], np.std(val_loss["per_seed"], ddof=1))
  coefficients = variant["points"][0]["final"]["coefficients"]
  assert np.shape(coefficients["per_seed"]) == (2, 2) and len(coefficients["mean"]) == 2


def test_history_holds_every_epoch_of_every_run(quick_run):
  workdir, _, _, config = quick_run
  history = json.loads((workdir / "history.json").read_text())
  loss = np.asarray(history["slope_minus_6"]["metrics"]["loss"])
  assert loss.shape == (config.num_epochs, config.num_seeds, 2)
  assert loss[-1, :, 0].mean() < loss[0, :, 0].mean()  # Learning happened.


def test_markdown_table(quick_run):
  workdir, _, _, _ = quick_run
  table = (workdir / "summary.md").read_text()
  assert "## slope_3: d = 3x + 2" in table
  assert "| point | loss | val_loss | coefficient_error | coefficients |" in table
  assert "| noise=1 |" in table and " ± " in table


def test_interrupted_write_keeps_the_previous_file(tmp_path):
  path = tmp_path / "summary.json"
  io.write_json(path, {"saved": 1})
  with pytest.raises(KeyboardInterrupt):
    with io.atomic_path(path) as tmp:
      with open(tmp, "w") as f:
        f.write('{"half": ')
      raise KeyboardInterrupt
  assert json.loads(path.read_text()) == {"saved": 1}
  assert list(tmp_path.iterdir()) == [path]


def test_a_variant_override_of_a_sweepable_default_reaches_the_optimizer(tmp_path, monkeypatch):
  """The RNN's Adam variant sets learning_rate 0.001 while the base config says 0.1."""
  config = rnn_binary_addition.get_config("quick")
  config.update(variant="adam", num_epochs=1, num_seeds=1)
  seen = {}

  def spy_fit(task, sweep, *args, **kwargs):
    result = fit(task, sweep, *args, **kwargs)
    seen["rate"] = result.state.hparams["learning_rate"]
    return result

  monkeypatch.setattr(base, "fit", spy_fit)
  run_experiment(config, tmp_path, log=lambda line: None)
  np.testing.assert_allclose(seen["rate"], [[0.001]])


def test_tuning_is_logged_once_and_recorded(quick_run):
  workdir, summary, lines, _ = quick_run
  assert sum(line.startswith("[slope_3] tuning: ") for line in lines) == 1
  record = summary["variants"]["slope_3"]["tuning"]
  assert record["backend"] == "cpu" and record["eval_batch_size"] == 256
  assert record["conv_formulation"] is None and record["fast_path"]
  assert len(record["reasons"]) == 1 and "rabbitjax.xla_cpu" in record["reasons"][0]
  assert summary["variants"]["slope_3"]["log_unit"] == "epoch"


def test_progress_takes_blocks_of_entries_and_names_each_divergence_once(tmp_path):
  """Two blocks of epochs: every epoch a metrics.jsonl line, each run's first non-finite epoch
  named once (seed 1 at epoch 3 of the first block), the first and last epoch lines."""
  from rabbitjax.experiment import _Progress
  from rabbitjax.train import make_sweep

  sweep = make_sweep([0, 1], {"learning_rate": 0.1}, {"learning_rate": (0.1, 0.2)})
  trainer = base.Trainer(train=None, num_logs=8, log_unit="epoch", tuning=None)
  lines = []
  progress = _Progress(lines.append, "v", trainer, sweep, tmp_path / "metrics.jsonl",
                       tensorboard_dir=tmp_path / "tb")
  loss = np.ones((8, 2, 2), np.float32)
  loss[2:, 1, 0] = np.nan  # seed 1, first point: from epoch 3 on
  loss[6, 0, 1] = np.inf  # seed 0, second point: epoch 7 only
  progress(1, {"loss": loss[:5]}, 0.01)
  progress(6, {"loss": loss[5:]}, 0.01)
  progress.close()
  diverged = [line for line in lines if "diverged" in line]
  assert diverged == ["[v] run seed 1, learning_rate=0.1 diverged at epoch 3: loss not finite",
                      "[v] run seed 0, learning_rate=0.2 diverged at epoch 7: loss not finite"]
  epochs = [line for line in lines if line.startswith("[v] epoch")]
  assert epochs[0].startswith("[v] epoch 1/8") and epochs[-1].startswith("[v] epoch 8/8")
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [record["epoch"] for record in records] == list(range(1, 9))
  assert records[0]["mean_over_seeds"]["loss"] == [1.0, 1.0]
  assert "eta_seconds" not in records[0] and records[1]["eta_seconds"] == pytest.approx(0.06)
