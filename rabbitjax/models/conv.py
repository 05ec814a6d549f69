"""A 2-D convolution with a choice of formulation, because XLA:CPU's native one is slow.

Measured on the 2-core CPU (BUILD_NOTES.md, "convolution on CPU"): XLA:CPU's convolution,
forward + backward, runs 24x slower inside a `lax.scan` (where the engine runs every step) than
outside one, and even outside a loop it is 3x slower than the im2col formulation here: the
kernel-size-many shifted views of the input concatenated along channels, then one matmul.
GPUs and TPUs keep `lax.conv_general_dilated`.
"""

import jax
import jax.numpy as jnp
from flax import linen as nn

IMPLEMENTATIONS = ("auto", "lax", "im2col")


def resolve_impl(impl: str) -> str:
  """'auto' is im2col on CPU and lax.conv on every other backend."""
  if impl not in IMPLEMENTATIONS:
    raise ValueError(f"conv impl {impl!r} is not known; choose one of {', '.join(IMPLEMENTATIONS)}")
  if impl == "auto":
    return "im2col" if jax.default_backend() == "cpu" else "lax"
  return impl


def im2col_conv(inputs: jax.Array, kernel: jax.Array, padding: str) -> jax.Array:
  """Stride-1 NHWC convolution as shifted views + one matmul (same numbers as lax.conv)."""
  kernel_h, kernel_w, in_features, out_features = kernel.shape
  if padding == "SAME":
    pad_h, pad_w = kernel_h - 1, kernel_w - 1
    inputs = jnp.pad(inputs, [(0, 0), (pad_h // 2, pad_h - pad_h // 2),
                              (pad_w // 2, pad_w - pad_w // 2), (0, 0)])
  out_h, out_w = inputs.shape[1] - kernel_h + 1, inputs.shape[2] - kernel_w + 1
  # Channel order (row, column, input feature) matches kernel.reshape(-1, out_features).
  patches = jnp.concatenate([inputs[:, i:i + out_h, j:j + out_w, :]
                             for i in range(kernel_h) for j in range(kernel_w)], axis=-1)
  return patches @ kernel.reshape(kernel_h * kernel_w * in_features, out_features)


class Conv(nn.Module):
  """nn.Conv's parameters and numbers (stride 1, NHWC, VALID or SAME), formulation selectable."""

  features: int
  kernel_size: tuple = (3, 3)
  padding: str = "VALID"
  impl: str = "auto"

  @nn.compact
  def __call__(self, inputs: jax.Array) -> jax.Array:
    kernel = self.param("kernel", nn.initializers.lecun_normal(),
                        (*self.kernel_size, inputs.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    if resolve_impl(self.impl) == "im2col":
      outputs = im2col_conv(inputs, kernel, self.padding)
    else:
      outputs = jax.lax.conv_general_dilated(inputs, kernel, (1, 1), self.padding,
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return outputs + bias
