"""Chapter 2 exercises: the x0 = 1 trick (a column of ones, the bias folded into the
weight), placing a sigmoid, least squares with a bias, the gradient of a conv bias."""
from __future__ import annotations

import numpy as np

from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(202)  # draws the fixed cases once, the same on every run


# -- ch02.add_bias_column: add_bias_column(X) -> (N, D + 1) ---------------------------
def add_bias_column(X):
    """[1, X]: a column of ones first, in X's dtype. X (N, D) -> (N, D + 1) (x0 = 1, 003 §1.1.1)."""
    ones = np.ones((X.shape[0], 1), dtype=X.dtype)  # (N, 1)
    return np.concatenate([ones, X], axis=1)  # (N, D + 1)


def _add_column_random(rng):
    n, d = rng.integers(1, 9), rng.integers(1, 7)
    return case(rng.standard_normal((n, d)))


ADD_BIAS_COLUMN = Exercise(
    name="ch02.add_bias_column",
    exact_dtype=True,  # about dtype: the reference's dtype exactly (float32 in, float32 out)
    title="A column of ones",
    reference=add_bias_column,
    cases=[
        case(_rng.standard_normal((5, 3)), note="5 examples, 3 features"),
        case(_rng.standard_normal((1, 4)), note="a single example"),
        case(_rng.standard_normal((4, 1)), note="a single feature"),
        case(_rng.standard_normal((3, 2)).astype(np.float32), note="float32 in, float32 out"),
        case(np.zeros((2, 3)), note="an input of zeros"),
    ],
    random_case=_add_column_random,
    mistakes=[
        Mistake(lambda X: np.concatenate([X, np.ones((X.shape[0], 1), X.dtype)], axis=1),
                "It puts the column of ones last; X~ of section 2.4 has it first, as x0 = 1 "
                "is the first input, so that it meets the bias in the first column of W~."),
        Mistake(lambda X: np.concatenate([np.zeros((X.shape[0], 1), X.dtype), X], axis=1),
                "The new column holds zeros; the constant input is x0 = 1."),
        Mistake(lambda X: np.concatenate([np.ones((1, X.shape[1]), X.dtype), X], axis=0),
                "It adds a row of ones (a new example); add a column (a new feature) instead: "
                "join along axis=1."),
    ],
    hints={
        "shape": "One extra column, not an extra row: the result is (N, D + 1). "
                 "`np.concatenate([ones, X], axis=1)` with ones of shape (N, 1).",
        "dtype": "Make the ones in X's dtype, `np.ones((N, 1), dtype=X.dtype)`: "
                 "plain `np.ones` is float64 and turns a float32 X into float64.",
        "values": "Column 0 holds ones; columns 1 to D are X's columns, unchanged and in order.",
        "exception": "Give the ones two dimensions, (N, 1), so they can be joined to X (N, D) "
                     "along axis=1.",
    },
)


# -- ch02.fold_bias: fold_bias(weight, bias) -> (out, in + 1) ------------------------
def fold_bias(weight, bias):
    """[b, W]: the bias as the first column of the weight. (out, in), (out,) -> (out, in + 1)."""
    return np.concatenate([bias[:, None], weight], axis=1)  # (out, in + 1)


def _fold_case(n_out, n_in, dtype=np.float64, note=""):
    return case(_rng.standard_normal((n_out, n_in)).astype(dtype),
                _rng.standard_normal(n_out).astype(dtype), note=note)


def _fold_random(rng):
    n_out, n_in = rng.integers(1, 7), rng.integers(1, 7)
    return case(rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out))


FOLD_BIAS = Exercise(
    name="ch02.fold_bias",
    title="Fold the bias into the weights",
    reference=fold_bias,
    cases=[
        _fold_case(2, 3, note="2 outputs, 3 inputs"),
        _fold_case(3, 3, note="a square weight"),
        _fold_case(1, 4, note="a single output"),
        _fold_case(4, 1, note="a single input"),
        _fold_case(3, 2, np.float32, note="float32 in, float32 out"),
    ],
    random_case=_fold_random,
    mistakes=[
        Mistake(lambda weight, bias: np.concatenate([weight, bias[:, None]], axis=1),
                "It puts the bias in the last column; it belongs in the first, where it meets "
                "the column of ones that `add_bias_column` puts first."),
        Mistake(lambda weight, bias: np.hstack([bias, weight]),
                "`bias` has one dimension, (out_features,), and cannot be joined to a matrix as "
                "it is: make it a column first, `bias[:, None]` of shape (out_features, 1)."),
        Mistake(lambda weight, bias: np.concatenate([bias[None, :], weight.T], axis=0),
                "It builds the transpose of W~, (in_features + 1, out_features): the bias must "
                "be a column of the weight, which stays (out_features, in_features)."),
    ],
    hints={
        "shape": "The result has one row per output and one column more than the weight: "
                 "(out_features, in_features + 1).",
        "exception": "Make the bias a column, `bias[:, None]`, then join it to the weight "
                     "along axis=1.",
        "values": "Column 0 holds the bias; columns 1 to in_features are the weight's columns, "
                  "unchanged and in order.",
        "dtype": "Keep the dtype of weight and bias; `np.concatenate` already does.",
    },
)


# -- ch02.place_sigmoid: place_sigmoid(x_star, slope) -> (w, b) -----------------------
def place_sigmoid(x_star, slope):
    """(w, b) of sigma(w x + b) crossing 1/2 at x_star with that slope: w = 4 slope, b = -w x_star."""
    w = 4.0 * slope  # sigma'(0) = 1/4
    return float(w), float(-w * x_star)


def _place_random(rng):
    slope = rng.uniform(0.1, 3.0) * rng.choice([-1.0, 1.0])
    return case(float(np.round(rng.uniform(-5, 5), 3)), float(np.round(slope, 3)))


PLACE_SIGMOID = Exercise(
    name="ch02.place_sigmoid",
    title="Place a sigmoid",
    reference=place_sigmoid,
    cases=[
        case(3.0, 0.25, note="switch at x = 3 with the slope of the plain sigmoid"),
        case(-1.5, 0.5),
        case(0.0, 2.0, note="switch at the origin: no bias needed"),
        case(2.0, -0.125, note="a negative slope: the neuron fires below its threshold"),
    ],
    random_case=_place_random,
    outputs=("w", "b"),
    mistakes=[
        Mistake(lambda x_star, slope: (float(slope), float(-slope * x_star)),
                "The threshold is right but the steepness is not: the slope of sigma(w x + b) "
                "at the threshold is w sigma'(0) = w / 4, so w = 4 * slope."),
        Mistake(lambda x_star, slope: (4.0 * slope, 4.0 * slope * x_star),
                "The bias has the wrong sign: w x* + b = 0 gives b = -w x*, which puts "
                "the threshold at x* instead of -x*."),
        Mistake(lambda x_star, slope: (4.0 * slope, -float(x_star)),
                "The bias is -x*, which is right only for w = 1: w x* + b = 0 gives b = -w x*."),
        Mistake(lambda x_star, slope: (-4.0 * slope * x_star, 4.0 * slope),
                "The values are right but swapped: return `(w, b)`, the weight first."),
        Mistake(lambda x_star, slope: (float(slope), -float(x_star)),
                "Both parameters are off: the slope at the threshold is w / 4 and "
                "the threshold is at -b / w, so w = 4 * slope and b = -w * x_star."),
    ],
    hints={
        "values": "Two conditions: sigma(w x* + b) = 1/2 means w x* + b = 0, and the slope "
                  "there is w sigma'(0) = w / 4.",
        "type": "Return a tuple of two numbers, `(w, b)`, in that order.",
    },
)


# -- ch02.fit_line: fit_line(x, y) -> (w, b) -----------------------------------------
def fit_line(x, y):
    """Least-squares slope and intercept (chapter 2, eq. ch02-ls-bias), via [1, x] and lstsq."""
    design = add_bias_column(np.asarray(x, dtype=np.float64)[:, None])  # (N, 2): [1, x]
    (b, w), *_ = np.linalg.lstsq(design, np.asarray(y, dtype=np.float64), rcond=None)
    return float(w), float(b)


def _line_case(n, w, b, noise, lo=-2.0, hi=6.0, note=""):
    x = _rng.uniform(lo, hi, n)
    return case(x, w * x + b + noise * _rng.standard_normal(n), note=note)


def _line_random(rng):
    n = int(rng.integers(3, 30))
    x = rng.uniform(-5, 10, n)
    return case(x, rng.normal() * x + 3 * rng.normal() + rng.standard_normal(n))


def _cov_ddof_mix(x, y):
    w = np.cov(x, y)[0, 1] / np.var(x)
    return float(w), float(np.mean(y) - w * np.mean(x))


FIT_LINE = Exercise(
    name="ch02.fit_line",
    title="Least squares with a bias",
    reference=fit_line,
    cases=[
        _line_case(40, 0.6, 4.0, 0.6, lo=1.0, hi=9.0, note="data like the chapter's"),
        _line_case(5, -2.0, 1.0, 0.0, note="points exactly on a line"),
        _line_case(10, 1.5, 0.0, 0.3, note="a true intercept of 0"),
        case(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 2.0]), note="three points"),
        _line_case(30, 0.0, -3.0, 1.0, note="a flat line"),
    ],
    random_case=_line_random,
    outputs=("w", "b"),
    rtol=1e-6,
    atol=1e-8,
    mistakes=[
        Mistake(lambda x, y: (float(x @ y / (x @ x)), 0.0),
                "It fits a line through the origin (b = 0); the model has a bias: use the "
                "formulas with the means of x and y from section 2.2."),
        Mistake(lambda x, y: (float(x @ y / (x @ x)), float(y.mean() - x @ y / (x @ x) * x.mean())),
                "The slope is that of a line through the origin: centre the data first, "
                "w = sum((x - x_mean) (y - y_mean)) / sum((x - x_mean)^2)."),
        Mistake(lambda x, y: fit_line(x, y)[::-1],
                "The values are right but swapped: return `(w, b)`, the slope first."),
        Mistake(_cov_ddof_mix,
                "`np.cov` divides by N - 1 but `np.var` by N: the slope is off by N / (N - 1). "
                "Use the same normalisation for both (or the sums of section 2.2)."),
    ],
    hints={
        "values": "w = sum((x - x_mean) (y - y_mean)) / sum((x - x_mean)^2), b = y_mean - w x_mean; "
                  "or `np.linalg.lstsq` on the columns [1, x].",
        "type": "Return a tuple of two floats, `(w, b)`: the slope first.",
    },
)


# -- ch02.conv_bias_grad: conv_bias_grad(dout) -> (C,) -------------------------------
def conv_bias_grad(dout):
    """dL/db for a bias of shape (C,) added to (N, C, H, W): the sum over batch and positions."""
    return dout.sum(axis=(0, 2, 3))  # (C,)


def _grad_random(rng):
    shape = tuple(int(s) for s in rng.integers(1, 6, size=4))
    return case(rng.standard_normal(shape))


CONV_BIAS_GRAD = Exercise(
    name="ch02.conv_bias_grad",
    exact_dtype=True,  # about dtype: the reference's dtype exactly (float32 in, float32 out)
    title="The gradient of a convolution's bias",
    reference=conv_bias_grad,
    cases=[
        case(_rng.standard_normal((4, 3, 5, 5)), note="4 images, 3 channels, 5x5 maps"),
        case(_rng.standard_normal((2, 4, 3, 6)), note="a non-square map"),
        case(_rng.standard_normal((1, 5, 2, 2)), note="a single image"),
        case(_rng.standard_normal((3, 1, 4, 4)), note="a single channel"),
        case(_rng.standard_normal((2, 3, 4, 4)).astype(np.float32), note="float32 in, float32 out"),
    ],
    random_case=_grad_random,
    rtol=1e-5,
    atol=1e-5,
    mistakes=[
        Mistake(lambda dout: dout.sum(axis=(2, 3)),
                "It sums over the positions but not over the batch: the same bias serves every "
                "image too, so sum over axes (0, 2, 3)."),
        Mistake(lambda dout: dout.sum(axis=0),
                "It sums over the batch only: the bias is shared by every position of a map "
                "as well, so sum over axes (0, 2, 3)."),
        Mistake(lambda dout: dout.mean(axis=(0, 2, 3)),
                "It averages; the bias is added at every position of every image, and each "
                "contributes its full gradient: sum over axes (0, 2, 3)."),
        Mistake(lambda dout: dout.sum(axis=(0, 2, 3), keepdims=True),
                "The values are right but the shape is (1, C, 1, 1); the bias has shape (C,): "
                "drop `keepdims=True`."),
        Mistake(lambda dout: dout.sum(axis=(1, 2, 3)),
                "It sums over the channels, giving one number per image; the bias has one "
                "entry per channel: sum over axes (0, 2, 3)."),
    ],
    hints={
        "shape": "One gradient entry per bias, that is per channel: shape (C,).",
        "values": "Each bias b_c is added to every entry of channel c of every image: "
                  "sum dout over axes (0, 2, 3).",
        "dtype": "Keep dout's dtype: `dout.sum(...)` already does.",
    },
)

EXERCISES = [ADD_BIAS_COLUMN, FOLD_BIAS, PLACE_SIGMOID, FIT_LINE, CONV_BIAS_GRAD]
