"""The course report: every conclusion gets a row with an effect, a count and a verdict,
contradicted claims say so, and a part whose dataset is missing is skipped with one line."""

import re

import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments.course import run_course
from rabbitjax import course, verdicts
from rabbitjax.io import WorkdirError

VERDICT = re.compile(r"^(holds|does not hold|measured|inconclusive at 1 (seed|timing)|"
                     r"inconclusive at \d+ seeds \((about \d+|more than 1,000) would decide\)|"
                     r"inconclusive at \d+ seeds \(no mean effect\))$")


@pytest.fixture(scope="module")
def quick_course(tmp_path_factory):
  """The quick tier on tfds' mock data (every dataset 'present', random images and labels)."""
  workdir = tmp_path_factory.mktemp("course")
  lines = []
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv("RABBITJAX_CACHE_DIR", str(workdir / "cache"))
    with tfds.testing.mock_data(num_examples=64):
      path = run_course(workdir, "quick", data_dir=str(workdir / "tfds"), log=lines.append)
  return workdir, path.read_text(), lines


def test_every_claim_has_a_row_and_a_verdict(quick_course):
  workdir, report, _ = quick_course
  claims = course.claims(course.load_records(workdir), "quick")
  assert len(claims) == len(course.CONCLUSIONS) >= 27
  assert [claim.number for claim in claims] == list(range(1, len(claims) + 1))
  for claim in claims:  # the quick tier measures every one
    assert VERDICT.match(claim.verdict), (claim.number, claim.verdict)
    assert re.match(r"^-?[\d.e+-]+( \[-?[\d.e+-]+, -?[\d.e+-]+\])?$", claim.effect), claim
    assert re.match(r"^\d+ of \d+$", claim.agreeing), claim
    assert claim.measurement and f"| {claim.number} | {claim.statement} |" in report
    if claim.figure:
      assert (workdir / claim.figure).exists(), claim.figure
  assert verdicts.RULES in report
  assert "Tier **quick**" in report and "## Speed" in report
  truth_table = report[report.index("Perceptron (batch 1, seed 0)"):].splitlines()
  assert truth_table[4].startswith("| 0 0 | 0 | ") and truth_table[7].startswith("| 1 1 | 1 | ")


def test_a_workdir_without_records_measures_nothing(tmp_path):
  for claim in course.claims(course.load_records(tmp_path), "full"):
    assert claim.verdict == "not measured" and claim.measurement.startswith("not run: "), claim
  assert "](" not in course.report({}, "full", [], {})  # no links to figures never drawn


def test_a_contradicted_claim_says_does_not_hold(quick_course):
  """Mock MNIST is random pixels and labels: the CNN cannot reach 99%, and the report says so."""
  workdir, report, _ = quick_course
  cnn, = (claim for claim in course.claims(course.load_records(workdir), "quick")
          if claim.statement.startswith("MNIST CNN reaches 99%"))
  assert cnn.verdict == "does not hold" and cnn.agreeing == "0 of 2"
  assert "**does not hold**" in report


def test_a_missing_dataset_is_skipped_with_one_line(tmp_path):
  lines = []
  path = run_course(tmp_path, "quick", data_dir=str(tmp_path / "no_tfds"),
                    parts=("cifar10_cnn",), log=lines.append)
  skips = [line for line in lines if line.startswith("skipped cifar10_cnn: ")]
  assert len(skips) == 1 and "\n" not in skips[0] and "--data_dir" in skips[0]
  report = path.read_text()
  assert "- cifar10_cnn: tfds dataset 'cifar10'" in report
  assert "| CIFAR-10 CNN: its speed" in report and "not run: no records of cifar10_cnn" in report


def test_export_copies_the_report_with_what_it_links(quick_course, tmp_path):
  workdir, report, _ = quick_course
  path = course.export(workdir, tmp_path / "docs" / "course")
  assert path.read_text() == report
  for link in re.findall(r"\]\(([^)]+)\)", report):  # every figure the report links
    assert (path.parent / link).is_file() and not (path.parent / link).is_symlink(), link
  assert not list(path.parent.glob("*/history.json"))  # summaries and figures only
  (path.parent / "stale.txt").write_text("from an earlier export")
  course.export(workdir, path.parent)  # an earlier export is replaced whole
  assert not (path.parent / "stale.txt").exists()
  foreign = tmp_path / "notes"
  foreign.mkdir()
  (foreign / "mine.txt").write_text("keep")
  with pytest.raises(WorkdirError, match="holds no earlier export"):
    course.export(workdir, foreign)
  assert (foreign / "mine.txt").read_text() == "keep"


def test_the_course_eta_scales_the_expected_costs_by_the_parts_done():
  for tier in course.TIERS:
    assert set(course.EXPECTED_SECONDS[tier]) == set(course.PARTS)
  expected = course.EXPECTED_SECONDS["standard"]
  assert course.remaining_seconds("standard", {}, ["mnist_cnn"]) == expected["mnist_cnn"]
  # Twice as slow as expected so far; a skipped part (no dataset) says nothing of the machine.
  done = {"linear_regression": 2 * expected["linear_regression"], "cifar10_cnn": None}
  np.testing.assert_allclose(course.remaining_seconds("standard", done, ["mnist_cnn", "iris"]),
                             2 * (expected["mnist_cnn"] + expected["iris"]))
