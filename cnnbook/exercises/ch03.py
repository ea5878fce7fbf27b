"""Chapter 3 exercises: leaky ReLU, the sigmoid's backward pass, a stable softmax, PReLU's
backward pass with its learnable slope."""
from __future__ import annotations

import numpy as np

from ..activations import leaky_relu_forward as _leaky_relu_forward
from ..activations import prelu_backward as _prelu_backward
from ..activations import prelu_forward as _prelu_forward
from ..activations import sigmoid as _sigmoid
from ..activations import softmax_forward as _softmax_forward
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(303)  # draws the fixed cases once, the same on every run


def _quiet(fn):
    """A wrong answer computed without NumPy's overflow warnings (the checker runs it too)."""
    def wrapped(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return wrapped


# -- ch03.leaky_relu: leaky_relu(x, negative_slope) -> like x ----------------
def leaky_relu(x, negative_slope=0.01):
    """max(0, x) + negative_slope * min(0, x), elementwise; same shape and dtype as x."""
    return _leaky_relu_forward(x, negative_slope=negative_slope)[0]


def _leaky_random(rng):
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4)))
    return case(rng.standard_normal(shape), float(rng.choice([0.01, 0.1, 0.3, 2.0])))


LEAKY_RELU = Exercise(
    name="ch03.leaky_relu",
    exact_dtype=True,  # about dtype: the reference's dtype exactly (float32 in, float32 out)
    title="Leaky ReLU",
    reference=leaky_relu,
    cases=[
        case(np.array([-2.0, -0.5, 0.0, 0.5, 2.0]), 0.1, note="a few points around 0"),
        case(_rng.standard_normal((4, 3)), note="the default slope, 0.01"),
        case(_rng.standard_normal((2, 3, 4, 4)), 0.2, note="a batch of feature maps (N, C, H, W)"),
        case(_rng.standard_normal((5, 6)).astype(np.float32), 0.05, note="float32 in, float32 out"),
        case(_rng.standard_normal(8), 0.0, note="slope 0: plain ReLU"),
        case(_rng.standard_normal((3, 4)), 1.5, note="a slope above 1"),
    ],
    random_case=_leaky_random,
    mistakes=[
        # First: for a slope above 1 it coincides with scaling the positive side.
        Mistake(lambda x, negative_slope=0.01: np.maximum(x, negative_slope * x),
                "`max(x, a * x)` equals leaky ReLU only when the slope a is at most 1; "
                "for a > 1 it picks a * x on the positive side. Use the notes' form "
                "`max(0, x) + a * min(0, x)`, or `np.where(x > 0, x, a * x)`."),
        Mistake(lambda x, negative_slope=0.01: np.maximum(x, 0.0 * x),
                "It ignores `negative_slope`: that is ReLU, which sets negative inputs to 0; "
                "leaky ReLU multiplies them by the slope instead."),
        Mistake(lambda x, negative_slope=0.01: np.where(x > 0, negative_slope * x, x),
                "It scales the positive side; the slope applies to negative inputs, "
                "the positive side is x itself."),
        Mistake(lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope),
                "It returns the constant `negative_slope` for negative inputs; "
                "they should be multiplied by it: `negative_slope * x`."),
    ],
    hints={
        "values": "Positive inputs pass unchanged; negative ones are multiplied by "
                  "`negative_slope`: `np.maximum(x, 0) + negative_slope * np.minimum(x, 0)`.",
        "dtype": "Keep x's dtype: operations with a Python float do; `np.float64(...)` "
                 "constants and `astype(float)` do not.",
        "shape": "Leaky ReLU acts elementwise: the result has x's shape.",
    },
)


# -- ch03.sigmoid_backward: sigmoid_backward(dout, x) -> dx ---------------------------
def sigmoid_backward(dout, x):
    """dx = dout * sigma(x) * (1 - sigma(x)), elementwise; dout and x have the same shape."""
    s = _sigmoid(x)
    return dout * s * (1 - s)


def _sigmoid_case(shape, scale=3.0, dtype=np.float64, note=""):
    return case(_rng.standard_normal(shape).astype(dtype),
                (scale * _rng.standard_normal(shape)).astype(dtype), note=note)


def _sigmoid_random(rng):
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4)))
    return case(rng.standard_normal(shape), 4 * rng.standard_normal(shape))


def _sigmoid_naive(x):
    return 1 / (1 + np.exp(-x))


SIGMOID_BACKWARD = Exercise(
    name="ch03.sigmoid_backward",
    title="Backward pass of the sigmoid",
    reference=sigmoid_backward,
    cases=[
        case(np.ones(5), np.array([-4.0, -1.0, 0.0, 1.0, 4.0]), note="dout = 1: the derivative itself"),
        _sigmoid_case((4, 3)),
        _sigmoid_case((2, 3, 4)),
        _sigmoid_case((6,), dtype=np.float32, note="float32 in, float32 out"),
        case(np.full(4, 2.0), np.array([-30.0, -12.0, 12.0, 30.0]), note="saturated inputs"),
    ],
    random_case=_sigmoid_random,
    rtol=1e-5,  # float32 answers computed another way (e.g. via tanh) differ by a few ulp
    atol=1e-7,
    mistakes=[
        Mistake(_quiet(lambda dout, x: dout * _sigmoid_naive(x)),
                "It multiplies dout by sigma(x), the forward output; the derivative is "
                "sigma(x) * (1 - sigma(x))."),
        Mistake(_quiet(lambda dout, x: _sigmoid_naive(x) * (1 - _sigmoid_naive(x))),
                "It returns the local derivative sigma'(x) but leaves out the upstream "
                "gradient: multiply by `dout` (the chain rule)."),
        Mistake(lambda dout, x: dout * x * (1 - x),
                "It applies f(1 - f) to x itself; in sigma' = sigma(x) (1 - sigma(x)) the f "
                "is the sigmoid's output, so compute s = sigma(x) first."),
        Mistake(_quiet(lambda dout, x: dout * (1 - _sigmoid_naive(x) ** 2)),
                "That is tanh's derivative, 1 - f^2; the sigmoid's is f (1 - f)."),
        Mistake(_quiet(lambda dout, x: dout * _sigmoid_naive(x) * (1 + _sigmoid_naive(x))),
                "Check the sign: sigma' = sigma(x) * (1 - sigma(x)), not (1 + sigma(x))."),
    ],
    hints={
        "values": "Compute s = 1 / (1 + np.exp(-x)), then dx = dout * s * (1 - s).",
        "dtype": "Keep the inputs' dtype: NumPy's exp and arithmetic on float32 arrays "
                 "stay float32.",
        "shape": "The backward pass of an elementwise function has the shape of its input.",
    },
)


# -- ch03.softmax: softmax(x) -> like x, along the last axis --------------------------
def softmax(x):
    """e^(x_i - m) / sum_j e^(x_j - m) along the last axis, m the row's maximum."""
    return _softmax_forward(x, dim=-1)[0]


def _softmax_random(rng):
    shape = tuple(int(n) for n in rng.integers(2, 6, size=rng.integers(1, 4)))
    return case(rng.choice([1.0, 5.0, 50.0]) * rng.standard_normal(shape))


def _softmax_axis0(x):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _softmax_all(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def _softmax_global_shift(x):
    e = np.exp(x - x.max())
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_diagnose(c, got, expected):
    """Name the overflow of an unshifted softmax, whatever axis it sums over."""
    x = c.args[0]
    if (isinstance(got, np.ndarray) and got.shape == expected.shape
            and not np.isfinite(got).all() and np.abs(x).max() > 80):
        return ("NaN or inf for large inputs: `np.exp` overflows above about 709 in float64 "
                "(88 in float32), and inf / inf is NaN. Subtract each row's maximum first "
                "(`x - x.max(axis=-1, keepdims=True)`): the softmax does not change, and the "
                "largest exponential becomes e^0 = 1.")
    return None


SOFTMAX = Exercise(
    name="ch03.softmax",
    title="A numerically stable softmax",
    reference=softmax,
    cases=[
        case(np.array([2.0, 1.0, 0.1]), note="001's example, one vector"),
        case(_rng.standard_normal((4, 3)), note="a batch of 4 rows of 3 logits"),
        case(_rng.standard_normal((3, 5)), note="3 rows of 5 logits"),
        case(np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]]),
             note="large logits"),
        case(np.array([[0.0, 1.0, 2.0], [1000.0, 1001.0, 1002.0]]),
             note="rows on very different scales"),
        case(_rng.standard_normal((2, 3, 4)), note="(N, T, C): along the last axis"),
        case(_rng.standard_normal((3, 4)).astype(np.float32), note="float32 in, float32 out"),
    ],
    random_case=_softmax_random,
    rtol=1e-5,
    atol=1e-12,  # tiny probabilities must still be right, not rounded to 0
    mistakes=[
        Mistake(_softmax_axis0,
                "It normalizes along the first axis (the columns); each *row* of logits "
                "(the last axis) must sum to 1: use `axis=-1`."),
        Mistake(_softmax_all,
                "It normalizes over the whole array; each row (the last axis) must sum "
                "to 1 on its own: `sum(axis=-1, keepdims=True)`."),
        Mistake(_quiet(_softmax_global_shift),
                "It subtracts the maximum of the whole array; a row whose values are far "
                "below it underflows to 0 / 0. Subtract each row's own maximum: "
                "`x.max(axis=-1, keepdims=True)`."),
    ],
    diagnose=_softmax_diagnose,
    hints={
        "values": "Each row (last axis) must give positive numbers that sum to 1: "
                  "exponentiate, then divide by the row's sum.",
        "exception": "Reduce with `keepdims=True`, so that a (N, 1) maximum or sum "
                     "broadcasts against (N, C).",
        "nonfinite": "Subtract each row's maximum before `np.exp` so that it cannot overflow.",
        "dtype": "Keep x's dtype: NumPy's exp and sums on float32 arrays stay float32.",
    },
)


# -- ch03.prelu_backward: prelu_backward(dout, x, weight) -> (dx, dweight) ------------
def prelu_backward(dout, x, weight):
    """PReLU's gradients, one slope per channel (dim 1 of x), x: (N, C) or (N, C, H, W),
    weight: (C,). dx = dout where x > 0, else weight * dout; dweight[c] = sum of
    dout * x over the entries of channel c where x <= 0."""
    return _prelu_backward(dout, _prelu_forward(x, weight)[1])


def _prelu_case(shape, dtype=np.float64, zeros=False, note=""):
    x = _rng.standard_normal(shape)
    if zeros:
        x[_rng.random(shape) < 0.3] = 0.0
    return case(_rng.standard_normal(shape).astype(dtype), x.astype(dtype),
                _rng.uniform(0.05, 0.4, size=shape[1]).astype(dtype), note=note)


def _prelu_random(rng):
    n, c = (int(v) for v in rng.integers(1, 5, size=2))
    shape = (n, c) if rng.random() < 0.4 else (n, c, *(int(v) for v in rng.integers(1, 5, size=2)))
    return case(rng.standard_normal(shape), rng.standard_normal(shape), rng.uniform(0, 0.5, size=c))


def _channel_axes(x):
    return tuple(i for i in range(x.ndim) if i != 1)


def _bshape(x, weight):
    return (1, weight.size) + (1,) * (x.ndim - 2)  # (1, C, 1, 1)


def _prelu_dx(dout, x, weight):
    return np.where(x > 0, dout, weight.reshape(_bshape(x, weight)) * dout)


def _prelu_diagnose(c, got, expected):
    """Name the convention at the kink, x == 0 exactly."""
    dout, x, weight = c.args
    if not (isinstance(got, (tuple, list)) and len(got) == 2 and (x == 0).any()):
        return None
    dx = np.asarray(got[0])
    if dx.shape != x.shape:
        return None
    off = ~np.isclose(dx, expected[0], rtol=1e-6, atol=1e-8)
    if off.any() and (x[off] == 0).all():
        return ("dx is wrong only where x == 0 exactly, at PReLU's kink. The book (like "
                "PyTorch) uses the negative side's slope there: pass `dout` where `x > 0` "
                "and `weight * dout` elsewhere.")
    return None


PRELU_BACKWARD = Exercise(
    name="ch03.prelu_backward",
    title="Backward pass of PReLU",
    reference=prelu_backward,
    cases=[
        _prelu_case((4, 3), note="x (N, C): one slope per feature"),
        _prelu_case((2, 3, 4, 4), note="feature maps (N, C, H, W): one slope per channel"),
        _prelu_case((3, 2, 3, 3), zeros=True, note="some x exactly 0"),
        _prelu_case((2, 4, 2, 3), dtype=np.float32, note="float32 in, float32 out"),
        _prelu_case((5, 1), note="a single shared slope"),
    ],
    random_case=_prelu_random,
    rtol=1e-5,
    atol=1e-6,
    outputs=("dx", "dweight"),
    mistakes=[
        Mistake(lambda dout, x, weight: (np.where(x > 0, dout, 0.0 * dout),
                                         np.where(x > 0, 0.0, dout * x).sum(axis=_channel_axes(x))),
                "dx is ReLU's: it blocks the gradient on the negative side; PReLU passes "
                "`weight * dout` there (its slope is a, not 0)."),
        Mistake(lambda dout, x, weight: (_prelu_dx(dout, x, weight),
                                         (dout * x).sum(axis=_channel_axes(x))),
                "dweight sums dout * x over every entry; the slope only acts where x <= 0, "
                "so only those entries contribute."),
        Mistake(lambda dout, x, weight: (_prelu_dx(dout, x, weight),
                                         np.where(x > 0, 0.0, dout).sum(axis=_channel_axes(x))),
                "dweight sums dout alone; d(a x)/da = x, so sum `dout * x` (where x <= 0)."),
        Mistake(lambda dout, x, weight: (_prelu_dx(dout, x, weight),
                                         np.where(x > 0, 0.0, dout * x).sum(axis=0)),
                "dweight must have one entry per channel, shape (C,): a slope is shared by "
                "every example *and* every position of its channel, so sum over all axes "
                "but axis 1."),
        Mistake(lambda dout, x, weight: (_prelu_dx(dout, x, weight),
                                         np.where(x > 0, 0.0, dout * x).sum()),
                "dweight must have one entry per channel, shape (C,): sum over every axis "
                "but axis 1 (`axis=(0, 2, 3)` for (N, C, H, W)), not over everything."),
    ],
    diagnose=_prelu_diagnose,
    hints={
        "values": "dx = dout where x > 0, else weight * dout (weight reshaped to "
                  "(1, C, 1, 1) to broadcast); dweight[c] = sum of dout * x over the "
                  "entries of channel c with x <= 0.",
        "exception": "Reshape weight so it broadcasts along axis 1: "
                     "`weight.reshape((1, -1) + (1,) * (x.ndim - 2))`.",
        "shape": "dx has x's shape; dweight has weight's shape (C,).",
        "dtype": "Keep the inputs' dtype: sums of float32 arrays stay float32.",
    },
)

EXERCISES = [LEAKY_RELU, SIGMOID_BACKWARD, SOFTMAX, PRELU_BACKWARD]
