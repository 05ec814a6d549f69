"""The training engine: batching, determinism, vmapped sweeps, and learning on regression data."""

import dataclasses
import functools
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments.configs import linear_regression
from rabbitjax.cache import ProgramStore, stable_name
from rabbitjax.data import Dataset, polynomial_regression
from rabbitjax.exercises import regression
from rabbitjax.models import PolynomialRegression
from rabbitjax.train import (
    OPTIMIZERS,
    Task,
    batch_plan,
    create_train_state,
    evaluate,
    fit,
    make_optimizer,
    make_sweep,
    mean_squared_error,
    optimizer_step,
    train_step,
)

from rabbitjax.train.mapping import Programs, in_seed_groups
from rabbitjax.xla_cpu import engine as xla_cpu_engine

LINE = jnp.array([3.0, 2.0])


def line_data(key, hparams):
  train_key, test_key = jax.random.split(key)
  return (polynomial_regression(train_key, LINE, hparams["noise"], 40),
          polynomial_regression(test_key, LINE, hparams["noise"], 24))


@functools.lru_cache(maxsize=None)
def line_task(batch_size=8):
  return Task(model=PolynomialRegression(1), loss=mean_squared_error,
              optimizer="sgd", batch_size=batch_size, eval_batch_size=16)


def line_state(task, key, sample_inputs, learning_rate=0.1):
  return create_train_state(task, key, sample_inputs, {"learning_rate": learning_rate})


def small_fit(seeds, noise=(0.0, 0.5), learning_rate=0.1, epochs=3, seeds_at_once=None,
              **kwargs):
  sweep = make_sweep(seeds, {"noise": 0.0, "learning_rate": learning_rate}, {"noise": noise})
  return fit(line_task(), sweep, epochs, make_data=line_data, seeds_at_once=seeds_at_once,
             **kwargs)


@pytest.mark.parametrize("size, batch_size", [(10, 3), (4, 10), (12, 4), (1, 1)])
def test_batch_plan_covers_every_example_once(size, batch_size):
  indices, weights = batch_plan(size, batch_size, jax.random.key(0))
  num_batches = -(-size // batch_size)
  chex.assert_shape([indices, weights], (num_batches, batch_size))
  chex.assert_type(weights, jnp.float32)
  real = np.asarray(indices)[np.asarray(weights) == 1.0]
  np.testing.assert_array_equal(np.sort(real), np.arange(size))
  assert float(weights.sum()) == size
  assert np.all(np.asarray(weights).sum(1) >= 1)  # No batch is all padding.


def test_batch_plan_without_key_keeps_order():
  indices, weights = batch_plan(5, 2)
  np.testing.assert_array_equal(indices, [[0, 1], [2, 3], [4, 0]])
  np.testing.assert_array_equal(weights, [[1, 1], [1, 1], [1, 0]])


def test_padded_batch_trains_like_the_partial_batch():
  """Weight-0 padding changes nothing: Keras' smaller last batch, exactly."""
  task = line_task()
  data = polynomial_regression(jax.random.key(0), LINE, 0.3, 3)
  state = line_state(task, jax.random.key(1), data.inputs[:1])
  padded = Dataset(jnp.concatenate([data.inputs, jnp.full((2, 1), 7.0)]),
                   jnp.concatenate([data.targets, jnp.full((2, 1), -9.0)]))
  key = jax.random.key(2)
  after_partial, sums_partial = train_step(task, state, data, jnp.ones(3), key)
  after_padded, sums_padded = train_step(task, state, padded, jnp.array([1.0, 1, 1, 0, 0]), key)
  chex.assert_trees_all_close(after_partial.params, after_padded.params, rtol=1e-6)
  chex.assert_trees_all_close(sums_partial, sums_padded, rtol=1e-6)


def test_micro_batches_give_the_whole_batch_step():
  """Gradient accumulated over micro-batches == the whole batch's (partial batch included)."""
  whole, micro = line_task(batch_size=8), Task(**{**line_task(batch_size=8).__dict__,
                                                  "microbatch_size": 2})
  data = polynomial_regression(jax.random.key(0), LINE, 0.3, 8)
  weights = jnp.array([1.0, 1, 1, 1, 1, 0, 0, 0])  # a partial last batch: 5 real examples
  state = line_state(whole, jax.random.key(1), data.inputs[:1])
  key = jax.random.key(2)
  after_whole, sums_whole = train_step(whole, state, data, weights, key)
  after_micro, sums_micro = train_step(micro, state, data, weights, key)
  chex.assert_trees_all_close(after_whole.params, after_micro.params, rtol=1e-6)
  chex.assert_trees_all_close(sums_whole, sums_micro, rtol=1e-6)


def test_evaluate_matches_a_direct_computation():
  task = line_task()
  data = polynomial_regression(jax.random.key(0), LINE, 0.3, 37)  # 37 = 2 full batches + 5
  state = line_state(task, jax.random.key(1), data.inputs[:1])
  outputs = task.model.apply({"params": state.params}, data.inputs)
  expected = jnp.mean((outputs - data.targets) ** 2)
  np.testing.assert_allclose(evaluate(task, state.params, data)["loss"], expected, rtol=1e-5)


def test_fit_shapes_and_history_layout():
  result = small_fit([0, 1], epochs=3)
  chex.assert_tree_shape_prefix(result.state.params, (2, 2))
  chex.assert_shape(result.train_data.inputs, (2, 2, 40, 1))
  assert set(result.history) == {"loss", "val_loss"}
  for values in result.history.values():
    assert values.shape == (3, 2, 2) and values.dtype == np.float32


def test_same_seed_same_numbers_other_seed_other_numbers():
  first, again, other = small_fit([5]), small_fit([5]), small_fit([6])
  chex.assert_trees_all_equal(first.state.params, again.state.params)
  chex.assert_trees_all_equal(first.history, again.history)
  assert not np.allclose(first.history["loss"], other.history["loss"])


def test_vmapped_seeds_equal_separate_runs():
  seeds = [0, 1, 2]
  together = small_fit(seeds)
  for index, seed in enumerate(seeds):
    alone = small_fit([seed])
    chex.assert_trees_all_close(
        jax.tree.map(lambda leaf: leaf[index], together.state.params),
        jax.tree.map(lambda leaf: leaf[0], alone.state.params), rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(
        {name: values[:, index] for name, values in together.history.items()},
        {name: values[:, 0] for name, values in alone.history.items()}, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seeds_at_once", [1, 2])
def test_seeds_in_turn_equal_vmapped_seeds(seeds_at_once):
  """lax.map over the seed axis (2 does not divide 3: a remainder group) == vmap over it."""
  vmapped, in_turn = small_fit([0, 1, 2]), small_fit([0, 1, 2], seeds_at_once=seeds_at_once)
  chex.assert_trees_all_close(vmapped.state.params, in_turn.state.params, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close(vmapped.history, in_turn.history, rtol=1e-5, atol=1e-6)


def test_epochs_in_one_program_call_give_the_same_numbers_and_every_entry():
  """7 epochs as blocks of 3 (two scans over epochs, then one epoch alone) == one call each."""
  logged = []
  one_each = small_fit([0, 1], epochs=7)
  in_blocks = small_fit([0, 1], epochs=7, epochs_per_dispatch=3,
                        on_epoch=lambda first, metrics, seconds: logged.append(
                            (first, len(metrics["loss"]), seconds)))
  chex.assert_trees_all_equal(in_blocks.state.params, one_each.state.params)
  chex.assert_trees_all_equal(in_blocks.history, one_each.history)
  assert [(first, length) for first, length, _ in logged] == [(1, 3), (4, 3), (7, 1)]
  assert all(seconds > 0 for _, _, seconds in logged)  # each epoch's share of its call


@pytest.mark.parametrize("shared_data", [False, True])
def test_seed_groups_side_by_side_give_what_one_call_for_all_seeds_gives(shared_data):
  """4 seeds x 2 noises as 2 groups of 2 on threads of their own == one program call, with data
  every run makes (split with the seeds) and data the seeds share (given to every group)."""
  sweep = make_sweep([0, 1, 2, 3], {"noise": 0.0, "learning_rate": 0.1}, {"noise": (0.0, 0.5)})
  data = line_data(jax.random.key(7), {"noise": 0.3})
  source = dict(data=data) if shared_data else dict(make_data=line_data)
  logged = []
  together = fit(line_task(batch_size=6), sweep, 3, **source)
  side_by_side = fit(line_task(batch_size=6), sweep, 3, seed_groups=2,
                     on_epoch=lambda first, metrics, seconds: logged.append(metrics), **source)
  chex.assert_trees_all_equal(side_by_side.state, together.state)
  chex.assert_trees_all_equal(side_by_side.history, together.history)
  chex.assert_shape(logged[0]["loss"], (1, 4, 2))
  with pytest.raises(ValueError, match="seed_groups=3 does not divide the 4 seeds"):
    fit(line_task(batch_size=6), sweep, 3, seed_groups=3, **source)
  # Epochs in blocks of 3 (a block's metrics lead with its epochs) and seeds in turn.
  in_blocks = fit(line_task(batch_size=6), sweep, 7, epochs_per_dispatch=3, seeds_at_once=1,
                  **source)
  grouped_blocks = fit(line_task(batch_size=6), sweep, 7, epochs_per_dispatch=3,
                       seeds_at_once=1, seed_groups=2, **source)
  chex.assert_shape(grouped_blocks.history["loss"], (7, 4, 2))
  chex.assert_trees_all_equal(grouped_blocks.history, in_blocks.history)
  chex.assert_trees_all_equal(grouped_blocks.state, in_blocks.state)


def test_in_seed_groups_splits_only_the_seed_arguments_and_joins_along_each_output_axis():
  """Seed-leading arguments sliced per group, the others (a Python int, shared data) passed as
  they are; the outputs joined along their own seed axes (a tree prefix), bit for bit."""
  def program(scale, shared, offset):
    return scale * shared + offset, {"per_entry": jnp.stack([scale.sum(1)] * 3)}

  scale = jnp.arange(24.0).reshape(4, 6)
  shared = jnp.linspace(0.0, 1.0, 6)
  one_call = jax.jit(program)(scale, shared, 5)
  group = jax.jit(program).lower(scale[:2], shared, 5).compile()
  grouped = in_seed_groups(group, 2, (True, False, False), (0, 1))(scale, shared, 5)
  chex.assert_trees_all_equal(grouped, one_call)
  chex.assert_shape(grouped[1]["per_entry"], (3, 4))
  # Called again as an epoch loop calls it: the state donated and new, the data the same.
  step = lambda state, data: (state + data, data.sum(1))
  state, data = jnp.zeros((4, 6)), jnp.arange(24.0).reshape(4, 6)
  grouped_step = in_seed_groups(
      jax.jit(step, donate_argnums=0).lower(state[:2], data[:2]).compile(), 2, (True, True))
  for _ in range(3):
    state, sums = grouped_step(state, data)
  chex.assert_trees_all_equal((state, sums), (3 * data, data.sum(1)))


@pytest.mark.parametrize("shared_data", [False, True])
def test_minibatches_gathered_per_step_give_the_same_numbers(shared_data):
  """Each step gathering its batch == the epoch's batches gathered before the scan, bit for bit,
  for data every run makes (a batched gather) and data the seeds share (3 seeds, 2 noises)."""
  sweep = make_sweep([0, 1, 2], {"noise": 0.0, "learning_rate": 0.1}, {"noise": (0.0, 0.5)})
  data = line_data(jax.random.key(7), {"noise": 0.3})
  source = dict(data=data) if shared_data else dict(make_data=line_data)
  per_epoch = fit(line_task(batch_size=6), sweep, 3, **source)
  per_step = fit(dataclasses.replace(line_task(batch_size=6), gather_per_step=True), sweep, 3,
                 **source)
  chex.assert_trees_all_equal(per_step.state.params, per_epoch.state.params)
  chex.assert_trees_all_equal(per_step.history, per_epoch.history)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizers_equal_optax_built_with_the_rate(name):
  """The rate given at each update, as optax's own optimizer with the rate built in."""
  built_in = {"sgd": optax.sgd(0.05), "momentum": optax.sgd(0.05, momentum=0.9),
              "adam": optax.adam(0.05, eps=1e-7), "rmsprop": optax.rmsprop(0.05, eps=1e-7)}[name]
  params = {"w": jnp.array([1.0, -2.0, 0.5])}
  ours, theirs = (params, make_optimizer(name).init(params)), (params, built_in.init(params))
  for step in range(3):
    grads = {"w": jnp.array([0.3, -0.1, 0.2]) * (step + 1)}
    ours = optimizer_step(make_optimizer(name), *ours, grads, jnp.float32(0.05))
    updates, state = built_in.update(grads, theirs[1], theirs[0])
    theirs = (optax.apply_updates(theirs[0], updates), state)
  chex.assert_trees_all_equal(ours[0], theirs[0])


def test_learning_rate_sweep_equals_runs_with_that_rate():
  """Each point trains with its own rate (from the run's state) inside the one program."""
  sweep = make_sweep([0], {"noise": 0.2, "learning_rate": 0.1}, {"learning_rate": [0.01, 0.3]})
  swept = fit(line_task(), sweep, 2, make_data=line_data)
  for index, rate in enumerate([0.01, 0.3]):
    single = make_sweep([0], {"noise": 0.2, "learning_rate": rate})
    alone = fit(line_task(), single, 2, make_data=line_data)
    chex.assert_trees_all_close(
        jax.tree.map(lambda leaf: leaf[0, index], swept.state.params),
        jax.tree.map(lambda leaf: leaf[0, 0], alone.state.params), rtol=1e-5, atol=1e-6)
  assert not np.allclose(swept.history["loss"][:, 0, 0], swept.history["loss"][:, 0, 1])


def test_regression_recovers_the_line_and_error_rises_with_noise():
  config = linear_regression.get_config()
  config.num_seeds = 2
  config.sweep.noise = (0.0, 0.3, 1.0, 3.0)
  config.coefficients = (3.0, 2.0)
  result = regression.EXERCISE.make_trainer(config).train(regression.EXERCISE.sweep(config))
  fitted = result.outputs
  chex.assert_shape(fitted["coefficients"], (2, 4, 2))
  np.testing.assert_allclose(fitted["coefficients"][:, 0], [[3.0, 2.0]] * 2, atol=1e-2)
  test_mse = result.history["val_loss"][-1].mean(0)
  assert np.all(np.diff(test_mse) > 0), test_mse
  assert np.all(np.diff(fitted["coefficient_error"].mean(0)) > 0)


def test_programs_stored_across_runs_give_the_same_numbers(tmp_path):
  """A run whose programs are exported into a store, and a later one (a new `Programs`, as a new
  process has) that loads every one of them, train bit for bit as a run without a store; an
  unreadable stored program is removed and exported again."""
  store = ProgramStore(tmp_path / "programs")
  without = small_fit([0, 1], epochs=7, epochs_per_dispatch=3)
  first = Programs(store)
  exported = small_fit([0, 1], epochs=7, epochs_per_dispatch=3, programs=first)
  # keys, run keys, data, init, one epoch, a block of 3
  assert first.loaded == 0 and len(list(store.directory.iterdir())) == len(first) == 6
  again = Programs(store)
  loaded = small_fit([0, 1], epochs=7, epochs_per_dispatch=3, programs=again)
  assert again.loaded == len(again) == 6
  for result in (exported, loaded):
    chex.assert_trees_all_equal(result.state, without.state)
    chex.assert_trees_all_equal(result.history, without.history)
  for path in store.directory.iterdir():
    path.write_bytes(b"truncated")
  damaged = Programs(store)
  chex.assert_trees_all_equal(
      small_fit([0, 1], epochs=7, epochs_per_dispatch=3, programs=damaged).history,
      without.history)
  assert damaged.loaded == 0 and store.load(json.dumps(["no such program"])) is None
  assert all(path.read_bytes() != b"truncated" for path in store.directory.iterdir())


def test_stable_names_name_values_and_refuse_what_only_this_process_can_name():
  assert stable_name(line_task()) == stable_name(line_task(batch_size=8))
  assert stable_name(line_task()) != stable_name(line_task(batch_size=4))
  # Functions are their module and name: two `vmap`s are told apart.
  assert stable_name(jax.vmap) != stable_name(xla_cpu_engine.vmap)
  assert stable_name(("data", line_data, None)) == f"tuple('data', {__name__}.line_data, None)"
  assert stable_name(lambda x: x) is None
  assert stable_name(("epochs", functools.partial(line_data, hparams={"noise": 1.0}))) \
      == stable_name(("epochs", functools.partial(line_data, hparams={"noise": 1.0})))
  assert stable_name(functools.partial(lambda key: key)) is None
  assert stable_name(object()) is None
