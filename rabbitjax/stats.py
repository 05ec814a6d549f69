"""Mean and standard deviation over seeds: the one definition tables and plots share."""

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
