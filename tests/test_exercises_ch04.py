"""Chapter 4's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, the references agree with cnnbook and PyTorch,
and no feedback holds the code of an answer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnbook import Dense, Sequential, Tanh, losses
from cnnbook.exercises import evaluate, get
from cnnbook.exercises.ch04 import (adam_step, mlp_gradients, numerical_backward,
                                    project, running_sum, smoothed_cross_entropy,
                                    softmax_rows)
from cnnbook.gradcheck import numerical_gradient
from cnnbook.optim import Adam


CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "04_backpropagation.ipynb"


# -- right answers, written as different readers would -----------------------------------
def mlp_vectorised(x, target, w1, b1, w2, b2):
    z = x @ w1.T + b1
    h = np.tanh(z)
    y = h @ w2.T + b2
    dy = y - target
    dz = (dy @ w2) * (1 - h**2)
    return dz.T @ x, dz.sum(axis=0), dy.T @ h, dy.sum(axis=0)


def mlp_per_example(x, target, w1, b1, w2, b2):
    grads = [np.zeros_like(w1), np.zeros_like(b1), np.zeros_like(w2), np.zeros_like(b2)]
    for xn, tn in zip(x, target):
        h = np.tanh(w1 @ xn + b1)
        dy = w2 @ h + b2 - tn
        dz = (w2.T @ dy) * (1 - h * h)
        for g, add in zip(grads, (np.outer(dz, xn), dz, np.outer(dy, h), dy)):
            g += add
    return tuple(grads)


def mlp_cosh(x, target, w1, b1, w2, b2):
    x, target, w1, b1, w2, b2 = (a.astype(np.float64) for a in (x, target, w1, b1, w2, b2))
    z = np.einsum("nd,hd->nh", x, w1) + b1
    y = np.einsum("nh,kh->nk", np.tanh(z), w2) + b2
    dz = np.einsum("nk,kh->nh", y - target, w2) / np.cosh(z) ** 2     # tanh' = 1 / cosh^2
    return (np.einsum("nh,nd->hd", dz, x), dz.sum(0),
            np.einsum("nk,nh->kh", y - target, np.tanh(z)), (y - target).sum(0))


def mlp_with_layers(x, target, w1, b1, w2, b2):
    dtype = x.dtype
    net = Sequential(Dense(w1.shape[1], w1.shape[0], dtype=dtype), Tanh(),
                     Dense(w2.shape[1], w2.shape[0], dtype=dtype))
    for layer, w, b in ((net[0], w1, b1), (net[2], w2, b2)):
        layer.params["weight"][...] = w
        layer.params["bias"][...] = b
    net.zero_grad()
    _, dy = losses.half_sum_squared_error(net.forward(x), target)
    net.backward(dy)
    return (net[0].grads["weight"], net[0].grads["bias"], net[2].grads["weight"],
            net[2].grads["bias"])


def sce_logsumexp(logits, labels, smoothing=0.0):
    n, c = logits.shape
    m = logits.max(axis=1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    q = np.full((n, c), smoothing / c)
    q[np.arange(n), labels] += 1 - smoothing
    return float(-(q * log_p).sum() / n), (np.exp(log_p) - q) / n


def sce_loops(logits, labels, smoothing=0.0):
    n, c = logits.shape
    loss, grad = 0.0, np.zeros((n, c))
    for i in range(n):
        z = logits[i].astype(np.float64)
        lse = np.logaddexp.reduce(z)
        target = np.full(c, smoothing / c)
        target[labels[i]] += 1 - smoothing
        loss -= np.dot(target, z - lse) / n
        grad[i] = (np.exp(z - lse) - target) / n
    return loss, grad


def sce_keeps_dtype(logits, labels, smoothing=0.0):
    n, c = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    one_hot = np.eye(c, dtype=logits.dtype)[labels]
    q = (1 - smoothing) * one_hot + smoothing / c
    loss = -np.mean(np.sum(q * log_p, axis=1))
    return loss, ((np.exp(log_p) - q) / n).astype(logits.dtype)


def sce_two_terms(logits, labels, smoothing=0.0):
    # (1 - eps) * the usual loss + eps * the mean of -log p over the classes
    n, c = logits.shape
    m = logits.max(axis=1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    nll = -log_p[np.arange(n), labels].mean()
    uniform = -log_p.mean(axis=1).mean()
    p = np.exp(log_p)
    y = np.eye(c)[labels]
    grad = ((1 - smoothing) * (p - y) + smoothing * (p - 1 / c)) / n
    return [(1 - smoothing) * nll + smoothing * uniform, grad]


def adam_plain(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    s = b2 * s + (1 - b2) * grad**2
    m_hat = m / (1 - b1**t)
    s_hat = s / (1 - b2**t)
    return param - lr * m_hat / (np.sqrt(s_hat) + eps), m, s


def adam_torch_style(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    m, s, param = m.copy(), s.copy(), param.copy()
    m += (1 - betas[0]) * (grad - m)                 # torch's lerp
    s *= betas[1]
    s += (1 - betas[1]) * grad * grad
    step_size = lr / (1 - betas[0] ** t)
    denom = np.sqrt(s) / np.sqrt(1 - betas[1] ** t) + eps
    param -= step_size * m / denom
    return param, m, s


def adam_float64(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    param, grad, m, s = (np.asarray(a, dtype=np.float64) for a in (param, grad, m, s))
    return adam_plain(param, grad, m, s, t, lr, betas, eps)


def adam_with_the_optimizer(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    p = {"w": param.copy()}
    opt = Adam([(p, {"w": grad}, "w")], lr=lr, betas=betas, eps=eps)
    opt.state[0].update(step=t - 1, exp_avg=m.copy(), exp_avg_sq=s.copy())
    opt.step()
    return p["w"], opt.state[0]["exp_avg"], opt.state[0]["exp_avg_sq"]


def numback_restore(f, x, dout, h=1e-6):
    x = x.copy()
    grad = np.zeros(x.shape)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        up = np.sum(f(x) * dout)
        x[i] = old - h
        down = np.sum(f(x) * dout)
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def numback_basis(f, x, dout, h=1e-6):
    grad = np.zeros(x.size)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        e = e.reshape(x.shape)
        grad[k] = np.vdot(f(x + e) - f(x - e), dout) / (2 * h)
    return grad.reshape(x.shape)


def numback_jacobian(f, x, dout, h=1e-6):
    # the Jacobian by central differences, then J^T dout
    columns = []
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = h
        columns.append(((f(x + e) - f(x - e)) / (2 * h)).ravel())
    jacobian = np.stack(columns, axis=1)                    # (outputs, inputs)
    return (np.ravel(dout) @ jacobian).reshape(x.shape)


def numback_loss_closure(f, x, dout, h=1e-6):
    loss = lambda a: float(np.sum(np.asarray(f(a)) * dout))
    grad = np.empty_like(x, dtype=float)
    for i in np.ndindex(*x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += h
        minus[i] -= h
        grad[i] = (loss(plus) - loss(minus)) / (2 * h)
    return grad


RIGHT = [
    ("ch04.mlp_gradients", mlp_vectorised),
    ("ch04.mlp_gradients", mlp_per_example),
    ("ch04.mlp_gradients", mlp_cosh),
    ("ch04.mlp_gradients", mlp_with_layers),
    ("ch04.smoothed_cross_entropy", sce_logsumexp),
    ("ch04.smoothed_cross_entropy", sce_loops),
    ("ch04.smoothed_cross_entropy", sce_keeps_dtype),
    ("ch04.smoothed_cross_entropy", sce_two_terms),
    ("ch04.adam_step", adam_plain),
    ("ch04.adam_step", adam_torch_style),
    ("ch04.adam_step", adam_float64),
    ("ch04.adam_step", adam_with_the_optimizer),
    ("ch04.numerical_backward", numback_restore),
    ("ch04.numerical_backward", numback_basis),
    ("ch04.numerical_backward", numback_jacobian),
    ("ch04.numerical_backward", numback_loss_closure),
]


# -- wrong answers, and the diagnosis each must get ----------------------------------------
def _mlp(dz_rule=lambda dh, z, h: dh * (1 - h * h), dy_rule=lambda y, t: y - t,
         back=lambda dy, w2: dy @ w2, bias_b1=True):
    def wrong(x, target, w1, b1, w2, b2):
        z = x @ w1.T + (b1 if bias_b1 else 0)
        h = np.tanh(z)
        y = h @ w2.T + b2
        dy = dy_rule(y, target)
        dz = dz_rule(back(dy, w2), z, h)
        return dz.T @ x, dz.sum(axis=0), dy.T @ h, dy.sum(axis=0)
    return wrong


def mlp_no_tanh_slope(x, target, w1, b1, w2, b2):
    return _mlp(dz_rule=lambda dh, z, h: dh)(x, target, w1, b1, w2, b2)


def mlp_slope_of_z(x, target, w1, b1, w2, b2):
    return _mlp(dz_rule=lambda dh, z, h: dh * (1 - z**2))(x, target, w1, b1, w2, b2)


def mlp_sigmoid_slope(x, target, w1, b1, w2, b2):
    return _mlp(dz_rule=lambda dh, z, h: dh * h * (1 - h))(x, target, w1, b1, w2, b2)


def mlp_w2_transposed(x, target, w1, b1, w2, b2):
    return _mlp(back=lambda dy, w2: dy @ w2.T)(x, target, w1, b1, w2, b2)


def mlp_sign(x, target, w1, b1, w2, b2):
    return _mlp(dy_rule=lambda y, t: t - y)(x, target, w1, b1, w2, b2)


def mlp_no_half(x, target, w1, b1, w2, b2):
    return _mlp(dy_rule=lambda y, t: 2 * (y - t))(x, target, w1, b1, w2, b2)


def mlp_mean(x, target, w1, b1, w2, b2):
    return _mlp(dy_rule=lambda y, t: (y - t) / len(y))(x, target, w1, b1, w2, b2)


def mlp_bias_mean(x, target, w1, b1, w2, b2):
    dw1, db1, dw2, db2 = mlp_vectorised(x, target, w1, b1, w2, b2)
    return dw1, db1 / len(x), dw2, db2 / len(x)


def mlp_dw1_transposed(x, target, w1, b1, w2, b2):
    dw1, db1, dw2, db2 = mlp_vectorised(x, target, w1, b1, w2, b2)
    return dw1.T, db1, dw2, db2


def mlp_order(x, target, w1, b1, w2, b2):
    dw1, db1, dw2, db2 = mlp_vectorised(x, target, w1, b1, w2, b2)
    return dw2, db2, dw1, db1


def mlp_forgets_b1(x, target, w1, b1, w2, b2):
    return _mlp(bias_b1=False)(x, target, w1, b1, w2, b2)


def sce_unsmoothed(logits, labels, smoothing=0.0):
    return sce_logsumexp(logits, labels, 0.0)


def sce_spread_over_others(logits, labels, smoothing=0.0):
    n, c = logits.shape
    m = logits.max(axis=1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    q = np.full((n, c), smoothing / (c - 1))
    q[np.arange(n), labels] = 1 - smoothing
    return float(-(q * log_p).sum() / n), (np.exp(log_p) - q) / n


def sce_eps_everywhere(logits, labels, smoothing=0.0):
    n, c = logits.shape
    m = logits.max(axis=1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
    q = np.eye(c)[labels] * (1 - smoothing) + smoothing
    return float(-(q * log_p).sum() / n), (np.exp(log_p) * q.sum(1, keepdims=True) - q) / n


def sce_sum(logits, labels, smoothing=0.0):
    loss, grad = sce_logsumexp(logits, labels, smoothing)
    return loss * len(logits), grad * len(logits)


def sce_sign(logits, labels, smoothing=0.0):
    loss, grad = sce_logsumexp(logits, labels, smoothing)
    return loss, -grad


def sce_axis0(logits, labels, smoothing=0.0):
    n, c = logits.shape
    m = logits.max(axis=0, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(axis=0, keepdims=True))
    q = np.full((n, c), smoothing / c)
    q[np.arange(n), labels] += 1 - smoothing
    return float(-(q * log_p).sum() / n), (np.exp(log_p) - q) / n


def _shifted(logits, labels, smoothing, shift):
    n, c = logits.shape
    e = np.exp(logits - shift)
    p = e / e.sum(axis=1, keepdims=True)
    q = np.full((n, c), smoothing / c)
    q[np.arange(n), labels] += 1 - smoothing
    return float(-(q * np.log(p)).sum() / n), (p - q) / n


def sce_no_shift(logits, labels, smoothing=0.0):
    return _shifted(logits, labels, smoothing, 0.0)


def sce_row_mean_shift(logits, labels, smoothing=0.0):
    return _shifted(logits, labels, smoothing, logits.mean(axis=1, keepdims=True))


def sce_row_min_shift(logits, labels, smoothing=0.0):
    return _shifted(logits, labels, smoothing, logits.min(axis=1, keepdims=True))


def sce_log_of_p(logits, labels, smoothing=0.0):
    # shifted by the maximum, so the softmax is fine, but log(p) of a rounded-to-0 p is not
    return _shifted(logits, labels, smoothing, logits.max(axis=1, keepdims=True))


def sce_no_default(logits, labels, smoothing):
    return sce_logsumexp(logits, labels, smoothing)


def sce_swapped(logits, labels, smoothing=0.0):
    loss, grad = sce_logsumexp(logits, labels, smoothing)
    return grad, loss


def adam_uncorrected(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    m = betas[0] * m + (1 - betas[0]) * grad
    s = betas[1] * s + (1 - betas[1]) * grad**2
    return param - lr * m / (np.sqrt(s) + eps), m, s


def adam_t_minus_one(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    return adam_plain(param, grad, m, s, t - 1, lr, betas, eps)


def adam_eps_inside(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    s = b2 * s + (1 - b2) * grad**2
    return param - lr * (m / (1 - b1**t)) / np.sqrt(s / (1 - b2**t) + eps), m, s


def adam_raw_gradient(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    s = b2 * s + (1 - b2) * grad**2
    return param - lr * grad / (np.sqrt(s / (1 - b2**t)) + eps), m, s


def adam_momentum_m(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    m = b1 * m + grad
    s = b2 * s + (1 - b2) * grad**2
    return param - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps), m, s


def adam_s_of_g(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    s = b2 * s + (1 - b2) * grad
    with np.errstate(invalid="ignore"):
        return param - lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps), m, s


def adam_uphill(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    new, m, s = adam_plain(param, grad, m, s, t, lr, betas, eps)
    return 2 * param - new, m, s


def adam_in_place(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    m *= betas[0]
    m += (1 - betas[0]) * grad
    s *= betas[1]
    s += (1 - betas[1]) * grad**2
    return param - lr * (m / (1 - betas[0]**t)) / (np.sqrt(s / (1 - betas[1]**t)) + eps), m, s


def adam_betas_swapped(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    return adam_plain(param, grad, m, s, t, lr, betas[::-1], eps)


def adam_no_defaults(param, grad, m, s, t, lr, betas, eps):
    return adam_plain(param, grad, m, s, t, lr, betas, eps)


def numback_forward(f, x, dout, h=1e-6):
    grad, base = np.zeros(x.shape), np.sum(f(x) * dout)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = h
        grad[i] = (np.sum(f(x + e) * dout) - base) / h
    return grad


def numback_over_h(f, x, dout, h=1e-6):
    return 2 * numback_basis(f, x, dout, h)


def numback_ignores_dout(f, x, dout, h=1e-6):
    return numback_basis(f, x, np.ones(np.shape(f(x))), h)


def numback_elementwise(f, x, dout, h=1e-6):
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = h
        grad[i] = dout[i] * (f(x + e)[i] - f(x - e)[i]) / (2 * h)
    return grad


def numback_mutates(f, x, dout, h=1e-6):
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        x[i] += h
        up = np.sum(f(x) * dout)
        x[i] -= 2 * h
        down = np.sum(f(x) * dout)
        grad[i] = (up - down) / (2 * h)          # x[i] is left h below where it was
    return grad


def numback_one_axis(f, x, dout, h=1e-6):
    grad = np.zeros(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h
        grad[i] = np.sum((f(x + e) - f(x - e)) * dout) / (2 * h)
    return grad


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch04.mlp_gradients", mlp_no_tanh_slope, "mistake", "tanh between the layers is skipped"),
    ("ch04.mlp_gradients", mlp_slope_of_z, "mistake", "wrong quantity"),
    ("ch04.mlp_gradients", mlp_sigmoid_slope, "mistake", "sigmoid"),
    ("ch04.mlp_gradients", mlp_w2_transposed, "mistake", "transposed output weight"),
    ("ch04.mlp_gradients", mlp_sign, "mistake", "wrong sign"),
    ("ch04.mlp_gradients", mlp_no_half, "mistake", "twice too large"),
    ("ch04.mlp_gradients", mlp_mean, "mistake", "*sum*"),
    ("ch04.mlp_gradients", mlp_bias_mean, "mistake", "bias gradients are averaged"),
    ("ch04.mlp_gradients", mlp_dw1_transposed, "shape", "transpose of the right answer"),
    ("ch04.mlp_gradients", mlp_order, "values", "holds what"),
    ("ch04.mlp_gradients", mlp_forgets_b1, "values", "Work backwards"),
    ("ch04.smoothed_cross_entropy", sce_unsmoothed, "mistake", "smoothing is ignored"),
    ("ch04.smoothed_cross_entropy", sce_spread_over_others, "mistake", "M - 1 *other* classes"),
    ("ch04.smoothed_cross_entropy", sce_eps_everywhere, "mistake", "no longer adds up to 1"),
    ("ch04.smoothed_cross_entropy", sce_sum, "mistake", "*mean*"),
    ("ch04.smoothed_cross_entropy", sce_sign, "mistake", "wrong sign"),
    ("ch04.smoothed_cross_entropy", sce_axis0, "mistake", "each column"),
    ("ch04.smoothed_cross_entropy", sce_no_shift, "nonfinite", "widely spread logits"),
    ("ch04.smoothed_cross_entropy", sce_row_mean_shift, "nonfinite", "widely spread logits"),
    ("ch04.smoothed_cross_entropy", sce_row_min_shift, "nonfinite", "widely spread logits"),
    ("ch04.smoothed_cross_entropy", sce_log_of_p, "nonfinite", "log of a probability"),
    ("ch04.smoothed_cross_entropy", sce_no_default, "exception", "default"),
    ("ch04.smoothed_cross_entropy", sce_swapped, "values", "wrong order"),
    ("ch04.adam_step", adam_uncorrected, "mistake", "bias correction is missing"),
    ("ch04.adam_step", adam_t_minus_one, "mistake", "t - 1"),
    ("ch04.adam_step", adam_eps_inside, "mistake", "inside the square root"),
    ("ch04.adam_step", adam_raw_gradient, "mistake", "raw gradient"),
    ("ch04.adam_step", adam_momentum_m, "mistake", "whole gradient"),
    ("ch04.adam_step", adam_s_of_g, "mistake", "Which power of the gradient"),
    ("ch04.adam_step", adam_uphill, "mistake", "uphill"),
    ("ch04.adam_step", adam_in_place, "mutated", "`m`"),
    ("ch04.adam_step", adam_betas_swapped, "values", "about lr"),
    ("ch04.adam_step", adam_no_defaults, "exception", "PyTorch's defaults"),
    ("ch04.numerical_backward", numback_forward, "mistake", "forward difference"),
    ("ch04.numerical_backward", numback_over_h, "mistake", "twice too large"),
    ("ch04.numerical_backward", numback_ignores_dout, "mistake", "without their weights"),
    ("ch04.numerical_backward", numback_elementwise, "mistake", "elementwise f"),
    ("ch04.numerical_backward", numback_mutates, "mutated", "`x`"),
    ("ch04.numerical_backward", numback_one_axis, "exception", "two axes"),
]


# -- the references agree with the book's kernels, finite differences and PyTorch ------
def test_mlp_gradients_match_finite_differences_and_torch():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    params = [rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal((2, 4)),
              rng.standard_normal(2)]

    def loss(*ps):
        h = np.tanh(x @ ps[0].T + ps[1])
        return 0.5 * np.sum((h @ ps[2].T + ps[3] - t) ** 2)

    ours = mlp_gradients(x, t, *params)
    for k, g in enumerate(ours):
        np.testing.assert_allclose(g, numerical_gradient(loss, params, 1.0, wrt=k), atol=1e-7)
    torch = pytest.importorskip("torch")
    tp = [torch.tensor(p, requires_grad=True) for p in params]
    h = torch.tanh(torch.tensor(x) @ tp[0].T + tp[1])
    (0.5 * ((h @ tp[2].T + tp[3] - torch.tensor(t)) ** 2).sum()).backward()
    for g, p in zip(ours, tp):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5, 1.0])
def test_smoothed_cross_entropy_matches_torch(smoothing):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for logits in (rng.standard_normal((6, 5)) * 3, np.array([[-1000.0, 0.0, 1000.0]])):
        labels = rng.integers(0, logits.shape[1], size=len(logits))
        z = torch.tensor(logits, requires_grad=True)
        expected = torch.nn.functional.cross_entropy(z, torch.tensor(labels),
                                                     label_smoothing=smoothing)
        expected.backward()
        loss, grad = smoothed_cross_entropy(logits, labels, smoothing)
        assert np.isclose(loss, expected.item(), rtol=1e-12)
        np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_adam_step_matches_the_optimizer_and_torch_over_several_steps():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    grads, start = rng.standard_normal((6, 3, 4)), rng.standard_normal((3, 4))
    hyper = dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    param, m, s = start.copy(), np.zeros_like(start), np.zeros_like(start)
    for t, g in enumerate(grads, 1):
        param, m, s = adam_step(param, g, m, s, t, **hyper)
    p, gd = {"w": start.copy()}, {}
    opt = Adam([(p, gd, "w")], **hyper)
    tw = torch.tensor(start, requires_grad=True)
    topt = torch.optim.Adam([tw], **hyper)
    for g in grads:
        gd["w"] = g
        opt.step()
        tw.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(param, p["w"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(param, tw.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_numerical_backward_agrees_with_exact_backward_passes():
    rng = np.random.default_rng(3)
    x, dout = rng.standard_normal(4), rng.standard_normal(3)
    np.testing.assert_allclose(numerical_backward(project, x, dout), project.__globals__["_M34"].T @ dout,
                               atol=1e-8)
    x, dout = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    p = softmax_rows(x)
    exact = p * (dout - np.sum(dout * p, axis=1, keepdims=True))   # the softmax's backward
    np.testing.assert_allclose(numerical_backward(softmax_rows, x, dout), exact, atol=1e-8)


def test_forward_differences_fail_the_fixed_cases_of_curved_functions():
    # the diagnosis relies on it (for the linear ones, project and running_sum, a forward
    # difference is exact)
    ex = get("ch04.numerical_backward")
    assert not evaluate(ex.name, numback_forward).passed
    for c in ex.cases:
        if c.args[0] not in (project, running_sum) and len(c.args) == 4:
            good, bad = ex.reference(*c.args), numback_forward(*c.args)
            assert not np.allclose(bad, good, rtol=ex.rtol, atol=ex.atol), c.note


def test_a_float64_answer_passes_for_float32_inputs():
    ex = get("ch04.adam_step")
    c = next(c for c in ex.cases if c.args[0].dtype == np.float32)
    assert adam_float64(*c.args, *c.kwargs.values())[0].dtype == np.float64
    assert evaluate(ex.name, adam_float64).passed
