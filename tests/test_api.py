"""rabbitjax.run from Python: a quick config trained, its per-seed finals read, and resumed."""

import doctest

import numpy as np
import pytest

import rabbitjax
from rabbitjax import api
from rabbitjax.config import ConfigError
from rabbitjax.io import WorkdirError


def test_run_reads_finals_per_seed_and_resumes(tmp_path):
  lines = []
  first = rabbitjax.run("linear_regression:quick", tmp_path, log=lines.append,
                        variant="slope_3", num_seeds=3)
  assert first.variants == ["slope_3"] and first.seeds("slope_3") == [0, 1, 2]
  val_loss = first.finals("slope_3", "val_loss")  # (seeds, points)
  assert val_loss.shape == (3, len(first.points("slope_3"))) and np.isfinite(val_loss).all()
  assert first.curves("slope_3", "loss").shape[1:] == (3, val_loss.shape[1])
  assert any(path.name == "slope_3_curves.png" for path in first.figures)
  # Resumed with every variant: the finished one is kept, the other trained.
  lines.clear()
  resumed = rabbitjax.run("linear_regression:quick", tmp_path, log=lines.append, num_seeds=3,
                          variant="slope_3,slope_minus_6")
  assert "[slope_3] finished in an earlier run: kept" in lines
  assert resumed.variants == ["slope_3", "slope_minus_6"]
  np.testing.assert_array_equal(resumed.finals("slope_3", "val_loss"), val_loss)
  assert api.Results.load(tmp_path).summary == resumed.summary


def test_run_refuses_an_unknown_config_or_field_or_an_empty_workdir(tmp_path):
  with pytest.raises(ConfigError, match="no config 'no_such'"):
    rabbitjax.run("no_such", tmp_path)
  with pytest.raises(WorkdirError, match="the workdir is empty"):
    rabbitjax.run("linear_regression:quick", "", log=None)
  with pytest.raises(ConfigError, match="no_such_field"):
    rabbitjax.run("linear_regression:quick", tmp_path, log=None, no_such_field=3)


def test_the_docstring_example_runs():
  assert doctest.testmod(api, raise_on_error=False).failed == 0
