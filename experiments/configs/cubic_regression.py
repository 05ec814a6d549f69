"""Cubic regression on two cubics with Gaussian noise: Dense(1) on (x, x^2, x^3), SGD.

x is drawn from [-2, 2] rather than [-1, 1]: on [-1, 1] the powers are so correlated that SGD
needs thousands of epochs to separate x from x^3 (BUILD_NOTES.md has the measurement).
"""

from experiments.configs.regression_defaults import regression_config


def get_config(mode: str | None = None):
  return regression_config(
      {
          "cubic_a": {
              "label": "d = -0.4x^3 + 1.6x^2 - 2.8x + 1",
              "coefficients": (-0.4, 1.6, -2.8, 1.0),
          },
          "cubic_b": {
              "label": "d = 2.1x^3 - 1.2x^2 - 4.8x + 2",
              "coefficients": (2.1, -1.2, -4.8, 2.0),
          },
      },
      mode,
      x_range=(-2.0, 2.0),
      learning_rate=0.05,
      num_epochs=100,
  )
