"""Scaled dot-product attention and multi-head self-attention: forward/backward pairs and
a Module. See chapter 10 (Chen's eq. 18).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + mask) V

Shapes: a sequence batch is (N, T, D); inside attention the heads get their own axis,
(N, heads, T, d_head), and every product is one batched ``np.matmul`` over the leading
axes. Masks follow PyTorch, whose two functions disagree on what a boolean True means:
``scaled_dot_product_attention`` takes part where the mask is True, while
``nn.MultiheadAttention`` (and ``multi_head_attention_forward`` here) masks out where it
is True. A float mask is added to the scores in both. The ``_naive`` twins of scaled
dot-product attention loop over the queries and keys, the formula written out.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import (as_float_array, check_dout, fits_in_memory, flag, float_dtype, nan_in_nan_out,
                      positive_int, real_number)
from ._init import make_rng, uniform_fan_in
from .module import Module

__all__ = [
    "scaled_dot_product_attention_forward", "scaled_dot_product_attention_backward",
    "scaled_dot_product_attention_forward_naive", "scaled_dot_product_attention_backward_naive",
    "multi_head_attention_forward", "multi_head_attention_backward",
    "MultiheadAttention", "AttentionCache", "MultiheadAttentionCache",
]


class AttentionCache(NamedTuple):
    """What the scaled dot-product attention backward needs (fast or naive: either takes
    the cache of either forward). Arrays are in the working dtype, q, k and v's common one."""
    q: np.ndarray  # (..., L, E)
    qs: np.ndarray  # q * scale, (..., L, E)
    k: np.ndarray  # (..., S, E)
    v: np.ndarray  # (..., S, Ev)
    weights_t: np.ndarray  # the attention weights P transposed, keys x queries: (..., S, L)
    out: np.ndarray  # P v, (..., L, Ev): the output, whose shape dout must have
    scale: float
    dtypes: tuple  # the dtypes q, k and v came in, for their gradients


# -- scaled dot-product attention ----------------------------------------------------------
def _additive_mask(attn_mask, is_causal, L, S, dtype, func, *, true_masks=False):
    """The mask as a float array to add to the scores (0 = keep, -inf = drop), or None.

    A boolean mask takes part where True (``true_masks=False``, as in
    ``scaled_dot_product_attention``) or is masked where True (``true_masks=True``, as in
    ``nn.MultiheadAttention``); a float mask is returned as it is.
    """
    if flag(is_causal, "is_causal", func):
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
    if scores_t.shape[-2] == 0:  # no keys: zero weights and a zero output, as in PyTorch
        return scores_t
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
def _attend(q, k, v, scale, mask, dtypes, out=None):
    """The attention core on checked arrays of one dtype; returns (out, cache). ``out``
    may give an array to write the result into."""
    qs = q * q.dtype.type(scale)  # (..., L, E): scaling q is cheaper than scaling the scores
    scores_t = k @ qs.swapaxes(-1, -2)  # (..., S, L), scores transposed
    if mask is not None:
        scores_t += mask.swapaxes(-1, -2)
    weights_t = _softmax_columns(scores_t, mask is not None)  # (..., S, L), P transposed
    out = np.matmul(weights_t.swapaxes(-1, -2), v, out=out)  # (..., L, Ev)
    return out, AttentionCache(q, qs, k, v, weights_t, out, scale, dtypes)


@nan_in_nan_out
def _attend_backward(dout, cache, out=None):
    """Gradients (dq, dk, dv) in the working dtype; ``out`` may give three arrays to write
    them into."""
    weights_t = cache.weights_t
    dq, dk, dv = out if out is not None else (None, None, None)
    dv = np.matmul(weights_t, dout, out=dv)  # (..., S, Ev)
    dweights_t = cache.v @ dout.swapaxes(-1, -2)  # (..., S, L)
    # softmax backward: dS = P * (dP - rowsum(dP * P)), and rowsum(dP * P) = rowsum(dout * out)
    # because out = P v: an (..., L) vector from (..., L, Ev) arrays, not from (..., L, S)
    # ones. einsum takes these short strided rows faster than a matmul or np.vecdot.
    dweights_t -= np.einsum("...i,...i->...", dout, cache.out)[..., None, :]
    dweights_t *= weights_t  # now dS transposed, (..., S, L)
    dq = np.matmul(dweights_t.swapaxes(-1, -2), cache.k, out=dq)  # (..., L, E)
    dq *= dq.dtype.type(cache.scale)
    dk = np.matmul(dweights_t, cache.qs, out=dk)  # (..., S, E)
    return dq, dk, dv


def _sdpa_args(q, k, v, attn_mask, is_causal, scale, func):
    """Check scaled dot-product attention's arguments; returns q, k, v in their common
    dtype, the additive mask (or None), the scale and the dtypes q, k, v came in."""
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
    dtypes = (q.dtype, k.dtype, v.dtype)
    dtype = np.result_type(*dtypes)
    q, k, v = (a.astype(dtype, copy=False) for a in (q, k, v))
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
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else real_number(scale, "scale", func)
    return q, k, v, mask, scale, dtypes


@nan_in_nan_out
def scaled_dot_product_attention_forward(q, k, v, *, attn_mask=None, is_causal=False, scale=None):
    """Scaled dot-product attention, as ``torch.nn.functional.scaled_dot_product_attention``.

    out = softmax(q k^T * scale + mask) v,  scale = 1 / sqrt(E) unless given.

    q: (N, heads, L, E) or (N, L, E); k: (..., S, E); v: (..., S, Ev) with the same leading
    axes. attn_mask (broadcastable to (..., L, S)): boolean, True = take part (False
    positions get -inf), or float, added to the scores. ``is_causal=True`` lets query i see
    keys j <= i only. The softmax subtracts each row's maximum first, so exp never
    overflows; a row with every key masked gives zeros. Returns ``(out, cache)`` with
    out: (..., L, Ev), in q, k and v's common dtype. See chapter 10.
    """
    q, k, v, mask, scale, dtypes = _sdpa_args(q, k, v, attn_mask, is_causal, scale,
                                              "scaled_dot_product_attention_forward")
    return _attend(q, k, v, scale, mask, dtypes)


def _grads_like_inputs(cache, dq, dk, dv):
    return tuple(g.astype(t, copy=False) for g, t in zip((dq, dk, dv), cache.dtypes))


@nan_in_nan_out
def scaled_dot_product_attention_backward(dout, cache):
    """Gradients ``(dq, dk, dv)`` of scaled dot-product attention.

    With P the attention weights, dv = P^T dout, dP = dout v^T,
    dS = P * (dP - rowsum(dP * P)), dq = scale * dS k, dk = scale * dS^T q.
    dout: (..., L, Ev); dq, dk, dv are shaped and typed like q, k, v. (A float attn_mask
    gets no gradient.) See chapter 10.
    """
    dout = check_dout(dout, cache.out.shape, cache.out.dtype,
                      "scaled_dot_product_attention_backward")
    return _grads_like_inputs(cache, *_attend_backward(dout, cache))


@nan_in_nan_out
def scaled_dot_product_attention_forward_naive(q, k, v, *, attn_mask=None, is_causal=False,
                                               scale=None):
    """``scaled_dot_product_attention_forward`` with loops over the batch, the queries i
    and the keys j, the formula written out:

        s_ij = scale q_i . k_j + mask_ij,  p_ij = e^(s_ij - max_j s_ij) / sum_j e^(s_ij - max_j s_ij),
        out_i = sum_j p_ij v_j.

    Same arguments, result and cache (either backward takes it): q (..., L, E),
    k (..., S, E), v (..., S, Ev) -> out (..., L, Ev). Slow, for reading and for checking
    the fast one. See chapter 10.
    """
    q, k, v, mask, scale, dtypes = _sdpa_args(q, k, v, attn_mask, is_causal, scale,
                                              "scaled_dot_product_attention_forward_naive")
    lead, (L, S) = q.shape[:-2], (q.shape[-2], k.shape[-2])
    mask = np.zeros(lead + (L, S), q.dtype) if mask is None else np.broadcast_to(mask, lead + (L, S))
    weights = np.zeros(lead + (L, S), q.dtype)  # P, queries x keys
    out = np.zeros(lead + (L, v.shape[-1]), q.dtype)
    for b in np.ndindex(*lead):  # each (image) or (image, head)
        for i in range(L):
            scores = np.array([scale * np.dot(q[b][i], k[b][j]) + mask[b][i, j] for j in range(S)])
            if np.all(np.isneginf(scores)):
                continue  # every key masked: the row of P stays zero, as in PyTorch
            e = np.exp(scores - scores.max())
            weights[b][i] = e / e.sum()
            for j in range(S):
                out[b][i] += weights[b][i, j] * v[b][j]
    return out, AttentionCache(q, q * q.dtype.type(scale), k, v, weights.swapaxes(-1, -2), out,
                               scale, dtypes)


@nan_in_nan_out
def scaled_dot_product_attention_backward_naive(dout, cache):
    """``scaled_dot_product_attention_backward`` with loops over the batch and the
    queries i, the formula written out (P the weights, row i of it p_i):

        dv_j += p_ij dout_i,  dp_ij = dout_i . v_j,  ds_ij = p_ij (dp_ij - sum_j' p_ij' dp_ij'),
        dq_i = scale sum_j ds_ij k_j,  dk_j += scale ds_ij q_i.

    dout (..., L, Ev) -> (dq, dk, dv) shaped and typed like q, k and v, as
    ``scaled_dot_product_attention_backward``. See chapter 10.
    """
    dout = check_dout(dout, cache.out.shape, cache.out.dtype,
                      "scaled_dot_product_attention_backward_naive")
    q, k, v, scale = cache.q, cache.k, cache.v, cache.scale
    weights = cache.weights_t.swapaxes(-1, -2)  # P, (..., L, S)
    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    for b in np.ndindex(*q.shape[:-2]):
        for i in range(q.shape[-2]):
            p = weights[b][i]  # (S,)
            dv[b] += np.outer(p, dout[b][i])  # (S, Ev)
            dp = v[b] @ dout[b][i]  # (S,): dp_j = v_j . dout_i
            ds = p * (dp - p @ dp)  # (S,)
            dq[b][i] = scale * (ds @ k[b])  # (E,)
            dk[b] += scale * np.outer(ds, q[b][i])  # (S, E)
    return _grads_like_inputs(cache, dq, dk, dv)


# -- multi-head self-attention ---------------------------------------------------------------
class MultiheadAttentionCache(NamedTuple):
    """What ``multi_head_attention_backward`` needs. Arrays are in the working dtype."""
    x2: np.ndarray  # x as (N*T, D)
    in_proj_weight: np.ndarray  # (3D, D)
    out_proj_weight: np.ndarray  # (D, D)
    concat: np.ndarray  # the heads side by side, (N*T, D)
    attention: AttentionCache  # of the heads, (N, heads, T, d)
    x_shape: tuple  # (N, T, D), also the output's
    num_heads: int
    dtypes: tuple  # of x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias (None: no bias)


@nan_in_nan_out
def multi_head_attention_forward(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
                                 *, num_heads, attn_mask=None):
    """Multi-head self-attention, the math of ``torch.nn.MultiheadAttention(batch_first=True)``.

    [q | k | v] = x W_in^T + b_in,  split each into ``num_heads`` heads of d = D / heads,
    head_i = softmax(q_i k_i^T / sqrt(d) + mask) v_i,  y = concat(heads) W_out^T + b_out.

    x: (N, T, D); in_proj_weight: (3D, D); in_proj_bias: (3D,) or None;
    out_proj_weight: (D, D); out_proj_bias: (D,) or None. attn_mask as in
    ``nn.MultiheadAttention``: (T, T) or (N * num_heads, T, T), boolean with True = NOT
    allowed to attend (the opposite of scaled_dot_product_attention_forward), or float,
    added to the scores. Returns ``(y, cache)`` with y: (N, T, D), in the inputs' common
    dtype. See chapter 10.
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
    biases = []
    for name, b, want in (("in_proj_bias", in_proj_bias, (3 * D,)),
                          ("out_proj_bias", out_proj_bias, (D,))):
        if b is not None:
            b = as_float_array(b, name, func)
            if b.shape != want:
                raise ValueError(f"{func}: {name} must have shape {want}, got {name}.shape={b.shape}")
        biases.append(b)
    b_in, b_out = biases
    dtypes = (x.dtype, w_in.dtype, None if b_in is None else b_in.dtype, w_out.dtype,
              None if b_out is None else b_out.dtype)
    dtype = np.result_type(*(t for t in dtypes if t is not None))
    x, w_in, w_out = (a.astype(dtype, copy=False) for a in (x, w_in, w_out))
    h, d = num_heads, D // num_heads
    if attn_mask is not None:
        attn_mask = np.asarray(attn_mask)
        if attn_mask.shape not in ((T, T), (N * h, T, T)):
            raise ValueError(f"{func}: attn_mask must have shape (T, T) = {(T, T)} or "
                             f"(N * num_heads, T, T) = {(N * h, T, T)}, got {attn_mask.shape}")
        if attn_mask.ndim == 3:
            attn_mask = attn_mask.reshape(N, h, T, T)  # (N, heads, T, T)
    mask = _additive_mask(attn_mask, False, T, T, dtype, func, true_masks=True)

    x2 = x.reshape(N * T, D)  # (N*T, D)
    qkv = x2 @ w_in.T  # (N*T, 3D)
    if b_in is not None:
        qkv += b_in.astype(dtype, copy=False)
    # (N*T, 3D) -> (3, N, heads, T, d): views whose (T, d) planes are strided rows,
    # which np.matmul hands to BLAS without copying
    q, k, v = qkv.reshape(N, T, 3, h, d).transpose(2, 0, 3, 1, 4)  # 3 x (N, heads, T, d)
    # the heads are written side by side into concat, (N, T, heads, d), ready for W_out
    concat = np.empty((N, T, h, d), dtype)  # (N, T, heads, d)
    heads = concat.transpose(0, 2, 1, 3)  # (N, heads, T, d), a view of concat
    _, att_cache = _attend(q, k, v, 1.0 / np.sqrt(d), mask, (dtype,) * 3, out=heads)
    concat = concat.reshape(N * T, D)  # (N*T, D)
    y = concat @ w_out.T  # (N*T, D)
    if b_out is not None:
        y += b_out.astype(dtype, copy=False)
    cache = MultiheadAttentionCache(x2, w_in, w_out, concat, att_cache, (N, T, D), h, dtypes)
    return y.reshape(N, T, D), cache  # (N, T, D)


@nan_in_nan_out
def multi_head_attention_backward(dout, cache):
    """Gradients ``(dx, din_proj_weight, din_proj_bias, dout_proj_weight, dout_proj_bias)``
    of multi-head self-attention (a bias gradient is None when that bias was None).

    The input projection's gradient gathers the three uses of x (as query, key and
    value), so dx = [dq | dk | dv] W_in. dout: (N, T, D); every gradient is shaped and
    typed like its input. See chapter 10.
    """
    x2, w_in, w_out, concat = cache.x2, cache.in_proj_weight, cache.out_proj_weight, cache.concat
    (N, T, D), h = cache.x_shape, cache.num_heads
    d = D // h
    dy = check_dout(dout, cache.x_shape, x2.dtype, "multi_head_attention_backward")
    dy = dy.reshape(N * T, D)  # (N*T, D)
    dw_out = dy.T @ concat  # (D, D)
    db_out = dy.sum(axis=0)  # (D,)
    dheads = (dy @ w_out).reshape(N, T, h, d).transpose(0, 2, 1, 3)  # (N, heads, T, d)
    # dq, dk, dv written straight into one array laid out as qkv, (N, T, 3, heads, d)
    dqkv = np.empty((N, T, 3, h, d), x2.dtype)
    _attend_backward(dheads, cache.attention, out=dqkv.transpose(2, 0, 3, 1, 4))  # 3 x (N, heads, T, d)
    dqkv = dqkv.reshape(N * T, 3 * D)  # (N*T, 3D)
    dw_in = dqkv.T @ x2  # (3D, D)
    db_in = dqkv.sum(axis=0)  # (3D,)
    dx = (dqkv @ w_in).reshape(N, T, D)  # (N, T, D)
    return tuple(None if t is None else g.astype(t, copy=False)
                 for g, t in zip((dx, dw_in, db_in, dw_out, db_out), cache.dtypes))


class MultiheadAttention(Module):
    """Multi-head self-attention on (N, T, D), ``torch.nn.MultiheadAttention(embed_dim,
    num_heads, bias=bias, batch_first=True)``'s twin for self-attention (query = key =
    value = x): x (N, T, D) -> (N, T, D), D = embed_dim.

    Initialised as PyTorch: in_proj_weight (3D, D) Xavier-uniform,
    U(-sqrt(6 / (D + 3D)), +sqrt(6 / (D + 3D))); out_proj_weight (D, D) as a Linear layer,
    U(-1/sqrt(D), 1/sqrt(D)); both biases zero. See chapter 10.
    """

    def __init__(self, embed_dim: int, num_heads: int, *, bias: bool = True, rng=None,
                 dtype=np.float32):
        super().__init__()
        func = "MultiheadAttention"
        self.embed_dim = positive_int(embed_dim, "embed_dim", func)
        self.num_heads = positive_int(num_heads, "num_heads", func)
        if embed_dim % num_heads:
            raise ValueError(f"{func}: embed_dim={embed_dim} must be divisible by "
                             f"num_heads={num_heads}")
        bias, dtype = flag(bias, "bias", func), float_dtype(dtype, func)
        fits_in_memory((4 * embed_dim, embed_dim), "in_proj_weight and out_proj_weight", func,
                       f"embed_dim={embed_dim}")
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
