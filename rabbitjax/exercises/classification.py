"""Every classifier of the course on the engine: perceptron, iris, MNIST MLPs and CNN, CIFAR-10 CNN.

Which network, dataset and loss a run uses are config values; the variants of each exercise
are override dicts in its config file.
"""

import functools
import math

import jax
import ml_collections
import numpy as np
from flax import linen as nn

from rabbitjax import cache
from rabbitjax import config as rules
from rabbitjax import tuning
from rabbitjax.data import (LOGIC_GATES, SUPPORTED_DATASETS, load_split, logic_gate,
                            num_classes, num_examples, split)
from rabbitjax.exercises.base import Exercise, Trainer, supervised_trainer
from rabbitjax.models import MLP, CifarCNN, MnistCNN
from rabbitjax.models.activations import ACTIVATIONS
from rabbitjax.models.initializers import KERNEL_INITS
from rabbitjax.train import OPTIMIZERS, Task, accuracy, softmax_cross_entropy
from rabbitjax.train.losses import binary_accuracy, sigmoid_binary_cross_entropy

# config.model names a class of rabbitjax/models/classifiers.py; each CNN takes one dataset.
MODELS = {"MLP": MLP, "MnistCNN": MnistCNN, "CifarCNN": CifarCNN}
CNN_DATASETS = {"MnistCNN": "mnist", "CifarCNN": "cifar10"}
DATASETS = (*SUPPORTED_DATASETS, *LOGIC_GATES)


def outputs_of(dataset: str) -> int:
  """The network's outputs for `dataset`: its classes, or one sigmoid output for a gate."""
  return 1 if dataset in LOGIC_GATES else num_classes(dataset)


# loss name -> (per-example loss, its accuracy metric)
LOSSES = {
    "softmax_cross_entropy": (softmax_cross_entropy, accuracy),
    "binary_cross_entropy": (sigmoid_binary_cross_entropy, binary_accuracy),
}

FIELDS = {
    "dataset": rules.one_of(DATASETS),
    "one_hot": rules.BOOLEAN,
    "max_examples": rules.integer(0, "0: all"),
    "split_seed": rules.integer(0),
    "model": rules.one_of(MODELS),
    "conv_formulation": rules.one_of(tuning.CONV_FORMULATIONS),
    "precision": rules.one_of(tuning.PRECISIONS),
    "kernel_init": rules.one_of(KERNEL_INITS),
    "microbatch_size": rules.AUTOMATIC_OR_COUNT,
    "seeds_at_once": rules.AUTOMATIC_OR_COUNT,
    "eval_batch_size": rules.AUTOMATIC_OR_COUNT,
    "hidden": rules.integers(1),
    "outputs": rules.COUNT,
    "activation": rules.one_of(ACTIVATIONS),
    "dropout": rules.DROPOUT_RATE,
    "loss": rules.one_of(LOSSES),
    "optimizer": rules.one_of(OPTIMIZERS),
    "learning_rate": rules.POSITIVE,
    "batch_size": rules.COUNT,
    "num_epochs": rules.COUNT,
}


def check(config: ml_collections.ConfigDict) -> None:
  """Fields that are each valid but wrong together."""
  if config.microbatch_size and config.batch_size % config.microbatch_size:
    raise rules.ConfigError(f"config.microbatch_size={config.microbatch_size!r} is invalid: must "
                            f"divide config.batch_size={config.batch_size}")
  if config.conv_formulation in tuning.WINOGRAD_FORMULATIONS and config.precision != "float32":
    raise rules.ConfigError(f"config.conv_formulation={config.conv_formulation!r} computes in "
                            f"float32 only, not config.precision={config.precision!r}")
  if config.conv_formulation in tuning.FAST_CONV_FORMULATIONS and not config.fast:
    raise rules.ConfigError(f"config.conv_formulation={config.conv_formulation!r} is on the fast "
                            "path, which config.fast=False switches off")
  if config.model in CNN_DATASETS and CNN_DATASETS[config.model] != config.dataset:
    raise rules.ConfigError(f"config.model={config.model!r} takes {CNN_DATASETS[config.model]} "
                            f"images, not config.dataset={config.dataset!r}")
  if config.model != "MLP":
    return
  binary = config.dataset in LOGIC_GATES
  wanted_loss = "binary_cross_entropy" if binary else "softmax_cross_entropy"
  if config.loss != wanted_loss:
    raise rules.ConfigError(f"config.loss={config.loss!r} does not fit config.dataset="
                            f"{config.dataset!r}: use {wanted_loss!r}")
  if config.outputs != outputs_of(config.dataset):
    raise rules.ConfigError(f"config.outputs={config.outputs!r} does not fit config.dataset="
                            f"{config.dataset!r}: it has {outputs_of(config.dataset)} "
                            f"{'sigmoid output' if binary else 'classes'}")


def make_model(config: ml_collections.ConfigDict, chosen: tuning.Tuning) -> nn.Module:
  """config.model built with the layers `chosen` says."""
  if config.model in CNN_DATASETS:
    return MODELS[config.model](kernel_init=config.kernel_init, layers=chosen.layers)
  return MLP(hidden=tuple(config.hidden), outputs=config.outputs, activation=config.activation,
             dropout=config.dropout, kernel_init=config.kernel_init, layers=chosen.layers)


def load_data(config: ml_collections.ConfigDict, data_dir: str | None):
  """(train, test) for the config's dataset; `max_examples`, when set, keeps only that many."""
  if config.dataset in LOGIC_GATES:  # The course trains and tests on the 4 points.
    data = logic_gate(config.dataset)
    return data, data
  if config.dataset == "iris":  # tfds has one split; the course holds out 20%.
    data = load_split("iris", "train", data_dir=data_dir)
    return split(data, config.split_seed, 0.8)
  train = load_split(config.dataset, "train", data_dir=data_dir, one_hot=config.one_hot)
  test = load_split(config.dataset, "test", data_dir=data_dir, one_hot=config.one_hot)
  if config.max_examples:
    train = jax.tree.map(lambda a: a[: config.max_examples], train)
    test = jax.tree.map(lambda a: a[: config.max_examples], test)
  return train, test


def decide_tuning(config: ml_collections.ConfigDict, train_examples: int | None = None,
                  train_bytes: int | None = None) -> tuning.Tuning:
  return tuning.decide(fast=config.fast, has_conv=config.model in CNN_DATASETS,
                       conv_formulation=config.conv_formulation, precision=config.precision,
                       microbatch_size=config.microbatch_size,
                       seeds_at_once=config.seeds_at_once, eval_batch_size=config.eval_batch_size,
                       default_eval_batch_size=1000,
                       shared_inputs=math.prod(len(values) for values in
                                               (config.get("sweep") or {}).values()) > 1,
                       num_epochs=config.num_epochs,
                       train_examples=train_examples,
                       epochs_per_dispatch=config.epochs_per_dispatch,
                       train_bytes=train_bytes, num_seeds=config.num_seeds,
                       seed_groups=config.seed_groups)


@functools.cache  # a value of (module, shape, dtype): the variants of one model trace it once
def _model_summary(model: nn.Module, input_shape: tuple[int, ...], dtype) -> str:
  # Kept beside the stored programs: tabulating traces the model (0.04-0.05 s of a small run).
  store = cache.program_store()
  name = store and cache.value_name(("model_summary", model, input_shape, str(dtype)))
  summary = name and store.load_value(name)
  if not summary:
    # Plain text (no terminal colour codes), as the file it is written to wants.
    summary = nn.tabulate(model, jax.random.key(0), compute_flops=False,
                          console_kwargs={"color_system": None, "force_terminal": False})(
                              np.zeros((1, *input_shape), dtype))
    if name:
      store.save_value(name, summary)
  return summary


def _gate_predictions(model: nn.Module, gate_inputs: np.ndarray, state) -> dict:
  """The perceptron's outputs on the gate's inputs."""
  return {"predictions": jax.nn.sigmoid(model.apply({"params": state.params}, gate_inputs))[:, 0]}


def make_trainer(config: ml_collections.ConfigDict, data) -> Trainer:
  """The classifier of `config` trained on `data` = (train, test) by the engine."""
  chosen = decide_tuning(config, num_examples(data[0]),
                         sum(leaf.nbytes for leaf in jax.tree.leaves(data[0])))
  loss, metric = LOSSES[config.loss]
  task = Task(model=make_model(config, chosen), loss=loss, optimizer=config.optimizer,
              batch_size=config.batch_size, metrics=(("accuracy", metric),))
  summary = _model_summary(task.model, data[0].inputs.shape[1:], data[0].inputs.dtype)
  describe = None
  if config.dataset in LOGIC_GATES:  # the course prints the gate's outputs on its 4 inputs
    # A partial of values, not a closure: a program every run can name, stored and loaded
    # (`Programs`), and one for OR, AND and XOR, whose inputs are the same.
    describe = functools.partial(_gate_predictions, task.model, np.asarray(data[0].inputs))
  return supervised_trainer(task, config.num_epochs, chosen, data=data, model_summary=summary,
                            describe=describe)


EXERCISE = Exercise("classification", rules.Schema(FIELDS, ("learning_rate",), check),
                    make_trainer, load_data,
                    data_fields=("dataset", "one_hot", "max_examples", "split_seed"))
