"""Chapter 2's exercises: right answers (written several ways) pass, and each common
mistake gets its own diagnosis; the references agree with cnnbook's own kernels."""
from __future__ import annotations


import numpy as np
import pytest

from cnnbook import dense_backward, dense_forward
from cnnbook.conv import conv2d_backward, conv2d_forward
from cnnbook.exercises import evaluate, get
from cnnbook.exercises.ch02 import add_bias_column, conv_bias_grad, fold_bias
from cnnbook.gradcheck import numerical_gradient


# -- right answers, written as a reader might -------------------------------------------
def add_bias_column_hstack(X):
    return np.hstack([np.ones((len(X), 1), dtype=X.dtype), X])


def add_bias_column_insert(X):
    return np.insert(X, 0, 1.0, axis=1)


def fold_bias_hstack(weight, bias):
    return np.hstack([bias.reshape(-1, 1), weight])


def fold_bias_column_stack(weight, bias):
    return np.column_stack([bias, weight])


def place_sigmoid_steps(x_star, slope):
    w = slope / 0.25
    return w, -w * x_star


def fit_line_closed_form(x, y):
    w = np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2)
    return w, y.mean() - w * x.mean()


def fit_line_polyfit(x, y):
    w, b = np.polyfit(x, y, 1)
    return float(w), float(b)


def fit_line_cov(x, y):
    w = np.cov(x, y, ddof=0)[0, 1] / np.var(x)
    return w, np.mean(y) - w * np.mean(x)


def conv_bias_grad_loops_over_axes(dout):
    return dout.sum(axis=0).sum(axis=-1).sum(axis=-1)


def conv_bias_grad_einsum(dout):
    return np.einsum("nchw->c", dout)


RIGHT = [
    ("ch02.add_bias_column", add_bias_column_hstack),
    ("ch02.add_bias_column", add_bias_column_insert),
    ("ch02.fold_bias", fold_bias_hstack),
    ("ch02.fold_bias", fold_bias_column_stack),
    ("ch02.place_sigmoid", place_sigmoid_steps),
    ("ch02.fit_line", fit_line_closed_form),
    ("ch02.fit_line", fit_line_polyfit),
    ("ch02.fit_line", fit_line_cov),
    ("ch02.conv_bias_grad", conv_bias_grad_loops_over_axes),
    ("ch02.conv_bias_grad", conv_bias_grad_einsum),
]


@pytest.mark.parametrize("name, fn", RIGHT, ids=[f"{n}-{f.__name__}" for n, f in RIGHT])
def test_right_answers_pass(name, fn):
    verdict = evaluate(name, fn)
    assert verdict.passed, verdict.text()


# -- wrong answers and their diagnoses ---------------------------------------------------
def ones_last(X):
    return np.hstack([X, np.ones((len(X), 1), dtype=X.dtype)])


def ones_float64(X):
    return np.hstack([np.ones((len(X), 1)), X])


def ones_as_row(X):
    return np.vstack([np.ones((1, X.shape[1]), dtype=X.dtype), X])


def ones_in_place(X):
    X[:, 0] = 1.0  # overwrites the caller's first feature
    return np.hstack([np.ones((len(X), 1), dtype=X.dtype), X])


def ones_1d(X):
    return np.hstack([np.ones(len(X), dtype=X.dtype), X])


def bias_last(weight, bias):
    return np.hstack([weight, bias[:, None]])


def bias_not_a_column(weight, bias):
    return np.hstack([bias, weight])


def folded_transposed(weight, bias):
    return np.vstack([bias[None, :], weight.T])


def sigmoid_no_four(x_star, slope):
    return slope, -slope * x_star


def sigmoid_wrong_sign(x_star, slope):
    w = 4 * slope
    return w, w * x_star


def sigmoid_swapped(x_star, slope):
    w = 4 * slope
    return -w * x_star, w


def sigmoid_array(x_star, slope):
    w = 4 * slope
    return np.array([w, -w * x_star])


def line_through_origin(x, y):
    return x @ y / (x @ x), 0.0


def line_uncentred_slope(x, y):
    w = x @ y / (x @ x)
    return w, y.mean() - w * x.mean()


def line_cov_ddof_mix(x, y):
    w = np.cov(x, y)[0, 1] / np.var(x)
    return w, y.mean() - w * x.mean()


def line_swapped(x, y):
    w = np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2)
    return y.mean() - w * x.mean(), w


def grad_no_batch_sum(dout):
    return dout.sum(axis=(2, 3))


def grad_mean(dout):
    return dout.mean(axis=(0, 2, 3))


def grad_keepdims(dout):
    return dout.sum(axis=(0, 2, 3), keepdims=True)


def grad_over_channels(dout):
    return dout.sum(axis=(1, 2, 3))


def grad_float64(dout):
    return dout.sum(axis=(0, 2, 3), dtype=np.float64)


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch02.add_bias_column", ones_last, "mistake", "last"),
    ("ch02.add_bias_column", ones_as_row, "mistake", "row of ones"),
    ("ch02.add_bias_column", ones_float64, "dtype", "float32"),
    ("ch02.add_bias_column", ones_in_place, "mutated", "`X`"),
    ("ch02.add_bias_column", ones_1d, "exception", "(N, 1)"),
    ("ch02.fold_bias", bias_last, "mistake", "last column"),
    ("ch02.fold_bias", bias_not_a_column, "mistake", "bias[:, None]"),
    ("ch02.fold_bias", folded_transposed, "mistake", "transpose"),
    ("ch02.place_sigmoid", sigmoid_no_four, "mistake", "4 * slope"),
    ("ch02.place_sigmoid", sigmoid_wrong_sign, "mistake", "wrong sign"),
    ("ch02.place_sigmoid", sigmoid_swapped, "mistake", "swapped"),
    ("ch02.place_sigmoid", sigmoid_array, "type", "tuple"),
    ("ch02.fit_line", line_through_origin, "mistake", "through the origin"),
    ("ch02.fit_line", line_uncentred_slope, "mistake", "centre the data"),
    ("ch02.fit_line", line_cov_ddof_mix, "mistake", "N - 1"),
    ("ch02.fit_line", line_swapped, "mistake", "swapped"),
    ("ch02.conv_bias_grad", grad_no_batch_sum, "mistake", "not over the batch"),
    ("ch02.conv_bias_grad", grad_mean, "mistake", "averages"),
    ("ch02.conv_bias_grad", grad_keepdims, "mistake", "keepdims"),
    ("ch02.conv_bias_grad", grad_over_channels, "mistake", "one number per image"),
    ("ch02.conv_bias_grad", grad_float64, "dtype", "float32"),
]


@pytest.mark.parametrize("name, fn, category, words", WRONG,
                         ids=[f"{n}-{f.__name__}" for n, f, _, _ in WRONG])
def test_wrong_answers_are_diagnosed(name, fn, category, words):
    verdict = evaluate(name, fn)
    assert verdict.category == category, verdict.text()
    assert words in verdict.text(), verdict.text()


# -- the references agree with the book's kernels --------------------------------------
def test_folded_dense_layer_matches_dense_kernels():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((6, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    y, cache = dense_forward(x, w, b)
    y_fold, cache_fold = dense_forward(add_bias_column(x), fold_bias(w, b), None)
    np.testing.assert_allclose(y_fold, y, rtol=0, atol=1e-13)

    dout = rng.standard_normal(y.shape)
    dx, dw, db = dense_backward(dout, cache)
    dx_fold, dw_fold, no_bias = dense_backward(dout, cache_fold)
    assert no_bias is None
    np.testing.assert_allclose(dw_fold, fold_bias(dw, db), rtol=0, atol=1e-13)
    np.testing.assert_allclose(dx_fold[:, 1:], dx, rtol=0, atol=1e-13)


def test_conv_bias_grad_matches_conv_kernel_and_finite_differences():
    rng = np.random.default_rng(1)
    x, weight, bias = (rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 3, 3)),
                       rng.standard_normal(4))
    out, cache = conv2d_forward(x, weight, bias, padding=1)
    dout = rng.standard_normal(out.shape)
    _, _, dbias = conv2d_backward(dout, cache)
    np.testing.assert_allclose(conv_bias_grad(dout), dbias, rtol=1e-12, atol=1e-12)
    numeric = numerical_gradient(lambda b: conv2d_forward(x, weight, b, padding=1)[0], [bias], dout)
    np.testing.assert_allclose(conv_bias_grad(dout), numeric, atol=1e-6)


def test_verdicts_never_show_expected_values():
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([1.0, 3.0, 2.0])
    w, b = get("ch02.fit_line").reference(x, y)
    text = evaluate("ch02.fit_line", line_through_origin).text()
    assert f"{w:.6g}" not in text and f"{b:.6g}" not in text
