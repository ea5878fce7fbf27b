"""Seeded toy data sets (XOR, moons, spirals), mini-batches and image shifts.

Every draw goes through a seeded generator, so the same seed gives the same data.
See chapters 1, 3, 4 and 6.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import fits_in_memory, flag, positive_int
from .._init import make_rng

__all__ = ["make_xor", "make_moons", "make_spirals", "iterate_minibatches", "shift_images"]

def _noise(value, func: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"{func}: noise must be a finite number >= 0, got {value!r}")
    return float(value)


def _shuffled(X, y, rng):
    order = rng.permutation(len(y))
    return X[order], y[order].astype(np.int64)


def make_xor(n: int = 200, *, noise: float = 0.1, rng=None):
    """XOR: Gaussian clusters (std ``noise``) at the corners of the unit square, y = x1 XOR x2.

    Corners (0,0),(1,1) have label 0 and (0,1),(1,0) label 1; points are dealt to the
    corners in turn, so class sizes differ by at most one. Returns X (n, 2) float64,
    y (n,) int64, in shuffled order. See chapters 1 and 3.
    """
    n = positive_int(n, "n", "make_xor", minimum=4)
    fits_in_memory((n, 2), "X", "make_xor", f"n={n}")
    noise, rng = _noise(noise, "make_xor"), make_rng(rng)
    corners = np.array([[0, 0], [0, 1], [1, 1], [1, 0]], dtype=np.float64)
    which = np.arange(n) % 4
    X = corners[which] + noise * rng.standard_normal((n, 2))  # (n, 2)
    y = corners[which, 0].astype(np.int64) ^ corners[which, 1].astype(np.int64)
    return _shuffled(X, y, rng)


def make_moons(n: int = 200, *, noise: float = 0.1, rng=None):
    """Two interleaving half circles, as ``sklearn.datasets.make_moons``.

    Upper moon (cos t, sin t), label 0; lower moon (1 - cos t, 0.5 - sin t), label 1;
    t evenly spaced in [0, pi], plus Gaussian noise of std ``noise``.
    Returns X (n, 2) float64, y (n,) int64, in shuffled order. See chapter 3.
    """
    n = positive_int(n, "n", "make_moons", minimum=2)
    fits_in_memory((n, 2), "X", "make_moons", f"n={n}")
    noise, rng = _noise(noise, "make_moons"), make_rng(rng)
    n_out = n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n - n_out)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)])  # (n, 2)
    X += noise * rng.standard_normal((n, 2))
    y = np.repeat([0, 1], [n_out, n - n_out])
    return _shuffled(X, y, rng)


def make_spirals(n: int = 300, *, classes: int = 3, noise: float = 0.2, rng=None):
    """``classes`` interleaved spiral arms (the CS231n spiral data set).

    Arm k: radius r evenly spaced in [0, 1], angle t = 4 k + 4 r + noise * N(0, 1),
    point r (sin t, cos t). Class sizes differ by at most one.
    Returns X (n, 2) float64, y (n,) int64, in shuffled order. See chapter 3.
    """
    classes = positive_int(classes, "classes", "make_spirals", minimum=2)
    n = positive_int(n, "n", "make_spirals", minimum=2)
    if n < classes:
        raise ValueError(f"make_spirals: n must be at least classes={classes} (a point per "
                         f"arm), got n={n}")
    fits_in_memory((n, 2), "X", "make_spirals", f"n={n}")
    noise, rng = _noise(noise, "make_spirals"), make_rng(rng)
    sizes = np.full(classes, n // classes) + (np.arange(classes) < n % classes)
    r = np.concatenate([np.linspace(0.0, 1.0, m) for m in sizes])  # (n,)
    y = np.repeat(np.arange(classes), sizes)
    t = 4.0 * y + 4.0 * r + noise * rng.standard_normal(n)
    X = r[:, None] * np.stack([np.sin(t), np.cos(t)], axis=1)  # (n, 2)
    return _shuffled(X, y, rng)


def iterate_minibatches(X, y, batch_size: int, *, shuffle: bool = True, rng=None):
    """Yield ``(X[idx], y[idx])`` batches of ``batch_size`` rows (the last may be smaller).

    With ``shuffle`` the rows are visited in ``rng.permutation(N)`` order, so a seed
    gives the same batches every time. See chapter 4.
    """
    func = "iterate_minibatches"
    X, y = np.asarray(X), np.asarray(y)
    batch_size = positive_int(batch_size, "batch_size", func)
    shuffle = flag(shuffle, "shuffle", func)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"{func}: X and y must have the same number of rows, "
                         f"got X.shape={X.shape} and y.shape={y.shape}")
    order = make_rng(rng).permutation(len(X)) if shuffle else None

    def batches():
        for start in range(0, len(X), batch_size):
            if order is None:
                yield X[start:start + batch_size], y[start:start + batch_size]
            else:
                idx = order[start:start + batch_size]
                yield X[idx], y[idx]
    return batches()


def shift_images(images, dx: int, dy: int):
    """Translate images by whole pixels with zero fill (no wrap-around).

    out[..., i, j] = images[..., i - dy, j - dx] where that lies inside, else 0:
    dx > 0 moves content right, dy > 0 moves it down. images: (N, H, W) or (N, C, H, W)
    (any array whose last two axes are H, W); dtype is kept. See chapters 1, 4 and 6.
    """
    func = "shift_images"
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(f"{func}: images must have at least 2 dimensions (..., H, W), "
                         f"got images.shape={images.shape}")
    for name, value in (("dx", dx), ("dy", dy)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{func}: {name} must be an integer number of pixels, got {value!r}")
    H, W = images.shape[-2:]
    out = np.zeros_like(images)
    if abs(dy) < H and abs(dx) < W:
        dst = (Ellipsis, slice(max(dy, 0), H + min(dy, 0)), slice(max(dx, 0), W + min(dx, 0)))
        src = (Ellipsis, slice(max(-dy, 0), H + min(-dy, 0)), slice(max(-dx, 0), W + min(-dx, 0)))
        out[dst] = images[src]
    return out
