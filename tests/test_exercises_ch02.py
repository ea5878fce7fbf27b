"""Chapter 2's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, the references agree with cnnbook's kernels,
PyTorch and finite differences, and no feedback holds the code of an answer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnnbook import sigmoid
from cnnbook.batchnorm import batch_norm_forward
from cnnbook.conv import conv2d_backward, conv2d_forward
from cnnbook.dense import dense_forward
from cnnbook.exercises import get
from cnnbook.exercises.ch02 import (bias_grad, boundary_through, fold_batchnorm,
                                    place_sigmoid, ridge_with_bias)
from cnnbook.gradcheck import numerical_gradient


CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "02_bias.ipynb"


# -- right answers, written as different readers would ----------------------------------
def place_sigmoid_logit(x_lo, x_hi):
    logit = lambda p: np.log(p / (1 - p))
    w = (logit(0.9) - logit(0.1)) / (x_hi - x_lo)
    return w, logit(0.1) - w * x_lo


def place_sigmoid_solve(x_lo, x_hi):
    A = np.array([[x_lo, 1.0], [x_hi, 1.0]])
    w, b = np.linalg.solve(A, [-np.log(9), np.log(9)])
    return float(w), float(b)


def place_sigmoid_threshold(x_lo, x_hi):
    w = 2 * np.log(9) / (x_hi - x_lo)
    x_star = (x_lo + x_hi) / 2
    return w, -w * x_star


def boundary_rotation(p, q):
    quarter_turn = np.array([[0.0, -1.0], [1.0, 0.0]])
    w = quarter_turn @ (q - p)
    w = w / np.linalg.norm(w)
    return w, -w @ p


def boundary_from_q(p, q):
    dx, dy = q[0] - p[0], q[1] - p[1]
    length = np.sqrt(dx**2 + dy**2)
    w = np.array([-dy, dx]) / length
    return w, -(w[0] * q[0] + w[1] * q[1])


def boundary_line_equation(p, q):
    # a x1 + c x2 = d through both points, then scaled and oriented
    a, c = p[1] - q[1], q[0] - p[0]
    d = a * p[0] + c * p[1]
    norm = np.hypot(a, c)
    return np.array([a, c], dtype=np.float64) / norm, float(-d / norm)


def fold_rows(weight, bias, gamma, beta, mean, var, eps=1e-5):
    s = gamma / np.sqrt(var + eps)
    b = np.zeros_like(mean) if bias is None else bias
    return weight * s[:, None], s * (b - mean) + beta


def fold_diag(weight, bias, gamma, beta, mean, var, eps=1e-5):
    S = np.diag(gamma / np.sqrt(var + eps))
    b = np.zeros(len(gamma)) if bias is None else bias
    return S @ weight, S @ (b - mean) + beta


def fold_by_probing(weight, bias, gamma, beta, mean, var, eps=1e-5):
    # run the two layers on the zero input and on the unit vectors
    def two_layers(x):
        z = x @ weight.T + (0 if bias is None else bias)
        return gamma * (z - mean) / np.sqrt(var + eps) + beta
    new_bias = two_layers(np.zeros(weight.shape[1]))
    new_weight = (two_layers(np.eye(weight.shape[1])) - new_bias).T
    return new_weight, new_bias


def ridge_block(X, y, lam):
    # the bias folded in as a column of ones first, left out of the penalty
    A = np.hstack([np.ones((len(X), 1)), X])
    P = lam * np.eye(A.shape[1])
    P[0, 0] = 0.0
    v = np.linalg.solve(A.T @ A + P, A.T @ y)
    return v[1:], v[0]


def ridge_augmented_lstsq(X, y, lam):
    n, d = X.shape
    A = np.vstack([np.hstack([np.ones((n, 1)), X]),
                   np.hstack([np.zeros((d, 1)), np.sqrt(lam) * np.eye(d)])])
    v, *_ = np.linalg.lstsq(A, np.concatenate([y, np.zeros(d)]), rcond=None)
    return v[1:], float(v[0])


def ridge_centred(X, y, lam):
    X, y = X.astype(np.float64), y.astype(np.float64)
    mx, my = X.mean(axis=0), y.mean()
    w = np.linalg.solve((X - mx).T @ (X - mx) + lam * np.eye(X.shape[1]), (X - mx).T @ (y - my))
    return w, my - mx @ w


def bias_grad_sum_to(dout, shape):
    g = dout
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def bias_grad_reshape(dout, shape):
    lead = dout.ndim - len(shape)
    full = (1,) * lead + tuple(shape)
    axes = tuple(i for i, (n, m) in enumerate(zip(full, dout.shape)) if n == 1 and m != 1)
    return dout.sum(axis=axes).reshape(shape)


def bias_grad_by_broadcast_jacobian(dout, shape):
    # the gradient of sum(dout * (x + b)) with respect to b, one entry at a time
    grad = np.zeros(shape)
    for index in np.ndindex(*shape):
        e = np.zeros(shape)
        e[index] = 1.0
        grad[index] = np.sum(dout * np.broadcast_to(e, dout.shape))
    return grad


RIGHT = [
    ("ch02.place_sigmoid", place_sigmoid_logit),
    ("ch02.place_sigmoid", place_sigmoid_solve),
    ("ch02.place_sigmoid", place_sigmoid_threshold),
    ("ch02.boundary_through", boundary_rotation),
    ("ch02.boundary_through", boundary_from_q),
    ("ch02.boundary_through", boundary_line_equation),
    ("ch02.fold_batchnorm", fold_rows),
    ("ch02.fold_batchnorm", fold_diag),
    ("ch02.fold_batchnorm", fold_by_probing),
    ("ch02.ridge_with_bias", ridge_block),
    ("ch02.ridge_with_bias", ridge_augmented_lstsq),
    ("ch02.ridge_with_bias", ridge_centred),
    ("ch02.bias_grad", bias_grad_sum_to),
    ("ch02.bias_grad", bias_grad_reshape),
    ("ch02.bias_grad", bias_grad_by_broadcast_jacobian),
]


# -- wrong answers, and the diagnosis each must get ----------------------------------------
def sigmoid_half_rise(x_lo, x_hi):
    w = np.log(9) / (x_hi - x_lo)
    return w, -w * (x_lo + x_hi) / 2


def sigmoid_linearised(x_lo, x_hi):
    w = 4 * 0.8 / (x_hi - x_lo)            # from the slope w/4 at the threshold
    return w, -w * (x_lo + x_hi) / 2


def sigmoid_log_p(x_lo, x_hi):
    w = 2 * np.log(0.9) / (x_hi - x_lo)          # ln p instead of ln(p / (1 - p))
    return w, -w * (x_lo + x_hi) / 2


def sigmoid_bias_sign(x_lo, x_hi):
    w = 2 * np.log(9) / (x_hi - x_lo)
    return w, w * (x_lo + x_hi) / 2


def sigmoid_bias_is_midpoint(x_lo, x_hi):
    return 2 * np.log(9) / (x_hi - x_lo), -(x_lo + x_hi) / 2


def sigmoid_threshold_at_x_lo(x_lo, x_hi):
    w = 2 * np.log(9) / (x_hi - x_lo)
    return w, -w * x_lo


def sigmoid_falls(x_lo, x_hi):
    w = 2 * np.log(9) / (x_lo - x_hi)
    return w, -w * (x_lo + x_hi) / 2


def sigmoid_array(x_lo, x_hi):
    w = 2 * np.log(9) / (x_hi - x_lo)
    return np.array([w, -w * (x_lo + x_hi) / 2])


def boundary_right_side(p, q):
    d = q - p
    w = np.array([d[1], -d[0]]) / np.linalg.norm(d)
    return w, -w @ p


def boundary_threshold_sign(p, q):
    d = q - p
    w = np.array([-d[1], d[0]]) / np.linalg.norm(d)
    return w, w @ p


def boundary_not_unit(p, q):
    d = q - p
    w = np.array([-d[1], d[0]])
    return w, -w @ p


def boundary_bias_before_scaling(p, q):
    d = q - p
    w = np.array([-d[1], d[0]])
    b = -w @ p
    return w / np.linalg.norm(w), b


def boundary_along_the_line(p, q):
    w = (q - p) / np.linalg.norm(q - p)
    return w, -w @ p


def boundary_b_first(p, q):
    w, b = boundary_through(p, q)
    return b, w


def fold_columns(weight, bias, gamma, beta, mean, var, eps=1e-5):
    s = gamma / np.sqrt(var + eps)
    return weight * s, s * (bias - mean) + beta


def fold_without_eps(weight, bias, gamma, beta, mean, var, eps=1e-5):
    s = gamma / np.sqrt(var)
    b = 0.0 if bias is None else bias
    return s[:, None] * weight, s * (b - mean) + beta


def fold_by_variance(weight, bias, gamma, beta, mean, var, eps=1e-5):
    s = gamma / (var + eps)
    b = 0.0 if bias is None else bias
    return s[:, None] * weight, s * (b - mean) + beta


def fold_mean_unscaled(weight, bias, gamma, beta, mean, var, eps=1e-5):
    s = gamma / np.sqrt(var + eps)
    b = 0.0 if bias is None else bias
    return s[:, None] * weight, s * b - mean + beta


def fold_mean_added(weight, bias, gamma, beta, mean, var, eps=1e-5):
    s = gamma / np.sqrt(var + eps)
    b = 0.0 if bias is None else bias
    return s[:, None] * weight, s * (b + mean) + beta


def fold_no_beta(weight, bias, gamma, beta, mean, var, eps=1e-5):
    s = gamma / np.sqrt(var + eps)
    b = 0.0 if bias is None else bias
    return s[:, None] * weight, s * (b - mean)


def fold_bias_unscaled(weight, bias, gamma, beta, mean, var, eps=1e-5):
    s = gamma / np.sqrt(var + eps)
    b = 0.0 if bias is None else bias
    return s[:, None] * weight, b + beta - s * mean


def fold_crashes_without_bias(weight, bias, gamma, beta, mean, var, eps=1e-5):
    s = gamma / np.sqrt(var + eps)
    return s[:, None] * weight, s * (bias - mean) + beta


def fold_in_place(weight, bias, gamma, beta, mean, var, eps=1e-5):
    s = gamma / np.sqrt(var + eps)
    weight *= s[:, None]
    b = 0.0 if bias is None else bias
    return weight, s * (b - mean) + beta


def ridge_penalised_bias(X, y, lam):
    A = np.hstack([np.ones((len(X), 1)), X])
    v = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ y)
    return v[1:], v[0]


def ridge_uncentred(X, y, lam):
    w = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ (y - y.mean()))
    return w, y.mean() - X.mean(axis=0) @ w


def ridge_bias_is_mean(X, y, lam):
    w, _ = ridge_centred(X, y, lam)
    return w, y.mean()


def ridge_no_bias(X, y, lam):
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y), 0.0


def ridge_least_squares(X, y, lam):
    A = np.hstack([np.ones((len(X), 1)), X])
    v, *_ = np.linalg.lstsq(A, y, rcond=None)
    return v[1:], v[0]


def ridge_lam_everywhere(X, y, lam):
    Xc = X - X.mean(axis=0)
    w = np.linalg.solve(Xc.T @ Xc + lam, Xc.T @ (y - y.mean()))
    return w, y.mean() - X.mean(axis=0) @ w


def ridge_mean_loss(X, y, lam):
    Xc = X - X.mean(axis=0)
    w = np.linalg.solve(Xc.T @ Xc + len(X) * lam * np.eye(X.shape[1]), Xc.T @ (y - y.mean()))
    return w, y.mean() - X.mean(axis=0) @ w


def ridge_b_first(X, y, lam):
    w, b = ridge_centred(X, y, lam)
    return b, w


def grad_mean(dout, shape):
    return bias_grad_sum_to(dout, shape) * np.prod(shape) / dout.size


def grad_batch_only(dout, shape):
    return dout.sum(axis=0) if dout.ndim > len(shape) else dout


def grad_leading_only(dout, shape):
    g = dout
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    return g


def grad_first_example(dout, shape):
    return bias_grad_sum_to(dout[0], shape) if dout.ndim > len(shape) else dout


def grad_channels_reflex(dout, shape):
    axes = tuple(i for i in range(dout.ndim) if i != dout.ndim - len(shape))
    return dout.sum(axis=axes)


def grad_without_keepdims(dout, shape):
    lead = dout.ndim - len(shape)
    full = (1,) * lead + tuple(shape)
    return dout.sum(axis=tuple(i for i, n in enumerate(full) if n == 1 and dout.shape[i] != 1))


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch02.place_sigmoid", sigmoid_half_rise, "mistake", "twice the distance"),
    ("ch02.place_sigmoid", sigmoid_linearised, "mistake", "not straight"),
    ("ch02.place_sigmoid", sigmoid_log_p, "mistake", "ln 0.9"),
    ("ch02.place_sigmoid", sigmoid_bias_sign, "mistake", "minus the midpoint"),
    ("ch02.place_sigmoid", sigmoid_bias_is_midpoint, "mistake", "only when w = 1"),
    ("ch02.place_sigmoid", sigmoid_threshold_at_x_lo, "mistake", "1/2 at x_lo"),
    ("ch02.place_sigmoid", sigmoid_falls, "mistake", "wrong way"),
    ("ch02.place_sigmoid", sigmoid_array, "type", "tuple"),
    ("ch02.boundary_through", boundary_right_side, "mistake", "wrong side"),
    ("ch02.boundary_through", boundary_threshold_sign, "mistake", "not theta"),
    ("ch02.boundary_through", boundary_not_unit, "mistake", "length 1"),
    ("ch02.boundary_through", boundary_bias_before_scaling, "mistake", "before w was scaled"),
    ("ch02.boundary_through", boundary_along_the_line, "mistake", "perpendicular"),
    ("ch02.boundary_through", boundary_b_first, "mistake", "wrong order"),
    ("ch02.fold_batchnorm", fold_columns, "mistake", "column of the weight"),
    ("ch02.fold_batchnorm", fold_without_eps, "mistake", "eps is left out"),
    ("ch02.fold_batchnorm", fold_by_variance, "mistake", "divides by the variance"),
    ("ch02.fold_batchnorm", fold_mean_unscaled, "mistake", "without the factor"),
    ("ch02.fold_batchnorm", fold_mean_added, "mistake", "added instead"),
    ("ch02.fold_batchnorm", fold_no_beta, "mistake", "beta is missing"),
    ("ch02.fold_batchnorm", fold_bias_unscaled, "mistake", "own bias is not scaled"),
    ("ch02.fold_batchnorm", fold_crashes_without_bias, "exception", "bias is None"),
    ("ch02.fold_batchnorm", fold_in_place, "mutated", "`weight`"),
    ("ch02.ridge_with_bias", ridge_penalised_bias, "mistake", "shrinks the bias too"),
    ("ch02.ridge_with_bias", ridge_uncentred, "mistake", "not centred"),
    ("ch02.ridge_with_bias", ridge_bias_is_mean, "mistake", "mean of y"),
    ("ch02.ridge_with_bias", ridge_no_bias, "mistake", "There is no bias"),
    ("ch02.ridge_with_bias", ridge_least_squares, "mistake", "penalty is ignored"),
    ("ch02.ridge_with_bias", ridge_lam_everywhere, "mistake", "every entry"),
    ("ch02.ridge_with_bias", ridge_mean_loss, "values", "huge penalty"),
    ("ch02.ridge_with_bias", ridge_b_first, "values", "holds what"),
    ("ch02.bias_grad", grad_mean, "mistake", "averages"),
    ("ch02.bias_grad", grad_batch_only, "mistake", "leading (batch) axes"),
    ("ch02.bias_grad", grad_leading_only, "mistake", "leading (batch) axes"),
    ("ch02.bias_grad", grad_first_example, "mistake", "first example"),
    ("ch02.bias_grad", grad_channels_reflex, "mistake", "axes of length 1"),
    ("ch02.bias_grad", grad_without_keepdims, "mistake", "axes of length 1"),
]


# -- the references agree with the book's kernels, PyTorch and finite differences -------
def test_place_sigmoid_gives_the_two_levels():
    for c in get("ch02.place_sigmoid").all_cases():
        x_lo, x_hi = c.args
        w, b = place_sigmoid(x_lo, x_hi)
        np.testing.assert_allclose(sigmoid(np.array([w * x_lo + b, w * x_hi + b])), [0.1, 0.9],
                                   rtol=1e-9)


def test_boundary_through_passes_through_both_points_and_fires_on_the_left():
    for c in get("ch02.boundary_through").all_cases():
        p, q = (np.asarray(a, np.float64) for a in c.args)
        w, b = boundary_through(p, q)
        assert abs(w @ p + b) < 1e-9 and abs(w @ q + b) < 1e-9
        assert np.isclose(np.linalg.norm(w), 1.0)
        d = q - p
        assert w @ (p + np.array([-d[1], d[0]])) + b > 0     # a point on the left fires
    w, b = boundary_through(np.array([3.0, 0.0]), np.array([0.0, 3.0]))
    assert np.isclose(abs(b), 3 / np.sqrt(2))                # |b| = distance to the origin
    assert b > 0                                             # the origin is on the left: it fires


def test_fold_batchnorm_matches_the_batch_norm_kernel_and_torch():
    for c in get("ch02.fold_batchnorm").all_cases():
        weight, bias, gamma, beta, mean, var, *rest = (
            a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in c.args)
        eps = rest[0] if rest else 1e-5
        x = np.random.default_rng(0).standard_normal((7, weight.shape[1]))
        z, _ = dense_forward(x, weight, bias)
        expected, _ = batch_norm_forward(z, mean.copy(), var.copy(), gamma, beta, eps=eps)
        folded_weight, folded_bias = fold_batchnorm(*c.args)
        np.testing.assert_allclose(x @ folded_weight.T + folded_bias, expected, rtol=1e-9, atol=1e-9)
        bn = torch.nn.BatchNorm1d(len(gamma), eps=eps, dtype=torch.float64).eval()
        with torch.no_grad():
            bn.weight[:], bn.bias[:] = torch.tensor(gamma), torch.tensor(beta)
            bn.running_mean[:], bn.running_var[:] = torch.tensor(mean), torch.tensor(var)
            out = bn(torch.tensor(z)).numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_ridge_with_bias_zeroes_the_gradient_of_its_objective():
    for c in get("ch02.ridge_with_bias").all_cases():
        X, y, lam = c.args
        X, y = X.astype(np.float64), y.astype(np.float64)
        w, b = ridge_with_bias(X, y, lam)
        r = X @ w + b - y
        grad_w, grad_b = 2 * X.T @ r + 2 * lam * w, 2 * r.sum()
        scale = 1 + np.abs(X).max() * np.abs(y).max() * len(y)
        assert np.abs(grad_w).max() < 1e-8 * scale and abs(grad_b) < 1e-8 * scale
    X = np.random.default_rng(1).standard_normal((40, 2)) + 100
    y = X @ np.array([1.0, -2.0]) + 5
    w, b = ridge_with_bias(X, y, 1e6)
    assert np.abs(w).max() < 0.1 and abs(b - y.mean()) < 1.0   # all shrinking, the bias free


def test_bias_grad_matches_finite_differences_and_the_conv_kernel():
    rng = np.random.default_rng(2)
    for c in get("ch02.bias_grad").all_cases():
        dout, shape = c.args
        dout = dout.astype(np.float64)
        x = rng.standard_normal(dout.shape)
        numeric = numerical_gradient(lambda b: x + b, [rng.standard_normal(shape)], dout)
        np.testing.assert_allclose(bias_grad(dout, shape), numeric, atol=1e-6)
    x, weight, bias = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3)), \
        rng.standard_normal(4)
    out, cache = conv2d_forward(x, weight, bias, padding=1)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(bias_grad(dout, (4,) + (1, 1))[:, 0, 0],
                               conv2d_backward(dout, cache)[2], rtol=1e-12)
