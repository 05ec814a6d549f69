"""Turning a trained sweep into history.json, summary.json and summary.md records."""

import numpy as np

from rabbitjax import stats


def metric_order(name: str):
  """Training metrics before validation ones, the loss first in each (as Keras prints them)."""
  base = name.removeprefix("val_")
  return (name.startswith("val_"), base != "loss", base)


def non_finite(metrics: dict) -> np.ndarray:
  """Where any of the metrics (arrays of one shape) is NaN or infinite."""
  return np.any([~np.isfinite(values) for values in metrics.values()], axis=0)


def first_non_finite(history: dict) -> np.ndarray:
  """(seeds, points) int: the first history entry (from 1) where any metric of the run is
  NaN or infinite; 0 for a run whose every value is finite."""
  bad = non_finite(history)  # (entries, seeds, points)
  return np.where(bad.any(0), bad.argmax(0) + 1, 0)


def recorded_finals(variant: dict, metric: str) -> np.ndarray:
  """(seeds, points) final values of a metric or per-run output from a variant's summary.json
  record, NaN for the runs that diverged (left out, as the record's means leave them out)."""
  values = np.array([point["final"][metric]["per_seed"] for point in variant["points"]],
                    np.float64).T  # null -> NaN
  for column, point in enumerate(variant["points"]):
    for run in point["diverged"]:
      values[variant["seeds"].index(run["seed"]), column] = np.nan
  return values


def seed_stats(per_seed, keep=None) -> dict:
  """Per-seed values (leading seed axis), with mean and sample std over the kept runs."""
  mean, std, count = stats.over_seeds(per_seed, keep)
  return {"per_seed": np.asarray(per_seed, np.float64).tolist(), "mean": mean.tolist(),
          "std": std.tolist(), "runs": int(np.min(count))}


def summarize_variant(result) -> dict:
  """Final-epoch metrics and per-run outputs of every sweep point, over the seeds that did not
  diverge; each diverged run is listed with the entry where it went non-finite."""
  diverged_at = first_non_finite(result.run.history)
  points = []
  for point in range(result.sweep.num_points):
    keep = diverged_at[:, point] == 0
    final = {name: seed_stats(result.run.history[name][-1, :, point], keep)
             for name in sorted(result.run.history, key=metric_order)}
    final.update({name: seed_stats(values[:, point], keep)
                  for name, values in result.run.outputs.items()})
    points.append({
        "label": result.sweep.point_label(point),
        "hparams": result.sweep.point(point),
        "final": final,
        "diverged": [{"seed": int(result.sweep.seeds[seed]), result.log_unit: int(entry)}
                     for seed, entry in enumerate(diverged_at[:, point]) if entry],
    })
  reference = result.config.get("reference")
  return {
      "label": result.label,
      "reference": reference.to_dict() if reference else {},
      "seeds": result.sweep.seeds.tolist(),
      "swept": list(result.sweep.swept),
      "num_epochs": int(next(iter(result.run.history.values())).shape[0]),
      "log_unit": result.log_unit,
      "points": points,
      "seconds": dict(result.run.seconds),
      "tuning": result.tuning,
      "diverged_runs": int(np.count_nonzero(diverged_at)),
      "config": result.config.to_dict(),
  }


def history_record(result) -> dict:
  """Every epoch's metrics of every run: metrics[name][epoch][seed][point]."""
  return {
      "label": result.label,
      "seeds": result.sweep.seeds.tolist(),
      "points": [result.sweep.point(point) for point in range(result.sweep.num_points)],
      "metrics": dict(result.run.history),  # arrays: written without a walk over each value
  }


def _format(stats: dict) -> str:
  mean = np.asarray(stats["mean"], np.float64)  # null (no run kept) -> NaN
  std = np.asarray(stats["std"], np.float64)
  if mean.size > 8:
    return f"array {mean.shape} in summary.json"
  cells = [("-" if np.isnan(m) else f"{m:.4g} ± {s:.2g}") for m, s in zip(mean.flat, std.flat)]
  return cells[0] if mean.ndim == 0 else "(" + ", ".join(cells) + ")"


def _diverged(variant: dict, points: list) -> str:
  """'2 of 8 seeds (from epoch 3)' for the given points' diverged runs, '' when none."""
  runs = [run for point in points for run in point.get("diverged", [])]
  if not runs:
    return ""
  unit = variant.get("log_unit", "epoch")
  return (f"{len(runs)} of {len(variant['seeds']) * len(points)} runs (from {unit} "
          f"{min(run[unit] for run in runs)})")


def markdown(summary: dict) -> str:
  """Markdown tables, mean ± std over seeds: one row per variant when nothing is swept, else
  a table per variant with one row per sweep point."""
  lines = [f"# {summary['exercise']}", ""]
  variants = summary["variants"]
  first = next(iter(variants.values()))
  seeds = first["seeds"]
  note = f"{len(seeds)} seeds ({seeds[0]}..{seeds[-1]}), final epoch or log entry, mean ± sample "
  note += "std over seeds"
  if any(name.startswith("val_") for name in first["points"][0]["final"]):
    note += "; val_* is the held-out test split"
  diverged = sum(variant.get("diverged_runs", 0) for variant in variants.values())
  if diverged:
    note += (f". **{diverged} runs diverged** (a loss or metric went NaN or infinite): they are "
             "left out of every mean and std, and counted in the `diverged` column")
  lines += [note + ".", ""]
  if all(len(variant["points"]) == 1 for variant in variants.values()):
    return "\n".join(lines + _overview(variants, bool(diverged)))
  for name, variant in variants.items():
    lines += [f"## {name}: {variant['label']}", ""]
    columns = list(variant["points"][0]["final"])
    extra = ["diverged"] if diverged else []
    lines.append("| " + " | ".join(["point", *columns, *extra]) + " |")
    lines.append("|" + "---|" * (len(columns) + 1 + len(extra)))
    for point in variant["points"]:
      cells = [point["label"], *(_format(point["final"][column]) for column in columns)]
      cells += [_diverged(variant, [point]) or "-"] if extra else []
      lines.append("| " + " | ".join(cells) + " |")
    lines += ["", _timing(variant), ""]
  return "\n".join(lines)


def _timing(variant: dict) -> str:
  seconds = variant["seconds"]
  runs = len(variant["seeds"]) * len(variant["points"])
  return (f"Time: setup {seconds['setup']:.2f} s, compile {seconds['compile']:.2f} s, "
          f"training {seconds['train']:.2f} s for all {runs} runs.")


def _overview(variants: dict, diverged: bool) -> list:
  """One row per variant, with the reference figures (e.g. the course's) beside ours."""
  columns = list(next(iter(variants.values()))["points"][0]["final"])
  references = sorted({name for v in variants.values() for name in v.get("reference", {})})
  header = ["variant", *columns, *(f"course {name}" for name in references),
            "epochs", "train s (all seeds)", *(["diverged"] if diverged else [])]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for name, variant in variants.items():
    final = variant["points"][0]["final"]
    cells = [f"{name} ({variant['label']})", *(_format(final[c]) if c in final else "-"
                                               for c in columns)]
    cells += [f"{variant['reference'][r]:g}" if r in variant.get("reference", {}) else "-"
              for r in references]
    cells += [str(variant["num_epochs"]), f"{variant['seconds']['train']:.2f}"]
    cells += [_diverged(variant, variant["points"]) or "-"] if diverged else []
    lines.append("| " + " | ".join(cells) + " |")
  return lines + [""]
