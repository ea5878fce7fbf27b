"""Calls at the extremes that must work (the other half of the sweep in test_bad_inputs.py):
empty batches, zero keys, values whose squares overflow, tiny divisors. Each result is
compared with PyTorch where PyTorch gets it right, and otherwise with the same data at a
tame scale (batch norm does not change when x is multiplied by a constant)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnbook
from cnnbook.attention import (MultiheadAttention, scaled_dot_product_attention_backward,
                               scaled_dot_product_attention_forward)
from cnnbook.autograd import Value
from cnnbook.batchnorm import batch_norm_backward, batch_norm_forward
from cnnbook.flatten import Flatten, flatten_backward, flatten_forward


# ---------------------------------------------------------------- empty batches (N = 0)

@pytest.mark.parametrize("shape", [(0, 3, 4, 5), (0, 7), (0, 2, 0)])
def test_flatten_of_an_empty_batch_like_torch(shape):
    x = np.zeros(shape)
    out, cache = flatten_forward(x)
    assert out.shape == tuple(torch.flatten(torch.zeros(shape), 1).shape)
    assert flatten_backward(out, cache).shape == shape
    assert Flatten().forward(x.astype(np.float32)).shape == out.shape


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(0, 3, 4, 4), (0, 3), (5, 3, 0)])
def test_batch_norm_of_no_values_like_torch(shape, training):
    """N = 0 (or no positions): an empty output and zero parameter gradients, and the
    running statistics are left as they are, as F.batch_norm does."""
    rng = np.random.default_rng(0)
    x = np.zeros(shape)
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    rm0, rv0 = rm.copy(), rv.copy()
    out, cache = batch_norm_forward(x, weight=weight, bias=bias, running_mean=rm,
                                    running_var=rv, training=training)
    dx, dweight, dbias = batch_norm_backward(np.zeros(shape), cache)
    tx = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(weight, requires_grad=True)
    tb = torch.tensor(bias, requires_grad=True)
    trm, trv = torch.tensor(rm0), torch.tensor(rv0)
    t_out = F.batch_norm(tx, trm, trv, tw, tb, training=training)
    t_out.sum().backward()
    assert out.shape == tuple(t_out.shape) == dx.shape == shape
    np.testing.assert_array_equal(rm, trm.numpy())
    np.testing.assert_array_equal(rv, trv.numpy())
    np.testing.assert_array_equal(rm, rm0)
    np.testing.assert_array_equal(dweight, tw.grad.numpy())
    np.testing.assert_array_equal(dbias, tb.grad.numpy())


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((3, 0), -1), ((0, 4), -1), ((0,), 0)])
def test_softmax_over_nothing_like_torch(name, shape, dim):
    forward = getattr(cnnbook, f"{name}_forward")
    out, _ = forward(np.zeros(shape), dim=dim)
    assert out.shape == tuple(getattr(torch, name)(torch.zeros(shape), dim=dim).shape)


# ---------------------------------------------------------------- squares that overflow

@pytest.mark.parametrize("scale, dtype", [(1e150, np.float64), (1e200, np.float64),
                                          (1e300, np.float64), (1e20, np.float32),
                                          (1e30, np.float32)])
def test_batch_norm_of_huge_values_is_scale_invariant(scale, dtype):
    """(x - mean) / std does not change when x is scaled, so bn(scale * x) = bn(x) up to eps
    (taken tiny here). x^2 overflows at these scales: the statistics are then taken on
    x / max|x|. (PyTorch returns zeros there: its variance overflows to inf.)"""
    rng = np.random.default_rng(0)
    base = rng.standard_normal((8, 3, 2, 2)) + 0.5
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal(base.shape)
    eps = 1e-30 if dtype == np.float32 else 1e-300
    ref, ref_cache = batch_norm_forward(base, None, None, weight, bias, training=True, eps=eps)
    ref_dx, ref_dw, ref_db = batch_norm_backward(dout, ref_cache)
    rm, rv = np.zeros(3, dtype), np.ones(3, dtype)
    x = (base * scale).astype(dtype)
    out, cache = batch_norm_forward(x, weight=weight.astype(dtype), bias=bias.astype(dtype),
                                    running_mean=rm, running_var=rv, training=True, eps=eps)
    dx, dw, db = batch_norm_backward(dout.astype(dtype), cache)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert out.dtype == dtype and np.isfinite(out).all()
    np.testing.assert_allclose(out, ref, atol=tol)
    np.testing.assert_allclose(dx * np.float64(scale), ref_dx, atol=tol * 10)  # dx scales by 1/scale
    np.testing.assert_allclose(dw, ref_dw, atol=tol * 10)
    np.testing.assert_allclose(db, ref_db, atol=tol * 10)
    np.testing.assert_allclose(rm, 0.1 * base.mean(axis=(0, 2, 3)) * scale, rtol=1e-5)
    assert (rv > 0).all()  # the unbiased variance * 0.1 + 0.9: inf where it exceeds a float


def test_batch_norm_of_huge_values_matches_torch_where_torch_is_finite():
    """At 1e150 the squares still fit in float64: both compute the same."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2, 3)) * 1e150
    out, _ = batch_norm_forward(x, None, None, training=True)
    t_out = F.batch_norm(torch.tensor(x), None, None, training=True)
    np.testing.assert_allclose(out, t_out.numpy(), atol=1e-12)


# ---------------------------------------------------------------- attention without keys

@pytest.mark.parametrize("lead", [(2,), (2, 3)])
def test_attention_with_zero_keys_like_torch(lead):
    """S = 0: no key to attend to, so the weights are empty and the output 0, as in PyTorch."""
    rng = np.random.default_rng(0)
    q = rng.standard_normal(lead + (4, 5))
    k, v = np.zeros(lead + (0, 5)), np.zeros(lead + (0, 6))
    out, cache = scaled_dot_product_attention_forward(q, k, v)
    dout = rng.standard_normal(out.shape)
    dq, dk, dv = scaled_dot_product_attention_backward(dout, cache)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    t_out = F.scaled_dot_product_attention(tq, tk, tv)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_array_equal(out, t_out.detach().numpy())
    np.testing.assert_array_equal(dq, tq.grad.numpy())
    assert dk.shape == k.shape and dv.shape == v.shape


def test_self_attention_of_an_empty_sequence():
    layer = MultiheadAttention(4, 2, rng=0)
    out = layer.forward(np.zeros((2, 0, 4), np.float32))
    assert out.shape == (2, 0, 4) and layer.backward(out).shape == (2, 0, 4)


# ---------------------------------------------------------------- the scalar engine

def test_value_at_the_edges_of_float():
    assert Value(709.0).exp().data == pytest.approx(np.exp(709.0))
    assert (Value(1e200) * Value(1e200)).data == float("inf")  # as Python floats
    a, b = Value(1e-170), Value(1e-170)
    (a / b).backward()  # d(a/b)/db = -a / b^2, and b^2 underflows: computed as -(a/b)/b
    assert a.grad == pytest.approx(1e170) and b.grad == pytest.approx(-1e170)
