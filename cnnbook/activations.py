"""Activation functions as forward/backward pairs and Modules. See chapters 1 and 3.

Each ``<name>_forward(x, *, hyper) -> (out, cache)`` has a ``<name>_backward(dout, cache)``.
A single-input kernel returns ``dx`` itself; a kernel with a learnable input (PReLU's
``weight``) returns a tuple in argument order. Names and hyperparameters follow
``torch.nn.functional``. The functions of Chen's table (identity, binary step, logistic,
tanh, arctan, ReLU, PReLU, ELU, SoftPlus) are here, with leaky ReLU, softmax,
log-softmax and GELU (the transformer's activation, chapter 10); Chidiac's ridge and radial functions are in ``cnnbook.radial``.

Shapes: x is any shape (softmax and log-softmax reduce along ``dim``), out and dx are
shaped like x, and every backward refuses a dout of another shape. dx has x's dtype.

Where a derivative is undefined (ReLU-like kinks at x = 0) we take PyTorch's value, so
that gradients agree with it exactly: ReLU'(0) = 0, LeakyReLU'(0) = PReLU'(0) = the
slope, ELU'(0) = alpha.
"""
from __future__ import annotations

from typing import NamedTuple

import math

import numpy as np

from ._checks import (as_float_array, check_dout, fits_in_memory, float_dtype, nan_in_nan_out,
                      positive_int, real_number)
from .module import Module

__all__ = [
    "identity_forward", "identity_backward", "binary_step_forward",
    "binary_step_backward", "sigmoid", "sigmoid_forward", "sigmoid_backward",
    "tanh_forward", "tanh_backward", "arctan_forward", "arctan_backward",
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "prelu_forward", "prelu_backward", "elu_forward", "elu_backward",
    "softplus_forward", "softplus_backward", "softmax_forward", "softmax_backward",
    "log_softmax_forward", "log_softmax_backward", "Identity", "BinaryStep", "Sigmoid",
    "Tanh", "ArcTan", "ReLU", "LeakyReLU", "ELU", "Softplus", "Softmax", "LogSoftmax",
    "PReLU", "PReLUCache", "gelu_forward", "gelu_backward", "GELU",
]


@nan_in_nan_out
def identity_forward(x):
    """f(x) = x. x: any shape -> ``(out, cache)``, out a copy of x. See chapter 3."""
    x = as_float_array(x, "x", "identity_forward")
    return x.copy(), (x.shape, x.dtype)


@nan_in_nan_out
def identity_backward(dout, cache):
    """f'(x) = 1: dx = dout, shaped like x. See chapter 3."""
    shape, dtype = cache
    return check_dout(dout, shape, dtype, "identity_backward").copy()


@nan_in_nan_out
def binary_step_forward(x):
    """Heaviside step, f(x) = 1 if x >= 0 else 0 (the threshold logic unit of chapter 1).

    x: any shape -> ``(out, cache)``, out shaped like x. See chapters 1 and 3.
    """
    x = as_float_array(x, "x", "binary_step_forward")
    return (x >= 0).astype(x.dtype), (x.shape, x.dtype)  # NaN gives 0, as torch.heaviside


@nan_in_nan_out
def binary_step_backward(dout, cache):
    """f'(x) = 0 wherever it is defined (x != 0): no gradient flows, which is why a
    network of step units cannot be trained by gradient descent. dx: zeros shaped like x.
    See chapter 3."""
    shape, dtype = cache
    check_dout(dout, shape, dtype, "binary_step_backward")
    return np.zeros(shape, dtype)


def sigmoid(x):
    """Logistic function 1 / (1 + e^-x), finite and warning-free for any finite x.

    Split by sign so that ``exp`` only ever sees non-positive arguments. x: any shape
    (integers become float64) -> an array shaped like x. See chapter 3.
    """
    x = as_float_array(x, "x", "sigmoid")  # (ints become float64)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


@nan_in_nan_out
def sigmoid_forward(x):
    """sigma(x) = 1 / (1 + e^-x). x: any shape -> ``(out, cache)``, out shaped like x.
    See chapter 3."""
    x = as_float_array(x, "x", "sigmoid_forward")
    out = sigmoid(x)
    return out, out


@nan_in_nan_out
def sigmoid_backward(dout, cache):
    """sigma'(x) = sigma(x) (1 - sigma(x)), from the cached output; dx shaped like x.
    See chapter 3."""
    s = cache
    dout = check_dout(dout, s.shape, s.dtype, "sigmoid_backward")
    return dout * s * (1 - s)


@nan_in_nan_out
def tanh_forward(x):
    """tanh(x) = (e^x - e^-x) / (e^x + e^-x) = 2 / (1 + e^-2x) - 1.

    x: any shape -> ``(out, cache)``, out shaped like x. See chapter 3.
    """
    x = as_float_array(x, "x", "tanh_forward")
    out = np.tanh(x)
    return out, out


@nan_in_nan_out
def tanh_backward(dout, cache):
    """tanh'(x) = 1 - tanh(x)^2; dx shaped like x. See chapter 3."""
    t = cache
    dout = check_dout(dout, t.shape, t.dtype, "tanh_backward")
    return dout * (1 - t * t)


@nan_in_nan_out
def arctan_forward(x):
    """f(x) = tan^-1(x), with range (-pi/2, pi/2) (``torch.atan``).

    x: any shape -> ``(out, cache)``, out shaped like x. See chapter 3.
    """
    x = as_float_array(x, "x", "arctan_forward")
    return np.arctan(x), x


@nan_in_nan_out
def arctan_backward(dout, cache):
    """f'(x) = 1 / (x^2 + 1); dx shaped like x. See chapter 3."""
    x = cache
    dout = check_dout(dout, x.shape, x.dtype, "arctan_backward")
    return dout / (1 + x * x)


@nan_in_nan_out
def relu_forward(x):
    """ReLU(x) = max(0, x). x: any shape -> ``(out, cache)``, out shaped like x.
    See chapter 3."""
    x = as_float_array(x, "x", "relu_forward")
    mask = x > 0
    # np.maximum, not x * mask: the product gives -0.0 for negative x and NaN for -inf.
    return np.maximum(x, 0), (mask, x.dtype)


@nan_in_nan_out
def relu_backward(dout, cache):
    """ReLU'(x) = 1 if x > 0 else 0 (we take 0 at x = 0, as PyTorch does); dx shaped
    like x. See chapter 3."""
    mask, dtype = cache
    dout = np.ascontiguousarray(check_dout(dout, mask.shape, dtype, "relu_backward"))
    # = np.where(mask, dout, 0), exactly (0, not 0 * dout: a NaN or inf stops here, and no
    # -0.0), in two fast passes instead of one slow one (np.where branches on every entry):
    # keep dout's bits where x > 0 (mask * all-ones) and clear them elsewhere (0 bits = 0.0).
    bits = _UINT_OF_SIZE[dout.itemsize]
    keep = np.multiply(mask, np.iinfo(bits).max, dtype=bits)  # all ones where x > 0, else 0
    return np.bitwise_and(dout.view(bits), keep, out=keep).view(dout.dtype)


_UINT_OF_SIZE = {2: np.uint16, 4: np.uint32, 8: np.uint64}  # float16, float32, float64


@nan_in_nan_out
def leaky_relu_forward(x, *, negative_slope=0.01):
    """LeakyReLU(x) = max(0, x) + negative_slope * min(0, x) (Maas et al.; the form of Li's slides).

    x: any shape -> ``(out, cache)``, out shaped like x. See chapter 3.
    """
    x = as_float_array(x, "x", "leaky_relu_forward")
    slope = real_number(negative_slope, "negative_slope", "leaky_relu_forward")
    mask = x > 0
    return np.where(mask, x, x * slope), (mask, slope, x.dtype)


@nan_in_nan_out
def leaky_relu_backward(dout, cache):
    """f'(x) = 1 if x > 0 else negative_slope; dx shaped like x. See chapter 3."""
    mask, slope, dtype = cache
    dout = check_dout(dout, mask.shape, dtype, "leaky_relu_backward")
    return np.where(mask, dout, dout * slope)


def _prelu_weight_shape(x, weight, func):
    """The shape that broadcasts PReLU's weight over x: one slope per channel (dim 1)."""
    if weight.size == 1:
        return (1,) * x.ndim
    if x.ndim < 2 or x.shape[1] != weight.size:
        channels = x.shape[1] if x.ndim >= 2 else "no channel dimension"
        raise ValueError(
            f"{func}: weight has {weight.size} entries (one per channel, dim 1 of x) "
            f"but x has {channels} (x.shape={x.shape})"
        )
    return (1, weight.size) + (1,) * (x.ndim - 2)


class PReLUCache(NamedTuple):
    """What ``prelu_backward`` needs from the forward pass."""
    x: np.ndarray  # the input, its own dtype
    slope: np.ndarray  # weight reshaped to broadcast over x, (1, C, 1, ...), weight's dtype
    mask: np.ndarray  # x > 0
    weight_shape: tuple  # (1,) or (C,)


@nan_in_nan_out
def prelu_forward(x, weight):
    """PReLU(x) = x if x >= 0 else a * x, with learnable slope(s) a = ``weight``.

    As ``torch.nn.functional.prelu``: weight has 1 entry (shared) or one per channel,
    the channel being dim 1 of x, e.g. x: (N, C) or (N, C, H, W) and weight: (C,).
    Returns ``(out, cache)``, out shaped like x. See chapter 3.
    """
    func = "prelu_forward"
    x = as_float_array(x, "x", func)
    weight = as_float_array(weight, "weight", func, ndim=1, layout="(num_parameters,)")
    a = weight.reshape(_prelu_weight_shape(x, weight, func))  # (1, C, 1, ...)
    mask = x > 0
    return np.where(mask, x, a * x), PReLUCache(x, a, mask, weight.shape)


@nan_in_nan_out
def prelu_backward(dout, cache):
    """dx = dout if x > 0 else a * dout;  dweight = sum of dout * min(0, x) over all
    positions that share a slope. Returns ``(dx, dweight)``, dx shaped like x and
    dweight like weight, each in its own dtype. See chapter 3."""
    x, a, mask = cache.x, cache.slope, cache.mask
    dout = check_dout(dout, x.shape, np.result_type(x.dtype, a.dtype), "prelu_backward")
    dx = np.where(mask, dout, a * dout)
    contrib = np.where(mask, 0, dout * x)
    if cache.weight_shape[0] == 1:
        dweight = contrib.sum().reshape(cache.weight_shape)  # (1,)
    else:
        axes = tuple(i for i in range(x.ndim) if i != 1)
        dweight = contrib.sum(axis=axes)  # (C,)
    return dx.astype(x.dtype, copy=False), dweight.astype(a.dtype, copy=False)


@nan_in_nan_out
def elu_forward(x, *, alpha=1.0):
    """ELU(x) = x if x > 0 else alpha (e^x - 1).

    x: any shape -> ``(out, cache)``, out shaped like x. See chapter 3.
    """
    x = as_float_array(x, "x", "elu_forward")
    alpha = real_number(alpha, "alpha", "elu_forward")
    neg = np.minimum(x, 0)  # so that exp never sees a large positive number
    out = np.where(x > 0, x, alpha * np.expm1(neg))
    return out, (x > 0, neg, alpha)


@nan_in_nan_out
def elu_backward(dout, cache):
    """ELU'(x) = 1 if x > 0 else alpha e^x (= f(x) + alpha, the form in Chen's table);
    dx shaped like x. See chapter 3."""
    mask, neg, alpha = cache
    dout = check_dout(dout, neg.shape, neg.dtype, "elu_backward")
    return np.where(mask, dout, dout * alpha * np.exp(neg))


@nan_in_nan_out
def softplus_forward(x, *, beta=1.0, threshold=20.0):
    """Softplus(x) = log(1 + e^(beta x)) / beta, and x itself where beta x > threshold
    (as PyTorch: there the two differ by less than e^-threshold).

    Computed as (max(beta x, 0) + log1p(e^-|beta x|)) / beta: finite for any finite x.
    x: any shape -> ``(out, cache)``, out shaped like x. See chapter 3.
    """
    func = "softplus_forward"
    x = as_float_array(x, "x", func)
    beta = real_number(beta, "beta", func, minimum=0, open_min=True)
    threshold = real_number(threshold, "threshold", func)
    bx = x * beta
    linear = bx > threshold
    soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
    return np.where(linear, x, soft).astype(x.dtype, copy=False), (bx, linear)


@nan_in_nan_out
def softplus_backward(dout, cache):
    """Softplus'(x) = 1 / (1 + e^(-beta x)) = sigma(beta x) (1 above the threshold);
    dx shaped like x. See chapter 3."""
    bx, linear = cache
    dout = check_dout(dout, bx.shape, bx.dtype, "softplus_backward")
    return np.where(linear, dout, dout * sigmoid(bx))


MAX_DIMS = 64  # NumPy arrays have at most 64 dimensions


def _check_dim(x, dim, func):
    top = max(x.ndim, 1)  # a 0-d array has dim 0 (and -1), as in PyTorch
    positive_int(dim, "dim", func, minimum=-MAX_DIMS, maximum=MAX_DIMS - 1)
    if not -top <= dim < top:
        raise ValueError(f"{func}: dim must be an integer >= {-top} and <= {top - 1} for x with "
                         f"{x.ndim} dimensions (x.shape={x.shape}), got {dim}")
    return int(dim)


@nan_in_nan_out
def softmax_forward(x, *, dim=-1):
    """softmax(x)_i = e^(x_i) / sum_j e^(x_j) along ``dim``.

    Shifted by the maximum first (softmax(x) = softmax(x - c) for any c), so exp never
    overflows: the largest term is e^0 = 1. x: any shape -> ``(out, cache)``, out shaped
    like x, e.g. logits (N, C) with dim=-1. See chapters 3 and 6.
    """
    x = as_float_array(x, "x", "softmax_forward")
    dim = _check_dim(x, dim, "softmax_forward")
    if x.ndim == 0:  # one value: softmax 1, as torch
        return np.ones_like(x), (np.ones_like(x), None)
    if x.shape[dim] == 0:  # nothing to normalise: an empty result, as in PyTorch
        return x.copy(), (x.copy(), dim)
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    out = e / e.sum(axis=dim, keepdims=True)
    return out, (out, dim)


@nan_in_nan_out
def softmax_backward(dout, cache):
    """dx_i = s_i (dout_i - sum_j dout_j s_j), the Jacobian diag(s) - s s^T applied to dout;
    dx shaped like x. See chapters 3 and 6."""
    s, dim = cache
    dout = check_dout(dout, s.shape, s.dtype, "softmax_backward")
    return s * (dout - (dout * s).sum(axis=dim, keepdims=True))


@nan_in_nan_out
def log_softmax_forward(x, *, dim=-1):
    """log softmax(x)_i = x_i - log sum_j e^(x_j) = (x_i - m) - log sum_j e^(x_j - m), m = max.

    x: any shape -> ``(out, cache)``, out shaped like x. See chapters 3 and 6.
    """
    x = as_float_array(x, "x", "log_softmax_forward")
    dim = _check_dim(x, dim, "log_softmax_forward")
    if x.ndim == 0:  # one value: log softmax 0, as torch
        return np.zeros_like(x), (np.zeros_like(x), None)
    if x.shape[dim] == 0:  # nothing to normalise: an empty result, as in PyTorch
        return x.copy(), (x.copy(), dim)
    shifted = x - x.max(axis=dim, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    return out, (out, dim)


@nan_in_nan_out
def log_softmax_backward(dout, cache):
    """dx_i = dout_i - softmax(x)_i sum_j dout_j; dx shaped like x. See chapters 3 and 6."""
    out, dim = cache
    dout = check_dout(dout, out.shape, out.dtype, "log_softmax_backward")
    return dout - np.exp(out) * dout.sum(axis=dim, keepdims=True)


# -- GELU: x times the standard normal CDF ----------------------------------------------
# NumPy has no erf. It is evaluated from a table of Taylor coefficients about the points
# 0, 1/256, 2/256, ..., 6 (built once from math.erf and the derivatives of erf, which are
# Hermite polynomials times e^(-x^2)): erf(x0 + h) = sum_k c_k(x0) h^k with |h| <= 1/512
# and 6 terms, accurate to 1 ulp (|error| <= 2.3e-16 against math.erf). Beyond 6, erf is
# +-1 in float64.
_ERF_STEP, _ERF_TERMS, _ERF_MAX = 1.0 / 256, 6, 6.0


def _erf_table() -> np.ndarray:
    """c[k, j] = erf^(k)(x_j) / k! at x_j = j * _ERF_STEP; (terms, points)."""
    x = np.arange(int(_ERF_MAX / _ERF_STEP) + 1) * _ERF_STEP  # (points,)
    c = np.empty((_ERF_TERMS, x.size))
    c[0] = [math.erf(v) for v in x]
    gauss = 2.0 / math.sqrt(math.pi) * np.exp(-x * x)  # erf'(x)
    h_prev, h = np.zeros_like(x), np.ones_like(x)  # Hermite H_{k-2}, H_{k-1}
    for k in range(1, _ERF_TERMS):
        # erf^(k)(x) = (-1)^(k-1) H_{k-1}(x) erf'(x),  H_k = 2x H_{k-1} - 2(k-1) H_{k-2}
        c[k] = (-1) ** (k - 1) * h * gauss / math.factorial(k)
        h_prev, h = h, 2 * x * h - 2 * (k - 1) * h_prev
    return c


_ERF_COEF = _erf_table()


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function of a float64 array, vectorized (|error| <= 2.3e-16); NaN gives NaN."""
    ax = np.minimum(np.abs(x), _ERF_MAX)  # (..., ) NaN stays NaN
    idx = np.rint(np.nan_to_num(ax) * (1 / _ERF_STEP)).astype(np.intp)  # nearest table point
    h = ax - idx * _ERF_STEP  # |h| <= _ERF_STEP / 2
    out = _ERF_COEF[-1].take(idx)
    for c in _ERF_COEF[-2::-1]:  # Horner's rule in h
        out *= h
        out += c.take(idx)
    return np.copysign(out, x)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715  # the tanh approximation's constant (Hendrycks and Gimpel)


def _approximate(approximate, func):
    if not isinstance(approximate, str):
        raise TypeError(f"{func}: approximate must be 'none' or 'tanh', got "
                        f"{type(approximate).__name__} {approximate!r:.40}")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{func}: approximate must be 'none' or 'tanh', got {approximate!r:.40}")
    return approximate


@nan_in_nan_out
def gelu_forward(x, *, approximate="none"):
    """GELU(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2, as ``torch.nn.functional.gelu``.

    Phi is the standard normal CDF: a smooth ReLU that lets small negative values
    through. ``approximate="tanh"`` gives PyTorch's tanh form,
    x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2. x: any shape -> ``(out, cache)``, out
    shaped like x and in its dtype (computed in float64). See chapter 10.
    """
    func = "gelu_forward"
    x = as_float_array(x, "x", func)
    approximate = _approximate(approximate, func)
    x64 = x.astype(np.float64, copy=False)
    if approximate == "none":
        cdf = 0.5 * (1.0 + _erf(x64 * (1 / math.sqrt(2.0))))  # Phi(x)
        out = x64 * cdf
        return out.astype(x.dtype, copy=False), (x, cdf, None, approximate)
    # x * x * x, not x ** 3: NumPy's power calls pow() per entry, some 20 times slower
    t = np.tanh(_SQRT_2_OVER_PI * (x64 + _GELU_CUBIC * (x64 * x64 * x64)))
    out = 0.5 * x64 * (1.0 + t)
    return out.astype(x.dtype, copy=False), (x, None, t, approximate)


@nan_in_nan_out
def gelu_backward(dout, cache):
    """GELU'(x) = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi) the normal density
    (for approximate="tanh", the derivative of the tanh form:
    (1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2). dout: any shape,
    the forward output's; dx shaped and typed like x. See chapter 10."""
    x, cdf, t, approximate = cache
    dout = check_dout(dout, x.shape, x.dtype, "gelu_backward")
    x64 = x.astype(np.float64, copy=False)
    if approximate == "none":
        grad = cdf + x64 * np.exp(-0.5 * x64 * x64) * (1 / math.sqrt(2 * math.pi))
    else:
        grad = 0.5 * (1.0 + t) + (0.5 * _SQRT_2_OVER_PI) * x64 * (1.0 - t * t) * (
            1.0 + 3 * _GELU_CUBIC * x64 * x64)
    return (dout * grad).astype(x.dtype, copy=False)


# -- Modules --------------------------------------------------------------------------
class _Elementwise(Module):
    """A parameter-free activation Module around a kernel pair; ``_kwargs`` holds its
    hyperparameters (passed to the forward kernel)."""

    _forward = None
    _backward = None

    def _kwargs(self) -> dict:
        return {}

    def forward(self, x):
        out, cache = type(self)._forward(x, **self._kwargs())
        self._push_cache(cache)
        return out

    def backward(self, dout):
        return type(self)._backward(dout, self._pop_cache())

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self._kwargs().items())


class Identity(_Elementwise):
    """f(x) = x, ``torch.nn.Identity``'s twin; any shape. See chapter 3."""

    _forward, _backward = identity_forward, identity_backward


class BinaryStep(_Elementwise):
    """Heaviside step (the threshold logic unit's activation); any shape. See chapters 1 and 3."""

    _forward, _backward = binary_step_forward, binary_step_backward


class Sigmoid(_Elementwise):
    """Logistic function, ``torch.nn.Sigmoid``'s twin; any shape. See chapter 3."""

    _forward, _backward = sigmoid_forward, sigmoid_backward


class Tanh(_Elementwise):
    """Hyperbolic tangent, ``torch.nn.Tanh``'s twin; any shape. See chapter 3."""

    _forward, _backward = tanh_forward, tanh_backward


class ArcTan(_Elementwise):
    """Arctangent activation (``torch.atan`` as a layer); any shape. See chapter 3."""

    _forward, _backward = arctan_forward, arctan_backward


class ReLU(_Elementwise):
    """max(0, x), ``torch.nn.ReLU``'s twin; any shape. See chapter 3."""

    _forward, _backward = relu_forward, relu_backward


class LeakyReLU(_Elementwise):
    """``torch.nn.LeakyReLU``'s twin; any shape. See chapter 3."""

    _forward, _backward = leaky_relu_forward, leaky_relu_backward

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = real_number(negative_slope, "negative_slope", "LeakyReLU")

    def _kwargs(self):
        return {"negative_slope": self.negative_slope}


class ELU(_Elementwise):
    """``torch.nn.ELU``'s twin; any shape. See chapter 3."""

    _forward, _backward = elu_forward, elu_backward

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = real_number(alpha, "alpha", "ELU")

    def _kwargs(self):
        return {"alpha": self.alpha}


class Softplus(_Elementwise):
    """``torch.nn.Softplus``'s twin; any shape. See chapter 3."""

    _forward, _backward = softplus_forward, softplus_backward

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = real_number(beta, "beta", "Softplus", minimum=0, open_min=True)
        self.threshold = real_number(threshold, "threshold", "Softplus")

    def _kwargs(self):
        return {"beta": self.beta, "threshold": self.threshold}


class Softmax(_Elementwise):
    """``torch.nn.Softmax``'s twin (default dim=-1, the class dimension of (N, C) logits);
    any shape. See chapters 3 and 6."""

    _forward, _backward = softmax_forward, softmax_backward

    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = positive_int(dim, "dim", type(self).__name__, minimum=-MAX_DIMS,
                                maximum=MAX_DIMS - 1)

    def _kwargs(self):
        return {"dim": self.dim}


class LogSoftmax(Softmax):
    """``torch.nn.LogSoftmax``'s twin; any shape. See chapters 3 and 6."""

    _forward, _backward = log_softmax_forward, log_softmax_backward


class PReLU(Module):
    """``torch.nn.PReLU``'s twin: slope(s) ``weight`` learned with the other parameters.

    num_parameters=1 shares one slope; num_parameters=C learns one per channel (dim 1).
    x: (N, C, ...) -> shaped like x. See chapter 3.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, *, dtype=np.float32):
        super().__init__()
        self.num_parameters = positive_int(num_parameters, "num_parameters", "PReLU")
        init = real_number(init, "init", "PReLU")
        fits_in_memory((self.num_parameters,), "weight", "PReLU",
                       f"num_parameters={self.num_parameters}")
        self.params["weight"] = np.full(self.num_parameters, init, dtype=float_dtype(dtype, "PReLU"))
        self.zero_grad()

    def forward(self, x):
        out, cache = prelu_forward(x, self.params["weight"])
        self._push_cache(cache)
        return out

    def backward(self, dout):
        dx, dweight = prelu_backward(dout, self._pop_cache())
        self._store_grads(weight=dweight)
        return dx

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class GELU(_Elementwise):
    """Gaussian error linear unit, ``torch.nn.GELU``'s twin (approximate="none", the exact
    erf form, or "tanh"); any shape. The activation of the transformer's MLP. See chapter 10."""

    _forward, _backward = gelu_forward, gelu_backward

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = _approximate(approximate, "GELU")

    def _kwargs(self):
        return {"approximate": self.approximate}
