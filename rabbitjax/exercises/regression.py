"""Linear and cubic regression on noisy polynomial data (the course's first exercises)."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from rabbitjax import plots
from rabbitjax.data import polynomial_regression
from rabbitjax.exercises.base import Exercise, ExerciseSpec
from rabbitjax.models import PolynomialRegression, polynomial_coefficients
from rabbitjax.train import Task, make_optimizer, mean_squared_error


def build(config: ml_collections.ConfigDict, data_dir: str | None = None) -> Exercise:
  """A polynomial model of the target's degree, trained on data drawn per run."""
  del data_dir  # Synthetic data only.
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

  task = Task(
      model=PolynomialRegression(degree=len(config.coefficients) - 1),
      loss=mean_squared_error,
      optimizer=make_optimizer(config.optimizer, config.learning_rate),
      batch_size=config.batch_size,
      eval_batch_size=config.num_test,
  )
  return Exercise(task=task, make_data=make_data, describe=describe, plot=plot_fits)


def plot_fits(result, workdir) -> list:
  """Training data of the first seed at each sweep point, with the true and the fitted curves."""
  coefficients = np.asarray(result.config.coefficients, np.float32)
  fitted = result.outputs["coefficients"]  # (seeds, points, degree + 1)
  train = result.fit.train_data
  x_grid = np.linspace(*result.config.x_range, 200)
  panels = []
  for point in range(result.sweep.num_points):
    panels.append(
        plots.FitPanel(
            title=plots.point_label(result.sweep, point),
            x=np.asarray(train.inputs[0, point, :, 0]),
            y=np.asarray(train.targets[0, point, :, 0]),
            x_grid=x_grid,
            truth=np.polyval(coefficients, x_grid),
            fits=[np.polyval(c, x_grid) for c in fitted[:, point]],
        )
    )
  path = workdir / f"{result.name}_fits.png"
  plots.plot_fit_panels(panels, f"{result.label}: data (seed {result.sweep.seeds[0]}) and fits "
                        "of every seed", path)
  return [path]


SPEC = ExerciseSpec(build=build, sweepable=("learning_rate", "noise"))
