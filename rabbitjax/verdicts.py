"""Verdicts on the course's conclusions from per-seed values: one rule per kind of claim.

Every rule takes one value per seed (seeds are shared between the variants compared, so a
comparison is a paired difference per seed) and returns a Finding: the effect (mean over seeds),
its 95% bootstrap interval (`stats.interval`), how many seeds point the claimed way, and a
verdict. RULES states them for the report's header.
"""

import dataclasses
import math

import numpy as np

from rabbitjax import stats

HOLDS, DOES_NOT_HOLD, NOT_MEASURED = "holds", "does not hold", "not measured"
MOST_SEEDS = 1000  # beyond this, "more than 1,000 would decide": the effect is negligible
RULES = (
    "Verdicts: each conclusion is measured per seed (a comparison as the paired difference of "
    "the two variants on the same seed: the seeds are shared) and summarised by its mean over "
    "seeds with a 95% percentile-bootstrap interval (2,000 resamples, seeded). A claimed "
    "direction **holds** when the whole interval lies in that direction, **does not hold** when "
    "it lies entirely against it or every seed shows no difference at all, and is "
    "**inconclusive at n seeds** when the interval spans zero (with roughly how many seeds the "
    "observed spread would need to decide it: (1.96 sd / effect)^2; 'more than 1,000': the "
    "effect is negligible against its spread). A claim of sameness holds when the largest "
    "difference over seeds (and epochs) is within its stated tolerance. A threshold claim "
    "compares the interval with the threshold the same way. One seed has no interval: "
    "inconclusive at 1 seed. 'Seeds in direction' counts the seeds whose own value "
    "points the claimed way.")


@dataclasses.dataclass(frozen=True)
class Finding:
  """What the per-seed values say of one claim."""

  effect: float  # mean over seeds (of the differences, or of the values for a threshold)
  low: float  # the 95% interval; NaN with fewer than 2 seeds
  high: float
  agreeing: int  # seeds whose own value points the claimed way
  seeds: int
  verdict: str

  def cells(self, digits: int = 3) -> tuple[str, str]:
    """('effect [low, high]', 'k of n') for the report's table."""
    number = lambda value: f"{value:.{digits}g}"
    spread = ("" if math.isnan(self.low) else f" [{number(self.low)}, {number(self.high)}]")
    return number(self.effect) + spread, f"{self.agreeing} of {self.seeds}"


def _inconclusive(differences: np.ndarray) -> str:
  """'inconclusive at n seeds', with the seeds the observed spread would need where it can say."""
  n = len(differences)
  if n < 2:
    return f"inconclusive at {n} seed"
  mean, sd = float(np.mean(differences)), float(np.std(differences, ddof=1))
  if mean == 0:
    return f"inconclusive at {n} seeds (no mean effect)"
  needed = math.ceil((1.96 * sd / abs(mean)) ** 2)
  if needed > MOST_SEEDS:
    return f"inconclusive at {n} seeds (more than {MOST_SEEDS:,} would decide)"
  return f"inconclusive at {n} seeds (about {max(needed, n + 1)} would decide)"


def _valid(values) -> np.ndarray:
  values = np.asarray(values, np.float64).ravel()
  return values[~np.isnan(values)]  # a diverged run has no value to compare


def direction(differences, sign: int = 1) -> Finding:
  """The claim 'sign * difference > 0': e.g. variant A's accuracy minus B's, per seed."""
  differences = _valid(differences)
  if not len(differences):
    return Finding(math.nan, math.nan, math.nan, 0, 0, NOT_MEASURED)
  effect, low, high = stats.interval(differences)
  signed_low, signed_high = sorted((sign * low, sign * high))
  if np.all(differences == 0):
    verdict = DOES_NOT_HOLD  # nothing differs: no direction at all
  elif len(differences) >= 2 and signed_low > 0:
    verdict = HOLDS
  elif len(differences) >= 2 and signed_high < 0:
    verdict = DOES_NOT_HOLD
  else:
    verdict = _inconclusive(differences)
  return Finding(float(effect), float(low), float(high), int(np.sum(sign * differences > 0)),
                 len(differences), verdict)


def threshold(values, bound: float, above: bool = True) -> Finding:
  """The claim 'value >= bound' (above) or 'value < bound', decided on the mean's interval."""
  values = _valid(values)
  if not len(values):
    return Finding(math.nan, math.nan, math.nan, 0, 0, NOT_MEASURED)
  effect, low, high = stats.interval(values)
  agreeing = int(np.sum(values >= bound)) if above else int(np.sum(values < bound))
  if len(values) < 2:
    verdict = _inconclusive(values)
  elif (low >= bound) if above else (high < bound):
    verdict = HOLDS
  elif (high < bound) if above else (low >= bound):
    verdict = DOES_NOT_HOLD
  else:
    verdict = _inconclusive(values - bound)
  return Finding(float(effect), float(low), float(high), agreeing, len(values), verdict)


def sameness(differences, tolerance: float) -> Finding:
  """The claim 'no difference': every |difference| (per seed, or per seed and epoch) is within
  `tolerance`. The effect is the largest |difference|; the count is of seeds within it."""
  differences = np.abs(np.asarray(differences, np.float64))
  if not differences.size or np.all(np.isnan(differences)):
    return Finding(math.nan, math.nan, math.nan, 0, 0, NOT_MEASURED)
  per_seed = np.nanmax(differences.reshape(len(differences), -1), axis=1)
  largest = float(np.max(per_seed))
  return Finding(largest, math.nan, math.nan, int(np.sum(per_seed <= tolerance)), len(per_seed),
                 HOLDS if largest <= tolerance else DOES_NOT_HOLD)
