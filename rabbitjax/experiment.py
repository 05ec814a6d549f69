"""Running a config: every selected variant as one vmapped sweep, with records and plots saved."""

import dataclasses
import pathlib
from typing import Callable

import jax
import ml_collections
import numpy as np

from rabbitjax import io, plots, report
from rabbitjax.config import validate_config, variant_config, variant_names
from rabbitjax.train import FitResult, Sweep, fit, make_sweep, over_runs


@dataclasses.dataclass
class VariantResult:
  """A trained variant: its sweep, the fit, and the exercise's per-run outputs (seed, point, ...)."""

  name: str
  label: str
  config: ml_collections.ConfigDict
  sweep: Sweep
  fit: FitResult
  outputs: dict


def make_run_sweep(config: ml_collections.ConfigDict, sweepable) -> Sweep:
  """Seeds config.seed .. config.seed + num_seeds - 1, crossed with config.sweep's grid."""
  seeds = config.seed + np.arange(config.num_seeds)
  defaults = {name: config[name] for name in sweepable if name in config}
  return make_sweep(seeds, defaults, dict(config.get("sweep", {}) or {}))


def _epoch_logger(log, name: str, num_epochs: int, unit: str = "epoch"):
  width = len(str(num_epochs))

  def on_epoch(epoch, metrics):
    parts = [f"{metric} " + " ".join(f"{v:.4g}" for v in np.atleast_1d(metrics[metric].mean(0)))
             for metric in sorted(metrics, key=report.metric_order)]
    log(f"[{name}] {unit} {epoch:>{width}}/{num_epochs}  " + "  ".join(parts))

  return on_epoch


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
  spec = validate_config(config)
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  io.write_json(workdir / "config.json", config.to_dict())
  summary = {"exercise": config.exercise, "variants": {}}
  history = {}
  results = []
  for name in variant_names(config):
    variant = variant_config(config, name)
    # Per variant: a variant may change a sweepable default (the RNN's Adam: learning_rate).
    sweep = make_run_sweep(variant, spec.sweepable)
    exercise = spec.build(variant, data_dir)
    points = ", ".join(plots.point_label(sweep, point) for point in range(sweep.num_points))
    log(f"[{name}] {variant.get('label', name)}: {len(sweep.seeds)} seeds x {sweep.num_points} "
        f"points ({points}); each epoch shows the mean over seeds for every point")
    if exercise.train is not None:
      fitted = exercise.train(sweep)
      _log_history(log, name, fitted.history)
    else:
      fitted = fit(exercise.task, sweep, variant.num_epochs, data=exercise.data,
                   make_data=exercise.make_data,
                   on_epoch=_epoch_logger(log, name, variant.num_epochs),
                   seeds_at_once=exercise.seeds_at_once)
    outputs = {}
    if exercise.describe is not None:
      outputs = jax.device_get(jax.jit(over_runs(exercise.describe, 0, 0))(fitted.state))
    result = VariantResult(name, variant.get("label", name), variant, sweep, fitted,
                           {key: np.asarray(value) for key, value in outputs.items()})
    results.append(result)
    summary["variants"][name] = report.summarize_variant(result)
    history[name] = report.history_record(result)
    written = _write_records(workdir, summary, history)
    if exercise.model_summary:
      written.append(workdir / f"{name}_model.txt")
      io.write_text(written[-1], exercise.model_summary)
    written += _plot(workdir, result, results, exercise)
    log(f"[{name}] setup {fitted.setup_seconds:.2f} s, compile {fitted.compile_seconds:.2f} s, "
        f"train {fitted.train_seconds:.2f} s; saved {', '.join(p.name for p in written)}")
  return summary


def _log_history(log, name: str, history: dict, lines: int = 10) -> None:
  """About `lines` evenly spaced entries of a history that was computed in one program."""
  total = next(iter(history.values())).shape[0]
  on_entry = _epoch_logger(log, name, total, unit="log")
  for entry in range(1, total + 1):
    if entry % max(1, total // lines) == 0 or entry == total:
      on_entry(entry, {metric: values[entry - 1] for metric, values in history.items()})


def _write_records(workdir: pathlib.Path, summary: dict, history: dict) -> list:
  paths = [workdir / "history.json", workdir / "summary.json", workdir / "summary.md"]
  io.write_json(paths[0], history)
  io.write_json(paths[1], summary)
  io.write_text(paths[2], report.markdown(summary))
  return paths


def _plot(workdir: pathlib.Path, result: VariantResult, results: list, exercise) -> list:
  paths = [workdir / f"{result.name}_curves.png"]
  x_label = "epoch" if exercise.train is None else "log entry (chunk of steps, or update)"
  plots.plot_learning_curves(result.fit.history, result.sweep, result.label, paths[0], x_label)
  if exercise.plot is not None:
    paths += exercise.plot(result, workdir)
  if len(result.sweep.swept) == 1:
    # Final metrics against the swept value, every variant so far on the same axes.
    hparam = result.sweep.swept[0]
    finals = {metric: lambda r, m=metric: r.fit.history[m][-1]
              for metric in result.fit.history if metric.startswith("val_")}
    finals.update({name: lambda r, n=name: r.outputs[n]
                   for name, value in result.outputs.items() if value.ndim == 2})
    comparable = [r for r in results if r.sweep.swept == result.sweep.swept]
    for metric, final in finals.items():
      path = workdir / f"{metric}_vs_{hparam}.png"
      series = {r.label: (r.sweep.hparams[hparam], final(r)) for r in comparable
                if metric in r.fit.history or metric in r.outputs}
      plots.plot_against_hparam(series, hparam, metric, f"final {metric} against {hparam}", path)
      paths.append(path)
  return paths
