"""Pooling kernels: finite differences, PyTorch (values, gradients, tie rule), fan-out,
float32, Modules against torch.nn, and error messages."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnnbook.pool import (AvgPool2d, GlobalAvgPool2d, MaxPool2d, avg_pool2d_backward,
                          avg_pool2d_forward, global_avg_pool2d_backward, global_avg_pool2d_forward,
                          max_pool2d_backward, max_pool2d_backward_naive, max_pool2d_forward,
                          max_pool2d_forward_naive)
from helpers import check_fan_out, check_op, compare_with_torch

SETTINGS = settings(max_examples=20, deadline=None)
KERNELS = {
    "max": (max_pool2d_forward, max_pool2d_backward, F.max_pool2d),
    "avg": (avg_pool2d_forward, avg_pool2d_backward, F.avg_pool2d),
}


@st.composite
def pool_cases(draw):
    """A random small pooling: (x, kernel_size, kwargs)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 3))))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    h = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), kernel[0] + 5))
    w = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), kernel[1] + 5))
    x = rng.standard_normal((n, c, h, w))  # continuous values: no ties for the gradcheck
    return x, kernel, dict(stride=stride, padding=padding)


@SETTINGS
@given(pool_cases(), st.sampled_from(["max", "avg"]))
def test_pool_gradcheck_and_torch(case, kind):
    x, kernel, kwargs = case
    forward, backward, torch_fn = KERNELS[kind]
    check_op(forward, backward, torch_fn, [x, kernel], kwargs=kwargs)


@SETTINGS
@given(pool_cases())
def test_max_pool_ties_go_where_torch_sends_them(case):
    """Small integers make many ties; the gradient must follow PyTorch's arg-max."""
    x, kernel, kwargs = case
    x = np.round(x)
    compare_with_torch(max_pool2d_forward, max_pool2d_backward, F.max_pool2d, [x, kernel],
                       kwargs=kwargs)


@SETTINGS
@given(pool_cases(), st.booleans())
def test_max_pool_naive_twin_equals_fast_kernel(case, ties):
    x, kernel, kwargs = case
    if ties:  # small integers: many ties, which both send to the first maximum
        x = np.round(x)
    out, cache = max_pool2d_forward(x, kernel, **kwargs)
    out_naive, cache_naive = max_pool2d_forward_naive(x, kernel, **kwargs)
    np.testing.assert_array_equal(out_naive, out)
    dout = np.random.default_rng(0).standard_normal(out.shape)
    np.testing.assert_allclose(max_pool2d_backward_naive(dout, cache_naive),
                               max_pool2d_backward(dout, cache), rtol=1e-12, atol=1e-15)


def test_max_pool_tie_rule_first_in_row_major_order():
    x = np.ones((1, 1, 2, 2))
    out, cache = max_pool2d_forward(x, 2)
    dx = max_pool2d_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 0], [0, 0]])
    x = np.array([[[[0.0, 2.0], [2.0, 1.0]]]])
    out, cache = max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(max_pool2d_backward(np.ones_like(out), cache)[0, 0], [[0, 1], [0, 0]])


def test_max_pool_nan_propagates_like_torch():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    out, _ = max_pool2d_forward(x, 2)
    assert np.isnan(out).all()
    assert torch.isnan(F.max_pool2d(torch.tensor(x), 2)).all()


def test_overlapping_windows_accumulate():
    x = np.array([[[[0.0, 5.0, 0.0, 0.0]]]])  # 5 wins both windows that contain it; 0, 0 ties
    out, cache = max_pool2d_forward(x, (1, 2), stride=1)
    np.testing.assert_array_equal(out[0, 0, 0], [5, 5, 0])
    np.testing.assert_array_equal(max_pool2d_backward(np.ones_like(out), cache)[0, 0, 0], [0, 2, 1, 0])


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_fan_out(kind):
    forward, backward, _ = KERNELS[kind]
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 6))
    check_fan_out(forward, backward, x, kwargs=dict(kernel_size=3, stride=2, padding=1))


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_float32_follows_float64(kind):
    forward, backward, _ = KERNELS[kind]
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 7))
    out64, cache64 = forward(x, 2)
    out32, cache32 = forward(x.astype(np.float32), 2)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-6, atol=1e-6)
    dout = np.random.default_rng(3).standard_normal(out64.shape)
    dx32 = backward(dout.astype(np.float32), cache32)
    assert dx32.dtype == np.float32
    np.testing.assert_allclose(dx32, backward(dout, cache64), rtol=1e-6, atol=1e-6)


def test_global_avg_pool_gradcheck_and_torch():
    x = np.random.default_rng(4).standard_normal((2, 3, 5, 4))
    check_op(global_avg_pool2d_forward, global_avg_pool2d_backward,
             lambda t: F.adaptive_avg_pool2d(t, 1).flatten(1), [x])
    out, _ = global_avg_pool2d_forward(x.astype(np.float32))
    assert out.shape == (2, 3) and out.dtype == np.float32


@pytest.mark.parametrize("module,torch_module", [
    (MaxPool2d(3, stride=2, padding=1), torch.nn.MaxPool2d(3, stride=2, padding=1)),
    (MaxPool2d(2), torch.nn.MaxPool2d(2)),
    (AvgPool2d((2, 3), stride=(1, 2), padding=(1, 0)), torch.nn.AvgPool2d((2, 3), stride=(1, 2), padding=(1, 0))),
    (GlobalAvgPool2d(), torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())),
], ids=["MaxPool2d-overlap", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d"])
def test_modules_match_torch(module, torch_module):
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 8))
    out = module.forward(x)
    assert module.params == {} and module.grads == {}
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch_module(xt)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12)
    dout = np.random.default_rng(6).standard_normal(out.shape)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(module.backward(dout), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


X = np.zeros((2, 3, 6, 6))


@pytest.mark.parametrize("call,error,words", [
    (lambda: max_pool2d_forward(X[0], 2), ValueError, ["max_pool2d_forward", "x must have 4 dimensions"]),
    (lambda: max_pool2d_forward(X, 0), ValueError, ["kernel_size must be an integer >= 1", "got 0"]),
    (lambda: max_pool2d_forward(X, 2.5), TypeError, ["kernel_size must be an integer", "2.5"]),
    (lambda: max_pool2d_forward(X, 2, stride=0), ValueError, ["stride must be an integer >= 1"]),
    (lambda: max_pool2d_forward(X, 2, padding=2), ValueError, ["padding must be at most half the kernel size"]),
    (lambda: max_pool2d_forward(X, 7), ValueError, ["kernel extent 7", "padded input height 6"]),
    (lambda: avg_pool2d_forward(X, (2, 9)), ValueError, ["avg_pool2d_forward", "padded input width 6"]),
    (lambda: avg_pool2d_forward(X.astype(object), 2), TypeError, ["x must have a numeric dtype"]),
    (lambda: global_avg_pool2d_forward(X[0]), ValueError, ["global_avg_pool2d_forward", "x must have 4 dimensions"]),
    (lambda: max_pool2d_backward(np.zeros((2, 3, 6, 6)), max_pool2d_forward(X, 2)[1]), ValueError,
     ["max_pool2d_backward: dout must have shape (2, 3, 3, 3)"]),
    (lambda: avg_pool2d_backward(np.zeros((2, 3)), avg_pool2d_forward(X, 2)[1]), ValueError,
     ["avg_pool2d_backward: dout must have shape (2, 3, 3, 3)"]),
    (lambda: global_avg_pool2d_backward(np.zeros((2, 4)), global_avg_pool2d_forward(X)[1]), ValueError,
     ["global_avg_pool2d_backward: dout must have shape (2, 3)"]),
])
def test_bad_input_messages(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))
