"""The one training engine: every supervised exercise trains through these pure functions.

An epoch is a single `lax.scan` over shuffled minibatches of data already on device; on a
device mesh, each (micro-)batch's examples are split over its data axis (`shard_examples`).
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
from flax import struct

from rabbitjax.data import Dataset, num_examples, take
from rabbitjax.distributed import shard_examples
from rabbitjax.train.optimizers import make_optimizer, optimizer_step

PerExampleFn = Callable[[jax.Array, jax.Array], jax.Array]
Metrics = dict[str, jax.Array]


def weighted_sum(values: jax.Array, weights: jax.Array) -> jax.Array:
  """sum_i values[i] * weights[i] over a batch: a loss or a metric, 0 on the padding."""
  return jnp.sum(values * weights)


def run_inputs(inputs: jax.Array, hparams: dict[str, jax.Array]) -> jax.Array:
  """A training batch's inputs as this run's model takes them: as they are."""
  del hparams
  return inputs


@dataclasses.dataclass(frozen=True)
class Task:
  """What the engine needs to train one model; exercises differ only in these values.

  A Task is a value (equal tasks hash equal), so runs of equal tasks share compiled programs.

  Attributes:
    model: a Linen module called as `model.apply(variables, inputs, train=...)`.
    loss: per-example loss (outputs, targets) -> (batch,), minimised.
    optimizer: a name from `OPTIMIZERS`; its update takes the run's `learning_rate`.
    batch_size: training minibatch size; the last batch of an epoch may be partial (as in Keras).
    eval_batch_size: minibatch size for evaluation, bounds its memory.
    metrics: extra per-example metrics reported beside the loss, as (name, fn) pairs, e.g.
      (("accuracy", accuracy),).
    shuffle: reshuffle the training set every epoch (Keras' default).
    microbatch_size: if set, each step's gradient is accumulated over micro-batches of this
      many examples (it must divide batch_size): the same gradient as the whole batch.
    weighted_sum: (values, weights) -> their weighted sum, `weighted_sum` or a drop-in.
    run_inputs: (training inputs, the run's hparams) -> the model's inputs, `run_inputs` or a
      drop-in.
    gather_per_step: each step gathers its own shuffled minibatch, instead of the epoch's
      shuffled copy gathered before the scan (`minibatches`); the same numbers.
    `rabbitjax.tuning` decides the last five, and eval_batch_size.
  """

  model: nn.Module
  loss: PerExampleFn
  optimizer: str
  batch_size: int
  eval_batch_size: int = 1024
  metrics: tuple[tuple[str, PerExampleFn], ...] = ()
  shuffle: bool = True
  microbatch_size: int | None = None
  weighted_sum: Callable[[jax.Array, jax.Array], jax.Array] = weighted_sum
  run_inputs: Callable[[jax.Array, dict], jax.Array] = run_inputs
  gather_per_step: bool = False


@struct.dataclass
class TrainState:
  """One run's parameters, optimizer state, PRNG key (dropout) and swept values (its point)."""

  params: dict
  opt_state: optax.OptState
  key: jax.Array
  hparams: dict[str, jax.Array]


def create_train_state(task: Task, key: jax.Array, sample_inputs: jax.Array, hparams) -> TrainState:
  """Initialises one run: parameters from `key`; `hparams` are the run's swept values."""
  init_key, run_key = jax.random.split(key)
  params = task.model.init(init_key, sample_inputs, train=False)["params"]
  opt_state = make_optimizer(task.optimizer).init(params)
  return TrainState(params=params, opt_state=opt_state, key=run_key, hparams=dict(hparams))


def batch_plan(size: int, batch_size: int, key: jax.Array | None = None):
  """Example indices per minibatch and their weights, covering every example once.

  The last batch is padded up to `batch_size` with weight-0 slots, so all batches share one
  shape (as `lax.scan` needs) while the losses match Keras' partial last batch exactly.

  Returns:
    (indices, weights): int32 and float32 arrays of shape (ceil(size / batch_size), batch_size).
  """
  num_batches = math.ceil(size / batch_size)
  order = jnp.arange(size, dtype=jnp.int32) if key is None else jax.random.permutation(key, size)
  padding = num_batches * batch_size - size
  indices = jnp.concatenate([order, jnp.zeros(padding, order.dtype)])
  weights = jnp.concatenate([jnp.ones(size, jnp.float32), jnp.zeros(padding, jnp.float32)])
  return indices.reshape(num_batches, batch_size), weights.reshape(num_batches, batch_size)


def minibatches(data: Dataset, batch_size: int, key: jax.Array | None = None):
  """`data` cut into (num_batches, batch_size, ...) minibatches, shuffled when `key` is given.

  One gather per epoch, then `lax.scan` walks the batches as `xs`: for a small training set,
  many small gathers inside the loop cost more (`Task.gather_per_step` is the other way).
  Without a key the batches are contiguous: a pad and a reshape, no gather at all.

  Returns:
    (batches, weights): a Dataset with two leading batch axes, and float32 weights
    (num_batches, batch_size) that are 0 on the padding of the last batch.
  """
  size = num_examples(data)
  if key is not None:
    indices, weights = batch_plan(size, batch_size, key)
    return take(data, indices), weights
  num_batches = math.ceil(size / batch_size)
  padding = num_batches * batch_size - size

  def cut(array):
    padded = jnp.pad(array, [(0, padding)] + [(0, 0)] * (array.ndim - 1))
    return padded.reshape(num_batches, batch_size, *array.shape[1:])

  weights = jnp.pad(jnp.ones(size, jnp.float32), (0, padding)).reshape(num_batches, batch_size)
  return jax.tree.map(cut, data), weights


def _per_example_metrics(task: Task, outputs, targets) -> Metrics:
  values = {"loss": task.loss(outputs, targets)}
  values.update({name: fn(outputs, targets) for name, fn in task.metrics})
  return values


def _weighted_sums(task: Task, values: Metrics, weights) -> Metrics:
  sums = {name: task.weighted_sum(value, weights) for name, value in values.items()}
  sums["count"] = jnp.sum(weights)
  return sums


def _means(batch_sums: Metrics) -> Metrics:
  """Per-batch weighted sums (leading batch axis) -> means over all examples."""
  count = jnp.sum(batch_sums["count"])
  return {name: jnp.sum(total) / count for name, total in batch_sums.items() if name != "count"}


def train_step(task: Task, state: TrainState, batch: Dataset, weights, dropout_key):
  """One optimizer step on a weighted minibatch; returns the new state and the batch's sums."""

  def weighted_loss_sum(params, batch, weights, dropout_key):
    outputs = task.model.apply(
        {"params": params}, batch.inputs, train=True, rngs={"dropout": dropout_key}
    )
    values = _per_example_metrics(task, outputs, batch.targets)
    return task.weighted_sum(values["loss"], weights), values

  grad_fn = jax.grad(weighted_loss_sum, has_aux=True)
  num_micro = 1 if task.microbatch_size is None else task.batch_size // task.microbatch_size
  batch = batch._replace(inputs=task.run_inputs(batch.inputs, state.hparams))
  if num_micro == 1:
    batch, weights = shard_examples((batch, weights))
    grads, values = grad_fn(state.params, batch, weights, dropout_key)
  else:
    def accumulate(grads_sum, xs):
      index, micro_batch, micro_weights = xs
      grads, values = grad_fn(state.params, micro_batch, micro_weights,
                              jax.random.fold_in(dropout_key, index))
      return jax.tree.map(jnp.add, grads_sum, grads), values

    split = lambda array: array.reshape(num_micro, -1, *array.shape[1:])
    zeros = jax.tree.map(jnp.zeros_like, state.params)
    micro_batches = shard_examples(jax.tree.map(split, (batch, weights)), axis=1)
    grads, values = jax.lax.scan(accumulate, zeros, (jnp.arange(num_micro), *micro_batches))
    values = jax.tree.map(lambda value: value.reshape(-1, *value.shape[2:]), values)
  # Dividing by the batch's total weight after summing keeps micro-batching exact.
  total_weight = jnp.sum(weights)
  grads = jax.tree.map(lambda grad: grad / total_weight, grads)
  params, opt_state = optimizer_step(make_optimizer(task.optimizer), state.params,
                                     state.opt_state, grads, state.hparams["learning_rate"])
  return state.replace(params=params, opt_state=opt_state), _weighted_sums(task, values, weights)


def train_epoch(task: Task, state: TrainState, data: Dataset, shuffle_key: jax.Array):
  """One pass over `data` in minibatches (shuffled by `shuffle_key`), as a single `lax.scan`.

  The shuffle key is an argument rather than drawn from the state so that a sweep can shuffle
  once per seed and share that order among the seed's runs (see `rabbitjax.train.sweep`).
  """
  next_key, dropout_key = jax.random.split(state.key)
  if task.shuffle and task.gather_per_step:
    # Only the indices go through the scan. Gathered before it, a large training set's shuffled
    # copy is written, and under vmap transposed and copied again, for every seed at once.
    batches, weights = batch_plan(num_examples(data), task.batch_size, shuffle_key)
    batch_of = lambda indices: take(data, indices)
  else:
    batches, weights = minibatches(data, task.batch_size, shuffle_key if task.shuffle else None)
    batch_of = lambda batch: batch

  def step(state, xs):
    batch_index, batch, batch_weights = xs
    batch_key = jax.random.fold_in(dropout_key, batch_index)
    return train_step(task, state, batch_of(batch), batch_weights, batch_key)

  xs = (jnp.arange(weights.shape[0]), batches, weights)
  state, batch_sums = jax.lax.scan(step, state, xs)
  return state.replace(key=next_key), _means(batch_sums)


def evaluate(task: Task, params, data: Dataset) -> Metrics:
  """Loss and metrics over all of `data`, in contiguous minibatches (no dropout)."""
  batches, weights = minibatches(data, min(task.eval_batch_size, num_examples(data)))

  def step(carry, xs):
    batch, batch_weights = shard_examples(xs)
    outputs = task.model.apply({"params": params}, batch.inputs, train=False)
    return carry, _weighted_sums(task, _per_example_metrics(task, outputs, batch.targets),
                                 batch_weights)

  _, batch_sums = jax.lax.scan(step, None, (batches, weights))
  return _means(batch_sums)


def run_epoch(task: Task, state: TrainState, train_data: Dataset, val_data: Dataset,
              shuffle_key: jax.Array):
  """A training epoch then validation, as Keras' `fit(validation_data=...)` reports them."""
  state, train_metrics = train_epoch(task, state, train_data, shuffle_key)
  val_metrics = evaluate(task, state.params, val_data)
  return state, {**train_metrics, **{f"val_{name}": value for name, value in val_metrics.items()}}
