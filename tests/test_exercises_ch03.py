"""Chapter 3's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, the references agree with finite differences,
cnnbook's layers and PyTorch, and no feedback holds the code of an answer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnnbook import Dense, ReLU
from cnnbook.activations import softmax_backward as package_softmax_backward
from cnnbook.activations import softmax_forward
from cnnbook.exercises import get
from cnnbook.exercises.ch03 import (dead_units, prelu_backward, silu_backward,
                                    softmax_backward)
from cnnbook.gradcheck import numerical_gradient


CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "03_activations.ipynb"


# -- right answers, written as different readers would ----------------------------------
def silu_backward_naive(dout, x):
    with np.errstate(over="ignore"):           # exp(1000) is inf, and 1 / inf is 0: right
        s = 1 / (1 + np.exp(-x))
    return dout * (s + x * s * (1 - s))


def silu_backward_tanh(dout, x):
    s = 0.5 * (1 + np.tanh(x / 2))
    return dout * s * (1 + x * (1 - s))


def silu_backward_from_output(dout, x):
    e = np.exp(-np.abs(x))
    s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    f = x * s
    return dout * (f + s * (1 - f))            # f' = f + sigma (1 - f)


def dead_units_loop(x, weights, biases):
    a, out = x, []
    for W, b in zip(weights, biases):
        z = a @ W.T + b
        out.append((z <= 0).all(axis=0).mean())
        a = np.maximum(z, 0)
    return np.array(out)


def dead_units_by_gradient(x, weights, biases):
    # a unit is dead when ReLU's derivative is 0 on every example
    a, out = x, []
    for W, b in zip(weights, biases):
        z = a @ W.T + b
        slope = np.heaviside(z, 0.0)
        out.append(np.sum(slope.sum(axis=0) == 0) / z.shape[1])
        a = z * slope
    return np.array(out)


def dead_units_modules(x, weights, biases):
    a, out = x.astype(np.float64), []
    for W, b in zip(weights, biases):
        dense = Dense(W.shape[1], W.shape[0], dtype=np.float64)
        dense.params["weight"][...] = W
        dense.params["bias"][...] = b
        z = dense(a)
        out.append(float(np.mean([not np.any(column > 0) for column in z.T])))
        a = ReLU()(z)
    return out and np.array(out)


def prelu_backward_where(dout, x, weight):
    a = weight.reshape((1, -1) + (1,) * (x.ndim - 2))
    dx = np.where(x > 0, dout, a * dout)
    axes = tuple(i for i in range(x.ndim) if i != 1)
    return dx, np.where(x > 0, 0, dout * x).sum(axis=axes)


def prelu_backward_loops(dout, x, weight):
    dx = np.empty_like(dout)
    dweight = np.zeros_like(weight)
    for c in range(x.shape[1]):
        xc, gc = x[:, c], dout[:, c]
        dx[:, c] = np.where(xc > 0, gc, weight[c] * gc)
        dweight[c] = np.sum(gc * np.minimum(xc, 0))
    return dx, dweight


def prelu_backward_einsum(dout, x, weight):
    neg = (x <= 0).astype(x.dtype)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    dx = dout * (1 - neg) + dout * neg * weight.reshape(shape)
    n, c = x.shape[:2]
    dweight = np.einsum("ncl,ncl->c", dout.reshape(n, c, -1), (x * neg).reshape(n, c, -1))
    return dx, dweight


def softmax_backward_stable(dout, x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return p * (dout - np.sum(dout * p, axis=-1, keepdims=True))


def softmax_backward_jacobian(dout, x):
    flat_x, flat_g = x.reshape(-1, x.shape[-1]), dout.reshape(-1, x.shape[-1])
    rows = []
    for z, g in zip(flat_x, flat_g):
        p = np.exp(z - z.max())
        p /= p.sum()
        jacobian = np.diag(p) - np.outer(p, p)           # dp_k / dz_j, symmetric
        rows.append(jacobian @ g)
    return np.array(rows).reshape(x.shape)


def softmax_backward_logsumexp(dout, x):
    m = x.max(axis=-1, keepdims=True)
    log_p = x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
    p = np.exp(log_p)
    return p * dout - p * (p * dout).sum(axis=-1, keepdims=True)


def softmax_backward_float64(dout, x):
    return softmax_backward_stable(dout.astype(np.float64), x.astype(np.float64))


RIGHT = [
    ("ch03.silu_backward", silu_backward_naive),
    ("ch03.silu_backward", silu_backward_tanh),
    ("ch03.silu_backward", silu_backward_from_output),
    ("ch03.dead_units", dead_units_loop),
    ("ch03.dead_units", dead_units_by_gradient),
    ("ch03.dead_units", dead_units_modules),
    ("ch03.prelu_backward", prelu_backward_where),
    ("ch03.prelu_backward", prelu_backward_loops),
    ("ch03.prelu_backward", prelu_backward_einsum),
    ("ch03.softmax_backward", softmax_backward_stable),
    ("ch03.softmax_backward", softmax_backward_jacobian),
    ("ch03.softmax_backward", softmax_backward_logsumexp),
    ("ch03.softmax_backward", softmax_backward_float64),
]


# -- wrong answers, and the diagnosis each must get ----------------------------------------
def _s(x):
    return 1 / (1 + np.exp(-x))


def silu_no_product_rule(dout, x):
    return dout * _s(x)


def silu_second_term_only(dout, x):
    return dout * x * _s(x) * (1 - _s(x))


def silu_no_dout(dout, x):
    return _s(x) * (1 + x * (1 - _s(x)))


def silu_f_one_minus_f(dout, x):
    f = x * _s(x)
    return dout * f * (1 - f)


def silu_minus(dout, x):
    return dout * (_s(x) - x * _s(x) * (1 - _s(x)))


def silu_sigmoid_derivative(dout, x):
    return dout * _s(x) * (1 - _s(x))


def silu_overflowing(dout, x):
    s = np.exp(x) / (1 + np.exp(x))                       # NaN for x = 1000
    return dout * (s + x * s * (1 - s))


def dead_strict(x, weights, biases):
    a, out = x, []
    for W, b in zip(weights, biases):
        z = a @ W.T + b
        out.append(np.mean(np.all(z < 0, axis=0)))
        a = np.maximum(z, 0)
    return np.array(out)


def _dead_with(reduce, relu=True):
    def wrong(x, weights, biases):
        a, out = x, []
        for W, b in zip(weights, biases):
            z = a @ W.T + b
            out.append(reduce(z <= 0))
            a = np.maximum(z, 0) if relu else z
        return np.array(out)
    return wrong


dead_per_example = _dead_with(lambda off: off.all(axis=1).mean())
dead_entries = _dead_with(lambda off: off.mean())
dead_any = _dead_with(lambda off: off.any(axis=0).mean())
dead_no_relu = _dead_with(lambda off: off.all(axis=0).mean(), relu=False)
dead_counts = _dead_with(lambda off: off.all(axis=0).sum())
dead_list = _dead_with(lambda off: off.all(axis=0).mean())
for _name in ("dead_per_example", "dead_entries", "dead_any", "dead_no_relu", "dead_counts"):
    globals()[_name].__name__ = _name


def dead_as_list(x, weights, biases):
    return list(dead_list(x, weights, biases))


def dead_untransposed(x, weights, biases):
    a, out = x, []
    for W, b in zip(weights, biases):
        z = a @ W + b
        out.append(np.mean(np.all(z <= 0, axis=0)))
        a = np.maximum(z, 0)
    return np.array(out)


def _axes(x):
    return tuple(i for i in range(x.ndim) if i != 1)


def _dx(dout, x, weight):
    return np.where(x > 0, dout, weight.reshape((1, -1) + (1,) * (x.ndim - 2)) * dout)


def prelu_relu_dx(dout, x, weight):
    return np.where(x > 0, dout, 0.0), np.where(x > 0, 0.0, dout * x).sum(axis=_axes(x))


def prelu_all_entries(dout, x, weight):
    return _dx(dout, x, weight), (dout * x).sum(axis=_axes(x))


def prelu_dout_alone(dout, x, weight):
    return _dx(dout, x, weight), np.where(x > 0, 0.0, dout).sum(axis=_axes(x))


def prelu_batch_only(dout, x, weight):
    return _dx(dout, x, weight), np.where(x > 0, 0.0, dout * x).sum(axis=0)


def prelu_one_number(dout, x, weight):
    return _dx(dout, x, weight), np.where(x > 0, 0.0, dout * x).sum()


def prelu_mean(dout, x, weight):
    return _dx(dout, x, weight), np.where(x > 0, 0.0, dout * x).mean(axis=_axes(x))


def prelu_ge_zero(dout, x, weight):
    a = weight.reshape((1, -1) + (1,) * (x.ndim - 2))
    dx = np.where(x >= 0, dout, a * dout)  # dout at the kink: not the book's convention
    return dx, np.where(x > 0, 0, dout * x).sum(axis=_axes(x))


def prelu_swapped(dout, x, weight):
    dx, dweight = prelu_backward_where(dout, x, weight)
    return dweight, dx


def prelu_flat_weight(dout, x, weight):
    return np.where(x > 0, dout, weight * dout), np.where(x > 0, 0, dout * x).sum(axis=_axes(x))


def smx_diagonal(dout, x):
    p = softmax_forward(x)[0]
    return dout * p * (1 - p)


def smx_unweighted_sum(dout, x):
    p = softmax_forward(x)[0]
    return p * (dout - dout.sum(axis=-1, keepdims=True))


def smx_no_p_factor(dout, x):
    p = softmax_forward(x)[0]
    return dout - (dout * p).sum(axis=-1, keepdims=True)


def smx_sign(dout, x):
    p = softmax_forward(x)[0]
    return p * ((dout * p).sum(axis=-1, keepdims=True) - dout)


def smx_sum_over_examples(dout, x):
    p = softmax_forward(x)[0]
    return p * (dout - (dout * p).sum(axis=0, keepdims=True))


def smx_naive(dout, x):
    e = np.exp(x)
    p = e / e.sum(axis=-1, keepdims=True)
    return p * (dout - (dout * p).sum(axis=-1, keepdims=True))


def smx_row_min(dout, x):
    e = np.exp(x - x.min(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return p * (dout - (dout * p).sum(axis=-1, keepdims=True))


def smx_row_mean(dout, x):
    e = np.exp(x - x.mean(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return p * (dout - (dout * p).sum(axis=-1, keepdims=True))


def smx_global_max(dout, x):
    e = np.exp(x - x.max())
    p = e / e.sum(axis=-1, keepdims=True)
    return p * (dout - (dout * p).sum(axis=-1, keepdims=True))


def smx_no_keepdims(dout, x):
    p = softmax_forward(x)[0]
    return p * (dout - (dout * p).sum(axis=-1))


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch03.silu_backward", silu_no_product_rule, "mistake", "product"),
    ("ch03.silu_backward", silu_second_term_only, "mistake", "product rule"),
    ("ch03.silu_backward", silu_no_dout, "mistake", "upstream gradient"),
    ("ch03.silu_backward", silu_f_one_minus_f, "mistake", "f (1 - f)"),
    ("ch03.silu_backward", silu_minus, "mistake", "wrong sign"),
    ("ch03.silu_backward", silu_sigmoid_derivative, "mistake", "sigmoid's derivative"),
    ("ch03.silu_backward", silu_overflowing, "mistake", "NaN or inf for large inputs"),
    ("ch03.dead_units", dead_strict, "mistake", "exactly 0"),
    ("ch03.dead_units", dead_per_example, "mistake", "wrong axis"),
    ("ch03.dead_units", dead_entries, "mistake", "pairs"),
    ("ch03.dead_units", dead_any, "mistake", "at least one example"),
    ("ch03.dead_units", dead_no_relu, "mistake", "ReLU between the layers"),
    ("ch03.dead_units", dead_counts, "mistake", "fraction"),
    ("ch03.dead_units", dead_as_list, "type", "list"),
    ("ch03.dead_units", dead_untransposed, "exception", "(out, in)"),
    ("ch03.prelu_backward", prelu_relu_dx, "mistake", "ReLU's"),
    ("ch03.prelu_backward", prelu_all_entries, "mistake", "positive ones too"),
    ("ch03.prelu_backward", prelu_dout_alone, "mistake", "dout alone"),
    ("ch03.prelu_backward", prelu_batch_only, "mistake", "batch only"),
    ("ch03.prelu_backward", prelu_one_number, "mistake", "one number for all channels"),
    ("ch03.prelu_backward", prelu_mean, "mistake", "averaged"),
    ("ch03.prelu_backward", prelu_ge_zero, "mistake", "kink"),
    ("ch03.prelu_backward", prelu_swapped, "values", "dx holds what dweight should be"),
    ("ch03.prelu_backward", prelu_flat_weight, "exception", "axis 1"),
    ("ch03.softmax_backward", smx_diagonal, "mistake", "diagonal of the Jacobian"),
    ("ch03.softmax_backward", smx_unweighted_sum, "mistake", "leaves out the probabilities"),
    ("ch03.softmax_backward", smx_no_p_factor, "mistake", "factor p_j is missing"),
    ("ch03.softmax_backward", smx_sign, "mistake", "wrong sign"),
    ("ch03.softmax_backward", smx_sum_over_examples, "mistake", "over the examples"),
    ("ch03.softmax_backward", smx_naive, "mistake", "spread far within a row"),
    ("ch03.softmax_backward", smx_row_min, "mistake", "spread far within a row"),
    ("ch03.softmax_backward", smx_row_mean, "mistake", "spread far within a row"),
    ("ch03.softmax_backward", smx_global_max, "mistake", "maximum of the whole array"),
    ("ch03.softmax_backward", smx_no_keepdims, "exception", "keep its axis"),
]


# -- the references agree with finite differences, the package and PyTorch ---------------
def test_silu_backward_matches_torch_and_finite_differences():
    for c in get("ch03.silu_backward").all_cases():
        dout, x = (a.astype(np.float64) for a in c.args)
        t = torch.tensor(x, requires_grad=True)
        torch.nn.functional.silu(t).backward(torch.tensor(dout))
        np.testing.assert_allclose(silu_backward(dout, x), t.grad.numpy(), rtol=1e-10, atol=1e-12)
    x, dout = np.random.default_rng(0).standard_normal((2, 3, 4))
    numeric = numerical_gradient(lambda v: v / (1 + np.exp(-v)), [x], dout)
    np.testing.assert_allclose(silu_backward(dout, x), numeric, atol=1e-7)


def test_dead_units_are_the_units_that_get_no_gradient():
    """A unit counted dead gets a zero gradient for its weights from every upstream gradient."""
    rng = np.random.default_rng(1)
    for c in get("ch03.dead_units").all_cases():
        x, weights, biases = c.args
        fractions = dead_units(x, weights, biases)
        a = np.asarray(x, np.float64)
        for layer, (W, b) in enumerate(zip(weights, biases)):
            dense = Dense(W.shape[1], W.shape[0], dtype=np.float64)
            dense.params["weight"][...] = W
            dense.params["bias"][...] = b
            relu = ReLU()
            dense.zero_grad()
            out = relu(dense(a))
            dense.backward(relu.backward(rng.standard_normal(out.shape)))
            silent = np.all(dense.grads["weight"] == 0, axis=1) & (dense.grads["bias"] == 0)
            assert np.isclose(fractions[layer], silent.mean()), (c.note, layer)
            a = out


def test_prelu_backward_matches_torch():
    for c in get("ch03.prelu_backward").all_cases():
        dout, x, weight = (a.astype(np.float64) for a in c.args)
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
        torch.nn.functional.prelu(tx, tw).backward(torch.tensor(dout))
        dx, dweight = prelu_backward(dout, x, weight)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(dweight, tw.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_softmax_backward_matches_the_package_and_torch():
    for c in get("ch03.softmax_backward").all_cases():
        dout, x = (a.astype(np.float64) for a in c.args)
        t = torch.tensor(x, requires_grad=True)
        torch.softmax(t, dim=-1).backward(torch.tensor(dout))
        np.testing.assert_allclose(softmax_backward(dout, x), t.grad.numpy(), rtol=1e-9, atol=1e-15)
        p, cache = softmax_forward(x)
        np.testing.assert_allclose(softmax_backward(dout, x), package_softmax_backward(dout, cache))
    spread = get("ch03.softmax_backward").cases[3].args[1]
    assert np.ptp(spread, axis=-1).max() >= 2000 and (spread.max(-1) - spread.mean(-1)).max() > 710
