"""Turning a trained sweep into history.json, summary.json and summary.md records."""

import numpy as np

from rabbitjax.plots import point_label


def seed_stats(per_seed) -> dict:
  """Per-seed values (leading seed axis) with their mean and sample std (0 for a single seed)."""
  per_seed = np.asarray(per_seed, np.float64)
  std = per_seed.std(0, ddof=1) if per_seed.shape[0] > 1 else np.zeros_like(per_seed[0])
  return {"per_seed": per_seed.tolist(), "mean": per_seed.mean(0).tolist(), "std": std.tolist()}


def summarize_variant(result) -> dict:
  """Final-epoch metrics and per-run outputs of every sweep point, over seeds."""
  points = []
  for point in range(result.sweep.num_points):
    final = {name: seed_stats(values[-1, :, point]) for name, values in result.fit.history.items()}
    final.update({name: seed_stats(values[:, point]) for name, values in result.outputs.items()})
    points.append({
        "label": point_label(result.sweep, point),
        "hparams": result.sweep.point(point),
        "final": final,
    })
  return {
      "label": result.label,
      "seeds": result.sweep.seeds.tolist(),
      "swept": list(result.sweep.swept),
      "num_epochs": int(next(iter(result.fit.history.values())).shape[0]),
      "points": points,
      "seconds": {
          "setup": result.fit.setup_seconds,
          "compile": result.fit.compile_seconds,
          "train": result.fit.train_seconds,
      },
  }


def history_record(result) -> dict:
  """Every epoch's metrics of every run: metrics[name][epoch][seed][point]."""
  return {
      "label": result.label,
      "seeds": result.sweep.seeds.tolist(),
      "points": [result.sweep.point(point) for point in range(result.sweep.num_points)],
      "metrics": {name: values.tolist() for name, values in result.fit.history.items()},
  }


def _format(stats: dict) -> str:
  mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
  if mean.ndim == 0:
    return f"{mean:.4g} ± {std:.2g}"
  return "(" + ", ".join(f"{m:.4g} ± {s:.2g}" for m, s in zip(mean, std)) + ")"


def markdown(summary: dict) -> str:
  """A Markdown table per variant: one row per sweep point, mean ± std over seeds."""
  lines = [f"# {summary['exercise']}", ""]
  for name, variant in summary["variants"].items():
    seeds = variant["seeds"]
    lines += [
        f"## {name}: {variant['label']}",
        "",
        f"{len(seeds)} seeds ({seeds[0]}..{seeds[-1]}), {variant['num_epochs']} epochs; "
        "final epoch, mean ± sample std over seeds; val_* is the held-out test split.",
        "",
    ]
    columns = list(variant["points"][0]["final"])
    lines.append("| " + " | ".join(["point", *columns]) + " |")
    lines.append("|" + "---|" * (len(columns) + 1))
    for point in variant["points"]:
      cells = [point["label"], *(_format(point["final"][column]) for column in columns)]
      lines.append("| " + " | ".join(cells) + " |")
    seconds = variant["seconds"]
    lines += [
        "",
        f"Time: setup {seconds['setup']:.2f} s, compile {seconds['compile']:.2f} s, "
        f"training {seconds['train']:.2f} s for all {len(seeds) * len(variant['points'])} runs.",
        "",
    ]
  return "\n".join(lines)
