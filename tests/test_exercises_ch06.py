"""Chapter 6's exercises: right answers (written several ways) pass, each common mistake
gets its own diagnosis, and the references agree with cnnbook's kernels and PyTorch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from cnnbook.dropout import dropout_forward
from cnnbook.exercises import evaluate
from cnnbook.exercises.ch06 import (cross_entropy, flatten, inverted_dropout,
                                    max_pool2d, max_pool2d_backward)
from cnnbook.gradcheck import numerical_gradient


# -- right answers, written as a reader might -------------------------------------------
def flatten_reshape(x):
    return x.reshape(x.shape[0], -1)


def flatten_loop(x):
    return np.stack([x[n].ravel() for n in range(len(x))])


def max_pool_reshape(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def max_pool_slices(x):
    return np.maximum(np.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2]),
                      np.maximum(x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]))


def max_pool_loops(x):
    n, c, h, w = x.shape
    out = np.empty((n, c, h // 2, w // 2), dtype=x.dtype)
    for i in range(h // 2):
        for j in range(w // 2):
            out[:, :, i, j] = x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max(axis=(2, 3))
    return out


def max_pool_backward_mask(dout, x):
    up = lambda a: a.repeat(2, axis=2).repeat(2, axis=3)
    return (x == up(max_pool_reshape(x))) * up(dout)


def max_pool_backward_argmax(dout, x):
    n, c, h, w = x.shape
    windows = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(n, c, h // 2, w // 2, 4)
    onehot = np.eye(4, dtype=x.dtype)[windows.argmax(axis=-1)] * dout[..., None]
    return onehot.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(x.shape)


def cross_entropy_logsumexp(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


def cross_entropy_onehot(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    y = np.eye(logits.shape[1])[labels]
    with np.errstate(divide="ignore"):
        log_p = np.where(y > 0, shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)), 0.0)
    return float(-(y * log_p).sum() / len(labels)) + 0 * p.sum()


def dropout_where(x, p, mask):
    return np.where(mask, x / (1 - p), 0).astype(x.dtype)


def dropout_scale_first(x, p, mask):
    return (1 / (1 - p)) * x * mask


RIGHT = [
    ("ch06.flatten", flatten_reshape),
    ("ch06.flatten", flatten_loop),
    ("ch06.max_pool2d", max_pool_reshape),
    ("ch06.max_pool2d", max_pool_slices),
    ("ch06.max_pool2d", max_pool_loops),
    ("ch06.max_pool2d_backward", max_pool_backward_mask),
    ("ch06.max_pool2d_backward", max_pool_backward_argmax),
    ("ch06.cross_entropy", cross_entropy_logsumexp),
    ("ch06.cross_entropy", cross_entropy_onehot),
    ("ch06.inverted_dropout", dropout_where),
    ("ch06.inverted_dropout", dropout_scale_first),
]


@pytest.mark.parametrize("name, fn", RIGHT, ids=[f"{n}-{f.__name__}" for n, f in RIGHT])
def test_right_answers_pass(name, fn):
    verdict = evaluate(name, fn)
    assert verdict.passed, verdict.text()


# -- wrong answers and their diagnoses ---------------------------------------------------
def flatten_all(x):
    return x.reshape(-1)


def flatten_channels_last(x):
    return x.transpose(0, 2, 3, 1).reshape(len(x), -1)


def flatten_columns(x):
    return np.stack([x[n].transpose(0, 2, 1).ravel() for n in range(len(x))])


def flatten_fortran(x):
    return x.reshape(len(x), -1, order="F")


def flatten_per_map(x):
    return x.reshape(x.shape[0], x.shape[1], -1)


def flatten_float64(x):
    return x.reshape(len(x), -1).astype(np.float64)


def pool_average(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def pool_stride_one(x):
    return np.maximum(np.maximum(x[:, :, :-1, :-1], x[:, :, :-1, 1:]),
                      np.maximum(x[:, :, 1:, :-1], x[:, :, 1:, 1:]))


def pool_wrong_axes(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(2, 4))


def pool_consecutive(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, w // 2, 4).max(axis=-1)


def pool_from_zero(x):
    n, c, h, w = x.shape
    out = np.zeros((n, c, h // 2, w // 2), dtype=x.dtype)
    for i in range(2):
        for j in range(2):
            out = np.maximum(out, x[:, :, i::2, j::2])
    return out


def pool_global(x):
    return x.max(axis=(2, 3))


def backward_spread(dout, x):
    return dout.repeat(2, axis=2).repeat(2, axis=3) / 4


def backward_copy(dout, x):
    return dout.repeat(2, axis=2).repeat(2, axis=3)


def backward_mask_only(dout, x):
    up = max_pool_reshape(x).repeat(2, axis=2).repeat(2, axis=3)
    return (x == up).astype(x.dtype)


def backward_positive(dout, x):
    return dout.repeat(2, axis=2).repeat(2, axis=3) * (x > 0)


def backward_top_left(dout, x):
    dx = np.zeros_like(x)
    dx[:, :, ::2, ::2] = dout
    return dx


def backward_in_place(dout, x):
    up = max_pool_reshape(x).repeat(2, axis=2).repeat(2, axis=3)
    x[...] = (x == up)                                     # overwrites the caller's input
    return x * dout.repeat(2, axis=2).repeat(2, axis=3)


def ce_sum(logits, labels):
    return cross_entropy_logsumexp(logits, labels) * len(labels)


def ce_no_minus(logits, labels):
    return -cross_entropy_logsumexp(logits, labels)


def ce_naive(logits, labels):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return float(-np.log(p[np.arange(len(labels)), labels]).mean())


def ce_wrong_axis(logits, labels):
    m = logits.max(axis=0, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=0, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def ce_logit(logits, labels):
    return float(-logits[np.arange(len(labels)), labels].mean())


def ce_all_classes(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    return float(-log_p.mean())


def ce_array(logits, labels):
    return np.array([cross_entropy_logsumexp(logits, labels)])


def dropout_unscaled(x, p, mask):
    return x * mask


def dropout_times_keep(x, p, mask):
    return x * mask * (1 - p)


def dropout_over_p(x, p, mask):
    return x * mask / p


def dropout_mask_reversed(x, p, mask):
    return x * ~mask / (1 - p)


def dropout_float64(x, p, mask):
    return x * (mask / (1 - p))


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch06.flatten", flatten_all, "mistake", "batch axis"),
    ("ch06.flatten", flatten_channels_last, "mistake", "channels innermost"),
    ("ch06.flatten", flatten_columns, "mistake", "column by column"),
    ("ch06.flatten", flatten_fortran, "mistake", "Fortran"),
    ("ch06.flatten", flatten_per_map, "mistake", "keeps the channels apart"),
    ("ch06.flatten", flatten_float64, "dtype", "float32"),
    ("ch06.max_pool2d", pool_average, "mistake", "average pooling"),
    ("ch06.max_pool2d", pool_stride_one, "mistake", "stride 1"),
    ("ch06.max_pool2d", pool_wrong_axes, "mistake", "window positions"),
    ("ch06.max_pool2d", pool_consecutive, "mistake", "consecutive in memory"),
    ("ch06.max_pool2d", pool_from_zero, "mistake", "negative"),
    ("ch06.max_pool2d", pool_global, "mistake", "global max pooling"),
    ("ch06.max_pool2d_backward", backward_spread, "mistake", "average"),
    ("ch06.max_pool2d_backward", backward_copy, "mistake", "all four entries"),
    ("ch06.max_pool2d_backward", backward_mask_only, "mistake", "multiply by"),
    ("ch06.max_pool2d_backward", backward_positive, "mistake", "positive entry"),
    ("ch06.max_pool2d_backward", backward_top_left, "mistake", "top-left"),
    ("ch06.max_pool2d_backward", backward_in_place, "mutated", "`x`"),
    ("ch06.cross_entropy", ce_sum, "mistake", "mean"),
    ("ch06.cross_entropy", ce_no_minus, "mistake", "sign"),
    ("ch06.cross_entropy", ce_naive, "mistake", "overflows"),
    ("ch06.cross_entropy", ce_wrong_axis, "mistake", "each column"),
    ("ch06.cross_entropy", ce_logit, "mistake", "logit of the right class"),
    ("ch06.cross_entropy", ce_all_classes, "mistake", "all classes"),
    ("ch06.cross_entropy", ce_array, "type", "number"),
    ("ch06.inverted_dropout", dropout_unscaled, "mistake", "not scaled"),
    ("ch06.inverted_dropout", dropout_times_keep, "mistake", "multiplies by 1 - p"),
    ("ch06.inverted_dropout", dropout_over_p, "mistake", "divides by p"),
    ("ch06.inverted_dropout", dropout_mask_reversed, "mistake", "wrong way round"),
    ("ch06.inverted_dropout", dropout_float64, "dtype", "float32"),
]


@pytest.mark.parametrize("name, fn, category, words", WRONG,
                         ids=[f"{n}-{f.__name__}" for n, f, _, _ in WRONG])
def test_wrong_answers_are_diagnosed(name, fn, category, words):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # the naive softmax overflows
        verdict = evaluate(name, fn)
    assert verdict.category == category, verdict.text()
    assert words in verdict.text(), verdict.text()


# -- the references agree with the book's kernels, finite differences and PyTorch ------
def test_max_pool_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 6))
    dout = rng.standard_normal((2, 3, 2, 3))
    numeric = numerical_gradient(max_pool2d, [x], dout)
    np.testing.assert_allclose(max_pool2d_backward(dout, x), numeric, atol=1e-6)


def test_flatten_and_pool_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 6, 8))
    np.testing.assert_array_equal(flatten(x), torch.nn.Flatten()(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(max_pool2d(x), torch.nn.functional.max_pool2d(torch.tensor(x), 2).numpy())


def test_cross_entropy_matches_torch_and_is_stable():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    z, t = rng.normal(0, 3, (7, 10)), rng.integers(0, 10, 7)
    expected = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(t)).item()
    assert np.isclose(cross_entropy(z, t), expected, rtol=1e-12)
    assert np.isclose(cross_entropy(np.array([[1000.0, 0.0, -1000.0]]), np.array([1])), 1000.0)
    assert np.isclose(cross_entropy(np.array([[2.0, 1.0, 0.1]]), np.array([0])),
                      -np.log(np.exp(2) / np.exp([2.0, 1.0, 0.1]).sum()))


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inverted_dropout_matches_dropout_kernel(p, dtype):
    x = np.random.default_rng(3).standard_normal((4, 3, 5, 5)).astype(dtype)
    out, (mask, _, _) = dropout_forward(x, p, training=True, rng=np.random.default_rng(4))
    keep = np.ones(x.shape, dtype=bool) if mask is None else mask != 0
    ours = inverted_dropout(x, p, keep)
    assert ours.dtype == out.dtype
    np.testing.assert_allclose(ours, out, rtol=1e-6, atol=0)


def test_verdicts_never_show_expected_values():
    z, t = np.array([[2.0, 1.0, 0.1]]), np.array([0])
    text = evaluate("ch06.cross_entropy", ce_sum).text()
    assert f"{cross_entropy(z, t):.6g}" not in text
