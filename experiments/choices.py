r"""Each fast-path drop-in (rabbitjax.xla_cpu) against the reference it replaces, on this jaxlib.

    python -m experiments.choices --repeats=7 --out=runs/choices.json

Run it once per jaxlib (each virtual environment in turn, interleaved, same sitting) to see
which choices still pay. Each case times a jitted function of the shapes the course uses (the
MNIST CNN's layers and step, a 40-run regression sweep), medians of
`repeats` calls after a warm-up, in milliseconds. The whole-step choices (Winograd or im2col,
micro-batch, seeds in turn) are `experiments.benchmark --suite=cnn_step`: one layer alone
misleads there (Winograd's conv alone measured 0.5x im2col's, its whole MNIST step 1.5x).
"""

import functools
import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import jaxlib
from absl import app, flags

from rabbitjax import tuning, xla_cpu
from rabbitjax.data import binary_addition
from rabbitjax.models import BinaryAdder, MnistCNN, SimpleRNN, reference_layers
from rabbitjax.models.layers import max_pool_2x2
from rabbitjax.models.rnn import rnn_states
from rabbitjax.train.engine import weighted_sum
from rabbitjax.xla_cpu.dropout import keep_mask

# The MNIST CNN as the fast path builds it on CPU (Winograd, byte masks, reshape pool).
FAST_LAYERS = tuning.decide(has_conv=True, backend="cpu").layers

FLAGS = flags.FLAGS
flags.DEFINE_integer("repeats", 7, "Timed calls per case (medians are reported).")
flags.DEFINE_string("out", None, "Optional JSON file for the figures.")


def _timed(fn, *args) -> float:
  """Median milliseconds of `fn(*args)` (jitted, compiled first) over FLAGS.repeats calls."""
  compiled = jax.jit(fn).lower(*args).compile()
  jax.block_until_ready(compiled(*args))
  times = []
  for _ in range(FLAGS.repeats):
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    times.append(1e3 * (time.perf_counter() - start))
  return statistics.median(times)


def _dropout_pair():
  key = jax.random.key(0)
  shape = (128, 12, 12, 64)  # the MNIST CNN's dropout 0.25 on one training batch
  byte = lambda key: keep_mask(key, 0.75, shape)
  plain = lambda key: jax.random.bernoulli(key, 0.75, shape)
  return "dropout mask 128x12x12x64: one byte per element vs jax.random.bernoulli", byte, plain, (key,)


def _weighted_sums_pair():
  values = jax.random.normal(jax.random.key(0), (40, 200, 32))  # 40 runs, 200 batches of 32
  weights = jnp.ones((200, 32))
  def scanned(reduce):
    def per_run(run_values):
      def step(total, xs):
        value, weight = xs
        return total + reduce(value, weight), None
      return jax.lax.scan(step, 0.0, (run_values, weights))[0]
    return lambda values: jax.vmap(per_run)(values)
  dot = scanned(xla_cpu.engine.weighted_sum)
  plain = scanned(weighted_sum)
  return "weighted sums, 40 runs x 200 batches: dot vs sum(value * weight)", dot, plain, (values,)


def _cnn_step(layers, batch: int = 128):
  model = MnistCNN(layers=layers)
  images = jax.random.uniform(jax.random.key(1), (batch, 28, 28, 1))
  labels = jax.random.randint(jax.random.key(2), (batch,), 0, 10)
  params = model.init(jax.random.key(0), images[:1])["params"]

  def loss(params, images, labels, key):
    logits = model.apply({"params": params}, images, train=True, rngs={"dropout": key})
    return jnp.mean(-jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))
  return params, images, labels, jax.grad(loss)


def _squeeze_pair():
  params, images, labels, grad = _cnn_step(FAST_LAYERS)
  key = jax.random.key(3)
  one_run = lambda p, x, y: grad(p, x, y, key)
  size_one = lambda vmap: lambda p, x, y: jax.tree.map(lambda g: g[0], vmap(one_run, (0, 0, 0))(
      *jax.tree.map(lambda a: a[None], (p, x, y))))
  direct, plain = size_one(xla_cpu.engine.vmap), size_one(jax.vmap)
  return ("MNIST CNN gradient, batch 128, one run: squeezed vs vmapped over a size-1 axis",
          direct, plain, (params, images, labels))


def _pool_pair():
  inputs = jax.random.normal(jax.random.key(0), (128, 24, 24, 64))
  def with_grad(pool):
    return lambda x: jax.grad(lambda x: jnp.sum(jnp.sin(pool(x))))(x)
  reshape = with_grad(xla_cpu.max_pool_2x2)
  plain = with_grad(max_pool_2x2)
  return "max-pool 2x2 + gradient, 128x24x24x64: reshape vs nn.max_pool", reshape, plain, (inputs,)


def _conv_pair(precision: str, batch: int, steps: int = 4):
  """The MNIST CNN's second conv (26x26x32 -> 24x24x64), forward and gradients, inside a scan
  of `steps` batches (as in the epoch's scan): im2col against nn.Conv."""
  inputs = jax.random.normal(jax.random.key(0), (steps, batch, 26, 26, 32))
  fast = functools.partial(xla_cpu.Conv, formulation="im2col", precision=precision)
  plain = reference_layers(precision).conv
  def scanned(conv):
    layer = conv(64, (3, 3), padding="VALID")
    params = layer.init(jax.random.key(1), inputs[0, :1])
    def step(params, x):
      grads = jax.grad(lambda p, x: jnp.sum(jnp.sin(layer.apply(p, x))), argnums=(0, 1))(params, x)
      return jax.tree.map(lambda p, g: p - 1e-3 * g, params, grads[0]), jnp.sum(grads[1])
    return lambda x: jax.lax.scan(step, params, x)[1]
  return (f"conv 32->64 on 26x26, fwd+bwd, {steps} x batch {batch} in a scan, {precision}: "
          "im2col vs nn.Conv",
          scanned(fast), scanned(plain), (inputs,))


def _eval_pair(fast_batch: int, plain_batch: int, size: int = 2048):
  model = MnistCNN(layers=FAST_LAYERS)
  images = jax.random.uniform(jax.random.key(1), (size, 28, 28, 1))
  params = model.init(jax.random.key(0), images[:1])["params"]
  def in_batches(batch):
    def evaluate(images):
      batches = images.reshape(size // batch, batch, 28, 28, 1)
      return jax.lax.map(lambda x: jnp.sum(model.apply({"params": params}, x)), batches)
    return evaluate
  return (f"MNIST CNN evaluation of {size} images: batches of {fast_batch} vs {plain_batch}",
          in_batches(fast_batch), in_batches(plain_batch), (images,))


def _rnn_pair(num_seeds: int, steps: int = 500):
  """The course's base RNN (16 relu units, batches of 2, SGD 0.1): `steps` training steps in a
  scan, `num_seeds` runs vmapped, with the drop-in's states and gradient against autodiff's."""
  data = binary_addition(jax.random.key(0), 2 * steps)
  inputs = data.inputs.reshape(steps, 2, 8, 2)
  targets = data.targets.reshape(steps, 2, 8, 1)
  def trained(recurrence):
    model = BinaryAdder(SimpleRNN(units=16, activation="relu", recurrence=recurrence))
    def one_run(key):
      params = model.init(key, inputs[0])["params"]
      def step(params, batch):
        loss = lambda p: jnp.mean((model.apply({"params": p}, batch[0]) - batch[1]) ** 2)
        value, grads = jax.value_and_grad(loss)(params)
        return jax.tree.map(lambda p, g: p - 0.1 * g, params, grads), value
      return jax.lax.scan(step, params, (inputs, targets))[1]
    if num_seeds == 1:
      return lambda keys: one_run(keys[0])
    return jax.vmap(one_run)
  return (f"RNN base, {steps} steps of batch 2, {num_seeds} seed(s): row multiply-adds vs "
          "scan + autodiff", trained(xla_cpu.rnn.rnn_states), trained(rnn_states),
          (jax.random.split(jax.random.key(1), num_seeds),))


PAIRS = (_dropout_pair, _weighted_sums_pair, _squeeze_pair, _pool_pair,
         lambda: _rnn_pair(1), lambda: _rnn_pair(8),
         lambda: _conv_pair("float32", 16), lambda: _conv_pair("bfloat16", 16),
         lambda: _eval_pair(16, 128), lambda: _eval_pair(16, 512))


def main(argv):
  del argv
  rows = []
  print(f"jax {jax.__version__} / jaxlib {jaxlib.__version__}, {tuning.cpu_facts()[0]}, "
        f"{os.cpu_count()} cores, XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
  print("| choice | fast ms | plain ms | plain / fast |\n|---|---|---|---|")
  for make in PAIRS:
    name, fast, plain, args = make()
    fast_ms, plain_ms = _timed(fast, *args), _timed(plain, *args)
    rows.append({"choice": name, "fast_ms": fast_ms, "plain_ms": plain_ms})
    print(f"| {name} | {fast_ms:.2f} | {plain_ms:.2f} | {plain_ms / fast_ms:.2f} |", flush=True)
  if FLAGS.out:
    with open(FLAGS.out, "w") as f:
      json.dump({"jax": jax.__version__, "jaxlib": jaxlib.__version__, "cpu": tuning.cpu_facts()[0],
                 "platform": platform.platform(), "xla_flags": os.environ.get("XLA_FLAGS", ""),
                 "rows": rows}, f, indent=1)


if __name__ == "__main__":
  app.run(main)
