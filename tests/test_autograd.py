"""The scalar autodiff engine: 004's worked example, agreement with torch autograd on
random expressions, fan-out accumulation, drawing."""
import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from cnnbook.autograd import Value, draw_graph


def test_worked_example_of_source_004():
    """f = q + c with q = a b, a = -2, b = 5: df/da = b = 5, df/db = a = -2, df/dc = 1.
    (c's value was in the lost figure; it does not change any gradient. We take -4.)"""
    a, b, c = Value(-2.0, "a"), Value(5.0, "b"), Value(-4.0, "c")
    q = a * b
    f = q + c
    f.backward()
    assert (q.data, f.data) == (-10.0, -14.0)
    assert (a.grad, b.grad, c.grad, q.grad, f.grad) == (5.0, -2.0, 1.0, 1.0, 1.0)


def test_mlp_loss_gradient_of_source_004_with_the_sign_restored():
    """E = sum_i (y_i - sum_m nu_im z_m)^2, z_m = sigma(sum_n omega_mn x_n). The correct
    gradient is dE/domega_mn = -2 sum_i (y_i - sum_k nu_ik z_k) nu_im z_m (1 - z_m) x_n;
    004 prints it without the minus sign."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(3), rng.standard_normal(2)
    omega, nu = rng.standard_normal((4, 3)), rng.standard_normal((2, 4))
    W = [[Value(v) for v in row] for row in omega]
    z = [sum((W[m][n] * x[n] for n in range(3)), Value(0.0)).sigmoid() for m in range(4)]
    E = sum(((y[i] - sum((nu[i, m] * z[m] for m in range(4)), Value(0.0))) ** 2 for i in range(2)),
            Value(0.0))
    E.backward()
    zs = np.array([v.data for v in z])
    resid = y - nu @ zs  # (2,)
    correct = -2 * np.outer((resid @ nu) * zs * (1 - zs), x)  # (4, 3)
    ours = np.array([[w.grad for w in row] for row in W])
    np.testing.assert_allclose(ours, correct, rtol=1e-12)
    printed = -correct  # 004's formula as printed: 2 sum_i (...) nu_im x_n sigma (1 - sigma)
    assert not np.allclose(ours, printed)


UNARY = ["exp", "log", "tanh", "sigmoid", "relu", "neg", "pow2", "pow3", "sqrt", "inv"]
BINARY = ["+", "-", "*", "/", "radd", "rsub", "rmul", "rdiv"]


def _apply(op, a, b=None, k=None):
    """The same operation on Values and on torch tensors; guards keep logs and divisions
    away from 0 and negatives (inputs are made positive first)."""
    if op == "exp":
        return (a * 0.3).exp()
    if op == "log":
        return (a * a + 1).log()
    if op == "tanh":
        return a.tanh()
    if op == "sigmoid":
        return a.sigmoid()
    if op == "relu":
        return a.relu()
    if op == "neg":
        return -a
    if op == "pow2":
        return a ** 2
    if op == "pow3":
        return a ** 3
    if op == "sqrt":
        return (a * a + 0.5) ** 0.5
    if op == "inv":
        return 1 / (a * a + 1)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / (b * b + 1)
    if op == "radd":
        return k + a
    if op == "rsub":
        return k - a
    if op == "rmul":
        return k * a
    return k / (a * a + 1)


def _torch_unary(op, t):
    return {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[op](t)


@pytest.mark.parametrize("seed", range(6))
def test_random_expressions_agree_with_torch_autograd(seed):
    rng = np.random.default_rng(seed)
    leaves = rng.uniform(-2, 2, size=4)
    vals = [Value(v) for v in leaves]
    tens = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in leaves]
    pool_v, pool_t = list(vals), list(tens)
    for _ in range(25):  # operands are drawn from everything so far: plenty of fan-out
        i, j = rng.integers(len(pool_v), size=2)
        k = float(rng.uniform(-2, 2))
        if rng.random() < 0.5:
            op = UNARY[rng.integers(len(UNARY))]
            if op in ("tanh", "sigmoid", "relu"):
                v = getattr(pool_v[i], op)()
                t = _torch_unary(op, pool_t[i])
            else:
                v, t = _apply(op, pool_v[i]), _apply(op, pool_t[i])
        else:
            op = BINARY[rng.integers(len(BINARY))]
            v, t = _apply(op, pool_v[i], pool_v[j], k), _apply(op, pool_t[i], pool_t[j], k)
        # keep magnitudes tame so exp/pow do not overflow
        v, t = (v * 0.5).tanh() * 3, torch.tanh(t * 0.5) * 3
        pool_v.append(v)
        pool_t.append(t)
    out_v = pool_v[-1] + pool_v[-2] * pool_v[-3]
    out_t = pool_t[-1] + pool_t[-2] * pool_t[-3]
    out_v.backward()
    out_t.backward()
    assert out_v.data == pytest.approx(out_t.item(), rel=1e-12)
    for v, t in zip(vals, tens):
        expected = 0.0 if t.grad is None else t.grad.item()
        assert v.grad == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_fan_out_accumulates():
    x = Value(3.0)
    (x * x + x).backward()  # d/dx (x^2 + x) = 2x + 1
    assert x.grad == 7.0
    a = Value(2.0)
    (a + a).backward()
    assert a.grad == 2.0


def test_backward_twice_accumulates_on_leaves_like_torch():
    a, b = Value(1.5), Value(-0.5)
    f = (a * b).tanh() * a
    f.backward()
    first = (a.grad, b.grad)
    f.backward()  # leaves accumulate, interior nodes are recomputed: exactly twice
    assert (a.grad, b.grad) == pytest.approx((2 * first[0], 2 * first[1]))
    f.zero_grad()
    assert a.grad == b.grad == 0.0
    f.backward()
    assert (a.grad, b.grad) == pytest.approx(first)


def test_reflected_operations_and_values():
    x = Value(2.0)
    assert (3 - x).data == 1.0 and (3 / x).data == 1.5 and (-x).data == -2.0
    assert (x ** 0.5).data == pytest.approx(math.sqrt(2))
    assert Value(-800.0).sigmoid().data == pytest.approx(0.0) and Value(800.0).sigmoid().data == 1.0
    assert "data=2" in repr(x)


def test_deep_chain_has_no_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_draw_graph_returns_a_figure_with_boxes_and_labels():
    a, b, c = Value(-2.0, "a"), Value(5.0, "b"), Value(-4.0, "c")
    f = a * b + c
    f.label = "f"
    f.backward()
    fig = draw_graph(f)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("a\ndata -2") and "grad 5" in t for t in texts)
    assert "*" in texts and "+" in texts
    assert len(ax.patches) == 5 + 2  # five values, two operations
    assert isinstance(draw_graph(Value(1.0)), Figure)


@pytest.mark.parametrize("call, exc, words", [
    (lambda: Value("1"), TypeError, ["data"]),
    (lambda: Value(Value(1.0)), TypeError, ["Value"]),
    (lambda: Value(-1.0).log(), ValueError, ["> 0"]),
    (lambda: Value(2.0) ** Value(2.0), TypeError, ["exponent"]),
    (lambda: Value(-2.0) ** 0.5, ValueError, ["negative base", "complex"]),
    (lambda: draw_graph(1.0), TypeError, ["root"]),
])
def test_bad_input_messages(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value)
