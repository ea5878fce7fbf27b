"""Chapter 3's exercises: right answers (written several ways) pass, and each common
mistake gets its own diagnosis."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from cnnbook.exercises import evaluate, get


# -- right answers, written as a reader might -------------------------------------------
def leaky_relu_where(x, negative_slope=0.01):
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_004(x, negative_slope=0.01):
    return np.maximum(x, 0) + negative_slope * np.minimum(x, 0)


def sigmoid_backward_naive(dout, x):
    s = 1 / (1 + np.exp(-x))
    return dout * s * (1 - s)


def sigmoid_backward_tanh(dout, x):
    s = 0.5 * (1 + np.tanh(x / 2))
    return dout * s * (1 - s)


def softmax_stable(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_logsumexp(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return np.exp(shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True)))


def prelu_backward_where(dout, x, weight):
    a = weight.reshape((1, -1) + (1,) * (x.ndim - 2))
    dx = np.where(x > 0, dout, a * dout)
    axes = tuple(i for i in range(x.ndim) if i != 1)
    dweight = np.where(x > 0, 0, dout * x).sum(axis=axes)
    return dx, dweight.astype(x.dtype)


RIGHT = [
    ("ch03.leaky_relu", leaky_relu_where),
    ("ch03.leaky_relu", leaky_relu_004),
    ("ch03.sigmoid_backward", sigmoid_backward_naive),
    ("ch03.sigmoid_backward", sigmoid_backward_tanh),
    ("ch03.softmax", softmax_stable),
    ("ch03.softmax", softmax_logsumexp),
    ("ch03.prelu_backward", prelu_backward_where),
]


@pytest.mark.parametrize("name, fn", RIGHT, ids=[f"{n}-{f.__name__}" for n, f in RIGHT])
def test_right_answers_pass(name, fn):
    verdict = evaluate(name, fn)
    assert verdict.passed, verdict.text()


# -- wrong answers ------------------------------------------------------------------------
def leaky_relu_max(x, negative_slope=0.01):
    return np.maximum(x, negative_slope * x)  # wrong for slopes above 1


def leaky_relu_is_relu(x, negative_slope=0.01):
    return np.maximum(x, 0)


def leaky_relu_positive_side(x, negative_slope=0.01):
    return np.where(x > 0, negative_slope * x, x)


def leaky_relu_in_place(x, negative_slope=0.01):
    x[x < 0] *= negative_slope
    return x


def leaky_relu_float64(x, negative_slope=0.01):
    return np.where(x > 0, x, negative_slope * x).astype(np.float64)


def sigmoid_backward_forgets_derivative(dout, x):
    return dout / (1 + np.exp(-x))


def sigmoid_backward_forgets_dout(dout, x):
    s = 1 / (1 + np.exp(-x))
    return s * (1 - s)


def sigmoid_backward_on_x(dout, x):
    return dout * x * (1 - x)


def sigmoid_backward_tanh_formula(dout, x):
    s = 1 / (1 + np.exp(-x))
    return dout * (1 - s**2)


def softmax_naive(x):
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_columns(x):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def softmax_everything(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def softmax_global_max(x):
    e = np.exp(x - x.max())
    return e / e.sum(axis=-1, keepdims=True)


def softmax_no_keepdims(x):
    e = np.exp(x - x.max(axis=-1))
    return e / e.sum(axis=-1)


def _axes(x):
    return tuple(i for i in range(x.ndim) if i != 1)


def _dx(dout, x, weight):
    return np.where(x > 0, dout, weight.reshape((1, -1) + (1,) * (x.ndim - 2)) * dout)


def prelu_relu_dx(dout, x, weight):
    return np.where(x > 0, dout, 0.0), np.where(x > 0, 0.0, dout * x).sum(axis=_axes(x))


def prelu_all_entries(dout, x, weight):
    return _dx(dout, x, weight), (dout * x).sum(axis=_axes(x))


def prelu_batch_only(dout, x, weight):
    return _dx(dout, x, weight), np.where(x > 0, 0.0, dout * x).sum(axis=0)


def prelu_ge_zero(dout, x, weight):
    a = weight.reshape((1, -1) + (1,) * (x.ndim - 2))
    dx = np.where(x >= 0, dout, a * dout)  # dout at the kink: not the book's convention
    return dx, np.where(x > 0, 0, dout * x).sum(axis=_axes(x)).astype(x.dtype)


def prelu_swapped(dout, x, weight):
    dx, dweight = prelu_backward_where(dout, x, weight)
    return dweight, dx


WRONG = [  # (exercise, function, category, words the detail must contain)
    ("ch03.leaky_relu", leaky_relu_max, "mistake", ["at most 1", "min(0, x)"]),
    ("ch03.leaky_relu", leaky_relu_is_relu, "mistake", ["ignores `negative_slope`"]),
    ("ch03.leaky_relu", leaky_relu_positive_side, "mistake", ["positive side"]),
    ("ch03.leaky_relu", leaky_relu_in_place, "mutated", ["`x`"]),
    ("ch03.leaky_relu", leaky_relu_float64, "dtype", ["float64", "float32"]),
    ("ch03.sigmoid_backward", sigmoid_backward_forgets_derivative, "mistake", ["forward output"]),
    ("ch03.sigmoid_backward", sigmoid_backward_forgets_dout, "mistake", ["upstream"]),
    ("ch03.sigmoid_backward", sigmoid_backward_on_x, "mistake", ["x itself"]),
    ("ch03.sigmoid_backward", sigmoid_backward_tanh_formula, "mistake", ["tanh"]),
    ("ch03.softmax", softmax_naive, "mistake", ["overflow", "maximum"]),
    ("ch03.softmax", softmax_columns, "mistake", ["first axis"]),
    ("ch03.softmax", softmax_everything, "mistake", ["whole array"]),
    ("ch03.softmax", softmax_global_max, "mistake", ["each row's own maximum"]),
    ("ch03.softmax", softmax_no_keepdims, "exception", ["ValueError"]),
    ("ch03.prelu_backward", prelu_relu_dx, "mistake", ["ReLU"]),
    ("ch03.prelu_backward", prelu_all_entries, "mistake", ["every entry"]),
    ("ch03.prelu_backward", prelu_batch_only, "mistake", ["one entry per channel"]),
    ("ch03.prelu_backward", prelu_ge_zero, "mistake", ["x == 0"]),
    ("ch03.prelu_backward", prelu_swapped, "values", ["dx holds what dweight should be"]),
]


@pytest.mark.parametrize("name, fn, category, words", WRONG, ids=[w[1].__name__ for w in WRONG])
def test_each_mistake_gets_its_diagnosis(name, fn, category, words):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the naive softmax overflows
        verdict = evaluate(name, fn)
    assert not verdict.passed
    assert verdict.category == category, verdict.text()
    for word in words:
        assert word in verdict.detail, verdict.text()


def test_softmax_exception_hint_names_keepdims():
    verdict = evaluate("ch03.softmax", softmax_no_keepdims)
    assert "keepdims=True" in verdict.hint


def test_verdicts_never_show_expected_values():
    verdict = evaluate("ch03.softmax", softmax_columns)
    expected = get("ch03.softmax").reference(np.array([2.0, 1.0, 0.1]))
    for value in expected:
        assert f"{value:.4f}" not in verdict.text()
