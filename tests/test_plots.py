"""Figures a reader can read, checked on matplotlib's objects (not pixels): tick labels on every
axis, log axes for sweeps over decades, bands within the values' range, counts in words."""

import numpy as np
import pytest

from rabbitjax import plots


@pytest.fixture
def drawn(monkeypatch):
  """The figures the plot functions would save, kept for inspection."""
  figures = []
  monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
  return figures


def _tick_labels(axis) -> list[str]:
  axis.figure.draw_without_rendering()  # tick labels exist once drawn
  return [label.get_text() for label in axis.get_ticklabels() if label.get_text()]


def test_a_learning_rate_sweep_has_a_log_axis_and_y_tick_labels(drawn):
  accuracy = np.array([[0.966, 0.980, 0.960], [0.967, 0.981, 0.962], [0.968, 0.979, 0.959]])
  plots.plot_against_hparam({"sparse": ([1e-4, 1e-3, 1e-2], accuracy)}, "learning_rate",
                            "val_accuracy", "final val_accuracy", "unused.png")
  ax = drawn[0].axes[0]
  assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
  assert len(_tick_labels(ax.yaxis)) >= 3
  assert _tick_labels(ax.xaxis) == ["0.0001", "0.001", "0.01"]
  assert "over 3 seeds" in ax.get_title()


def test_a_sweep_through_zero_uses_symlog_and_an_error_over_decades_a_symlog_y(drawn):
  mse = np.array([[1e-12, 0.01, 0.09, 1.0, 9.0], [2e-12, 0.011, 0.095, 1.1, 9.3]])
  plots.plot_against_hparam({"d = 3x + 2": ([0.0, 0.1, 0.3, 1.0, 3.0], mse)}, "noise",
                            "val_loss", "final val_loss", "unused.png")
  ax = drawn[0].axes[0]
  assert ax.get_xscale() == "symlog" and ax.get_yscale() == "symlog"
  assert ax.get_ylim()[0] == 0  # nothing below an error of 0
  assert _tick_labels(ax.xaxis) == ["0", "0.1", "0.3", "1", "3"]
  assert len(_tick_labels(ax.yaxis)) >= 3


def test_bands_stay_within_the_values_and_one_seed_is_singular(drawn):
  episodes = np.abs(np.random.default_rng(0).normal(0, 300, size=(20, 8, 1)))  # a count
  episodes[:, 0] = 0.0
  history = {"episodes": episodes}
  plots.plot_learning_curves(history, ["default"], "agent", "unused.png", "chunk", centre="iqm")
  ax = drawn[0].axes[0]
  band = ax.collections[0].get_paths()[0].vertices[:, 1]
  assert band.min() >= 0 and band.max() <= episodes.max()
  assert "interquartile mean and 95% bootstrap band over 8 seeds" in drawn[0]._suptitle.get_text()
  plots.plot_learning_curves({"loss": np.ones((5, 1, 1))}, ["default"], "one", "unused.png")
  assert drawn[1]._suptitle.get_text() == "one (1 seed)"
  assert not drawn[1].axes[0].collections  # one run: no band to draw


def _png_size(path) -> tuple[int, int]:
  import PIL.Image

  return PIL.Image.open(path).size


@pytest.mark.parametrize("title", ["short", "a title longer than the figure is wide " * 3])
def test_the_png_holds_everything_drawn_cropped_to_it(title, tmp_path, drawn):
  labels = [f"learning_rate=0.0001, batch_size={size}, hidden=(512, 512)" for size in (1, 10)]
  history = {"loss": np.ones((5, 2, 2)), "val_loss": np.ones((5, 2, 2))}
  plots.plot_learning_curves(history, labels, title, "unused.png")
  fig = drawn[0]
  fig.draw_without_rendering()
  legend = fig.axes[-1].get_legend().get_window_extent()
  assert legend.x1 <= fig.bbox.x1  # the room beside the axes holds the legend
  plots._write_png(fig, tmp_path / "curves.png")
  width, height = _png_size(tmp_path / "curves.png")
  title = fig._suptitle.get_window_extent()
  assert width >= max(title.width, legend.x1 - fig.axes[0].get_window_extent().x0)
  if title.x0 >= 0:  # all on the canvas: its white room cropped
    assert width < fig.bbox.width and height < fig.bbox.height


def test_a_single_epoch_is_drawn_as_a_point(drawn):
  plots.plot_learning_curves({"loss": np.ones((1, 2, 1))}, ["default"], "one epoch", "unused.png")
  assert drawn[0].axes[0].lines[0].get_marker() == "o"


def test_a_reused_curves_figure_draws_the_pixels_of_a_new_one(tmp_path):
  import PIL.Image

  rng = np.random.default_rng(0)
  decades = np.exp(-np.linspace(0, 12, 40))[:, None, None] * (1 + rng.random((40, 4, 2)))
  flat = {"loss": 1 + rng.random((30, 3, 1)), "val_loss": 1 + rng.random((30, 3, 1)),
          "accuracy": rng.random((30, 3, 1)), "val_accuracy": rng.random((30, 3, 1))}
  cases = [({"loss": decades, "accuracy": decades}, ["a", "b"]),  # a symlog loss, then linear
           (flat, ["a longer label"]), ({"loss": decades[:1], "accuracy": decades[:1]}, ["a", "b"])]
  pixels = lambda path: np.asarray(PIL.Image.open(path))
  new = []
  for index, (history, labels) in enumerate(cases):
    plots._CURVES_FIGURES.clear()
    plots.plot_learning_curves(history, labels, "t", tmp_path / f"new{index}.png")
    new.append(pixels(tmp_path / f"new{index}.png"))
  for index in (0, 1, 2, 1, 0):  # each after others of its layout or another
    plots.plot_learning_curves(*cases[index], "t", tmp_path / "reused.png")
    np.testing.assert_array_equal(pixels(tmp_path / "reused.png"), new[index])
  assert len(plots._CURVES_FIGURES) == 2  # two layouts: one figure each
