"""Dropout: seeded masks, expectation, train/eval, gradients, Module, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnnbook.dropout import (Dropout, Dropout2d, dropout2d_backward, dropout2d_forward,
                             dropout_backward, dropout_forward)
from cnnbook.gradcheck import check_gradients
from helpers import check_fan_out


def test_seeded_reproducibility():
    x = np.ones((50, 40))
    a, _ = dropout_forward(x, 0.3, rng=7)
    b, _ = dropout_forward(x, 0.3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(7)
    c, _ = dropout_forward(x, 0.3, rng=g)
    d, _ = dropout_forward(x, 0.3, rng=g)
    assert not np.array_equal(c, d), "one Generator must draw a fresh mask on every call"
    m1, m2 = Dropout(0.3, rng=3), Dropout(0.3, rng=3)
    for _ in range(2):
        np.testing.assert_array_equal(m1(x), m2(x))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_kept_units_scaled_fraction_and_expectation(p):
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, size=(200, 500)).astype(np.float32)
    out, _ = dropout_forward(x, p, rng=rng)
    assert out.dtype == np.float32
    kept = out != 0
    # kept units carry x / (1 - p), as in PyTorch's (inverted) dropout
    np.testing.assert_allclose(out[kept], x[kept] / np.float32(1 - p), rtol=1e-6)
    theirs = F.dropout(torch.tensor(x), p).numpy()
    np.testing.assert_allclose(theirs[theirs != 0], x[theirs != 0] / np.float32(1 - p), rtol=1e-6)
    n = x.size
    assert abs((1 - kept.mean()) - p) < 4 * np.sqrt(p * (1 - p) / n)  # fraction dropped ~ p
    # expectation preserved: the mean over many draws approaches x
    draws = np.mean([dropout_forward(x[:20, :20], p, rng=rng)[0] for _ in range(2000)], axis=0)
    sd = x[:20, :20] * np.sqrt(p / (1 - p) / 2000)
    assert np.all(np.abs(draws - x[:20, :20]) < 5 * sd)


def test_eval_and_p_zero_are_identity_and_p_one_gives_zeros():
    x = np.random.default_rng(1).standard_normal((4, 5))
    for kwargs in (dict(p=0.5, training=False), dict(p=0.0)):
        out, cache = dropout_forward(x, **kwargs)
        np.testing.assert_array_equal(out, x)
        assert out is not x
        np.testing.assert_array_equal(dropout_backward(x, cache), x)
    out, cache = dropout_forward(x, 1.0, rng=0)
    np.testing.assert_array_equal(out, F.dropout(torch.tensor(x), 1.0).numpy())  # zeros
    np.testing.assert_array_equal(dropout_backward(np.ones_like(x), cache), np.zeros_like(x))


@settings(max_examples=10, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), p=st.floats(0.0, 0.9),
       seed=st.integers(0, 2**16))
def test_gradients(shape, p, seed):
    # the same seed draws the same mask on every call, so finite differences see one function
    x = np.random.default_rng(seed).standard_normal(shape)
    check_gradients(lambda x: dropout_forward(x, p, rng=seed), dropout_backward, [x], rng=seed)
    check_fan_out(lambda x: dropout_forward(x, p, rng=seed), dropout_backward, x)
    out, cache = dropout_forward(x, p, rng=seed)
    dout = np.random.default_rng(seed + 1).standard_normal(shape)
    # the gradient flows exactly where the forward kept a unit, with the same scale
    np.testing.assert_allclose(dropout_backward(dout, cache) * x, dout * out)


def test_module_train_eval_backward():
    x = np.random.default_rng(2).standard_normal((6, 7)).astype(np.float32)
    layer = Dropout(0.5, rng=0)
    assert layer.params == {} and repr(layer) == "Dropout(p=0.5)"
    out = layer(x)
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx != 0, out != 0)
    layer.eval()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_errors():
    for p in (-0.1, 1.5, float("nan")):  # a wrong value: ValueError
        with pytest.raises(ValueError, match=r"dropout_forward: p must be a number >= 0 and <= 1"):
            dropout_forward(np.ones(3), p)
    for p in ("0.5", True, None):  # a wrong type: TypeError
        with pytest.raises(TypeError, match=r"dropout_forward: p must be a number"):
            dropout_forward(np.ones(3), p)
    with pytest.raises(ValueError, match="Dropout: p"):
        Dropout(2)
    with pytest.raises(TypeError, match="x must be a NumPy array"):
        dropout_forward("x")
    with pytest.raises(RuntimeError, match="before forward"):
        Dropout().backward(np.ones(3))


# --- Dropout2d: one draw per (sample, channel), shared by the whole feature map ----------

def _maps_all_kept_or_all_dropped(out, x):
    kept = out != 0
    per_map = kept.reshape(kept.shape[0], kept.shape[1], -1)
    return np.all(per_map.all(axis=2) | ~per_map.any(axis=2))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout2d_whole_maps_scaling_and_statistics_match_torch(p):
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, size=(64, 50, 3, 4)).astype(np.float32)
    out, cache = dropout2d_forward(x, p, rng=rng)
    assert out.dtype == np.float32 and cache[0].shape == (64, 50, 1, 1)
    torch.manual_seed(0)
    theirs = F.dropout2d(torch.tensor(x), p).numpy()
    for y in (out, theirs):  # both: whole maps kept or dropped, kept ones scaled by 1/(1-p)
        assert _maps_all_kept_or_all_dropped(y, x)
        kept = y != 0
        np.testing.assert_allclose(y[kept], x[kept] / np.float32(1 - p), rtol=1e-6)
        dropped = 1 - kept[:, :, 0, 0].mean()  # fraction of maps dropped ~ p
        assert abs(dropped - p) < 4 * np.sqrt(p * (1 - p) / (64 * 50))
    # expectation preserved over many draws
    small = x[:2, :3]
    draws = np.mean([dropout2d_forward(small, p, rng=rng)[0] for _ in range(3000)], axis=0)
    assert np.all(np.abs(draws - small) < 5 * small * np.sqrt(p / (1 - p) / 3000))


def test_dropout2d_backward_matches_torch_with_the_same_mask():
    # torch draws its mask; we read it off torch's output on ones and hand it to our
    # backward as the cache: the gradients must agree exactly
    x = np.random.default_rng(3).standard_normal((3, 4, 5, 2))
    dout = np.random.default_rng(4).standard_normal(x.shape)
    torch.manual_seed(11)
    mask = F.dropout2d(torch.ones(x.shape, dtype=torch.float64), 0.4).numpy()[:, :, :1, :1]
    torch.manual_seed(11)
    xt = torch.tensor(x, requires_grad=True)
    yt = F.dropout2d(xt, 0.4)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(x * mask, yt.detach().numpy())
    np.testing.assert_allclose(dropout2d_backward(dout, (mask, x.shape, x.dtype)), xt.grad.numpy())
    # and our forward's cache is such a mask: y = x * mask
    out, cache = dropout2d_forward(x, 0.4, rng=2)
    np.testing.assert_array_equal(out, x * cache[0])


@settings(max_examples=10, deadline=None)
@given(shape=st.tuples(*[st.integers(1, 3)] * 4), p=st.floats(0.0, 0.9),
       seed=st.integers(0, 2**16))
def test_dropout2d_gradients(shape, p, seed):
    # a fixed seed is a fixed mask, so finite differences see one linear function
    x = np.random.default_rng(seed).standard_normal(shape)
    check_gradients(lambda x: dropout2d_forward(x, p, rng=seed), dropout2d_backward, [x], rng=seed)
    check_fan_out(lambda x: dropout2d_forward(x, p, rng=seed), dropout2d_backward, x)


def test_dropout2d_eval_p_zero_p_one_and_module():
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4))
    for kwargs in (dict(p=0.5, training=False), dict(p=0.0)):
        out, cache = dropout2d_forward(x, **kwargs)
        np.testing.assert_array_equal(out, x)
        np.testing.assert_array_equal(dropout2d_backward(x, cache), x)
    out, cache = dropout2d_forward(x, 1.0, rng=0)
    np.testing.assert_array_equal(out, F.dropout2d(torch.tensor(x), 1.0).numpy())  # zeros
    layer, twin = Dropout2d(0.5, rng=0), torch.nn.Dropout2d(0.5)
    assert layer.params == {} and repr(layer) == "Dropout2d(p=0.5)"
    out = layer(x)
    assert _maps_all_kept_or_all_dropped(out, x)
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx != 0, out != 0)
    layer.eval(), twin.eval()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(twin(torch.tensor(x)).numpy(), x)  # torch: identity too
    m1, m2 = Dropout2d(0.3, rng=3), Dropout2d(0.3, rng=3)  # seeded: the same masks
    big = np.ones((8, 16, 2, 2))
    first = m1(big)
    np.testing.assert_array_equal(first, m2(big))
    assert not np.array_equal(first, m1(big)), "a fresh mask on every call"


def test_dropout2d_errors():
    with pytest.raises(ValueError, match=r"dropout2d_forward: x must have 4 dimensions \(N, C, H, W\), but has 2"):
        dropout2d_forward(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"dropout2d_forward: p must be a number >= 0 and <= 1"):
        dropout2d_forward(np.ones((1, 1, 2, 2)), 1.5)
    with pytest.raises(TypeError, match=r"dropout2d_forward: p must be a number"):
        dropout2d_forward(np.ones((1, 1, 2, 2)), "0.5")
    with pytest.raises(ValueError, match="Dropout2d: p"):
        Dropout2d(-1)
    _, cache = dropout2d_forward(np.ones((1, 2, 2, 2)), 0.5, rng=0)
    with pytest.raises(ValueError, match="dropout2d_backward: dout"):
        dropout2d_backward(np.ones((1, 2, 2)), cache)
