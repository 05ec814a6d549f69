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


def test_one_line_per_epoch(quick_run):
  _, _, lines, config = quick_run
  for variant in ["slope_3", "slope_minus_6"]:
    epochs = [line for line in lines if line.startswith(f"[{variant}] epoch")]
    assert len(epochs) == config.num_epochs
    assert "val_loss" in epochs[-1]


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
