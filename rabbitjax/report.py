"""Turning a trained sweep into history.json, summary.json and summary.md records."""

import numpy as np

from rabbitjax.plots import point_label


def metric_order(name: str):
  """Training metrics before validation ones, the loss first in each (as Keras prints them)."""
  base = name.removeprefix("val_")
  return (name.startswith("val_"), base != "loss", base)


def seed_stats(per_seed) -> dict:
  """Per-seed values (leading seed axis) with their mean and sample std (0 for a single seed)."""
  per_seed = np.asarray(per_seed, np.float64)
  std = per_seed.std(0, ddof=1) if per_seed.shape[0] > 1 else np.zeros_like(per_seed[0])
  return {"per_seed": per_seed.tolist(), "mean": per_seed.mean(0).tolist(), "std": std.tolist()}


def summarize_variant(result) -> dict:
  """Final-epoch metrics and per-run outputs of every sweep point, over seeds."""
  points = []
  for point in range(result.sweep.num_points):
    final = {name: seed_stats(result.run.history[name][-1, :, point])
             for name in sorted(result.run.history, key=metric_order)}
    final.update({name: seed_stats(values[:, point])
                  for name, values in result.run.outputs.items()})
    points.append({
        "label": point_label(result.sweep, point),
        "hparams": result.sweep.point(point),
        "final": final,
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
  }


def history_record(result) -> dict:
  """Every epoch's metrics of every run: metrics[name][epoch][seed][point]."""
  return {
      "label": result.label,
      "seeds": result.sweep.seeds.tolist(),
      "points": [result.sweep.point(point) for point in range(result.sweep.num_points)],
      "metrics": {name: values.tolist() for name, values in result.run.history.items()},
  }


def _format(stats: dict) -> str:
  mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
  if mean.ndim == 0:
    return f"{mean:.4g} ± {std:.2g}"
  if mean.size > 8:
    return f"array {mean.shape} in summary.json"
  return "(" + ", ".join(f"{m:.4g} ± {s:.2g}" for m, s in zip(mean, std)) + ")"


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
  lines += [note + ".", ""]
  if all(len(variant["points"]) == 1 for variant in variants.values()):
    return "\n".join(lines + _overview(variants))
  for name, variant in variants.items():
    lines += [f"## {name}: {variant['label']}", ""]
    columns = list(variant["points"][0]["final"])
    lines.append("| " + " | ".join(["point", *columns]) + " |")
    lines.append("|" + "---|" * (len(columns) + 1))
    for point in variant["points"]:
      cells = [point["label"], *(_format(point["final"][column]) for column in columns)]
      lines.append("| " + " | ".join(cells) + " |")
    lines += ["", _timing(variant), ""]
  return "\n".join(lines)


def _timing(variant: dict) -> str:
  seconds = variant["seconds"]
  runs = len(variant["seeds"]) * len(variant["points"])
  return (f"Time: setup {seconds['setup']:.2f} s, compile {seconds['compile']:.2f} s, "
          f"training {seconds['train']:.2f} s for all {runs} runs.")


def _overview(variants: dict) -> list:
  """One row per variant, with the reference figures (e.g. the course's) beside ours."""
  columns = list(next(iter(variants.values()))["points"][0]["final"])
  references = sorted({name for v in variants.values() for name in v.get("reference", {})})
  header = ["variant", *columns, *(f"course {name}" for name in references),
            "epochs", "train s (all seeds)"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for name, variant in variants.items():
    final = variant["points"][0]["final"]
    cells = [f"{name} ({variant['label']})", *(_format(final[c]) if c in final else "-"
                                               for c in columns)]
    cells += [f"{variant['reference'][r]:g}" if r in variant.get("reference", {}) else "-"
              for r in references]
    cells += [str(variant["num_epochs"]), f"{variant['seconds']['train']:.2f}"]
    lines.append("| " + " | ".join(cells) + " |")
  return lines + [""]
