"""Chapter 2 exercises: a sigmoid placed by its rise, the unit whose boundary is a given
line, batch normalisation folded into the layer before it, least squares whose penalty
spares the bias, and the gradient of a bias added by broadcasting.

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch02.py checks this). The bias is added, w.x + b, with
b = -theta for a unit that fires at a threshold theta, as everywhere in the book.
"""
from __future__ import annotations

import numpy as np

from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(202)  # draws the fixed cases once, the same on every run

_LOGIT_90 = np.log(9.0)  # sigma(z) = 0.9 exactly when z = ln(0.9 / 0.1) = ln 9


# -- ch02.place_sigmoid: place_sigmoid(x_lo, x_hi) -> (w, b) ---------------------------
def place_sigmoid(x_lo, x_hi):
    """(w, b) of sigma(w x + b) that is 0.1 at x_lo and 0.9 at x_hi: w (x_hi - x_lo) = 2 ln 9
    and the threshold -b / w halfway between."""
    w = 2.0 * _LOGIT_90 / (x_hi - x_lo)
    return float(w), float(-w * (x_lo + x_hi) / 2.0)


def _place(w_of, b_of):
    """A wrong answer: w = w_of(x_lo, x_hi), b = b_of(w, x_lo, x_hi)."""
    def wrong(x_lo, x_hi):
        w = w_of(x_lo, x_hi)
        return float(w), float(b_of(w, x_lo, x_hi))
    return wrong


_W = lambda x_lo, x_hi: 2.0 * _LOGIT_90 / (x_hi - x_lo)
_B = lambda w, x_lo, x_hi: -w * (x_lo + x_hi) / 2.0


def _place_random(rng):
    x_lo = float(np.round(rng.uniform(-5, 5), 3))
    return case(x_lo, float(np.round(x_lo + rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 4), 3)))


PLACE_SIGMOID = Exercise(
    name="ch02.place_sigmoid",
    title="Place a sigmoid",
    reference=place_sigmoid,
    cases=[
        case(1.0, 5.0, note="a rise from 1 to 5"),
        case(-2.0, 2.0, note="centred on the origin: no bias needed"),
        case(3.0, 2.0, note="0.1 to the right of 0.9: a falling curve"),
        case(100.0, 100.5, note="far from the origin, and steep"),
        case(-7.5, -1.5),
    ],
    random_case=_place_random,
    outputs=("w", "b"),
    mistakes=[
        Mistake(_place(lambda lo, hi: _LOGIT_90 / (hi - lo), _B),
                "The threshold is in the right place but the curve rises too slowly: it reaches "
                "0.9 only at twice the distance. Between 0.1 and 0.9, how far does the "
                "pre-activation w x + b travel?"),
        Mistake(_place(lambda lo, hi: 3.2 / (hi - lo), _B),
                "The steepness comes from the straight line through the threshold with slope "
                "w / 4, and a sigmoid is not straight that far out. For which z exactly is "
                "sigma(z) = 0.9?"),
        Mistake(_place(lambda lo, hi: 2.0 * np.log(0.9) / (hi - lo), _B),
                "The steepness has the wrong sign and size: ln 0.9 is not where the sigmoid "
                "reaches 0.9. Solve sigma(z) = p for z: what do you get?"),
        Mistake(_place(_W, lambda w, lo, hi: w * (lo + hi) / 2.0),
                "The steepness is right but the bias has the wrong sign: the threshold lands at "
                "minus the midpoint. Where is sigma(w x + b) equal to 1/2, in terms of w and b?"),
        Mistake(_place(_W, lambda w, lo, hi: -(lo + hi) / 2.0),
                "The bias is minus the midpoint, which puts the threshold there only when w = 1. "
                "Where is the threshold of sigma(w x + b), eq. (ch02-threshold)?"),
        Mistake(_place(_W, lambda w, lo, hi: -w * lo),
                "The curve is 1/2 at x_lo instead of 0.1. Halfway up, at 1/2, is which input?"),
        Mistake(_place(lambda lo, hi: 2.0 * _LOGIT_90 / (lo - hi), _B),
                "The curve runs the wrong way: it is 0.9 at x_lo and 0.1 at x_hi. When x_hi is "
                "to the right of x_lo, is w positive or negative?"),
        Mistake(lambda x_lo, x_hi: place_sigmoid(x_lo, x_hi)[::-1],
                "The values are right but swapped. Which comes first in the pair you return?"),
    ],
    hints={
        "values": "Check your (w, b) on the first case: evaluate sigma(w x + b) at x_lo and "
                  "at x_hi. Which of the two is off?",
        "type": "Return a pair of two numbers, the weight first.",
    },
    hint_steps=(
        "Two conditions fix two unknowns: sigma(w x_lo + b) = 0.1 and sigma(w x_hi + b) = 0.9. "
        "Turn each into a condition on the pre-activation w x + b.",
        "sigma(z) = p exactly when z = ln(p / (1 - p)): z = ln 9 for 0.9, and minus that for "
        "0.1. So w x_hi + b and w x_lo + b differ by 2 ln 9.",
        "Subtracting the two conditions gives w; the curve is 1/2 halfway between x_lo and "
        "x_hi, which gives b by eq. (ch02-threshold).",
    ),
)


# -- ch02.boundary_through: boundary_through(p, q) -> (w, b) ---------------------------
def boundary_through(p, q):
    """The unit H(w.x + b) whose boundary w.x + b = 0 is the line through p and q, with
    |w| = 1 and firing on the left of the direction from p to q (w is that direction turned
    a quarter turn counterclockwise). p, q: (2,) -> (w (2,) float64, b float)."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    d = q - p
    w = np.array([-d[1], d[0]]) / np.hypot(d[0], d[1])
    return w, float(-w @ p)


def _boundary(normal, bias=lambda w, p, q: -w @ p, unit=True):
    def wrong(p, q):
        p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
        w = normal(q - p)
        if unit:
            w = w / np.hypot(*w)
        return w, float(bias(w, p, q))
    return wrong


_LEFT = lambda d: np.array([-d[1], d[0]])


def _unnormalised_bias(p, q):
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    w = _LEFT(q - p)
    return w / np.hypot(*w), float(-w @ p)


def _boundary_random(rng):
    p = rng.integers(-5, 6, size=2).astype(float)
    q = p + rng.choice([-1, 1], size=2) * rng.integers(1, 5, size=2)
    return case(p, q)


BOUNDARY_THROUGH = Exercise(
    name="ch02.boundary_through",
    title="A unit whose boundary passes through two points",
    reference=boundary_through,
    cases=[
        case(np.array([3.0, 0.0]), np.array([0.0, 3.0]), note="the line x1 + x2 = 3 of section 2.5"),
        case(np.array([-1.0, 2.0]), np.array([3.0, 2.0]), note="a horizontal line"),
        case(np.array([0.0, 0.0]), np.array([1.0, 2.0]), note="a line through the origin"),
        case(np.array([2.0, 5.0]), np.array([2.0, -1.0]), note="a vertical line, going down"),
        case(np.array([10.0, -4.0]), np.array([13.0, 0.0]), note="far from the origin"),
        case(np.array([0.5, 1.5], np.float32), np.array([2.5, -0.5], np.float32),
             note="float32 points"),
    ],
    random_case=_boundary_random,
    outputs=("w", "b"),
    rtol=1e-6,
    atol=1e-7,
    mistakes=[
        Mistake(_boundary(lambda d: np.array([d[1], -d[0]])),
                "The line is right but the unit fires on the wrong side, the right of the way "
                "from p to q. Which side of the line does w point to?"),
        Mistake(_boundary(_LEFT, bias=lambda w, p, q: w @ p),
                "w is right but b has the wrong sign: the line ends up mirrored through the "
                "origin. The unit fires where w.x + b >= 0; for a point on the line, what is "
                "w.x + b, and so what is b (b = -theta, not theta)?"),
        Mistake(_boundary(_LEFT, unit=False),
                "The line and the side are right, but w does not have length 1. What does "
                "dividing both w and b by the length of w change about the boundary?"),
        Mistake(_unnormalised_bias,
                "w has length 1 but b was computed before w was scaled, so the line has moved. "
                "If w is divided by a number, what must happen to b to keep the same line?"),
        Mistake(_boundary(lambda d: d),
                "w points along the line from p to q; the weight vector of a unit is "
                "perpendicular to its boundary. Which vector is perpendicular to q - p?"),
        Mistake(lambda p, q: boundary_through(p, q)[::-1],
                "The pair is in the wrong order. Which comes first, the weights or the bias?"),
    ],
    hints={
        "mutated": "Your function changed p or q. Which line writes into a point instead of "
                   "a new array?",
        "values": "Check your answer: w.p + b and w.q + b must both be 0, the length of w 1, "
                  "and w.x + b positive for a point just left of the way from p to q. Which of "
                  "the three fails?",
        "type": "Return a pair: w, an array of two numbers, and b, a number.",
        "shape": "w has one entry per input, two here; b is a single number.",
    },
    hint_steps=(
        "The boundary w.x + b = 0 is perpendicular to w. Which vector is perpendicular to "
        "the direction q - p, and which of its two signs points to the left?",
        "Turning a direction (a, c) a quarter turn counterclockwise gives (-c, a). Scale it to "
        "length 1.",
        "Every point of the line satisfies w.x + b = 0; put p into that equation to get b.",
    ),
)


# -- ch02.fold_batchnorm: fold_batchnorm(weight, bias, gamma, beta, mean, var, eps) ---
def fold_batchnorm(weight, bias, gamma, beta, mean, var, eps=1e-5):
    """The dense layer equal to Dense(weight, bias) followed by batch normalisation with
    these statistics: s = gamma / sqrt(var + eps) per output, weight' = s W row by row,
    bias' = s (b - mean) + beta (b = 0 for bias None). Returns float64 arrays."""
    weight, gamma, beta, mean, var = (np.asarray(a, dtype=np.float64)
                                      for a in (weight, gamma, beta, mean, var))
    b = 0.0 if bias is None else np.asarray(bias, dtype=np.float64)
    scale = gamma / np.sqrt(var + eps)                      # (F,)
    return scale[:, None] * weight, scale * (b - mean) + beta


def _fold(scale_of=lambda g, v, e: g / np.sqrt(v + e), columns=False, bias_of=None):
    """A wrong fold: ``scale_of(gamma, var, eps)``, ``bias_of(s, b, beta, mean)``."""
    def wrong(weight, bias, gamma, beta, mean, var, eps=1e-5):
        s = scale_of(gamma, var, eps)
        b = 0.0 if bias is None else bias
        new_weight = weight * s if columns else s[:, None] * weight
        new_bias = bias_of(s, b, beta, mean) if bias_of else s * (b - mean) + beta
        return new_weight, new_bias
    return wrong


def _bn_case(f, d, with_bias=True, eps=None, small_var=False, dtype=np.float64, note=""):
    var = (_rng.uniform(1e-6, 4e-5, f) if small_var else _rng.uniform(0.2, 3.0, f)).astype(dtype)
    args = [_rng.standard_normal((f, d)).astype(dtype),
            _rng.standard_normal(f).astype(dtype) if with_bias else None,
            _rng.uniform(0.5, 2.0, f).astype(dtype), _rng.standard_normal(f).astype(dtype),
            _rng.standard_normal(f).astype(dtype), var]
    return case(*args, note=note) if eps is None else case(*args, eps, note=note)


def _bn_random(rng):
    f, d = int(rng.integers(1, 6)), int(rng.integers(1, 6))
    bias = rng.standard_normal(f) if rng.random() < 0.7 else None
    return case(rng.standard_normal((f, d)), bias, rng.uniform(0.5, 2, f),
                rng.standard_normal(f), rng.standard_normal(f), rng.uniform(0.1, 3, f),
                float(rng.choice([1e-5, 1e-3, 0.1])))


FOLD_BATCHNORM = Exercise(
    name="ch02.fold_batchnorm",
    title="Fold batch normalisation into a dense layer",
    reference=fold_batchnorm,
    cases=[
        _bn_case(3, 4, note="3 outputs, 4 inputs"),
        _bn_case(3, 3, note="a square weight"),
        _bn_case(2, 5, with_bias=False, note="a layer built with bias=False"),
        _bn_case(4, 2, small_var=True, note="variances as small as eps: eps matters"),
        _bn_case(3, 2, eps=0.1, note="eps = 0.1"),
        _bn_case(1, 1, note="one output, one input"),
        _bn_case(2, 3, dtype=np.float32, note="float32"),
    ],
    random_case=_bn_random,
    rtol=1e-6,
    atol=1e-7,
    outputs=("weight", "bias"),
    mistakes=[
        Mistake(_fold(columns=True),
                "Each output's factor multiplies a column of the weight instead of a row. The "
                "weight is stored (out, in): which axis holds the outputs that batch "
                "normalisation scales?"),
        Mistake(_fold(scale_of=lambda g, v, e: g / np.sqrt(v)),
                "eps is left out, which matters when a variance is small. Where does eps sit "
                "in eq. (ch02-bn)?"),
        Mistake(_fold(scale_of=lambda g, v, e: g / (v + e)),
                "It divides by the variance. Batch normalisation divides by what, eq. (ch02-bn)?"),
        Mistake(_fold(bias_of=lambda s, b, beta, mean: s * b - mean + beta),
                "The mean is subtracted without the factor. The mean is subtracted from the "
                "layer's output before the scaling: what does it become after it?"),
        Mistake(_fold(bias_of=lambda s, b, beta, mean: s * (b + mean) + beta),
                "The mean is added instead of subtracted. What does batch normalisation do "
                "with the mean of each feature?"),
        Mistake(_fold(bias_of=lambda s, b, beta, mean: s * (b - mean)),
                "The shift beta is missing. What does batch normalisation add after scaling?"),
        Mistake(_fold(bias_of=lambda s, b, beta, mean: b + beta - s * mean),
                "The layer's own bias is not scaled. The bias is part of the output z that "
                "batch normalisation scales: what happens to it?"),
        Mistake(_fold(bias_of=lambda s, b, beta, mean: beta - s * mean),
                "The layer's own bias is dropped. Does it reach batch normalisation?"),
    ],
    hints={
        "mutated": "Your function changed an argument: the folded weight and bias are new "
                   "arrays. Which line scales the weight in place?",
        "values": "Write the output of the two layers for one example and one output k, "
                  "gamma_k (w_k.x + b_k - mean_k) / sqrt(var_k + eps) + beta_k, and read off "
                  "the weight and the bias of x. Which of your two results differs?",
        "shape": "The folded weight has the shape of the weight, (out, in); the folded bias "
                 "has one entry per output.",
        "exception": "Does your function handle a layer without a bias (bias is None)? And "
                     "does each output's factor meet the right axis of the weight?",
        "type": "Return a pair of arrays: the folded weight, then the folded bias.",
    },
    hint_steps=(
        "Batch normalisation at inference is an affine map of each output on its own: "
        "multiply output k by one number, then add another. Which numbers?",
        "Output k is multiplied by gamma_k / sqrt(var_k + eps), call it s_k. Multiplying the "
        "layer's output by s_k multiplies row k of the weight and entry k of the bias by s_k.",
        "What is added after the scaling: minus s_k times mean_k, and beta_k. A layer without "
        "a bias starts from b = 0 and still ends up with one.",
    ),
)


# -- ch02.ridge_with_bias: ridge_with_bias(X, y, lam) -> (w, b) ------------------------
def ridge_with_bias(X, y, lam):
    """min over w, b of |X w + b - y|^2 + lam |w|^2 (the bias is not penalised): centre,
    solve the ridge system for w, then b = mean(y) - mean(X) w. X (N, D), y (N,)."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    x_mean, y_mean = X.mean(axis=0), y.mean()
    Xc = X - x_mean
    w = np.linalg.solve(Xc.T @ Xc + lam * np.eye(X.shape[1]), Xc.T @ (y - y_mean))
    return w, float(y_mean - x_mean @ w)


def _ridge_penalised_bias(X, y, lam):
    A = np.hstack([np.ones((len(X), 1)), X])
    v = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ y)
    return v[1:], float(v[0])


def _ridge_uncentred_x(X, y, lam):
    w = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ (y - y.mean()))
    return w, float(y.mean() - X.mean(axis=0) @ w)


def _ridge_b_is_mean(X, y, lam):
    w, _ = ridge_with_bias(X, y, lam)
    return w, float(y.mean())


def _ridge_no_bias(X, y, lam):
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y), 0.0


def _ridge_ignores_lam(X, y, lam):
    return ridge_with_bias(X, y, 0.0)


def _ridge_lam_everywhere(X, y, lam):
    Xc = X - X.mean(axis=0)
    w = np.linalg.solve(Xc.T @ Xc + lam, Xc.T @ (y - y.mean()))
    return w, float(y.mean() - X.mean(axis=0) @ w)


def _ridge_case(n, d, lam, offset=0.0, dtype=np.float64, note=""):
    X = offset + _rng.standard_normal((n, d))
    y = X @ _rng.standard_normal(d) + 3.0 + 0.3 * _rng.standard_normal(n)
    return case(X.astype(dtype), y.astype(dtype), lam, note=note)


def _ridge_random(rng):
    n, d = int(rng.integers(2, 30)), int(rng.integers(1, 5))
    X = rng.standard_normal((n, d)) + rng.normal(0, 3, size=d)
    return case(X, X @ rng.standard_normal(d) + rng.normal(0, 5) + rng.standard_normal(n),
                float(rng.choice([0.1, 1.0, 10.0])))


RIDGE_WITH_BIAS = Exercise(
    name="ch02.ridge_with_bias",
    title="Ridge regression that spares the bias",
    reference=ridge_with_bias,
    cases=[
        _ridge_case(30, 3, 5.0, note="30 examples, 3 features"),
        _ridge_case(20, 2, 10.0, offset=50.0, note="features far from 0"),
        _ridge_case(25, 1, 2.0, note="one feature"),
        _ridge_case(12, 3, 0.0, note="no penalty: plain least squares"),
        case(np.array([[1.0, 2.0]]), np.array([4.0]), 1.0, note="a single example"),
        _ridge_case(10, 2, 1e4, note="a very large penalty"),
        _ridge_case(15, 2, 1.0, dtype=np.float32, note="float32"),
    ],
    random_case=_ridge_random,
    rtol=1e-5,
    atol=1e-6,
    outputs=("w", "b"),
    mistakes=[
        Mistake(_ridge_penalised_bias,
                "The penalty shrinks the bias too: a column of ones with the ridge system of "
                "section 1.6 penalises its weight like every other. Which entry of the "
                "penalty must be 0 so that the bias goes free?"),
        Mistake(_ridge_uncentred_x,
                "The features are not centred, so the penalised weights must also carry the "
                "features' means. What do you subtract from X so that the bias can take over "
                "every constant?"),
        Mistake(_ridge_b_is_mean,
                "The weights are right but the bias is the mean of y. With features that are "
                "not centred, what is the prediction at the mean of the features?"),
        Mistake(_ridge_no_bias,
                "There is no bias: the fit passes through the origin. Which parameter does the "
                "model w.x + b have besides w?"),
        Mistake(_ridge_ignores_lam,
                "The penalty is ignored: this is plain least squares. Where does lam enter the "
                "normal equations?"),
        Mistake(_ridge_lam_everywhere,
                "lam is added to every entry of the matrix instead of its diagonal. Which "
                "matrix does the derivative of lam |w|^2 contribute?"),
    ],
    hints={
        "mutated": "Your function changed X or y. Centring makes new arrays: which line "
                   "subtracts the means in place?",
        "values": "Compare your fit without a penalty against least squares, then with a huge "
                  "penalty: should the bias then tend to 0, or to the mean of y?",
        "type": "Return a pair: the weights as an array with one entry per feature, then the "
                "bias as a number.",
        "shape": "w has one entry per feature (a column of X); the bias is a single number.",
        "exception": "The system to solve is D x D, one row per feature: which product of X "
                     "with itself has that shape?",
    },
    hint_steps=(
        "Set the derivative with respect to b to 0 first: what does it say about the mean of "
        "the residuals, and so about b once w is known?",
        "With that b the problem becomes ridge regression without a bias on centred data: "
        "subtract the mean of each feature from X and the mean from y.",
        "For centred data the normal equations are (Xc^T Xc + lam I) w = Xc^T yc. Solve them, "
        "then b is the mean of y minus the mean feature vector times w.",
    ),
)


# -- ch02.bias_grad: bias_grad(dout, shape) -> array of that shape ---------------------
def bias_grad(dout, shape):
    """dL/db for a bias of shape ``shape`` added to an output of shape dout.shape by
    broadcasting (trailing axes aligned, as NumPy does): dout summed over every axis the
    bias was repeated along."""
    shape = tuple(shape)
    lead = dout.ndim - len(shape)
    total = dout.sum(axis=tuple(range(lead))) if lead else dout
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and total.shape[i] != 1)
    return total.sum(axis=axes, keepdims=True) if axes else total.copy()


def _grad_case(dout_shape, shape, dtype=np.float64, note=""):
    return case(_rng.standard_normal(dout_shape).astype(dtype), shape, note=note)


def _grad_random(rng):
    dout_shape = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(1, 5)))
    keep = int(rng.integers(1, len(dout_shape) + 1))
    shape = tuple(n if rng.random() < 0.5 else 1 for n in dout_shape[-keep:])
    return case(rng.standard_normal(dout_shape), shape)


def _summed_to(dout, shape, axes_of):
    """A wrong reduction: ``axes_of(dout, shape)`` names the axes to sum over."""
    return dout.sum(axis=axes_of(dout, tuple(shape)))


BIAS_GRAD = Exercise(
    name="ch02.bias_grad",
    title="The gradient of a broadcast bias",
    reference=bias_grad,
    cases=[
        _grad_case((6, 4), (4,), note="a dense layer: one bias per output"),
        _grad_case((3, 4, 5, 5), (4, 1, 1), note="a convolution's tied bias"),
        _grad_case((2, 3, 4, 6), (1, 3, 1, 1), note="the tied bias with its batch axis"),
        _grad_case((2, 3, 4, 4), (3, 4, 4), note="an untied bias: one per output pixel"),
        _grad_case((5, 3), (1,), note="one bias shared by everything"),
        _grad_case((1, 3, 2, 2), (1, 3, 1, 1), note="a batch of one"),
        _grad_case((4, 3), (4, 3), note="a bias as large as the output"),
        _grad_case((2, 3, 3, 4), (3, 1, 1), dtype=np.float32, note="float32"),
    ],
    random_case=_grad_random,
    rtol=1e-5,
    atol=1e-6,
    mistakes=[
        Mistake(lambda dout, shape: bias_grad(dout, shape) / (dout.size / np.prod(shape)),
                "It averages over the entries that share a bias entry. Each of them changes the "
                "loss by its own amount: do those amounts add up or average out?"),
        Mistake(lambda dout, shape: dout.sum(axis=tuple(range(dout.ndim - len(shape)))),
                "Only the leading (batch) axes are summed, but the bias is also repeated along "
                "the axes where its shape has a 1. Along which axes is your bias repeated?"),
        Mistake(lambda dout, shape: dout[(0,) * (dout.ndim - len(shape))].sum(
                    axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)
                if dout.ndim > len(shape) else bias_grad(dout, shape),
                "Only the first example counts. Is the bias used by the other examples too?"),
        Mistake(lambda dout, shape: dout.sum(axis=tuple(i for i in range(dout.ndim)
                                                        if i != dout.ndim - len(shape))),
                "The result has lost the bias's axes of length 1, or kept the wrong axis. The "
                "gradient has exactly the shape of the bias: which axes of dout disappear, and "
                "which stay as axes of length 1?"),
    ],
    hints={
        "mutated": "Your function changed dout. Sums make new arrays: which line writes into "
                   "dout?",
        "values": "Each bias entry is added to several entries of the output: which ones? Its "
                  "gradient collects the gradients of exactly those.",
        "shape": "The result has exactly the shape you were given, with its 1s. NumPy lines "
                 "shapes up from the right: which axes of dout does the bias not have at all?",
        "dtype": "Keep the float dtype of dout.",
    },
    hint_steps=(
        "Broadcasting repeats the bias along two kinds of axes: the leading axes of dout that "
        "the bias's shape does not have, and the axes where the bias's shape has a 1. Name "
        "them for the case that fails.",
        "The gradient of a repeated parameter is the sum of the gradients of all its copies, "
        "eq. (ch02-conv-bias-grad): sum dout over exactly those axes, and nothing else.",
        "Keep the summed size-1 axes as axes of length 1, so that the result has the bias's "
        "shape; the leading axes disappear.",
    ),
)

EXERCISES = [PLACE_SIGMOID, BOUNDARY_THROUGH, FOLD_BATCHNORM, RIDGE_WITH_BIAS, BIAS_GRAD]
