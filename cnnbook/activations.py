"""Activation functions as forward/backward pairs and Modules. See chapters 1 and 3.

Each ``<name>_forward(x) -> (out, cache)`` has a ``<name>_backward(dout, cache) -> dx``.
A single-input kernel returns ``dx`` itself; kernels with several inputs return a tuple.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array
from .module import Module


def identity_forward(x):
    """f(x) = x."""
    x = as_float_array(x, "x", "identity_forward")
    return x.copy(), None


def identity_backward(dout, cache):
    """f'(x) = 1."""
    return dout.copy()


def binary_step_forward(x):
    """Heaviside step, f(x) = 1 if x >= 0 else 0 (the threshold logic unit of chapter 1)."""
    x = as_float_array(x, "x", "binary_step_forward")
    return (x >= 0).astype(x.dtype), x.shape


def binary_step_backward(dout, cache):
    """f'(x) = 0 wherever it is defined (x != 0): no gradient flows, which is why a
    network of step units cannot be trained by gradient descent."""
    return np.zeros_like(dout)


def sigmoid(x):
    """Logistic function 1 / (1 + e^-x), finite and warning-free for any finite x.

    Split by sign so that ``exp`` only ever sees non-positive arguments.
    """
    x = np.asarray(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


def sigmoid_forward(x):
    """sigma(x) = 1 / (1 + e^-x)."""
    x = as_float_array(x, "x", "sigmoid_forward")
    out = sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    """sigma'(x) = sigma(x) (1 - sigma(x)), computed from the cached output."""
    s = cache
    return dout * s * (1 - s)


def tanh_forward(x):
    """tanh(x) = (e^x - e^-x) / (e^x + e^-x)."""
    x = as_float_array(x, "x", "tanh_forward")
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """tanh'(x) = 1 - tanh(x)^2."""
    t = cache
    return dout * (1 - t * t)


def relu_forward(x):
    """ReLU(x) = max(0, x)."""
    x = as_float_array(x, "x", "relu_forward")
    mask = x > 0
    return x * mask, mask


def relu_backward(dout, cache):
    """ReLU'(x) = 1 if x > 0 else 0 (we take 0 at x = 0, as PyTorch does)."""
    return dout * cache


class _Elementwise(Module):
    """A parameter-free activation Module around a kernel pair."""

    _forward = None
    _backward = None

    def forward(self, x):
        out, cache = type(self)._forward(x)
        self._cache = (cache,)
        return out

    def backward(self, dout):
        (cache,) = self._cache_or_raise()
        return type(self)._backward(dout, cache)


class Identity(_Elementwise):
    _forward, _backward = identity_forward, identity_backward


class BinaryStep(_Elementwise):
    _forward, _backward = binary_step_forward, binary_step_backward


class Sigmoid(_Elementwise):
    _forward, _backward = sigmoid_forward, sigmoid_backward


class Tanh(_Elementwise):
    _forward, _backward = tanh_forward, tanh_backward


class ReLU(_Elementwise):
    _forward, _backward = relu_forward, relu_backward
