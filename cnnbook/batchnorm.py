"""Batch normalization: a forward/backward pair and the BatchNorm1d / BatchNorm2d Modules.

Batch norm normalises each channel with statistics of the batch,

    xhat = (x - mean) / sqrt(var + eps),    y = weight * xhat + bias,

the mean and (biased) variance taken over every axis but the channel axis 1: over N for
x (N, D), over N, H, W for images (N, C, H, W). Source 000 (eq. 15) divides by
sigma + eps = sqrt(var) + eps instead; PyTorch and this module use sqrt(var + eps), and
the two differ only when var is tiny. Training mode uses the batch statistics and
updates running averages in place; evaluation mode uses the running averages instead,
so a prediction does not depend on the rest of the batch. (Layer norm, which normalises
each sample instead, is in ``layernorm.py``.) See chapter 7.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import as_float_array, positive_int
from .module import Module

__all__ = ["batch_norm_forward", "batch_norm_backward", "BatchNorm1d", "BatchNorm2d"]

# When mean^2 > _ILL_CONDITIONED * var for some channel, var = E[x^2] - mean^2 would
# cancel too many digits, so the statistics are taken the two-pass way, from x - mean.
_ILL_CONDITIONED = 10.0


def _vector(arr, name, func, size, x, what):
    """A 1-D float array of ``size`` entries (weight, bias, running stats), or None."""
    if arr is None:
        return None
    arr = as_float_array(arr, name, func, ndim=1, layout=f"({size},)")
    if arr.shape[0] != size:
        raise ValueError(
            f"{func}: {name} has {arr.shape[0]} entries but x has {size} {what} "
            f"(x.shape={x.shape}, {name}.shape={arr.shape})"
        )
    return arr


def _row_sums(a3):
    """Sums over the last axis of (N, C, L) -> (N, C), as one matrix-vector product:
    BLAS does it faster than ``a3.sum(axis=2)``, on every core."""
    N, C, L = a3.shape
    return (a3.reshape(N * C, L) @ np.ones(L, a3.dtype)).reshape(N, C)  # (N, C)


def _spread(v, L, dtype):
    """A per-channel vector (C,) repeated over each channel's L positions -> (C*L,).

    Against x seen as (N, C*L) it gives every channel its own value through a contiguous
    operand, which NumPy's vectorized loops handle about twice as fast as a (C, 1) array
    broadcast over (N, C, L).
    """
    return np.repeat(np.asarray(v, dtype), L)  # (C*L,)


def _check_number(value, name, func, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            low <= value and (high is None or value <= high)):
        want = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{func}: {name} must be a number {want}, got {value!r}")


def batch_norm_forward(x, weight=None, bias=None, running_mean=None, running_var=None, *,
                       training=True, momentum=0.1, eps=1e-5):
    """Batch normalization, as ``torch.nn.functional.batch_norm``.

    y = weight * (x - mean) / sqrt(var + eps) + bias, per channel (axis 1).

    x: (N, C), (N, C, L) or (N, C, H, W); weight, bias, running_mean, running_var: (C,),
    each may be None (no affine step / no running statistics). Training mode normalises
    with the batch mean and *biased* variance (divided by M, the number of values per
    channel) and updates running_mean and running_var IN PLACE, as PyTorch does:
    running = (1 - momentum) * running + momentum * batch_statistic, with the *unbiased*
    variance (divided by M - 1) for running_var. Evaluation mode (``training=False``)
    normalises with running_mean and running_var. Returns ``(y, cache)``, y shaped like x.
    """
    func = "batch_norm_forward"
    x = as_float_array(x, "x", func)
    if x.ndim < 2:
        raise ValueError(f"{func}: x must have at least 2 dimensions (N, C, ...), "
                         f"but has {x.ndim} (x.shape={x.shape})")
    N, C = x.shape[:2]
    weight = _vector(weight, "weight", func, C, x, "channels")
    bias = _vector(bias, "bias", func, C, x, "channels")
    for name, arr in (("running_mean", running_mean), ("running_var", running_var)):
        if arr is not None and not (isinstance(arr, np.ndarray)
                                    and np.issubdtype(arr.dtype, np.floating)):
            got = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
            raise TypeError(f"{func}: {name} must be a floating NumPy array (it is updated in "
                            f"place), got {got}")
    running_mean = _vector(running_mean, "running_mean", func, C, x, "channels")
    running_var = _vector(running_var, "running_var", func, C, x, "channels")
    _check_number(momentum, "momentum", func, 0, 1)
    _check_number(eps, "eps", func, 0)

    x3 = x.reshape(N, C, -1)  # (N, C, L), L = H*W: a contiguous last axis is fast
    L = x3.shape[2]
    x2 = x3.reshape(N, C * L)  # (N, C*L), channel c in columns c*L ... (c+1)*L - 1
    M = N * L  # values per channel
    if training:
        if M < 2:
            raise ValueError(
                f"{func}: training needs more than 1 value per channel to compute a variance, "
                f"got x.shape={x.shape}; use a batch of 2 or more, or training=False"
            )
        # Sums of x and of x^2 (accumulated in float64 across the batch), each one read
        # of x: var = E[x^2] - mean^2, unless that would cancel too many digits.
        mean = _row_sums(x3).sum(axis=0, dtype=np.float64) / M  # (C,)
        var = np.vecdot(x3, x3).sum(axis=0, dtype=np.float64) / M - mean * mean  # (C,)
        centred = bool(np.any(mean * mean > _ILL_CONDITIONED * var))
        if centred:
            xc = x2 - _spread(mean, L, x.dtype)  # (N, C*L)
            xc3 = xc.reshape(N, C, L)  # (N, C, L)
            var = np.vecdot(xc3, xc3).sum(axis=0, dtype=np.float64) / M
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * (M / (M - 1))
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{func}: evaluation mode (training=False) needs running_mean and "
                             "running_var, got None")
        mean = running_mean.astype(np.float64)
        var = running_var.astype(np.float64)
        centred = bool(np.any(mean * mean > _ILL_CONDITIONED * var))
        if centred:
            xc = x2 - _spread(mean, L, x.dtype)  # (N, C*L)
    inv_std = 1.0 / np.sqrt(var + eps)  # (C,)
    scale = inv_std if weight is None else weight * inv_std  # (C,)
    if centred:
        out = xc
        out *= _spread(scale, L, x.dtype)
        if bias is not None:
            out += _spread(bias, L, x.dtype)
    else:
        # y = scale * x + (bias - scale * mean): one multiply, one in-place add
        shift = -scale * mean if bias is None else bias - scale * mean  # (C,)
        out = x2 * _spread(scale, L, x.dtype)  # (N, C*L)
        out += _spread(shift, L, x.dtype)
    cache = (x3, mean, inv_std, scale, centred, training, weight is not None, bias is not None)
    return out.reshape(x.shape), cache  # (N, C, H, W), like x


def batch_norm_backward(dout, cache):
    """Gradients of batch normalization: ``(dx, dweight, dbias)``.

    With sums over the M values of a channel and dxhat = weight * dout,
    training:   dx = (1/M) inv_std (M dxhat - sum(dxhat) - xhat sum(dxhat xhat)),
    evaluation: dx = inv_std dxhat (the statistics are constants there);
    dweight = sum(dout xhat), dbias = sum(dout). dweight / dbias are None when the forward
    had no weight / bias. running_mean and running_var get no gradient (they are buffers
    updated outside the graph), so nothing is returned for them.
    """
    x3, mean, inv_std, scale, centred, training, has_weight, has_bias = cache
    N, C, L = x3.shape
    M = N * L
    dtype = x3.dtype
    d3 = np.asarray(dout).reshape(N, C, L)  # (N, C, L)
    d2 = d3.reshape(N, C * L)  # (N, C*L)
    dbias = _row_sums(d3).sum(axis=0, dtype=np.float64)  # (C,)
    if centred:
        xs, m = x3.reshape(N, C * L) - _spread(mean, L, dtype), 0.0  # (N, C*L)
    else:
        xs, m = x3.reshape(N, C * L), mean  # (N, C*L)
    # dot = sum(dout * (x - mean)) per channel, so that dweight = inv_std * dot
    dot = np.vecdot(d3, xs.reshape(N, C, L)).sum(axis=0, dtype=np.float64) - m * dbias  # (C,)
    dweight = dot * inv_std
    if training:
        # dx = scale * (dout + a * (x - mean) - mean(dout)) with a = -inv_std^2 * dot / M,
        # evaluated as scale * (dout + a * xs + c) in four passes, three of them in place.
        a = -inv_std * inv_std * dot / M
        c = -dbias / M - a * m
        if centred:  # xs is our own temporary: reuse it
            xs *= _spread(a, L, dtype)
            dx = xs
        else:
            dx = xs * _spread(a, L, dtype)  # (N, C*L)
        dx += _spread(c, L, dtype)
        dx += d2
        dx *= _spread(scale, L, dtype)
    else:
        dx = d2 * _spread(scale, L, dtype)  # (N, C*L)
    return (dx.reshape(np.shape(dout)),  # (N, C, H, W), like x
            dweight.astype(dtype) if has_weight else None,
            dbias.astype(dtype) if has_bias else None)


class _BatchNorm(Module):
    """Shared code of BatchNorm1d / BatchNorm2d (PyTorch's arguments and defaults).

    params: weight (ones), bias (zeros); buffers: running_mean (zeros), running_var
    (ones), num_batches_tracked (as in PyTorch's state_dict). With
    ``track_running_stats=False`` there are no buffers and batch statistics are used in
    eval mode too.
    """

    _ndim: tuple = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        self.num_features = positive_int(num_features, "num_features", name)
        _check_number(eps, "eps", name, 0)
        _check_number(momentum, "momentum", name, 0, 1)
        self.eps, self.momentum = eps, momentum
        if affine:
            self.params["weight"] = np.ones(num_features, dtype)
            self.params["bias"] = np.zeros(num_features, dtype)
        if track_running_stats:
            self.buffers["running_mean"] = np.zeros(num_features, dtype)
            self.buffers["running_var"] = np.ones(num_features, dtype)
            self.buffers["num_batches_tracked"] = np.array(0, dtype=np.int64)
        self.zero_grad()

    def forward(self, x):
        name = type(self).__name__
        x = as_float_array(x, "x", name, ndim=self._ndim, layout=self._layout)
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: x has {x.shape[1]} channels but the layer expects "
                             f"{self.num_features} (num_features={self.num_features}, x.shape={x.shape})")
        tracking = bool(self.buffers)
        if tracking and self.training:
            self.buffers["num_batches_tracked"] += 1
        out, cache = batch_norm_forward(
            x, self.params.get("weight"), self.params.get("bias"),
            self.buffers.get("running_mean"), self.buffers.get("running_var"),
            training=self.training or not tracking, momentum=self.momentum, eps=self.eps)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        dx, dweight, dbias = batch_norm_backward(dout, self._pop_cache())
        self._store_grads(weight=dweight, bias=dbias)
        return dx

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={'weight' in self.params}, track_running_stats={bool(self.buffers)}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L), ``torch.nn.BatchNorm1d``'s twin."""

    _ndim, _layout = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Per-channel batch norm over (N, C, H, W), ``torch.nn.BatchNorm2d``'s twin."""

    _ndim, _layout = 4, "(N, C, H, W)"
