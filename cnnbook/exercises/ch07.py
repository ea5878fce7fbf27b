"""Chapter 7 exercises: batch normalization of a batch in training mode with per-channel
statistics, its backward pass through the batch statistics, the running-average update
PyTorch makes, and batch norm folded into the convolution before it for inference.

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch07.py checks this).
"""
from __future__ import annotations

import numpy as np

from ..batchnorm import batch_norm_backward as _batch_norm_backward
from ..batchnorm import batch_norm_forward as _batch_norm_forward
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(707)  # draws the fixed cases once, the same on every run


def _shape_of(got):
    return getattr(got, "shape", None)


def _axes(x):
    """Every axis of x but the channel axis 1: the batch and the positions."""
    return (0,) + tuple(range(2, np.ndim(x)))


def _per_channel(v, x):
    """A (C,) vector shaped to broadcast against x (N, C, ...)."""
    return np.reshape(v, (1, -1) + (1,) * (np.ndim(x) - 2))


def _batch(shape, scale=1.0, offset=0.0, dtype=np.float64):
    """A batch whose channels have different means and spreads."""
    c = shape[1]
    x = _rng.standard_normal(shape) * _per_channel(_rng.uniform(0.5, 3.0, c) * scale,
                                                    np.empty(shape))
    return (x + _per_channel(_rng.uniform(-2, 2, c) + offset, x)).astype(dtype)


def _random_shape(rng):
    if rng.random() < 0.3:
        return (int(rng.integers(2, 7)), int(rng.integers(1, 5)))
    return (int(rng.integers(1, 4)), int(rng.integers(1, 4)),
            int(rng.integers(1, 4)), int(rng.integers(2, 4)))


# -- ch07.channel_normalize: batch norm of a batch, training mode ------------------------
def channel_normalize(x, gamma, beta, eps=1e-5):
    """Batch normalization in training mode: per channel c, the mean and the biased
    variance over the batch and every position, y = gamma_c (x - mean_c) /
    sqrt(var_c + eps) + beta_c. x: (N, C) or (N, C, H, W); gamma, beta: (C,)."""
    return _batch_norm_forward(x, None, None, gamma, beta, training=True, eps=eps)[0]


def _normalize_wrong(axes_of=_axes, var=lambda x, axes, m: x.var(axis=axes, keepdims=True),
                     denominator=lambda v, eps: np.sqrt(v + eps), swap=False):
    def wrong(x, gamma, beta, eps=1e-5):
        axes = axes_of(x)
        mean = x.mean(axis=axes, keepdims=True)
        xhat = (x - mean) / denominator(var(x, axes, mean), eps)
        g, b = (beta, gamma) if swap else (gamma, beta)
        return _per_channel(g, x) * xhat + _per_channel(b, x)
    return wrong


def _unbiased(x, axes, mean):
    m = np.prod([x.shape[a] for a in axes])
    return ((x - mean) ** 2).sum(axis=axes, keepdims=True) / (m - 1)


def _norm_case(shape, eps=None, dtype=np.float64, note="", **kw):
    x = _batch(shape, dtype=dtype, **kw)
    c = shape[1]
    gamma = _rng.uniform(0.5, 2.0, c).astype(dtype)
    beta = _rng.standard_normal(c).astype(dtype)
    return case(x, gamma, beta, note=note) if eps is None else case(x, gamma, beta, eps, note=note)


def _near_constant(shape):
    """Channel 0 almost constant (variance about 1e-10): eps decides its scale."""
    x = _batch(shape)
    x[:, 0] = 0.5 + 1e-5 * _rng.standard_normal(x[:, 0].shape)
    c = shape[1]
    return case(x, np.ones(c), np.zeros(c),
                note="channel 0 nearly constant, variance about 1e-10: eps decides its scale")


def _norm_random(rng):
    shape = _random_shape(rng)
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
    c = shape[1]
    return case(x, rng.uniform(0.5, 2, c), rng.standard_normal(c),
                float(rng.choice([1e-5, 1e-3, 0.1])))


def _norm_diagnose(c, got, expected):
    shape = _shape_of(got)
    if shape is None or shape == expected.shape:
        return None
    x = c.args[0]
    if len(x) > 1 and shape[1:] == x.shape[1:] and shape[0] == 1:
        return ("The output has one image, not the batch. The statistics are shared by the "
                "batch, but is every example still normalized and returned?")
    return None


CHANNEL_NORMALIZE = Exercise(
    name="ch07.channel_normalize",
    title="Batch normalization of a batch, per channel",
    reference=channel_normalize,
    cases=[
        _norm_case((4, 3), note="a batch of 4 vectors with 3 features"),
        _norm_case((5, 2, 3, 3), note="5 images, 2 channels of 3x3"),
        _norm_case((1, 3, 4, 4), note="a batch of one image: its positions still give statistics"),
        _norm_case((8, 1, 2, 5), note="one channel, a 2x5 map"),
        _near_constant((6, 2, 3, 3)),
        _norm_case((3, 4, 2, 2), offset=100.0, note="channels far from zero (mean about 100)"),
        _norm_case((4, 3, 3, 3), eps=0.1, note="eps = 0.1"),
        _norm_case((6, 3, 4, 4), dtype=np.float32, note="float32"),
    ],
    random_case=_norm_random,
    rtol=1e-6,
    atol=1e-6,
    mistakes=[
        Mistake(_normalize_wrong(axes_of=lambda x: (0,)),
                "Each pixel is normalized with its own statistics over the batch (the "
                "per-pixel reading of Chen's eq. 13). Over which values is a channel's mean "
                "taken in a CNN (section 7.2)?"),
        Mistake(_normalize_wrong(axes_of=lambda x: tuple(range(1, x.ndim))),
                "Each example is normalized with its own statistics, over its channels and "
                "positions. That is layer normalization: which axis must the statistics keep?"),
        Mistake(_normalize_wrong(axes_of=lambda x: tuple(range(2, x.ndim)) or (0,)),
                "Each image's channel is normalized over its own positions only. Does batch "
                "norm share the statistics across the examples of the batch?"),
        Mistake(_normalize_wrong(denominator=lambda v, eps: np.sqrt(v) + eps),
                "It divides by sqrt(var) + eps, Chen's eq. 15. On a nearly constant channel "
                "that blows the values up: where does eps go (section 7.3)?"),
        Mistake(_normalize_wrong(var=_unbiased),
                "It divides by the unbiased variance (M - 1). Which variance does batch norm "
                "normalize with, and which one goes into the running average?"),
        Mistake(_normalize_wrong(swap=True),
                "gamma and beta are swapped. Which of them scales, and which shifts?"),
        Mistake(_normalize_wrong(denominator=lambda v, eps: v + eps),
                "It divides by the variance instead of the standard deviation. What must "
                "the spread of the output be?"),
        Mistake(_normalize_wrong(denominator=lambda v, eps: np.sqrt(v)),
                "eps is left out: a constant channel would divide by zero. Where does eps go?"),
    ],
    diagnose=_norm_diagnose,
    hints={
        "values": "Check a case by hand: after your function, with gamma all ones and beta all zeros, "
                  "does every channel have mean 0 and variance about 1 over the batch and its "
                  "positions, and does a nearly constant channel stay small?",
        "shape": "The output has the shape of x; the statistics have one entry per channel.",
        "exception": "Some cases are (N, C) vectors, others (N, C, H, W) images: are your "
                     "axes and the shapes of gamma and beta right for both?",
        "mutated": "Your function changed x: compute the result into a new array.",
    },
    hint_steps=(
        "Which values share one mean and one variance? In a CNN it is a channel: every "
        "example of the batch and every position of that channel's map.",
        "Take the mean and the variance over every axis except axis 1, keeping the "
        "dimensions so that they broadcast against x. Which variance: divided by M or by "
        "M - 1?",
        "Subtract the mean, divide by the square root of (variance + eps), then multiply by "
        "gamma and add beta, each reshaped to (1, C, 1, 1) for images.",
    ),
)


# -- ch07.bn_backward: the gradients of batch norm in training mode ----------------------
def bn_backward(dout, x, gamma, eps=1e-5):
    """(dx, dgamma, dbeta) of y = gamma (x - mean) / sqrt(var + eps) + beta in training mode,
    the statistics taken per channel over every axis but 1, as ``channel_normalize``.
    dx = gamma / (M sqrt(var + eps)) (M dout - sum dout - xhat sum(dout xhat)),
    dgamma = sum(dout xhat), dbeta = sum(dout), sums over the M values of a channel."""
    beta = np.zeros_like(np.asarray(gamma))
    _, cache = _batch_norm_forward(x, None, None, gamma, beta, training=True, eps=eps)
    return _batch_norm_backward(dout, cache)


def _xhat(x, eps, var_of=lambda x, axes, m: x.var(axis=axes, keepdims=True)):
    axes = _axes(x)
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var_of(x, axes, mean) + eps), axes


def _backward_wrong(dx_of, dgamma_of=lambda d, xh, axes: (d * xh).sum(axis=axes),
                    dbeta_of=lambda d, axes: d.sum(axis=axes)):
    def wrong(dout, x, gamma, eps=1e-5):
        xh, axes = _xhat(x, eps)
        var = x.var(axis=axes, keepdims=True)
        g = _per_channel(gamma, x)
        dx = dx_of(dout, xh, g, var, eps, axes)
        return dx, dgamma_of(dout, xh, axes), dbeta_of(dout, axes)
    return wrong


def _mean(a, axes):
    return a.mean(axis=axes, keepdims=True)


def _back_case(shape, dtype=np.float64, note="", **kw):
    x = _batch(shape, dtype=dtype, **kw)
    dout = _rng.standard_normal(shape).astype(dtype)
    return case(dout, x, _rng.uniform(0.5, 2.0, shape[1]).astype(dtype), note=note)


def _back_random(rng):
    shape = _random_shape(rng)
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
    return case(rng.standard_normal(shape), x, rng.uniform(0.5, 2, shape[1]) * rng.choice([-1, 1]),
                float(rng.choice([1e-5, 1e-3])))


def _back_diagnose(c, got, expected):
    if not isinstance(got, tuple) or len(got) != 3:
        return None
    x = c.args[1]
    for name, g, e in zip(("dgamma", "dbeta"), got[1:], expected[1:]):
        shape = _shape_of(g)
        if shape is not None and shape != e.shape and np.size(g) == np.prod(x.shape[1:]):
            return (f"{name} has one entry per pixel of a channel's map. gamma and beta have "
                    "one entry per channel: over which axes do their gradients sum?")
    return None


BN_BACKWARD = Exercise(
    name="ch07.bn_backward",
    title="The backward pass of batch normalization",
    reference=bn_backward,
    cases=[
        _back_case((4, 3), note="a batch of 4 vectors with 3 features"),
        _back_case((3, 2, 3, 3), note="3 images, 2 channels of 3x3"),
        _back_case((2, 1, 2, 2), note="one channel, 8 values"),
        _back_case((1, 2, 3, 4), note="a batch of one image"),
        case(np.ones((4, 2)), np.arange(8.0).reshape(4, 2), np.ones(2),
             note="dout all ones: a shift of every output cannot change the loss through x"),
        _back_case((5, 3, 2, 2), offset=50.0, note="channels far from zero"),
        _back_case((4, 3, 3, 3), dtype=np.float32, note="float32"),
    ],
    random_case=_back_random,
    rtol=1e-5,
    atol=1e-7,
    outputs=("dx", "dgamma", "dbeta"),
    mistakes=[
        Mistake(_backward_wrong(lambda d, xh, g, v, e, axes: g * d / np.sqrt(v + e)),
                "dx treats the mean and the variance as constants: only the direct path "
                "through (x - mean) / sigma is there. Each x also moves the batch's mean and "
                "variance: which terms do those two paths add (section 7.5)?"),
        Mistake(_backward_wrong(lambda d, xh, g, v, e, axes:
                                g / np.sqrt(v + e) * (d - _mean(d, axes))),
                "dx has the path through the mean but not the one through the variance. How "
                "does each x change the variance, and what does that add?"),
        Mistake(_backward_wrong(lambda d, xh, g, v, e, axes:
                                g / np.sqrt(v + e) * (d - xh * _mean(d * xh, axes))),
                "dx has the path through the variance but not the one through the mean. What "
                "does adding a constant to every dout do to dx (it must do nothing)?"),
        Mistake(_backward_wrong(lambda d, xh, g, v, e, axes:
                                g / np.sqrt(v + e) * (d - _mean(d, axes) - xh * _mean(d * xh, axes)),
                                dgamma_of=lambda d, xh, axes: d.sum(axis=axes)),
                "dgamma is the sum of dout, without xhat. gamma multiplies xhat: what is "
                "d(gamma xhat) / d gamma?"),
        Mistake(_backward_wrong(lambda d, xh, g, v, e, axes:
                                (d - _mean(d, axes) - xh * _mean(d * xh, axes)) / np.sqrt(v + e)),
                "dx is right only when gamma is 1: the factor gamma is missing. The output is "
                "gamma xhat + beta: what does gamma do to every path back to x?"),
        Mistake(_backward_wrong(lambda d, xh, g, v, e, axes:
                                g / np.sqrt(v + e) * (d - d.mean(axis=0, keepdims=True)
                                                      - xh * (d * xh).mean(axis=0, keepdims=True))),
                "The means in dx run over the batch only, pixel by pixel. Over which values "
                "were the mean and the variance of a channel taken in the forward pass?"),
    ],
    diagnose=_back_diagnose,
    hints={
        "values": "Try the case with dout all ones: a constant added to every output of a "
                  "channel cannot change the loss through x, so dx must be 0 there. Then: is "
                  "each of dx, dgamma and dbeta right on a small (N, C) case?",
        "shape": "dx has the shape of x; dgamma and dbeta one entry per channel, (C,).",
        "type": "Return a tuple of three arrays: (dx, dgamma, dbeta).",
        "exception": "Some cases are (N, C) vectors, others (N, C, H, W) images: are your "
                     "axes and the shape of gamma right for both?",
        "mutated": "Your function changed dout or x: compute into new arrays.",
    },
    hint_steps=(
        "Start with dbeta and dgamma: y = gamma xhat + beta, so each output passes dout to "
        "beta and dout times xhat to gamma; sum over the values of the channel.",
        "For dx, x reaches xhat three ways: directly, through the mean and through the "
        "variance. Call dxhat the product gamma dout and add the three contributions, or use the "
        "formula derived in section 7.5.",
        "The three terms share the factor 1 / sqrt(var + eps): M dxhat, minus the sum of "
        "dxhat, minus xhat times the sum of dxhat xhat, all over M. The sums run over the "
        "batch and the positions, keeping the channel axis.",
    ),
)


# -- ch07.running_update: the running averages after one training batch -----------------
def running_update(running_mean, running_var, x, momentum=0.1):
    """PyTorch's update after one training batch x (N, C, ...): running = (1 - momentum)
    running + momentum batch statistic, per channel, with the unbiased variance (M - 1)
    for running_var. Returns (new_mean, new_var), new arrays; the inputs are unchanged."""
    mean, var = np.array(running_mean, dtype=np.float64), np.array(running_var, dtype=np.float64)
    _batch_norm_forward(np.asarray(x, dtype=np.float64), mean, var, training=True,
                        momentum=momentum)
    return mean, var


def _running_wrong(mix=lambda old, new, m: (1 - m) * old + m * new, ddof=1, axes_of=_axes,
                   std=False):
    def wrong(running_mean, running_var, x, momentum=0.1):
        axes = axes_of(x)
        mean = x.mean(axis=axes)
        var = x.var(axis=axes, ddof=ddof)
        if std:
            var = np.sqrt(var)
        return mix(running_mean, mean, momentum), mix(running_var, var, momentum)
    return wrong


def _run_case(shape, momentum=None, dtype=np.float64, note="", **kw):
    c = shape[1]
    args = (_rng.standard_normal(c).astype(dtype), _rng.uniform(0.5, 2.0, c).astype(dtype),
            _batch(shape, dtype=dtype, **kw))
    return case(*args, note=note) if momentum is None else case(*args, momentum, note=note)


def _run_random(rng):
    shape = _random_shape(rng)
    c = shape[1]
    return case(rng.standard_normal(c), rng.uniform(0.5, 2, c),
                rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2),
                float(rng.choice([0.1, 0.01, 0.5, 1.0])))


RUNNING_UPDATE = Exercise(
    name="ch07.running_update",
    title="The running averages after a training batch",
    reference=running_update,
    cases=[
        _run_case((8, 3), note="a batch of 8 vectors, the default momentum 0.1"),
        _run_case((4, 2, 3, 3), note="4 images, 2 channels of 3x3"),
        _run_case((2, 1, 2, 2), note="8 values in the channel: M / (M - 1) = 8/7"),
        _run_case((2, 3), note="a batch of two vectors: M - 1 = 1"),
        _run_case((5, 2, 2, 2), momentum=1.0, note="momentum 1: the batch statistics alone"),
        _run_case((5, 2, 2, 2), momentum=0.0, note="momentum 0: nothing changes"),
        _run_case((3, 4), momentum=0.3, note="momentum 0.3"),
        _run_case((4, 3, 2, 2), dtype=np.float32, note="float32"),
    ],
    random_case=_run_random,
    rtol=1e-6,
    atol=1e-7,
    outputs=("running_mean", "running_var"),
    mistakes=[
        Mistake(_running_wrong(mix=lambda old, new, m: m * old + (1 - m) * new),
                "The momentum weighs the old average, as in an optimizer's momentum. In "
                "PyTorch's convention, which of the two does a momentum of 0.1 weigh: the old "
                "running value or the new batch statistic?"),
        Mistake(_running_wrong(ddof=0),
                "running_var gets the biased variance (divided by M), the one the batch is "
                "normalized with. Which variance does PyTorch put into the running average "
                "(section 7.6)?"),
        Mistake(_running_wrong(axes_of=lambda x: (0,)),
                "The statistics are taken over the batch only, one per pixel. How many "
                "running means does a BatchNorm2d layer keep?"),
        Mistake(_running_wrong(std=True),
                "It averages the standard deviation. Which statistic does running_var hold?"),
        Mistake(_running_wrong(mix=lambda old, new, m: new),
                "The running values are replaced by the batch's. What does the average keep "
                "of the batches before?"),
        Mistake(_running_wrong(mix=lambda old, new, m: old + m * new),
                "The batch statistic is added on top of the old value. What weights must "
                "the old value and the new one have, so that a constant stays constant?"),
    ],
    hints={
        "values": "With momentum 1 the result is the batch's own statistics; with momentum 0 "
                  "it is the old running values. Which of these cases fails?",
        "shape": "Both results have one entry per channel, (C,).",
        "type": "Return a tuple of two arrays: (new running_mean, new running_var).",
        "exception": "Some cases are (N, C) vectors, others (N, C, H, W) images, and some "
                     "leave out the momentum (0.1 by default).",
        "mutated": "Your function changed running_mean, running_var or x. (PyTorch updates "
                   "its buffers in place, but this exercise asks for new arrays.)",
    },
    hint_steps=(
        "Compute the batch's statistics per channel, over the batch and every position. "
        "Which variance goes into running_var: divided by M or by M - 1?",
        "Then blend: which share does the new statistic get, momentum or 1 - momentum? "
        "Check with momentum 1, which must give the batch's statistics.",
        "The unbiased variance is the biased one times M / (M - 1), M the number of values "
        "per channel, N H W for images.",
    ),
)


# -- ch07.fold_into_conv: batch norm folded into the convolution before it ---------------
def fold_into_conv(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    """The convolution equal, at inference, to conv(weight, bias) followed by batch norm
    with these running statistics: s = gamma / sqrt(running_var + eps) per output channel,
    weight' = s weight (filter o times s_o), bias' = s (b - running_mean) + beta, b = 0
    when bias is None. weight (O, C, kh, kw) -> float64 (weight', bias')."""
    weight, gamma, beta, mean, var = (np.asarray(a, dtype=np.float64)
                                      for a in (weight, gamma, beta, running_mean, running_var))
    b = 0.0 if bias is None else np.asarray(bias, dtype=np.float64)
    s = gamma / np.sqrt(var + eps)  # (O,)
    return s[:, None, None, None] * weight, s * (b - mean) + beta


def _fold_wrong(scale_of=lambda g, v, e: g / np.sqrt(v + e), axis=0, bias_of=None):
    def wrong(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
        s = scale_of(gamma, running_var, eps)
        b = 0.0 if bias is None else bias
        shape = [1, 1, 1, 1]
        shape[axis] = -1
        new_bias = (bias_of(s, b, beta, running_mean) if bias_of
                    else s * (b - running_mean) + beta)
        return weight * s.reshape(shape), new_bias
    return wrong


def _fold_case(o, c, k, with_bias=True, eps=None, small_var=False, dtype=np.float64, note=""):
    var = _rng.uniform(1e-6, 4e-5, o) if small_var else _rng.uniform(0.2, 3.0, o)
    args = [_rng.standard_normal((o, c, k, k)).astype(dtype),
            _rng.standard_normal(o).astype(dtype) if with_bias else None,
            _rng.uniform(0.5, 2.0, o).astype(dtype), _rng.standard_normal(o).astype(dtype),
            _rng.standard_normal(o).astype(dtype), var.astype(dtype)]
    return case(*args, note=note) if eps is None else case(*args, eps, note=note)


def _fold_random(rng):
    o, c, k = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
    bias = rng.standard_normal(o) if rng.random() < 0.6 else None
    return case(rng.standard_normal((o, c, k, k)), bias, rng.uniform(0.5, 2, o),
                rng.standard_normal(o), rng.standard_normal(o), rng.uniform(0.1, 3, o),
                float(rng.choice([1e-5, 1e-3, 0.1])))


FOLD_INTO_CONV = Exercise(
    name="ch07.fold_into_conv",
    title="Fold batch norm into the convolution before it",
    reference=fold_into_conv,
    cases=[
        _fold_case(3, 2, 3, note="3 filters of 2 x 3 x 3"),
        _fold_case(4, 3, 3, with_bias=False,
                   note="a convolution built with bias=False, as before batch norm"),
        _fold_case(2, 4, 1, note="1x1 filters, more input channels than filters"),
        _fold_case(3, 3, 3, small_var=True, note="variances as small as eps: eps matters"),
        _fold_case(2, 2, 3, eps=0.1, note="eps = 0.1"),
        _fold_case(1, 1, 1, note="one filter of one weight"),
        _fold_case(3, 2, 3, dtype=np.float32, note="float32"),
    ],
    random_case=_fold_random,
    rtol=1e-6,
    atol=1e-7,
    outputs=("weight", "bias"),
    mistakes=[
        Mistake(_fold_wrong(axis=1),
                "Each factor scales an input channel of every filter. Batch norm scales "
                "output channel o: which axis of an (O, C, kh, kw) weight holds the filters?"),
        Mistake(_fold_wrong(scale_of=lambda g, v, e: g / (np.sqrt(v) + e)),
                "It divides by sqrt(var) + eps (Chen's eq. 15). Where does eps go in the "
                "batch norm of this chapter and of PyTorch?"),
        Mistake(_fold_wrong(scale_of=lambda g, v, e: g / (v + e)),
                "It divides by the variance. Batch norm divides by what?"),
        Mistake(_fold_wrong(bias_of=lambda s, b, beta, m: s * b - m + beta),
                "The mean is subtracted without the factor. It is subtracted before the "
                "scaling: what does it become after it?"),
        Mistake(_fold_wrong(bias_of=lambda s, b, beta, m: s * (b - m)),
                "The shift beta is missing. What does batch norm add after scaling?"),
        Mistake(_fold_wrong(bias_of=lambda s, b, beta, m: b + beta - s * m),
                "The convolution's own bias is not scaled. It is part of the output that batch "
                "norm scales: what happens to it?"),
        Mistake(_fold_wrong(bias_of=lambda s, b, beta, m: beta - s * m),
                "The convolution's own bias is dropped. Does it reach batch norm?"),
    ],
    hints={
        "values": "Write output channel o of the two layers at one position: gamma_o "
                  "(conv_o + b_o - mean_o) / sqrt(var_o + eps) + beta_o, and read off the "
                  "filter and the bias. Which of your two results differs?",
        "shape": "The folded weight has the shape of the weight, (O, C, kh, kw); the folded "
                 "bias one entry per filter, (O,).",
        "exception": "Does your function handle a convolution without a bias (bias is "
                     "None)? And does each filter's factor meet the right axis of the weight?",
        "type": "Return a pair of arrays: the folded weight, then the folded bias.",
        "mutated": "Your function changed an argument: the folded weight and bias are new "
                   "arrays.",
    },
    hint_steps=(
        "At inference batch norm is an affine map of each output channel: multiply channel "
        "o by one number, then add another. Which numbers?",
        "Channel o is multiplied by s_o, gamma_o over sqrt(var_o + eps). A convolution is "
        "linear in its filter, so multiplying filter o (all of its C kh kw weights) and its "
        "bias by s_o multiplies output channel o by s_o.",
        "What is added after the scaling: minus s_o times the running mean, and beta_o. A "
        "convolution without a bias starts from b = 0 and ends up with one (chapter 2's "
        "fold into a dense layer is the same with 2-D weights).",
    ),
)

EXERCISES = [CHANNEL_NORMALIZE, BN_BACKWARD, RUNNING_UPDATE, FOLD_INTO_CONV]
