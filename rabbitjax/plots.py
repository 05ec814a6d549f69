"""PNG plots of sweeps: learning curves with bands over seeds, metrics against a swept value, fits."""

import dataclasses

import matplotlib

matplotlib.use("Agg")  # Files only; no display on these machines.
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from rabbitjax import stats  # noqa: E402
from rabbitjax.io import atomic_path  # noqa: E402


def point_label(sweep, point: int) -> str:
  """'noise=0.3, learning_rate=0.01' for a point; 'default' when nothing is swept."""
  values = sweep.point(point)
  return ", ".join(f"{name}={value:g}" for name, value in values.items()) or "default"


def _save(fig, path) -> None:
  with atomic_path(path) as tmp:
    fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
  plt.close(fig)


def _symlog(ax) -> None:
  """A symlog y axis labelled in plain numbers: matplotlib's default 10^k labels go through
  mathtext, which took a third of a small figure's drawing time."""
  ax.set_yscale("symlog", linthresh=1e-4)
  ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))

  def minor_label(value, _):  # 2 and 5 x 10^k, where the axis spans under two decades
    low, high = (max(abs(limit), 1e-4) for limit in ax.get_ylim())
    digit = abs(value) / 10 ** np.floor(np.log10(abs(value))) if value else 0
    narrow = abs(np.log10(high / low)) < 2
    return f"{value:g}" if narrow and round(digit) in (2, 5) else ""

  ax.yaxis.set_minor_locator(matplotlib.ticker.SymmetricalLogLocator(
      base=10, linthresh=1e-4, subs=[2, 5]))
  ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(minor_label))


def _band(ax, x, values, label, color, linestyle="-", keep=None, floor=None):
  """Mean over the leading (seed) axis as a line, +- one std as a band (the kept runs only),
  the band cut at `floor` (a loss's 0) where given."""
  mean, std, _ = stats.over_seeds(values, keep)
  ax.plot(x, mean, linestyle, color=color, label=label)
  ax.fill_between(x, np.maximum(mean - std, -np.inf if floor is None else floor), mean + std,
                  color=color, alpha=0.2, linewidth=0)


def plot_learning_curves(history: dict, sweep, title: str, path, x_label: str = "epoch",
                         keep=None) -> None:
  """One panel per metric (train solid, validation dashed), one colour per sweep point.

  keep: (seeds, points) bool, the runs drawn (diverged ones left out); default all.
  """
  metrics = [name for name in history if not name.startswith("val_")]
  fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
  fig.subplots_adjust(wspace=0.3)
  colors = plt.cm.viridis(np.linspace(0, 0.9, sweep.num_points))
  for ax, metric in zip(axes[0], metrics):
    epochs = np.arange(1, history[metric].shape[0] + 1)
    log_loss = metric == "loss" and np.all(np.nan_to_num(history[metric], nan=0.0) >= 0)
    floor = 0.0 if log_loss else None
    for point, color in enumerate(colors):
      label = point_label(sweep, point)
      kept = None if keep is None else keep[:, point]
      _band(ax, epochs, history[metric][:, :, point].T, f"{label} train", color, keep=kept,
            floor=floor)
      if f"val_{metric}" in history:
        _band(ax, epochs, history[f"val_{metric}"][:, :, point].T, f"{label} val", color, "--",
              keep=kept, floor=floor)
    ax.set_xlabel(x_label)
    ax.set_ylabel(metric)
    if log_loss:
      _symlog(ax)
    ax.grid(alpha=0.3)
  axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
  fig.suptitle(f"{title} (mean and band of +-1 std over {len(sweep.seeds)} seeds)")
  _save(fig, path)


def plot_against_hparam(series: dict, hparam: str, ylabel: str, title: str, path) -> None:
  """Errorbar lines of a final metric against one swept hyper-parameter.

  Args:
    series: line label -> (hparam values (M,), metric values (seeds, M), NaN for runs left out).
  """
  fig, ax = plt.subplots(figsize=(6, 4))
  for label, (x, values) in series.items():
    mean, std, _ = stats.over_seeds(values)
    ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=label)
  ax.set_xlabel(hparam)
  ax.set_ylabel(ylabel)
  _symlog(ax)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  ax.set_title(title)
  _save(fig, path)


@dataclasses.dataclass
class FitPanel:
  """Scattered data with the true curve and one fitted curve per seed, for one sweep point."""

  title: str
  x: np.ndarray
  y: np.ndarray
  x_grid: np.ndarray
  truth: np.ndarray
  fits: list


def plot_fit_panels(panels: list, title: str, path) -> None:
  """A row of FitPanels sharing the y axis."""
  fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), sharey=True,
                           squeeze=False)
  for ax, panel in zip(axes[0], panels):
    ax.scatter(panel.x, panel.y, s=6, alpha=0.5, color="gray", label="data")
    for index, fit in enumerate(panel.fits):
      ax.plot(panel.x_grid, fit, color="tab:orange", alpha=0.5, linewidth=1,
              label="fits" if index == 0 else None)
    ax.plot(panel.x_grid, panel.truth, "k--", linewidth=1, label="truth")
    ax.set_title(panel.title, fontsize=9)
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
  axes[0, 0].set_ylabel("d")
  axes[0, 0].legend(fontsize=7)
  fig.suptitle(title, fontsize=10)
  _save(fig, path)


_ARROWS = {0: (-0.3, 0.0), 1: (0.0, 0.3), 2: (0.3, 0.0), 3: (0.0, -0.3)}  # left, down, right, up


@dataclasses.dataclass
class ValueMap:
  """A grid world's state values as a heatmap, with an arrow for the greedy action of each cell."""

  title: str
  values: np.ndarray  # (rows * columns,)
  actions: np.ndarray  # (rows * columns,) greedy action per cell, ignored on terminal cells


def plot_value_maps(maps: list, layout, terminal, title: str, path) -> None:
  """One panel per ValueMap, cells labelled with the map letters (S, F, H, G) and V(s)."""
  rows, columns = len(layout), len(layout[0])
  fig, axes = plt.subplots(1, len(maps), figsize=(3.4 * len(maps), 3.6), squeeze=False)
  vmax = max(float(np.max(m.values)) for m in maps) or 1.0
  for ax, value_map in zip(axes[0], maps):
    ax.imshow(value_map.values.reshape(rows, columns), cmap="viridis", vmin=0, vmax=vmax)
    for cell in range(rows * columns):
      row, column = divmod(cell, columns)
      ax.text(column - 0.42, row - 0.28, layout[row][column], color="white", fontsize=8)
      ax.text(column, row + 0.38, f"{value_map.values[cell]:.2f}", color="white", fontsize=7,
              ha="center")
      if not terminal[cell]:
        dx, dy = _ARROWS[int(value_map.actions[cell])]
        ax.arrow(column - dx / 2, row - dy / 2, dx, dy, head_width=0.12, color="white")
    ax.set_title(value_map.title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
  fig.suptitle(title, fontsize=10)
  _save(fig, path)
