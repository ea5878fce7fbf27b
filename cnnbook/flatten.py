"""Flatten: feature maps to feature vectors, between the conv part and the dense part.

(N, C, H, W) -> (N, C*H*W) in row-major (C, H, W) order, as ``torch.nn.Flatten()``,
so a dense layer's weights line up with PyTorch's. See chapter 6.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_dout
from .module import Module

__all__ = ["flatten_forward", "flatten_backward", "Flatten"]


def flatten_forward(x):
    """Keep the batch axis, flatten the rest: (N, d1, d2, ...) -> (N, d1*d2*...).

    Returns ``(out, cache)``; ``out`` is a view of ``x`` when x is contiguous. See chapter 6.
    """
    x = as_float_array(x, "x", "flatten_forward")
    if x.ndim < 2:
        raise ValueError(f"flatten_forward: x must have a batch axis and at least one more, "
                         f"got x.shape={x.shape}")
    return x.reshape(x.shape[0], int(np.prod(x.shape[1:]))), (x.shape, x.dtype)  # (N, C*H*W); N may be 0


def flatten_backward(dout, cache):
    """dx: the gradient (N, d1*d2*...) reshaped back to the input's shape (N, d1, d2, ...).
    See chapter 6."""
    shape, dtype = cache
    n_features = int(np.prod(shape[1:]))
    dout = check_dout(dout, (shape[0], n_features), dtype, "flatten_backward")
    return dout.reshape(shape)  # (N, C, H, W)


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W), ``torch.nn.Flatten()``'s twin (no parameters). See chapter 6."""

    def forward(self, x):
        out, cache = flatten_forward(x)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        return flatten_backward(dout, self._pop_cache())
