"""Summaries over seeds, the one definition tables, plots and the course's verdicts share: mean and
standard deviation, the interquartile mean, bootstrap intervals."""

import warnings

import numpy as np
import scipy.stats


def over_seeds(values, keep=None):
  """(mean, std, count) over the leading seed axis of the runs `keep` selects (default: all).

  std is the sample standard deviation (ddof=1), 0 for a single run; excluded runs (diverged
  ones) count in neither. With no run left, mean and std are NaN.
  """
  values = np.asarray(values, np.float64)
  if keep is not None:
    keep = np.broadcast_to(np.reshape(keep, np.shape(keep) + (1,) * (values.ndim - np.ndim(keep))),
                           values.shape)
    values = np.where(keep, values, np.nan)
  count = np.sum(~np.isnan(values), axis=0)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN, as documented
    mean = np.nanmean(values, axis=0)
    std = np.where(count > 1, np.nanstd(values, axis=0, ddof=1), np.where(count == 1, 0.0, np.nan))
  return mean, std, count


CONFIDENCE = 0.95
RESAMPLES = 2000


def interquartile_mean(values, axis=0):
  """The mean of the middle half (25% cut from each end): the RL field's summary over seeds,
  robust to a few runs that fail or excel."""
  return scipy.stats.trim_mean(values, 0.25, axis=axis)


def interval(values, statistic=np.mean, axis=0):
  """(centre, low, high): `statistic` over `axis` and its 95% percentile-bootstrap interval.

  The resampling is seeded, so the same values give the same interval. NaN runs (diverged) are
  left out of a 1-D sample; with fewer than 2 runs the interval is (NaN, NaN): one run has no
  spread to resample.
  """
  values = np.asarray(values, np.float64)
  if values.ndim == 1:
    values = values[~np.isnan(values)]
  centre = statistic(values, axis=axis) if values.shape[axis] else np.nan
  if values.shape[axis] < 2:
    return centre, np.full_like(centre, np.nan), np.full_like(centre, np.nan)
  if np.all(values == np.take(values, [0], axis=axis)):  # no spread: the interval is the point
    return centre, centre, centre
  result = scipy.stats.bootstrap((values,), statistic, axis=axis, vectorized=True,
                                 confidence_level=CONFIDENCE, n_resamples=RESAMPLES,
                                 method="percentile", rng=np.random.default_rng(0))
  low, high = result.confidence_interval
  return centre, low, high
