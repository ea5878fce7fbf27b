"""Batch normalization: a forward/backward pair and the BatchNorm1d / BatchNorm2d Modules.

Batch norm normalises each channel with statistics of the batch,

    xhat = (x - mean) / sqrt(var + eps),    y = weight * xhat + bias,

the mean and (biased) variance taken over every axis but the channel axis 1: over N for
x (N, D), over N, H, W for images (N, C, H, W). Chen's notes (eq. 15) divide by
sigma + eps = sqrt(var) + eps instead; PyTorch and this module use sqrt(var + eps), and
the two differ only when var is tiny. Training mode uses the batch statistics and
updates running averages in place; evaluation mode uses the running averages instead,
so a prediction does not depend on the rest of the batch. (Layer norm, which normalises
each sample instead, is in ``layernorm.py``.) ``batch_norm_forward_naive`` spells the
formula out with loops over the channels. See chapter 7.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import (as_float_array, check_dout, fits_in_memory, flag, float_dtype, nan_in_nan_out,
                      positive_int, real_number)
from .module import Module

__all__ = ["batch_norm_forward", "batch_norm_backward", "batch_norm_forward_naive",
           "batch_norm_backward_naive", "BatchNorm1d", "BatchNorm2d", "BatchNormCache"]

# When mean^2 > _ILL_CONDITIONED * var for some channel, var = E[x^2] - mean^2 would
# cancel too many digits, so the statistics are taken the two-pass way, from x - mean.
_ILL_CONDITIONED = 10.0


class BatchNormCache(NamedTuple):
    """What ``batch_norm_backward`` needs from the forward pass."""
    x3: np.ndarray  # x seen as (N, C, L), L = H*W (1 for (N, C) input), x's dtype
    mean: np.ndarray  # (C,) float64: the batch mean (training) or running_mean (evaluation)
    inv_std: np.ndarray  # (C,) float64: 1 / sqrt(var + eps)
    scale: np.ndarray  # (C,): weight * inv_std, or inv_std without weight
    centred: bool  # the statistics were taken from x - mean (the two-pass route)
    training: bool
    x_shape: tuple  # x's shape, also the output's
    weight_dtype: np.dtype | None  # None: no weight
    bias_dtype: np.dtype | None  # None: no bias


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


def _row_dots(a3, b3):
    """sum_l a3[n, c, l] * b3[n, c, l] -> (N, C), as N*C products (1, L) @ (L, 1): BLAS
    dot products, as fast as NumPy 2's ``np.vecdot`` and available in NumPy 1.26."""
    N, C, L = a3.shape
    return (a3.reshape(N * C, 1, L) @ b3.reshape(N * C, L, 1)).reshape(N, C)  # (N, C)


def _spread(v, L, dtype):
    """A per-channel vector (C,) repeated over each channel's L positions -> (C*L,).

    Against x seen as (N, C*L) it gives every channel its own value through a contiguous
    operand, which NumPy's vectorized loops handle about twice as fast as a (C, 1) array
    broadcast over (N, C, L).
    """
    return np.repeat(np.asarray(v, dtype), L)  # (C*L,)


def _scaled_statistics(x3, M, eps):
    """Mean, variance and 1 / sqrt(var + eps) per channel of x3 (N, C, L) when x^2 overflows:
    the two-pass formula on x / max|x| in float64, so that neither the squares nor var
    (which may exceed the largest float: then inf) need to be representable."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # nan/inf x: nan out
        s = np.abs(x3).max(axis=(0, 2)).astype(np.float64)  # (C,)
        s[s == 0] = 1.0
        xs = x3 / s[:, None]  # (N, C, L), float64, |xs| <= 1
        mean_s = xs.mean(axis=(0, 2))  # (C,)
        xs -= mean_s[:, None]
        var_s = np.einsum("ncl,ncl->c", xs, xs) / M  # (C,), var / s^2
        inv_std = 1.0 / (s * np.sqrt(var_s + eps / s / s))  # (C,)
        return mean_s * s, var_s * s * s, inv_std


def _batch_norm_args(x, running_mean, running_var, weight, bias, training, momentum, eps, func):
    """Check batch norm's arguments; returns x, the four vectors (or None) and the numbers."""
    x = as_float_array(x, "x", func)
    if x.ndim < 2:
        raise ValueError(f"{func}: x must have at least 2 dimensions (N, C, ...), "
                         f"but has {x.ndim} (x.shape={x.shape})")
    C = x.shape[1]
    weight = _vector(weight, "weight", func, C, x, "channels")
    bias = _vector(bias, "bias", func, C, x, "channels")
    for name, arr in (("running_mean", running_mean), ("running_var", running_var)):
        if arr is not None and not (isinstance(arr, np.ndarray)
                                    and np.issubdtype(arr.dtype, np.floating)):
            got = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
            raise TypeError(f"{func}: {name} must be a floating NumPy array (it is updated in "
                            f"place), got {got}")
    if (running_mean is None) != (running_var is None):
        given, missing = (("running_var", "running_mean") if running_mean is None
                          else ("running_mean", "running_var"))
        raise ValueError(f"{func}: running_mean and running_var must both be arrays or both be "
                         f"None (as in torch), got {given} with {missing}=None")
    running_mean = _vector(running_mean, "running_mean", func, C, x, "channels")
    running_var = _vector(running_var, "running_var", func, C, x, "channels")
    momentum = real_number(momentum, "momentum", func, minimum=0, maximum=1)
    eps = real_number(eps, "eps", func, minimum=0, open_min=True)  # > 0, as torch in training
    training = flag(training, "training", func)  # "no" or "eval" would be truthy: training
    return x, running_mean, running_var, weight, bias, training, momentum, eps


def _update_running(running_mean, running_var, mean, var, M, momentum):
    """running = (1 - momentum) running + momentum batch, in place; var unbiased (M - 1)."""
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += momentum * mean
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += momentum * var * (M / (M - 1))


def _need_two_values(M, x, func):
    if M < 2:
        raise ValueError(
            f"{func}: training needs more than 1 value per channel to compute a variance, "
            f"got x.shape={x.shape}; use a batch of 2 or more, or training=False"
        )


@nan_in_nan_out
def batch_norm_forward(x, running_mean, running_var, weight=None, bias=None, *,
                       training=False, momentum=0.1, eps=1e-5):
    """Batch normalization, as ``torch.nn.functional.batch_norm`` (same arguments, order
    and defaults; training, momentum and eps are keyword-only).

    y = weight * (x - mean) / sqrt(var + eps) + bias, per channel (axis 1).

    x: (N, C), (N, C, L) or (N, C, H, W); running_mean, running_var, weight, bias: (C,),
    each may be None (no running statistics / no affine step). Training mode
    (``training=True``) normalises with the batch mean and *biased* variance (divided by
    M, the number of values per channel) and updates running_mean and running_var IN
    PLACE, as PyTorch does: running = (1 - momentum) * running + momentum * batch
    statistic, with the *unbiased* variance (divided by M - 1) for running_var.
    Evaluation mode (the default, as in PyTorch) normalises with running_mean and
    running_var. Returns ``(y, cache)``, y shaped like x and in x's dtype. See chapter 7.
    """
    func = "batch_norm_forward"
    x, running_mean, running_var, weight, bias, training, momentum, eps = _batch_norm_args(
        x, running_mean, running_var, weight, bias, training, momentum, eps, func)
    N, C = x.shape[:2]
    if training and 0 in x.shape[:1] + x.shape[2:]:  # no values: as torch, an empty output
        zeros, ones = np.zeros(C), np.ones(C)  # and the running statistics stay as they are
        return batch_norm_forward(x, zeros, ones, weight, bias, training=False, eps=eps)
    x3 = x.reshape(N, C, int(np.prod(x.shape[2:])))  # (N, C, L), L = H*W: contiguous, fast
    L = x3.shape[2]
    x2 = x3.reshape(N, C * L)  # (N, C*L), channel c in columns c*L ... (c+1)*L - 1
    M = N * L  # values per channel
    inv_std = None  # computed early only when x^2 overflows
    if training:
        _need_two_values(M, x, func)
        # Sums of x and of x^2 (accumulated in float64 across the batch), each one read
        # of x: var = E[x^2] - mean^2, unless that would cancel too many digits.
        mean = _row_sums(x3).sum(axis=0, dtype=np.float64) / M  # (C,)
        with np.errstate(over="ignore", invalid="ignore"):  # x^2 may overflow: see below
            var = _row_dots(x3, x3).sum(axis=0, dtype=np.float64) / M - mean * mean  # (C,)
            centred = bool(np.any(mean * mean > _ILL_CONDITIONED * var))
            if centred:
                xc = x2 - _spread(mean, L, x.dtype)  # (N, C*L)
                xc3 = xc.reshape(N, C, L)  # (N, C, L)
                var = _row_dots(xc3, xc3).sum(axis=0, dtype=np.float64) / M
        if not np.isfinite(var).all():  # the squares overflowed (|x| ~ 1e154, or 1e19 in float32)
            mean, var, inv_std = _scaled_statistics(x3, M, eps)
            centred, xc = True, x2 - _spread(mean, L, x.dtype)  # (N, C*L)
        with np.errstate(over="ignore"):  # a variance beyond the largest float: inf
            _update_running(running_mean, running_var, mean, var, M, momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(f"{func}: evaluation mode (training=False, the default) needs "
                             "running_mean and running_var, got None")
        mean = running_mean.astype(np.float64)
        var = running_var.astype(np.float64)
        centred = bool(np.any(mean * mean > _ILL_CONDITIONED * var))
        if centred:
            xc = x2 - _spread(mean, L, x.dtype)  # (N, C*L)
    if inv_std is None:
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
    cache = BatchNormCache(x3, mean, inv_std, scale, centred, bool(training), x.shape,
                           None if weight is None else weight.dtype,
                           None if bias is None else bias.dtype)
    return out.reshape(x.shape), cache  # (N, C, H, W), like x


@nan_in_nan_out
def batch_norm_backward(dout, cache):
    """Gradients of batch normalization: ``(dx, dweight, dbias)``.

    With sums over the M values of a channel and dxhat = weight * dout,
    training:   dx = (1/M) inv_std (M dxhat - sum(dxhat) - xhat sum(dxhat xhat)),
    evaluation: dx = inv_std dxhat (the statistics are constants there);
    dweight = sum(dout xhat), dbias = sum(dout). dout is shaped like x; dx, dweight (C,)
    and dbias (C,) come in the dtypes of x, weight and bias, and dweight / dbias are None
    when the forward had no weight / bias. running_mean and running_var get no gradient
    (they are buffers updated outside the graph), so nothing is returned for them.
    See chapter 7.
    """
    x3, mean, inv_std, scale = cache.x3, cache.mean, cache.inv_std, cache.scale
    N, C, L = x3.shape
    M = N * L
    dtype = x3.dtype
    d3 = check_dout(dout, cache.x_shape, dtype, "batch_norm_backward").reshape(N, C, L)
    d2 = d3.reshape(N, C * L)  # (N, C*L)
    dbias = _row_sums(d3).sum(axis=0, dtype=np.float64)  # (C,)
    if cache.centred:
        xs, m = x3.reshape(N, C * L) - _spread(mean, L, dtype), 0.0  # (N, C*L)
    else:
        xs, m = x3.reshape(N, C * L), mean  # (N, C*L)
    # dot = sum(dout * (x - mean)) per channel, so that dweight = inv_std * dot
    dot = _row_dots(d3, xs.reshape(N, C, L)).sum(axis=0, dtype=np.float64) - m * dbias  # (C,)
    dweight = dot * inv_std
    if cache.training:
        # dx = scale * (dout + a * (x - mean) - mean(dout)) with a = -inv_std^2 * dot / M,
        # evaluated as scale * (dout + a * xs + c) in four passes, three of them in place.
        a = -inv_std * (inv_std * dot) / M  # in this order inv_std^2 cannot underflow
        c = -dbias / M - a * m
        if cache.centred:  # xs is our own temporary: reuse it
            xs *= _spread(a, L, dtype)
            dx = xs
        else:
            dx = xs * _spread(a, L, dtype)  # (N, C*L)
        dx += _spread(c, L, dtype)
        dx += d2
        dx *= _spread(scale, L, dtype)
    else:
        dx = d2 * _spread(scale, L, dtype)  # (N, C*L)
    return (dx.reshape(cache.x_shape),  # (N, C, H, W), like x
            None if cache.weight_dtype is None else dweight.astype(cache.weight_dtype),
            None if cache.bias_dtype is None else dbias.astype(cache.bias_dtype))


@nan_in_nan_out
def batch_norm_forward_naive(x, running_mean, running_var, weight=None, bias=None, *,
                             training=False, momentum=0.1, eps=1e-5):
    """``batch_norm_forward`` with a loop over the channels and the formula written out:

        mean_c = (1/M) sum x[:, c],  var_c = (1/M) sum (x[:, c] - mean_c)^2,
        y[:, c] = weight_c (x[:, c] - mean_c) / sqrt(var_c + eps) + bias_c.

    Same arguments, result, running-statistics update and cache (so either backward
    takes it): x (N, C, ...), the four vectors (C,) or None -> y shaped like x. Slow, for
    reading and for checking the fast one. See chapter 7.
    """
    func = "batch_norm_forward_naive"
    x, running_mean, running_var, weight, bias, training, momentum, eps = _batch_norm_args(
        x, running_mean, running_var, weight, bias, training, momentum, eps, func)
    N, C = x.shape[:2]
    if training and 0 in x.shape[:1] + x.shape[2:]:  # no values: an empty output, as the fast one
        return batch_norm_forward_naive(x, np.zeros(C), np.ones(C), weight, bias, eps=eps)
    x3 = x.reshape(N, C, int(np.prod(x.shape[2:])))  # (N, C, L): channel c is x3[:, c, :]
    M = N * x3.shape[2]
    if training:
        _need_two_values(M, x, func)
    elif running_mean is None or running_var is None:
        raise ValueError(f"{func}: evaluation mode (training=False, the default) needs "
                         "running_mean and running_var, got None")
    mean, var = np.empty(C), np.empty(C)
    out = np.empty_like(x3)
    for c in range(C):
        values = x3[:, c, :].astype(np.float64)  # the M values of channel c
        if training:
            mean[c] = values.sum() / M
            var[c] = ((values - mean[c]) ** 2).sum() / M
        else:
            mean[c], var[c] = running_mean[c], running_var[c]
        xhat = (values - mean[c]) / np.sqrt(var[c] + eps)
        w = 1.0 if weight is None else weight[c]
        b = 0.0 if bias is None else bias[c]
        out[:, c, :] = w * xhat + b
    if training:
        _update_running(running_mean, running_var, mean, var, M, momentum)
    inv_std = 1.0 / np.sqrt(var + eps)
    cache = BatchNormCache(x3, mean, inv_std, inv_std if weight is None else weight * inv_std,
                           True, bool(training), x.shape,
                           None if weight is None else weight.dtype,
                           None if bias is None else bias.dtype)
    return out.reshape(x.shape), cache


@nan_in_nan_out
def batch_norm_backward_naive(dout, cache):
    """``batch_norm_backward`` with a loop over the channels, the formula written out:

        xhat = (x - mean) inv_std,  dbias_c = sum dout,  dweight_c = sum dout xhat,
        dx = weight_c inv_std (dout - mean(dout) - xhat mean(dout xhat))   (training),
        dx = weight_c inv_std dout                                          (evaluation),

    sums and means over the M values of channel c (weight_c = 1 without weight).

    dout shaped like x -> (dx, dweight (C,), dbias (C,)), as ``batch_norm_backward``.
    See chapter 7.
    """
    dtype = cache.x3.dtype
    d3 = check_dout(dout, cache.x_shape, dtype, "batch_norm_backward_naive")
    N, C, L = cache.x3.shape
    d3 = d3.reshape(N, C, L)
    dx = np.empty((N, C, L), dtype)
    dweight, dbias = np.empty(C), np.empty(C)
    for c in range(C):
        g = d3[:, c, :].astype(np.float64)  # dout of channel c
        xhat = (cache.x3[:, c, :] - cache.mean[c]) * cache.inv_std[c]
        dbias[c] = g.sum()
        dweight[c] = (g * xhat).sum()
        scale = cache.scale[c]  # weight_c inv_std_c
        if cache.training:
            dx[:, c, :] = scale * (g - g.mean() - xhat * (g * xhat).mean())
        else:
            dx[:, c, :] = scale * g
    return (dx.reshape(cache.x_shape),
            None if cache.weight_dtype is None else dweight.astype(cache.weight_dtype),
            None if cache.bias_dtype is None else dbias.astype(cache.bias_dtype))


class _BatchNorm(Module):
    """Shared code of BatchNorm1d / BatchNorm2d (PyTorch's arguments and defaults).

    params: weight (ones), bias (zeros); buffers: running_mean (zeros), running_var
    (ones), num_batches_tracked (as in PyTorch's state_dict). With
    ``track_running_stats=False`` there are no buffers and batch statistics are used in
    eval mode too. See chapter 7.
    """

    _ndim: tuple = ()
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, dtype=np.float32):
        super().__init__()
        name = type(self).__name__
        self.num_features = positive_int(num_features, "num_features", name)
        self.eps = real_number(eps, "eps", name, minimum=0, open_min=True)  # as the kernel
        self.momentum = real_number(momentum, "momentum", name, minimum=0, maximum=1)
        affine = flag(affine, "affine", name)
        track_running_stats = flag(track_running_stats, "track_running_stats", name)
        dtype = float_dtype(dtype, name)
        fits_in_memory((num_features,), "weight", name, f"num_features={num_features}")
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
            x, self.buffers.get("running_mean"), self.buffers.get("running_var"),
            self.params.get("weight"), self.params.get("bias"),
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
    """Batch norm over (N, C) or (N, C, L), ``torch.nn.BatchNorm1d``'s twin; the output is
    shaped like x. See chapter 7."""

    _ndim, _layout = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Per-channel batch norm over (N, C, H, W), ``torch.nn.BatchNorm2d``'s twin; the output
    is shaped like x. See chapter 7."""

    _ndim, _layout = 4, "(N, C, H, W)"
