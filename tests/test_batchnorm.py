"""Batch normalization: gradients, PyTorch agreement, running statistics, Modules, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnnbook.batchnorm import (BatchNorm1d, BatchNorm2d, batch_norm_backward,
                               batch_norm_backward_naive, batch_norm_forward,
                               batch_norm_forward_naive)
from helpers import check_fan_out, check_op


def torch_batch_norm(training, momentum=0.1, eps=1e-5):
    """F.batch_norm (same argument order as ours); the running stats are copied, not updated."""
    def fn(x, running_mean, running_var, weight, bias):
        rm = None if running_mean is None else running_mean.detach().clone()
        rv = None if running_var is None else running_var.detach().clone()
        return F.batch_norm(x, rm, rv, weight, bias, training=training, momentum=momentum, eps=eps)
    return fn


def make_inputs(rng, shape, *, offset=0.0):
    """[x, running_mean, running_var, weight, bias], in batch_norm_forward's order."""
    C = shape[1]
    x = rng.standard_normal(shape) * rng.uniform(0.5, 2.0) + offset
    weight = rng.uniform(0.5, 1.5, C) * rng.choice([-1, 1], C)
    bias = rng.standard_normal(C)
    running_mean = rng.standard_normal(C)
    running_var = rng.uniform(0.5, 2.0, C)
    return [x, running_mean, running_var, weight, bias]


def backward_by_position(backward):
    """(dx, dweight, dbias) at the positions of x, weight and bias in the forward's
    arguments (x, running_mean, running_var, weight, bias), as check_op indexes them."""
    def fn(dout, cache):
        dx, dweight, dbias = backward(dout, cache)
        return dx, None, None, dweight, dbias
    return fn


shapes = st.one_of(
    st.tuples(st.integers(2, 5), st.integers(1, 4)),  # (N, D)
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(2, 4)),  # (N, C, L)
    st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(2, 3)),  # NCHW
)


@settings(max_examples=15, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), training=st.booleans(),
       eps=st.sampled_from([1e-5, 1e-3]), offset=st.sampled_from([0.0, 0.0, 30.0]))
def test_gradients_and_pytorch(shape, seed, training, eps, offset):
    # offset=30 makes mean^2 >> var: the two-pass (centred) route is taken
    inputs = make_inputs(np.random.default_rng(seed), shape, offset=offset)
    if not training:
        inputs[1] = inputs[1] + offset
    check_op(batch_norm_forward, backward_by_position(batch_norm_backward),
             torch_batch_norm(training, eps=eps), inputs,
             kwargs=dict(training=training, eps=eps), torch_kwargs={}, wrt=[0, 3, 4], rng=seed)


@settings(max_examples=10, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**16), training=st.booleans(),
       affine=st.booleans(), offset=st.sampled_from([0.0, 30.0]))
def test_naive_twin_equals_fast_kernel(shape, seed, training, affine, offset):
    x, rm, rv, w, b = make_inputs(np.random.default_rng(seed), shape, offset=offset)
    if not affine:
        w = b = None
    stats = [rm.copy(), rv.copy()], [rm.copy(), rv.copy()]
    out, cache = batch_norm_forward(x, *stats[0], w, b, training=training)
    out_naive, cache_naive = batch_norm_forward_naive(x, *stats[1], w, b, training=training)
    np.testing.assert_allclose(out_naive, out, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(stats[1], stats[0], rtol=1e-12)  # the same running update
    dout = np.random.default_rng(seed + 1).standard_normal(x.shape)
    grads = batch_norm_backward(dout, cache)
    for backward, c in ((batch_norm_backward_naive, cache), (batch_norm_backward_naive, cache_naive),
                        (batch_norm_backward, cache_naive)):
        for g, g_fast in zip(backward(dout, c), grads):
            if g_fast is None:
                assert g is None
            else:
                np.testing.assert_allclose(g, g_fast, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("training", [True, False])
def test_no_affine_and_no_running_stats(training):
    rng = np.random.default_rng(1)
    x, rm, rv, _, _ = make_inputs(rng, (4, 3, 2, 2))
    stats = (None, None) if training else (rm, rv)
    out, cache = batch_norm_forward(x, *stats, training=training)
    expected = F.batch_norm(torch.tensor(x), *(None if s is None else torch.tensor(s) for s in stats),
                            training=training)
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-10)
    dx, dweight, dbias = batch_norm_backward(np.ones_like(out), cache)
    assert dweight is None and dbias is None and dx.shape == x.shape


def test_fan_out():
    rng = np.random.default_rng(2)
    x, rm, rv, w, b = make_inputs(rng, (3, 2, 2, 2))
    check_fan_out(lambda x: batch_norm_forward(x, None, None, w, b, training=True),
                  batch_norm_backward, x)
    check_fan_out(lambda x: batch_norm_forward(x, rm, rv, w, b, training=False),
                  batch_norm_backward, x)


def test_running_stats_update_like_pytorch():
    rng = np.random.default_rng(3)
    C = 3
    running_mean, running_var = np.zeros(C), np.ones(C)
    t_mean, t_var = torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64)
    for step in range(4):
        x = rng.standard_normal((5, C, 3, 2)) * 2 + step
        batch_norm_forward(x, running_mean, running_var, training=True, momentum=0.3)
        F.batch_norm(torch.tensor(x), t_mean, t_var, training=True, momentum=0.3)
        np.testing.assert_allclose(running_mean, t_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(running_var, t_var.numpy(), rtol=1e-12)
    # the unbiased variance goes into running_var: one step from var=0 with momentum 1
    x = rng.standard_normal((4, C))
    rm, rv = np.zeros(C), np.zeros(C)
    batch_norm_forward(x, rm, rv, training=True, momentum=1.0)
    np.testing.assert_allclose(rv, x.var(axis=0, ddof=1))
    np.testing.assert_allclose(rm, x.mean(axis=0))


def test_eval_mode_uses_running_stats_and_divides_by_sqrt_var_plus_eps():
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    rm, rv = np.array([1.0, 2.0]), np.array([4.0, 0.0])
    out, _ = batch_norm_forward(x, rm, rv, eps=0.25)  # training=False is the default
    np.testing.assert_allclose(out, (x - rm) / np.sqrt(rv + 0.25))
    # the source's slip, sqrt(var) + eps, would give (6 - 2) / 0.25 = 16 here, not 8
    assert out[1, 1] == pytest.approx(8.0)


def test_batch_of_one_per_channel():
    x = np.ones((1, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batch_norm_forward(x, None, None, training=True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(torch.tensor(x), None, None, training=True)  # PyTorch refuses too
    # a single image still has H*W values per channel, and eval mode is always fine
    batch_norm_forward(np.random.default_rng(0).standard_normal((1, 2, 2, 2)), None, None,
                       training=True)
    out, _ = batch_norm_forward(x, np.zeros(3), np.ones(3), training=False)
    np.testing.assert_allclose(out, x / np.sqrt(1 + 1e-5))


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_float32_agrees_with_float64(offset):
    rng = np.random.default_rng(4)
    x, rm, rv, w, b = make_inputs(rng, (8, 4, 5, 5), offset=offset)
    dout = rng.standard_normal(x.shape)
    r64 = batch_norm_forward(x, rm.copy(), rv.copy(), w, b, training=True)
    r32 = batch_norm_forward(*(a.astype(np.float32) for a in (x, rm, rv, w, b)), training=True)
    assert r32[0].dtype == np.float32
    np.testing.assert_allclose(r32[0], r64[0], atol=2e-4, rtol=1e-4)
    g64 = batch_norm_backward(dout, r64[1])
    g32 = batch_norm_backward(dout.astype(np.float32), r32[1])
    for a, b_ in zip(g32, g64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b_, atol=2e-3 * np.abs(b_).max(), rtol=1e-3)


def copy_to_torch(ours, theirs):
    with torch.no_grad():
        for k, v in ours.state_dict().items():
            getattr(theirs, k).copy_(torch.tensor(v))


@pytest.mark.parametrize("cls, tcls, shape", [
    (BatchNorm2d, torch.nn.BatchNorm2d, (4, 3, 5, 4)),
    (BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
    (BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
])
def test_module_matches_pytorch(cls, tcls, shape):
    rng = np.random.default_rng(5)
    ours = cls(3, momentum=0.2, dtype=np.float64)
    ours.params["weight"][:] = rng.uniform(0.5, 1.5, 3)
    ours.params["bias"][:] = rng.standard_normal(3)
    theirs = tcls(3, momentum=0.2).double()
    assert set(ours.state_dict()) == set(theirs.state_dict())
    copy_to_torch(ours, theirs)
    for step in range(3):
        ours.zero_grad()  # backward adds into grads; torch's are reset below
        x = rng.standard_normal(shape) + step
        dout = rng.standard_normal(shape)
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt)
        yt.backward(torch.tensor(dout))
        np.testing.assert_allclose(ours.forward(x), yt.detach().numpy(), atol=1e-10)
        np.testing.assert_allclose(ours.backward(dout), xt.grad.numpy(), atol=1e-10)
        for k in ("weight", "bias"):
            np.testing.assert_allclose(ours.grads[k], getattr(theirs, k).grad.numpy(), atol=1e-10)
            getattr(theirs, k).grad = None
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-12, err_msg=k)
    ours.eval(), theirs.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).detach().numpy(), atol=1e-10)
    before = ours.state_dict()
    ours(x)
    for k, v in before.items():  # eval mode leaves the running statistics alone
        np.testing.assert_array_equal(ours.state_dict()[k], v)


def test_module_defaults_and_load_state_dict():
    bn = BatchNorm2d(4)
    assert bn.params["weight"].dtype == np.float32
    np.testing.assert_array_equal(bn.params["weight"], np.ones(4))
    np.testing.assert_array_equal(bn.params["bias"], np.zeros(4))
    np.testing.assert_array_equal(bn.buffers["running_mean"], np.zeros(4))
    np.testing.assert_array_equal(bn.buffers["running_var"], np.ones(4))
    theirs = torch.nn.BatchNorm2d(4)
    theirs(torch.randn(3, 4, 2, 2))
    bn.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert int(bn.buffers["num_batches_tracked"]) == 1
    assert BatchNorm2d(2, affine=False).params == {}


def test_errors():
    x = np.zeros((8, 3, 4, 4))
    with pytest.raises(ValueError, match=r"weight has 2 entries but x has 3 channels"):
        batch_norm_forward(x, None, None, np.ones(2), None, training=True)
    with pytest.raises(ValueError, match="running_var has 4 entries"):
        batch_norm_forward(x, np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        batch_norm_forward(np.zeros(5), None, None, training=True)
    with pytest.raises(ValueError, match="momentum must be a number >= 0 and <= 1, got 1.5"):
        batch_norm_forward(x, None, None, training=True, momentum=1.5)
    with pytest.raises(TypeError, match="eps must be a number > 0, got '0'"):
        batch_norm_forward(x, None, None, training=True, eps="0")
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        batch_norm_forward(x, None, None)
    with pytest.raises(TypeError, match="running_mean must be a floating NumPy array"):
        batch_norm_forward(x, [0.0, 0.0, 0.0], np.ones(3))
    with pytest.raises(TypeError, match="running_var must be a floating NumPy array .* got int64"):
        batch_norm_forward(x, np.zeros(3), np.ones(3, dtype=np.int64))
    with pytest.raises(TypeError, match="x must have a numeric dtype"):
        batch_norm_forward(np.array([["a", "b"]]), None, None, training=True)
    with pytest.raises(ValueError, match=r"BatchNorm2d: x must have 4 dimensions"):
        BatchNorm2d(3)(np.zeros((8, 3)))
    with pytest.raises(ValueError, match=r"BatchNorm1d: x must have 2 or 3 dimensions"):
        BatchNorm1d(3)(x)
    with pytest.raises(ValueError, match=r"BatchNorm2d: x has 3 channels but the layer expects 5"):
        BatchNorm2d(5)(x)
    with pytest.raises(RuntimeError, match="before forward"):
        BatchNorm2d(3).backward(x)
