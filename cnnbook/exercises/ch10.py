"""Chapter 10 exercises: the backward pass of attention, adding positional embeddings in
either layout (the batch-axis bug), a 2-D sinusoidal embedding for a grid of patches (the
wrong-exponent bugs), and the block-diagonal rotation that moves an embedding by an
offset (eq. 20).

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch10.py checks this).
"""
from __future__ import annotations

import numpy as np

from ..attention import scaled_dot_product_attention_backward as _sdpa_backward
from ..attention import scaled_dot_product_attention_forward as _sdpa_forward
from ..positional import sinusoidal_embedding as _sinusoidal
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(1010)  # draws the fixed cases once, the same on every run


def _shape_of(got):
    return getattr(got, "shape", None)


# -- ch10.attention_backward: the backward pass of one head ------------------------------
def attention_backward(dout, q, k, v):
    """Gradients (dq, dk, dv) of softmax(q k^T / sqrt(d)) v for one head: q (T, d),
    k (S, d), v (S, d_v), dout (T, d_v)."""
    q, k, v, dout = (np.asarray(a) for a in (q, k, v, dout))
    _, cache = _sdpa_forward(q[None], k[None], v[None])
    dq, dk, dv = _sdpa_backward(dout[None].astype(cache.out.dtype), cache)
    return dq[0], dk[0], dv[0]


def _att_case(t, s, d, dv, dtype=np.float64, big=1.0, note=""):
    q = _rng.standard_normal((t, d)) * big
    k, v = _rng.standard_normal((s, d)), _rng.standard_normal((s, dv))
    dout = _rng.standard_normal((t, dv))
    return case(*(a.astype(dtype) for a in (dout, q, k, v)), note=note)


def _att_random(rng):
    t, s, d, dv = (int(n) for n in rng.integers(1, 7, size=4))
    return case(rng.standard_normal((t, dv)), rng.standard_normal((t, d)),
                rng.standard_normal((s, d)), rng.standard_normal((s, dv)))


def _att_wrong(scale=lambda d: 1 / np.sqrt(d), softmax_axis=-1, jacobian="full",
               dv_transposed=True, dk_transposed=True):
    def wrong(dout, q, k, v):
        c = scale(q.shape[-1])
        s = q @ k.T * c
        p = np.exp(s - s.max(axis=softmax_axis, keepdims=True))
        p /= p.sum(axis=softmax_axis, keepdims=True)
        dv = p.T @ dout if dv_transposed else p @ dout
        dp = dout @ v.T
        if jacobian == "full":
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
        elif jacobian == "none":
            ds = p * dp
        else:  # the diagonal of the Jacobian only
            ds = p * (1 - p) * dp
        dk = ds.T @ q * c if dk_transposed else ds @ q * c
        return ds @ k * c, dk, dv
    return wrong


def _att_no_scale(dout, q, k, v):
    dq, dk, dv = _att_wrong()(dout, q, k, v)
    return dq * np.sqrt(q.shape[-1]), dk * np.sqrt(q.shape[-1]), dv


ATTENTION_BACKWARD = Exercise(
    name="ch10.attention_backward",
    title="The backward pass of attention",
    reference=attention_backward,
    cases=[
        _att_case(3, 3, 4, 4, note="3 queries, 3 keys"),
        _att_case(4, 6, 8, 2, note="4 queries, 6 keys, values of size 2"),
        _att_case(1, 5, 3, 3, note="a single query"),
        _att_case(5, 1, 2, 2, note="a single key: its weight is always 1"),
        _att_case(4, 4, 16, 4, big=400.0, note="large scores: does exp overflow?"),
        _att_case(3, 5, 4, 3, dtype=np.float32, note="float32"),
    ],
    random_case=_att_random,
    rtol=1e-5, atol=1e-7,  # float32 cases: dk sums terms that cancel
    outputs=("dq", "dk", "dv"),
    mistakes=[
        Mistake(_att_no_scale,
                "dq and dk are missing the factor 1/sqrt(d). The scores are q k^T times that "
                "factor: what does the chain rule do with it on the way back to q and k?"),
        Mistake(_att_wrong(jacobian="none"),
                "The softmax is treated as if each weight depended on its own score only, "
                "and not even through the normalization. A weight's denominator holds every "
                "score of its row: what does that add to the gradient (chapter 6)?"),
        Mistake(_att_wrong(jacobian="diagonal"),
                "Only the diagonal of the softmax's Jacobian, p (1 - p), is used. Changing "
                "one score changes every weight of its row: where do those off-diagonal "
                "terms go?"),
        Mistake(_att_wrong(dv_transposed=False),
                "dv is computed with P where its transpose belongs. The output is P v: "
                "which index of P runs over the keys, the rows of v?"),
        Mistake(_att_wrong(dk_transposed=False),
                "dk is computed from dS without transposing it. Key j appears in column j "
                "of the scores: which axis of dS must be summed over for it?"),
        Mistake(_att_wrong(softmax_axis=0),
                "The softmax runs down the columns, over the queries. Each query's weights "
                "must sum to 1 over the keys: along which axis is that?"),
        Mistake(_att_wrong(scale=np.sqrt),
                "The scores are multiplied by sqrt(d) instead of divided by it. What does "
                "eq. (ch10-attention) divide by?"),
    ],
    hints={
        "values": "Recompute the weights P of the forward pass first, then follow section "
                  "10.4's list: dv, then dP, then dS through the softmax, then dq and dk. "
                  "Which of the three outputs is off?",
        "shape": "dq is shaped like q (T, d), dk like k (S, d), dv like v (S, d_v). Which "
                 "product gives a (S, ...) array from a (T, ...) one?",
        "nonfinite": "With large scores, e to the power of a score overflows. What does the "
               "forward pass subtract before taking the exponential?",
        "exception": "Check the shapes of each product: q (T, d), k (S, d), v (S, d_v), "
                     "P and dS (T, S), dout (T, d_v).",
        "type": "Return a tuple of three arrays: (dq, dk, dv).",
        "mutated": "Your function changed one of its inputs: compute on new arrays.",
    },
    hint_steps=(
        "Go through the forward pass in order and name every intermediate: the scaled "
        "scores S, the weights P, the output P v. The backward pass visits them in reverse.",
        "The output is a product of P and v: the gradient of each factor is dout times the "
        "other factor, transposed where the shapes ask for it. Then comes the softmax, row "
        "by row, as in chapter 6.",
        "For one row, the softmax's backward is p times (dp minus the p-weighted average "
        "of dp). Then undo the scaling and the product q k^T: each of q and k gets dS times "
        "the other one, times the scale.",
    ),
)


# -- ch10.add_positions: positional embeddings in either layout --------------------------
def add_positions(x, table, batch_first):
    """x + the positional embedding of each token's position: x (N, T, d) if batch_first
    else (T, N, d); table (T_max, d), row t for position t."""
    x, table = np.asarray(x), np.asarray(table)
    if batch_first:
        return x + table[:x.shape[1]][None]
    return x + table[:x.shape[0]][:, None]


def _pos_case(n, t, d, t_max, batch_first, dtype=np.float64, note=""):
    shape = (n, t, d) if batch_first else (t, n, d)
    x = _rng.standard_normal(shape).astype(dtype)
    table = _sinusoidal(t_max, d).astype(dtype) if d % 2 == 0 else _rng.standard_normal((t_max, d))
    return case(x, table, batch_first, note=note)


def _pos_random(rng):
    n, t, d = (int(v) for v in rng.integers(1, 6, size=3))
    t_max = t + int(rng.integers(0, 4))
    first = bool(rng.random() < 0.5)
    x = rng.standard_normal((n, t, d) if first else (t, n, d))
    return case(x, rng.standard_normal((t_max, d)), first)


POSITIONS = Exercise(
    name="ch10.add_positions",
    title="Adding positions in either layout",
    reference=add_positions,
    cases=[
        _pos_case(2, 5, 4, 5, True, note="batch-first, 2 sequences of 5 tokens"),
        _pos_case(2, 5, 4, 8, True, note="batch-first, a table longer than the sequences"),
        _pos_case(3, 4, 6, 10, False, note="sequence-first, 4 tokens, 3 sequences"),
        _pos_case(4, 4, 4, 6, True, note="batch-first with N = T"),
        _pos_case(3, 3, 8, 5, False, note="sequence-first with N = T"),
        _pos_case(1, 7, 4, 7, False, note="a single sequence"),
        _pos_case(5, 1, 2, 3, True, note="sequences of one token"),
        _pos_case(2, 3, 4, 4, False, dtype=np.float32, note="float32"),
    ],
    random_case=_pos_random,
    mistakes=[
        Mistake(lambda x, table, batch_first: x + table[:x.shape[1]],
                "For sequence-first input, row n of the table went to every token of "
                "sequence n: the embedding was added along the batch axis. In the layout "
                "(T, N, d), which axis holds the positions?"),
        Mistake(lambda x, table, batch_first: x + table[:x.shape[0]][:, None],
                "For batch-first input, row n of the table went to every token of sequence "
                "n: the embedding was added along the batch axis (the tutorial bug of "
                "section 10.9). In the layout (N, T, d), which axis holds the positions?"),
        Mistake(lambda x, table, batch_first: x + table,
                "The whole table is added. It has a row for every position up to T_max; "
                "how many tokens does each sequence have?"),
        Mistake(lambda x, table, batch_first: x + table[0],
                "Every token gets the embedding of position 0. Which row belongs to the "
                "token at position t?"),
        Mistake(lambda x, table, batch_first: (x + table[1:x.shape[1] + 1][None] if batch_first
                                               else x + table[1:x.shape[0] + 1][:, None]),
                "The rows are off by one: the first token got the embedding of position 1. "
                "Which position is the first token (section 10.7)?"),
    ],
    hints={
        "values": "Try the case with N = T in both layouts: there a wrong axis raises no "
                  "error. Is the same vector added to all sequences of the batch at a "
                  "given position?",
        "shape": "The result has the shape and layout of x.",
        "exception": "The table has T_max rows, usually more than the T tokens: which rows "
                     "are needed, and how must they be shaped to broadcast over the batch?",
        "mutated": "Your function changed x: return a new array instead of adding in place.",
    },
    hint_steps=(
        "Find the position axis first: axis 1 for batch-first (N, T, d), axis 0 for "
        "sequence-first (T, N, d). The other one, the batch, must not change what is added.",
        "Take the first T rows of the table, one per position, and give them a length-1 "
        "axis where the batch is, so that broadcasting repeats them over the sequences.",
        "Check with a batch of two identical sequences: after adding, are they still "
        "identical, and does each token differ from its neighbour?",
    ),
)


# -- ch10.grid_positions: a 2-D sinusoidal embedding for a grid of patches ---------------
def grid_positions(height, width, dim):
    """(height * width, dim): row r * width + c is [p_r | p_c], each half the 1-D sinusoidal
    embedding of dimension dim / 2."""
    half = dim // 2
    rows = np.repeat(_sinusoidal(height, half), width, axis=0)  # (H W, d/2)
    cols = np.tile(_sinusoidal(width, half), (height, 1))  # (H W, d/2)
    return np.concatenate([rows, cols], axis=1)


def _one_d(n, half, exponent=lambda i, half: 2 * i / half, interleave=True, entry_index=False):
    i = np.arange(half // 2)
    w = 1 / 10000 ** exponent(i, half)
    t = np.arange(n)[:, None] * w
    if entry_index:  # Chen's slip read literally: entry k uses 2k/d, not 2i/d with k = 2i (+1)
        k = np.arange(half)
        angles = np.arange(n)[:, None] / 10000 ** (2 * k / half)
        return np.where(k % 2 == 0, np.sin(angles), np.cos(angles))
    if interleave:
        return np.stack([np.sin(t), np.cos(t)], axis=-1).reshape(n, half)
    return np.concatenate([np.sin(t), np.cos(t)], axis=1)


def _grid_wrong(order="rows", swap=False, **one_d):
    def wrong(height, width, dim):
        half = dim // 2
        pr, pc = _one_d(height, half, **one_d), _one_d(width, half, **one_d)
        if order == "rows":
            rows, cols = np.repeat(pr, width, axis=0), np.tile(pc, (height, 1))
        else:  # patches read column by column
            rows, cols = np.tile(pr, (width, 1)), np.repeat(pc, height, axis=0)
        return np.concatenate([cols, rows] if swap else [rows, cols], axis=1)
    return wrong


def _grid_random(rng):
    return case(int(rng.integers(1, 6)), int(rng.integers(1, 6)), 4 * int(rng.integers(1, 9)))


def _grid_diagnose(c, got, expected):
    shape = _shape_of(got)
    height, width, dim = c.args
    if shape == (height, width, dim):
        return ("The patches are in a (height, width, dim) grid. The exercise asks for one "
                "row per patch, read row by row: what shape is that?")
    return None


GRID = Exercise(
    name="ch10.grid_positions",
    title="Sinusoidal positions for a grid of patches",
    reference=grid_positions,
    cases=[
        case(2, 3, 8, note="2 x 3 patches, d = 8"),
        case(3, 2, 8, note="3 x 2 patches"),
        case(4, 4, 16, note="Fashion-MNIST cut into 7 x 7 patches"),
        case(1, 5, 4, note="a single row of patches"),
        case(5, 1, 12, note="a single column"),
        case(3, 3, 64, note="d = 64"),
        case(2, 2, 128, note="d = 128"),
    ],
    random_case=_grid_random,
    rtol=1e-7, atol=1e-10,
    mistakes=[
        Mistake(_grid_wrong(swap=True),
                "The two halves are swapped: the first half encodes the column. Which half "
                "holds the row?"),
        Mistake(_grid_wrong(order="columns"),
                "The patches are listed column by column. Which patch is row r * width + c "
                "of the result?"),
        Mistake(_grid_wrong(exponent=lambda i, half: 2 * i / (2 * half)),
                "The frequencies use the full dimension d in the exponent 2i/d. Each half is "
                "an embedding of dimension d/2: what is its exponent?"),
        Mistake(_grid_wrong(entry_index=True),
                "Each entry k gets its own frequency, with k in the exponent where eq. "
                "(ch10-spe) has the pair index i: a wrong exponent (the index slip of Chen's "
                "eq. 19). Which two entries share the frequency w_i?"),
        Mistake(_grid_wrong(interleave=False),
                "Sines and cosines are in two blocks instead of alternating. In eq. "
                "(ch10-spe), which entries hold the sine and the cosine of pair i?"),
        Mistake(_grid_wrong(exponent=lambda i, half: -2 * i / half),
                "The frequencies grow with i: 10000 is raised to +2i/d. Is w_i a frequency "
                "that falls from 1 towards 1/10000, or its inverse?"),
    ],
    diagnose=_grid_diagnose,
    hints={
        "values": "Compare the patch in row 0, column 0 with p_0 of eq. (ch10-spe) for "
                  "dimension d/2, twice; then the patch in row 0, column 1: only the second "
                  "half should change.",
        "shape": "One row per patch, (height * width, dim).",
        "exception": "Each half is a 1-D embedding of dimension dim / 2 with dim / 4 "
                     "frequencies: check the sizes of the arrays you stack.",
    },
    hint_steps=(
        "Build the 1-D embedding of eq. (ch10-spe) for dimension d/2 first, for the rows "
        "(positions 0 .. height - 1) and for the columns (0 .. width - 1).",
        "Patch (r, c) is row r * width + c. Its first half is the row embedding of r, its "
        "second half the column embedding of c: repeat and tile the two tables so that "
        "they line up with that order.",
        "Check the frequencies: with d/2 entries per half, w_i is one over 10000 to the power "
        "2i / (d/2), for i from 0 to d/4 - 1, sine in the even entries and cosine in the odd "
        "ones.",
    ),
)


# -- ch10.shift_matrix: the rotation of eq. 20 -------------------------------------------
def shift_matrix(phi, dim, base=10000.0):
    """(dim, dim) block-diagonal M(phi), blocks [[cos, sin], [-sin, cos]](w_i phi), so
    that M @ p_t = p_{t+phi} for the sinusoidal embedding with this base."""
    w = 1 / base ** (np.arange(0, dim, 2) / dim)
    c, s = np.cos(w * phi), np.sin(w * phi)
    k = np.arange(0, dim, 2)
    m = np.zeros((dim, dim))
    m[k, k], m[k, k + 1], m[k + 1, k], m[k + 1, k + 1] = c, s, -s, c
    return m


def _shift_wrong(sign=1.0, exponent=lambda k, dim: k / dim, ignore_base=False, layout="pairs",
                 cos_only=False):
    def wrong(phi, dim, base=10000.0):
        b = 10000.0 if ignore_base else base
        k = np.arange(0, dim, 2)
        w = 1 / b ** exponent(k, dim)
        c, s = np.cos(w * phi), np.sin(w * phi) * sign
        if cos_only:
            s = np.zeros_like(s)
        m = np.zeros((dim, dim))
        a, bb = (k, k + 1) if layout == "pairs" else (k // 2, k // 2 + dim // 2)
        m[a, a], m[a, bb], m[bb, a], m[bb, bb] = c, s, -s, c
        return m
    return wrong


def _shift_random(rng):
    return case(float(rng.uniform(-20, 20)), 2 * int(rng.integers(1, 9)),
                float(rng.choice([100.0, 10000.0])))


SHIFT = Exercise(
    name="ch10.shift_matrix",
    title="The matrix that moves an embedding by an offset",
    reference=shift_matrix,
    cases=[
        case(1, 4, note="offset 1, d = 4"),
        case(3, 8, note="offset 3, d = 8"),
        case(-2, 8, note="a negative offset"),
        case(0, 6, note="offset 0"),
        case(2.5, 16, base=100.0, note="base 100"),
        case(10, 128, note="Chen's d = 128"),
        case(7, 2, note="a single pair"),
    ],
    random_case=_shift_random,
    rtol=1e-7, atol=1e-10,
    mistakes=[
        Mistake(_shift_wrong(sign=-1.0),
                "Each block rotates the wrong way: M times p_t gives p_(t - phi). Which entry of "
                "the block holds +sin(w_i phi) in eq. (ch10-rotation)?"),
        Mistake(_shift_wrong(exponent=lambda k, dim: k / (2 * dim)),
                "A wrong exponent in the frequencies: base is raised to i/d where eq. "
                "(ch10-spe) has 2i/d. What is w_i for pair i?"),
        Mistake(_shift_wrong(exponent=lambda k, dim: -k / dim),
                "The frequencies grow with i: base is raised to +2i/d. Does w_i fall or rise "
                "from the first pair to the last?"),
        Mistake(_shift_wrong(ignore_base=True),
                "The base argument is ignored. Which frequencies does an embedding built with "
                "another base have?"),
        Mistake(_shift_wrong(layout="halves"),
                "The blocks pair entry i with entry i + d/2. In eq. (ch10-spe), which two "
                "entries hold the sine and the cosine of the same frequency?"),
        Mistake(_shift_wrong(cos_only=True),
                "Only the cosines are there. A rotation mixes the sine and the cosine of each "
                "pair: where do the sin(w_i phi) terms go?"),
    ],
    hints={
        "values": "Test your matrix on the embeddings themselves: M times p_t must equal "
                  "p_(t+phi) for every t (section 10.8). Which pair of entries is off?",
        "shape": "M acts on a whole embedding: (dim, dim).",
        "exception": "There are dim / 2 pairs, each a 2 x 2 block on the diagonal.",
    },
    hint_steps=(
        "M is zero except for dim / 2 blocks of 2 x 2 on its diagonal, block i acting on "
        "entries 2i and 2i + 1, the sine and cosine of frequency w_i.",
        "Block i is the rotation matrix of eq. (ch10-rotation) for the angle w_i phi, with "
        "w_i one over base to the power 2i/d: mind which of its off-diagonal entries has the "
        "minus sign.",
        "Check on the embeddings: build p_t and p_(t+phi) with the same base and dimension "
        "and compare M times p_t with p_(t+phi).",
    ),
)

EXERCISES = [ATTENTION_BACKWARD, POSITIONS, GRID, SHIFT]
