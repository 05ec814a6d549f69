"""Every classifier of the course on the engine: perceptron, iris, MNIST MLPs and CNN, CIFAR-10 CNN.

Which network, dataset and loss a run uses are config values; the variants of each exercise
are override dicts in its config file.
"""

import jax
import ml_collections
from flax import linen as nn

from rabbitjax.data import LOGIC_GATES, load_split, logic_gate, split
from rabbitjax.exercises.base import Exercise, ExerciseSpec
from rabbitjax.models import MLP, CifarCNN, MnistCNN
from rabbitjax.train import Task, accuracy, make_optimizer, softmax_cross_entropy
from rabbitjax.train.losses import binary_accuracy, sigmoid_binary_cross_entropy

MODELS = ("mlp", "mnist_cnn", "cifar_cnn")
DATASETS = ("mnist", "cifar10", "iris", *LOGIC_GATES)
# loss name -> (per-example loss, its accuracy metric)
LOSSES = {
    "softmax_cross_entropy": (softmax_cross_entropy, accuracy),
    "binary_cross_entropy": (sigmoid_binary_cross_entropy, binary_accuracy),
}


def make_model(config: ml_collections.ConfigDict) -> nn.Module:
  if config.model == "mnist_cnn":
    return MnistCNN(conv_impl=config.conv_impl)
  if config.model == "cifar_cnn":
    return CifarCNN(conv_impl=config.conv_impl)
  return MLP(hidden=tuple(config.hidden), outputs=config.outputs, activation=config.activation,
             dropout=config.dropout)


def load_data(config: ml_collections.ConfigDict, data_dir: str | None):
  """(train, test) for the config's dataset; `max_examples`, when set, keeps only that many."""
  if config.dataset in LOGIC_GATES:  # The course trains and tests on the 4 points.
    data = logic_gate(config.dataset)
    return data, data
  if config.dataset == "iris":  # tfds has one split; the course holds out 20%.
    data = load_split("iris", "train", data_dir=data_dir)
    return split(data, jax.random.key(config.split_seed), 0.8)
  train = load_split(config.dataset, "train", data_dir=data_dir, one_hot=config.one_hot)
  test = load_split(config.dataset, "test", data_dir=data_dir, one_hot=config.one_hot)
  if config.max_examples:
    train = jax.tree.map(lambda a: a[: config.max_examples], train)
    test = jax.tree.map(lambda a: a[: config.max_examples], test)
  return train, test


def _cnn_on_cpu(config: ml_collections.ConfigDict) -> bool:
  return config.model in ("mnist_cnn", "cifar_cnn") and jax.default_backend() == "cpu"


def resolve_microbatch_size(config: ml_collections.ConfigDict) -> int | None:
  """config.microbatch_size, where 0 means 16 for the CNNs on CPU and the whole batch otherwise.

  16 measured best for the MNIST CNN step on the 2-core CPU (8 and 32 were slower; BUILD_NOTES.md).
  """
  if config.microbatch_size:
    return config.microbatch_size
  if _cnn_on_cpu(config) and config.batch_size % 16 == 0 and config.batch_size > 16:
    return 16
  return None


def resolve_seeds_at_once(config: ml_collections.ConfigDict) -> int | None:
  """config.seeds_at_once, where 0 means 1 for the CNNs on CPU and all seeds vmapped otherwise."""
  if config.seeds_at_once:
    return config.seeds_at_once
  return 1 if _cnn_on_cpu(config) else None


def resolve_eval_batch_size(config: ml_collections.ConfigDict) -> int:
  """config.eval_batch_size, where 0 means 16 for the CNNs on CPU and 1000 otherwise.

  The CNNs' im2col patches of 1000 images do not fit in a CPU cache (CIFAR-10: ~1 GB for one
  layer); in batches of 16 its 10,000 test images took 4.3 s instead of 11 (BUILD_NOTES.md).
  """
  if config.eval_batch_size:
    return config.eval_batch_size
  return 16 if _cnn_on_cpu(config) else 1000


def make_task(config: ml_collections.ConfigDict) -> Task:
  """The engine's Task for a classification config (model, loss, optimizer, batching)."""
  loss, metric = LOSSES[config.loss]
  return Task(model=make_model(config), loss=loss,
              optimizer=make_optimizer(config.optimizer, config.learning_rate),
              batch_size=config.batch_size, eval_batch_size=resolve_eval_batch_size(config),
              metrics={"accuracy": metric}, microbatch_size=resolve_microbatch_size(config))


def build(config: ml_collections.ConfigDict, data_dir: str | None = None) -> Exercise:
  train, test = load_data(config, data_dir)
  task = make_task(config)
  # Plain text (no terminal colour codes), as the file it is written to wants.
  summary = nn.tabulate(task.model, jax.random.key(0), compute_flops=False,
                        console_kwargs={"color_system": None, "force_terminal": False})(
                            train.inputs[:1])
  return Exercise(task=task, data=(train, test), model_summary=summary,
                  seeds_at_once=resolve_seeds_at_once(config))


SPEC = ExerciseSpec(build=build, sweepable=("learning_rate",))
