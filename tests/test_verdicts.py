"""The course's verdict rules on made-up per-seed values, and the bootstrap interval under them."""

import math

import numpy as np
import pytest

from rabbitjax import stats, verdicts


def test_interval_is_seeded_and_brackets_the_mean():
  values = np.random.default_rng(3).normal(1.0, 0.5, size=12)
  centre, low, high = stats.interval(values)
  assert low < centre < high and centre == pytest.approx(values.mean())
  assert (low, high) == stats.interval(values)[1:]  # same values, same interval
  assert values.min() <= low and high <= values.max()  # a bootstrap of the mean stays in range


def test_interval_of_one_value_or_no_spread():
  centre, low, high = stats.interval([0.7])
  assert centre == 0.7 and math.isnan(low) and math.isnan(high)
  assert stats.interval(np.ones(5)) == (1.0, 1.0, 1.0)


def test_interval_along_an_axis_gives_a_band():
  curves = np.random.default_rng(0).normal(size=(8, 30))  # (seeds, epochs)
  centre, low, high = stats.interval(curves, stats.interquartile_mean, axis=0)
  assert centre.shape == low.shape == high.shape == (30,)
  assert np.all(low <= centre) and np.all(centre <= high)


@pytest.mark.parametrize("shape", [(2,), (5,), (13,), (8, 30), (3, 4, 2)])
def test_interval_and_interquartile_mean_are_scipys(shape):
  """The numpy bootstrap is scipy.stats.bootstrap's percentile interval (same seed, same
  resamples); the interquartile mean is scipy's trim_mean exactly."""
  import scipy.stats

  values = np.random.default_rng(len(shape)).normal(size=shape) * 10.0 ** np.arange(shape[-1])
  np.testing.assert_array_equal(stats.interquartile_mean(values),
                                scipy.stats.trim_mean(values, 0.25, axis=0))
  for statistic, exact in ((np.mean, False), (stats.interquartile_mean, True)):
    _, low, high = stats.interval(values, statistic)
    expected = scipy.stats.bootstrap(
        (values,), statistic, axis=0, vectorized=True, confidence_level=stats.CONFIDENCE,
        n_resamples=stats.RESAMPLES, method="percentile", rng=np.random.default_rng(0))
    # The mean's resamples as one matrix product: the same sums in another order.
    rtol = 0 if exact else 1e-12
    np.testing.assert_allclose(low, expected.confidence_interval.low, rtol=rtol, atol=0)
    np.testing.assert_allclose(high, expected.confidence_interval.high, rtol=rtol, atol=0)


def test_a_clear_effect_holds():
  found = verdicts.direction(np.full(8, 0.05) + np.linspace(-0.01, 0.01, 8))
  assert found.verdict == "holds" and found.agreeing == 8 and found.seeds == 8
  assert found.low > 0 and found.effect == pytest.approx(0.05)


def test_an_effect_against_the_claim_does_not_hold():
  found = verdicts.direction(np.linspace(-0.06, -0.04, 8))
  assert found.verdict == "does not hold" and found.agreeing == 0 and found.high < 0
  # the claimed sign flips the reading: the same values hold a 'lower' claim
  assert verdicts.direction(np.linspace(-0.06, -0.04, 8), sign=-1).verdict == "holds"


def test_no_difference_at_all_does_not_hold():
  found = verdicts.direction(np.zeros(8))
  assert found.verdict == "does not hold" and found.effect == 0 and found.agreeing == 0


def test_noise_around_zero_is_inconclusive_and_says_how_many_seeds_would_decide():
  differences = np.array([0.3, -0.2, 0.25, -0.1, 0.2, -0.15, 0.1, 0.05])
  found = verdicts.direction(differences)
  assert found.low < 0 < found.high
  needed = math.ceil((1.96 * differences.std(ddof=1) / differences.mean()) ** 2)
  assert found.verdict == f"inconclusive at 8 seeds (about {needed} would decide)"
  assert found.agreeing == 5
  assert verdicts.direction([0.02]).verdict == "inconclusive at 1 seed"


def test_a_negligible_effect_needs_more_seeds_than_anyone_runs():
  differences = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -0.999])
  assert verdicts.direction(differences).verdict.endswith("(more than 1,000 would decide)")


def test_sameness_within_and_beyond_its_tolerance():
  close = np.full((3, 5), 1e-7)  # (seeds, epochs)
  assert verdicts.sameness(close, 1e-5).verdict == "holds"
  apart = close.copy()
  apart[1, 4] = -3e-4
  found = verdicts.sameness(apart, 1e-5)
  assert found.verdict == "does not hold" and found.effect == pytest.approx(3e-4)
  assert found.agreeing == 2 and found.seeds == 3


def test_threshold_claims():
  assert verdicts.threshold(np.array([0.992, 0.993, 0.994, 0.993]), 0.99).verdict == "holds"
  assert verdicts.threshold(np.array([0.981, 0.983, 0.982]), 0.99).verdict == "does not hold"
  straddling = verdicts.threshold(np.array([0.985, 0.995, 0.988, 0.996]), 0.99)
  assert straddling.verdict.startswith("inconclusive at 4 seeds") and straddling.agreeing == 2
  assert verdicts.threshold(np.array([0.995]), 0.99).verdict == "inconclusive at 1 seed"
  below = verdicts.threshold(np.array([0.25, 0.5, 0.75]), 1.0, above=False)
  assert below.verdict == "holds" and below.agreeing == 3


def test_diverged_runs_are_left_out_and_nothing_left_is_not_measured():
  found = verdicts.direction(np.array([0.1, np.nan, 0.12, 0.11]))
  assert found.seeds == 3 and found.verdict == "holds"
  assert verdicts.direction(np.array([np.nan])).verdict == "not measured"


def test_cells_for_the_table():
  assert verdicts.direction(np.array([0.1, 0.12, 0.11])).cells()[1] == "3 of 3"
  effect, _ = verdicts.threshold(np.array([0.5]), 0.9).cells()
  assert effect == "0.5"  # no interval for one seed
