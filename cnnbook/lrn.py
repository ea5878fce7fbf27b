"""Local response normalization (LRN) across channels, as ``torch.nn.LocalResponseNorm``.
See chapter 9.

Each value is divided by a power of the energy of its neighbours along the channel axis:

    out[n, c, ...] = x[n, c, ...] / d[n, c, ...] ** beta,
    d[n, c, ...]   = k + alpha / size * sum_{c'} x[n, c', ...] ** 2,

the sum over the ``size`` channels c - size // 2 <= c' <= c + (size - 1) // 2 (channels
outside [0, C) count as zeros), exactly PyTorch's window. Liang & Hu put it after the
ReLU of their recurrent convolutional layer (``cnnbook.recurrent``), to stop the
activity from growing step after step.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, check_dout, nan_in_nan_out, positive_int, real_number
from .module import Module

__all__ = ["local_response_norm_forward", "local_response_norm_backward", "LocalResponseNorm",
           "LRNCache"]


class LRNCache(NamedTuple):
    x: np.ndarray
    d: np.ndarray  # k + alpha / size * (window sum of x^2), shaped like x
    scale: np.ndarray  # d ** -beta, shaped like x
    size: int
    alpha: float
    beta: float


def _window_sum(v, before, after):
    """s[:, c] = v[:, c - before] + ... + v[:, c + after] along axis 1, zeros outside.

    A loop over the before + after + 1 offsets of the window (a handful), never over
    channels or pixels; a window reaching beyond every channel is cut to them (the
    channels outside are zeros)."""
    n_channels = v.shape[1]
    before, after = min(before, max(n_channels - 1, 0)), min(after, max(n_channels - 1, 0))
    s = v.copy()  # offset 0; then each shifted copy of v, added where it lands (no padding)
    for shift in range(1, before + 1):
        s[:, shift:] += v[:, :-shift]  # s[:, c] += v[:, c - shift]
    for shift in range(1, after + 1):
        s[:, :-shift] += v[:, shift:]  # s[:, c] += v[:, c + shift]
    return s


def _hyper(size, alpha, beta, k, func):
    # a window wider than the channels only divides alpha further: 10**6 is plenty
    size = positive_int(size, "size", func, maximum=10**6)
    alpha = real_number(alpha, "alpha", func, minimum=0)
    beta = real_number(beta, "beta", func, minimum=0)
    k = real_number(k, "k", func, minimum=0, open_min=True)  # d >= k > 0: no division by 0
    return size, alpha, beta, k


@nan_in_nan_out
def local_response_norm_forward(x, size, *, alpha=1e-4, beta=0.75, k=1.0):
    """LRN across channels, as ``torch.nn.functional.local_response_norm``.

    out = x / (k + alpha / size * window sum of x^2) ** beta, the window the ``size``
    channels c - size // 2 .. c + (size - 1) // 2. x: (N, C, ...) with at least 3
    dimensions (as torch); out shaped like x. 1 <= size <= 10**6, alpha >= 0, beta >= 0,
    k > 0.
    Returns ``(out, cache)``. See chapter 9.
    """
    func = "local_response_norm_forward"
    x = as_float_array(x, "x", func)
    if x.ndim < 3:
        raise ValueError(f"{func}: x must have at least 3 dimensions (N, C, ...), as in "
                         f"torch, but has {x.ndim} (x.shape={x.shape})")
    size, alpha, beta, k = _hyper(size, alpha, beta, k, func)
    d = k + alpha / size * _window_sum(x * x, size // 2, (size - 1) // 2)
    scale = d ** -beta  # the one power (pow() per entry is slow): backward reuses it
    return x * scale, LRNCache(x, d, scale, size, alpha, beta)


@nan_in_nan_out
def local_response_norm_backward(dout, cache):
    """Gradient of ``local_response_norm_forward``: dx shaped like x.

    x_j appears in its own output and, squared, in the d of every channel whose window
    holds it:  dx_j = dout_j d_j^-beta
    - 2 beta alpha / size * x_j * sum_{c : j in window(c)} dout_c x_c d_c^(-beta-1).
    The channels c whose window holds j are j - (size - 1) // 2 .. j + size // 2: the
    forward's window reflected. See chapter 9.
    """
    x, d, scale, size, alpha, beta = cache
    dout = check_dout(dout, x.shape, x.dtype, "local_response_norm_backward")
    q = dout * x * scale / d  # d^(-beta-1) = d^-beta / d
    back = _window_sum(q, (size - 1) // 2, size // 2)
    return dout * scale - (2 * beta * alpha / size) * x * back


class LocalResponseNorm(Module):
    """LRN layer, ``torch.nn.LocalResponseNorm``'s twin: no parameters;
    x: (N, C, ...) -> the same shape. See chapter 9."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = _hyper(size, alpha, beta, k,
                                                         "LocalResponseNorm")

    def forward(self, x):
        out, cache = local_response_norm_forward(x, self.size, alpha=self.alpha, beta=self.beta,
                                                 k=self.k)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        return local_response_norm_backward(dout, self._pop_cache())

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
