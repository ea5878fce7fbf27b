"""im2col and col2im: convolution as one matrix product. See chapter 5.

A convolution with weight (O, C, kh, kw) slides a C x kh x kw window over the padded
input. Unfold every window into a column and the layer becomes a matrix product:

    cols[n, (c, i, j), (h', w')] = xp[n, c, h' * s_h + i * d_h, w' * s_w + j * d_w]
    out[n] = weight.reshape(O, C*kh*kw) @ cols[n]                  (im2col)

and the gradient with respect to the input folds the columns back, adding the
kh * kw shifted copies of each pixel's contributions (col2im). The windows are a
strided *view* of the padded input (no data copied), so im2col is one copy of that
view into a contiguous array, and col2im is a loop over the kh * kw kernel offsets,
each adding one strided slice.

The convolution kernels in ``conv.py`` and ``conv_transpose.py`` use the two drivers
at the bottom, ``conv_core`` (forward) and ``conv_grads`` (backward), which work
through the batch in blocks of a few images so that the column matrix stays in the
CPU cache (a 64-image im2col of 32 x 32 images with 27 rows is 7 MB, more than the
cache holds); a small batch is one block. A loop over blocks of the batch is cache
blocking: each block is still processed by whole-array operations. At stride 1 they
lay each padded image's rows end to end ("flat rows", see the comment above
``block_size``), and ``conv_grads`` computes the input gradient as a forward convolution
with the rotated kernel when that is cheaper than col2im. ``im2col`` and ``col2im``
below keep PyTorch's layout and the plain strided view: they are the formula.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._checks import as_float_array, fits_in_memory, int_pair, nan_in_nan_out, nonempty, positive_int

__all__ = [
    "BLOCK_BYTES", "conv_output_size", "resolve_padding", "padded_output_size", "pad2d",
    "window_view", "im2col", "col2im", "block_size", "conv_core", "conv_grads", "ConvCache",
]

# Bytes of column matrix per block: large enough for long BLAS calls, small enough for the
# CPU's L2 cache. Measured on the training steps of W7, W8 and W12 (benchmarks/): 1 and
# 2 MiB within 5% of each other, 2 MiB ahead; 256 KiB 10-25% slower.
BLOCK_BYTES = 2 << 20


def conv_output_size(input_size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """Length of a convolution's (or pooling's) output along one axis.

        n_out = floor((n + 2p - d (k - 1) - 1) / s) + 1

    n: input size, k: kernel size, s: stride, p: padding on each side, d: dilation
    (d (k - 1) + 1 is the kernel's extent). Equals ``torch.nn.Conv2d``'s formula. See chapter 5.
    """
    func = "conv_output_size"
    n = positive_int(input_size, "input_size", func)
    k = positive_int(kernel_size, "kernel_size", func)
    s = positive_int(stride, "stride", func)
    p = positive_int(padding, "padding", func, minimum=0)
    d = positive_int(dilation, "dilation", func)
    extent = d * (k - 1) + 1
    if n + 2 * p < extent:
        raise ValueError(
            f"{func}: kernel extent {extent} (kernel_size={k}, dilation={d}) is larger than "
            f"the padded input {n + 2 * p} (input_size={n}, padding={p})"
        )
    return (n + 2 * p - extent) // s + 1


def resolve_padding(padding, kernel_size, stride, dilation, func: str):
    """``padding`` (int, pair, "valid", "same" or "full") -> ((top, bottom), (left, right)).

    "same" keeps the size at stride 1; when the kernel extent is even the extra row and
    column go to the bottom and right, as in PyTorch. "full" pads d (k - 1) on every side,
    so every partial overlap of kernel and input produces an output.
    """
    if isinstance(padding, str):
        extents = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(
                    f"{func}: padding='same' needs stride 1 (as in PyTorch), got stride={stride}"
                )
            return tuple((e // 2, e - e // 2) for e in extents)
        if padding == "full":
            return tuple((e, e) for e in extents)
        raise ValueError(
            f"{func}: padding must be an int, a pair of ints, 'valid', 'same' or 'full', "
            f"got {padding!r}"
        )
    ph, pw = int_pair(padding, "padding", func, minimum=0)
    return (ph, ph), (pw, pw)


def padded_output_size(x_shape, kernel_size, pads, stride, dilation, func: str):
    """(H', W') of a convolution of an (N, C, H, W) input; ValueError if the kernel does
    not fit in the padded input."""
    sizes = []
    for axis, n, k, (lo, hi), s, d in zip(("height", "width"), x_shape[2:], kernel_size,
                                          pads, stride, dilation):
        extent = d * (k - 1) + 1
        if n + lo + hi < extent:
            raise ValueError(
                f"{func}: kernel extent {extent} (kernel_size={k}, dilation={d}) is larger than "
                f"the padded input {axis} {n + lo + hi} ({n} plus padding {lo}+{hi}; "
                f"x.shape={tuple(x_shape)})"
            )
        sizes.append((n + lo + hi - extent) // s + 1)
    # before anything is allocated: a huge padding would otherwise ask NumPy for terabytes
    hint = (f"padding={tuple(pads)}, stride={tuple(stride)}, dilation={tuple(dilation)}, "
            f"kernel_size={tuple(kernel_size)}, x.shape={tuple(x_shape)}")
    n, c = x_shape[:2]
    padded = tuple(int(size) + lo + hi for size, (lo, hi) in zip(x_shape[2:], pads))
    fits_in_memory((n, c, *padded), "the padded input", func, hint)
    fits_in_memory((c * int(np.prod(kernel_size)), sizes[0] * sizes[1]),
                   "the columns of one image", func, hint)
    fits_in_memory((n, *sizes), "one channel of the output", func, hint)
    return tuple(sizes)


def pad2d(x, pads, value=0.0):
    """Pad the last two axes of ``x`` by ((top, bottom), (left, right)) with ``value``."""
    (pt, pb), (pl, pr) = pads
    if pt == pb == pl == pr == 0:
        return x
    n, c, h, w = x.shape
    xp = np.full((n, c, h + pt + pb, w + pl + pr), value, dtype=x.dtype)  # (N, C, Hp, Wp)
    xp[:, :, pt:pt + h, pl:pl + w] = x
    return xp


def window_view(xp, kernel_size, out_size, stride, dilation):
    """All kernel windows of a padded input as a read-only strided view, no copy.

    view[n, c, i, j, h', w'] = xp[n, c, h' * s_h + i * d_h, w' * s_w + j * d_w]
    Returns shape (N, C, kh, kw, H', W').
    """
    sn, sc, sh, sw = xp.strides
    shape = xp.shape[:2] + tuple(kernel_size) + tuple(out_size)
    strides = (sn, sc, dilation[0] * sh, dilation[1] * sw, stride[0] * sh, stride[1] * sw)
    return as_strided(xp, shape, strides, writeable=False)  # (N, C, kh, kw, H', W')


@nan_in_nan_out
def im2col(x, kernel_size, *, stride=1, padding=0, dilation=1):
    """Unfold every window into a column, as ``torch.nn.functional.unfold``.

    cols[n, (c, i, j), (h', w')] = xp[n, c, h' s_h + i d_h, w' s_w + j d_w]
    x: (N, C, H, W) -> cols (N, C*kh*kw, H'*W'); padding as in ``conv2d_forward``.
    Then conv2d(x, weight) = weight.reshape(O, C*kh*kw) @ cols, one image at a time.
    See chapter 5.
    """
    func = "im2col"
    x = as_float_array(x, "x", func, ndim=4, layout="(N, C, H, W)")
    nonempty(x, (1, 2, 3), "x", func, "number of channels, height and width")  # as torch's unfold
    kernel_size, stride, pads, dilation, out_size = _fold_args(x.shape, kernel_size, stride,
                                                               padding, dilation, func)
    view = window_view(pad2d(x, pads), kernel_size, out_size, stride, dilation)
    # reshape of a non-contiguous view copies, in the view's (row-major) order
    rows = x.shape[1] * kernel_size[0] * kernel_size[1]
    return view.reshape(x.shape[0], rows, out_size[0] * out_size[1])  # (N, C*kh*kw, H'*W')


@nan_in_nan_out
def col2im(cols, output_size, kernel_size, *, stride=1, padding=0, dilation=1):
    """Fold columns back into images, adding overlaps, as ``torch.nn.functional.fold``.

    The adjoint of ``im2col``: x[n, c, y, x] is the sum of every column entry that
    ``im2col`` would copy from (y, x). cols: (N, C*kh*kw, H'*W'), output_size: (H, W)
    -> (N, C, H, W). One strided slice-add per kernel offset (kh * kw of them). See chapter 5.
    """
    func = "col2im"
    cols = as_float_array(cols, "cols", func, ndim=3, layout="(N, C*kh*kw, H'*W')")
    h, w = int_pair(output_size, "output_size", func)
    kh, kw = int_pair(kernel_size, "kernel_size", func)
    if cols.shape[1] % (kh * kw) or cols.shape[1] == 0:
        raise ValueError(f"{func}: cols.shape[1] = {cols.shape[1]} must be a nonzero multiple of "
                         f"kh * kw = {kh * kw} (kernel_size={kernel_size}, cols.shape={cols.shape})")
    x_shape = (cols.shape[0], cols.shape[1] // (kh * kw), h, w)
    fits_in_memory(x_shape, "the output", func, f"output_size={output_size}")
    kernel_size, stride, pads, dilation, out_size = _fold_args(x_shape, kernel_size, stride,
                                                               padding, dilation, func)
    if cols.shape[2] != out_size[0] * out_size[1]:
        raise ValueError(f"{func}: cols.shape[2] must be H' * W' = {out_size[0]} * {out_size[1]} "
                         f"for output_size={(h, w)}, kernel_size={kernel_size}, stride={stride}, "
                         f"padding={padding!r}, dilation={dilation}; got cols.shape={cols.shape}")
    x = np.empty(x_shape, dtype=cols.dtype)
    _fold(cols, x, _padded_scratch(len(x), x_shape, pads, cols.dtype), pads, kernel_size,
          out_size, stride, dilation)
    return x


def _fold_args(x_shape, kernel_size, stride, padding, dilation, func):
    kernel_size = int_pair(kernel_size, "kernel_size", func)
    stride = int_pair(stride, "stride", func)
    dilation = int_pair(dilation, "dilation", func)
    pads = resolve_padding(padding, kernel_size, stride, dilation, func)
    out_size = padded_output_size(x_shape, kernel_size, pads, stride, dilation, func)
    return kernel_size, stride, pads, dilation, out_size


# -- the drivers used by the convolution kernels ----------------------------------------
class ConvCache(NamedTuple):
    """What a convolution's backward pass needs (conv2d, conv1d, conv_transpose2d).

    x and weight are kept in the working dtype (their common dtype); the dtypes they came
    in are kept apart, so that each gradient is returned in the dtype of what it is the
    gradient of.
    """
    x: np.ndarray  # the input, (N, C, H, W) (conv1d: (N, C, 1, L))
    weight: np.ndarray  # (O, C, kh, kw) (conv_transpose2d: (C_in, C_out, kh, kw))
    pads: tuple  # ((top, bottom), (left, right))
    stride: tuple  # (s_h, s_w)
    dilation: tuple  # (d_h, d_w)
    out_shape: tuple  # the forward output's shape, which dout must have
    x_dtype: np.dtype
    weight_dtype: np.dtype
    bias_dtype: np.dtype | None  # None: the forward had no bias


# How the two drivers below are fast, and why (each step measured in benchmarks/README.md):
#
# 1. Blocks. They work through the batch in blocks of a few images (about BLOCK_BYTES of
#    columns), reusing one padded-input buffer and one column buffer, so that the columns
#    of a block are still in the cache when the matrix product reads them.
# 2. Flat rows (stride 1). Laid end to end, the rows of a padded image (Hp x Wp) make one
#    long row, in which the kernel offset (i, j) is a shift by i d_h Wp + j d_w. Row
#    (c, i, j) of the columns is then ONE contiguous slice of H' Wp pixels of that long
#    row, instead of H' slices of W' pixels: long copies are fast copies, in im2col and in
#    col2im alike. The price: each output row gets Wp - W' "wrap-around" outputs (windows
#    that hang over the right edge into the next row), computed and dropped; their
#    gradient is set to zero, so they add nothing in the backward pass. Strides other
#    than 1 use the strided window view of ``window_view``.
def block_size(n: int, bytes_per_image: int) -> int:
    """Images per block: about ``BLOCK_BYTES`` of columns, at least one image."""
    return max(1, min(n, BLOCK_BYTES // max(1, bytes_per_image)))


def _blocks(n, step):
    return [slice(start, min(n, start + step)) for start in range(0, n, step)]


class _Geometry(NamedTuple):
    """Where the windows of one convolution lie, worked out once per call."""
    channels: int
    in_size: tuple  # (H, W)
    padded: tuple  # (Hp, Wp)
    kernel_size: tuple
    pads: tuple
    stride: tuple
    dilation: tuple
    out_size: tuple  # (H', W')
    flat: bool  # stride 1: windows are shifts along the flattened padded image
    length: int  # columns per image: H' Wp when flat, else H' W'


def _geometry(x_shape, kernel_size, pads, stride, dilation, out_size, flat=True):
    """``flat=False``: the strided window view even at stride 1."""
    (pt, pb), (pl, pr) = pads
    padded = (x_shape[2] + pt + pb, x_shape[3] + pl + pr)
    flat = flat and tuple(stride) == (1, 1)
    length = out_size[0] * (padded[1] if flat else out_size[1])
    return _Geometry(x_shape[1], tuple(x_shape[2:]), padded, tuple(kernel_size), pads,
                     tuple(stride), tuple(dilation), tuple(out_size), flat, length)


def _input_buffer(geo, step, dtype):
    """A zeroed buffer for ``step`` padded images: ``(buffer, padded, interior)``.

    ``padded`` is its (B, C, Hp, Wp) view and ``interior`` the part inside the padding,
    where each block's images are written (the zero border is written once). Flat, each
    channel is one long row of Hp Wp pixels plus d_w (kw - 1) zeros: the overhang of the
    last wrap-around window.
    """
    (pt, _), (pl, _) = geo.pads
    (h, w), (hp, wp) = geo.in_size, geo.padded
    overhang = geo.dilation[1] * (geo.kernel_size[1] - 1) if geo.flat else 0
    buffer = np.zeros((step, geo.channels, hp * wp + overhang), dtype=dtype)  # (B, C, Hp*Wp + o)
    padded = buffer[:, :, :hp * wp].reshape(step, geo.channels, hp, wp)  # (B, C, Hp, Wp)
    return buffer, padded, padded[:, :, pt:pt + h, pl:pl + w]


def _unfold(geo, buffer, padded, cols, m):
    """im2col of the ``m`` images in an input buffer into the first C kh kw rows of
    ``cols`` (B, C*kh*kw [+ 1], length); returns ``cols[:m]``."""
    c, (kh, kw) = geo.channels, geo.kernel_size
    if geo.flat:
        # view[b, c, i, j, q] = buffer[b, c, q + i d_h Wp + j d_w]: a slice per (b, c, i, j)
        sb, sc, se = buffer.strides
        (dh, dw), wp = geo.dilation, geo.padded[1]
        view = as_strided(buffer, (m, c, kh, kw, geo.length), (sb, sc, dh * wp * se, dw * se, se),
                          writeable=False)
    else:
        view = window_view(padded[:m], geo.kernel_size, geo.out_size, geo.stride, geo.dilation)
    np.copyto(cols[:m, :c * kh * kw].reshape(view.shape), view)  # splitting axes: still cols
    return cols[:m]


def _add_windows(target, cols6, kernel_size, out_size, stride, dilation):
    """target[:, :, h' s + i d, w' s + j d] += cols6[:, :, i, j, h', w'] for every (i, j):
    the col2im sum, one strided slice per kernel offset."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_size
    for i in range(kernel_size[0]):
        for j in range(kernel_size[1]):
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            target[:, :, rows, cols] += cols6[:, :, i, j]


def _fold(dcols, dx, dxp, pads, kernel_size, out_size, stride, dilation):
    """col2im (``col2im``'s layout): sum the columns into ``dxp`` (a padded scratch buffer,
    or None when there is no padding), then write the un-padded part into ``dx``."""
    n, c, h, w = dx.shape
    (pt, _), (pl, _) = pads
    target = dx if dxp is None else dxp[:n]
    target[...] = 0
    _add_windows(target, dcols.reshape(n, c, *kernel_size, *out_size), kernel_size, out_size,
                 stride, dilation)
    if dxp is not None:
        dx[...] = target[:, :, pt:pt + h, pl:pl + w]


def _padded_scratch(step, x_shape, pads, dtype):
    (pt, pb), (pl, pr) = pads
    if pt == pb == pl == pr == 0:
        return None
    return np.empty((step, x_shape[1], x_shape[2] + pt + pb, x_shape[3] + pl + pr), dtype=dtype)


def _fold_block(geo, dcols, buffer, padded, interior, dx_block):
    """col2im of one block: add the columns ``dcols`` (m, C*kh*kw, length) into a zeroed
    input buffer, then copy the part inside the padding to ``dx_block``."""
    m, c, (kh, kw) = len(dx_block), geo.channels, geo.kernel_size
    buffer[:m] = 0
    if geo.flat:  # the shifts of _unfold, read the other way: one long slice per offset
        (dh, dw), wp, length = geo.dilation, geo.padded[1], geo.length
        dcols5 = dcols.reshape(m, c, kh, kw, length)
        for i in range(kh):
            for j in range(kw):
                shift = i * dh * wp + j * dw
                buffer[:m, :, shift:shift + length] += dcols5[:, :, i, j]
    else:
        _add_windows(padded[:m], dcols.reshape(m, c, kh, kw, *geo.out_size), geo.kernel_size,
                     geo.out_size, geo.stride, geo.dilation)
    dx_block[...] = interior[:m]


def conv_core(x, weight, pads, stride, dilation, out_size=None, bias=None):
    """out[n] = weight (O, C*kh*kw) @ im2col(x)[n] + bias, block by block.

    x: (N, C, H, W), weight: (O, C, kh, kw), bias: (O,) or None -> out (N, O, H', W').
    The bias rides along in the matrix product, as an extra column of the weight matrix
    and a row of ones under the columns: cheaper than a separate pass over the output.
    """
    n, c = x.shape[:2]
    o, _, kh, kw = weight.shape
    if out_size is None:
        out_size = padded_output_size(x.shape, (kh, kw), pads, stride, dilation, "conv_core")
    k = c * kh * kw
    # Flat rows cost one more copy, of the output (to drop the wrap-around columns): with
    # more filters than rows of columns (O > C kh kw: W1 and W3 of the benchmarks, one to
    # three input channels) that costs more than the long copies save.
    geo = _geometry(x.shape, (kh, kw), pads, stride, dilation, out_size, flat=o <= k)
    w2 = weight.reshape(o, k)  # (O, C*kh*kw)
    if bias is not None:
        w2 = np.concatenate([w2, bias[:, None]], axis=1)  # (O, C*kh*kw + 1)
    rows = w2.shape[1]
    out = np.empty((n, o, *out_size), dtype=x.dtype)  # (N, O, H', W')
    out3 = out.reshape(n, o, out_size[0] * out_size[1])  # (N, O, H'*W'), a view
    step = block_size(n, rows * geo.length * x.itemsize)
    buffer, padded, interior = _input_buffer(geo, step, x.dtype)
    cols = np.empty((step, rows, geo.length), dtype=x.dtype)  # (B, C*kh*kw [+ 1], length)
    cols[:, k:] = 1  # the bias's row of ones, written once: _unfold fills the first k rows
    wide = np.empty((step, o, geo.length), dtype=x.dtype) if geo.flat else None
    for block in _blocks(n, step):
        m = block.stop - block.start
        interior[:m] = x[block]
        cols_m = _unfold(geo, buffer, padded, cols, m)
        if geo.flat:  # (m, O, H' Wp): drop the wrap-around outputs
            np.matmul(w2, cols_m, out=wide[:m])
            out[block] = wide[:m].reshape(m, o, out_size[0], geo.padded[1])[..., :out_size[1]]
        else:
            np.matmul(w2, cols_m, out=out3[block])
    return out


def _dx_as_convolution(o, c, stride, pads, kernel_size, dilation):
    """Stride 1, at most twice as many filters as input channels, and a padding no wider
    than the kernel's reach (d (k - 1) - p >= 0 on every side).

    The columns of dout have O kh kw rows, copied once; col2im adds up C kh kw rows into
    the input, reading and writing it kh kw times. Measured (dx alone, 2 BLAS threads):
    O = C = 16 on 14 x 14: 3.7 -> 2.0 ms; O = 2C (U-Net): 0.32 -> 0.23 ms; but O = 2.7 C
    (LeNet's 6 -> 16): 2.6 -> 3.1 ms, and O = 11 C (3 -> 32): 2.7 -> 4.5 ms."""
    reach = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
    return (tuple(stride) == (1, 1) and o <= 2 * c
            and all(e - p >= 0 for e, side in zip(reach, pads) for p in side))


def conv_grads(dout, pads, stride, dilation, *, x=None, weight=None, x_shape=None,
               weight_shape=None):
    """Gradients of ``conv_core`` from dout (N, O, H', W'), in one pass over the blocks.

    dx = col2im(weight^T @ dout[n]), computed when ``weight`` is given (``x_shape`` then
    gives its shape if ``x`` is not); dweight = sum_n dout[n] @ im2col(x)[n]^T, computed
    when ``x`` is given (``weight_shape`` gives its shape if ``weight`` is not).
    Returns ``(dx, dweight)``, None for what was not computed.
    """
    x_shape = x.shape if x is not None else tuple(x_shape)
    o, c, kh, kw = weight.shape if weight is not None else weight_shape
    n, _, ho, wo = dout.shape
    if weight is not None and _dx_as_convolution(o, c, stride, pads, (kh, kw), dilation):
        # dx is the "full" correlation of dout with the kernel rotated by 180 degrees and its
        # two channel axes swapped: a forward convolution (im2col and one product, no
        # scatter-add), cheaper than col2im unless there are many more filters than channels.
        (pt, pb), (pl, pr) = pads
        eh, ew = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
        flipped = np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, O, kh, kw)
        dx = conv_core(dout, flipped, ((eh - pt, eh - pb), (ew - pl, ew - pr)), (1, 1), dilation,
                       out_size=x_shape[2:])
        return dx, None if x is None else conv_grads(dout, pads, stride, dilation, x=x,
                                                     weight_shape=weight.shape)[1]
    geo = _geometry(x_shape, (kh, kw), pads, stride, dilation, (ho, wo))
    k = c * kh * kw
    dout3 = dout.reshape(n, o, ho * wo)  # (N, O, H'*W')
    step = block_size(n, k * geo.length * dout.itemsize)
    cols = np.empty((step, k, geo.length), dtype=dout.dtype)  # (B, C*kh*kw, length)
    if geo.flat:  # dout with zeros in the wrap-around columns, (B, O, H', Wp)
        wide = np.zeros((step, o, ho, geo.padded[1]), dtype=dout.dtype)
    dx = dweight = None
    # dweight = sum_n dout[n] @ cols[n]^T. With many more rows of columns than filters
    # (K >= 4 O, K >= 64: 3 x 3 or 5 x 5 kernels over many channels), OpenBLAS computes
    # the transpose, cols[n] @ dout[n]^T, about 3 times faster (benchmarks/README.md),
    # and the transposed copy of dout it needs is small.
    transposed = k >= 4 * o and k >= 64
    if x is not None:
        x_buffers = _input_buffer(geo, step, dout.dtype)
        dweight = np.zeros((k, o) if transposed else (o, k), dtype=dout.dtype)
    if weight is not None:
        dx = np.empty(x_shape, dtype=dout.dtype)
        w_t = weight.reshape(o, k).T  # (C*kh*kw, O)
        dx_buffers = _input_buffer(geo, step, dout.dtype)  # _fold_block zeroes it each block
    for block in _blocks(n, step):
        m = block.stop - block.start
        if geo.flat:
            wide[:m, :, :, :wo] = dout[block]
            d_block = wide[:m].reshape(m, o, geo.length)  # (m, O, H' Wp)
        else:
            d_block = dout3[block]  # (m, O, H'*W')
        if x is not None:
            buffer, padded, interior = x_buffers
            interior[:m] = x[block]
            cols_m = _unfold(geo, buffer, padded, cols, m)
            if transposed:  # (C*kh*kw, O)
                d_t = np.ascontiguousarray(d_block.transpose(0, 2, 1))  # (m, length, O)
                dweight += np.matmul(cols_m, d_t).sum(axis=0)
            else:  # (O, C*kh*kw)
                dweight += np.matmul(d_block, cols_m.transpose(0, 2, 1)).sum(axis=0)
        if weight is not None:  # the columns are used: their buffer takes dcols
            dcols = np.matmul(w_t, d_block, out=cols[:m])  # (m, C*kh*kw, length)
            _fold_block(geo, dcols, *dx_buffers, dx[block])
    if dweight is not None:
        dweight = (dweight.T if transposed else dweight).reshape(o, c, kh, kw)
    return dx, dweight
