"""Linear and cubic regression on noisy polynomial data (the course's first exercises)."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from rabbitjax import config as rules
from rabbitjax import figures, tuning
from rabbitjax.data import polynomial_regression
from rabbitjax.exercises.base import Exercise, Trainer, supervised_trainer
from rabbitjax.models import PolynomialRegression, polynomial_coefficients
from rabbitjax.models.initializers import KERNEL_INITS
from rabbitjax.train import OPTIMIZERS, Task, mean_squared_error

FIELDS = {
    "coefficients": rules.numbers(min_length=2),
    "noise": rules.NON_NEGATIVE,
    "num_train": rules.COUNT,
    "num_test": rules.COUNT,
    "x_range": rules.numbers(length=2),
    "kernel_init": rules.one_of(KERNEL_INITS),
    "optimizer": rules.one_of(OPTIMIZERS),
    "learning_rate": rules.POSITIVE,
    "batch_size": rules.COUNT,
    "num_epochs": rules.COUNT,
}


def check(config: ml_collections.ConfigDict) -> None:
  low, high = config.x_range
  if low >= high:
    raise rules.ConfigError(f"config.x_range={tuple(config.x_range)!r} is invalid: must be "
                            "(low, high) with low < high")


def make_trainer(config: ml_collections.ConfigDict) -> Trainer:
  """A polynomial model of the target's degree, trained on data drawn per run."""
  true_coefficients = jnp.asarray(config.coefficients, jnp.float32)
  x_range = tuple(config.x_range)

  def make_data(key, hparams):
    train_key, test_key = jax.random.split(key)
    draw = lambda k, n: polynomial_regression(k, true_coefficients, hparams["noise"], n, x_range)
    return draw(train_key, config.num_train), draw(test_key, config.num_test)

  def describe(state):
    fitted = polynomial_coefficients(state.params)
    return {
        "coefficients": fitted,
        "coefficient_error": jnp.max(jnp.abs(fitted - true_coefficients)),
    }

  task = Task(model=PolynomialRegression(degree=len(config.coefficients) - 1,
                                         kernel_init=config.kernel_init),
              loss=mean_squared_error, optimizer=config.optimizer,
              batch_size=config.batch_size)
  chosen = tuning.decide(fast=config.fast, eval_batch_size=config.num_test,
                         num_epochs=config.num_epochs, train_examples=config.num_train,
                         epochs_per_dispatch=config.epochs_per_dispatch,
                         seed_groups=config.seed_groups, num_seeds=config.num_seeds)
  return supervised_trainer(task, config.num_epochs, chosen, make_data=make_data,
                            describe=describe, plot=plot_fits)


def plot_fits(result) -> list:
  """Training data of the first seed at each sweep point, with the true and the fitted curves."""
  coefficients = np.asarray(result.config.coefficients, np.float32)
  fitted = result.run.outputs["coefficients"]  # (seeds, points, degree + 1)
  train = result.run.train_data
  x_grid = np.linspace(*result.config.x_range, 200)
  panels = []
  for point in range(result.sweep.num_points):
    panels.append(
        figures.FitPanel(
            title=result.sweep.point_label(point),
            x=np.asarray(train.inputs[0, point, :, 0]),
            y=np.asarray(train.targets[0, point, :, 0]),
            x_grid=x_grid,
            truth=np.polyval(coefficients, x_grid),
            fits=[np.polyval(c, x_grid) for c in fitted[:, point]],
        )
    )
  title = f"{result.label}: data (seed {result.sweep.seeds[0]}) and fits of every seed"
  return [figures.Figure("plot_fit_panels", f"{result.name}_fits.png",
                         {"panels": panels, "title": title})]


EXERCISE = Exercise("regression", rules.Schema(FIELDS, ("learning_rate", "noise"), check),
                    make_trainer)
