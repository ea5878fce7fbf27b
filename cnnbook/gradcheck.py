"""Finite-difference gradient checking, used by the tests, the chapters and the
exercise checker. See chapter 4.

For a kernel ``y = f(x1, x2, ...)`` and an upstream gradient ``dout``, the gradient of
the scalar L = sum(y * dout) with respect to each input is estimated by central
differences, (L(x + h e_i) - L(x - h e_i)) / 2h, one entry at a time.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import as_float_array, function, real_number
from ._init import make_rng

__all__ = ["numerical_gradient", "relative_error", "check_gradients"]


def numerical_gradient(f, inputs, dout, wrt: int = 0, h: float = 1e-6) -> np.ndarray:
    """Central-difference estimate of d sum(f(*inputs) * dout) / d inputs[wrt].

    ``f`` returns an array (or a tuple whose first item is the output). Loops over the
    entries of one input: slow on purpose, for small float64 checks only. See chapter 4.
    """
    func = "numerical_gradient"
    function(f, "f", func)
    inputs = _float_inputs(inputs, func)
    if not (isinstance(wrt, numbers.Integral) and not isinstance(wrt, bool)
            and 0 <= wrt < len(inputs) and isinstance(inputs[wrt], np.ndarray)):
        raise ValueError(f"{func}: wrt must be the position of an array in inputs "
                         f"(0..{len(inputs) - 1}), got {wrt!r}")
    h = real_number(h, "h", func, minimum=0, open_min=True, maximum=1)
    dout = as_float_array(dout, "dout", func)
    out_shape = np.shape(_output(f(*inputs)))
    if dout.shape != out_shape:  # else sum(out * dout) would broadcast: a wrong gradient
        raise ValueError(f"{func}: dout must have the shape of f(*inputs), {out_shape}, "
                         f"got dout.shape={dout.shape}")
    if not np.isfinite(dout).all():
        raise ValueError(f"{func}: dout must be finite (a difference of infinities is NaN)")
    x = inputs[wrt]
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index", "zerosize_ok"])
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


def _float_inputs(inputs, func):
    """A list of the inputs, each array a float64 copy (complex, object and string arrays
    refused); other items (hyperparameters) as they are."""
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"{func}: inputs must be a list of the function's arguments, "
                        f"got {type(inputs).__name__} {inputs!r:.40}")
    return [as_float_array(a, f"inputs[{i}]", func).astype(np.float64)
            if isinstance(a, np.ndarray) else a for i, a in enumerate(inputs)]


def _output(result):
    return result[0] if isinstance(result, tuple) else result


def relative_error(a, b) -> float:
    """max |a - b| / max(|a| + |b|, tiny): 0 for equal arrays, about 1e-8 or less for a
    correct float64 gradient. See chapter 4."""
    func = "relative_error"
    a, b = _real_array(a, "a", func), _real_array(b, "b", func)
    if a.shape != b.shape:
        raise ValueError(f"{func}: a and b must have the same shape, got a.shape={a.shape} "
                         f"and b.shape={b.shape}")
    if a.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, the error is undefined there
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))


def _real_array(value, name, func):
    try:
        return as_float_array(value, name, func).astype(np.float64, copy=False)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: a and b must be arrays of numbers; {name} is "
                        f"{type(value).__name__} {value!r:.40}") from None


def check_gradients(forward, backward, inputs, *, wrt=None, rng=None, h: float = 1e-6,
                    atol: float = 1e-6, rtol: float = 1e-5) -> dict[int, float]:
    """Compare a kernel pair's analytic gradients with finite differences, in float64.

    ``forward(*inputs) -> (out, cache)`` and ``backward(dout, cache) -> grads`` (an
    array, or a tuple in argument order). ``wrt`` lists the input positions to check
    (default: every array input). Raises AssertionError naming the input and the
    largest discrepancy; returns {position: max abs error} when all agree. See chapter 4.
    """
    func = "check_gradients"
    for name, fn in (("forward", forward), ("backward", backward)):
        function(fn, name, func)
    rng = make_rng(rng)
    inputs = _float_inputs(inputs, func)
    arrays = [i for i, a in enumerate(inputs) if isinstance(a, np.ndarray)]
    if not arrays:
        raise ValueError(f"{func}: inputs must hold at least one array to check, got "
                         f"{[type(a).__name__ for a in inputs]}")
    for i in arrays:
        if not np.isfinite(inputs[i]).all():
            raise ValueError(f"{func}: inputs[{i}] holds NaN or inf; finite differences need "
                             "finite values")
    if wrt is not None:
        if not isinstance(wrt, (list, tuple)):
            raise TypeError(f"{func}: wrt must be a list of input positions, got {wrt!r:.40}")
        for i in wrt:
            if not (isinstance(i, numbers.Integral) and not isinstance(i, bool) and i in arrays):
                raise ValueError(f"{func}: wrt must list positions of arrays in inputs "
                                 f"({arrays}), got {i!r}")
    h = real_number(h, "h", func, minimum=0, open_min=True, maximum=1)
    atol = real_number(atol, "atol", func, minimum=0)
    rtol = real_number(rtol, "rtol", func, minimum=0)
    out, cache = forward(*inputs)
    dout = rng.standard_normal(np.shape(out))
    grads = backward(dout, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if wrt is None:
        wrt = arrays
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
