"""Pooling: max, average and global average over 2-D windows. See chapter 6.

    max:  out[n, c, h', w'] = max_{i, j} xp[n, c, h' s_h + i, w' s_w + j]
    avg:  out[n, c, h', w'] = (1 / (kh kw)) sum_{i, j} xp[n, c, h' s_h + i, w' s_w + j]

xp is the input padded with -inf (max) or 0 (average; the zeros count in the mean,
``count_include_pad=True`` as in PyTorch). Stride defaults to the kernel size, so the
windows tile the image. Both reductions are separable: first along W, then along H.
Each stage loops over the kernel offsets j, and offset j is one strided slice of the
whole batch, x[..., j::s], holding that window position for every output at once.
``max_pool2d_forward_naive`` spells the max out with loops, one window at a time.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_dout, int_pair, nan_in_nan_out, nonempty
from ._im2col import pad2d, padded_output_size
from .module import Module

__all__ = [
    "max_pool2d_forward", "max_pool2d_backward", "max_pool2d_forward_naive",
    "max_pool2d_backward_naive", "avg_pool2d_forward", "avg_pool2d_backward",
    "global_avg_pool2d_forward", "global_avg_pool2d_backward",
    "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "PoolCache",
]


class PoolCache(NamedTuple):
    """What a pooling backward pass needs from its forward pass."""
    x_shape: tuple  # (N, C, H, W)
    dtype: np.dtype  # x's dtype, also the output's and dx's
    pads: tuple  # ((top, bottom), (left, right))
    kernel_size: tuple  # (kh, kw)
    stride: tuple  # (s_h, s_w)
    out_shape: tuple  # (N, C, H', W'), which dout must have
    col_arg: np.ndarray | None = None  # max_pool2d_forward: winning column offsets (N, C, Hp, W')
    row_arg: np.ndarray | None = None  # max_pool2d_forward: winning row offsets (N, C, H', W')
    argmax: np.ndarray | None = None  # max_pool2d_forward_naive: (row, col) of each window's max


def _pool_args(x, kernel_size, stride, padding, func):
    x = as_float_array(x, "x", func, ndim=4, layout="(N, C, H, W)")
    nonempty(x, (1, 2, 3), "x", func, "number of channels, height and width")
    kernel_size, stride, pads = _pool_sizes(kernel_size, stride, padding, func)
    out_size = padded_output_size(x.shape, kernel_size, pads, stride, (1, 1), func)
    return x, kernel_size, stride, pads, out_size


def _pool_sizes(kernel_size, stride, padding, func):
    """Checked pairs: kernel_size, stride (default: kernel_size) and the pads."""
    kernel_size = int_pair(kernel_size, "kernel_size", func)
    stride = kernel_size if stride is None else int_pair(stride, "stride", func)
    padding = int_pair(padding, "padding", func, minimum=0)
    for p, k in zip(padding, kernel_size):
        if k > 256:  # the arg-max is kept as uint8
            raise ValueError(f"{func}: kernel_size must be at most 256, got {k}")
        if p > k // 2:  # else a window could hold nothing but padding
            raise ValueError(f"{func}: padding must be at most half the kernel size, "
                             f"got padding={p} with kernel_size={k}")
    return kernel_size, stride, tuple((p, p) for p in padding)


def _offsets(axis, kernel, stride, n_out):
    """Index tuples selecting, for each kernel offset j along ``axis`` (-1: columns, -2: rows),
    the input entries at j, j + s, ..., j + s (n_out - 1): that offset for every window."""
    tail = (slice(None),) if axis == -2 else ()
    return [(Ellipsis, slice(j, j + stride * (n_out - 1) + 1, stride)) + tail
            for j in range(kernel)]


def _max_along(x, axis, kernel, stride, n_out):
    """Windowed max along one axis, and which offset won (the first, on ties).

    Returns ``(best, argmax)``, argmax as uint8 offsets (kernel sizes up to 256).
    """
    offsets = _offsets(axis, kernel, stride, n_out)
    if kernel == 1:
        return x[offsets[0]].copy(), np.zeros(x[offsets[0]].shape, dtype=np.uint8)
    first, second = x[offsets[0]], x[offsets[1]]
    argmax = (second > first).view(np.uint8)  # strict: an earlier equal value keeps the max
    best = np.maximum(first, second)  # np.maximum, not a masked copy: NaN propagates
    for j, index in enumerate(offsets[2:], start=2):
        window = x[index]
        wins = window > best
        np.maximum(best, window, out=best)
        # offsets come in increasing order, so the latest winner is the largest j
        np.maximum(argmax, wins * np.uint8(j), out=argmax)
    return best, argmax


def _route_along(dout, argmax, n_in, axis, kernel, stride):
    """Backward of ``_max_along``: send each gradient to the offset that won."""
    shape = list(dout.shape)
    shape[axis] = n_in
    offsets = _offsets(axis, kernel, stride, dout.shape[axis])
    if not np.isfinite(dout).all():
        # A NaN or inf gradient goes to the winner only, as in torch: where, not
        # dout * (argmax == j), which is NaN at the others (0 * inf). Rare, and slower.
        dx = np.zeros(shape, dtype=dout.dtype)
        for j, index in enumerate(offsets):
            dx[index] += np.where(argmax == j, dout, 0)
        return dx
    if stride < kernel:  # overlapping windows: an input can win several, so add up
        dx = np.zeros(shape, dtype=dout.dtype)
        for j, index in enumerate(offsets):
            dx[index] += dout * (argmax == j)
        return dx
    # Disjoint windows: write each offset's share once. Offset 0 gets what the others
    # did not take, dout - sum of their shares (exact: at most one share is nonzero).
    covered = stride == kernel and n_in == kernel * dout.shape[axis]
    dx = np.empty(shape, dtype=dout.dtype) if covered else np.zeros(shape, dtype=dout.dtype)
    shares = [np.multiply(dout, argmax == j, out=dx[index])
              for j, index in enumerate(offsets[1:], start=1)]
    rest = dx[offsets[0]]
    if not shares:  # kernel 1
        np.copyto(rest, dout)
    for k, share in enumerate(shares):
        np.subtract(dout if k == 0 else rest, share, out=rest)
    return dx


@nan_in_nan_out
def max_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """Max pooling, as ``torch.nn.functional.max_pool2d``.

    x: (N, C, H, W); kernel_size, stride (default: kernel_size), padding: int or pair.
    Returns ``(out, cache)``, out: (N, C, H', W'), H' = floor((H + 2p - kh) / s) + 1.

    A 2-D window's max is the max over its rows of each row's max, so the kernel takes
    the max along W first (kw strided slices), then along H (kh slices), remembering
    at each stage which offset won. Ties go to the first maximum in row-major window
    order, as in PyTorch; a NaN in a window makes its output NaN. See chapter 6.
    """
    x, (kh, kw), (sh, sw), pads, (ho, wo) = _pool_args(x, kernel_size, stride, padding,
                                                      "max_pool2d_forward")
    xp = pad2d(x, pads, value=-np.inf)  # (N, C, Hp, Wp)
    row_max, col_arg = _max_along(xp, -1, kw, sw, wo)  # (N, C, Hp, W')
    out, row_arg = _max_along(row_max, -2, kh, sh, ho)  # (N, C, H', W')
    return out, PoolCache(x.shape, x.dtype, pads, (kh, kw), (sh, sw), out.shape,
                          col_arg=col_arg, row_arg=row_arg)


@nan_in_nan_out
def max_pool2d_backward(dout, cache):
    """dx: each window's gradient goes to its arg-max; positions that never win get 0.

    With overlapping windows a pixel that wins several of them adds up their gradients.
    dout: (N, C, H', W') -> dx: (N, C, H, W), x's dtype. See chapter 6.
    """
    dout = check_dout(dout, cache.out_shape, cache.dtype, "max_pool2d_backward")
    (kh, kw), (sh, sw) = cache.kernel_size, cache.stride
    (pt, pb), (pl, pr) = cache.pads
    n, c, h, w = cache.x_shape
    d_row_max = _route_along(dout, cache.row_arg, h + pt + pb, -2, kh, sh)  # (N, C, Hp, W')
    dxp = _route_along(d_row_max, cache.col_arg, w + pl + pr, -1, kw, sw)  # (N, C, Hp, Wp)
    return dxp[:, :, pt:pt + h, pl:pl + w]


@nan_in_nan_out
def max_pool2d_forward_naive(x, kernel_size, *, stride=None, padding=0):
    """``max_pool2d_forward`` with loops over images, channels and output pixels:

        out[n, c, r, q] = max_{i, j} xp[n, c, r s_h + i, q s_w + j]

    Same arguments and result, x (N, C, H, W) -> out (N, C, H', W'); its cache records
    where each window's max sits (the first, in row-major order, on ties) for
    ``max_pool2d_backward_naive``. Slow, for reading and for checking the fast kernel.
    See chapter 6.
    """
    x, (kh, kw), (sh, sw), pads, (ho, wo) = _pool_args(x, kernel_size, stride, padding,
                                                      "max_pool2d_forward_naive")
    xp = pad2d(x, pads, value=-np.inf)  # (N, C, Hp, Wp)
    n_images, channels = x.shape[:2]
    out = np.empty((n_images, channels, ho, wo), dtype=x.dtype)
    argmax = np.empty((n_images, channels, ho, wo, 2), dtype=np.intp)  # (row, col) in xp
    for n in range(n_images):
        for c in range(channels):
            for r in range(ho):
                for q in range(wo):
                    window = xp[n, c, r * sh:r * sh + kh, q * sw:q * sw + kw]  # (kh, kw)
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    out[n, c, r, q] = window.max()  # NaN if the window holds one
                    argmax[n, c, r, q] = r * sh + i, q * sw + j
    return out, PoolCache(x.shape, x.dtype, pads, (kh, kw), (sh, sw), out.shape, argmax=argmax)


@nan_in_nan_out
def max_pool2d_backward_naive(dout, cache):
    """``max_pool2d_backward`` with loops: each output pixel adds its gradient to the
    input pixel that was its window's max. Takes ``max_pool2d_forward_naive``'s cache;
    dout: (N, C, H', W') -> dx: (N, C, H, W). See chapter 6.
    """
    dout = check_dout(dout, cache.out_shape, cache.dtype, "max_pool2d_backward_naive")
    (pt, pb), (pl, pr) = cache.pads
    n_images, channels, h, w = cache.x_shape
    dxp = np.zeros((n_images, channels, h + pt + pb, w + pl + pr), dtype=cache.dtype)
    for n in range(n_images):
        for c in range(channels):
            for r in range(dout.shape[2]):
                for q in range(dout.shape[3]):
                    i, j = cache.argmax[n, c, r, q]
                    dxp[n, c, i, j] += dout[n, c, r, q]
    return dxp[:, :, pt:pt + h, pl:pl + w]


@nan_in_nan_out
def avg_pool2d_forward(x, kernel_size, *, stride=None, padding=0):
    """Average pooling, as ``torch.nn.functional.avg_pool2d`` (count_include_pad=True).

    x: (N, C, H, W) -> out (N, C, H', W'), each the mean of kh * kw values (padding zeros
    included). Sums along W, then along H, as in ``max_pool2d_forward``.
    Returns ``(out, cache)``. See chapter 6.
    """
    x, (kh, kw), (sh, sw), pads, (ho, wo) = _pool_args(x, kernel_size, stride, padding,
                                                      "avg_pool2d_forward")
    xp = pad2d(x, pads)  # (N, C, Hp, Wp)
    row_sum = sum(xp[index] for index in _offsets(-1, kw, sw, wo))  # (N, C, Hp, W')
    out = sum(row_sum[index] for index in _offsets(-2, kh, sh, ho))  # (N, C, H', W')
    out /= kh * kw
    return out, PoolCache(x.shape, x.dtype, pads, (kh, kw), (sh, sw), out.shape)


@nan_in_nan_out
def avg_pool2d_backward(dout, cache):
    """dx: each window spreads its gradient equally, dout / (kh kw), over its positions.

    dout: (N, C, H', W') -> dx: (N, C, H, W), x's dtype. See chapter 6.
    """
    dout = check_dout(dout, cache.out_shape, cache.dtype, "avg_pool2d_backward")
    (kh, kw), (sh, sw), (pt, pb), (pl, pr) = cache.kernel_size, cache.stride, *cache.pads
    n, c, h, w = cache.x_shape
    share = dout / (kh * kw)  # (N, C, H', W')
    d_row_sum = np.zeros((n, c, h + pt + pb, share.shape[3]), dtype=share.dtype)  # (N, C, Hp, W')
    for index in _offsets(-2, kh, sh, share.shape[2]):
        d_row_sum[index] += share
    dxp = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=share.dtype)  # (N, C, Hp, Wp)
    for index in _offsets(-1, kw, sw, share.shape[3]):
        dxp[index] += d_row_sum
    return dxp[:, :, pt:pt + h, pl:pl + w]


@nan_in_nan_out
def global_avg_pool2d_forward(x):
    """Mean over each whole feature map: (N, C, H, W) -> (N, C).

    out[n, c] = (1 / (H W)) sum_{h, w} x[n, c, h, w], i.e. ``adaptive_avg_pool2d(x, 1)``
    flattened. Returns ``(out, cache)``. See chapter 6.
    """
    func = "global_avg_pool2d_forward"
    x = as_float_array(x, "x", func, ndim=4, layout="(N, C, H, W)")
    nonempty(x, (2, 3), "x", func, "height and width")  # a mean over nothing
    return x.mean(axis=(2, 3)), (x.shape, x.dtype)


@nan_in_nan_out
def global_avg_pool2d_backward(dout, cache):
    """dx[n, c, h, w] = dout[n, c] / (H W). dout: (N, C) -> dx: (N, C, H, W), x's dtype.
    See chapter 6."""
    (n, c, h, w), dtype = cache
    dout = check_dout(dout, (n, c), dtype, "global_avg_pool2d_backward")
    dx = np.empty((n, c, h, w), dtype=dtype)  # (N, C, H, W)
    dx[...] = (dout / (h * w))[:, :, None, None]
    return dx


# -- Modules -----------------------------------------------------------------------------
class MaxPool2d(Module):
    """Max pooling layer, ``torch.nn.MaxPool2d``'s twin (no parameters):
    x: (N, C, H, W) -> (N, C, H', W'). See chapter 6."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        _pool_sizes(kernel_size, stride, padding, type(self).__name__)  # refused when built
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        out, cache = max_pool2d_forward(x, self.kernel_size, stride=self.stride,
                                        padding=self.padding)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        return max_pool2d_backward(dout, self._pop_cache())

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Average pooling layer, ``torch.nn.AvgPool2d``'s twin (count_include_pad=True):
    x: (N, C, H, W) -> (N, C, H', W'). See chapter 6."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        _pool_sizes(kernel_size, stride, padding, type(self).__name__)  # refused when built
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        out, cache = avg_pool2d_forward(x, self.kernel_size, stride=self.stride,
                                        padding=self.padding)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        return avg_pool2d_backward(dout, self._pop_cache())

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class GlobalAvgPool2d(Module):
    """Global average pooling, (N, C, H, W) -> (N, C): ``nn.AdaptiveAvgPool2d(1)`` + flatten.
    See chapter 6."""

    def forward(self, x):
        out, cache = global_avg_pool2d_forward(x)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        return global_avg_pool2d_backward(dout, self._pop_cache())
