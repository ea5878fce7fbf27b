"""Attention: scaled dot-product and multi-head self-attention against finite differences
and PyTorch; masks; the Module with weights copied to torch.nn.MultiheadAttention."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnnbook.attention import (MultiheadAttention, multi_head_attention_backward,
                               multi_head_attention_forward, scaled_dot_product_attention_backward,
                               scaled_dot_product_attention_backward_naive,
                               scaled_dot_product_attention_forward,
                               scaled_dot_product_attention_forward_naive)
from helpers import check_fan_out, check_op

sdpa_fwd, sdpa_bwd = scaled_dot_product_attention_forward, scaled_dot_product_attention_backward
sdpa_fwd_naive = scaled_dot_product_attention_forward_naive
sdpa_bwd_naive = scaled_dot_product_attention_backward_naive


@settings(max_examples=15, deadline=None)
@given(lead=st.sampled_from([(2,), (1, 2), (2, 1)]), L=st.integers(1, 4), S=st.integers(1, 4),
       E=st.integers(1, 3), Ev=st.integers(1, 3),
       mask=st.sampled_from([None, "bool", "float", "causal", "bool-broadcast"]),
       scale=st.sampled_from([None, 0.7]), seed=st.integers(0, 2**16))
def test_sdpa_gradients_and_pytorch(lead, L, S, E, Ev, mask, scale, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal(lead + s) for s in ((L, E), (S, E), (S, Ev)))
    kwargs = dict(scale=scale)
    if mask == "causal":
        kwargs["is_causal"] = True
    elif mask == "bool":
        m = rng.random(lead + (L, S)) < 0.7
        m[..., 0] = True  # every query keeps a key (fully masked rows are tested apart)
        kwargs["attn_mask"] = m
    elif mask == "bool-broadcast":
        m = rng.random((L, S)) < 0.7
        m[:, -1] = True
        kwargs["attn_mask"] = m
    elif mask == "float":
        kwargs["attn_mask"] = rng.standard_normal((L, S))
    t_kwargs = {k_: torch.tensor(a) if isinstance(a, np.ndarray) else a for k_, a in kwargs.items()}
    check_op(sdpa_fwd, sdpa_bwd, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **t_kwargs),
             [q, k, v], kwargs=kwargs, torch_kwargs={}, rng=seed)


@settings(max_examples=15, deadline=None)
@given(lead=st.sampled_from([(2,), (1, 2), (2, 1)]), L=st.integers(1, 4), S=st.integers(1, 4),
       E=st.integers(1, 3), Ev=st.integers(1, 3),
       mask=st.sampled_from([None, "bool", "float", "causal", "fully-masked-row"]),
       scale=st.sampled_from([None, 0.7]), seed=st.integers(0, 2**16))
def test_sdpa_naive_twin_equals_fast_kernel(lead, L, S, E, Ev, mask, scale, seed):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal(lead + s) for s in ((L, E), (S, E), (S, Ev)))
    kwargs = dict(scale=scale)
    if mask == "causal":
        kwargs["is_causal"] = True
    elif mask == "bool":
        kwargs["attn_mask"] = rng.random((L, S)) < 0.7
    elif mask == "fully-masked-row":
        m = np.ones((L, S), bool)
        m[0] = False
        kwargs["attn_mask"] = m
    elif mask == "float":
        kwargs["attn_mask"] = rng.standard_normal(lead + (L, S))
    out, cache = sdpa_fwd(q, k, v, **kwargs)
    out_naive, cache_naive = sdpa_fwd_naive(q, k, v, **kwargs)
    np.testing.assert_allclose(out_naive, out, rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    grads = sdpa_bwd(dout, cache)
    for backward, c in ((sdpa_bwd_naive, cache), (sdpa_bwd_naive, cache_naive), (sdpa_bwd, cache_naive)):
        for g, g_fast in zip(backward(dout, c), grads):
            np.testing.assert_allclose(g, g_fast, rtol=1e-9, atol=1e-12)


def test_sdpa_fully_masked_row_gives_zeros_like_pytorch():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 2))
    m = np.ones((3, 5), bool)
    m[1] = False
    check_op(sdpa_fwd, sdpa_bwd,
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=torch.tensor(m)),
             [q, k, v], kwargs=dict(attn_mask=m), torch_kwargs={})
    out, _ = sdpa_fwd(q, k, v, attn_mask=m)
    np.testing.assert_array_equal(out[:, 1], 0)


def test_sdpa_softmax_is_stable_and_fan_out():
    rng = np.random.default_rng(1)
    q = rng.standard_normal((1, 2, 3)) * 1e3  # scores of order 1e6: exp would overflow unshifted
    k, v = rng.standard_normal((1, 4, 3)), rng.standard_normal((1, 4, 2))
    out, cache = sdpa_fwd(q, k, v)
    assert np.all(np.isfinite(out))
    assert np.all(np.isfinite(np.concatenate([g.ravel() for g in sdpa_bwd(np.ones_like(out), cache)])))
    x = rng.standard_normal((2, 3, 4))
    check_fan_out(lambda x: sdpa_fwd(x, x, x), lambda d, c: sum(sdpa_bwd(d, c)), x)


def test_sdpa_float32_agrees_with_float64():
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 4, 8, 16)) for _ in range(3))
    dout = rng.standard_normal((2, 4, 8, 16))
    out64, c64 = sdpa_fwd(q, k, v, is_causal=True)
    out32, c32 = sdpa_fwd(*(a.astype(np.float32) for a in (q, k, v)), is_causal=True)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, atol=1e-5)
    for a, b in zip(sdpa_bwd(dout.astype(np.float32), c32), sdpa_bwd(dout, c64)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-4)


def torch_mha(num_heads, attn_mask=None):
    """F.multi_head_attention_forward (sequence-first) with batch_first inputs."""
    def fn(x, w_in, b_in, w_out, b_out):
        xt = x.transpose(0, 1)  # (T, N, D)
        out = F.multi_head_attention_forward(
            xt, xt, xt, x.shape[-1], num_heads, w_in, b_in, None, None, False, 0.0, w_out, b_out,
            training=False, need_weights=False,
            attn_mask=None if attn_mask is None else torch.tensor(attn_mask))[0]
        return out.transpose(0, 1)
    return fn


@settings(max_examples=10, deadline=None)
@given(N=st.integers(1, 2), T=st.integers(1, 3), heads=st.integers(1, 2), d=st.integers(1, 2),
       mask=st.sampled_from([None, "bool", "float", "per-head"]), bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_mha_gradients_and_pytorch(N, T, heads, d, mask, bias, seed):
    rng = np.random.default_rng(seed)
    D = heads * d
    x = rng.standard_normal((N, T, D))
    w_in, w_out = rng.standard_normal((3 * D, D)), rng.standard_normal((D, D))
    b_in = rng.standard_normal(3 * D) if bias else None
    b_out = rng.standard_normal(D) if bias else None
    attn_mask = None
    if mask == "bool":  # True = masked out, as in nn.MultiheadAttention
        attn_mask = np.triu(np.ones((T, T), bool), k=1)
    elif mask == "float":
        attn_mask = rng.standard_normal((T, T))
    elif mask == "per-head":
        attn_mask = rng.standard_normal((N * heads, T, T))
    kwargs = dict(num_heads=heads, attn_mask=attn_mask)
    wrt = [0, 1, 3] + ([2, 4] if bias else [])
    check_op(multi_head_attention_forward, multi_head_attention_backward, torch_mha(heads, attn_mask),
             [x, w_in, b_in, w_out, b_out], kwargs=kwargs, torch_kwargs={}, wrt=wrt, rng=seed)


def test_mha_fan_out_and_float32():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 4))
    p = [rng.standard_normal(s) for s in ((12, 4), (12,), (4, 4), (4,))]
    check_fan_out(lambda x: multi_head_attention_forward(x, *p, num_heads=2),
                  multi_head_attention_backward, x)
    dout = rng.standard_normal(x.shape)
    r64 = multi_head_attention_forward(x, *p, num_heads=2)
    r32 = multi_head_attention_forward(x.astype(np.float32), *(a.astype(np.float32) for a in p), num_heads=2)
    assert r32[0].dtype == np.float32
    np.testing.assert_allclose(r32[0], r64[0], atol=1e-4)
    for a, b in zip(multi_head_attention_backward(dout.astype(np.float32), r32[1]),
                    multi_head_attention_backward(dout, r64[1])):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-3 * np.abs(b).max())


def test_module_matches_torch_multihead_attention():
    rng = np.random.default_rng(4)
    ours = MultiheadAttention(8, 2, rng=0, dtype=np.float64)
    for k in ("in_proj_bias", "out_proj_bias"):  # zero at init: make them count
        ours.params[k][:] = rng.standard_normal(ours.params[k].shape)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.tensor(ours.params["in_proj_weight"]))
        theirs.in_proj_bias.copy_(torch.tensor(ours.params["in_proj_bias"]))
        theirs.out_proj.weight.copy_(torch.tensor(ours.params["out_proj_weight"]))
        theirs.out_proj.bias.copy_(torch.tensor(ours.params["out_proj_bias"]))
    x, dout = rng.standard_normal((3, 5, 8)), rng.standard_normal((3, 5, 8))
    mask = np.triu(np.ones((5, 5), bool), k=1)
    xt = torch.tensor(x, requires_grad=True)
    yt, _ = theirs(xt, xt, xt, attn_mask=torch.tensor(mask))
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(ours(x, attn_mask=mask), yt.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.backward(dout), xt.grad.numpy(), atol=1e-10)
    pairs = {"in_proj_weight": theirs.in_proj_weight, "in_proj_bias": theirs.in_proj_bias,
             "out_proj_weight": theirs.out_proj.weight, "out_proj_bias": theirs.out_proj.bias}
    for k, t in pairs.items():
        np.testing.assert_allclose(ours.grads[k], t.grad.numpy(), atol=1e-10, err_msg=k)


def test_module_init_like_pytorch():
    D = 64
    ours = MultiheadAttention(D, 4, rng=0)
    theirs = torch.nn.MultiheadAttention(D, 4, batch_first=True)
    assert ours.params["in_proj_weight"].dtype == np.float32
    pairs = [(ours.params["in_proj_weight"], theirs.in_proj_weight, np.sqrt(6 / (4 * D))),
             (ours.params["out_proj_weight"], theirs.out_proj.weight, 1 / np.sqrt(D))]
    for w, t, bound in pairs:
        t = t.detach().numpy()
        assert w.shape == t.shape
        assert np.abs(w).max() <= bound and np.abs(t).max() <= bound
        # uniform on [-bound, bound]: standard deviation bound / sqrt(3), for both
        np.testing.assert_allclose([w.std(), t.std()], bound / np.sqrt(3), rtol=0.05)
    np.testing.assert_array_equal(ours.params["in_proj_bias"], 0)
    np.testing.assert_array_equal(ours.params["out_proj_bias"], 0)
    assert set(MultiheadAttention(8, 2, bias=False).params) == {"in_proj_weight", "out_proj_weight"}
    layer = MultiheadAttention(8, 2, bias=False, rng=1)
    x = np.random.default_rng(0).standard_normal((2, 3, 8)).astype(np.float32)
    assert layer(x).shape == (2, 3, 8) and layer.backward(x).shape == (2, 3, 8)
    assert set(layer.grads) == set(layer.params)


def test_errors():
    q = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="k must have q's feature size 4"):
        sdpa_fwd(q, np.zeros((2, 5, 3)), np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="v must have as many positions as k"):
        sdpa_fwd(q, np.zeros((2, 5, 4)), np.zeros((2, 6, 4)))
    with pytest.raises(ValueError, match="share their leading"):
        sdpa_fwd(q, np.zeros((1, 3, 4)), np.zeros((1, 3, 4)))
    with pytest.raises(ValueError, match=r"q must have 3 or 4 dimensions"):
        sdpa_fwd(np.zeros((3, 4)), q, q)
    with pytest.raises(ValueError, match=r"attn_mask must end in \(L, S\) = \(3, 3\)"):
        sdpa_fwd(q, q, q, attn_mask=np.ones((3, 4), bool))
    with pytest.raises(ValueError, match=r"does not broadcast to the scores' shape \(2, 3, 3\)"):
        sdpa_fwd(q, q, q, attn_mask=np.ones((4, 3, 3), bool))
    with pytest.raises(ValueError, match="not both"):
        sdpa_fwd(q, q, q, attn_mask=np.ones((3, 3), bool), is_causal=True)
    with pytest.raises(TypeError, match="boolean or floating"):
        sdpa_fwd(q, q, q, attn_mask=np.ones((3, 3), int))
    x = np.zeros((2, 3, 6))
    w_in, w_out = np.zeros((18, 6)), np.zeros((6, 6))
    with pytest.raises(ValueError, match="embed_dim 6 .* is not divisible by num_heads=4"):
        multi_head_attention_forward(x, w_in, None, w_out, None, num_heads=4)
    with pytest.raises(ValueError, match=r"in_proj_weight must have shape \(18, 6\)"):
        multi_head_attention_forward(x, np.zeros((12, 6)), None, w_out, None, num_heads=2)
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(T, T\) = \(3, 3\)"):
        multi_head_attention_forward(x, w_in, None, w_out, None, num_heads=2, attn_mask=np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        multi_head_attention_forward(x[0], w_in, None, w_out, None, num_heads=2)
    with pytest.raises(ValueError, match="embed_dim=10 must be divisible by num_heads=3"):
        MultiheadAttention(10, 3)
    with pytest.raises(RuntimeError, match="before forward"):
        MultiheadAttention(4, 2).backward(x)
