"""Drop-ins for `nn.Conv` and `nn.max_pool` that XLA:CPU runs faster; the same parameters.

XLA:CPU's own convolution, forward + backward, runs 16-20x slower inside a `lax.scan` (where the
engine runs every step) than these formulations (BUILD_NOTES.md, "The reference path and the
XLA:CPU fast path"):
  'im2col':   the kernel-size-many shifted views of the input concatenated along channels, then
              one matmul; in float32 the numbers of `lax.conv`, in bfloat16 its operands rounded
              as `rabbitjax.models.layers.bfloat16_operands` rounds them (float32 accumulation
              and result).
  'winograd': float32 Winograd F(2x2, 3x3) for 3x3 kernels: 16 multiplications per 2x2 outputs
              and channel pair instead of 36, `lax.conv`'s numbers to float32 rounding
              (relative 1e-6); the MNIST CNN step 1.5x faster than im2col's.
  'winograd4': F(4x4, 3x3): 36 multiplications per 4x4 outputs instead of 144, in fewer and
              smaller tile components, with larger transforms whose coefficients (up to 8) round
              more (relative 1e-5); the MNIST CNN step 14% faster than F(2x2, 3x3)'s.
Which one, in which precision, and below how many input channels Winograd gives way to im2col
(its tile matmuls' contraction is too short there) are `rabbitjax.tuning.decide`'s choices.
"""

import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
from flax import linen as nn

FORMULATIONS = ("im2col", "winograd", "winograd4")
PRECISIONS = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


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


# Winograd F(m x m, 3x3) (Lavin & Gray, 2016): an m x m output tile is A^T [(G g G^T) * (B^T d B)] A
# for the (m + 2) x (m + 2) input tile d under it and the 3x3 kernel g. Tiles step by m, so a
# transform along one image axis reads strided slices of it and writes one array per tile row.
# Per m x m outputs and channel pair: (m + 2)^2 multiplications, against 9 m^2 for im2col.
_WINOGRAD = {  # m: (B^T, G, A^T)
    2: (((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1)),
        ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1)),
        ((1, 1, 1, 0), (0, 1, -1, -1))),
    4: (((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0), (0, -2, -1, 2, 1, 0),
         (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1)),
        ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6), (1 / 24, 1 / 12, 1 / 6),
         (1 / 24, -1 / 12, 1 / 6), (0, 0, 1)),
        ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))),
}
# Formulation -> its output tile size m.
WINOGRAD_TILES = {"winograd": 2, "winograd4": 4}
_transpose = lambda matrix: tuple(zip(*matrix))


def _combine(coefficients, parts):
  """sum_k coefficients[k] * parts[k], as adds and subtractions where the coefficient is +-1."""
  total = None
  for coefficient, part in zip(coefficients, parts):
    if coefficient == 0:
      continue
    term = part if abs(coefficient) == 1 else abs(coefficient) * part
    total = (term if coefficient > 0 else -term) if total is None else (
        total + term if coefficient > 0 else total - term)
  return total


def _to_tiles(image, matrix, axis: int, num_tiles: int, step: int) -> list:
  """Rows a of `matrix` applied to each tile of len(matrix[0]) rows along `axis`, every `step`."""
  rows = [jax.lax.slice_in_dim(image, k, k + step * (num_tiles - 1) + 1, step, axis)
          for k in range(len(matrix[0]))]
  return [_combine(coefficients, rows) for coefficients in matrix]


def _to_tiles_2d(image, matrix, tiles_h: int, tiles_w: int, step: int) -> list:
  """The len(matrix)^2 transformed tile components, each (B * tiles_h * tiles_w, channels)."""
  return [part.reshape(-1, image.shape[-1])
          for rows in _to_tiles(image, matrix, 1, tiles_h, step)
          for part in _to_tiles(rows, matrix, 2, tiles_w, step)]


def _from_tiles(parts: list, matrix, axis: int, step: int) -> jax.Array:
  """The transpose of `_to_tiles`: tile row i = sum_a matrix[i][a] parts[a], placed at
  step * t + i; rows of overlapping neighbour tiles that land on the same image row add.

  The image comes back step * ceil(len(matrix) / step) - len(matrix) rows too long, at the end.
  """
  shifts = -(-len(matrix) // step)
  tile_rows = [_combine(coefficients, parts) for coefficients in matrix]
  def placed(i):
    pads = [(0, 0)] * tile_rows[i].ndim
    pads[axis] = (i // step, shifts - 1 - i // step)
    return jnp.pad(tile_rows[i], pads)
  phases = [sum(placed(i) for i in range(phase, len(matrix), step)) for phase in range(step)]
  shape = list(phases[0].shape)
  shape[axis] *= step
  return jnp.stack(phases, axis=axis + 1).reshape(shape)


def _tile_grid(parts: list, batch: int, tiles_h: int, tiles_w: int) -> list:
  """t^2 (B * tiles, channels) components -> a t x t grid of (B, tiles_h, tiles_w, channels)."""
  size = math.isqrt(len(parts))
  return [[part.reshape(batch, tiles_h, tiles_w, -1) for part in parts[a * size:(a + 1) * size]]
          for a in range(size)]


def _winograd_output(products: list, a_t, batch: int, tiles_h: int, tiles_w: int) -> jax.Array:
  """A^T M A for every tile: the m x m output tiles, (B, m tiles_h, m tiles_w, O).

  The output positions of a tile are stacked at once; built one axis after the other (as
  `_winograd_input_grad` does, where that is faster) the MNIST CNN step took 4 ms longer.
  """
  grid = _tile_grid(products, batch, tiles_h, tiles_w)
  rows = [[_combine(coefficients, [grid[a][b] for a in range(len(grid))])
           for b in range(len(grid))] for coefficients in a_t]
  tiles = [[_combine(coefficients, row) for coefficients in a_t] for row in rows]
  image = jnp.stack([jnp.stack(row, axis=3) for row in tiles], axis=2)
  return image.reshape(batch, len(a_t) * tiles_h, len(a_t) * tiles_w, -1)


def _winograd_input_grad(parts_grad: list, b_t, step: int, batch: int, tiles_h: int,
                         tiles_w: int) -> jax.Array:
  """B dV B^T for every tile, overlapping tiles summed: (B, m tiles_h + 2, m tiles_w + 2, C)."""
  grid = _tile_grid(parts_grad, batch, tiles_h, tiles_w)
  rows = [_from_tiles(grid[a], _transpose(b_t), 2, step) for a in range(len(grid))]
  image = _from_tiles(rows, _transpose(b_t), 1, step)
  return image[:, :step * tiles_h + 2, :step * tiles_w + 2]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _winograd_valid_conv(inputs: jax.Array, kernel: jax.Array, tile: int) -> jax.Array:
  """Stride-1 VALID NHWC 3x3 conv by Winograd F(tile x tile, 3x3), float32; the output's height
  and width are multiples of `tile`.

  One matmul per tile component ((tile + 2)^2 of (B * tiles, C) @ (C, O)), kept as separate
  arrays: stacked into one batched matmul, XLA:CPU writes each component and then copies them all
  into the stack (the MNIST CNN's second conv, forward + backward: 45 against 37 ms per 128
  images). The custom backward reuses the forward's transformed input for the kernel gradient and
  the transformed output gradient for both gradients; autodiff through the transforms made the
  whole conv 20% slower than im2col.
  """
  return _winograd_fwd(inputs, kernel, tile)[0]


def _winograd_fwd(inputs, kernel, tile):
  b_t, g, a_t = _WINOGRAD[tile]
  batch, height, width, _ = inputs.shape
  tiles_h, tiles_w = (height - 2) // tile, (width - 2) // tile
  input_parts = _to_tiles_2d(inputs, b_t, tiles_h, tiles_w, tile)
  kernel_parts = jnp.einsum("ai,bj,ijco->abco", jnp.array(g), jnp.array(g), kernel,
                            precision="highest").reshape(len(g) ** 2, *kernel.shape[2:])
  products = [part @ kernel_parts[i] for i, part in enumerate(input_parts)]
  outputs = _winograd_output(products, a_t, batch, tiles_h, tiles_w)
  return outputs, (input_parts, kernel_parts)


def _winograd_bwd(tile, residuals, output_grad):
  b_t, g, a_t = _WINOGRAD[tile]
  input_parts, kernel_parts = residuals
  batch, out_h, out_w, _ = output_grad.shape
  tiles_h, tiles_w = out_h // tile, out_w // tile
  output_grad_parts = _to_tiles_2d(output_grad, _transpose(a_t), tiles_h, tiles_w, tile)
  # Both matmuls row-major, as in `_valid_conv_bwd`, with barriers against XLA folding transposes.
  kernel_parts_t = jax.lax.optimization_barrier(jnp.swapaxes(kernel_parts, 1, 2))
  kernel_parts_grad, input_parts_grad = [], []
  for i, part_grad in enumerate(output_grad_parts):
    kernel_parts_grad.append(jax.lax.optimization_barrier(part_grad.T @ input_parts[i]).T)
    input_parts_grad.append(part_grad @ kernel_parts_t[i])
  inputs_grad = _winograd_input_grad(input_parts_grad, b_t, tile, batch, tiles_h, tiles_w)
  kernel_grad = jnp.einsum("ai,bj,abco->ijco", jnp.array(g), jnp.array(g),
                           jnp.stack(kernel_parts_grad).reshape(len(g), len(g),
                                                                *kernel_parts.shape[1:]),
                           precision="highest")
  return inputs_grad, kernel_grad


_winograd_valid_conv.defvjp(_winograd_fwd, _winograd_bwd)


def winograd_conv(inputs: jax.Array, kernel: jax.Array, tile: int = 2) -> jax.Array:
  """Stride-1 VALID NHWC 3x3 float32 conv by Winograd F(tile x tile, 3x3); an output whose size
  is not a multiple of `tile` is computed on zero-padded inputs and cropped."""
  extra_h, extra_w = (-(inputs.shape[1] - 2)) % tile, (-(inputs.shape[2] - 2)) % tile
  padded = jnp.pad(inputs, [(0, 0), (0, extra_h), (0, extra_w), (0, 0)])
  outputs = _winograd_valid_conv(padded, kernel, tile)
  return outputs[:, :outputs.shape[1] - extra_h, :outputs.shape[2] - extra_w]


def _same_padding(inputs: jax.Array, kernel_h: int, kernel_w: int) -> jax.Array:
  pad_h, pad_w = kernel_h - 1, kernel_w - 1
  return jnp.pad(inputs, [(0, 0), (pad_h // 2, pad_h - pad_h // 2),
                          (pad_w // 2, pad_w - pad_w // 2), (0, 0)])


def im2col_conv(inputs: jax.Array, kernel: jax.Array, padding: str,
                dtype=jnp.float32) -> jax.Array:
  """Stride-1 NHWC convolution as shifted views + one matmul in `dtype` (float32 result)."""
  if padding == "SAME":
    inputs = _same_padding(inputs, *kernel.shape[:2])
  return _valid_conv(inputs, kernel, dtype)


class Conv(nn.Module):
  """`nn.Conv(features, kernel_size, padding=..., kernel_init=...)` (stride 1, NHWC, VALID or
  SAME, zero bias) computed by `formulation` with matmul operands in `precision`."""

  features: int
  kernel_size: tuple = (3, 3)
  padding: str = "VALID"
  kernel_init: Callable = nn.initializers.lecun_normal()
  formulation: str = "im2col"
  precision: str = "float32"
  # Layers with fewer input channels than this use im2col (tuning's choice, with its reason).
  winograd_min_inputs: int = 0

  @nn.compact
  def __call__(self, inputs: jax.Array) -> jax.Array:
    if self.formulation not in FORMULATIONS:
      raise ValueError(f"conv formulation {self.formulation!r} is not one of "
                       f"{', '.join(FORMULATIONS)}")
    tile = WINOGRAD_TILES.get(self.formulation)
    if tile and self.precision != "float32":
      raise ValueError("the Winograd convolution computes in float32 only")
    kernel = self.param("kernel", self.kernel_init,
                        (*self.kernel_size, inputs.shape[-1], self.features))
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
    if (tile and tuple(self.kernel_size) == (3, 3)
        and inputs.shape[-1] >= self.winograd_min_inputs):
      padded = _same_padding(inputs, 3, 3) if self.padding == "SAME" else inputs
      outputs = winograd_conv(padded.astype(jnp.float32), kernel.astype(jnp.float32), tile)
    else:
      outputs = im2col_conv(inputs, kernel, self.padding, PRECISIONS[self.precision])
    return outputs + bias


def max_pool_2x2(inputs: jax.Array) -> jax.Array:
  """`rabbitjax.models.layers.max_pool_2x2` (stride 2, VALID, NHWC) as a reshape and a max.

  On XLA:CPU this is faster than `reduce_window` forwards, and its gradient is elementwise
  rather than a select-and-scatter: 12-19% off a whole MNIST CNN training step.
  """
  batch, height, width, features = inputs.shape
  cropped = inputs[:, :height // 2 * 2, :width // 2 * 2]
  return cropped.reshape(batch, height // 2, 2, width // 2, 2, features).max(axis=(2, 4))
