"""Losses: value and gradient against finite differences and PyTorch, extremes, bad input."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import check_op
from cnnbook import losses as L
from cnnbook.activations import sigmoid

STRICT = dict(over="raise", divide="raise", invalid="raise")


def as_kernel(loss_fn, **fixed):
    """A loss (loss, dpred) as a kernel pair, so check_op can test it: the output is the
    0-d loss, backward scales dpred by the upstream scalar. Only the prediction gets a
    gradient (targets and labels are fixed inputs, passed as keywords)."""
    def forward(pred, **kw):
        loss, dpred = loss_fn(pred, **fixed, **kw)
        return np.asarray(loss), dpred

    def backward(dout, dpred):
        return dout * dpred

    return forward, backward


def check_loss(loss_fn, torch_fn, pred, target, *, target_name="target", atol=1e-8):
    fwd, bwd = as_kernel(loss_fn)
    check_op(fwd, bwd, lambda p, **kw: torch_fn(p, torch.as_tensor(kw[target_name])), [pred],
             kwargs={target_name: target}, atol=atol)


@pytest.mark.parametrize("shape", [(7,), (4, 3), (2, 3, 4)])
def test_mse_loss(shape):
    rng = np.random.default_rng(0)
    check_loss(L.mse_loss, F.mse_loss, rng.standard_normal(shape), rng.standard_normal(shape))


def test_half_sum_and_quadratic_losses():
    rng = np.random.default_rng(1)
    p, t = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    half = lambda a, b: 0.5 * ((a - b) ** 2).sum()
    check_loss(L.half_sum_squared_error, half, p, t)
    check_loss(lambda a, target: L.quadratic_loss(a, target, scale=3.0),
               lambda a, b: 3.0 * ((b - a) ** 2).sum(), p, t)
    loss, grad = L.half_sum_squared_error(p, t)
    np.testing.assert_allclose(grad, p - t)  # the first factor of 000 eq. 4
    assert L.quadratic_loss(p, t, scale=0.5)[0] == pytest.approx(loss)
    assert L.quadratic_loss(p, t, scale=1 / p.size)[0] == pytest.approx(L.mse_loss(p, t)[0])


def test_source_000_eqs_4_and_5_for_one_sigmoid_neuron():
    """dL/dw_j = (p - t) act'(z) x_j and dL/db = (p - t) act'(z), with L = 1/2 (p - t)^2."""
    x, w, b, t = np.array([0.5, -1.0, 2.0]), np.array([0.3, 0.8, -0.2]), 0.1, 1.0
    torch_w = torch.tensor(w, requires_grad=True)
    torch_b = torch.tensor(b, requires_grad=True)
    p_t = torch.sigmoid(torch_w @ torch.tensor(x) + torch_b)
    (0.5 * (p_t - t) ** 2).backward()
    z = w @ x + b
    p = sigmoid(z)
    _, dp = L.half_sum_squared_error(np.array([p]), np.array([t]))
    np.testing.assert_allclose(dp[0] * p * (1 - p) * x, torch_w.grad.numpy())
    np.testing.assert_allclose(dp[0] * p * (1 - p), torch_b.grad.item())


def test_binary_cross_entropy():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 0.95, size=(6, 2))
    for target in (rng.integers(0, 2, size=(6, 2)).astype(float), rng.uniform(0, 1, (6, 2))):
        check_loss(L.binary_cross_entropy, F.binary_cross_entropy, p, target)
    # 003 eq. 22 as printed (it is right; eq. 21 lacks the brackets around both terms)
    t = np.array([1.0, 0.0, 1.0])
    q = np.array([0.2, 0.7, 0.9])
    loss, grad = L.binary_cross_entropy(q, t)
    np.testing.assert_allclose(grad, ((1 - t) / (1 - q) - t / q) / 3)
    assert loss == pytest.approx(-np.mean(t * np.log(q) + (1 - t) * np.log(1 - q)))


def test_binary_cross_entropy_at_zero_and_one_matches_torch():
    p = np.array([0.0, 0.0, 1.0, 1.0, 1e-15, 1 - 1e-15, 1e-300, 0.5])
    t = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.3, 1.0])
    with warnings.catch_warnings(), np.errstate(**STRICT):
        warnings.simplefilter("error")
        loss, grad = L.binary_cross_entropy(p, t)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    tp = torch.tensor(p, requires_grad=True)
    t_loss = F.binary_cross_entropy(tp, torch.tensor(t))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    # rtol 1e-8: PyTorch keeps its floor 1e-12 as a float32 (9.99999996e-13)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-8)
    assert L.binary_cross_entropy(np.array([0.0]), np.array([1.0]))[0] == 100.0  # log clamped


def test_binary_cross_entropy_with_logits():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((5, 3)) * 3
    for target in (rng.integers(0, 2, size=(5, 3)).astype(float), rng.uniform(0, 1, (5, 3))):
        check_loss(L.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, z, target)
        np.testing.assert_allclose(L.binary_cross_entropy_with_logits(z, target)[0],
                                   L.binary_cross_entropy(sigmoid(z), target)[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_with_logits_extremes(dtype):
    z = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4], dtype=dtype)
    t = np.array([0.0, 1.0, 1.0, 0.5, 0.0, 1.0, 1.0], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(**STRICT):
        warnings.simplefilter("error")
        loss, grad = L.binary_cross_entropy_with_logits(z, t)
    assert np.isfinite(loss) and np.all(np.isfinite(grad)) and grad.dtype == dtype
    tz = torch.tensor(z.astype(np.float64), requires_grad=True)
    t_loss = F.binary_cross_entropy_with_logits(tz, torch.tensor(t.astype(np.float64)))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-6)
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_cross_entropy_int_labels():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, size=6)
    check_loss(L.cross_entropy, F.cross_entropy, z, labels)
    loss, grad = L.cross_entropy(z, labels)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(grad, (p - L.one_hot(labels, 4)) / 6)  # p - y, over N


def test_cross_entropy_probability_targets():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((5, 3))
    y = rng.dirichlet(np.ones(3), size=5)
    check_loss(L.cross_entropy, F.cross_entropy, z, y)
    labels = np.array([0, 2, 1, 1, 0])
    assert L.cross_entropy(z, L.one_hot(labels, 3).astype(float))[0] == pytest.approx(
        L.cross_entropy(z, labels)[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_extremes(dtype):
    z = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]], dtype=dtype)
    labels = np.array([2, 1, 0])
    with warnings.catch_warnings(), np.errstate(**STRICT):
        warnings.simplefilter("error")
        loss, grad = L.cross_entropy(z, labels)
    assert np.isfinite(loss) and np.all(np.isfinite(grad)) and grad.dtype == dtype
    tz = torch.tensor(z.astype(np.float64), requires_grad=True)
    t_loss = F.cross_entropy(tz, torch.tensor(labels))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-6)
    np.testing.assert_allclose(grad, tz.grad.numpy(), atol=1e-7)


def test_one_hot_matches_torch():
    labels = np.array([3, 0, 1, 3])
    np.testing.assert_array_equal(L.one_hot(labels), F.one_hot(torch.tensor(labels)).numpy())
    np.testing.assert_array_equal(L.one_hot(labels, 6), F.one_hot(torch.tensor(labels), 6).numpy())
    assert L.one_hot(labels, 4, dtype=np.float32).dtype == np.float32


def test_zero_one_loss_has_no_gradient():
    pred, target = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1])
    loss, grad = L.zero_one_loss(pred, target)
    assert loss == 0.5 and not grad.any() and grad.shape == (4,)
    # a small change of the scores does not change the argmax, hence not the loss
    rng = np.random.default_rng(6)
    scores = rng.standard_normal((8, 3))
    labels = rng.integers(0, 3, 8)
    before = L.zero_one_loss(scores.argmax(1), labels)[0]
    after = L.zero_one_loss((scores + 1e-9 * rng.standard_normal((8, 3))).argmax(1), labels)[0]
    assert before == after


def test_accuracy_helper():
    assert L.accuracy(np.array([[0.1, 0.9], [2.0, 1.0]]), np.array([1, 1])) == 0.5
    assert L.accuracy(np.array([[-1.0], [3.0]]), np.array([0, 1])) == 1.0
    assert L.accuracy(np.array([0.4, 0.6]), np.array([0.0, 1.0]), threshold=0.5) == 1.0


def test_accuracy_edges():
    """A single example; labels of output's shape, bool or float 0/1 for one score; NaN never:
    an empty batch raises (see test_bad_inputs.py) rather than return NaN."""
    assert L.accuracy(np.array([[0.2, 0.1]]), np.array([0])) == 1.0
    assert L.accuracy(np.array([[0.2], [-1.0]]), np.array([[True], [True]])) == 0.5
    assert L.accuracy(np.array([0.7, 0.2]), np.array([1.0, 0.0]), threshold=0.5) == 1.0
    assert L.accuracy(np.array([[1.0, 1.0]]), np.array([0])) == 1.0  # a tie: the first class


def test_losses_return_python_floats():
    p = np.array([0.2, 0.8], dtype=np.float32)
    for fn in (L.mse_loss, L.half_sum_squared_error, L.binary_cross_entropy,
               L.binary_cross_entropy_with_logits):
        loss, grad = fn(p, np.array([0.0, 1.0], dtype=np.float32))
        assert type(loss) is float and grad.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_takes_the_prediction_dtype(dtype):
    """A float64 target does not turn a float32 prediction's gradient into float64."""
    p = np.array([[0.2, 0.8], [0.6, 0.3]], dtype=dtype)
    t = np.array([[0.0, 1.0], [1.0, 0.0]])  # float64
    for fn in (L.mse_loss, L.half_sum_squared_error, L.binary_cross_entropy,
               L.binary_cross_entropy_with_logits, L.cross_entropy,
               lambda a, b: L.quadratic_loss(a, b, scale=0.5)):
        assert fn(p, t)[1].dtype == dtype
    assert L.cross_entropy(p, np.array([1, 0]))[1].dtype == dtype


def test_arguments_are_named_as_in_torch():
    """(input, target), prediction first, as torch.nn.functional."""
    import inspect
    for name in ("mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                 "cross_entropy", "half_sum_squared_error", "quadratic_loss", "zero_one_loss"):
        assert list(inspect.signature(getattr(L, name)).parameters)[:2] == ["input", "target"]
        if hasattr(F, name):
            assert list(inspect.signature(getattr(F, name)).parameters)[:2] == ["input", "target"]


@pytest.mark.parametrize("call, exc, words", [
    (lambda: L.mse_loss(np.ones(3), np.ones(4)), ValueError, ["input", "target", "(3,)", "(4,)"]),
    (lambda: L.mse_loss(np.ones(3) * 1j, np.ones(3)), TypeError, ["mse_loss", "input", "complex"]),
    (lambda: L.mse_loss(None, np.ones(3)), TypeError, ["mse_loss", "input", "None"]),
    (lambda: L.mse_loss(np.ones(0), np.ones(0)), ValueError, ["empty"]),
    (lambda: L.binary_cross_entropy(np.array([0.5, 1.2]), np.ones(2)), ValueError, ["input", "[0, 1]", "1.2"]),
    (lambda: L.binary_cross_entropy(np.array([0.5, np.nan]), np.ones(2)), ValueError, ["input"]),
    (lambda: L.binary_cross_entropy(np.array([0.5]), np.array([2.0])), ValueError, ["target"]),
    (lambda: L.binary_cross_entropy_with_logits(np.ones((2, 1)), np.ones(2)), ValueError, ["input", "target"]),
    (lambda: L.cross_entropy(np.ones((2, 3)), np.array([0, 3])), ValueError, ["target", "[0, 2]", "3"]),
    (lambda: L.cross_entropy(np.ones((2, 3)), np.array([-1, 0])), ValueError, ["target"]),
    (lambda: L.cross_entropy(np.ones((2, 3)), np.array([0.0, 1.0])), TypeError, ["target", "integer"]),
    (lambda: L.cross_entropy(np.ones((2, 3)), np.array([0, 1, 2])), ValueError, ["target", "(2,)"]),
    (lambda: L.cross_entropy(np.ones(3), np.array([0])), ValueError, ["input", "(N, C)"]),
    (lambda: L.one_hot(np.array([0, 5]), 3), ValueError, ["labels"]),
    (lambda: L.one_hot(np.array([0.0])), TypeError, ["labels"]),
    (lambda: L.quadratic_loss(np.ones(2), np.ones(2), scale=-1), ValueError, ["scale"]),
    (lambda: L.zero_one_loss(np.ones(2), np.ones(3)), ValueError, ["input", "target"]),
    (lambda: L.accuracy(np.ones(2), np.ones(2), threshold="0.5"), TypeError, ["threshold"]),
])
def test_bad_input_messages(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value)
