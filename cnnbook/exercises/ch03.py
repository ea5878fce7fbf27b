"""Chapter 3 exercises: the derivative of SiLU (an activation the table leaves out), the dead
units of a ReLU network, PReLU's backward pass with its learnable slope, and softmax's
backward pass, computed stably.

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch03.py checks this).
"""
from __future__ import annotations

import numpy as np

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


def _naive_sigmoid(x):
    return 1 / (1 + np.exp(-x))


_OVERFLOW = ("The exponential overflows above about 709 in float64 (88 in float32), and then "
             "inf / inf or 0 times inf is NaN.")


# -- ch03.silu_backward: silu_backward(dout, x) -> dx ---------------------------------
def silu_backward(dout, x):
    """SiLU (swish), f(x) = x sigma(x): dx = dout (sigma(x) + x sigma(x) (1 - sigma(x))),
    elementwise, with the stable sigmoid. dout and x of one shape."""
    s = _sigmoid(x)
    return dout * (s + x * s * (1 - s))


def _silu_case(shape, scale=3.0, dtype=np.float64, note=""):
    return case(_rng.standard_normal(shape).astype(dtype),
                (scale * _rng.standard_normal(shape)).astype(dtype), note=note)


def _silu_random(rng):
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4)))
    return case(rng.standard_normal(shape), 4 * rng.standard_normal(shape))


def _silu_diagnose(c, got, expected):
    x = c.args[1]
    if (isinstance(got, np.ndarray) and got.shape == expected.shape
            and not np.isfinite(got).all() and np.abs(x).max() > 80):
        return (f"NaN or inf for large inputs. {_OVERFLOW} Which way of writing sigma(x) "
                f"only ever takes the exponential of a number that is not positive?")
    return None


SILU_BACKWARD = Exercise(
    name="ch03.silu_backward",
    title="The derivative of SiLU",
    reference=silu_backward,
    cases=[
        case(np.ones(7), np.array([-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0]),
             note="dout = 1: the derivative itself"),
        _silu_case((4, 3)),
        _silu_case((2, 3, 4), note="a batch of feature maps"),
        case(np.full(6, 2.0), np.array([-1000.0, -40.0, -1.5, 1.5, 40.0, 1000.0]),
             note="far out on both sides"),
        _silu_case((6,), dtype=np.float32, note="float32"),
    ],
    random_case=_silu_random,
    rtol=1e-5,
    atol=1e-7,
    mistakes=[
        Mistake(_quiet(lambda dout, x: dout * _naive_sigmoid(x)),
                "It is the derivative of x times a constant sigma: f is a product of two "
                "functions of x. Which rule differentiates a product?"),
        Mistake(_quiet(lambda dout, x: dout * x * _naive_sigmoid(x) * (1 - _naive_sigmoid(x))),
                "Only the term from differentiating sigma is there. By the product rule, what "
                "does differentiating the factor x contribute?"),
        Mistake(_quiet(lambda dout, x: _naive_sigmoid(x) * (1 + x * (1 - _naive_sigmoid(x)))),
                "It is the local derivative f'(x), without the upstream gradient. What does the "
                "chain rule multiply f'(x) by?"),
        Mistake(_quiet(lambda dout, x: dout * x * _naive_sigmoid(x) * (1 - x * _naive_sigmoid(x))),
                "It uses f (1 - f) with f the SiLU's output: that is the sigmoid's derivative "
                "rule, which holds for sigma alone. What is the derivative of x sigma(x)?"),
        Mistake(_quiet(lambda dout, x: dout * _naive_sigmoid(x) * (1 - x * (1 - _naive_sigmoid(x)))),
                "The second term has the wrong sign. What is the sign of sigma'(x)?"),
        Mistake(_quiet(lambda dout, x: dout * _naive_sigmoid(x) * (1 - _naive_sigmoid(x))),
                "It is the sigmoid's derivative; SiLU is x times the sigmoid. What does the "
                "extra factor x change?"),
    ],
    diagnose=_silu_diagnose,
    hints={
        "mutated": "Your function changed dout or x. Which line writes into an argument "
                   "instead of a new array?",
        "values": "Check your derivative at x = 0 and far out: SiLU is 0 at 0 with slope 1/2, "
                  "and for large x it is x itself. Does your formula agree?",
        "nonfinite": "Where do you take an exponential of a large positive number? Which form of "
                     "the sigmoid in eq. (ch03-stable) avoids it?",
        "shape": "The backward pass of an elementwise function has the shape of its input.",
        "dtype": "Keep a float dtype; float32 inputs may give float32 or float64.",
    },
    hint_steps=(
        "f(x) = x sigma(x) is a product. Differentiate it with the product rule, using the "
        "table's derivative of sigma.",
        "f'(x) = sigma(x) + x sigma'(x), and sigma'(x) = sigma(x) (1 - sigma(x)). The backward "
        "pass multiplies f'(x) by dout, entry by entry.",
        "For inputs like 1000 compute sigma(x) in the stable form of eq. (ch03-stable), or "
        "with the package's sigmoid: then 1 - sigma(x) is 0, not NaN.",
    ),
)


# -- ch03.dead_units: dead_units(x, weights, biases) -> (L,) ---------------------------
def dead_units(x, weights, biases):
    """The fraction of the units of each layer of a ReLU network that are dead on the batch
    x: a <- ReLU(a W^T + b) layer by layer from a = x; a unit is dead when its
    pre-activation is <= 0 for every example (ReLU's gradient there is 0). -> (L,) float64."""
    a = np.asarray(x, dtype=np.float64)
    fractions = []
    for weight, bias in zip(weights, biases):
        z = a @ np.asarray(weight, np.float64).T + np.asarray(bias, np.float64)   # (N, n_l)
        fractions.append(np.mean(np.all(z <= 0, axis=0)))
        a = np.maximum(z, 0.0)
    return np.array(fractions)


def _dead(is_off=lambda z: z <= 0, reduce=lambda off: np.mean(np.all(off, axis=0)),
          relu=True):
    def wrong(x, weights, biases):
        a = np.asarray(x, dtype=np.float64)
        out = []
        for weight, bias in zip(weights, biases):
            z = a @ weight.T + bias
            out.append(reduce(is_off(z)))
            a = np.maximum(z, 0.0) if relu else z
        return np.array(out, dtype=np.float64)
    return wrong


def _dead_case(sizes, n, scale=1.0, shift=0.0, integers=False, dtype=np.float64, note=""):
    if integers:
        draw = lambda *shape: _rng.integers(-2, 3, size=shape).astype(dtype)
    else:
        draw = lambda *shape: (scale * _rng.standard_normal(shape)).astype(dtype)
    weights = [draw(o, i) for i, o in zip(sizes, sizes[1:])]
    biases = [(draw(o) + shift).astype(dtype) for o in sizes[1:]]
    return case(draw(n, sizes[0]), weights, biases, note=note)


def _dead_random(rng):
    sizes = [int(s) for s in rng.integers(1, 8, size=rng.integers(2, 5))]
    weights = [rng.standard_normal((o, i)) for i, o in zip(sizes, sizes[1:])]
    biases = [rng.standard_normal(o) - rng.uniform(0, 2) for o in sizes[1:]]
    return case(rng.standard_normal((int(rng.integers(1, 12)), sizes[0])), weights, biases)


DEAD_UNITS = Exercise(
    name="ch03.dead_units",
    title="Dead units in a ReLU network",
    reference=dead_units,
    cases=[
        _dead_case([3, 8], 6, shift=-1.0, note="one layer"),
        _dead_case([2, 6, 6], 10, integers=True, note="whole numbers: pre-activations exactly 0"),
        _dead_case([4, 10, 10, 5], 20, shift=-0.8, note="three layers"),
        _dead_case([3, 5, 4], 1, note="a single example"),
        case(np.ones((4, 2)), [-np.ones((3, 2)), np.ones((2, 3))], [np.zeros(3), np.array([0.5, 0.0])],
             note="a first layer that is all dead"),
        _dead_case([5, 7, 3], 8, shift=-0.5, dtype=np.float32, note="float32"),
    ],
    random_case=_dead_random,
    mistakes=[
        Mistake(_dead(is_off=lambda z: z < 0),
                "A unit whose pre-activation is exactly 0 counts as alive in your answer. What "
                "gradient does ReLU pass back at 0 (section 3.3)?"),
        Mistake(_dead(reduce=lambda off: np.mean(np.all(off, axis=1))),
                "It measures, per example, whether all units are off: the wrong axis. Which axis "
                "of the pre-activations holds the units, and over which must a unit be off?"),
        Mistake(_dead(reduce=lambda off: np.mean(off)),
                "It is the fraction of (example, unit) pairs that are off. A dead unit is off "
                "for every example: what does that ask of a whole column?"),
        Mistake(_dead(reduce=lambda off: np.mean(np.any(off, axis=0))),
                "It counts units that are off for at least one example; a dead unit is off for "
                "all of them. Which of the two ends learning for the unit?"),
        Mistake(_dead(relu=False),
                "The next layer receives the pre-activations: the ReLU between the layers is "
                "missing. What does the next layer see from a unit with a negative "
                "pre-activation?"),
        Mistake(_dead(reduce=lambda off: float(np.sum(np.all(off, axis=0)))),
                "It counts the dead units; the exercise asks for the fraction of each layer's "
                "units. By what do you divide?"),
    ],
    hints={
        "mutated": "Your function changed an argument. Each layer's output is a new array: "
                   "which line writes into x or a weight?",
        "values": "Take the first failing layer: which of its units are off for every example, "
                  "and what does your function say for them?",
        "shape": "One number per layer: the result has as many entries as there are weight "
                 "matrices.",
        "exception": "Each weight matrix is stored (out, in), one row per unit. Which product "
                     "of the batch with it gives one column per unit?",
        "type": "Return an array with one fraction per layer.",
    },
    hint_steps=(
        "Go through the layers in order: each one computes the pre-activations of all its "
        "units for all examples, then passes their ReLU on to the next layer.",
        "The pre-activations of a layer form a matrix with one row per example and one column "
        "per unit. A unit is dead when its whole column is at most 0.",
        "The fraction for a layer is the number of dead columns divided by the number of "
        "columns. Collect one fraction per layer.",
    ),
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


def _prelu_dweight(dout, x):
    return np.where(x > 0, 0.0, dout * x).sum(axis=_channel_axes(x))


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
        return ("dx is wrong only where x is exactly 0, at PReLU's kink, where the derivative "
                "does not exist. Which one-sided slope does the book (like PyTorch) use "
                "there, section 3.3?")
    return None


PRELU_BACKWARD = Exercise(
    name="ch03.prelu_backward",
    title="Backward pass of PReLU",
    reference=prelu_backward,
    cases=[
        _prelu_case((4, 3), note="x (N, C): one slope per feature"),
        _prelu_case((2, 3, 4, 4), note="feature maps (N, C, H, W): one slope per channel"),
        _prelu_case((3, 2, 3, 3), zeros=True, note="some x exactly 0"),
        _prelu_case((2, 4, 2, 3), dtype=np.float32, note="float32"),
        _prelu_case((5, 1), note="a single shared slope"),
    ],
    random_case=_prelu_random,
    rtol=1e-5,
    atol=1e-6,
    outputs=("dx", "dweight"),
    mistakes=[
        Mistake(lambda dout, x, weight: (np.where(x > 0, dout, 0.0 * dout), _prelu_dweight(dout, x)),
                "dx is ReLU's: it blocks the gradient on the negative side. What is PReLU's "
                "slope for a negative input?"),
        Mistake(lambda dout, x, weight: (_prelu_dx(dout, x, weight),
                                         (dout * x).sum(axis=_channel_axes(x))),
                "dweight collects dout times x over every entry, the positive ones too. Does the "
                "slope a change the output where x > 0?"),
        Mistake(lambda dout, x, weight: (_prelu_dx(dout, x, weight),
                                         np.where(x > 0, 0.0, dout).sum(axis=_channel_axes(x))),
                "dweight sums dout alone. By eq. (ch03-prelu-grad), what is the derivative of "
                "a x with respect to a?"),
        Mistake(lambda dout, x, weight: (_prelu_dx(dout, x, weight),
                                         np.where(x > 0, 0.0, dout * x).sum(axis=0)),
                "dweight is summed over the batch only. A slope is shared by every example and "
                "also by every position of its channel: which axes must the sum cover?"),
        Mistake(lambda dout, x, weight: (_prelu_dx(dout, x, weight),
                                         np.where(x > 0, 0.0, dout * x).sum()),
                "dweight is one number for all channels; each channel has its own slope. Which "
                "axis must survive the sum?"),
        Mistake(lambda dout, x, weight: (_prelu_dx(dout, x, weight),
                                         np.where(x > 0, 0.0, dout * x).sum(axis=_channel_axes(x))
                                         / (x.size / x.shape[1])),
                "dweight is averaged over the entries of a channel. Each entry changes the loss "
                "by its own amount: do those amounts add up or average out?"),
    ],
    diagnose=_prelu_diagnose,
    hints={
        "mutated": "Your function changed an argument. dx and dweight are new arrays: which "
                   "line writes into dout or x?",
        "values": "Check dx and dweight separately on the first failing case: which of the two "
                  "is wrong, and on the entries with x > 0 or with x <= 0?",
        "exception": "The slopes have shape (C,) and x has its channels on axis 1: how must the "
                     "slopes be shaped to line up with axis 1 of x?",
        "shape": "dx has the shape of x; dweight has the shape of weight, one entry per channel.",
        "type": "Return a pair: dx, then dweight.",
    },
    hint_steps=(
        "Split the entries by the sign of x. For x > 0 PReLU is the identity; for x <= 0 it "
        "multiplies by the slope of the entry's channel.",
        "dx is dout times the local slope: 1 where x > 0, the channel's slope a_c elsewhere "
        "(also at x = 0). The slopes must be laid out along axis 1 of x to multiply.",
        "By eq. (ch03-prelu-grad), dweight for channel c adds up dout times x over every entry "
        "of channel c with x <= 0: over all examples and all positions, one sum per channel.",
    ),
)


# -- ch03.softmax_backward: softmax_backward(dout, x) -> dx ---------------------------
def softmax_backward(dout, x):
    """The gradient with respect to the logits x of p = softmax(x) along the last axis:
    dx = p (dout - sum_k dout_k p_k), the sum along the last axis; p computed stably."""
    p = _softmax_forward(x, dim=-1)[0]
    return p * (dout - (dout * p).sum(axis=-1, keepdims=True))


def _stable_p(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _smx(dx_of, p_of=_stable_p):
    """A wrong backward pass: ``dx_of(dout, p)`` with ``p = p_of(x)``."""
    return _quiet(lambda dout, x: dx_of(dout, p_of(x)))


def _naive_p(x):
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def _global_shift_p(x):
    e = np.exp(x - x.max())
    return e / e.sum(axis=-1, keepdims=True)


def _columns_p(x):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


_RIGHT_DX = lambda dout, p: p * (dout - (dout * p).sum(axis=-1, keepdims=True))


def _softmax_diagnose(c, got, expected):
    """Name the overflow of a softmax without its shift (or with too small a shift)."""
    x = c.args[1]
    if (isinstance(got, np.ndarray) and got.shape == expected.shape
            and not np.isfinite(got).all() and np.ptp(x, axis=-1).max() > 700):
        return (f"NaN or inf for logits that spread far within a row. {_OVERFLOW} Shifting a "
                f"row by a constant does not change its softmax, eq. (ch03-softmax-shift): "
                f"which constant makes every exponent at most 0?")
    return None


_SPREAD = np.array([[-1000.0, -1000.0, 999.0, 1000.0], [0.0, 1.0, 2.0, 3.0]])

SOFTMAX_BACKWARD = Exercise(
    name="ch03.softmax_backward",
    title="Backward pass of softmax",
    reference=softmax_backward,
    cases=[
        case(np.array([1.0, -2.0, 0.5]), np.array([2.0, 1.0, 0.1]), note="Fu's logits, one vector"),
        case(_rng.standard_normal((4, 5)), _rng.standard_normal((4, 5)), note="4 rows of 5 logits"),
        case(np.ones((2, 3)), _rng.standard_normal((2, 3)),
             note="the same upstream gradient for every class"),
        case(_rng.standard_normal((2, 4)), _SPREAD, note="rows whose logits spread over 2000"),
        case(_rng.standard_normal((3, 3)), 3 * _rng.standard_normal((3, 3)), note="square"),
        case(_rng.standard_normal((2, 3, 4)), _rng.standard_normal((2, 3, 4)),
             note="(N, T, C): along the last axis"),
        case(_rng.standard_normal((6, 2)), _rng.standard_normal((6, 2)), note="two classes"),
        case(_rng.standard_normal((3, 4)).astype(np.float32),
             _rng.standard_normal((3, 4)).astype(np.float32), note="float32"),
    ],
    random_case=lambda rng: case(*(rng.choice([1.0, 5.0]) * rng.standard_normal(
        (2,) + tuple(int(n) for n in rng.integers(2, 6, size=rng.integers(1, 3)))))),
    rtol=1e-5,
    atol=1e-6,  # float32 answers computed another way differ by a few float32 steps
    mistakes=[
        Mistake(_smx(lambda dout, p: dout * p * (1 - p)),
                "Only the diagonal of the Jacobian is used, as if each p_k depended on z_k "
                "alone. Every output of softmax depends on every logit: what is the derivative "
                "of p_k with respect to z_j for k different from j?"),
        Mistake(_smx(lambda dout, p: p * (dout - dout.sum(axis=-1, keepdims=True))),
                "The sum over the classes leaves out the probabilities. The gradient for z_j "
                "is the sum over k of dout_k times the derivative of p_k with respect to z_j: "
                "what weight does each dout_k get in the part common to all j?"),
        Mistake(_smx(lambda dout, p: dout - (dout * p).sum(axis=-1, keepdims=True)),
                "A factor p_j is missing in front. The derivative of p_k with respect to z_j is "
                "p_k ([k = j] - p_j): what do you get when you collect the terms for one j?"),
        Mistake(_smx(lambda dout, p: p * ((dout * p).sum(axis=-1, keepdims=True) - dout)),
                "The gradient has the wrong sign. Raising a logit raises its own probability: "
                "which sign must the gradient for z_j have when dout favours class j?"),
        Mistake(_smx(_RIGHT_DX, p_of=_columns_p),
                "The softmax is taken along the first axis (the columns); each row of logits is "
                "one example, normalised along the last axis. Which axis holds the classes?"),
        Mistake(_smx(lambda dout, p: p * (dout - (dout * p).sum(axis=0, keepdims=True))),
                "The sum runs along the first axis, over the examples. The classes of one "
                "example lie along the last axis: which axis must the sum run along?"),
        Mistake(_smx(_RIGHT_DX, p_of=_global_shift_p),
                "It subtracts the maximum of the whole array, so a row whose logits are all far "
                "below it gives 0 / 0. Whose maximum must each row be shifted by?"),
    ],
    diagnose=_softmax_diagnose,
    hints={
        "mutated": "Your function changed dout or x. Which line shifts or scales an argument "
                   "in place?",
        "values": "Check the case where dout is the same for every class: shifting all logits "
                  "of a row together does not change p, so what must dx be there?",
        "exception": "Does your sum over the classes keep its axis (as an axis of length 1), so "
                     "that it lines up with the rows?",
        "nonfinite": "Which exponential overflows? Shift each row before exponentiating, eq. "
                     "(ch03-softmax-shift).",
        "shape": "dx has the shape of x.",
    },
    hint_steps=(
        "First compute p = softmax(x) along the last axis, shifted so that nothing overflows "
        "(section 3.5).",
        "By the chain rule the gradient for z_j is the sum over k of dout_k times the "
        "derivative of p_k with respect to z_j, which is p_k ([k = j] - p_j). Split the sum "
        "into the term k = j and the rest.",
        "You get p_j times (dout_j minus the p-weighted sum of dout over the classes). The sum is "
        "one number per row: keep it as an axis of length 1 so that it subtracts row by row.",
    ),
)

EXERCISES = [SILU_BACKWARD, DEAD_UNITS, PRELU_BACKWARD, SOFTMAX_BACKWARD]
