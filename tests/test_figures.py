"""Figures drawn in a child process: the same files as drawn here, its failures raised here, a
child that dies replaced by drawing here, and a run that never imports matplotlib itself."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from rabbitjax import figures

CURVES = figures.Figure("plot_learning_curves", "curves.png", {
    "history": {"loss": np.linspace(1.0, 0.1, 12).reshape(4, 3, 1),
                "val_loss": np.linspace(1.2, 0.2, 12).reshape(4, 3, 1)},
    "point_labels": ["default"], "title": "t"})


@pytest.fixture
def child(monkeypatch):
  monkeypatch.setenv(figures.FIGURES_ENV, "child")
  figures.start()
  return figures._child


def test_a_child_draws_the_same_file_as_this_process(child, tmp_path, monkeypatch):
  (tmp_path / "child").mkdir()
  (tmp_path / "here").mkdir()
  drawing = figures.submit([CURVES], tmp_path / "child")
  assert child.alive() and sum(channel.sent - channel.received
                               for channel in child.channels) == 1  # drawn over there
  drawing.wait()
  monkeypatch.setenv(figures.FIGURES_ENV, "inline")
  figures.submit([CURVES], tmp_path / "here").wait()
  assert (tmp_path / "child/curves.png").read_bytes() == (tmp_path / "here/curves.png").read_bytes()


def test_two_figures_are_drawn_by_two_drawers_and_a_failed_part_is_raised(child, tmp_path):
  other = figures.Figure("plot_learning_curves", "other.png", CURVES.arguments)
  before = [channel.sent for channel in child.channels]
  figures.submit([CURVES, other], tmp_path).wait()
  assert [channel.sent - sent for channel, sent in zip(child.channels, before)] == [1, 1]
  assert (tmp_path / "curves.png").stat().st_size > 0 and (tmp_path / "other.png").stat().st_size
  missing = figures.Figure("plot_learning_curves", "missing/x.png", CURVES.arguments)
  drawing = figures.submit([CURVES, missing], tmp_path)  # one part fails, the other is drawn
  with pytest.raises(FileNotFoundError):
    drawing.wait()
  assert child.alive()


def test_a_failed_write_in_the_child_is_raised_here(child, tmp_path):
  drawing = figures.submit([CURVES], tmp_path / "missing")
  with pytest.raises(FileNotFoundError):
    drawing.wait()
  figures.submit([CURVES], tmp_path).wait()  # and the child draws on
  assert (tmp_path / "curves.png").stat().st_size > 0


def test_figures_of_a_child_that_died_are_drawn_here(child, tmp_path):
  drawing = figures.submit([CURVES], tmp_path)
  os.killpg(child.process.pid, signal.SIGKILL)  # the child and the drawer it forked
  child.process.wait()
  drawing.wait()  # its answer never comes: drawn here instead
  assert (tmp_path / "curves.png").stat().st_size > 0
  figures.submit([], tmp_path).wait()  # nothing to draw: nothing sent
  (tmp_path / "curves.png").unlink()
  figures.submit([CURVES], tmp_path).wait()  # a new child
  assert (tmp_path / "curves.png").stat().st_size > 0 and figures._child.alive()


def test_a_run_draws_its_figures_without_importing_matplotlib(tmp_path):
  code = ("import sys, rabbitjax; r = rabbitjax.run('linear_regression:quick', sys.argv[1], "
          "log=None, variant='slope_3'); assert 'matplotlib' not in sys.modules; "
          "print(sorted(path.name for path in r.figures))")
  env = {**os.environ, figures.FIGURES_ENV: "child"}
  completed = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                             text=True, env=env, timeout=300)
  assert completed.returncode == 0, completed.stderr[-2000:]
  assert completed.stdout.split() == ["['coefficient_error_vs_noise.png',", "'slope_3_curves.png',",
                                      "'slope_3_fits.png',", "'val_loss_vs_noise.png']"]


def test_done_says_without_waiting_whether_the_figures_are_written(child, tmp_path, monkeypatch):
  drawing = figures.submit([CURVES], tmp_path)
  deadline = time.monotonic() + 120
  while not drawing.done():
    assert time.monotonic() < deadline
    time.sleep(0.01)
  assert (tmp_path / "curves.png").stat().st_size > 0  # written before done() said so
  drawing.wait()
  assert drawing.done()
  monkeypatch.setenv(figures.FIGURES_ENV, "inline")
  assert not figures.submit([CURVES], tmp_path).done()  # here: drawn when waited for


def test_drawers_whose_parent_has_gone_exit_without_a_word(tmp_path):
  # The parent leaves (a failed run's os._exit) while its figures are being drawn: the drawers'
  # answers find no reader, and the run's stderr must keep its one line.
  code = ("import os, sys, time, numpy as np; from rabbitjax import figures; figures.start(); "
          "time.sleep(2); history = {'loss': np.random.default_rng(0).random((300, 8, 1))}; "
          "figure = figures.Figure('plot_learning_curves', 'c.png', {'history': history, "
          "'point_labels': ['d'], 'title': 't'}); "
          "figures.submit([figure] * 4, sys.argv[1]); time.sleep(0.05); os._exit(0)")
  env = {**os.environ, figures.FIGURES_ENV: "child"}
  completed = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                             text=True, env=env, timeout=120)  # until the drawers close stderr
  assert completed.returncode == 0 and completed.stderr == ""
