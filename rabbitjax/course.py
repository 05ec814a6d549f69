"""The course reproduced: which configs each tier runs, and its claims checked against the records.

Each claim of the course turns the records of one or two parts (summary.json, history.json of
an exercise's workdir) into a measurement over seeds and a verdict: "holds" (every seed),
"holds in k of n seeds", or "does not hold"; "not measured" when the tier did not run what the
claim needs (said why). REPORT.md sets them in the course's order, with the figure that shows
each, a speed table and what the tier reduced.
"""

import dataclasses
import json
import pathlib

import numpy as np

from rabbitjax.report import recorded_finals

# Tier -> part -> config overrides (beyond the tier's config mode: "quick" for quick).
TIERS = ("quick", "standard", "full")
PARTS = ("linear_regression", "cubic_regression", "mnist_softmax", "mnist_mlp3", "perceptron",
         "iris", "mnist_dropout_mlp", "mnist_cnn", "cifar10_cnn", "rnn_binary_addition",
         "q_learning", "q_approx", "reinforce")
OVERRIDES = {
    "quick": {
        "q_learning": {"sweep": {"epsilon": (0.0, 0.1, 1.0)}},
        "mnist_cnn": {"num_epochs": 1},
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
# Keras references: the course's code (shared/peers) with Keras 3.15.1 / TensorFlow 2.21, float32,
# 1 seed, training-only epochs, measured on cpu2 (an AMX Xeon) in the fourth session; see
# BUILD_NOTES.md. Not the course's own figures.
KERAS_SECONDS_PER_EPOCH = {"iris": 0.18, "mnist_dropout_mlp": 3.9, "mnist_cnn": 30.0,
                           "cifar10_cnn": 42.8}


@dataclasses.dataclass
class Claim:
  """One claim of the course and what our records say of it."""

  number: int
  statement: str
  measurement: str = ""
  verdict: str = ""
  figure: str = ""


def load_records(workdir) -> dict:
  """part -> {"summary": ..., "history": ...} for every part with committed records."""
  records = {}
  for part in PARTS:
    folder = pathlib.Path(workdir) / part
    if (folder / "summary.json").exists():
      records[part] = {"summary": json.loads((folder / "summary.json").read_text()),
                       "history": json.loads((folder / "history.json").read_text())}
  return records


def _finals(record, variant, metric) -> np.ndarray:
  """(seeds, points) final values of a metric or output, diverged runs as NaN."""
  return recorded_finals(record["summary"]["variants"][variant], metric)


def _curve(record, variant, metric) -> np.ndarray:
  """(entries, seeds, points) history of a metric."""
  return np.array(record["history"][variant]["metrics"][metric], np.float64)


def _start_and_end(record, variant):
  """Per seed, an agent's episode return at its first log entry and over its last 10."""
  returns = _curve(record, variant, "episode_return")[:, :, 0]
  return returns[0], returns[-10:].mean(0)


def _ms(values) -> str:
  values = np.asarray(values, np.float64)
  std = np.nanstd(values, ddof=1) if np.sum(~np.isnan(values)) > 1 else 0.0
  return f"{np.nanmean(values):.4g} ± {std:.2g}"


def verdict(holding, total, unit: str = "seeds") -> str:
  """'holds' (all), 'holds in k of n seeds' (or runs, when several variants' seeds are pooled),
  'does not hold' (none)."""
  if total == 0:
    return "not measured"
  if holding == total:
    return "holds"
  return f"holds in {holding} of {total} {unit}" if holding else "does not hold"


def _increasing(values, axis=-1) -> np.ndarray:
  return np.all(np.diff(values, axis=axis) > 0, axis=axis)


def _noise_claim(claim, records, part):
  summary = records[part]["summary"]["variants"]
  rows, holding, total = [], 0, 0
  for variant, record in summary.items():
    mse = _finals(records[part], variant, "val_loss")  # (seeds, noise levels)
    noise = [point["hparams"]["noise"] for point in record["points"]]
    holding += int(np.sum(_increasing(mse)))
    total += mse.shape[0]
    rows.append(f"{record['label']}: " + ", ".join(f"{n:g}: {m:.3g}" for n, m in
                                                      zip(noise, np.nanmean(mse, 0))))
  claim.measurement = ("test MSE by noise level, mean over seeds; " + "; ".join(rows)
                       + f"; rising at every step in {holding} of {total} (variant, seed) runs")
  claim.verdict = verdict(holding, total, "runs")


def _compare(records, part, better, worse, metric, higher=True):
  """Per seed, whether `better` beats `worse` on the final `metric`: (holding, n, text)."""
  a, b = _finals(records[part], better, metric)[:, 0], _finals(records[part], worse, metric)[:, 0]
  wins = (a > b) if higher else (a < b)
  return int(np.sum(wins)), len(a), f"{metric} {better} {_ms(a)} vs {worse} {_ms(b)}"


def claims(records: dict, tier: str) -> list[Claim]:
  """Every claim of the course, in its order, measured on `records`."""
  out = []

  def claim(statement, part_needed=(), figure=""):
    out.append(Claim(len(out) + 1, statement, figure=figure))
    missing = [part for part in part_needed if part not in records]
    if missing:
      out[-1].measurement = (f"not run: no records of {', '.join(missing)} in this workdir "
                             "(not selected, or skipped: see below)")
      out[-1].verdict = "not measured"
    return out[-1], not missing

  for part, statement in (
      ("linear_regression", "Linear regression (d = 3x + 2, d = -6x + 3): more noise, a larger "
                            "error of the fit."),
      ("cubic_regression", "Cubic regression (both cubics): more noise, a larger error of the fit.")):
    c, ok = claim(statement, [part], f"{part}/val_loss_vs_noise.png")
    if ok:
      _noise_claim(c, records, part)

  c, ok = claim("MNIST 3-layer MLP: a larger hidden layer gives a higher accuracy; optimizers "
                "compared.", ["mnist_mlp3"], "mnist_mlp3/summary.md")
  if ok:
    widths = [v for v in ("hidden64", "hidden128", "hidden256", "hidden512")
              if v in records["mnist_mlp3"]["summary"]["variants"]]
    accuracy = np.stack([_finals(records["mnist_mlp3"], v, "val_accuracy")[:, 0] for v in widths], 1)
    holding = int(np.sum(_increasing(accuracy)))
    optimizers = {v: np.nanmean(_finals(records["mnist_mlp3"], v, "val_accuracy"))
                  for v in ("hidden256", "sgd", "momentum", "rmsprop")
                  if v in records["mnist_mlp3"]["summary"]["variants"]}
    c.measurement = ("test accuracy " + ", ".join(f"{w}: {_ms(accuracy[:, i])}" for i, w in
                                                  enumerate(widths))
                     + f"; rising with width in {holding} of {len(accuracy)} seeds; optimizers "
                     "(256-256): " + ", ".join(f"{k.replace('hidden256', 'adam')} {v:.4f}"
                                               for k, v in optimizers.items()))
    c.verdict = verdict(holding, len(accuracy))

  c, ok = claim("MNIST 1-layer softmax regression is the baseline the deeper networks beat.",
                ["mnist_softmax", "mnist_mlp3"], "mnist_softmax/summary.md")
  if ok:
    softmax = _finals(records["mnist_softmax"], "softmax", "val_accuracy")[:, 0]
    mlp = np.nanmean(_finals(records["mnist_mlp3"], "hidden64", "val_accuracy"))
    holding = int(np.sum(softmax < mlp))
    c.measurement = (f"softmax test accuracy {_ms(softmax)}; the smallest MLP (64-64) "
                     f"{mlp:.4f}; below it in {holding} of {len(softmax)} seeds")
    c.verdict = verdict(holding, len(softmax))

  perceptron = records.get("perceptron")
  c, ok = claim("Perceptron: another seed (np.random.seed 0 vs 1) gives another result.",
                ["perceptron"], "perceptron/or_batch1_curves.png")
  if ok:
    losses = _finals(perceptron, "or_batch1", "loss")[:, 0]
    c.measurement = f"OR, batch 1, final loss of seed 0 {losses[0]:.4g}, seed 1 {losses[1]:.4g}"
    c.verdict = verdict(int(losses[0] != losses[1]), 1)

  c, ok = claim("Perceptron: more epochs (30, 100, 300) lower the loss.", ["perceptron"],
                "perceptron/or_batch1_curves.png")
  if ok:
    curve = _curve(perceptron, "or_batch1", "loss")[:, :, 0]  # (epochs, seeds)
    marks = [e for e in (30, 100, 300) if e <= curve.shape[0]]
    if len(marks) < 2:
      c.measurement = f"the {tier} tier trains {curve.shape[0]} epochs: too few to compare"
      c.verdict = "not measured"
    else:
      at = curve[np.array(marks) - 1].T  # (seeds, marks)
      holding = int(np.sum(np.all(np.diff(at, axis=1) < 0, axis=1)))
      c.measurement = "OR, batch 1, loss at epoch " + ", ".join(
          f"{e}: {_ms(at[:, i])}" for i, e in enumerate(marks)) + \
          f"; falling in {holding} of {len(at)} seeds"
      c.verdict = verdict(holding, len(at))

  c, ok = claim("Perceptron: OR and AND are learnt; XOR cannot be (not linearly separable).",
                ["perceptron"], "perceptron/summary.md")
  if ok:
    learnt = {gate: _finals(perceptron, f"{gate}_batch1", "val_accuracy")[:, 0]
              for gate in ("or", "and", "xor")}
    holding = (learnt["or"] == 1) & (learnt["and"] == 1) & (learnt["xor"] < 1)
    c.measurement = (", ".join(f"{gate.upper()} accuracy {_ms(v)}" for gate, v in learnt.items())
                     + f"; OR and AND right on all 4 points and XOR not, in {int(holding.sum())} "
                     f"of {len(holding)} seeds")
    c.verdict = verdict(int(holding.sum()), len(holding))

  c, ok = claim("Perceptron: batch size 10 instead of 1 gives a higher loss after the same "
                "epochs.", ["perceptron"], "perceptron/summary.md")
  if ok:
    pairs = [_compare(records, "perceptron", f"{gate}_batch10", f"{gate}_batch1", "loss")
             for gate in ("or", "and", "xor")]
    c.measurement = "; ".join(text for _, _, text in pairs) + " (per gate and seed)"
    c.verdict = verdict(sum(h for h, _, _ in pairs), sum(n for _, n, _ in pairs), "runs")

  c, ok = claim("Iris: a sigmoid hidden layer lowers the accuracy (against relu).", ["iris"],
                "iris/summary.md")
  if ok:
    holding, n, text = _compare(records, "iris", "relu_default_lr", "sigmoid_default_lr",
                                "val_accuracy")
    c.measurement, c.verdict = text + f"; relu higher in {holding} of {n} seeds", verdict(holding, n)

  c, ok = claim("Iris: SGD with lr 0.1 makes the accuracy vary more from epoch to epoch.",
                ["iris"], "iris/relu_lr_0p1_curves.png")
  if ok:
    swing = {v: np.mean(np.abs(np.diff(_curve(records["iris"], v, "val_accuracy")[:, :, 0], axis=0)),
                        axis=0) for v in ("relu_default_lr", "relu_lr_0p1")}
    holding = int(np.sum(swing["relu_lr_0p1"] > swing["relu_default_lr"]))
    c.measurement = (f"mean |epoch-to-epoch change| of test accuracy, relu: lr 0.1 "
                     f"{_ms(swing['relu_lr_0p1'])}, default 0.01 {_ms(swing['relu_default_lr'])}; "
                     f"larger at 0.1 in {holding} of {len(swing['relu_lr_0p1'])} seeds")
    c.verdict = verdict(holding, len(swing["relu_lr_0p1"]))

  dropout = records.get("mnist_dropout_mlp")
  c, ok = claim("MNIST dropout MLP: one-hot labels with categorical cross-entropy and integer "
                "labels with sparse cross-entropy give the same result (a mismatched pair is an "
                "error).", ["mnist_dropout_mlp"], "mnist_dropout_mlp/summary.md")
  if ok:
    gaps = [np.nanmax(np.abs(_curve(dropout, "sparse", m) - _curve(dropout, "one_hot", m)))
            for m in dropout["history"]["sparse"]["metrics"]]
    c.measurement = (f"largest difference over every epoch, seed, lr and metric: {max(gaps):.2g}; "
                     "one-hot labels with a sparse loss are refused by the loss itself")
    c.verdict = "holds" if max(gaps) <= 1e-5 else "does not hold"

  c, ok = claim("MNIST dropout MLP: Adam lr 1e-3 reaches about the accuracy of 1e-4, faster; "
                "1e-2 is worse.", ["mnist_dropout_mlp"],
                "mnist_dropout_mlp/val_accuracy_vs_learning_rate.png")
  if ok:
    rates = [p["hparams"]["learning_rate"] for p in dropout["summary"]["variants"]["sparse"]["points"]]
    curves = _curve(dropout, "sparse", "val_accuracy")  # (epochs, seeds, rates)
    if not {1e-4, 1e-3, 1e-2} <= {round(r, 6) for r in rates}:
      c.measurement, c.verdict = f"the {tier} tier sweeps lr {rates} only", "not measured"
    else:
      slow, mid, fast = (rates.index(min(rates, key=lambda r: abs(r - x))) for x in (1e-4, 1e-3, 1e-2))
      first = curves[0]
      holding = int(np.sum((first[:, mid] > first[:, slow]) & (curves[-1][:, fast] < curves[-1][:, mid])))
      c.measurement = (f"test accuracy after epoch 1: 1e-4 {_ms(first[:, slow])}, 1e-3 "
                       f"{_ms(first[:, mid])}; final: 1e-4 {_ms(curves[-1][:, slow])}, 1e-3 "
                       f"{_ms(curves[-1][:, mid])}, 1e-2 {_ms(curves[-1][:, fast])}; 1e-3 ahead "
                       f"early and 1e-2 behind at the end in {holding} of {first.shape[0]} seeds")
      c.verdict = verdict(holding, first.shape[0])

  c, ok = claim("MNIST CNN reaches 99% test accuracy or more.", ["mnist_cnn"],
                "mnist_cnn/cnn_curves.png")
  if ok:
    accuracy = _finals(records["mnist_cnn"], "cnn", "val_accuracy")[:, 0]
    epochs = records["mnist_cnn"]["summary"]["variants"]["cnn"]["num_epochs"]
    holding = int(np.sum(accuracy >= 0.99))
    c.measurement = (f"test accuracy after {epochs} epochs {_ms(accuracy)}; >= 0.99 in {holding} "
                     f"of {len(accuracy)} seeds" + (" (the course trains 20 epochs)"
                                                    if epochs < 20 else ""))
    c.verdict = verdict(holding, len(accuracy))

  c, ok = claim("CIFAR-10 CNN: its speed, and its accuracy where the data exists.",
                ["cifar10_cnn"], "cifar10_cnn/cnn_curves.png")
  if ok:
    accuracy = _finals(records["cifar10_cnn"], "cnn", "val_accuracy")[:, 0]
    c.measurement, c.verdict = f"test accuracy {_ms(accuracy)} (speed below)", "measured"

  rnn = records.get("rnn_binary_addition")
  c, ok = claim("RNN binary addition, test bit accuracy after 5 epochs: base 1.0, 128 units 1.0, "
                "sigmoid 0.745, tanh 1.0, Adam 1.0, input dropout 0.5 0.862, recurrent dropout "
                "0.3 0.902, unroll 1.0.", ["rnn_binary_addition"], "rnn_binary_addition/summary.md")
  if ok:
    rows, holding = [], 0
    variants = rnn["summary"]["variants"]
    for name, record in variants.items():
      ours = _finals(rnn, name, "val_bit_accuracy")[:, 0]
      course = record["reference"].get("val_bit_accuracy")
      close = abs(np.nanmean(ours) - course) <= 0.05
      holding += int(close)
      rows.append(f"{name} {_ms(ours)} (course {course:g})")
    c.measurement = "; ".join(rows) + f"; within 0.05 of the course in {holding} of {len(variants)}"
    c.verdict = ("holds" if holding == len(variants) else
                 f"holds for {holding} of {len(variants)} variants" if holding else "does not hold")

  c, ok = claim("RNN: unroll makes an epoch faster (course: 20 s against 28-32 s per epoch).",
                ["rnn_binary_addition"], "rnn_binary_addition/summary.md")
  if ok and {"base", "unroll"} <= set(rnn["summary"]["variants"]):
    seconds = {v: rnn["summary"]["variants"][v]["seconds"]["train"] /
               rnn["summary"]["variants"][v]["num_epochs"] for v in ("base", "unroll")}
    c.measurement = (f"s/epoch for all seeds: base {seconds['base']:.3g}, unroll "
                     f"{seconds['unroll']:.3g} (one timing each)")
    c.verdict = "holds" if seconds["unroll"] < seconds["base"] else "does not hold"

  q = records.get("q_learning")
  c, ok = claim("RL: with perfect knowledge of the environment the optimal behaviour can be "
                "planned (value iteration).", ["q_learning"], "q_learning/slippery_decaying_values.png")
  if ok:
    optimal = _finals(q, "slippery_decaying", "optimal_value")[0, 0]
    c.measurement = (f"value iteration on FrozenLake's model: V*(start) = {optimal:.3f}; its "
                     "greedy policy's exact value equals V* (tested)")
    c.verdict = "holds"

  c, ok = claim("Q-learning updates Q(s, a) at every action and finds the optimal policy.",
                ["q_learning"], "q_learning/reaches_optimal_vs_epsilon.png")
  if ok:
    reached = _finals(q, "slippery_decaying", "reaches_optimal")  # (seeds, epsilons)
    eps = [p["hparams"]["epsilon"] for p in q["summary"]["variants"]["slippery_decaying"]["points"]]
    best = int(np.nanargmax(np.nanmean(reached, 0)))
    holding = int(np.nansum(reached[:, best]))
    c.measurement = (f"epsilon decaying from 1.0 to {eps[best]:g}: the greedy policy is within 1% "
                     f"of V* in {holding} of {reached.shape[0]} seeds")
    c.verdict = verdict(holding, reached.shape[0])

  c, ok = claim("Exploration vs exploitation: always greedy (epsilon 0) and always random "
                "(epsilon 1) both fail.", ["q_learning"], "q_learning/slippery_constant_curves.png")
  if ok:
    points = q["summary"]["variants"]["slippery_constant"]["points"]
    eps = [round(p["hparams"]["epsilon"], 6) for p in points]  # swept values are float32
    if not {0.0, 0.1, 1.0} <= set(eps):
      c.measurement, c.verdict = f"the {tier} tier sweeps epsilon {eps} only", "not measured"
    else:
      # What the agent earns while it acts; the greedy policy of a random walker can still be
      # optimal (Q-learning is off-policy), which the measurement says too.
      returns = _finals(q, "slippery_constant", "episode_return")
      reached = _finals(q, "slippery_constant", "reaches_optimal")
      greedy, middle, random = (returns[:, eps.index(e)] for e in (0.0, 0.1, 1.0))
      fail = (greedy < middle / 2) & (random < middle / 2)
      c.measurement = (f"mean episode return while learning, constant epsilon: 0 {_ms(greedy)}, "
                       f"0.1 {_ms(middle)}, 1 {_ms(random)}; both extremes under half of "
                       f"epsilon 0.1's in {int(fail.sum())} of {len(fail)} seeds (the greedy "
                       f"policy learnt off-policy is optimal in "
                       f"{int(np.nansum(reached[:, eps.index(0.0)]))} seeds at epsilon 0, "
                       f"{int(np.nansum(reached[:, eps.index(1.0)]))} at 1)")
      c.verdict = verdict(int(fail.sum()), len(fail))

  c, ok = claim("Function approximation learns: a Q-network for the action values, a policy "
                "network for the policy (CartPole-v1).", ["q_approx", "reinforce"],
                "q_approx/target_network_curves.png")
  if ok:
    q_start, q_net = _start_and_end(records["q_approx"], "target_network")
    start, policy = _start_and_end(records["reinforce"], "baseline")
    holding = int(np.sum((policy > 2 * start) & (q_net > 2 * q_start)))
    c.measurement = (f"episode return, first log entry -> mean of the last 10: Q-network (target "
                     f"network) {_ms(q_start)} -> {_ms(q_net)}; policy network (REINFORCE, "
                     f"Adam) {_ms(start)} -> {_ms(policy)}; both at least doubled in {holding} "
                     f"of {len(policy)} seeds")
    c.verdict = verdict(holding, len(policy))

  c, ok = claim("Policy gradient theta <- theta + eps * grad J(theta) learns, with the plain "
                "SGD step as written (Adam as a variant).", ["reinforce"],
                "reinforce/sgd_curves.png")
  if ok and "sgd" in records["reinforce"]["summary"]["variants"]:
    start, sgd = _start_and_end(records["reinforce"], "sgd")
    _, adam = _start_and_end(records["reinforce"], "baseline")
    holding = int(np.sum(sgd > 2 * start))
    c.measurement = (f"episode return, first update -> mean of the last 10: plain SGD "
                     f"{_ms(start)} -> {_ms(sgd)} (Adam: -> {_ms(adam)}); at least doubled in "
                     f"{holding} of {len(sgd)} seeds")
    c.verdict = verdict(holding, len(sgd))
  return out


def perceptron_table(records: dict) -> list[str]:
  """The perceptron's outputs on the 4 inputs against the truth table, first seed, batch 1."""
  variants = records.get("perceptron", {}).get("summary", {}).get("variants", {})
  gates = [gate for gate in ("or", "and", "xor") if "predictions" in
           variants.get(f"{gate}_batch1", {}).get("points", [{}])[0].get("final", {})]
  if not gates:
    return []
  seed = variants[f"{gates[0]}_batch1"]["seeds"][0]
  truth = {"or": (0, 1, 1, 1), "and": (0, 0, 0, 1), "xor": (0, 1, 1, 0)}
  lines = ["", f"Perceptron (batch 1, seed {seed}), as the course prints it: sigmoid output on "
           "each input against the truth table.", "",
           "| x1 x2 | " + " | ".join(f"{g.upper()} truth | {g.upper()} output" for g in gates) + " |",
           "|---|" + "---|---|" * len(gates)]
  outputs = {g: variants[f"{g}_batch1"]["points"][0]["final"]["predictions"]["per_seed"][0]
             for g in gates}
  for row, pair in enumerate(("0 0", "0 1", "1 0", "1 1")):
    lines.append(f"| {pair} | " + " | ".join(f"{truth[g][row]} | {outputs[g][row]:.3f}"
                                             for g in gates) + " |")
  return lines


def speed_rows(records: dict) -> list[str]:
  """Markdown rows: seconds per epoch (or log entry) of each variant, all its runs at once."""
  rows = []
  for part, record in records.items():
    for name, variant in record["summary"]["variants"].items():
      runs = len(variant["seeds"]) * len(variant["points"])
      per_entry = variant["seconds"]["train"] / variant["num_epochs"]
      # Beside Keras' full-dataset epochs only when ours is one too.
      full_data = not variant["config"].get("max_examples", 0)
      keras = KERAS_SECONDS_PER_EPOCH.get(part) if full_data else None
      rows.append(f"| {part} / {name} | {runs} | {variant['num_epochs']} {variant['log_unit']}s "
                  f"| {per_entry:.3g} | {per_entry / runs:.3g} | "
                  f"{variant['tuning'].get('conv_impl') or '-'} | {keras or '-'} |")
  return rows


def report(records: dict, tier: str, header: list[str], skipped: dict[str, str]) -> str:
  """REPORT.md: header, the claims table, skipped parts, the speed table."""
  lines = ["# The course, reproduced", "", *header, ""]
  lines += ["| # | the course says | we measured | verdict | figure |", "|---|---|---|---|---|"]
  cell = lambda text: text.replace("|", "\\|")  # a table cell may not hold a bare pipe
  for c in claims(records, tier):
    measured = c.figure and c.verdict != "not measured"  # else no figure was drawn
    figure = f"[{pathlib.PurePath(c.figure).name}]({c.figure})" if measured else "-"
    lines.append(f"| {c.number} | {cell(c.statement)} | {cell(c.measurement)} | **{c.verdict}** "
                 f"| {figure} |")
  if skipped:
    lines += ["", "Skipped:", *(f"- {part}: {why}" for part, why in skipped.items())]
  lines += perceptron_table(records)
  lines += ["", "## Speed", "",
            "Training seconds per epoch (agents: per log entry) on this machine, all runs of a "
            "variant together (seeds x points) and per run; test pass included. The Keras column "
            "is a reference, not a same-sitting comparison: our own run of the course's code "
            "(Keras 3.15.1 / TensorFlow 2.21, float32, one seed, training only) on this project's "
            "machine kind in an earlier session (cpu2, an AMX Xeon; BUILD_NOTES.md), not the "
            "course's figure. Speed claims come from interleaved runs in one sitting "
            "(`python -m experiments.benchmark --suite=classification`).",
            "", "| variant | runs | epochs | s/epoch, all runs | s/epoch per run | conv | Keras "
            "s/epoch (1 run) |", "|---|---|---|---|---|---|---|", *speed_rows(records), ""]
  return "\n".join(lines)

