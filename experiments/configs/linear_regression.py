"""Linear regression on d = 3x + 2 and d = -6x + 3 with Gaussian noise (Dense(1), SGD 0.1).

    python -m experiments.main --config=experiments/configs/linear_regression.py --workdir=runs/lin
    ... --config=experiments/configs/linear_regression.py:quick      # smoke run
    ... --config.variant=slope_3 --config.sweep.noise='(0.,0.5)'     # one variant, other levels
"""

from experiments.configs.regression_defaults import regression_config


def get_config(mode: str | None = None):
  return regression_config(
      {
          "slope_3": {"label": "d = 3x + 2", "coefficients": (3.0, 2.0)},
          "slope_minus_6": {"label": "d = -6x + 3", "coefficients": (-6.0, 3.0)},
      },
      mode,
  )
