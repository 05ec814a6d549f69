"""Running a config: every selected variant's sweep trained, its records and plots saved."""

import dataclasses
import pathlib
from typing import Callable

import ml_collections
import numpy as np

from rabbitjax import io, plots, report
from rabbitjax.config import variant_config, variant_names
from rabbitjax.exercises import Trainer, exercise_for
from rabbitjax.train import RunResult, Sweep


@dataclasses.dataclass
class VariantResult:
  """A trained variant: its name and label, resolved config, sweep, and what training gave."""

  name: str
  label: str
  config: ml_collections.ConfigDict
  sweep: Sweep
  run: RunResult
  tuning: dict
  log_unit: str


def _logger(log, name: str, trainer: Trainer):
  """on_log for a trainer: one line per history entry, the mean over seeds at every point."""
  width = len(str(trainer.num_logs))

  def on_log(entry, metrics):
    parts = [f"{metric} " + " ".join(f"{v:.4g}" for v in np.atleast_1d(metrics[metric].mean(0)))
             for metric in sorted(metrics, key=report.metric_order)]
    log(f"[{name}] {trainer.log_unit} {entry:>{width}}/{trainer.num_logs}  " + "  ".join(parts))

  return on_log


def run_experiment(
    config: ml_collections.ConfigDict,
    workdir,
    *,
    data_dir: str | None = None,
    log: Callable[[str], None] = print,
) -> dict:
  """Trains every selected variant of `config` and writes its records into `workdir`.

  Writes config.json, history.json, summary.json, summary.md and PNG plots. Each file is
  replaced atomically after each variant, so an interrupted run keeps every variant it reported.

  Returns:
    The summary (as written to summary.json).
  """
  exercise = exercise_for(config)
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  io.write_json(workdir / "config.json", config.to_dict())
  summary = {"exercise": config.exercise, "variants": {}}
  history = {}
  results = []
  for name in variant_names(config):
    variant = variant_config(config, name)
    # Per variant: a variant may change a sweepable default (the RNN's Adam: learning_rate).
    sweep = exercise.sweep(variant)
    trainer = exercise.build(variant, data_dir)
    points = ", ".join(plots.point_label(sweep, point) for point in range(sweep.num_points))
    log(f"[{name}] {variant.get('label', name)}: {len(sweep.seeds)} seeds x {sweep.num_points} "
        f"points ({points}); each {trainer.log_unit} shows the mean over seeds for every point")
    log(f"[{name}] tuning: {trainer.tuning.line()}")
    run = trainer.train(sweep, _logger(log, name, trainer))
    result = VariantResult(name, variant.get("label", name), variant, sweep, run,
                           trainer.tuning.record(), trainer.log_unit)
    results.append(result)
    summary["variants"][name] = report.summarize_variant(result)
    history[name] = report.history_record(result)
    written = _write_records(workdir, summary, history)
    if trainer.model_summary:
      written.append(workdir / f"{name}_model.txt")
      io.write_text(written[-1], trainer.model_summary)
    written += _plot(workdir, result, results, trainer)
    log(f"[{name}] setup {run.seconds['setup']:.2f} s, compile {run.seconds['compile']:.2f} s, "
        f"train {run.seconds['train']:.2f} s; saved {', '.join(p.name for p in written)}")
  return summary


def _write_records(workdir: pathlib.Path, summary: dict, history: dict) -> list:
  paths = [workdir / "history.json", workdir / "summary.json", workdir / "summary.md"]
  io.write_json(paths[0], history)
  io.write_json(paths[1], summary)
  io.write_text(paths[2], report.markdown(summary))
  return paths


def _plot(workdir: pathlib.Path, result: VariantResult, results: list, trainer: Trainer) -> list:
  paths = [workdir / f"{result.name}_curves.png"]
  plots.plot_learning_curves(result.run.history, result.sweep, result.label, paths[0],
                             result.log_unit)
  if trainer.plot is not None:
    paths += trainer.plot(result, workdir)
  if len(result.sweep.swept) == 1:
    # Final metrics against the swept value, every variant so far on the same axes.
    hparam = result.sweep.swept[0]
    finals = {metric: lambda r, m=metric: r.run.history[m][-1]
              for metric in result.run.history if metric.startswith("val_")}
    finals.update({name: lambda r, n=name: r.run.outputs[n]
                   for name, value in result.run.outputs.items() if value.ndim == 2})
    comparable = [r for r in results if r.sweep.swept == result.sweep.swept]
    for metric, final in finals.items():
      path = workdir / f"{metric}_vs_{hparam}.png"
      series = {r.label: (r.sweep.hparams[hparam], final(r)) for r in comparable
                if metric in r.run.history or metric in r.run.outputs}
      plots.plot_against_hparam(series, hparam, metric, f"final {metric} against {hparam}", path)
      paths.append(path)
  return paths
