"""Positional embeddings: telling self-attention where each token is. See chapter 10.

Self-attention treats its input as a set (permuting the tokens permutes the output), so
the position t of each token is added to its embedding:

- ``sinusoidal_embedding(T, d)``, the fixed table of Vaswani et al. (Chen's eq. 19,
  index corrected): p_t[2i] = sin(w_i t), p_t[2i + 1] = cos(w_i t), w_i = 1 / base^(2i/d);
- ``SinusoidalPositionalEmbedding``, a layer adding that table (a buffer, not learned);
- ``LearnedPositionalEmbedding``, a layer adding a learned table (BERT, ViT).

Both layers take x of shape (N, T, d), a batch of N sequences of T tokens, and add row t
of the table to token t of every sequence: table[:T] broadcasts over the batch axis, never
along it (a (T, d) table added to an x laid out as (T, N, d) with T = N would silently add
the position of the *sequence* to each token, the common bug; the layers refuse any x
that is not (N, T, d) with T <= num_positions and d = dim).
"""
from __future__ import annotations

import numpy as np

from ._checks import (as_float_array, check_dout, fits_in_memory, float_dtype, positive_int,
                      real_number)
from ._init import make_rng
from .module import Module

__all__ = ["sinusoidal_embedding", "SinusoidalPositionalEmbedding", "LearnedPositionalEmbedding"]


def sinusoidal_embedding(num_positions, dim, *, base=10000.0):
    """The sinusoidal positional embedding table, (num_positions, dim), float64.

    Row t is the embedding of position t (t = 0 is the first token); column 2i holds
    sin(w_i t) and column 2i + 1 holds cos(w_i t), with the frequency w_i = 1 / base^(2i/dim)
    for i = 0, ..., dim/2 - 1: wavelengths 2 pi / w_i from 2 pi to (almost) base * 2 pi.
    ``dim`` must be even. Every entry lies in [-1, 1]. This is Chen's eq. 19, with the
    dimension index written correctly. See chapter 10.
    """
    func = "sinusoidal_embedding"
    T = positive_int(num_positions, "num_positions", func)
    d = positive_int(dim, "dim", func)
    if d % 2:
        raise ValueError(f"{func}: dim must be even (a sin and a cos column per frequency), "
                         f"got dim={d}")
    base = real_number(base, "base", func, minimum=1, open_min=True)
    fits_in_memory((T, d), "the table", func, f"num_positions={T}, dim={d}")
    t = np.arange(T, dtype=np.float64)[:, None]  # (T, 1) positions
    w = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # (d/2,) frequencies w_i
    table = np.empty((T, d))
    table[:, 0::2] = np.sin(t * w)  # (T, d/2)
    table[:, 1::2] = np.cos(t * w)
    return table


def _check_tokens(x, num_positions, dim, func):
    """x as a float array of shape (N, T, dim) with T <= num_positions, or a clear error."""
    x = as_float_array(x, "x", func, ndim=3, layout="(N, T, dim), a batch of token sequences")
    N, T, d = x.shape
    if d != dim:
        raise ValueError(f"{func}: x must have dim={dim} features in its last axis, "
                         f"got x.shape={x.shape}")
    if T > num_positions:
        raise ValueError(f"{func}: x has T={T} tokens (x.shape={x.shape}, axis 1) but the table "
                         f"has num_positions={num_positions}; is the batch axis first?")
    return x


class _Positional(Module):
    """Adds ``self._table()[:T]`` to x (N, T, dim)."""

    def _table(self):
        raise NotImplementedError

    def forward(self, x):
        x = _check_tokens(x, self.num_positions, self.dim, type(self).__name__)
        table = self._table()
        T = x.shape[1]
        self._push_cache((x.shape, x.dtype))
        out = x + table[None, :T].astype(x.dtype, copy=False)  # (N, T, dim): one row per token
        return out

    def extra_repr(self) -> str:
        return f"num_positions={self.num_positions}, dim={self.dim}"


class SinusoidalPositionalEmbedding(_Positional):
    """out = x + P[:T], P = ``sinusoidal_embedding(num_positions, dim, base=base)``, a fixed
    buffer (nothing learned). x: (N, T, dim) with T <= num_positions -> out shaped like x.
    Backward: dx = dout. See chapter 10."""

    def __init__(self, num_positions: int, dim: int, *, base: float = 10000.0, dtype=np.float32):
        super().__init__()
        func = "SinusoidalPositionalEmbedding"
        self.num_positions = positive_int(num_positions, "num_positions", func)
        self.dim = positive_int(dim, "dim", func)
        dtype = float_dtype(dtype, func)
        self.base = real_number(base, "base", func, minimum=1, open_min=True)
        if self.dim % 2:
            raise ValueError(f"{func}: dim must be even (a sin and a cos column per frequency), "
                             f"got dim={dim}")
        fits_in_memory((num_positions, dim), "the table", func,
                       f"num_positions={num_positions}, dim={dim}")
        self.buffers["table"] = sinusoidal_embedding(num_positions, dim, base=base).astype(dtype)

    def _table(self):
        return self.buffers["table"]

    def backward(self, dout):
        shape, dtype = self._pop_cache()
        return check_dout(dout, shape, dtype, "SinusoidalPositionalEmbedding.backward").copy()


class LearnedPositionalEmbedding(_Positional):
    """out = x + P[:T] with a learned table P (num_positions, dim), as BERT and ViT;
    initialised N(0, 0.02^2) as in ViT. x: (N, T, dim) with T <= num_positions -> out
    shaped like x. Backward: dx = dout, and dP[:T] += the sum of dout over the batch
    (rows T and beyond get no gradient). See chapter 10."""

    def __init__(self, num_positions: int, dim: int, *, rng=None, dtype=np.float32):
        super().__init__()
        func = "LearnedPositionalEmbedding"
        self.num_positions = positive_int(num_positions, "num_positions", func)
        self.dim = positive_int(dim, "dim", func)
        dtype = float_dtype(dtype, func)
        fits_in_memory((num_positions, dim), "the table", func,
                       f"num_positions={num_positions}, dim={dim}")
        rng = make_rng(rng)
        self.params["weight"] = (0.02 * rng.standard_normal((num_positions, dim))).astype(dtype)
        self.zero_grad()

    def _table(self):
        return self.params["weight"]

    def backward(self, dout):
        shape, dtype = self._pop_cache()
        weight = self.params["weight"]
        dout = check_dout(dout, shape, np.result_type(dtype, weight.dtype),
                          "LearnedPositionalEmbedding.backward")
        dweight = np.zeros_like(weight)  # (num_positions, dim)
        dweight[:shape[1]] = dout.sum(axis=0)  # (T, dim): every sequence used the same rows
        self._store_grads(weight=dweight)
        return dout.astype(dtype, copy=True)
