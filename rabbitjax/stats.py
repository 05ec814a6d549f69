"""Summaries over seeds, the one definition tables, plots and the course's verdicts share: mean and
standard deviation, the interquartile mean, bootstrap intervals.

numpy alone: `interquartile_mean` is `scipy.stats.trim_mean(values, 0.25)` and `interval` the
percentile interval of `scipy.stats.bootstrap(..., rng=np.random.default_rng(0))`, the same
resamples (tests/test_verdicts.py holds them to scipy: exact, or to 1e-12 where the mean's sums
run in another order), without importing scipy.stats: over a second of every run's start-up.
"""

import functools
import warnings

import numpy as np


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
  values = np.moveaxis(np.asarray(values, np.float64), axis, -1)
  cut = int(0.25 * values.shape[-1])
  upper = values.shape[-1] - cut
  return np.partition(values, (cut, upper - 1), axis=-1)[..., cut:upper].mean(axis=-1)


@functools.cache
def _resamples(size: int) -> tuple[np.ndarray, np.ndarray]:
  """(RESAMPLES, size) draws with replacement from the one fixed seed, and as (RESAMPLES, size)
  counts of each value."""
  indices = np.random.default_rng(0).integers(0, size, (RESAMPLES, size), dtype=np.int64)
  counts = np.zeros((RESAMPLES, size))
  np.add.at(counts, (np.arange(RESAMPLES)[:, None], indices), 1.0)
  indices.flags.writeable = counts.flags.writeable = False
  return indices, counts


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
  sample = np.moveaxis(values, axis, -1)
  indices, counts = _resamples(sample.shape[-1])
  if statistic is np.mean:  # each resample's mean as counts @ values: a quarter of the time
    resampled = sample @ counts.T / sample.shape[-1]
  else:
    resampled = statistic(sample[..., indices], axis=-1)
  alpha = (1 - CONFIDENCE) / 2
  low, high = _quantiles(resampled, (alpha, 1 - alpha))
  return centre, low[()], high[()]


def _quantiles(values, levels):
  """The `levels` quantiles along the last axis, linearly interpolated (Hyndman and Fan's type
  7, numpy's default), in scipy.stats.quantile's arithmetic, whose last bits numpy's differ
  from. One sort serves every level (np.partition at their four order statistics was slower)."""
  ordered = np.sort(values, axis=-1)
  size = ordered.shape[-1]
  quantiles = []
  for level in levels:
    position = level * size + (1 - level)  # 1-based
    below = min(max(int(position // 1) - 1, 0), size - 1)
    above = min(below + 1, size - 1)
    weight = position % 1
    quantiles.append((1 - weight) * ordered[..., below] + weight * ordered[..., above])
  return quantiles
