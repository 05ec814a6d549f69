"""PNG plots of sweeps: learning curves with bands over seeds, metrics against a swept value, fits."""

import dataclasses

import matplotlib
import matplotlib.figure
import matplotlib.ticker
import numpy as np

from rabbitjax import stats
from rabbitjax.io import atomic_path


def point_label(sweep, point: int) -> str:
  """'noise=0.3, learning_rate=0.01' for a point; 'default' when nothing is swept."""
  values = sweep.point(point)
  return ", ".join(f"{name}={value:g}" for name, value in values.items()) or "default"


def _subplots(*args, **kwargs):
  """(figure, axes) as pyplot.subplots gives them, on a Figure of its own: files only, so
  neither pyplot (a quarter of matplotlib's import) nor its figure registry."""
  fig = matplotlib.figure.Figure(figsize=kwargs.pop("figsize", None))
  return fig, fig.subplots(*args, **kwargs)


def _save(fig, path) -> None:
  with atomic_path(path) as tmp:
    fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def _symlog(ax, nonnegative: bool = True) -> None:
  """A symlog y axis labelled in plain numbers: matplotlib's default 10^k labels go through
  mathtext, which took a third of a small figure's drawing time. Nonnegative values (losses,
  errors) keep the axis from 0 up: below it there is nothing to show."""
  ax.set_yscale("symlog", linthresh=1e-4)
  if nonnegative:
    ax.set_ylim(bottom=0)
  ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))

  def minor_label(value, _):  # 2 and 5 x 10^k, where the axis spans under two decades
    low, high = (max(abs(limit), 1e-4) for limit in ax.get_ylim())
    digit = abs(value) / 10 ** np.floor(np.log10(abs(value))) if value else 0
    narrow = abs(np.log10(high / low)) < 2
    return f"{value:g}" if narrow and round(digit) in (2, 5) else ""

  ax.yaxis.set_minor_locator(matplotlib.ticker.SymmetricalLogLocator(
      base=10, linthresh=1e-4, subs=[2, 5]))
  ax.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(minor_label))


def plural(count: int, noun: str) -> str:
  """'1 seed', '8 seeds'."""
  return f"{count} {noun}" + ("" if count == 1 else "s")


def _over(seeds: int, summary: str) -> str:
  """'mean and 95% bootstrap band over 8 seeds'; '1 seed' alone (one run has no band)."""
  return f"{summary} over {plural(seeds, 'seed')}" if seeds > 1 else plural(seeds, "seed")


CENTRES = {"mean": ("mean", np.mean), "iqm": ("interquartile mean", stats.interquartile_mean)}


def _band(ax, x, values, label, color, linestyle="-", centre="mean", seed_lines=False):
  """The centre over the leading (seed) axis as a line, its 95% bootstrap interval as a band
  (a bootstrap of the mean stays within the values' range: no negative counts, no accuracy over
  1); with `seed_lines`, each seed faintly as well."""
  values = np.asarray(values, np.float64)
  values = values[~np.any(np.isnan(values), axis=1)]  # diverged runs are left out whole
  if not len(values):
    return
  middle, low, high = stats.interval(values, CENTRES[centre][1], axis=0)
  ax.plot(x, middle, linestyle, color=color, label=label)
  if len(values) > 1:
    ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
  if seed_lines:
    for run in values:
      ax.plot(x, run, linestyle, color=color, alpha=0.25, linewidth=0.6)


def plot_learning_curves(history: dict, sweep, title: str, path, x_label: str = "epoch",
                         keep=None, centre: str = "mean") -> None:
  """One panel per metric (train solid, validation dashed), one colour per sweep point.

  keep: (seeds, points) bool, the runs drawn (diverged ones left out); default all.
  centre: "mean", or "iqm" (the interquartile mean, for agents' returns), each with its 95%
    bootstrap band; with one sweep point every seed is drawn faintly too.
  """
  metrics = [name for name in history if not name.startswith("val_")]
  fig, axes = _subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
  fig.subplots_adjust(wspace=0.3)
  colors = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, sweep.num_points))
  for ax, metric in zip(axes[0], metrics):
    epochs = np.arange(1, history[metric].shape[0] + 1)
    log_loss = (metric == "loss" and np.all(np.nan_to_num(history[metric], nan=0.0) >= 0)
                and _spans_decades(history[metric], 2))
    for point, color in enumerate(colors):
      label = point_label(sweep, point)
      kept = np.ones(len(sweep.seeds), bool) if keep is None else np.asarray(keep[:, point])
      for name, style, suffix in ((metric, "-", "train"), (f"val_{metric}", "--", "val")):
        if name in history:
          _band(ax, epochs, history[name][:, kept, point].T, f"{label} {suffix}", color, style,
                centre, seed_lines=sweep.num_points == 1)
    ax.set_xlabel(x_label)
    ax.set_ylabel(metric)
    if log_loss:
      _symlog(ax)
    ax.grid(alpha=0.3)
  if axes[0, -1].get_legend_handles_labels()[0]:  # every run diverged: nothing to label
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
  summary = f"{CENTRES[centre][0]} and 95% bootstrap band"
  fig.suptitle(f"{title} ({_over(len(sweep.seeds), summary)})")
  _save(fig, path)


def _spans_decades(values, decades: float) -> bool:
  """Whether the nonzero |values| span more than `decades` powers of ten."""
  values = np.abs(np.asarray(values, np.float64))
  values = values[np.isfinite(values) & (values > 0)]
  return len(values) > 1 and np.log10(values.max() / values.min()) > decades


def plot_against_hparam(series: dict, hparam: str, ylabel: str, title: str, path) -> None:
  """A final metric against one swept hyper-parameter: the mean over seeds with its 95%
  bootstrap interval as error bars.

  A swept value spanning more than a decade (learning rates) goes on a log axis; the metric
  on a symlog axis only where it spans more than two decades (errors against noise), else on
  a linear axis with its own tick labels.

  Args:
    series: line label -> (hparam values (M,), metric values (seeds, M), NaN for runs left out).
  """
  fig, ax = _subplots(figsize=(6, 4))
  all_x, all_y, seeds = [], [], 0
  for label, (x, values) in series.items():
    values = np.asarray(values, np.float64)
    middle, low, high = (np.array(column) for column in zip(
        *(stats.interval(values[:, point]) for point in range(values.shape[1]))))
    error = np.nan_to_num(np.stack([middle - low, high - middle]), nan=0.0)
    ax.errorbar(x, middle, yerr=error, marker="o", capsize=3, label=label)
    all_x += list(x)
    all_y.append(values.ravel())
    seeds = max(seeds, len(values))
  ax.set_xlabel(hparam)
  ax.set_ylabel(ylabel)
  if _spans_decades(all_x, 1):  # a 0 among the values needs symlog's linear stretch
    ax.set_xscale("log" if min(all_x) > 0 else "symlog",
                  **({} if min(all_x) > 0 else {"linthresh": min(abs(v) for v in all_x if v)}))
  ax.set_xticks(sorted(set(all_x)))  # a tick at each swept value, in plain numbers
  ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
  ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
  all_y = np.concatenate(all_y)
  if _spans_decades(all_y, 2):
    _symlog(ax, nonnegative=bool(np.nanmin(all_y) >= 0))
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  ax.set_title(f"{title} ({_over(seeds, 'mean and 95% bootstrap interval')})", fontsize=9)
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
  fig, axes = _subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4), sharey=True,
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
  fig, axes = _subplots(1, len(maps), figsize=(3.4 * len(maps), 3.6), squeeze=False)
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
