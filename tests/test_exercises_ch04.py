"""Chapter 4's exercises: right answers (written several ways) pass, and each common
mistake gets its own diagnosis; the references agree with cnnbook's kernels and PyTorch."""
from __future__ import annotations


import numpy as np
import pytest

from cnnbook.exercises import evaluate
from cnnbook.exercises.ch04 import (
    dense_backward, numerical_gradient, sgd_momentum_step, softmax_cross_entropy_grad,
)
from cnnbook.gradcheck import check_gradients
from cnnbook.gradcheck import numerical_gradient as package_numerical_gradient
from cnnbook.dense import dense_forward
from cnnbook.optim import SGD


# -- right answers, written as a reader might -------------------------------------------
def dense_backward_einsum(dout, x, weight):
    return (np.einsum("no,oi->ni", dout, weight), np.einsum("no,ni->oi", dout, x),
            np.einsum("no->o", dout))


def dense_backward_outer_products(dout, x, weight):
    # 003 eq. 9 one example at a time: dE/dW = dE/dY X^T, summed over the batch
    dweight = sum(np.outer(d, xn) for d, xn in zip(dout, x))
    return dout @ weight, dweight.astype(x.dtype), dout.sum(axis=0)


def ce_grad_logsumexp(logits, labels):
    n = len(logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))
    p[np.arange(n), labels] -= 1
    return p / n


def ce_grad_onehot(logits, labels):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    y = np.eye(logits.shape[1], dtype=logits.dtype)[labels]
    return (p - y) / len(logits)


def momentum_two_lines(param, grad, velocity, lr, momentum):
    v = momentum * velocity + grad
    return param - lr * v, v


def momentum_copy_then_in_place(param, grad, velocity, lr, momentum):
    p, v = param.copy(), velocity.copy()
    v *= momentum
    v += grad
    p -= lr * v
    return p, v


def numgrad_basis_vectors(f, x, h):
    grad = np.zeros(x.shape)
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = h
        e = e.reshape(x.shape)
        grad.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


def numgrad_nudge_and_restore(f, x, h):
    x = x.copy()
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        grad[i] = (up - down) / 2 / h
    return grad


RIGHT = [
    ("ch04.dense_backward", dense_backward_einsum),
    ("ch04.dense_backward", dense_backward_outer_products),
    ("ch04.softmax_cross_entropy_grad", ce_grad_logsumexp),
    ("ch04.softmax_cross_entropy_grad", ce_grad_onehot),
    ("ch04.sgd_momentum_step", momentum_two_lines),
    ("ch04.sgd_momentum_step", momentum_copy_then_in_place),
    ("ch04.numerical_gradient", numgrad_basis_vectors),
    ("ch04.numerical_gradient", numgrad_nudge_and_restore),
]


@pytest.mark.parametrize("name, fn", RIGHT, ids=[f"{n}-{f.__name__}" for n, f in RIGHT])
def test_right_answers_pass(name, fn):
    verdict = evaluate(name, fn)
    assert verdict.passed, verdict.text()


# -- wrong answers and their diagnoses ---------------------------------------------------
def dense_dx_transposed_weight(dout, x, weight):
    return dout @ weight.T, dout.T @ x, dout.sum(axis=0)


def dense_dweight_transposed(dout, x, weight):
    return dout @ weight, x.T @ dout, dout.sum(axis=0)


def dense_divides_by_n(dout, x, weight):
    n = len(x)
    return dout @ weight, dout.T @ x / n, dout.sum(axis=0) / n


def dense_dbias_mean(dout, x, weight):
    return dout @ weight, dout.T @ x, dout.mean(axis=0)


def dense_swapped_order(dout, x, weight):
    return dout.T @ x, dout @ weight, dout.sum(axis=0)


def dense_float64(dout, x, weight):
    return (dout @ weight).astype(np.float64), (dout.T @ x).astype(np.float64), dout.sum(axis=0, dtype=np.float64)


def ce_no_mean(logits, labels):
    return ce_grad_onehot(logits, labels) * len(logits)


def ce_no_softmax(logits, labels):
    y = np.eye(logits.shape[1], dtype=logits.dtype)[labels]
    return (logits - y) / len(logits)


def ce_sign_flipped(logits, labels):
    return -ce_grad_onehot(logits, labels)


def ce_naive_exp(logits, labels):
    with np.errstate(all="ignore"):
        e = np.exp(logits)
        p = e / e.sum(axis=1, keepdims=True)
    y = np.eye(logits.shape[1], dtype=logits.dtype)[labels]
    return (p - y) / len(logits)


def ce_sigmoid(logits, labels):
    with np.errstate(all="ignore"):
        p = 1 / (1 + np.exp(-logits))
    y = np.eye(logits.shape[1], dtype=logits.dtype)[labels]
    return (p - y) / len(logits)


def momentum_sutskever(param, grad, velocity, lr, momentum):
    v = momentum * velocity - lr * grad
    return param + v, v


def momentum_dampened(param, grad, velocity, lr, momentum):
    v = momentum * velocity + (1 - momentum) * grad
    return param - lr * v, v


def momentum_old_velocity(param, grad, velocity, lr, momentum):
    return param - lr * velocity, momentum * velocity + grad


def momentum_in_place(param, grad, velocity, lr, momentum):
    velocity *= momentum
    velocity += grad
    param -= lr * velocity
    return param, velocity


def momentum_list(param, grad, velocity, lr, momentum):
    return list(momentum_two_lines(param, grad, velocity, lr, momentum))[:1]


def numgrad_forward(f, x, h):
    grad = np.zeros(x.shape)
    f0 = f(x)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = h
        grad[i] = (f(x + e) - f0) / h
    return grad


def numgrad_over_h(f, x, h):
    return 2 * numgrad_basis_vectors(f, x, h)


def numgrad_mutates(f, x, h):
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        x[i] += h
        up = f(x)
        x[i] -= 2 * h
        down = f(x)
        grad[i] = (up - down) / (2 * h)  # x[i] is left h below where it was
    return grad


def numgrad_1d_only(f, x, h):
    grad = np.zeros(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = h
        grad[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch04.dense_backward", dense_dx_transposed_weight, "mistake", "dx uses `weight.T`"),
    ("ch04.dense_backward", dense_dweight_transposed, "mistake", "transpose"),
    ("ch04.dense_backward", dense_divides_by_n, "mistake", "divides by the batch size"),
    ("ch04.dense_backward", dense_dbias_mean, "mistake", "averages"),
    ("ch04.dense_backward", dense_swapped_order, "values", "wrong order"),
    ("ch04.dense_backward", dense_float64, "dtype", "float32"),
    ("ch04.softmax_cross_entropy_grad", ce_no_mean, "mistake", "divide p - y by N"),
    ("ch04.softmax_cross_entropy_grad", ce_no_softmax, "mistake", "logits"),
    ("ch04.softmax_cross_entropy_grad", ce_sign_flipped, "mistake", "sign is flipped"),
    ("ch04.softmax_cross_entropy_grad", ce_naive_exp, "nonfinite", "maximum"),
    ("ch04.softmax_cross_entropy_grad", ce_sigmoid, "mistake", "sigmoid"),
    ("ch04.sgd_momentum_step", momentum_sutskever, "mistake", "Sutskever"),
    ("ch04.sgd_momentum_step", momentum_dampened, "mistake", "dampening"),
    ("ch04.sgd_momentum_step", momentum_old_velocity, "mistake", "old velocity"),
    ("ch04.sgd_momentum_step", momentum_in_place, "mutated", "`param`"),
    ("ch04.sgd_momentum_step", momentum_list, "type", "2 items"),
    ("ch04.numerical_gradient", numgrad_forward, "mistake", "forward difference"),
    ("ch04.numerical_gradient", numgrad_over_h, "mistake", "2h apart"),
    ("ch04.numerical_gradient", numgrad_mutates, "mutated", "`x`"),
    ("ch04.numerical_gradient", numgrad_1d_only, "exception", "np.ndindex"),
]


@pytest.mark.parametrize("name, fn, category, words", WRONG,
                         ids=[f"{n}-{f.__name__}" for n, f, _, _ in WRONG])
def test_wrong_answers_are_diagnosed(name, fn, category, words):
    verdict = evaluate(name, fn)
    assert verdict.category == category, verdict.text()
    assert words in verdict.text(), verdict.text()


# -- the references agree with the book's kernels and with PyTorch ---------------------
def test_dense_backward_reference_matches_finite_differences():
    rng = np.random.default_rng(0)
    x, weight, bias = rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    check_gradients(dense_forward, lambda dout, cache: dense_backward(dout, cache[0], cache[1]),
                    [x, weight, bias], rng=1)


def test_softmax_cross_entropy_grad_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits, labels = rng.standard_normal((6, 5)), rng.integers(0, 5, size=6)
    z = torch.tensor(logits, requires_grad=True)
    torch.nn.functional.cross_entropy(z, torch.tensor(labels)).backward()
    np.testing.assert_allclose(softmax_cross_entropy_grad(logits, labels), z.grad.numpy(),
                               rtol=1e-12, atol=1e-14)


def test_sgd_momentum_step_matches_optimizer_and_torch_over_several_steps():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    grads = rng.standard_normal((5, 3, 4))
    start = rng.standard_normal((3, 4))
    lr, momentum = 0.1, 0.9

    param, velocity = start.copy(), np.zeros_like(start)
    for g in grads:
        param, velocity = sgd_momentum_step(param, g, velocity, lr, momentum)

    p, gd = {"w": start.copy()}, {}
    opt = SGD([(p, gd, "w")], lr=lr, momentum=momentum)
    t = torch.tensor(start, requires_grad=True)
    topt = torch.optim.SGD([t], lr=lr, momentum=momentum)
    for g in grads:
        gd["w"] = g
        opt.step()
        t.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(param, p["w"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(param, t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_numerical_gradient_reference_matches_package_and_exact_gradient():
    from cnnbook.exercises.ch04 import sin_times_square
    x = np.array([[0.3, -1.2, 2.0], [1.5, -0.4, 0.9]])
    ours = numerical_gradient(sin_times_square, x, 1e-5)
    package = package_numerical_gradient(lambda a: np.sum(np.sin(a) * a**2), [x], 1.0, h=1e-5)
    exact = np.cos(x) * x**2 + 2 * x * np.sin(x)
    np.testing.assert_allclose(ours, package, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours, exact, rtol=1e-8, atol=1e-9)


def test_forward_difference_is_outside_the_tolerance_on_every_fixed_case():
    # the diagnosis relies on it: a forward difference must fail on the fixed cases
    from cnnbook.exercises.ch04 import NUMERICAL_GRADIENT, _forward_difference
    ex = NUMERICAL_GRADIENT
    for c in ex.cases:
        good, bad = ex.reference(*c.args), _forward_difference(*c.args)
        assert not np.allclose(bad, good, rtol=ex.rtol, atol=ex.atol), c.note
