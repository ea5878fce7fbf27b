"""Finite-difference gradient checking, used by the tests, the chapters and the
exercise checker. See chapter 4.

For a kernel ``y = f(x1, x2, ...)`` and an upstream gradient ``dout``, the gradient of
the scalar L = sum(y * dout) with respect to each input is estimated by central
differences, (L(x + h e_i) - L(x - h e_i)) / 2h, one entry at a time.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._init import make_rng

__all__ = ["numerical_gradient", "relative_error", "check_gradients"]


def numerical_gradient(f, inputs, dout, wrt: int = 0, h: float = 1e-6) -> np.ndarray:
    """Central-difference estimate of d sum(f(*inputs) * dout) / d inputs[wrt].

    ``f`` returns an array (or a tuple whose first item is the output). Loops over the
    entries of one input: slow on purpose, for small float64 checks only. See chapter 4.
    """
    if not callable(f):
        raise TypeError(f"numerical_gradient: f must be a function, got {type(f).__name__}")
    inputs = [np.array(a, dtype=np.float64, copy=True) if isinstance(a, np.ndarray) else a
              for a in inputs]
    if not (isinstance(wrt, numbers.Integral) and 0 <= wrt < len(inputs)
            and isinstance(inputs[wrt], np.ndarray)):
        raise ValueError(f"numerical_gradient: wrt must be the position of an array in inputs "
                         f"(0..{len(inputs) - 1}), got {wrt!r}")
    x = inputs[wrt]
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = np.sum(_output(f(*inputs)) * dout)
        x[i] = old - h
        minus = np.sum(_output(f(*inputs)) * dout)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def _output(result):
    return result[0] if isinstance(result, tuple) else result


def relative_error(a, b) -> float:
    """max |a - b| / max(|a| + |b|, tiny): 0 for equal arrays, about 1e-8 or less for a
    correct float64 gradient. See chapter 4."""
    try:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"relative_error: a and b must be arrays of numbers ({exc})") from None
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))


def check_gradients(forward, backward, inputs, *, wrt=None, rng=None, h: float = 1e-6,
                    atol: float = 1e-6, rtol: float = 1e-5) -> dict[int, float]:
    """Compare a kernel pair's analytic gradients with finite differences, in float64.

    ``forward(*inputs) -> (out, cache)`` and ``backward(dout, cache) -> grads`` (an
    array, or a tuple in argument order). ``wrt`` lists the input positions to check
    (default: every array input). Raises AssertionError naming the input and the
    largest discrepancy; returns {position: max abs error} when all agree. See chapter 4.
    """
    for name, fn in (("forward", forward), ("backward", backward)):
        if not callable(fn):
            raise TypeError(f"check_gradients: {name} must be a function, got {type(fn).__name__}")
    rng = make_rng(rng)
    inputs = [np.asarray(a, dtype=np.float64) if isinstance(a, np.ndarray) else a for a in inputs]
    out, cache = forward(*inputs)
    dout = rng.standard_normal(np.shape(out))
    grads = backward(dout, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if wrt is None:
        wrt = [i for i, a in enumerate(inputs) if isinstance(a, np.ndarray)]
    errors = {}
    for i in wrt:
        num = numerical_gradient(forward, inputs, dout, wrt=i, h=h)
        ana = np.asarray(grads[i], dtype=np.float64)
        if ana.shape != num.shape:
            raise AssertionError(f"gradient of input {i} has shape {ana.shape}, expected {num.shape}")
        err = np.abs(ana - num)
        bad = err > atol + rtol * np.abs(num)
        if bad.any():
            j = np.unravel_index(np.argmax(err), err.shape)
            raise AssertionError(
                f"gradient of input {i} disagrees with finite differences at {j}: "
                f"analytic {ana[j]:.6g}, numerical {num[j]:.6g} ({bad.sum()} of {bad.size} entries off)"
            )
        errors[i] = float(err.max()) if err.size else 0.0
    return errors
