"""Dropout: a forward/backward pair and a Module. See chapter 6.

During training each unit is kept with probability 1 - p and zeroed with probability p,
independently; at inference every unit is kept. Two conventions keep the expected
activation the same in both modes:

* inverted dropout (PyTorch, and this module): scale the kept units by 1 / (1 - p) while
  training, E[y] = (1 - p) * x / (1 - p) = x, and use the layer unchanged at inference;
* the original one (Srivastava et al. 2014, in Duan's slides): keep the kept units as they
  are while training, E[y] = (1 - p) * x, and multiply by (1 - p) at inference instead.

Both give the same network function in expectation; the inverted form leaves inference
untouched, so a trained model needs no rescaling. Chapter 6 shows that they agree.

Dropout2d (``torch.nn.Dropout2d``) drops whole feature maps: one Bernoulli draw per
(sample, channel) of an (N, C, H, W) input, shared by all H x W positions of that map.
Neighbouring pixels of a map are strongly correlated, so dropping single pixels hides
little (the neighbours carry the same signal); dropping the whole map does.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_dout, flag, nan_in_nan_out, real_number
from ._init import make_rng
from .module import Module

__all__ = ["dropout_forward", "dropout_backward", "Dropout",
           "dropout2d_forward", "dropout2d_backward", "Dropout2d"]


def _check_p(p, func):
    """p, the probability of dropping a unit: a number in [0, 1]."""
    return real_number(p, "p", func, minimum=0, maximum=1)


@nan_in_nan_out
def dropout_forward(x, p=0.5, *, training=True, rng=None):
    """Inverted dropout, as ``torch.nn.functional.dropout``.

    training:  y = x * mask / (1 - p), mask[i] ~ Bernoulli(1 - p) (1 = keep);
    inference: y = x.

    x: any shape; p in [0, 1] (p = 1 drops everything and returns zeros, as PyTorch
    does). ``rng`` is a seed or a ``numpy.random.Generator``; pass the same Generator on
    every call (as the ``Dropout`` Module does) to draw a fresh mask each time, or the
    same seed to draw the same mask again. Returns ``(y, cache)``, y shaped like x.
    See chapter 6.
    """
    func = "dropout_forward"
    x = as_float_array(x, "x", func)
    p = _check_p(p, func)
    if not flag(training, "training", func) or p == 0.0:  # "no" would be truthy: training
        return x.copy(), (None, x.shape, x.dtype)
    if p == 1.0:
        mask = np.zeros_like(x)
    else:
        # keep where u >= p, u ~ U[0, 1): probability 1 - p; the kept units carry the
        # scale 1 / (1 - p) so that the backward pass is a single multiply
        u = make_rng(rng).random(x.shape, dtype=x.dtype if x.dtype == np.float32 else np.float64)
        mask = (u >= p).astype(x.dtype)  # same shape as x
        mask *= x.dtype.type(1.0 / (1.0 - p))
    return x * mask, (mask, x.shape, x.dtype)


@nan_in_nan_out
def dropout_backward(dout, cache):
    """dx = dout * mask / (1 - p) (the same mask as the forward); dx = dout at inference.
    dout and dx are shaped like x. See chapter 6."""
    mask, shape, dtype = cache
    dout = check_dout(dout, shape, dtype, "dropout_backward")
    return dout.copy() if mask is None else dout * mask


class Dropout(Module):
    """Inverted dropout, ``torch.nn.Dropout``'s twin; identity in eval mode.

    Keeps its own Generator (``rng``: a seed or a Generator), so a seeded model draws the
    same sequence of masks on every run. x: any shape -> y shaped like x. See chapter 6.
    """

    def __init__(self, p: float = 0.5, *, rng=None):
        super().__init__()
        self.p = _check_p(p, "Dropout")
        self.rng = make_rng(rng)

    def forward(self, x):
        out, mask = dropout_forward(x, self.p, training=self.training, rng=self.rng)
        self._push_cache(mask)
        return out

    def backward(self, dout):
        return dropout_backward(dout, self._pop_cache())

    def extra_repr(self) -> str:
        return f"p={self.p}"


@nan_in_nan_out
def dropout2d_forward(x, p=0.5, *, training=True, rng=None):
    """Inverted dropout of whole feature maps, as ``torch.nn.functional.dropout2d``.

    training:  y[n, c] = x[n, c] * mask[n, c] / (1 - p), one mask[n, c] ~ Bernoulli(1 - p)
               per (sample, channel), shared by every pixel of the map;
    inference: y = x.

    x: (N, C, H, W); p in [0, 1]; ``rng`` as in ``dropout_forward``. Returns
    ``(y, cache)``, y shaped like x; the cache holds the (N, C, 1, 1) scaled mask.
    See chapter 6.
    """
    func = "dropout2d_forward"
    x = as_float_array(x, "x", func, ndim=4, layout="(N, C, H, W)")
    p = _check_p(p, func)
    if not flag(training, "training", func) or p == 0.0:
        return x.copy(), (None, x.shape, x.dtype)
    shape = x.shape[:2] + (1, 1)  # one draw per (sample, channel)
    if p == 1.0:
        mask = np.zeros(shape, dtype=x.dtype)
    else:
        u = make_rng(rng).random(shape, dtype=x.dtype if x.dtype == np.float32 else np.float64)
        mask = (u >= p).astype(x.dtype)
        mask *= x.dtype.type(1.0 / (1.0 - p))
    return x * mask, (mask, x.shape, x.dtype)


@nan_in_nan_out
def dropout2d_backward(dout, cache):
    """dx[n, c] = dout[n, c] * mask[n, c] / (1 - p) (the forward's mask, one per map);
    dx = dout at inference. dout and dx are (N, C, H, W). See chapter 6."""
    mask, shape, dtype = cache
    dout = check_dout(dout, shape, dtype, "dropout2d_backward")
    return dout.copy() if mask is None else dout * mask


class Dropout2d(Module):
    """Inverted dropout of whole feature maps, ``torch.nn.Dropout2d``'s twin; identity in
    eval mode. x: (N, C, H, W) -> y shaped like x. Keeps its own Generator (``rng``: a
    seed or a Generator). See chapter 6.
    """

    def __init__(self, p: float = 0.5, *, rng=None):
        super().__init__()
        self.p = _check_p(p, "Dropout2d")
        self.rng = make_rng(rng)

    def forward(self, x):
        out, cache = dropout2d_forward(x, self.p, training=self.training, rng=self.rng)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        return dropout2d_backward(dout, self._pop_cache())

    def extra_repr(self) -> str:
        return f"p={self.p}"
