"""Convolution layers: 2-D and 1-D (dilated, causal), naive and fast. See chapter 5.

Deep-learning "convolution" is cross-correlation (the kernel is not flipped):

    out[n, o, h', w'] = b[o] + sum_{c, i, j} weight[o, c, i, j] xp[n, c, h' s + i d, w' s + j d]

with xp the zero-padded input, s the stride and d the dilation. Layout NCHW, weights
OIHW, as in ``torch.nn.functional.conv2d``. True convolution (kernel rotated by 180
degrees) is ``convolve2d``. The fast kernels are im2col plus one matrix product
(``cnnbook._im2col``); the ``_naive`` twins spell the sum out with loops.
"""
from __future__ import annotations

import numpy as np

from ._checks import (as_float_array, bias_vector, check_dout, fits_in_memory, flag, float_dtype,
                      int_pair, nan_in_nan_out, nonempty, positive_int)
from ._im2col import (ConvCache, conv_core, conv_grads, conv_output_size, pad2d,
                      padded_output_size, resolve_padding)
from ._init import uniform_fan_in
from .module import Module

__all__ = [
    "conv_output_size", "conv2d_forward", "conv2d_backward", "conv2d_forward_naive",
    "conv2d_backward_naive", "conv1d_forward", "conv1d_backward", "correlate2d", "convolve2d",
    "Conv2d", "Conv1d", "ConvCache",
]


def _conv2d_args(x, weight, bias, stride, padding, dilation, func, pads=None):
    """Check and normalise conv2d arguments; returns the arrays in their common dtype, the
    pairs, and a cache without its output shape.

    ``pads``, when given, are explicit ((top, bottom), (left, right)) and replace padding.
    """
    x = as_float_array(x, "x", func, ndim=4, layout="(N, C, H, W)")
    weight = as_float_array(weight, "weight", func, ndim=4,
                            layout="(out_channels, in_channels, kh, kw)")
    nonempty(x, (2, 3), "x", func, "height and width")
    nonempty(weight, (0, 2, 3), "weight", func, "out_channels and kernel size")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"{func}: weight has {weight.shape[1]} input channels but x has {x.shape[1]} "
            f"(x.shape={x.shape}, weight.shape={weight.shape})"
        )
    dtypes = [x.dtype, weight.dtype]
    if bias is not None:
        bias = bias_vector(bias, weight.shape[0], func, weight.shape)
        dtypes.append(bias.dtype)
    dtype = np.result_type(*dtypes)
    stride = int_pair(stride, "stride", func)
    dilation = int_pair(dilation, "dilation", func)
    if pads is None:
        pads = resolve_padding(padding, weight.shape[2:], stride, dilation, func)
    out_size = padded_output_size(x.shape, weight.shape[2:], pads, stride, dilation, func)
    cache = ConvCache(x.astype(dtype, copy=False), weight.astype(dtype, copy=False), pads,
                      stride, dilation, (x.shape[0], weight.shape[0], *out_size), x.dtype,
                      weight.dtype, None if bias is None else bias.dtype)
    return cache, None if bias is None else bias.astype(dtype, copy=False)


@nan_in_nan_out
def conv2d_forward(x, weight, bias=None, *, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation) of a batch, as ``torch.nn.functional.conv2d``.

    x: (N, C, H, W), weight: (O, C, kh, kw), bias: (O,) or None.
    stride, dilation: int or pair; padding: int, pair, "valid", "same" or "full".
    Returns ``(out, cache)``, out: (N, O, H', W') with
    H' = floor((H + 2p - d (kh - 1) - 1) / s) + 1 (``conv_output_size``). See chapter 5.
    """
    return _conv2d(x, weight, bias, stride, padding, dilation, "conv2d_forward")


def _conv2d(x, weight, bias, stride, padding, dilation, func, pads=None):
    """The fast forward; ``pads`` as in ``_conv2d_args``."""
    cache, bias = _conv2d_args(x, weight, bias, stride, padding, dilation, func, pads)
    out = conv_core(cache.x, cache.weight, cache.pads, cache.stride, cache.dilation,
                    bias=bias)  # (N, O, H', W')
    return out, cache


def _grads_like_inputs(cache, dx, dweight, dbias):
    """The three gradients, each in the dtype of what it is the gradient of (dx may be None)."""
    return (None if dx is None else dx.astype(cache.x_dtype, copy=False),
            dweight.astype(cache.weight_dtype, copy=False),
            None if dbias is None else dbias.astype(cache.bias_dtype, copy=False))


@nan_in_nan_out
def conv2d_backward(dout, cache, *, input_grad=True):
    """Gradients of ``conv2d_forward``: returns ``(dx, dweight, dbias)``.

    dweight[o, c, i, j] = sum_{n, h', w'} dout[n, o, h', w'] xp[n, c, h' s + i d, w' s + j d]
    dx = the same sum read the other way: every output pixel sends weight * dout back
    to the pixels its window covered (col2im). dbias[o] = sum_{n, h', w'} dout[n, o, h', w'].
    dout: (N, O, H', W'); dx, dweight, dbias are shaped and typed like x, weight and bias
    (dbias is None when the forward had no bias). ``input_grad=False`` skips dx (returned
    as None), the col2im half of the work: the first layer of a network needs none, as
    PyTorch computes none for an input that does not require grad. See chapter 5.
    """
    dout = check_dout(dout, cache.out_shape, cache.x.dtype, "conv2d_backward")
    input_grad = flag(input_grad, "input_grad", "conv2d_backward")
    dx, dweight = conv_grads(dout, cache.pads, cache.stride, cache.dilation, x=cache.x,
                             weight=cache.weight if input_grad else None,
                             weight_shape=cache.weight.shape)
    dbias = None if cache.bias_dtype is None else dout.sum(axis=(0, 2, 3))
    return _grads_like_inputs(cache, dx, dweight, dbias)


@nan_in_nan_out
def conv2d_forward_naive(x, weight, bias=None, *, stride=1, padding=0, dilation=1):
    """``conv2d_forward`` with explicit loops over images, filters and output pixels.

    Same arguments, result and cache: x (N, C, H, W), weight (O, C, kh, kw), bias (O,) or
    None -> out (N, O, H', W'). Slow, for reading and for checking the fast one.
    See chapter 5.
    """
    func = "conv2d_forward_naive"
    cache, bias = _conv2d_args(x, weight, bias, stride, padding, dilation, func)
    x, weight, (sh, sw), (dh, dw) = cache.x, cache.weight, cache.stride, cache.dilation
    n_images, n_filters, ho, wo = cache.out_shape
    _, _, kh, kw = weight.shape
    xp = pad2d(x, cache.pads)
    out = np.zeros(cache.out_shape, dtype=x.dtype)
    for n in range(n_images):
        for o in range(n_filters):
            for r in range(ho):
                for q in range(wo):
                    # the C x kh x kw window under output pixel (r, q), every d-th pixel
                    window = xp[n, :, r * sh:r * sh + dh * (kh - 1) + 1:dh,
                                q * sw:q * sw + dw * (kw - 1) + 1:dw]
                    out[n, o, r, q] = np.sum(window * weight[o])
            if bias is not None:
                out[n, o] += bias[o]
    return out, cache


@nan_in_nan_out
def conv2d_backward_naive(dout, cache):
    """``conv2d_backward`` with loops: each output pixel adds its share to dx and dweight.

    dout (N, O, H', W') -> (dx, dweight, dbias) shaped and typed like x, weight and bias,
    as ``conv2d_backward``. See chapter 5.
    """
    dout = check_dout(dout, cache.out_shape, cache.x.dtype, "conv2d_backward_naive")
    x, weight, (sh, sw), (dh, dw) = cache.x, cache.weight, cache.stride, cache.dilation
    n_images, n_filters, ho, wo = dout.shape
    _, _, kh, kw = weight.shape
    (pt, _), (pl, _) = cache.pads
    xp = pad2d(x, cache.pads)
    dxp = np.zeros_like(xp)
    dweight = np.zeros_like(weight)
    for n in range(n_images):
        for o in range(n_filters):
            for r in range(ho):
                for q in range(wo):
                    rows = slice(r * sh, r * sh + dh * (kh - 1) + 1, dh)
                    cols = slice(q * sw, q * sw + dw * (kw - 1) + 1, dw)
                    dxp[n, :, rows, cols] += weight[o] * dout[n, o, r, q]
                    dweight[o] += xp[n, :, rows, cols] * dout[n, o, r, q]
    dx = dxp[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]
    dbias = None if cache.bias_dtype is None else dout.sum(axis=(0, 2, 3))
    return _grads_like_inputs(cache, dx, dweight, dbias)


# -- 1-D ---------------------------------------------------------------------------------
@nan_in_nan_out
def conv1d_forward(x, weight, bias=None, *, stride=1, padding=0, dilation=1, causal=False):
    """1-D convolution of a batch of sequences, as ``torch.nn.functional.conv1d``.

    out[n, o, t] = b[o] + sum_{c, k} weight[o, c, k] * xp[n, c, t s + k d]
    x: (N, C, L), weight: (O, C, K), bias: (O,) or None -> out (N, O, L').
    padding: int, "valid", "same" or "full". ``causal=True`` pads d (K - 1) zeros on the
    left only, so out[t] sees x[..t] and never the future (WaveNet); then L' = L at
    stride 1, and ``padding`` must stay 0. The 2-D kernel does the work, with H = 1.
    Returns ``(out, cache)``. See chapter 5.
    """
    func = "conv1d_forward"
    x = as_float_array(x, "x", func, ndim=3, layout="(N, C, L)")
    weight = as_float_array(weight, "weight", func, ndim=3,
                            layout="(out_channels, in_channels, K)")
    nonempty(x, (2,), "x", func, "length")
    nonempty(weight, (0, 2), "weight", func, "out_channels and kernel size")
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"{func}: weight has {weight.shape[1]} input channels but x has {x.shape[1]} "
            f"(x.shape={x.shape}, weight.shape={weight.shape})"
        )
    stride = positive_int(stride, "stride", func)
    dilation = positive_int(dilation, "dilation", func)
    k = weight.shape[2]
    pad_lr = _conv1d_padding(padding, k, stride, dilation, flag(causal, "causal", func), func)
    extent = dilation * (k - 1) + 1
    if x.shape[2] + sum(pad_lr) < extent:
        raise ValueError(
            f"{func}: kernel extent {extent} (kernel_size={k}, dilation={dilation}) is larger "
            f"than the padded input length {x.shape[2] + sum(pad_lr)} ({x.shape[2]} plus "
            f"padding {pad_lr[0]}+{pad_lr[1]}; x.shape={x.shape})"
        )
    out, cache = _conv2d(x[:, :, None, :], weight[:, :, None, :], bias, (1, stride), 0,
                         (1, dilation), func, pads=((0, 0), pad_lr))  # x as (N, C, 1, L)
    return out[:, :, 0, :], cache  # (N, O, L')


@nan_in_nan_out
def _conv1d_padding(padding, k, stride, dilation, causal, func):
    """(left, right) zeros of a 1-D convolution: d (k - 1) on the left when causal."""
    if causal:
        if not (isinstance(padding, int) and not isinstance(padding, bool) and padding == 0):
            raise ValueError(f"{func}: causal=True pads on the left by itself, so padding must "
                             f"be 0, got padding={padding!r}")
        return dilation * (k - 1), 0
    if isinstance(padding, (tuple, list)):
        raise TypeError(f"{func}: padding must be an int, 'valid', 'same' or 'full', "
                        f"got {padding!r}")
    _, pad_lr = resolve_padding(padding if isinstance(padding, str) else (0, padding),
                                (1, k), (1, stride), (1, dilation), func)
    return pad_lr


@nan_in_nan_out
def conv1d_backward(dout, cache, *, input_grad=True):
    """Gradients of ``conv1d_forward``: ``(dx (N, C, L), dweight (O, C, K), dbias (O,) or
    None)`` from dout (N, O, L'), each typed like its input; ``input_grad=False`` skips dx
    (None), as in ``conv2d_backward``. See chapter 5."""
    n, o, _, length = cache.out_shape
    dout = check_dout(dout, (n, o, length), cache.x.dtype, "conv1d_backward")
    input_grad = flag(input_grad, "input_grad", "conv1d_backward")
    dx, dweight, dbias = conv2d_backward(dout[:, :, None, :], cache, input_grad=input_grad)
    return None if dx is None else dx[:, :, 0, :], dweight[:, :, 0, :], dbias


# -- single 2-D arrays: correlation and true convolution ---------------------------------
def _single_2d(a, k, mode, func):
    a = as_float_array(a, "a", func, ndim=2, layout="(H, W)")
    k = as_float_array(k, "k", func, ndim=2, layout="(kh, kw)")
    nonempty(a, (0, 1), "a", func, "height and width")
    nonempty(k, (0, 1), "k", func, "kernel size")
    if not isinstance(mode, str) or mode not in ("valid", "same", "full"):
        raise ValueError(f"{func}: mode must be 'valid', 'same' or 'full', got {mode!r}")
    if mode == "valid" and (k.shape[0] > a.shape[0] or k.shape[1] > a.shape[1]):
        raise ValueError(f"{func}: in mode 'valid' the kernel must fit inside a, "
                         f"got a.shape={a.shape} and k.shape={k.shape}")
    dtype = np.result_type(a.dtype, k.dtype)
    return a.astype(dtype, copy=False), k.astype(dtype, copy=False)


@nan_in_nan_out
def correlate2d(a, k, mode="valid"):
    """Cross-correlation of one 2-D array with a kernel (what conv layers compute).

    out[y, x] = sum_{i, j} a_p[y + i, x + j] * k[i, j]
    a: (H, W), k: (kh, kw). mode "valid": only where k fits inside a, out
    (H - kh + 1, W - kw + 1); "full": every overlap, (H + kh - 1, W + kw - 1); "same": the
    size of a, padding (kh - 1) // 2 rows on top and kh // 2 below (likewise for columns),
    as ``scipy.signal.correlate2d``. Note: scipy's default mode is "full". See chapter 5.
    """
    a, k = _single_2d(a, k, mode, "correlate2d")
    eh, ew = k.shape[0] - 1, k.shape[1] - 1
    pads = {"valid": ((0, 0), (0, 0)), "full": ((eh, eh), (ew, ew)),
            "same": ((eh // 2, eh - eh // 2), (ew // 2, ew - ew // 2))}[mode]
    return conv_core(a[None, None], k[None, None], pads, (1, 1), (1, 1))[0, 0]


@nan_in_nan_out
def convolve2d(a, k, mode="valid"):
    """True 2-D convolution: correlation with the kernel rotated by 180 degrees.

    out[y, x] = sum_{i, j} a[y - i, x - j] * k[i, j]   (indices shifted by the mode)
    a: (H, W), k: (kh, kw); output shapes and modes as in ``scipy.signal.convolve2d``:
    "same" is the centre of the "full" result, which for an even kernel pads kh // 2 on
    top and (kh - 1) // 2 below. See chapter 5.
    """
    a, k = _single_2d(a, k, mode, "convolve2d")
    eh, ew = k.shape[0] - 1, k.shape[1] - 1
    pads = {"valid": ((0, 0), (0, 0)), "full": ((eh, eh), (ew, ew)),
            "same": ((eh - eh // 2, eh // 2), (ew - ew // 2, ew // 2))}[mode]
    flipped = k[::-1, ::-1]
    return conv_core(a[None, None], flipped[None, None], pads, (1, 1), (1, 1))[0, 0]


# -- Modules -----------------------------------------------------------------------------
class Conv2d(Module):
    """2-D convolution layer, ``torch.nn.Conv2d``'s twin: weight (O, C, kh, kw), bias (O,);
    x: (N, C, H, W) -> (N, O, H', W'). See chapter 5."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
                 dilation=1, bias: bool = True, rng=None, dtype=np.float32):
        super().__init__()
        func = "Conv2d"
        self.in_channels = positive_int(in_channels, "in_channels", func)
        self.out_channels = positive_int(out_channels, "out_channels", func)
        self.kernel_size = int_pair(kernel_size, "kernel_size", func)
        # checked here, so that a bad one is refused when the layer is built
        resolve_padding(padding, self.kernel_size, int_pair(stride, "stride", func),
                        int_pair(dilation, "dilation", func), func)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        bias, dtype = flag(bias, "bias", func), float_dtype(dtype, func)
        kh, kw = self.kernel_size
        fits_in_memory((out_channels, in_channels, kh, kw), "weight", func,
                       f"in_channels={in_channels}, out_channels={out_channels}, "
                       f"kernel_size={kernel_size}")
        fan_in = in_channels * kh * kw
        self.params["weight"] = uniform_fan_in((out_channels, in_channels, kh, kw), fan_in, rng,
                                               dtype)
        if bias:
            self.params["bias"] = uniform_fan_in((out_channels,), fan_in, rng, dtype)
        self.zero_grad()

    def forward(self, x):
        out, cache = conv2d_forward(x, self.params["weight"], self.params.get("bias"),
                                    stride=self.stride, padding=self.padding,
                                    dilation=self.dilation)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        dx, dweight, dbias = conv2d_backward(dout, self._pop_cache())
        self._store_grads(weight=dweight, bias=dbias)
        return dx

    def backward_params(self, dout):
        _, dweight, dbias = conv2d_backward(dout, self._pop_cache(), input_grad=False)
        self._store_grads(weight=dweight, bias=dbias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}, dilation={self.dilation}, "
                f"bias={'bias' in self.params}")


class Conv1d(Module):
    """1-D convolution layer, ``torch.nn.Conv1d``'s twin, plus ``causal`` (WaveNet):
    weight (O, C, K), bias (O,); x: (N, C, L) -> (N, O, L'). See chapter 5."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride=1,
                 padding=0, dilation=1, causal: bool = False, bias: bool = True, rng=None,
                 dtype=np.float32):
        super().__init__()
        func = "Conv1d"
        self.in_channels = positive_int(in_channels, "in_channels", func)
        self.out_channels = positive_int(out_channels, "out_channels", func)
        self.kernel_size = positive_int(kernel_size, "kernel_size", func)
        _conv1d_padding(padding, self.kernel_size, positive_int(stride, "stride", func),
                        positive_int(dilation, "dilation", func), flag(causal, "causal", func), func)
        self.stride, self.padding, self.dilation, self.causal = stride, padding, dilation, causal
        bias, dtype = flag(bias, "bias", func), float_dtype(dtype, func)
        fits_in_memory((out_channels, in_channels, kernel_size), "weight", func,
                       f"in_channels={in_channels}, out_channels={out_channels}, "
                       f"kernel_size={kernel_size}")
        fan_in = in_channels * kernel_size
        self.params["weight"] = uniform_fan_in((out_channels, in_channels, kernel_size), fan_in,
                                               rng, dtype)
        if bias:
            self.params["bias"] = uniform_fan_in((out_channels,), fan_in, rng, dtype)
        self.zero_grad()

    def forward(self, x):
        out, cache = conv1d_forward(x, self.params["weight"], self.params.get("bias"),
                                    stride=self.stride, padding=self.padding,
                                    dilation=self.dilation, causal=self.causal)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        dx, dweight, dbias = conv1d_backward(dout, self._pop_cache())
        self._store_grads(weight=dweight, bias=dbias)
        return dx

    def backward_params(self, dout):
        _, dweight, dbias = conv1d_backward(dout, self._pop_cache(), input_grad=False)
        self._store_grads(weight=dweight, bias=dbias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding!r}, dilation={self.dilation}, "
                f"causal={self.causal}, bias={'bias' in self.params}")
