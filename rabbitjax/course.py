"""The course reproduced, its content in one place: the tiers, the conclusions, the Keras figures.

Each conclusion of the course (CONCLUSIONS, in the course's order) is a small function that
turns the records of one or two parts (summary.json, history.json of an exercise's workdir)
into per-seed values and a verdict by `rabbitjax.verdicts`' rules; "not measured" when the tier
did not run what it needs (said why). REPORT.md sets them out with the figure that shows each,
a speed table and what the tier reduced.
"""

import dataclasses
import json
import math
import pathlib
import shutil
from typing import Callable

import numpy as np

from rabbitjax import verdicts
from rabbitjax.data.synthetic import LOGIC_GATES
from rabbitjax.io import WorkdirError
from rabbitjax.report import recorded_finals
from rabbitjax.rl.environments import CartPole

# Tier -> part -> config overrides (beyond the tier's config mode: "quick" for quick).
TIERS = ("quick", "standard", "full")
PARTS = ("linear_regression", "cubic_regression", "mnist_softmax", "mnist_mlp3", "perceptron",
         "iris", "mnist_dropout_mlp", "mnist_cnn", "cifar10_cnn", "rnn_binary_addition",
         "q_learning", "q_approx", "reinforce")
OVERRIDES = {
    # Small, but with every value a conclusion compares (the course's epochs, rates, epsilons).
    "quick": {
        "q_learning": {"sweep": {"epsilon": (0.0, 0.1, 1.0)}},
        "mnist_cnn": {"num_epochs": 1},
        "perceptron": {"num_epochs": 300},
        "mnist_dropout_mlp": {"sweep": {"learning_rate": (1e-4, 1e-3, 1e-2)}},
    },
    # At most 20 minutes on 2 CPU cores: the MNIST networks get fewer epochs and seeds.
    "standard": {
        "mnist_mlp3": {"num_seeds": 3, "num_epochs": 5},
        "mnist_dropout_mlp": {"num_epochs": 5},
        "mnist_cnn": {"num_epochs": 8, "num_seeds": 1},
        "cifar10_cnn": {"num_epochs": 2, "num_seeds": 1},
    },
    # The course's own settings: 8 seeds for the small models, 3 for the CNNs, 20 CNN epochs.
    "full": {
        "mnist_dropout_mlp": {"num_seeds": 8},
        "mnist_cnn": {"num_epochs": 20, "num_seeds": 3},
        "cifar10_cnn": {"num_epochs": 20, "num_seeds": 3},
    },
}
# Wall seconds per part on cpu2-amd (2 cores, AMD EPYC; BUILD_NOTES.md, "The course"), for the
# course's ETA: `remaining_seconds` scales them by how the parts done so far compared. CIFAR-10
# (never on these machines) is a guess from the MNIST CNN's cost per image.
EXPECTED_SECONDS = {
    "quick": {"linear_regression": 4, "cubic_regression": 4, "mnist_softmax": 5,
              "mnist_mlp3": 12, "perceptron": 6, "iris": 5, "mnist_dropout_mlp": 8,
              "mnist_cnn": 8, "cifar10_cnn": 8, "rnn_binary_addition": 12, "q_learning": 12,
              "q_approx": 20, "reinforce": 18},
    "standard": {"linear_regression": 7, "cubic_regression": 7, "mnist_softmax": 88,
                 "mnist_mlp3": 178, "perceptron": 9, "iris": 9, "mnist_dropout_mlp": 291,
                 "mnist_cnn": 435, "cifar10_cnn": 130, "rnn_binary_addition": 84,
                 "q_learning": 34, "q_approx": 121, "reinforce": 70},
    "full": {"linear_regression": 7, "cubic_regression": 7, "mnist_softmax": 88,
             "mnist_mlp3": 790, "perceptron": 9, "iris": 9, "mnist_dropout_mlp": 2700,
             "mnist_cnn": 4230, "cifar10_cnn": 3900, "rnn_binary_addition": 84,
             "q_learning": 34, "q_approx": 121, "reinforce": 70},
}


def remaining_seconds(tier: str, done: dict, remaining) -> float:
  """The course's ETA: the `remaining` parts' expected seconds, scaled by the actual over the
  expected seconds of the parts `done` (part -> seconds; None for one skipped, which costs
  nothing and says nothing of this machine)."""
  expected = EXPECTED_SECONDS[tier]
  ran = {part: seconds for part, seconds in done.items() if seconds is not None}
  planned = sum(expected[part] for part in ran)
  scale = sum(ran.values()) / planned if planned else 1.0
  return scale * sum(expected[part] for part in remaining)


# Keras references: the course's code (shared/peers) with Keras 3.15.1 / TensorFlow 2.21, float32,
# 1 seed, training-only epochs (medians of steady epochs), measured on KERAS_MACHINE; see
# BUILD_NOTES.md. Not the course's own figures, and no same-sitting comparison: that is
# `experiments.versus_keras`.
KERAS_MACHINE = "cpu2, an AMX Xeon, in the fourth session"
KERAS_SECONDS_PER_EPOCH = {"iris": 0.18, "mnist_dropout_mlp": 3.9, "mnist_cnn": 30.0,
                           "cifar10_cnn": 42.8}


class NotMeasured(Exception):
  """The records lack what a conclusion needs (the tier's reductions): the message says why."""


@dataclasses.dataclass(frozen=True)
class Measured:
  """What a conclusion's measurement found: the description and the per-seed finding."""

  text: str
  finding: verdicts.Finding


@dataclasses.dataclass(frozen=True)
class Conclusion:
  """One conclusion of the course: its statement, the parts it reads, the figure that shows it,
  and `measure(records, tier) -> Measured` (raising NotMeasured)."""

  statement: str
  parts: tuple[str, ...]
  figure: str
  measure: Callable[[dict, str], Measured]


@dataclasses.dataclass
class Claim:
  """A conclusion's row in the report."""

  number: int
  statement: str
  measurement: str
  effect: str
  agreeing: str
  verdict: str
  figure: str


EXPORTED = ("summary.json", "summary.md", "*.png")  # per part: what REPORT.md links and shows


def export(workdir, destination) -> pathlib.Path:
  """Copies workdir's REPORT.md and each part's summaries and figures (plain files, not the
  record links) into `destination`, replacing an earlier export there; returns its REPORT.md.

  Raises WorkdirError when `destination` holds anything but an earlier export (no REPORT.md),
  so a mistyped path is never emptied.
  """
  workdir, destination = pathlib.Path(workdir), pathlib.Path(destination)
  if not (workdir / "REPORT.md").exists():
    raise WorkdirError(f"{workdir} has no REPORT.md to export: run the course there first")
  if destination.exists() and any(destination.iterdir()) and not (
      destination / "REPORT.md").exists():
    raise WorkdirError(f"{destination} is not empty and holds no earlier export (REPORT.md): "
                       "not replaced")
  shutil.rmtree(destination, ignore_errors=True)
  destination.mkdir(parents=True)
  shutil.copyfile(workdir / "REPORT.md", destination / "REPORT.md")
  for part in PARTS:
    files = sorted({path for pattern in EXPORTED for path in (workdir / part).glob(pattern)})
    if files:
      (destination / part).mkdir()
      for path in files:
        shutil.copyfile(path, destination / part / path.name)  # follows the record links
  return destination / "REPORT.md"


def load_records(workdir) -> dict:
  """part -> {"summary": ..., "history": ...} for every part with committed records."""
  records = {}
  for part in PARTS:
    folder = pathlib.Path(workdir) / part
    if (folder / "summary.json").exists():
      records[part] = {"summary": json.loads((folder / "summary.json").read_text()),
                       "history": json.loads((folder / "history.json").read_text())}
  return records


# -- Reading the records: per seed, so that two variants pair on the seeds they share. --------

def _variant(records, part, variant) -> dict:
  variants = records[part]["summary"]["variants"]
  if variant not in variants:
    raise NotMeasured(f"{part} has no variant {variant!r} in this workdir")
  return variants[variant]


def _finals(records, part, variant, metric) -> dict[int, np.ndarray]:
  """seed -> final values of `metric` over the sweep's points (NaN where the run diverged)."""
  record = _variant(records, part, variant)
  return dict(zip(record["seeds"], recorded_finals(record, metric)))


def _curves(records, part, variant, metric) -> dict[int, np.ndarray]:
  """seed -> (entries, points) history of `metric`."""
  _variant(records, part, variant)
  record = records[part]["history"][variant]
  curves = np.array(record["metrics"][metric], np.float64)  # (entries, seeds, points)
  return {seed: curves[:, index] for index, seed in enumerate(record["seeds"])}


def _final(records, part, variant, metric, point=0) -> dict[int, float]:
  return {seed: values[point] for seed, values in _finals(records, part, variant, metric).items()}


def _paired(first: dict, second: dict) -> np.ndarray:
  """first - second on the seeds both have, in seed order."""
  seeds = sorted(set(first) & set(second))
  return np.array([first[seed] - second[seed] for seed in seeds], np.float64)


def _mean(per_seed: dict) -> str:
  values = np.array(list(per_seed.values()), np.float64)
  return f"{np.nanmean(values):.4g}" if np.any(~np.isnan(values)) else "nan"


def _points(records, part, variant, hparam) -> list[float]:
  return [round(point["hparams"][hparam], 6)  # swept values are float32
          for point in _variant(records, part, variant)["points"]]


def _point(records, part, variant, hparam, value) -> int:
  points = _points(records, part, variant, hparam)
  if value not in points:
    raise NotMeasured(f"the tier sweeps {hparam} {points} only, not {value:g}")
  return points.index(value)


# -- The conclusions, one measurement each. ---------------------------------------------------

def _noise_raises_error(part, variant):
  def measure(records, tier):
    mse = _finals(records, part, variant, "val_loss")  # seed -> MSE per noise level
    noise = _points(records, part, variant, "noise")
    means = np.nanmean(np.array(list(mse.values())), 0)
    smallest_rise = np.array([np.min(np.diff(values)) for values in mse.values()])
    return Measured("test MSE by noise level (mean over seeds) " + ", ".join(
        f"{n:g}: {m:.3g}" for n, m in zip(noise, means)) + "; effect: per seed, the smallest "
        "rise between adjacent noise levels", verdicts.direction(smallest_rise))
  return measure


def _wider_is_better(records, tier):
  widths = [f"hidden{width}" for width in (64, 128, 256, 512)]
  accuracy = [_final(records, "mnist_mlp3", width, "val_accuracy") for width in widths]
  seeds = sorted(set.intersection(*(set(a) for a in accuracy)))
  steps = np.array([[accuracy[i + 1][s] - accuracy[i][s] for i in range(len(widths) - 1)]
                    for s in seeds])
  return Measured("test accuracy " + ", ".join(f"{w.removeprefix('hidden')}: {_mean(a)}"
                                               for w, a in zip(widths, accuracy))
                  + "; effect: per seed, the smallest gain from one width to the next",
                  verdicts.direction(steps.min(1)))


def _adam_beats(rival):
  def measure(records, tier):
    adam = _final(records, "mnist_mlp3", "hidden256", "val_accuracy")
    other = _final(records, "mnist_mlp3", rival, "val_accuracy")
    label = _variant(records, "mnist_mlp3", rival)["label"]
    return Measured(f"test accuracy, 256-256: Adam {_mean(adam)}, {label} {_mean(other)}; "
                    "effect: Adam minus it", verdicts.direction(_paired(adam, other)))
  return measure


def _softmax_is_the_baseline(records, tier):
  softmax = _final(records, "mnist_softmax", "softmax", "val_accuracy")
  mlp = _final(records, "mnist_mlp3", "hidden64", "val_accuracy")
  return Measured(f"test accuracy: softmax {_mean(softmax)}, the smallest MLP (64-64) "
                  f"{_mean(mlp)}; effect: MLP minus softmax on the seeds both ran",
                  verdicts.direction(_paired(mlp, softmax)))


def _seed_changes_result(records, tier):
  loss = _final(records, "perceptron", "or_batch1", "loss")
  first = min(loss)
  gaps = np.array([abs(loss[seed] - loss[first]) for seed in sorted(loss) if seed != first])
  return Measured(f"OR, batch 1, final loss: seed {first} {loss[first]:.4g}, the others "
                  f"{_mean({s: v for s, v in loss.items() if s != first})} on average; effect: "
                  f"per other seed, |its final loss - seed {first}'s|",
                  verdicts.direction(gaps))


def _more_epochs_lower_loss(fewer, more):
  def measure(records, tier):
    curves = _curves(records, "perceptron", "or_batch1", "loss")
    entries = len(next(iter(curves.values())))
    if entries < more:
      raise NotMeasured(f"the {tier} tier trains {entries} epochs")
    at = {epochs: {seed: curve[epochs - 1, 0] for seed, curve in curves.items()}
          for epochs in (fewer, more)}
    return Measured(f"OR, batch 1, loss after {fewer} epochs {_mean(at[fewer])}, after {more} "
                    f"{_mean(at[more])}; effect: the fall", verdicts.direction(
                        _paired(at[fewer], at[more])))
  return measure


def _gate_learnt(gate, learnt):
  def measure(records, tier):
    accuracy = _final(records, "perceptron", f"{gate}_batch1", "val_accuracy")
    values = np.array(list(accuracy.values()))
    what = "all 4 points right" if learnt else "not all 4 points right"
    return Measured(f"{gate.upper()}, batch 1: accuracy on the 4 inputs {_mean(accuracy)}; "
                    f"claim: {what} (accuracy {'=' if learnt else '<'} 1)",
                    verdicts.threshold(values, 1.0, above=learnt))
  return measure


def _bigger_batch_higher_loss(gate):
  def measure(records, tier):
    batch10 = _final(records, "perceptron", f"{gate}_batch10", "loss")
    batch1 = _final(records, "perceptron", f"{gate}_batch1", "loss")
    return Measured(f"{gate.upper()} final loss: batch 10 {_mean(batch10)}, batch 1 "
                    f"{_mean(batch1)}; effect: batch 10 minus batch 1",
                    verdicts.direction(_paired(batch10, batch1)))
  return measure


def _sigmoid_lowers_iris(records, tier):
  relu = _final(records, "iris", "relu_default_lr", "val_accuracy")
  sigmoid = _final(records, "iris", "sigmoid_default_lr", "val_accuracy")
  return Measured(f"test accuracy, SGD default: relu {_mean(relu)}, sigmoid {_mean(sigmoid)}; "
                  "effect: relu minus sigmoid", verdicts.direction(_paired(relu, sigmoid)))


def _large_lr_swings(records, tier):
  swing = {variant: {seed: np.mean(np.abs(np.diff(curve[:, 0])))
                     for seed, curve in _curves(records, "iris", variant, "val_accuracy").items()}
           for variant in ("relu_lr_0p1", "relu_default_lr")}
  return Measured(f"relu, mean |epoch-to-epoch change| of test accuracy: lr 0.1 "
                  f"{_mean(swing['relu_lr_0p1'])}, default 0.01 {_mean(swing['relu_default_lr'])}"
                  "; effect: 0.1 minus 0.01", verdicts.direction(
                      _paired(swing["relu_lr_0p1"], swing["relu_default_lr"])))


SAMENESS_TOLERANCE = 1e-5  # float32 rounding of one loss computed two ways, over a few epochs


def _history_gaps(records, part, first, second, last_only=False) -> np.ndarray:
  """(shared seeds, values): every |first - second| over the two variants' recorded histories
  (each log entry, or only the last, each sweep point and metric)."""
  pairs = [(_curves(records, part, first, metric), _curves(records, part, second, metric))
           for metric in records[part]["history"][first]["metrics"]]
  seeds = sorted(set(pairs[0][0]) & set(pairs[0][1]))
  entries = slice(-1, None) if last_only else slice(None)
  return np.array([np.concatenate([np.abs(a[seed][entries] - b[seed][entries]).ravel()
                                   for a, b in pairs]) for seed in seeds])


def _label_forms_agree(records, tier):
  return Measured("largest |sparse - one-hot| over every epoch, learning rate and metric, per "
                  f"seed; tolerance {SAMENESS_TOLERANCE:g} (one-hot labels with the sparse loss "
                  "are refused by the loss itself)", verdicts.sameness(
                      _history_gaps(records, "mnist_dropout_mlp", "sparse", "one_hot"),
                      SAMENESS_TOLERANCE))


def _unroll_changes_nothing_else(records, tier):
  """Decided on the final metrics: unrolled, XLA may order the float32 sums otherwise, and a few
  roundings apart, two trainings can part for a while before they meet again."""
  along = np.max(_history_gaps(records, "rnn_binary_addition", "unroll", "base"))
  return Measured("largest |unroll - base| over the final metrics (train and test), per seed; "
                  f"tolerance {SAMENESS_TOLERANCE:g} (along the way, up to {along:.2g}: float32 "
                  "sums in another order)", verdicts.sameness(_history_gaps(
                      records, "rnn_binary_addition", "unroll", "base", last_only=True),
                      SAMENESS_TOLERANCE))


def _dropout_accuracy(records, rate, epoch=None):
  index = _point(records, "mnist_dropout_mlp", "sparse", "learning_rate", rate)
  curves = _curves(records, "mnist_dropout_mlp", "sparse", "val_accuracy")
  return {seed: curve[epoch if epoch is not None else -1, index] for seed, curve in curves.items()}


def _mid_rate_faster(records, tier):
  mid, slow = _dropout_accuracy(records, 1e-3, 0), _dropout_accuracy(records, 1e-4, 0)
  return Measured(f"test accuracy after epoch 1: lr 1e-3 {_mean(mid)}, 1e-4 {_mean(slow)}; "
                  "effect: 1e-3 minus 1e-4", verdicts.direction(_paired(mid, slow)))


ABOUT_THE_SAME = 0.005  # "about the accuracy": at most half a point of test accuracy below


def _mid_rate_reaches_slow(records, tier):
  mid, slow = _dropout_accuracy(records, 1e-3), _dropout_accuracy(records, 1e-4)
  return Measured(f"final test accuracy: lr 1e-3 {_mean(mid)}, 1e-4 {_mean(slow)}; effect: 1e-3 "
                  f"minus 1e-4, claim: not below -{ABOUT_THE_SAME:g}",
                  verdicts.threshold(_paired(mid, slow), -ABOUT_THE_SAME))


def _fast_rate_worse(records, tier):
  mid, fast = _dropout_accuracy(records, 1e-3), _dropout_accuracy(records, 1e-2)
  return Measured(f"final test accuracy: lr 1e-3 {_mean(mid)}, 1e-2 {_mean(fast)}; effect: 1e-3 "
                  "minus 1e-2", verdicts.direction(_paired(mid, fast)))


def _cnn_reaches_99(records, tier):
  accuracy = _final(records, "mnist_cnn", "cnn", "val_accuracy")
  epochs = _variant(records, "mnist_cnn", "cnn")["num_epochs"]
  return Measured(f"test accuracy after {epochs} epochs" + (" (the course trains 20)"
                                                            if epochs < 20 else "")
                  + "; claim: mean >= 0.99",
                  verdicts.threshold(np.array(list(accuracy.values())), 0.99))


def _cifar_measured(records, tier):
  accuracy = np.array(list(_final(records, "cifar10_cnn", "cnn", "val_accuracy").values()))
  finding = verdicts.threshold(accuracy, 0.0)  # an interval of the accuracy; no claim to test
  return Measured("test accuracy (speed below); the course states no figure to test",
                  dataclasses.replace(finding, verdict="measured"))


RNN_LEARNT = 0.99  # "bit accuracy 1.0" after 5 epochs, allowing one bit in a hundred


def _rnn_learns(records, tier):
  accuracy = _final(records, "rnn_binary_addition", "base", "val_bit_accuracy")
  return Measured(f"base (SimpleRNN 16 relu, SGD 0.1) test bit accuracy (course 1.0); claim: "
                  f"mean >= {RNN_LEARNT:g}",
                  verdicts.threshold(np.array(list(accuracy.values())), RNN_LEARNT))


def _rnn_against_base(variant, better: bool):
  """'improved' is decided by the test loss (MSE), where the course's accuracies tie at 1.0 and
  its losses show the gain; 'decreased' by the test bit accuracy."""
  def measure(records, tier):
    reference = _variant(records, "rnn_binary_addition", variant)["reference"]
    accuracy = {v: _final(records, "rnn_binary_addition", v, "val_bit_accuracy")
                for v in ("base", variant)}
    loss = {v: _final(records, "rnn_binary_addition", v, "val_loss") for v in ("base", variant)}
    text = (f"test bit accuracy: {variant} {_mean(accuracy[variant])} (course "
            f"{reference['val_bit_accuracy']:g}), base {_mean(accuracy['base'])}; test loss "
            f"{_mean(loss[variant])} vs {_mean(loss['base'])}; ")
    if better:
      return Measured(text + "effect: base's test loss minus its", verdicts.direction(
          _paired(loss["base"], loss[variant])))
    return Measured(text + "effect: its bit accuracy minus base's", verdicts.direction(
        _paired(accuracy[variant], accuracy["base"]), sign=-1))
  return measure


STALLED = 0.02  # "learning did not proceed": less than 2 points of bit accuracy gained


def _input_dropout_stalls(records, tier):
  curves = _curves(records, "rnn_binary_addition", "input_dropout", "val_bit_accuracy")
  gain = np.array([curve[-1, 0] - curve[0, 0] for curve in curves.values()])
  return Measured(f"test bit accuracy gained from epoch 1 to the last; claim: < {STALLED:g}",
                  verdicts.threshold(gain, STALLED, above=False))


def seconds_per_entry(variant: dict) -> float | None:
  """Training seconds per epoch (or log entry) of a variant's record, all its runs together;
  a resumed variant's record times only the entries it trained after resuming."""
  seconds = variant["seconds"]
  if "per_entry" in seconds:
    return seconds["per_entry"]
  return seconds["train"] / variant["num_epochs"]  # records from before per_entry


def _unroll_faster(records, tier):
  seconds = {v: seconds_per_entry(_variant(records, "rnn_binary_addition", v))
             for v in ("base", "unroll")}
  if None in seconds.values():
    raise NotMeasured("a variant was restored finished: no epoch timed")
  finding = verdicts.direction(np.array([seconds["base"] - seconds["unroll"]]))
  return Measured(f"s/epoch, all seeds at once: base {seconds['base']:.3g}, unroll "
                  f"{seconds['unroll']:.3g}; one timing each (a speed claim is decided by "
                  "`experiments.benchmark --suite=rnn`)",
                  dataclasses.replace(finding, verdict=finding.verdict.replace("seed", "timing")))


def _value_iteration_plans(records, tier):
  optimal = _final(records, "q_learning", "slippery_decaying", "optimal_value")
  value = float(next(iter(optimal.values())))
  return Measured(f"value iteration on FrozenLake's model: V*(start) = {value:.3f}, the same on "
                  "every seed (no randomness); its greedy policy's exact value equals V* "
                  "(tests/test_rl.py)", verdicts.Finding(value, math.nan, math.nan, len(optimal),
                                                         len(optimal), verdicts.HOLDS))


OPTIMAL = 0.99  # the greedy policy's value within 1% of V*


def _q_learning_finds_optimum(records, tier):
  greedy = _finals(records, "q_learning", "slippery_decaying", "greedy_value")
  optimal = _finals(records, "q_learning", "slippery_decaying", "optimal_value")
  ratio = np.array([greedy[s] / optimal[s] for s in sorted(greedy)])  # (seeds, final epsilons)
  best = int(np.nanargmax(np.nanmean(ratio, 0)))
  epsilon = _points(records, "q_learning", "slippery_decaying", "epsilon")[best]
  return Measured(f"epsilon decaying from 1.0 to {epsilon:g} (the best final epsilon swept): "
                  f"the greedy policy's value / V*; claim: mean >= {OPTIMAL:g}",
                  verdicts.threshold(ratio[:, best], OPTIMAL))


def _extreme_epsilon_fails(extreme):
  def measure(records, tier):
    returns = {eps: {seed: values[_point(records, "q_learning", "slippery_constant", "epsilon",
                                         eps)]
                     for seed, values in _finals(records, "q_learning", "slippery_constant",
                                                 "episode_return").items()}
               for eps in (extreme, 0.1)}
    return Measured(f"mean episode return while learning, constant epsilon: {extreme:g} "
                    f"{_mean(returns[extreme])}, 0.1 {_mean(returns[0.1])}; effect: 0.1 minus "
                    f"{extreme:g}", verdicts.direction(_paired(returns[0.1], returns[extreme])))
  return measure


def _greedy_curves(records, part, variant) -> dict[int, np.ndarray]:
  if "greedy_return" not in records[part]["history"].get(variant, {}).get("metrics", {}):
    raise NotMeasured(f"{part}/{variant} was recorded without greedy evaluation "
                      "(config.eval_episodes=0, or records from before it): rerun it")
  return _curves(records, part, variant, "greedy_return")


def _agent_learns(part, variant, what):
  """Decided on the greedy policy (epsilon 0, or the most probable action) played on evaluation
  episodes of its own, as the field judges an agent; the training's returns are shown beside."""
  def measure(records, tier):
    curves = _greedy_curves(records, part, variant)
    first = {seed: curve[0, 0] for seed, curve in curves.items()}
    last = {seed: curve[-1, 0] for seed, curve in curves.items()}
    training = _final(records, part, variant, "episode_return")
    return Measured(f"{what}: greedy return at the first log entry {_mean(first)}, at the last "
                    f"{_mean(last)} (returns while training, at the last: {_mean(training)}); "
                    "effect: the rise", verdicts.direction(_paired(last, first)))
  return measure


def _agent_solves(part, variant, what):
  def measure(records, tier):
    last = np.array([curve[-1, 0] for curve in _greedy_curves(records, part, variant).values()])
    return Measured(f"{what}: the greedy return of the final evaluation; claim: mean >= "
                    f"{CartPole.solved_return:g} (gymnasium's threshold)",
                    verdicts.threshold(last, CartPole.solved_return))
  return measure


_LINEAR, _CUBIC = "linear_regression", "cubic_regression"
_RNN = "rnn_binary_addition/summary.md"
CONCLUSIONS = (
    Conclusion("Linear regression d = 3x + 2: more noise, a larger error of the fit.", (_LINEAR,),
               f"{_LINEAR}/val_loss_vs_noise.png", _noise_raises_error(_LINEAR, "slope_3")),
    Conclusion("Linear regression d = -6x + 3: more noise, a larger error of the fit.",
               (_LINEAR,), f"{_LINEAR}/val_loss_vs_noise.png",
               _noise_raises_error(_LINEAR, "slope_minus_6")),
    Conclusion("Cubic regression d = -0.4x^3 + 1.6x^2 - 2.8x + 1: more noise, a larger error.",
               (_CUBIC,), f"{_CUBIC}/val_loss_vs_noise.png",
               _noise_raises_error(_CUBIC, "cubic_a")),
    Conclusion("Cubic regression d = 2.1x^3 - 1.2x^2 - 4.8x + 2: more noise, a larger error.",
               (_CUBIC,), f"{_CUBIC}/val_loss_vs_noise.png",
               _noise_raises_error(_CUBIC, "cubic_b")),
    Conclusion("MNIST 3-layer MLP: a larger hidden layer (64, 128, 256, 512) gives a higher "
               "accuracy.", ("mnist_mlp3",), "mnist_mlp3/summary.md", _wider_is_better),
    Conclusion("MNIST 3-layer MLP, optimizers compared: Adam ahead of plain SGD (lr 0.1).",
               ("mnist_mlp3",), "mnist_mlp3/summary.md", _adam_beats("sgd")),
    Conclusion("MNIST 3-layer MLP, optimizers compared: Adam ahead of SGD with momentum.",
               ("mnist_mlp3",), "mnist_mlp3/summary.md", _adam_beats("momentum")),
    Conclusion("MNIST 3-layer MLP, optimizers compared: Adam ahead of RMSprop.",
               ("mnist_mlp3",), "mnist_mlp3/summary.md", _adam_beats("rmsprop")),
    Conclusion("MNIST 1-layer softmax regression is the baseline the deeper networks beat.",
               ("mnist_softmax", "mnist_mlp3"), "mnist_softmax/summary.md",
               _softmax_is_the_baseline),
    Conclusion("Perceptron: another seed (np.random.seed 0 vs 1) gives another result.",
               ("perceptron",), "perceptron/or_batch1_curves.png", _seed_changes_result),
    Conclusion("Perceptron: 100 epochs give a lower loss than 30.", ("perceptron",),
               "perceptron/or_batch1_curves.png", _more_epochs_lower_loss(30, 100)),
    Conclusion("Perceptron: 300 epochs give a lower loss than 100.", ("perceptron",),
               "perceptron/or_batch1_curves.png", _more_epochs_lower_loss(100, 300)),
    Conclusion("Perceptron: OR is learnt.", ("perceptron",), "perceptron/summary.md",
               _gate_learnt("or", True)),
    Conclusion("Perceptron: AND is learnt.", ("perceptron",), "perceptron/summary.md",
               _gate_learnt("and", True)),
    Conclusion("Perceptron: XOR cannot be learnt (not linearly separable).", ("perceptron",),
               "perceptron/summary.md", _gate_learnt("xor", False)),
    *(Conclusion(f"Perceptron: batch size 10 instead of 1 gives a higher loss after the same "
                 f"epochs ({gate.upper()}).", ("perceptron",),
                 f"perceptron/{gate}_batch10_curves.png", _bigger_batch_higher_loss(gate))
      for gate in ("or", "and", "xor")),
    Conclusion("Iris: a sigmoid hidden layer lowers the accuracy (against relu).", ("iris",),
               "iris/sigmoid_default_lr_curves.png", _sigmoid_lowers_iris),
    Conclusion("Iris: SGD with lr 0.1 makes the accuracy vary more from epoch to epoch.",
               ("iris",), "iris/relu_lr_0p1_curves.png", _large_lr_swings),
    Conclusion("MNIST dropout MLP: one-hot labels with categorical cross-entropy and integer "
               "labels with sparse cross-entropy give the same result (a mismatched pair is an "
               "error).", ("mnist_dropout_mlp",), "mnist_dropout_mlp/summary.md",
               _label_forms_agree),
    Conclusion("MNIST dropout MLP: Adam lr 1e-3 learns faster than 1e-4.", ("mnist_dropout_mlp",),
               "mnist_dropout_mlp/sparse_curves.png", _mid_rate_faster),
    Conclusion("MNIST dropout MLP: Adam lr 1e-3 reaches about the accuracy of 1e-4.",
               ("mnist_dropout_mlp",), "mnist_dropout_mlp/val_accuracy_vs_learning_rate.png",
               _mid_rate_reaches_slow),
    Conclusion("MNIST dropout MLP: Adam lr 1e-2 is worse than 1e-3.", ("mnist_dropout_mlp",),
               "mnist_dropout_mlp/val_accuracy_vs_learning_rate.png", _fast_rate_worse),
    Conclusion("MNIST CNN reaches 99% test accuracy or more.", ("mnist_cnn",),
               "mnist_cnn/cnn_curves.png", _cnn_reaches_99),
    Conclusion("CIFAR-10 CNN: its speed, and its accuracy where the data exists.",
               ("cifar10_cnn",), "cifar10_cnn/cnn_curves.png", _cifar_measured),
    Conclusion("RNN binary addition: the base SimpleRNN learns it in 5 epochs (course: bit "
               "accuracy 1.0).", ("rnn_binary_addition",), _RNN, _rnn_learns),
    Conclusion("RNN: 128 units improve on 16.", ("rnn_binary_addition",), _RNN,
               _rnn_against_base("units_128", better=True)),
    Conclusion("RNN: a sigmoid activation decreases the accuracy (course 0.745).",
               ("rnn_binary_addition",), _RNN, _rnn_against_base("sigmoid", better=False)),
    Conclusion("RNN: tanh improves on relu.", ("rnn_binary_addition",), _RNN,
               _rnn_against_base("tanh", better=True)),
    Conclusion("RNN: Adam improves on SGD 0.1.", ("rnn_binary_addition",), _RNN,
               _rnn_against_base("adam", better=True)),
    Conclusion("RNN: with input dropout 0.5 learning does not proceed (course 0.862).",
               ("rnn_binary_addition",), "rnn_binary_addition/input_dropout_curves.png",
               _input_dropout_stalls),
    Conclusion("RNN: recurrent dropout 0.3 decreases the accuracy (course 0.902).",
               ("rnn_binary_addition",), _RNN,
               _rnn_against_base("recurrent_dropout", better=False)),
    Conclusion("RNN: unroll slightly reduces the accuracy.", ("rnn_binary_addition",), _RNN,
               _rnn_against_base("unroll", better=False)),
    Conclusion("RNN: unroll changes nothing but the speed (the same recurrence, unrolled): the "
               "same final losses and accuracies.", ("rnn_binary_addition",),
               "rnn_binary_addition/unroll_curves.png", _unroll_changes_nothing_else),
    Conclusion("RNN: unroll makes an epoch faster (course: 20 s against 28-32 s per epoch).",
               ("rnn_binary_addition",), _RNN, _unroll_faster),
    Conclusion("RL: with perfect knowledge of the environment the optimal behaviour can be "
               "planned (value iteration).", ("q_learning",),
               "q_learning/slippery_decaying_values.png", _value_iteration_plans),
    Conclusion("Q-learning updates Q(s, a) at every action and finds the optimal policy.",
               ("q_learning",), "q_learning/reaches_optimal_vs_epsilon.png",
               _q_learning_finds_optimum),
    Conclusion("Exploration vs exploitation: always greedy (epsilon 0) fails.", ("q_learning",),
               "q_learning/slippery_constant_curves.png", _extreme_epsilon_fails(0.0)),
    Conclusion("Exploration vs exploitation: always random (epsilon 1) fails.", ("q_learning",),
               "q_learning/slippery_constant_curves.png", _extreme_epsilon_fails(1.0)),
    *(Conclusion(f"Function approximation: a Q-network learns the action values (CartPole-v1): "
                 f"{what}.", ("q_approx",), f"q_approx/{variant}_curves.png",
                 _agent_learns("q_approx", variant, what))
      for variant, what in (("target_network", "the course's semi-gradient Q-learning, target "
                                               "network"),
                            ("no_target_network", "the course's semi-gradient Q-learning, no "
                                                  "target network"),
                            ("pqn", "PQN"))),
    Conclusion("A Q-network solves CartPole-v1 (PQN; greedy return >= 475).", ("q_approx",),
               "q_approx/pqn_curves.png", _agent_solves("q_approx", "pqn", "PQN")),
    Conclusion("Function approximation: a policy network learns the policy (CartPole-v1).",
               ("reinforce",), "reinforce/baseline_curves.png",
               _agent_learns("reinforce", "baseline", "REINFORCE with a baseline, Adam")),
    Conclusion("A policy network solves CartPole-v1 (REINFORCE with a baseline; greedy return "
               ">= 475).", ("reinforce",), "reinforce/baseline_curves.png",
               _agent_solves("reinforce", "baseline", "REINFORCE with a baseline, Adam")),
    Conclusion("Policy gradient theta <- theta + eps * grad J(theta) learns with the plain SGD "
               "step as written.", ("reinforce",), "reinforce/sgd_curves.png",
               _agent_learns("reinforce", "sgd", "REINFORCE, plain SGD")),
)


def claims(records: dict, tier: str) -> list[Claim]:
  """Every conclusion of the course, in its order, measured on `records`."""
  rows = []
  for number, conclusion in enumerate(CONCLUSIONS, 1):
    missing = [part for part in conclusion.parts if part not in records]
    try:
      if missing:
        raise NotMeasured(f"not run: no records of {', '.join(missing)} in this workdir (not "
                          "selected, or skipped: see below)")
      measured = conclusion.measure(records, tier)
      effect, agreeing = measured.finding.cells()
      rows.append(Claim(number, conclusion.statement, measured.text, effect, agreeing,
                        measured.finding.verdict, conclusion.figure))
    except NotMeasured as why:
      rows.append(Claim(number, conclusion.statement, str(why), "-", "-", verdicts.NOT_MEASURED,
                        conclusion.figure))
  return rows


def perceptron_table(records: dict) -> list[str]:
  """The perceptron's outputs on the 4 inputs against the truth table, first seed, batch 1."""
  variants = records.get("perceptron", {}).get("summary", {}).get("variants", {})
  gates = [gate for gate in LOGIC_GATES if "predictions" in
           variants.get(f"{gate}_batch1", {}).get("points", [{}])[0].get("final", {})]
  if not gates:
    return []
  seed = variants[f"{gates[0]}_batch1"]["seeds"][0]
  lines = ["", f"Perceptron (batch 1, seed {seed}), as the course prints it: sigmoid output on "
           "each input against the truth table.", "",
           "| x1 x2 | " + " | ".join(f"{g.upper()} truth | {g.upper()} output" for g in gates) + " |",
           "|---|" + "---|---|" * len(gates)]
  outputs = {g: variants[f"{g}_batch1"]["points"][0]["final"]["predictions"]["per_seed"][0]
             for g in gates}
  for row, pair in enumerate(("0 0", "0 1", "1 0", "1 1")):
    lines.append(f"| {pair} | " + " | ".join(f"{LOGIC_GATES[g][row]} | {outputs[g][row]:.3f}"
                                             for g in gates) + " |")
  return lines


def speed_rows(records: dict) -> list[str]:
  """Markdown rows: seconds per epoch (or log entry) of each variant, all its runs at once."""
  rows = []
  for part, record in records.items():
    for name, variant in record["summary"]["variants"].items():
      runs = len(variant["seeds"]) * len(variant["points"])
      per_entry = seconds_per_entry(variant)
      if per_entry is None:  # restored finished: nothing timed
        continue
      # Beside Keras' full-dataset epochs only when ours is one too.
      full_data = not variant["config"].get("max_examples", 0)
      keras = KERAS_SECONDS_PER_EPOCH.get(part) if full_data else None
      rows.append(f"| {part} / {name} | {runs} | {variant['num_epochs']} {variant['log_unit']}s "
                  f"| {per_entry:.3g} | {per_entry / runs:.3g} | "
                  f"{_conv_choice(variant['tuning'])} | {keras or '-'} |")
  return rows


def _conv_choice(tuning: dict) -> str:
  """The convolutions a run used, from its record (older records name one `conv_impl`)."""
  if tuning.get("conv_formulation"):
    return f"{tuning['conv_formulation']} {tuning['conv_precision']}"
  return tuning.get("conv_impl") or "-"


def report(records: dict, tier: str, header: list[str], skipped: dict[str, str]) -> str:
  """REPORT.md: header, the claims table, skipped parts, the speed table."""
  rows = claims(records, tier)
  tally = {kind: 0 for kind in ("hold", "do not hold", "inconclusive", "measured only",
                                 "not measured")}
  for row in rows:
    kind = {verdicts.HOLDS: "hold", verdicts.DOES_NOT_HOLD: "do not hold",
            "measured": "measured only"}.get(row.verdict, row.verdict)
    tally["inconclusive" if kind.startswith("inconclusive") else kind] += 1
  lines = ["# The course, reproduced", "", *header, "", verdicts.RULES, "",
           f"{len(rows)} conclusions: " + ", ".join(f"{count} {kind}" for kind, count in
                                                     tally.items() if count) + ".", ""]
  lines += ["| # | the course says | we measured | effect [95% interval] | seeds in direction "
            "| verdict | figure |", "|---|---|---|---|---|---|---|"]
  cell = lambda text: text.replace("|", "\\|")  # a table cell may not hold a bare pipe
  for c in rows:
    measured = c.figure and c.verdict != verdicts.NOT_MEASURED  # else no figure was drawn
    figure = f"[{pathlib.PurePath(c.figure).name}]({c.figure})" if measured else "-"
    lines.append(f"| {c.number} | {cell(c.statement)} | {cell(c.measurement)} | {c.effect} | "
                 f"{c.agreeing} | **{c.verdict}** | {figure} |")
  if skipped:
    lines += ["", "Skipped:", *(f"- {part}: {why}" for part, why in skipped.items())]
  lines += perceptron_table(records)
  lines += ["", "## Speed", "",
            "Training seconds per epoch (agents: per log entry) on this machine, all runs of a "
            "variant together (seeds x points) and per run; test pass included. The Keras column "
            "is a reference, not a same-sitting comparison: our own run of the course's code "
            "(Keras 3.15.1 / TensorFlow 2.21, float32, one seed, training only) on "
            f"{KERAS_MACHINE} (BUILD_NOTES.md), not the course's figure. Speed claims come from "
            "interleaved runs in one sitting "
            "(`python -m experiments.benchmark --suite=classification`).",
            "", "| variant | runs | epochs | s/epoch, all runs | s/epoch per run | conv | Keras "
            "s/epoch (1 run) |", "|---|---|---|---|---|---|---|", *speed_rows(records), ""]
  return "\n".join(lines)

