"""Chapter 10's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, the references agree with cnnbook, PyTorch,
finite differences and the sinusoidal embedding, and no feedback holds the code of an
answer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnbook import sinusoidal_embedding
from cnnbook.exercises.ch10 import (add_positions, attention_backward, grid_positions,
                                    shift_matrix)
from cnnbook.gradcheck import numerical_gradient

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "10_transformers.ipynb"


# -- right answers, written as different readers would -----------------------------------
def _forward(q, k, v):
    s = q @ k.T / np.sqrt(q.shape[1])
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def back_matrices(dout, q, k, v):
    p = _forward(q, k, v)
    dp = dout @ v.T
    ds = p * (dp - np.sum(dp * p, axis=1, keepdims=True))
    c = 1 / np.sqrt(q.shape[1])
    return c * ds @ k, c * ds.T @ q, p.T @ dout


def back_loops(dout, q, k, v):
    q, k, v, dout = (np.asarray(a, dtype=np.float64) for a in (q, k, v, dout))
    p = _forward(q, k, v)
    c = 1 / np.sqrt(q.shape[1])
    dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
    for i in range(len(q)):
        dp = v @ dout[i]                                   # (S,)
        jac = np.diag(p[i]) - np.outer(p[i], p[i])         # the softmax's Jacobian
        ds = jac @ dp
        dq[i] = c * ds @ k
        dk += c * np.outer(ds, q[i])
        dv += np.outer(p[i], dout[i])
    return dq, dk, dv


def back_with_the_kernel(dout, q, k, v):
    from cnnbook import (scaled_dot_product_attention_backward,
                         scaled_dot_product_attention_forward)
    _, cache = scaled_dot_product_attention_forward(q[None], k[None], v[None])
    return tuple(g[0] for g in scaled_dot_product_attention_backward(dout[None], cache))


def pos_broadcast(x, table, batch_first):
    if batch_first:
        return x + table[np.newaxis, :x.shape[1], :]
    return x + table[:x.shape[0], np.newaxis, :]


def pos_by_transposing(x, table, batch_first):
    xb = x if batch_first else np.swapaxes(x, 0, 1)        # make it (N, T, d)
    out = xb + table[:xb.shape[1]]
    return out if batch_first else np.swapaxes(out, 0, 1)


def pos_loops(x, table, batch_first):
    out = np.array(x, dtype=np.float64, copy=True)
    axis = 1 if batch_first else 0
    for t in range(x.shape[axis]):
        if batch_first:
            out[:, t] += table[t]
        else:
            out[t] += table[t]
    return out


def grid_with_library(height, width, dim):
    rows = sinusoidal_embedding(height, dim // 2)
    cols = sinusoidal_embedding(width, dim // 2)
    r, c = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.concatenate([rows[r.ravel()], cols[c.ravel()]], axis=1)


def grid_loops(height, width, dim):
    half = dim // 2
    out = np.zeros((height * width, dim))
    for r in range(height):
        for c in range(width):
            for k in range(half):
                w = 1 / 10000 ** (2 * (k // 2) / half)
                f = np.sin if k % 2 == 0 else np.cos
                out[r * width + c, k] = f(w * r)
                out[r * width + c, half + k] = f(w * c)
    return out


def grid_broadcast(height, width, dim):
    half = dim // 2
    w = 10000.0 ** (-np.arange(0, half, 2) / half)
    def table(n):
        angles = np.arange(n)[:, None] * w
        out = np.empty((n, half))
        out[:, 0::2], out[:, 1::2] = np.sin(angles), np.cos(angles)
        return out
    rows = np.broadcast_to(table(height)[:, None, :], (height, width, half))
    cols = np.broadcast_to(table(width)[None, :, :], (height, width, half))
    return np.concatenate([rows, cols], axis=-1).reshape(height * width, dim)


def shift_blocks(phi, dim, base=10000.0):
    m = np.zeros((dim, dim))
    for i in range(dim // 2):
        a = phi * base ** (-2 * i / dim)
        m[2 * i, 2 * i], m[2 * i, 2 * i + 1] = np.cos(a), np.sin(a)
        m[2 * i + 1, 2 * i], m[2 * i + 1, 2 * i + 1] = -np.sin(a), np.cos(a)
    return m


def shift_kron(phi, dim, base=10000.0):
    w = 1 / base ** (np.arange(dim // 2) * 2 / dim)
    blocks = [np.array([[np.cos(x), np.sin(x)], [-np.sin(x), np.cos(x)]]) for x in w * phi]
    m = np.zeros((dim, dim))
    for i, b in enumerate(blocks):
        m[2 * i:2 * i + 2, 2 * i:2 * i + 2] = b
    return m


def shift_least_squares(phi, dim, base=10000.0):
    # the linear map taking p_t to p_(t+phi), fitted on many positions
    t = np.arange(3 * dim)
    w = base ** (-np.arange(0, dim, 2) / dim)
    def emb(times):
        out = np.empty((len(times), dim))
        out[:, 0::2], out[:, 1::2] = np.sin(np.outer(times, w)), np.cos(np.outer(times, w))
        return out
    pt, pshift = emb(t), emb(t + phi)
    # solve M p_t = p_(t+phi) pair by pair (each pair is a 2 x 2 problem)
    m = np.zeros((dim, dim))
    for i in range(0, dim, 2):
        sol, *_ = np.linalg.lstsq(pt[:, i:i + 2], pshift[:, i:i + 2], rcond=None)
        m[i:i + 2, i:i + 2] = sol.T
    return m


RIGHT = [
    ("ch10.attention_backward", back_matrices),
    ("ch10.attention_backward", back_loops),
    ("ch10.attention_backward", back_with_the_kernel),
    ("ch10.add_positions", pos_broadcast),
    ("ch10.add_positions", pos_by_transposing),
    ("ch10.add_positions", pos_loops),
    ("ch10.grid_positions", grid_with_library),
    ("ch10.grid_positions", grid_loops),
    ("ch10.grid_positions", grid_broadcast),
    ("ch10.shift_matrix", shift_blocks),
    ("ch10.shift_matrix", shift_kron),
]


# -- wrong answers, and the diagnosis each must get ----------------------------------------
def back_no_scale(dout, q, k, v):
    p = _forward(q, k, v)
    dp = dout @ v.T
    ds = p * (dp - np.sum(dp * p, axis=1, keepdims=True))
    return ds @ k, ds.T @ q, p.T @ dout


def back_no_normalization_term(dout, q, k, v):
    p = _forward(q, k, v)
    ds = p * (dout @ v.T)
    c = 1 / np.sqrt(q.shape[1])
    return c * ds @ k, c * ds.T @ q, p.T @ dout


def back_diagonal_jacobian(dout, q, k, v):
    p = _forward(q, k, v)
    ds = p * (1 - p) * (dout @ v.T)
    c = 1 / np.sqrt(q.shape[1])
    return c * ds @ k, c * ds.T @ q, p.T @ dout


def back_dv_without_transpose(dout, q, k, v):
    dq, dk, _ = back_matrices(dout, q, k, v)
    return dq, dk, _forward(q, k, v) @ dout


def back_softmax_over_queries(dout, q, k, v):
    s = q @ k.T / np.sqrt(q.shape[1])
    p = np.exp(s - s.max(axis=0))
    p = p / p.sum(axis=0)
    dp = dout @ v.T
    ds = p * (dp - np.sum(dp * p, axis=1, keepdims=True))
    c = 1 / np.sqrt(q.shape[1])
    return c * ds @ k, c * ds.T @ q, p.T @ dout


def back_overflows(dout, q, k, v):
    s = q @ k.T / np.sqrt(q.shape[1])
    p = np.exp(s)
    p = p / p.sum(axis=1, keepdims=True)                    # no max subtracted
    dp = dout @ v.T
    ds = p * (dp - np.sum(dp * p, axis=1, keepdims=True))
    c = 1 / np.sqrt(q.shape[1])
    return c * ds @ k, c * ds.T @ q, p.T @ dout


def back_two_outputs(dout, q, k, v):
    dq, dk, dv = back_matrices(dout, q, k, v)
    return dq, dk


def pos_batch_axis_tutorial(x, table, batch_first):
    return x + table[:x.shape[0]][:, None, :]               # pe[:x.size(0)] whatever the layout


def pos_batch_first_only(x, table, batch_first):
    return x + table[:x.shape[1]]


def pos_layouts_swapped(x, table, batch_first):
    return pos_broadcast(x, table, not batch_first)


def pos_whole_table(x, table, batch_first):
    return x + (table if batch_first else table[:, None])


def pos_first_row(x, table, batch_first):
    return x + table[0]


def pos_off_by_one(x, table, batch_first):
    t = x.shape[1] if batch_first else x.shape[0]
    rows = table[1:t + 1]
    return x + (rows[None] if batch_first else rows[:, None])


def pos_in_place(x, table, batch_first):
    if batch_first:
        x += table[:x.shape[1]][None]
    else:
        x += table[:x.shape[0]][:, None]
    return x


def grid_halves_swapped(height, width, dim):
    g = grid_with_library(height, width, dim)
    return np.concatenate([g[:, dim // 2:], g[:, :dim // 2]], axis=1)


def grid_column_major(height, width, dim):
    g = grid_with_library(height, width, dim).reshape(height, width, dim)
    return g.transpose(1, 0, 2).reshape(height * width, dim)


def grid_full_dim_exponent(height, width, dim):
    rows = sinusoidal_embedding(height, dim)[:, :dim // 2]   # frequencies of a d-dim embedding
    cols = sinusoidal_embedding(width, dim)[:, :dim // 2]
    return np.concatenate([np.repeat(rows, width, axis=0), np.tile(cols, (height, 1))], axis=1)


def grid_entry_index_exponent(height, width, dim):
    half = dim // 2
    k = np.arange(half)
    def table(n):
        angles = np.arange(n)[:, None] / 10000 ** (2 * k / half)   # k where i belongs
        return np.where(k % 2 == 0, np.sin(angles), np.cos(angles))
    return np.concatenate([np.repeat(table(height), width, axis=0),
                           np.tile(table(width), (height, 1))], axis=1)


def grid_sin_then_cos(height, width, dim):
    half = dim // 2
    w = 1 / 10000 ** (np.arange(0, half, 2) / half)
    def table(n):
        a = np.arange(n)[:, None] * w
        return np.concatenate([np.sin(a), np.cos(a)], axis=1)
    return np.concatenate([np.repeat(table(height), width, axis=0),
                           np.tile(table(width), (height, 1))], axis=1)


def grid_as_image(height, width, dim):
    return grid_with_library(height, width, dim).reshape(height, width, dim)


def shift_backwards(phi, dim, base=10000.0):
    return shift_blocks(-phi, dim, base)


def shift_exponent_without_two(phi, dim, base=10000.0):
    m = np.zeros((dim, dim))
    for i in range(dim // 2):
        a = phi / base ** (i / dim)
        m[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]
    return m


def shift_wavelengths(phi, dim, base=10000.0):
    m = np.zeros((dim, dim))
    for i in range(dim // 2):
        a = phi * base ** (2 * i / dim)
        m[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]
    return m


def shift_base_ignored(phi, dim, base=10000.0):
    return shift_blocks(phi, dim)


def shift_halves(phi, dim, base=10000.0):
    h = dim // 2
    m = np.zeros((dim, dim))
    for i in range(h):
        a = phi / base ** (2 * i / dim)
        m[i, i], m[i, h + i], m[h + i, i], m[h + i, h + i] = np.cos(a), np.sin(a), -np.sin(a), np.cos(a)
    return m


def shift_cosines_only(phi, dim, base=10000.0):
    return np.diag(np.diag(shift_blocks(phi, dim, base)))


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch10.attention_backward", back_no_scale, "mistake", "missing the factor 1/sqrt(d)"),
    ("ch10.attention_backward", back_no_normalization_term, "mistake", "not even through the normalization"),
    ("ch10.attention_backward", back_diagonal_jacobian, "mistake", "Only the diagonal"),
    ("ch10.attention_backward", back_dv_without_transpose, "mistake", "dv is computed with P"),
    ("ch10.attention_backward", back_softmax_over_queries, "mistake", "over the queries"),
    ("ch10.attention_backward", back_overflows, "nonfinite", "subtract"),
    ("ch10.attention_backward", back_two_outputs, "type", "3 items"),
    ("ch10.add_positions", pos_batch_axis_tutorial, "mistake", "tutorial bug"),
    ("ch10.add_positions", pos_batch_first_only, "mistake", "which axis holds the positions"),
    ("ch10.add_positions", pos_layouts_swapped, "mistake", "along the batch axis"),
    ("ch10.add_positions", pos_whole_table, "mistake", "The whole table"),
    ("ch10.add_positions", pos_first_row, "mistake", "position 0"),
    ("ch10.add_positions", pos_off_by_one, "mistake", "off by one"),
    ("ch10.add_positions", pos_in_place, "mutated", "changed x"),
    ("ch10.grid_positions", grid_halves_swapped, "mistake", "halves are swapped"),
    ("ch10.grid_positions", grid_column_major, "mistake", "column by column"),
    ("ch10.grid_positions", grid_full_dim_exponent, "mistake", "full dimension d"),
    ("ch10.grid_positions", grid_entry_index_exponent, "mistake", "wrong exponent"),
    ("ch10.grid_positions", grid_sin_then_cos, "mistake", "two blocks"),
    ("ch10.grid_positions", grid_as_image, "mistake", "one row per patch"),
    ("ch10.shift_matrix", shift_backwards, "mistake", "wrong way"),
    ("ch10.shift_matrix", shift_exponent_without_two, "mistake", "wrong exponent"),
    ("ch10.shift_matrix", shift_wavelengths, "mistake", "grow with i"),
    ("ch10.shift_matrix", shift_base_ignored, "mistake", "base argument is ignored"),
    ("ch10.shift_matrix", shift_halves, "mistake", "entry i + d/2"),
    ("ch10.shift_matrix", shift_cosines_only, "mistake", "Only the cosines"),
]


# -- the references agree with cnnbook, PyTorch, finite differences and eq. 20 -------------
def test_attention_backward_matches_torch_and_finite_differences():
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    dout = rng.standard_normal((3, 2))
    grads = attention_backward(dout, q, k, v)

    def forward(q, k, v):
        return _forward(q, k, v) @ v

    for i, g in enumerate(grads):
        numeric = numerical_gradient(forward, [q, k, v], dout, wrt=i)
        np.testing.assert_allclose(g, numeric, atol=1e-7)
    np.testing.assert_allclose(back_loops(dout, q, k, v)[1], grads[1], atol=1e-12)
    torch = pytest.importorskip("torch")
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    torch.nn.functional.scaled_dot_product_attention(qt, kt, vt).backward(torch.tensor(dout))
    for g, t in zip(grads, (qt, kt, vt)):
        np.testing.assert_allclose(g, t.grad.numpy(), atol=1e-12)


def test_add_positions_matches_the_layer_and_catches_the_batch_axis_bug():
    from cnnbook import SinusoidalPositionalEmbedding
    x = np.random.default_rng(1).standard_normal((4, 4, 6))    # N = T: shapes cannot tell
    table = sinusoidal_embedding(8, 6)
    layer = SinusoidalPositionalEmbedding(8, 6, dtype=np.float64)
    np.testing.assert_allclose(add_positions(x, table, True), layer(x), atol=0)
    seq_first = add_positions(x.transpose(1, 0, 2), table, False).transpose(1, 0, 2)
    np.testing.assert_allclose(seq_first, layer(x), atol=0)
    assert not np.allclose(pos_batch_axis_tutorial(x, table, True), layer(x))


def test_grid_positions_and_shift_matrix_agree_with_the_embedding():
    g = grid_positions(3, 4, 16)
    np.testing.assert_allclose(g[1 * 4 + 2, :8], sinusoidal_embedding(4, 8)[1])
    np.testing.assert_allclose(g[1 * 4 + 2, 8:], sinusoidal_embedding(4, 8)[2])
    for base in (100.0, 10000.0):
        p = sinusoidal_embedding(40, 16, base=base)
        for phi in (1, 5, -3):
            m = shift_matrix(phi, 16, base)
            lo, hi = max(0, -phi), 40 - max(0, phi)
            np.testing.assert_allclose(p[lo:hi] @ m.T, p[lo + phi:hi + phi], atol=1e-12)
    np.testing.assert_allclose(shift_least_squares(3, 8), shift_matrix(3, 8), atol=1e-10)
