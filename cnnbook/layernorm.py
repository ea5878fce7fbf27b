"""Layer normalization: a forward/backward pair and a Module.

Each sample is normalised over its trailing ``normalized_shape`` dimensions (the D
features of a token in a transformer, x (N, T, D) with normalized_shape=(D,)):

    xhat = (x - mean) / sqrt(var + eps),    y = weight * xhat + bias,

with one mean and (biased) variance per sample instead of per channel, and no running
statistics: training and inference compute the same thing. See chapter 11.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import as_float_array, positive_int
from .module import Module

__all__ = ["layer_norm_forward", "layer_norm_backward", "LayerNorm"]


def _as_shape(normalized_shape, func):
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if not isinstance(normalized_shape, (tuple, list)) or len(normalized_shape) == 0:
        raise TypeError(f"{func}: normalized_shape must be an int or a non-empty tuple of ints, "
                        f"got {normalized_shape!r}")
    return tuple(positive_int(s, "normalized_shape", func) for s in normalized_shape)


def layer_norm_forward(x, normalized_shape, weight=None, bias=None, *, eps=1e-5):
    """Layer normalization, as ``torch.nn.functional.layer_norm``.

    y = weight * (x - mean) / sqrt(var + eps) + bias, mean and biased var over the last
    len(normalized_shape) axes of each sample.

    x: (..., *normalized_shape); weight, bias: normalized_shape or None.
    Returns ``(y, cache)``, y shaped like x.
    """
    func = "layer_norm_forward"
    x = as_float_array(x, "x", func)
    shape = _as_shape(normalized_shape, func)
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise ValueError(f"{func}: the last {k} dimensions of x must be normalized_shape={shape}, "
                         f"got x.shape={x.shape}")
    for name, arr in (("weight", weight), ("bias", bias)):
        if arr is not None and np.shape(arr) != shape:
            raise ValueError(f"{func}: {name} must have shape normalized_shape={shape}, "
                             f"got {name}.shape={np.shape(arr)}")
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool) or eps < 0:
        raise ValueError(f"{func}: eps must be a number >= 0, got {eps!r}")
    D = int(np.prod(shape))
    x2 = x.reshape(-1, D)  # (B, D), B = number of samples (e.g. N*T)
    mean = x2.mean(axis=1, keepdims=True)  # (B, 1)
    xhat = x2 - mean  # (B, D)
    var = np.vecdot(xhat, xhat)[:, None] / D  # (B, 1)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)  # (B, 1)
    xhat *= inv_std
    w2 = None if weight is None else as_float_array(weight, "weight", func).reshape(D)  # (D,)
    out = xhat * w2 if w2 is not None else xhat.copy()  # (B, D)
    if bias is not None:
        out += as_float_array(bias, "bias", func).reshape(D)  # (D,)
    cache = (xhat, inv_std, w2, bias is not None, x.shape, shape)
    return out.reshape(x.shape), cache  # (..., *normalized_shape), like x


def layer_norm_backward(dout, cache):
    """Gradients of layer normalization: ``(dx, dweight, dbias)``.

    With dxhat = weight * dout and sums over the D normalised values of a sample,
    dx = (1/D) inv_std (D dxhat - sum(dxhat) - xhat sum(dxhat xhat));
    dweight = sum over samples of dout xhat, dbias = sum over samples of dout
    (None when the forward had no weight / bias).
    """
    xhat, inv_std, w2, has_bias, x_shape, shape = cache
    B, D = xhat.shape
    d2 = np.asarray(dout).reshape(B, D)  # (B, D)
    dweight = None if w2 is None else (d2 * xhat).sum(axis=0).reshape(shape)  # normalized_shape
    dbias = d2.sum(axis=0).reshape(shape) if has_bias else None  # normalized_shape
    dxhat = d2 * w2 if w2 is not None else d2  # (B, D), read only
    s1 = dxhat.sum(axis=1, keepdims=True) / D  # (B, 1)
    s2 = np.vecdot(dxhat, xhat)[:, None] / D  # (B, 1)
    dx = xhat * s2  # (B, D)
    dx += s1
    np.subtract(dxhat, dx, out=dx)
    dx *= inv_std
    return dx.reshape(x_shape), dweight, dbias  # dx like x


class LayerNorm(Module):
    """Layer normalization over the trailing ``normalized_shape`` axes, ``torch.nn.LayerNorm``'s
    twin: weight ones, bias zeros (no running statistics, same in train and eval)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, *, dtype=np.float32):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape, "LayerNorm")
        self.eps = eps
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
