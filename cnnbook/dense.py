"""The dense (fully connected) layer: y = x W^T + b. See chapters 1 and 4.

x is (N, in_features), or (N, T, in_features) for a sequence of T tokens (chapter 10):
any leading axes, as ``torch.nn.functional.linear``; the same weights act on every
token, so the weight gradient sums over all the leading axes.
"""
from __future__ import annotations

import numpy as np

from ._checks import (as_float_array, check_dout, fits_in_memory, flag, float_dtype,
                      nan_in_nan_out, positive_int)
from ._init import uniform_fan_in
from .module import Module

__all__ = ["dense_forward", "dense_backward", "Dense"]


@nan_in_nan_out
def dense_forward(x, weight, bias=None):
    """Affine map of a batch, as ``torch.nn.functional.linear``.

    y[n, o] = sum_i x[n, i] * weight[o, i] + bias[o]

    x: (N, in_features) or, for token sequences, (N, T, in_features) (any leading axes);
    weight: (out_features, in_features), bias: (out_features,) or None.
    Returns ``(y, cache)`` with y: (N, out_features), or (N, T, out_features): x's leading
    axes. See chapters 1, 4 and 10.
    """
    func = "dense_forward"
    x = as_float_array(x, "x", func)
    if x.ndim < 2:
        raise ValueError(f"{func}: x must have 2 or more dimensions (N, in_features) or "
                         f"(N, T, in_features), but has {x.ndim} (x.shape={x.shape})")
    weight = as_float_array(weight, "weight", func, ndim=2, layout="(out_features, in_features)")
    if weight.shape[1] != x.shape[-1]:
        raise ValueError(
            f"{func}: weight expects {weight.shape[1]} input features but x has {x.shape[-1]} "
            f"(x.shape={x.shape}, weight.shape={weight.shape})"
        )
    y = x @ weight.T  # (..., out_features): the same weights for every leading index
    if bias is not None:
        bias = as_float_array(bias, "bias", func, ndim=1, layout="(out_features,)")
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(
                f"{func}: bias must have {weight.shape[0]} entries (one per output feature of "
                f"weight.shape={weight.shape}), got bias.shape={bias.shape}"
            )
        y = y + bias  # (..., out_features)
    return y, (x, weight, None if bias is None else bias.dtype)


@nan_in_nan_out
def dense_backward(dout, cache, *, input_grad=True):
    """Gradients of the dense layer (chapter 4, Chidiac's §2.2).

    dx = dout W,  dweight = dout^T x,  dbias = sum_n dout[n], the sums running over every
    leading index (the batch, and the tokens of a sequence).
    dout: (N, out_features) or (N, T, out_features), the forward output's shape. Returns
    ``(dx, dweight, dbias)`` shaped and typed like x, weight and bias; dbias is None when
    the forward had no bias. ``input_grad=False`` skips dx (returned as None): the first
    layer of a network needs none. See chapters 4 and 10.
    """
    x, weight, bias_dtype = cache
    dtype = np.result_type(x.dtype, weight.dtype, *([] if bias_dtype is None else [bias_dtype]))
    dout = check_dout(dout, x.shape[:-1] + (weight.shape[0],), dtype, "dense_backward")
    dx = dout @ weight if flag(input_grad, "input_grad", "dense_backward") else None
    d2 = dout.reshape(-1, weight.shape[0])  # (B, out_features), B = product of leading axes
    dweight = d2.T @ x.reshape(-1, weight.shape[1])  # (out_features, in_features)
    dbias = None if bias_dtype is None else d2.sum(axis=0).astype(bias_dtype, copy=False)
    return (None if dx is None else dx.astype(x.dtype, copy=False),
            dweight.astype(weight.dtype, copy=False), dbias)


class Dense(Module):
    """Fully connected layer: ``torch.nn.Linear``'s twin, under the name the book's sources
    use (dense). weight: (out_features, in_features), bias: (out_features,);
    x: (N, in_features) -> (N, out_features), or (N, T, in_features) -> (N, T, out_features)
    for token sequences. See chapters 1, 4 and 10."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 rng=None, dtype=np.float32):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", "Dense")
        self.out_features = positive_int(out_features, "out_features", "Dense")
        bias, dtype = flag(bias, "bias", "Dense"), float_dtype(dtype, "Dense")
        fits_in_memory((out_features, in_features), "weight", "Dense",
                       f"in_features={in_features}, out_features={out_features}")
        self.params["weight"] = uniform_fan_in((out_features, in_features), in_features, rng, dtype)
        if bias:
            self.params["bias"] = uniform_fan_in((out_features,), in_features, rng, dtype)
        self.zero_grad()

    def forward(self, x):
        out, cache = dense_forward(x, self.params["weight"], self.params.get("bias"))
        self._push_cache(cache)
        return out

    def backward(self, dout):
        dx, dweight, dbias = dense_backward(dout, self._pop_cache())
        self._store_grads(weight=dweight, bias=dbias)
        return dx

    def backward_params(self, dout):
        _, dweight, dbias = dense_backward(dout, self._pop_cache(), input_grad=False)
        self._store_grads(weight=dweight, bias=dbias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={'bias' in self.params}"
