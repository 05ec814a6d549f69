"""Perceptron (Dense(1) + sigmoid, binary cross-entropy, SGD 0.1) on OR, AND and XOR.

Every run trains 300 epochs; the history holds epochs 30 and 100 too. Batch 1 vs 10 (10 > 4
points: one full batch per epoch, as in Keras).
"""

from experiments.configs.classification_defaults import classification_config

_GATES = {gate: f"{gate.upper()}" for gate in ("or", "and", "xor")}
VARIANTS = {f"{gate}_batch{size}": {"label": f"{name}, batch {size}", "dataset": gate,
                                    "batch_size": size}
            for size in (1, 10) for gate, name in _GATES.items()}


def get_config(mode: str | None = None):
  return classification_config(
      VARIANTS, ",".join(VARIANTS), mode, quick=dict(num_seeds=2, num_epochs=5),
      label="OR, batch 1", dataset="or", hidden=(), outputs=1, loss="binary_cross_entropy",
      optimizer="sgd", learning_rate=0.1, batch_size=1, eval_batch_size=4, num_epochs=300)
