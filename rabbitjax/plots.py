"""PNG plots of sweeps: learning curves with bands over seeds, metrics against a swept value, fits.

Called through `rabbitjax.figures` (in the process that draws), never by the training itself.
"""

import io

import matplotlib
import matplotlib.figure
import matplotlib.ticker
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg

from rabbitjax import stats
from rabbitjax.io import atomic_path


_DPI = 110
_PAD = 0.1  # inches of white kept around what is drawn, as savefig's bbox_inches="tight" pads
_ROOM = 0.5  # inches of canvas added on every side, for what reaches past the figure's edge


def _subplots(*args, figsize, right: float = 0.0, **kwargs):
  """(figure, axes) as pyplot.subplots gives them, on a Figure of its own (files only: neither
  pyplot, a quarter of matplotlib's import, nor its figure registry). The axes sit where
  pyplot puts them in a `figsize` figure, on a canvas `_ROOM` inches larger on every side
  (and `right` more: a legend beside the axes), whose white `_save` crops: what
  bbox_inches="tight" gives, without its extra layout pass (BUILD_NOTES, "Figures")."""
  width, height = figsize
  room_right = _ROOM + right
  fig = matplotlib.figure.Figure(figsize=(width + _ROOM + room_right, height + 2 * _ROOM),
                                 dpi=_DPI)
  params = matplotlib.rcParams
  canvas_width, canvas_height = fig.get_size_inches()
  fig.subplots_adjust(
      left=(params["figure.subplot.left"] * width + _ROOM) / canvas_width,
      right=1 - ((1 - params["figure.subplot.right"]) * width + room_right) / canvas_width,
      bottom=(params["figure.subplot.bottom"] * height + _ROOM) / canvas_height,
      top=1 - ((1 - params["figure.subplot.top"]) * height + _ROOM) / canvas_height)
  return fig, fig.subplots(*args, **kwargs)


def _suptitle(fig, text: str, **kwargs) -> None:
  """fig.suptitle as pyplot places it in the figure `_subplots` was given: centred over the
  axes, near the top."""
  canvas_height = fig.get_size_inches()[1]
  top = 1 - (_ROOM + 0.02 * (canvas_height - 2 * _ROOM)) / canvas_height
  fig.suptitle(text, x=(fig.subplotpars.left + fig.subplotpars.right) / 2, y=top, **kwargs)


def _save(fig, path) -> None:
  with atomic_path(path) as tmp:
    _write_png(fig, tmp)


def _write_png(fig, file) -> None:
  """The figure drawn once, cropped to what is drawn (plus `_PAD`), written as a PNG; where
  something reaches the canvas' edge (a title longer than the figure is wide), savefig's
  bbox_inches="tight", which draws it whole."""
  canvas = FigureCanvasAgg(fig)
  canvas.draw()
  pixels = np.asarray(canvas.buffer_rgba())
  # One uint32 per RGBA pixel: a comparison 50x faster than of 4 bytes reduced over an axis.
  packed = np.ascontiguousarray(pixels).view(np.uint32)[..., 0]
  drawn = packed != packed[0, 0]  # the corner holds the background
  if drawn[0].any() or drawn[-1].any() or drawn[:, 0].any() or drawn[:, -1].any():
    fig.savefig(file, format="png", dpi=_DPI, bbox_inches="tight", pad_inches=_PAD)
    return
  rows, columns = np.flatnonzero(drawn.any(1)), np.flatnonzero(drawn.any(0))
  pad = round(_PAD * _DPI)
  if len(rows):
    pixels = pixels[max(rows[0] - pad, 0):rows[-1] + pad + 1,
                    max(columns[0] - pad, 0):columns[-1] + pad + 1]
  PIL.Image.fromarray(pixels).save(file, format="png", dpi=(_DPI, _DPI))


def warm_up() -> None:
  """Draws a small figure into memory: fonts and the PNG writer loaded for the next one."""
  fig, ax = _subplots(figsize=(2, 2))
  ax.plot([0, 1], label="loss")
  ax.legend()
  _suptitle(fig, "0.1")
  _write_png(fig, io.BytesIO())


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
  # One entry (a one-epoch quick run) is a point, which a line alone would not show.
  ax.plot(x, middle, linestyle, color=color, label=label, marker="o" if len(x) == 1 else None)
  if len(values) > 1:
    ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
  if seed_lines:
    for run in values:
      ax.plot(x, run, linestyle, color=color, alpha=0.25, linewidth=0.6)


def plot_learning_curves(history: dict, point_labels: list, title: str, path,
                         x_label: str = "epoch", keep=None, centre: str = "mean") -> None:
  """One panel per metric (train solid, validation dashed), one colour per sweep point.

  history: metric -> (entries, seeds, points); point_labels: one per point.
  keep: (seeds, points) bool, the runs drawn (diverged ones left out); default all.
  centre: "mean", or "iqm" (the interquartile mean, for agents' returns), each with its 95%
    bootstrap band; with one sweep point every seed is drawn faintly too.
  """
  metrics = [name for name in history if not name.startswith("val_")]
  labels = [f"{label} {suffix}" for label in point_labels for suffix in ("train", "val")]
  fig, axes = _curves_figure(len(metrics), _legend_width(labels, fontsize=7))
  num_seeds = next(iter(history.values())).shape[1]
  colors = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, len(point_labels)))
  for ax, metric in zip(axes[0], metrics):
    epochs = np.arange(1, history[metric].shape[0] + 1)
    log_loss = (metric == "loss" and np.all(np.nan_to_num(history[metric], nan=0.0) >= 0)
                and _spans_decades(history[metric], 2))
    for point, (label, color) in enumerate(zip(point_labels, colors)):
      kept = np.ones(num_seeds, bool) if keep is None else np.asarray(keep[:, point])
      for name, style, suffix in ((metric, "-", "train"), (f"val_{metric}", "--", "val")):
        if name in history:
          _band(ax, epochs, history[name][:, kept, point].T, f"{label} {suffix}", color, style,
                centre, seed_lines=len(point_labels) == 1)
    ax.set_xlabel(x_label)
    ax.set_ylabel(metric)
    if log_loss:
      _symlog(ax)
    ax.grid(alpha=0.3)
  if axes[0, -1].get_legend_handles_labels()[0]:  # every run diverged: nothing to label
    axes[0, -1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
  summary = f"{CENTRES[centre][0]} and 95% bootstrap band"
  _suptitle(fig, f"{title} ({_over(num_seeds, summary)})")
  _save(fig, path)


# Learning-curve figures of one layout, drawn in turn, share one Figure: a new one's axes and
# ticks took a quarter of such a figure's time (BUILD_NOTES, "Figures").
_CURVES_FIGURES: dict = {}


def _curves_figure(num_panels: int, legend_room: float):
  """(figure, axes) for `num_panels` learning-curve panels and a legend `legend_room` inches
  wide, as `_subplots` makes them: made once per layout, then emptied for each use (the
  same pixels as a new one: tests/test_plots.py)."""
  key = (num_panels, legend_room)
  if key not in _CURVES_FIGURES:
    fig, axes = _subplots(1, num_panels, figsize=(5.5 * num_panels, 4), squeeze=False,
                          right=legend_room)
    fig.subplots_adjust(wspace=0.3)
    _CURVES_FIGURES[key] = fig, axes
  fig, axes = _CURVES_FIGURES[key]
  for ax in axes[0]:
    for artist in [*ax.lines, *ax.collections]:
      artist.remove()
    if ax.get_legend() is not None:
      ax.get_legend().remove()
    ax.set_yscale("linear")  # its default locators and formatters back (`_symlog` set others)
    ax.set_autoscaley_on(True)  # `_symlog`'s lower limit turned it off
    ax.relim()
  return fig, axes


def _legend_width(labels, fontsize: float) -> float:
  """More than the inches a legend of `labels` takes (its handles, padding and text)."""
  return 0.8 + 0.6 * fontsize / 72 * max((len(label) for label in labels), default=0)


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


def plot_fit_panels(panels: list, title: str, path) -> None:
  """A row of `figures.FitPanel`s sharing the y axis."""
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
  _suptitle(fig, title, fontsize=10)
  _save(fig, path)


_ARROWS = {0: (-0.3, 0.0), 1: (0.0, 0.3), 2: (0.3, 0.0), 3: (0.0, -0.3)}  # left, down, right, up


def plot_value_maps(maps: list, layout, terminal, title: str, path) -> None:
  """One panel per `figures.ValueMap`, cells labelled with the map letters (S, F, H, G) and V(s)."""
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
  _suptitle(fig, title, fontsize=10)
  _save(fig, path)
