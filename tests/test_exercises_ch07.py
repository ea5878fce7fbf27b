"""Chapter 7's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, the references agree with cnnbook's batch norm,
finite differences and PyTorch, and no feedback holds the code of an answer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnbook import BatchNorm2d, Conv2d, Sequential
from cnnbook.exercises import evaluate, get
from cnnbook.exercises.ch07 import (bn_backward, channel_normalize, fold_into_conv,
                                    running_update)
from cnnbook.gradcheck import numerical_gradient


CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "07_batch_norm.ipynb"


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _bc(v, x):
    return np.reshape(v, (1, -1) + (1,) * (x.ndim - 2))


# -- right answers, written as different readers would -----------------------------------
def normalize_keepdims(x, gamma, beta, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return gamma.reshape(shape) * (x - mean) / np.sqrt(var + eps) + beta.reshape(shape)


def normalize_moveaxis(x, gamma, beta, eps=1e-5):
    # channels last, then every other value of a channel in one column
    moved = np.moveaxis(x, 1, -1)
    cols = moved.reshape(-1, x.shape[1])
    out = (cols - cols.mean(axis=0)) / np.sqrt(cols.var(axis=0) + eps) * gamma + beta
    return np.moveaxis(out.reshape(moved.shape), -1, 1)


def normalize_loop(x, gamma, beta, eps=1e-5):
    out = np.empty(x.shape)
    for c in range(x.shape[1]):
        v = x[:, c]
        m = v.sum() / v.size
        var = ((v - m) ** 2).sum() / v.size
        out[:, c] = gamma[c] * (v - m) / (var + eps) ** 0.5 + beta[c]
    return out


def normalize_float32(x, gamma, beta, eps=1e-5):
    return normalize_keepdims(x, gamma, beta, eps).astype(np.float32)


def backward_formula(dout, x, gamma, eps=1e-5):
    axes = _axes(x)
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes, keepdims=True)
    inv = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    xhat = (x - mean) * inv
    dgamma = (dout * xhat).sum(axis=axes)
    dbeta = dout.sum(axis=axes)
    dx = _bc(gamma, x) * inv / m * (m * dout - _bc(dbeta, x) - xhat * _bc(dgamma, x))
    return dx, dgamma, dbeta


def backward_graph(dout, x, gamma, eps=1e-5):
    # step by step through the graph: xc = x - mu, var, inv = (var + eps)^-1/2, xhat
    axes = _axes(x)
    m = x.size / x.shape[1]
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    var = (xc ** 2).mean(axis=axes, keepdims=True)
    inv = (var + eps) ** -0.5
    xhat = xc * inv
    dxhat = dout * _bc(gamma, x)
    dinv = (dxhat * xc).sum(axis=axes, keepdims=True)
    dvar = -0.5 * (var + eps) ** -1.5 * dinv
    dxc = dxhat * inv + dvar * 2 * xc / m
    dmu = -dxc.sum(axis=axes, keepdims=True)
    dx = dxc + dmu / m
    return dx, (dout * xhat).sum(axis=axes), dout.sum(axis=axes)


def backward_with_the_layer(dout, x, gamma, eps=1e-5):
    bn = BatchNorm2d(x.shape[1], eps=eps, dtype=np.float64) if x.ndim == 4 else None
    if bn is None:
        from cnnbook import BatchNorm1d
        bn = BatchNorm1d(x.shape[1], eps=eps, dtype=np.float64)
    bn.params["weight"][:] = gamma
    bn.forward(x)
    dx = bn.backward(dout)
    return dx, bn.grads["weight"], bn.grads["bias"]


def running_plain(running_mean, running_var, x, momentum=0.1):
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axis=axes)
    var = x.var(axis=axes, ddof=1)
    return (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var


def running_by_count(running_mean, running_var, x, momentum=0.1):
    cols = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)       # (C, M)
    m = cols.shape[1]
    mean = cols.sum(axis=1) / m
    biased = ((cols - mean[:, None]) ** 2).sum(axis=1) / m
    new_mean = running_mean + momentum * (mean - running_mean)
    new_var = running_var + momentum * (biased * m / (m - 1) - running_var)
    return new_mean, new_var


def running_copies(running_mean, running_var, x, momentum=0.1):
    rm, rv = running_mean.copy(), running_var.copy()    # update copies in place, like torch
    axes = tuple(a for a in range(x.ndim) if a != 1)
    rm *= 1 - momentum
    rm += momentum * x.mean(axis=axes)
    rv *= 1 - momentum
    rv += momentum * x.var(axis=axes, ddof=1)
    return rm, rv


def fold_broadcast(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    s = gamma / np.sqrt(running_var + eps)
    b = np.zeros_like(gamma) if bias is None else bias
    return weight * s[:, None, None, None], (b - running_mean) * s + beta


def fold_einsum(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    s = gamma * (running_var + eps) ** -0.5
    w = np.einsum("o,ochw->ochw", s, weight)
    if bias is None:
        return w, beta - s * running_mean
    return w, s * bias - s * running_mean + beta


def fold_loop(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    w = np.array(weight, dtype=np.float64)
    b = np.zeros(len(weight)) if bias is None else np.array(bias, dtype=np.float64)
    for o in range(len(weight)):
        s = gamma[o] / np.sqrt(running_var[o] + eps)
        w[o] = w[o] * s
        b[o] = s * (b[o] - running_mean[o]) + beta[o]
    return w, b


RIGHT = [
    ("ch07.channel_normalize", normalize_keepdims),
    ("ch07.channel_normalize", normalize_moveaxis),
    ("ch07.channel_normalize", normalize_loop),
    ("ch07.channel_normalize", normalize_float32),
    ("ch07.bn_backward", backward_formula),
    ("ch07.bn_backward", backward_graph),
    ("ch07.bn_backward", backward_with_the_layer),
    ("ch07.running_update", running_plain),
    ("ch07.running_update", running_by_count),
    ("ch07.running_update", running_copies),
    ("ch07.fold_into_conv", fold_broadcast),
    ("ch07.fold_into_conv", fold_einsum),
    ("ch07.fold_into_conv", fold_loop),
]


# -- wrong answers, and the diagnosis each must get ----------------------------------------
def normalize_per_pixel(x, gamma, beta, eps=1e-5):
    mean, var = x.mean(axis=0), x.var(axis=0)
    return _bc(gamma, x) * (x - mean) / np.sqrt(var + eps) + _bc(beta, x)


def normalize_per_example(x, gamma, beta, eps=1e-5):
    axes = tuple(range(1, x.ndim))
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return _bc(gamma, x) * (x - mean) / np.sqrt(var + eps) + _bc(beta, x)


def normalize_chen(x, gamma, beta, eps=1e-5):
    axes = _axes(x)
    mean, std = x.mean(axis=axes, keepdims=True), x.std(axis=axes, keepdims=True)
    return _bc(gamma, x) * (x - mean) / (std + eps) + _bc(beta, x)


def normalize_unbiased(x, gamma, beta, eps=1e-5):
    axes = _axes(x)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True, ddof=1)
    return _bc(gamma, x) * (x - mean) / np.sqrt(var + eps) + _bc(beta, x)


def normalize_swapped(x, gamma, beta, eps=1e-5):
    return normalize_keepdims(x, beta, gamma, eps)


def normalize_in_place(x, gamma, beta, eps=1e-5):
    x -= x.mean(axis=_axes(x), keepdims=True)
    x /= np.sqrt(x.var(axis=_axes(x), keepdims=True) + eps)
    return _bc(gamma, x) * x + _bc(beta, x)


def normalize_first_image(x, gamma, beta, eps=1e-5):
    return normalize_keepdims(x, gamma, beta, eps)[:1]


def backward_constants(dout, x, gamma, eps=1e-5):
    axes = _axes(x)
    inv = 1 / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    xhat = (x - x.mean(axis=axes, keepdims=True)) * inv
    return _bc(gamma, x) * inv * dout, (dout * xhat).sum(axis=axes), dout.sum(axis=axes)


def backward_no_variance_path(dout, x, gamma, eps=1e-5):
    dx, dgamma, dbeta = backward_constants(dout, x, gamma, eps)
    return dx - dx.mean(axis=_axes(x), keepdims=True), dgamma, dbeta


def backward_dgamma_plain(dout, x, gamma, eps=1e-5):
    dx, _, dbeta = backward_formula(dout, x, gamma, eps)
    return dx, dbeta, dbeta


def backward_no_gamma(dout, x, gamma, eps=1e-5):
    return backward_formula(dout, x, np.ones_like(gamma), eps)


def backward_per_pixel_sums(dout, x, gamma, eps=1e-5):
    dx, dgamma, dbeta = backward_formula(dout, x, gamma, eps)
    xhat = (x - x.mean(axis=_axes(x), keepdims=True)) / np.sqrt(x.var(axis=_axes(x), keepdims=True) + eps)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def backward_dx_only(dout, x, gamma, eps=1e-5):
    return backward_formula(dout, x, gamma, eps)[0]


def running_momentum_swapped(running_mean, running_var, x, momentum=0.1):
    return running_plain(running_mean, running_var, x, 1 - momentum)


def running_biased(running_mean, running_var, x, momentum=0.1):
    axes = _axes(x)
    return ((1 - momentum) * running_mean + momentum * x.mean(axis=axes),
            (1 - momentum) * running_var + momentum * x.var(axis=axes))


def running_per_pixel(running_mean, running_var, x, momentum=0.1):
    return ((1 - momentum) * running_mean + momentum * x.mean(axis=0),
            (1 - momentum) * running_var + momentum * x.var(axis=0, ddof=1))


def running_std(running_mean, running_var, x, momentum=0.1):
    axes = _axes(x)
    return ((1 - momentum) * running_mean + momentum * x.mean(axis=axes),
            (1 - momentum) * running_var + momentum * x.std(axis=axes, ddof=1))


def running_replaced(running_mean, running_var, x, momentum=0.1):
    axes = _axes(x)
    return x.mean(axis=axes), x.var(axis=axes, ddof=1)


def running_in_place(running_mean, running_var, x, momentum=0.1):
    axes = _axes(x)
    running_mean *= 1 - momentum
    running_mean += momentum * x.mean(axis=axes)
    running_var *= 1 - momentum
    running_var += momentum * x.var(axis=axes, ddof=1)
    return running_mean, running_var


def fold_input_channels(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    s = gamma / np.sqrt(running_var + eps)
    b = 0.0 if bias is None else bias
    return weight * s[None, :, None, None], s * (b - running_mean) + beta


def fold_chen(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    s = gamma / (np.sqrt(running_var) + eps)
    b = 0.0 if bias is None else bias
    return weight * s[:, None, None, None], s * (b - running_mean) + beta


def fold_bias_unscaled(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    s = gamma / np.sqrt(running_var + eps)
    b = 0.0 if bias is None else bias
    return weight * s[:, None, None, None], b - s * running_mean + beta


def fold_no_beta(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    w, b = fold_broadcast(weight, bias, gamma, beta, running_mean, running_var, eps)
    return w, b - beta


def fold_bias_none_fails(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    s = gamma / np.sqrt(running_var + eps)
    return weight * s[:, None, None, None], s * (bias - running_mean) + beta


def fold_in_place(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    s = gamma / np.sqrt(running_var + eps)
    weight *= s[:, None, None, None]
    b = 0.0 if bias is None else bias
    return weight, s * (b - running_mean) + beta


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch07.channel_normalize", normalize_per_pixel, "mistake", "per-pixel"),
    ("ch07.channel_normalize", normalize_per_example, "mistake", "layer normalization"),
    ("ch07.channel_normalize", normalize_chen, "mistake", "sqrt(var) + eps"),
    ("ch07.channel_normalize", normalize_unbiased, "mistake", "unbiased variance"),
    ("ch07.channel_normalize", normalize_swapped, "mistake", "swapped"),
    ("ch07.channel_normalize", normalize_in_place, "mutated", "`x`"),
    ("ch07.channel_normalize", normalize_first_image, "mistake", "one image"),
    ("ch07.bn_backward", backward_constants, "mistake", "constants"),
    ("ch07.bn_backward", backward_no_variance_path, "mistake", "not the one through the variance"),
    ("ch07.bn_backward", backward_dgamma_plain, "mistake", "without xhat"),
    ("ch07.bn_backward", backward_no_gamma, "mistake", "only when gamma is 1"),
    ("ch07.bn_backward", backward_per_pixel_sums, "mistake", "one entry per pixel"),
    ("ch07.bn_backward", backward_dx_only, "type", "3 items"),
    ("ch07.running_update", running_momentum_swapped, "mistake", "weighs the old average"),
    ("ch07.running_update", running_biased, "mistake", "biased variance"),
    ("ch07.running_update", running_per_pixel, "mistake", "one per pixel"),
    ("ch07.running_update", running_std, "mistake", "standard deviation"),
    ("ch07.running_update", running_replaced, "mistake", "replaced"),
    ("ch07.running_update", running_in_place, "mutated", "running_mean"),
    ("ch07.fold_into_conv", fold_input_channels, "mistake", "input channel"),
    ("ch07.fold_into_conv", fold_chen, "mistake", "sqrt(var) + eps"),
    ("ch07.fold_into_conv", fold_bias_unscaled, "mistake", "not scaled"),
    ("ch07.fold_into_conv", fold_no_beta, "mistake", "beta is missing"),
    ("ch07.fold_into_conv", fold_bias_none_fails, "exception", "None"),
    ("ch07.fold_into_conv", fold_in_place, "mutated", "`weight`"),
]


# -- the references agree with cnnbook's layers, finite differences and PyTorch --------
def test_channel_normalize_and_backward_match_torch_and_finite_differences():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for shape in [(5, 3), (3, 2, 4, 4)]:
        x = rng.standard_normal(shape) * 2 + 1
        gamma, beta = rng.uniform(0.5, 2, shape[1]), rng.standard_normal(shape[1])
        xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
        yt = torch.nn.functional.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
        np.testing.assert_allclose(channel_normalize(x, gamma, beta), yt.detach().numpy(), atol=1e-12)
        dout = rng.standard_normal(shape)
        yt.backward(torch.tensor(dout))
        for ours, theirs in zip(bn_backward(dout, x, gamma), (xt, gt, bt)):
            np.testing.assert_allclose(ours, theirs.grad.numpy(), atol=1e-10)
        numeric = numerical_gradient(lambda a: channel_normalize(a, gamma, beta), [x], dout)
        np.testing.assert_allclose(bn_backward(dout, x, gamma)[0], numeric, atol=1e-6)
        for right in (backward_formula, backward_graph):
            for a, b in zip(right(dout, x, gamma), bn_backward(dout, x, gamma)):
                np.testing.assert_allclose(a, b, atol=1e-10)


def test_running_update_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 2, 2)) + 2
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    tm, tv = torch.tensor(rm), torch.tensor(rv)
    torch.nn.functional.batch_norm(torch.tensor(x), tm, tv, training=True, momentum=0.3)
    new_mean, new_var = running_update(rm, rv, x, 0.3)
    np.testing.assert_allclose(new_mean, tm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(new_var, tv.numpy(), rtol=1e-12)


@pytest.mark.parametrize("with_bias", [True, False])
def test_folded_conv_equals_conv_then_batch_norm_in_eval_mode(with_bias):
    rng = np.random.default_rng(2)
    conv = Conv2d(2, 3, 3, padding=1, bias=with_bias, rng=rng, dtype=np.float64)
    bn = BatchNorm2d(3, dtype=np.float64)
    bn.params["weight"][:] = rng.uniform(0.5, 2, 3)
    bn.params["bias"][:] = rng.standard_normal(3)
    bn.buffers["running_mean"][:] = rng.standard_normal(3)
    bn.buffers["running_var"][:] = rng.uniform(0.5, 2, 3)
    net = Sequential(conv, bn).eval()
    x = rng.standard_normal((2, 2, 5, 5))
    w, b = fold_into_conv(conv.params["weight"], conv.params.get("bias"), bn.params["weight"],
                          bn.params["bias"], bn.buffers["running_mean"], bn.buffers["running_var"])
    folded = Conv2d(2, 3, 3, padding=1, dtype=np.float64)
    folded.params["weight"][...] = w
    folded.params["bias"][...] = b
    np.testing.assert_allclose(folded.forward(x), net.forward(x), atol=1e-12)


def test_the_exercises_are_the_chapters():
    assert [get(n).name for n in ("ch07.channel_normalize", "ch07.bn_backward",
                                  "ch07.running_update", "ch07.fold_into_conv")]
    assert evaluate("ch07.bn_backward", backward_graph).passed
