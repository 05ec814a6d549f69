"""A 2-D convolution with a choice of formulation, because XLA:CPU's native one is slow.

Measured on the 2-core CPU (BUILD_NOTES.md, "convolution on CPU"): XLA:CPU's convolution,
forward + backward, runs 24x slower inside a `lax.scan` (where the engine runs every step) than
outside one, and even outside a loop it is 3x slower than the im2col formulation here: the
kernel-size-many shifted views of the input concatenated along channels, then one matmul.

Implementations (`rabbitjax.tuning` chooses one from the backend and the config's precision; the
model just takes it):
  'lax':         `lax.conv_general_dilated` (GPUs and TPUs).
  'lax_bf16':    the same with bfloat16 operands, float32 accumulation and result.
  'im2col':      shifted views + one float32 matmul; the same numbers as 'lax'.
  'im2col_bf16': the same with the matmul's operands in bfloat16, accumulated and returned in
                 float32 (what JAX's default precision does for float32 matmuls on TPU). On a CPU
                 with AMX-BF16 the conv matmuls run 2-5x faster than in float32 and the whole
                 CIFAR-10 CNN step ~1.5x; on one with AVX512-BF16 but no AMX, 1.6x slower.
"""

import functools

import jax
import jax.numpy as jnp
from flax import linen as nn

from rabbitjax.models.initializers import KERNEL_INITS

IMPLEMENTATIONS = ("lax", "lax_bf16", "im2col", "im2col_bf16")


def _shifted_views(inputs: jax.Array, kernel_h: int, kernel_w: int, dtype) -> jax.Array:
  """The (B, H', W', kernel_h * kernel_w * C) patches of a VALID conv, in `dtype`.

  Channel order (row, column, input feature) matches kernel.reshape(-1, out_features). Each
  view is cast on its own: casting the input once before slicing was never faster (40% slower
  in the second round of measurements, within noise in the fourth).
  """
  out_h, out_w = inputs.shape[1] - kernel_h + 1, inputs.shape[2] - kernel_w + 1
  views = [inputs[:, i:i + out_h, j:j + out_w, :].astype(dtype)
           for i in range(kernel_h) for j in range(kernel_w)]
  if dtype == jnp.float32:
    return jnp.concatenate(views, axis=-1)
  # Concatenated as they are, XLA moves the cast after the concatenate and writes the patches in
  # float32 first; as same-width integers it cannot (CIFAR-10 step 26 -> 22 ms, evaluation -30%).
  bits = jnp.uint16 if jnp.dtype(dtype).itemsize == 2 else jnp.uint32
  views = [jax.lax.bitcast_convert_type(view, bits) for view in views]
  return jax.lax.bitcast_convert_type(jnp.concatenate(views, axis=-1), dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _valid_conv(inputs: jax.Array, kernel: jax.Array, dtype) -> jax.Array:
  """Stride-1 VALID NHWC conv: patches @ kernel in `dtype`, accumulated and returned in float32.

  The custom backward (a) keeps all three matmuls in the one layout XLA:CPU's fast matmul
  library takes (row-major operands, no transposed operand): left to itself, XLA folds the
  transposes of the weight gradient into the dot, which then falls back to a 4-7x slower generic
  kernel; and (b) sums the patches' gradient back onto the input (col2im) in float32: rounded to
  bfloat16 first, as autodiff through a bfloat16 cast does, that sum ran 10x slower.
  """
  return _valid_conv_fwd(inputs, kernel, dtype)[0]


def _valid_conv_fwd(inputs, kernel, dtype):
  kernel_h, kernel_w, _, out_features = kernel.shape
  patches = _shifted_views(inputs, kernel_h, kernel_w, dtype)
  outputs = jnp.matmul(patches, kernel.reshape(-1, out_features).astype(dtype),
                       preferred_element_type=jnp.float32)
  # The empty array carries the inputs' dtype to the backward pass (their gradient's dtype).
  return outputs, (patches, kernel, jnp.zeros((0,), inputs.dtype))


def _valid_conv_bwd(dtype, residuals, output_grad):
  patches, kernel, inputs_dtype = residuals
  kernel_h, kernel_w, in_features, out_features = kernel.shape
  batch, out_h, out_w, num_inputs = patches.shape
  output_grad = output_grad.astype(dtype)
  # (B, H', W', N) -> (N, B * H' * W') through a batched transpose, which XLA does not fold
  # into the dot.
  grad_t = jnp.swapaxes(output_grad.reshape(batch, -1, out_features), 1, 2)
  grad_t = grad_t.transpose(1, 0, 2).reshape(out_features, -1)
  kernel_grad_t = jnp.matmul(grad_t, patches.reshape(-1, num_inputs),
                             preferred_element_type=jnp.float32)
  # The barriers stop XLA rewriting transpose(dot) as a dot of transposed operands.
  kernel_grad = jax.lax.optimization_barrier(kernel_grad_t).T.reshape(kernel.shape)
  weights_t = jax.lax.optimization_barrier(kernel.reshape(-1, out_features).T.astype(dtype))
  patches_grad = jnp.matmul(output_grad, weights_t, preferred_element_type=jnp.float32)
  # col2im: each kernel offset's slice of the patches' gradient, added back where it was read.
  patches_grad = patches_grad.reshape(batch, out_h, out_w, kernel_h * kernel_w, in_features)
  inputs_grad = sum(
      jnp.pad(patches_grad[:, :, :, i * kernel_w + j],
              [(0, 0), (i, kernel_h - 1 - i), (j, kernel_w - 1 - j), (0, 0)])
      for i in range(kernel_h) for j in range(kernel_w))
  return inputs_grad.astype(inputs_dtype.dtype), kernel_grad.astype(kernel.dtype)


_valid_conv.defvjp(_valid_conv_fwd, _valid_conv_bwd)


def im2col_conv(inputs: jax.Array, kernel: jax.Array, padding: str,
                dtype=jnp.float32) -> jax.Array:
  """Stride-1 NHWC convolution as shifted views + one matmul in `dtype` (float32 result)."""
  kernel_h, kernel_w = kernel.shape[:2]
  if padding == "SAME":
    pad_h, pad_w = kernel_h - 1, kernel_w - 1
    inputs = jnp.pad(inputs, [(0, 0), (pad_h // 2, pad_h - pad_h // 2),
                              (pad_w // 2, pad_w - pad_w // 2), (0, 0)])
  return _valid_conv(inputs, kernel, dtype)


class Conv(nn.Module):
  """nn.Conv's parameters and numbers (stride 1, NHWC, VALID or SAME), formulation selectable."""

  features: int
  kernel_size: tuple = (3, 3)
  padding: str = "VALID"
  impl: str = "lax"
  kernel_init: str = "glorot_uniform"  # a name from models/initializers.py

  @nn.compact
  def __call__(self, inputs: jax.Array) -> jax.Array:
    if self.impl not in IMPLEMENTATIONS:
      raise ValueError(f"conv impl {self.impl!r} is not one of {', '.join(IMPLEMENTATIONS)}")
    kernel = self.param("kernel", KERNEL_INITS[self.kernel_init],
                        (*self.kernel_size, inputs.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    if self.impl in ("lax", "lax_bf16"):
      dtype = jnp.bfloat16 if self.impl == "lax_bf16" else inputs.dtype
      outputs = jax.lax.conv_general_dilated(inputs.astype(dtype), kernel.astype(dtype), (1, 1),
                                             self.padding, preferred_element_type=jnp.float32,
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
    else:
      dtype = jnp.bfloat16 if self.impl == "im2col_bf16" else jnp.float32
      outputs = im2col_conv(inputs, kernel, self.padding, dtype)
    return outputs + bias


def max_pool_2x2(inputs: jax.Array) -> jax.Array:
  """2x2 max-pool, stride 2, VALID, NHWC, as a reshape and a max (nn.max_pool's numbers).

  On XLA:CPU this is faster than `reduce_window` forwards, and its gradient is elementwise
  rather than a select-and-scatter: 12-19% off a whole MNIST CNN training step.
  """
  batch, height, width, features = inputs.shape
  cropped = inputs[:, :height // 2 * 2, :width // 2 * 2]
  return cropped.reshape(batch, height // 2, 2, width // 2, 2, features).max(axis=(2, 4))
