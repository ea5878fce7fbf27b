"""Scaled dot-product attention and multi-head self-attention: forward/backward pairs and
a Module. See chapter 10 (source 000, eq. 18).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + mask) V

Shapes: a sequence batch is (N, T, D); inside attention the heads get their own axis,
(N, heads, T, d_head), and every product is one batched ``np.matmul`` over the leading
axes. Masks follow PyTorch, whose two functions disagree on what a boolean True means:
``scaled_dot_product_attention`` takes part where the mask is True, while
``nn.MultiheadAttention`` (and ``multi_head_attention_forward`` here) masks out where it
is True. A float mask is added to the scores in both.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, positive_int
from ._init import make_rng, uniform_fan_in
from .module import Module

__all__ = [
    "scaled_dot_product_attention_forward", "scaled_dot_product_attention_backward",
    "multi_head_attention_forward", "multi_head_attention_backward",
    "MultiHeadAttention",
]


# -- scaled dot-product attention ----------------------------------------------------------
def _additive_mask(attn_mask, is_causal, L, S, dtype, func, *, true_masks=False):
    """The mask as a float array to add to the scores (0 = keep, -inf = drop), or None.

    A boolean mask takes part where True (``true_masks=False``, as in
    ``scaled_dot_product_attention``) or is masked where True (``true_masks=True``, as in
    ``nn.MultiheadAttention``); a float mask is returned as it is.
    """
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{func}: give either attn_mask or is_causal=True, not both")
        # position i may look at positions j <= i (top-left aligned when L != S, as PyTorch)
        attn_mask, true_masks = np.tri(L, S, dtype=bool), False  # (L, S)
    if attn_mask is None:
        return None
    if not isinstance(attn_mask, np.ndarray):
        attn_mask = np.asarray(attn_mask)
    if attn_mask.ndim < 2 or attn_mask.shape[-2:] != (L, S):
        raise ValueError(f"{func}: attn_mask must end in (L, S) = ({L}, {S}) (queries, keys), "
                         f"got attn_mask.shape={attn_mask.shape}")
    if attn_mask.dtype == bool:
        drop = attn_mask if true_masks else ~attn_mask
        return np.where(drop, -np.inf, 0.0).astype(dtype)  # same shape as attn_mask
    if not np.issubdtype(attn_mask.dtype, np.floating):
        raise TypeError(f"{func}: attn_mask must be boolean or floating, got {attn_mask.dtype}")
    return attn_mask.astype(dtype, copy=False)


def _softmax_columns(scores_t, masked):
    """Stable softmax down each column (over axis -2), in place: exp(s - max) / sum.

    A column that is masked entirely (all -inf) becomes all zeros, as in PyTorch, instead
    of 0/0 = NaN.
    """
    col_max = scores_t.max(axis=-2, keepdims=True)  # (..., 1, L)
    if masked:
        col_max[np.isneginf(col_max)] = 0.0
    scores_t -= col_max
    np.exp(scores_t, out=scores_t)
    total = scores_t.sum(axis=-2, keepdims=True)  # (..., 1, L)
    if masked:
        total[total == 0] = 1.0
    scores_t /= total
    return scores_t


# The attention matrix is kept transposed, keys x queries (..., S, L): the softmax then
# runs down columns, and NumPy reduces across rows (axis -2) about three times faster
# than along each short row (axis -1). Every product takes the transpose as a free view.
def _attend(q, k, v, scale, mask, out=None):
    """The attention core on checked arrays; returns (out, cache). ``out`` may give an
    array to write the result into."""
    qs = q * q.dtype.type(scale)  # (..., L, E): scaling q is cheaper than scaling the scores
    scores_t = k @ qs.swapaxes(-1, -2)  # (..., S, L), scores transposed
    if mask is not None:
        scores_t += mask.swapaxes(-1, -2)
    weights_t = _softmax_columns(scores_t, mask is not None)  # (..., S, L), P transposed
    out = np.matmul(weights_t.swapaxes(-1, -2), v, out=out)  # (..., L, Ev)
    return out, (qs, k, v, weights_t, out, scale)


def _attend_backward(dout, cache, out=None):
    """Gradients (dq, dk, dv); ``out`` may give three arrays to write them into."""
    qs, k, v, weights_t, att_out, scale = cache
    dq, dk, dv = out if out is not None else (None, None, None)
    dv = np.matmul(weights_t, dout, out=dv)  # (..., S, Ev)
    dweights_t = v @ dout.swapaxes(-1, -2)  # (..., S, L)
    # softmax backward: dS = P * (dP - rowsum(dP * P)), and rowsum(dP * P) = rowsum(dout * out)
    # because out = P v: an (..., L) vector from (..., L, Ev) arrays, not from (..., L, S) ones
    dweights_t -= np.vecdot(dout, att_out)[..., None, :]
    dweights_t *= weights_t  # now dS transposed, (..., S, L)
    dq = np.matmul(dweights_t.swapaxes(-1, -2), k, out=dq)  # (..., L, E)
    dq *= dq.dtype.type(scale)
    dk = np.matmul(dweights_t, qs, out=dk)  # (..., S, E)
    return dq, dk, dv


def scaled_dot_product_attention_forward(q, k, v, *, attn_mask=None, is_causal=False, scale=None):
    """Scaled dot-product attention, as ``torch.nn.functional.scaled_dot_product_attention``.

    out = softmax(q k^T * scale + mask) v,  scale = 1 / sqrt(E) unless given.

    q: (N, heads, L, E) or (N, L, E); k: (..., S, E); v: (..., S, Ev) with the same leading
    axes. attn_mask (broadcastable to (..., L, S)): boolean, True = take part (False
    positions get -inf), or float, added to the scores. ``is_causal=True`` lets query i see
    keys j <= i only. The softmax subtracts each row's maximum first, so exp never
    overflows; a row with every key masked gives zeros. Returns ``(out, cache)`` with
    out: (..., L, Ev).
    """
    func = "scaled_dot_product_attention_forward"
    layout = "(N, heads, T, d_head) or (N, T, d)"
    q = as_float_array(q, "q", func, ndim=(3, 4), layout=layout)
    k = as_float_array(k, "k", func, ndim=(3, 4), layout=layout)
    v = as_float_array(v, "v", func, ndim=(3, 4), layout=layout)
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(f"{func}: q, k and v must share their leading (batch, heads) axes, got "
                         f"q.shape={q.shape}, k.shape={k.shape}, v.shape={v.shape}")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"{func}: k must have q's feature size {q.shape[-1]} in its last axis, "
                         f"got q.shape={q.shape}, k.shape={k.shape}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"{func}: v must have as many positions as k ({k.shape[-2]}), "
                         f"got k.shape={k.shape}, v.shape={v.shape}")
    dtype = np.result_type(q, k, v)
    L, S = q.shape[-2], k.shape[-2]
    mask = _additive_mask(attn_mask, is_causal, L, S, dtype, func)
    if mask is not None:
        want = q.shape[:-2] + (L, S)
        try:
            fits = np.broadcast_shapes(mask.shape, want) == want
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{func}: attn_mask.shape={mask.shape} does not broadcast to "
                             f"the scores' shape {want}")
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else float(scale)
    return _attend(q, k, v, scale, mask)


def scaled_dot_product_attention_backward(dout, cache):
    """Gradients ``(dq, dk, dv)`` of scaled dot-product attention.

    With P the attention weights, dv = P^T dout, dP = dout v^T,
    dS = P * (dP - rowsum(dP * P)), dq = scale * dS k, dk = scale * dS^T q.
    (A float attn_mask gets no gradient.)
    """
    return _attend_backward(dout, cache)


# -- multi-head self-attention ---------------------------------------------------------------
def multi_head_attention_forward(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
                                 *, num_heads, attn_mask=None):
    """Multi-head self-attention, the math of ``torch.nn.MultiheadAttention(batch_first=True)``.

    [q | k | v] = x W_in^T + b_in,  split each into ``num_heads`` heads of d = D / heads,
    head_i = softmax(q_i k_i^T / sqrt(d) + mask) v_i,  y = concat(heads) W_out^T + b_out.

    x: (N, T, D); in_proj_weight: (3D, D); in_proj_bias: (3D,) or None;
    out_proj_weight: (D, D); out_proj_bias: (D,) or None. attn_mask as in
    ``nn.MultiheadAttention``: (T, T) or (N * num_heads, T, T), boolean with True = NOT
    allowed to attend (the opposite of scaled_dot_product_attention_forward), or float,
    added to the scores. Returns ``(y, cache)`` with y: (N, T, D).
    """
    func = "multi_head_attention_forward"
    x = as_float_array(x, "x", func, ndim=3, layout="(N, T, D)")
    N, T, D = x.shape
    num_heads = positive_int(num_heads, "num_heads", func)
    if D % num_heads:
        raise ValueError(f"{func}: embed_dim {D} (x.shape={x.shape}) is not divisible by "
                         f"num_heads={num_heads}")
    w_in = as_float_array(in_proj_weight, "in_proj_weight", func, ndim=2, layout="(3D, D)")
    w_out = as_float_array(out_proj_weight, "out_proj_weight", func, ndim=2, layout="(D, D)")
    for name, w, want in (("in_proj_weight", w_in, (3 * D, D)), ("out_proj_weight", w_out, (D, D))):
        if w.shape != want:
            raise ValueError(f"{func}: {name} must have shape {want} for x of embed_dim {D}, "
                             f"got {name}.shape={w.shape} (x.shape={x.shape})")
    for name, b, want in (("in_proj_bias", in_proj_bias, (3 * D,)), ("out_proj_bias", out_proj_bias, (D,))):
        if b is not None and np.shape(b) != want:
            raise ValueError(f"{func}: {name} must have shape {want}, got {name}.shape={np.shape(b)}")
    h, d = num_heads, D // num_heads
    if attn_mask is not None:
        attn_mask = np.asarray(attn_mask)
        if attn_mask.shape not in ((T, T), (N * h, T, T)):
            raise ValueError(f"{func}: attn_mask must have shape (T, T) = {(T, T)} or "
                             f"(N * num_heads, T, T) = {(N * h, T, T)}, got {attn_mask.shape}")
        if attn_mask.ndim == 3:
            attn_mask = attn_mask.reshape(N, h, T, T)  # (N, heads, T, T)
    mask = _additive_mask(attn_mask, False, T, T, x.dtype, func, true_masks=True)

    x2 = x.reshape(N * T, D)  # (N*T, D)
    qkv = x2 @ w_in.T  # (N*T, 3D)
    if in_proj_bias is not None:
        qkv += in_proj_bias
    # (N*T, 3D) -> (3, N, heads, T, d): views whose (T, d) planes are strided rows,
    # which np.matmul hands to BLAS without copying
    q, k, v = qkv.reshape(N, T, 3, h, d).transpose(2, 0, 3, 1, 4)  # 3 x (N, heads, T, d)
    # the heads are written side by side into concat, (N, T, heads, d), ready for W_out
    concat = np.empty((N, T, h, d), np.result_type(qkv))  # (N, T, heads, d)
    heads = concat.transpose(0, 2, 1, 3)  # (N, heads, T, d), a view of concat
    _, att_cache = _attend(q, k, v, 1.0 / np.sqrt(d), mask, out=heads)
    concat = concat.reshape(N * T, D)  # (N*T, D)
    y = concat @ w_out.T  # (N*T, D)
    if out_proj_bias is not None:
        y += out_proj_bias
    cache = (x2, w_in, w_out, concat, att_cache, (N, T, D, h, d),
             in_proj_bias is not None, out_proj_bias is not None)
    return y.reshape(N, T, D), cache  # (N, T, D)


def multi_head_attention_backward(dout, cache):
    """Gradients ``(dx, din_proj_weight, din_proj_bias, dout_proj_weight, dout_proj_bias)``
    of multi-head self-attention (a bias gradient is None when that bias was None).

    The input projection's gradient gathers the three uses of x (as query, key and
    value), so dx = [dq | dk | dv] W_in.
    """
    x2, w_in, w_out, concat, att_cache, (N, T, D, h, d), has_in_bias, has_out_bias = cache
    dy = np.asarray(dout).reshape(N * T, D)  # (N*T, D)
    dw_out = dy.T @ concat  # (D, D)
    db_out = dy.sum(axis=0) if has_out_bias else None
    dheads = (dy @ w_out).reshape(N, T, h, d).transpose(0, 2, 1, 3)  # (N, heads, T, d)
    # dq, dk, dv written straight into one array laid out as qkv, (N, T, 3, heads, d)
    dqkv = np.empty((N, T, 3, h, d), np.result_type(dheads, x2, w_in))
    _attend_backward(dheads, att_cache, out=dqkv.transpose(2, 0, 3, 1, 4))  # 3 x (N, heads, T, d)
    dqkv = dqkv.reshape(N * T, 3 * D)  # (N*T, 3D)
    dw_in = dqkv.T @ x2  # (3D, D)
    db_in = dqkv.sum(axis=0) if has_in_bias else None
    dx = (dqkv @ w_in).reshape(N, T, D)  # (N, T, D)
    return dx, dw_in, db_in, dw_out, db_out


class MultiHeadAttention(Module):
    """Multi-head self-attention on (N, T, D), ``torch.nn.MultiheadAttention(embed_dim,
    num_heads, batch_first=True)``'s twin for self-attention (query = key = value = x).

    Initialised as PyTorch: in_proj_weight (3D, D) Xavier-uniform,
    U(-sqrt(6 / (D + 3D)), +sqrt(6 / (D + 3D))); out_proj_weight (D, D) as a Linear layer,
    U(-1/sqrt(D), 1/sqrt(D)); both biases zero.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, bias: bool = True, rng=None,
                 dtype=np.float32):
        super().__init__()
        func = "MultiHeadAttention"
        self.embed_dim = positive_int(embed_dim, "embed_dim", func)
        self.num_heads = positive_int(num_heads, "num_heads", func)
        if embed_dim % num_heads:
            raise ValueError(f"{func}: embed_dim={embed_dim} must be divisible by "
                             f"num_heads={num_heads}")
        rng = make_rng(rng)
        D = embed_dim
        bound = np.sqrt(6.0 / (D + 3 * D))  # xavier_uniform: fan_in = D, fan_out = 3D
        self.params["in_proj_weight"] = rng.uniform(-bound, bound, size=(3 * D, D)).astype(dtype)
        if bias:
            self.params["in_proj_bias"] = np.zeros(3 * D, dtype)
        self.params["out_proj_weight"] = uniform_fan_in((D, D), D, rng, dtype)
        if bias:
            self.params["out_proj_bias"] = np.zeros(D, dtype)
        self.zero_grad()

    def forward(self, x, attn_mask=None):
        p = self.params
        out, cache = multi_head_attention_forward(
            x, p["in_proj_weight"], p.get("in_proj_bias"), p["out_proj_weight"],
            p.get("out_proj_bias"), num_heads=self.num_heads, attn_mask=attn_mask)
        self._push_cache(cache)
        return out

    def __call__(self, x, attn_mask=None):
        return self.forward(x, attn_mask)

    def backward(self, dout):
        dx, dw_in, db_in, dw_out, db_out = multi_head_attention_backward(dout, self._pop_cache())
        self._store_grads(in_proj_weight=dw_in, in_proj_bias=db_in,
                          out_proj_weight=dw_out, out_proj_bias=db_out)
        return dx

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"bias={'in_proj_bias' in self.params}")
