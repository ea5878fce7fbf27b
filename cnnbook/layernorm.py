"""Layer normalization: a forward/backward pair and a Module.

Each sample is normalised over its trailing ``normalized_shape`` dimensions (the D
features of a token in a transformer, x (N, T, D) with normalized_shape=(D,)):

    xhat = (x - mean) / sqrt(var + eps),    y = weight * xhat + bias,

with one mean and (biased) variance per sample instead of per channel, and no running
statistics: training and inference compute the same thing. See chapter 10.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ._checks import (as_float_array, check_dout, fits_in_memory, flag, float_dtype, nan_in_nan_out,
                      positive_int, real_number)
from .module import Module

__all__ = ["layer_norm_forward", "layer_norm_backward", "LayerNorm", "LayerNormCache"]


class LayerNormCache(NamedTuple):
    """What ``layer_norm_backward`` needs from the forward pass."""
    xhat: np.ndarray  # (B, D): the normalised samples, B = number of samples, x's dtype
    inv_std: np.ndarray  # (B, 1): 1 / sqrt(var + eps)
    weight: np.ndarray | None  # (D,) in x's dtype, or None
    x_shape: tuple  # x's shape, also the output's
    normalized_shape: tuple  # the shape of weight, bias and their gradients
    weight_dtype: np.dtype | None  # None: no weight
    bias_dtype: np.dtype | None  # None: no bias


def _as_shape(normalized_shape, func):
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if not isinstance(normalized_shape, (tuple, list)) or len(normalized_shape) == 0:
        raise TypeError(f"{func}: normalized_shape must be an int or a non-empty tuple of ints, "
                        f"got {normalized_shape!r}")
    return tuple(positive_int(s, "normalized_shape", func) for s in normalized_shape)


def _row_dots(a, b):
    """sum_d a[i, d] * b[i, d] -> (B,), as B products (1, D) @ (D, 1): as fast as NumPy 2's
    ``np.vecdot`` on these contiguous rows, and available in NumPy 1.26."""
    return (a[:, None, :] @ b[:, :, None])[:, 0, 0]  # (B,)


@nan_in_nan_out
def layer_norm_forward(x, normalized_shape, weight=None, bias=None, *, eps=1e-5):
    """Layer normalization, as ``torch.nn.functional.layer_norm``.

    y = weight * (x - mean) / sqrt(var + eps) + bias, mean and biased var over the last
    len(normalized_shape) axes of each sample.

    x: (..., *normalized_shape); weight, bias: normalized_shape or None.
    Returns ``(y, cache)``, y shaped like x and in x's dtype. See chapter 10.
    """
    func = "layer_norm_forward"
    x = as_float_array(x, "x", func)
    shape = _as_shape(normalized_shape, func)
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"{func}: the last {k} dimensions of x must be normalized_shape={shape}, "
                         f"got x.shape={x.shape}")
    params = {}
    for name, arr in (("weight", weight), ("bias", bias)):
        if arr is not None:
            arr = as_float_array(arr, name, func)
            if arr.shape != shape:
                raise ValueError(f"{func}: {name} must have shape normalized_shape={shape}, "
                                 f"got {name}.shape={arr.shape}")
        params[name] = arr
    eps = real_number(eps, "eps", func, minimum=0)
    D = int(np.prod(shape))
    x2 = x.reshape(-1, D)  # (B, D), B = number of samples (e.g. N*T)
    mean = x2.mean(axis=1, keepdims=True)  # (B, 1)
    xhat = x2 - mean  # (B, D)
    var = _row_dots(xhat, xhat)[:, None] / D  # (B, 1)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)  # (B, 1)
    xhat *= inv_std
    w2, b2 = (None if a is None else a.reshape(D).astype(x.dtype, copy=False)
              for a in (params["weight"], params["bias"]))  # (D,) each, in x's dtype
    out = xhat * w2 if w2 is not None else xhat.copy()  # (B, D)
    if b2 is not None:
        out += b2
    cache = LayerNormCache(xhat, inv_std, w2, x.shape, shape,
                           *(None if a is None else a.dtype for a in params.values()))
    return out.reshape(x.shape), cache  # (..., *normalized_shape), like x


@nan_in_nan_out
def layer_norm_backward(dout, cache):
    """Gradients of layer normalization: ``(dx, dweight, dbias)``.

    With dxhat = weight * dout and sums over the D normalised values of a sample,
    dx = (1/D) inv_std (D dxhat - sum(dxhat) - xhat sum(dxhat xhat));
    dweight = sum over samples of dout xhat, dbias = sum over samples of dout.
    dout is shaped like x; dx, dweight and dbias (normalized_shape) come in the dtypes of
    x, weight and bias (None when the forward had no weight / bias). See chapter 10.
    """
    xhat, inv_std, w2 = cache.xhat, cache.inv_std, cache.weight
    B, D = xhat.shape
    d2 = check_dout(dout, cache.x_shape, xhat.dtype, "layer_norm_backward").reshape(B, D)
    shape = cache.normalized_shape
    dweight = (None if cache.weight_dtype is None else  # normalized_shape
               (d2 * xhat).sum(axis=0).reshape(shape).astype(cache.weight_dtype, copy=False))
    dbias = (None if cache.bias_dtype is None else  # normalized_shape
             d2.sum(axis=0).reshape(shape).astype(cache.bias_dtype, copy=False))
    dxhat = d2 * w2 if w2 is not None else d2  # (B, D), read only
    s1 = dxhat.sum(axis=1, keepdims=True) / D  # (B, 1)
    s2 = _row_dots(dxhat, xhat)[:, None] / D  # (B, 1)
    dx = xhat * s2  # (B, D)
    dx += s1
    np.subtract(dxhat, dx, out=dx)
    dx *= inv_std
    return dx.reshape(cache.x_shape), dweight, dbias  # dx like x


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` axes, ``torch.nn.LayerNorm``'s
    twin: weight ones, bias zeros (no running statistics, same in train and eval); the
    output is shaped like x. See chapter 10."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, *, dtype=np.float32):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape, "LayerNorm")
        fits_in_memory(self.normalized_shape, "weight", "LayerNorm",
                       f"normalized_shape={self.normalized_shape}")
        self.eps = real_number(eps, "eps", "LayerNorm", minimum=0)
        elementwise_affine = flag(elementwise_affine, "elementwise_affine", "LayerNorm")
        bias = flag(bias, "bias", "LayerNorm")
        dtype = float_dtype(dtype, "LayerNorm")
        if elementwise_affine:
            self.params["weight"] = np.ones(self.normalized_shape, dtype)
            if bias:
                self.params["bias"] = np.zeros(self.normalized_shape, dtype)
        self.zero_grad()

    def forward(self, x):
        out, cache = layer_norm_forward(x, self.normalized_shape, self.params.get("weight"),
                                        self.params.get("bias"), eps=self.eps)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        dx, dweight, dbias = layer_norm_backward(dout, self._pop_cache())
        self._store_grads(weight=dweight, bias=dbias)
        return dx

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={'weight' in self.params}")
