"""The one training engine: every supervised exercise trains through these pure functions.

An epoch is a single `lax.scan` over shuffled minibatches gathered from data already on device.
These functions describe ONE run; `rabbitjax.train.sweep` vmaps them over seeds and
hyper-parameters so that a whole sweep is one compiled program.
"""

import dataclasses
import math
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax.training import train_state

from rabbitjax.data import Dataset, num_examples, take
from rabbitjax.train.optimizers import set_hyperparams

PerExampleFn = Callable[[jax.Array, jax.Array], jax.Array]
Metrics = dict[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Task:
  """What the engine needs to train one model; exercises differ only in these values.

  Attributes:
    model: a Linen module called as `model.apply(variables, inputs, train=...)`.
    loss: per-example loss (outputs, targets) -> (batch,), minimised.
    optimizer: an optax transformation, usually from `make_optimizer` (vmappable hyper-params).
    batch_size: training minibatch size; the last batch of an epoch may be partial (as in Keras).
    eval_batch_size: minibatch size for evaluation, bounds its memory.
    metrics: extra per-example metrics reported beside the loss, e.g. {"accuracy": accuracy}.
    shuffle: reshuffle the training set every epoch (Keras' default).
  """

  model: nn.Module
  loss: PerExampleFn
  optimizer: optax.GradientTransformation
  batch_size: int
  eval_batch_size: int = 1024
  metrics: Mapping[str, PerExampleFn] = dataclasses.field(default_factory=dict)
  shuffle: bool = True


class TrainState(train_state.TrainState):
  """Flax's TrainState plus the run's own PRNG key (shuffling and dropout)."""

  key: jax.Array


def create_train_state(task: Task, key: jax.Array, sample_inputs: jax.Array, hparams) -> TrainState:
  """Initialises one run: parameters from `key`, optimizer hyper-parameters from `hparams`."""
  init_key, run_key = jax.random.split(key)
  variables = task.model.init(init_key, sample_inputs, train=False)
  state = TrainState.create(
      apply_fn=task.model.apply, params=variables["params"], tx=task.optimizer, key=run_key
  )
  return state.replace(opt_state=set_hyperparams(state.opt_state, hparams))


def batch_plan(size: int, batch_size: int, key: jax.Array | None = None):
  """Example indices per minibatch and their weights, covering every example once.

  The last batch is padded up to `batch_size` with weight-0 slots, so all batches share one
  shape (as `lax.scan` needs) while the losses match Keras' partial last batch exactly.

  Returns:
    (indices, weights): int32 and float32 arrays of shape (ceil(size / batch_size), batch_size).
  """
  num_batches = math.ceil(size / batch_size)
  order = jnp.arange(size) if key is None else jax.random.permutation(key, size)
  padding = num_batches * batch_size - size
  indices = jnp.concatenate([order, jnp.zeros(padding, order.dtype)])
  weights = jnp.concatenate([jnp.ones(size, jnp.float32), jnp.zeros(padding, jnp.float32)])
  return indices.reshape(num_batches, batch_size), weights.reshape(num_batches, batch_size)


def _per_example_metrics(task: Task, outputs, targets) -> Metrics:
  values = {"loss": task.loss(outputs, targets)}
  values.update({name: fn(outputs, targets) for name, fn in task.metrics.items()})
  return values


def _weighted_sums(values: Metrics, weights) -> Metrics:
  sums = {name: jnp.sum(value * weights) for name, value in values.items()}
  sums["count"] = jnp.sum(weights)
  return sums


def _means(batch_sums: Metrics) -> Metrics:
  """Per-batch weighted sums (leading batch axis) -> means over all examples."""
  count = jnp.sum(batch_sums["count"])
  return {name: jnp.sum(total) / count for name, total in batch_sums.items() if name != "count"}


def train_step(task: Task, state: TrainState, batch: Dataset, weights, dropout_key):
  """One optimizer step on a weighted minibatch; returns the new state and the batch's sums."""

  def loss_fn(params):
    outputs = task.model.apply(
        {"params": params}, batch.inputs, train=True, rngs={"dropout": dropout_key}
    )
    values = _per_example_metrics(task, outputs, batch.targets)
    return jnp.sum(values["loss"] * weights) / jnp.sum(weights), values

  grads, values = jax.grad(loss_fn, has_aux=True)(state.params)
  return state.apply_gradients(grads=grads), _weighted_sums(values, weights)


def train_epoch(task: Task, state: TrainState, data: Dataset) -> tuple[TrainState, Metrics]:
  """One pass over `data` in shuffled minibatches, as a single `lax.scan`."""
  next_key, shuffle_key, dropout_key = jax.random.split(state.key, 3)
  indices, weights = batch_plan(
      num_examples(data), task.batch_size, shuffle_key if task.shuffle else None
  )

  def step(state, plan):
    batch_index, batch_indices, batch_weights = plan
    return train_step(
        task,
        state,
        take(data, batch_indices),
        batch_weights,
        jax.random.fold_in(dropout_key, batch_index),
    )

  plan = (jnp.arange(indices.shape[0]), indices, weights)
  state, batch_sums = jax.lax.scan(step, state, plan)
  return state.replace(key=next_key), _means(batch_sums)


def evaluate(task: Task, params, data: Dataset) -> Metrics:
  """Loss and metrics over all of `data`, in minibatches (no dropout)."""
  indices, weights = batch_plan(num_examples(data), min(task.eval_batch_size, num_examples(data)))

  def step(carry, plan):
    batch_indices, batch_weights = plan
    batch = take(data, batch_indices)
    outputs = task.model.apply({"params": params}, batch.inputs, train=False)
    return carry, _weighted_sums(_per_example_metrics(task, outputs, batch.targets), batch_weights)

  _, batch_sums = jax.lax.scan(step, None, (indices, weights))
  return _means(batch_sums)


def run_epoch(task: Task, state: TrainState, train_data: Dataset, val_data: Dataset):
  """A training epoch then validation, as Keras' `fit(validation_data=...)` reports them."""
  state, train_metrics = train_epoch(task, state, train_data)
  val_metrics = evaluate(task, state.params, val_data)
  return state, {**train_metrics, **{f"val_{name}": value for name, value in val_metrics.items()}}
