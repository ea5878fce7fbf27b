"""Chapter 5 exercises: valid cross-correlation, the output-size formula, a strided and
padded convolution layer, the gradient of its weight, and im2col."""
from __future__ import annotations

import numpy as np

from ..conv import conv2d_backward, conv2d_forward, conv_output_size as _conv_output_size
from ..conv import convolve2d, correlate2d
from .._im2col import im2col as _im2col
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(505)  # draws the fixed cases once, the same on every run

# 003's worked example (eq. 14), and 001's 2 x 2 image with its 2 x 2 kernel of twos
_A003 = np.array([[1.0, 6.0, 2.0], [5.0, 3.0, 1.0], [7.0, 0.0, 4.0]])
_K003 = np.array([[1.0, 2.0], [-1.0, 0.0]])
_X001 = np.array([[[[1.0, 2.0], [4.0, 5.0]]]])
_W001 = np.full((1, 1, 2, 2), 2.0)


def _shape_of(got):
    return getattr(got, "shape", None)


# -- ch05.correlate2d_valid: correlate2d_valid(a, k) -> (H - kh + 1, W - kw + 1) -----------
def correlate2d_valid(a, k):
    """Valid cross-correlation of a 2-D array: out[y, x] = sum_{i, j} a[y + i, x + j] k[i, j]."""
    return correlate2d(a, k, "valid")


def _corr_random(rng):
    h, w = (int(v) for v in rng.integers(1, 9, size=2))
    kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    return case(rng.standard_normal((h, w)), rng.standard_normal((kh, kw)))


def _corr_diagnose(c, got, expected):
    a, k = c.args
    (h, w), (kh, kw) = a.shape, k.shape
    shape = _shape_of(got)
    if shape == (h - kh, w - kw):
        return ("One row and one column short, an off-by-one: the last window starts at row "
                "H - kh, so there are H - kh + 1 window positions down (`range(H - kh + 1)`), "
                "and likewise across.")
    if shape == (h + kh - 1, w + kw - 1) and shape != expected.shape:
        return ("That is the size of the *full* cross-correlation (every partial overlap). "
                "'Valid' keeps only the positions where the kernel lies entirely inside `a`: "
                "(H - kh + 1, W - kw + 1).")
    if shape == (h, w) and shape != expected.shape:
        return ("The output has the size of the input, as in a 'same' correlation with zero "
                "padding; 'valid' has no padding and is (H - kh + 1, W - kw + 1).")
    return None


CORRELATE2D_VALID = Exercise(
    name="ch05.correlate2d_valid",
    title="Valid cross-correlation",
    reference=correlate2d_valid,
    cases=[
        case(_A003, _K003, note="the worked example of 003, eq. 14"),
        case(_rng.standard_normal((5, 5)), _rng.standard_normal((3, 3)), note="a 3x3 kernel"),
        case(_rng.standard_normal((4, 7)), _rng.standard_normal((2, 3)),
             note="a non-square input and kernel"),
        case(np.array([[0.0, 0.0, 1.0, 1.0, 1.0, 0.0]]), np.array([[-1.0, 1.0]]),
             note="the edge detector [-1, 1] on one row"),
        case(_rng.standard_normal((3, 3)), _rng.standard_normal((3, 3)),
             note="the kernel fills the input: one output"),
        case(_rng.standard_normal((4, 5)), _rng.standard_normal((1, 1)), note="a 1x1 kernel"),
    ],
    random_case=_corr_random,
    exact_dtype=False,
    mistakes=[
        Mistake(lambda a, k: convolve2d(a, k, "valid"),
                "The kernel is flipped: that is a true convolution, a * k = a ⋆ rot180(k) "
                "(003, eq. 15). Cross-correlation multiplies a[y + i, x + j] by k[i, j], "
                "without flipping."),
        Mistake(lambda a, k: correlate2d(a, k[::-1], "valid"),
                "The kernel's rows are upside down: multiply a[y + i, x + j] by k[i, j], "
                "not by k[kh - 1 - i, j]."),
        Mistake(lambda a, k: correlate2d(a, k[:, ::-1], "valid"),
                "The kernel's columns are reversed: multiply a[y + i, x + j] by k[i, j], "
                "not by k[i, kw - 1 - j]."),
    ],
    diagnose=_corr_diagnose,
    hints={
        "values": "out[y, x] is the sum of a[y:y + kh, x:x + kw] * k: the window of `a` whose "
                  "top-left corner is (y, x), times the kernel, entry by entry.",
        "shape": "The kernel fits in H - kh + 1 positions down and W - kw + 1 across.",
        "exception": "Loop y over range(H - kh + 1) and x over range(W - kw + 1); the window "
                     "is a[y:y + kh, x:x + kw], the same shape as k.",
    },
)


# -- ch05.conv_output_size: conv_output_size(n, k, stride, padding, dilation) -> int -----
def conv_output_size(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """floor((n + 2p - d (k - 1) - 1) / s) + 1, the length of a convolution's output."""
    return _conv_output_size(input_size, kernel_size, stride, padding, dilation)


def _size_random(rng):
    while True:
        n, k = int(rng.integers(1, 65)), int(rng.integers(1, 8))
        s, p, d = int(rng.integers(1, 5)), int(rng.integers(0, 4)), int(rng.integers(1, 4))
        if n + 2 * p >= d * (k - 1) + 1:
            return case(n, k, s, p, d)


CONV_OUTPUT_SIZE = Exercise(
    name="ch05.conv_output_size",
    title="The output size of a convolution",
    reference=conv_output_size,
    cases=[
        case(28, 5, 1, 2, 1, note="LWLS layer 1: 28 stays 28"),
        case(28, 5, 2, 2, 1, note="LWLS layer 2: stride 2"),
        case(14, 4, 2, 1, 1, note="LWLS layer 3: an even kernel"),
        case(4, 2, 1, 0, 1, note="001's padded 4x4 image, stride 1"),
        case(4, 2, 2, 0, 1, note="001's padded 4x4 image, stride 2"),
        case(4, 3, 1, 1, 1, note="001's zero-padding example"),
        case(224, 7, 2, 3, 1, note="ResNet's first layer"),
        case(16, 2, 1, 0, 8, note="a WaveNet kernel, dilation 8"),
        case(10, 3, 3, 0, 1, note="the stride does not divide evenly"),
        case(5, 5, 1, 0, 1, note="the kernel fills the input"),
    ],
    random_case=_size_random,
    n_random=30,
    mistakes=[
        Mistake(lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) // s,
                "One short, an off-by-one: (n + 2p - extent) // s counts the *steps* between "
                "the first and the last window position; the number of positions is one "
                "more, so add 1."),
        Mistake(lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) / s + 1,
                "`/` is true division and gives a float; the output size is a whole number of "
                "window positions, rounded *down*: use `//`."),
        Mistake(lambda n, k, s=1, p=0, d=1: (n + p - d * (k - 1) - 1) // s + 1,
                "The padding is counted once, but `padding` zeros are added on *both* sides: "
                "the padded length is n + 2p."),
        Mistake(lambda n, k, s=1, p=0, d=1: (n - d * (k - 1) - 1) // s + 1,
                "The padding is missing: the kernel slides over the padded input, of length "
                "n + 2p."),
        Mistake(lambda n, k, s=1, p=0, d=1: (n + 2 * p - k) // s + 1,
                "The dilation is ignored: a kernel of size k with dilation d spans "
                "d (k - 1) + 1 inputs, not k."),
        Mistake(lambda n, k, s=1, p=0, d=1: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1,
                "It rounds up, counting a last window that would stick out of the padded "
                "input; round down (`//`): a window must fit entirely."),
        Mistake(lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1 + 1) // s,
                "It divides the padded length minus the extent, plus 1, by the stride: the "
                "+1 belongs outside the division, floor((n + 2p - extent) / s) + 1."),
    ],
    hints={
        "values": "The kernel spans extent = d (k - 1) + 1 inputs; the padded input has "
                  "n + 2p; the first window starts at 0 and every next one s further, as long "
                  "as it fits: floor((n + 2p - extent) / s) + 1 positions.",
        "type": "Return an int: use `//` for the division.",
    },
)


# -- ch05.conv2d: conv2d(x, weight, bias, stride=1, padding=0) -> (N, O, H', W') ---------
def conv2d(x, weight, bias, stride=1, padding=0):
    """A convolution layer's output, as torch.nn.functional.conv2d (int stride and padding)."""
    return conv2d_forward(x, weight, bias, stride=stride, padding=padding)[0]


def _conv_case(n, c, o, h, w, kh, kw, stride, padding, dtype=np.float64, note=""):
    return case(_rng.standard_normal((n, c, h, w)).astype(dtype),
                _rng.standard_normal((o, c, kh, kw)).astype(dtype),
                _rng.standard_normal(o).astype(dtype), stride=stride, padding=padding, note=note)


def _conv_random(rng):
    while True:
        n, c, o = (int(v) for v in rng.integers(1, 4, size=3))
        h, w = (int(v) for v in rng.integers(3, 10, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
        s, p = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        if kh <= h + 2 * p and kw <= w + 2 * p:
            return case(rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, kh, kw)),
                        rng.standard_normal(o), stride=s, padding=p)


def _conv_diagnose(c, got, expected):
    shape = _shape_of(got)
    if shape is None or len(shape) != 4 or shape[0] != expected.shape[0]:
        return None
    if shape[1] != expected.shape[1]:
        if shape[1] == c.args[0].shape[1]:
            return ("The output has as many channels as the input; it needs one per filter, "
                    "weight.shape[0] (weight is (out_channels, in_channels, kh, kw)).")
        return None
    dh, dw = shape[2] - expected.shape[2], shape[3] - expected.shape[3]
    if (dh, dw) != (0, 0) and dh in (-1, 0) and dw in (-1, 0):
        return ("A window position too few, an off-by-one: the number of positions is "
                "floor((H + 2p - kh) / s) + 1, and the loop must run over all of them. (Zeros "
                "padded on one side only give the same symptom: pad `padding` on both sides.)")
    if (dh, dw) != (0, 0) and dh in (0, 1) and dw in (0, 1):
        return ("A window position too many: the last window must fit inside the padded input, "
                "so there are floor((H + 2p - kh) / s) + 1 positions (round down).")
    return None


CONV2D = Exercise(
    name="ch05.conv2d",
    title="A convolution layer with stride and padding",
    reference=conv2d,
    cases=[
        case(_X001, _W001, np.zeros(1), stride=1, padding=1,
             note="001's 2x2 image padded to 4x4, stride 1"),
        case(_X001, _W001, np.zeros(1), stride=2, padding=1, note="the same with stride 2"),
        _conv_case(2, 3, 4, 6, 6, 3, 3, 1, 1, note="3x3 'same' convolution"),
        _conv_case(1, 2, 3, 7, 7, 3, 3, 2, 0, note="stride 2, no padding"),
        _conv_case(2, 1, 2, 5, 8, 2, 3, 1, 2, note="a non-square kernel, padding 2"),
        _conv_case(1, 3, 2, 9, 6, 3, 2, 3, 1, note="stride 3 that does not divide evenly"),
        _conv_case(2, 4, 3, 4, 4, 1, 1, 1, 0, note="a 1x1 convolution"),
        _conv_case(1, 2, 2, 6, 6, 3, 3, 2, 1, np.float32, note="float32"),
    ],
    random_case=_conv_random,
    rtol=1e-5,
    atol=1e-6,
    exact_dtype=False,
    mistakes=[
        Mistake(lambda x, weight, bias, stride=1, padding=0:
                conv2d(x, weight[:, :, ::-1, ::-1], bias, stride, padding),
                "The kernel is flipped: that is a true convolution. A convolution layer "
                "computes a cross-correlation: xp[n, c, r s + i, q s + j] times "
                "weight[o, c, i, j], without flipping."),
        Mistake(lambda x, weight, bias, stride=1, padding=0:
                conv2d(x, weight, np.zeros_like(bias), stride, padding),
                "The bias is missing: add bias[o] to every position of output channel o "
                "(`bias[None, :, None, None]` broadcasts)."),
        Mistake(lambda x, weight, bias, stride=1, padding=0: conv2d(x, weight, bias, 1, padding),
                "The stride is ignored: window (r, q) starts at row r * stride and column "
                "q * stride of the padded input."),
        Mistake(lambda x, weight, bias, stride=1, padding=0: conv2d(x, weight, bias, stride, 0),
                "The padding is ignored: pad `padding` zeros on every side of each image "
                "first, `np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))`."),
        Mistake(lambda x, weight, bias, stride=1, padding=0:
                conv2d(x, weight, bias, stride, padding) - bias[None, :, None, None]
                + bias[None, :, None, None] * weight.shape[1],
                "The bias is added once per input channel; it is added once per output "
                "position, after the sum over channels."),
    ],
    diagnose=_conv_diagnose,
    hints={
        "values": "out[n, o, r, q] = bias[o] + sum over c, i, j of "
                  "weight[o, c, i, j] * xp[n, c, r * s + i, q * s + j], with xp the padded x.",
        "shape": "The output is (N, out_channels, H', W') with "
                 "H' = floor((H + 2p - kh) / s) + 1 (and the same for W').",
        "exception": "Pad first; the window under output (r, q) is "
                     "xp[:, :, r*s:r*s + kh, q*s:q*s + kw], of shape (N, C, kh, kw).",
    },
)


# -- ch05.conv2d_backward_weight: (x, dout) -> dweight (O, C, kh, kw) -------------------
def conv2d_backward_weight(x, dout):
    """dL/dweight of a stride-1, unpadded conv2d: sum_n x[n, c] ⋆ dout[n, o] (003, eq. 18).

    x: (N, C, H, W), dout: (N, O, H', W') -> (O, C, H - H' + 1, W - W' + 1).
    """
    n, c, h, w = x.shape
    o, ho, wo = dout.shape[1:]
    zeros = np.zeros((o, c, h - ho + 1, w - wo + 1), dtype=x.dtype)  # (O, C, kh, kw)
    _, cache = conv2d_forward(x, zeros, None)
    return conv2d_backward(dout, cache)[1]


def _dw_case(n, c, o, h, w, kh, kw, dtype=np.float64, note=""):
    return case(_rng.standard_normal((n, c, h, w)).astype(dtype),
                _rng.standard_normal((n, o, h - kh + 1, w - kw + 1)).astype(dtype), note=note)


def _dw_random(rng):
    n, c, o = (int(v) for v in rng.integers(1, 4, size=3))
    h, w = (int(v) for v in rng.integers(2, 8, size=2))
    kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    return case(rng.standard_normal((n, c, h, w)),
                rng.standard_normal((n, o, h - kh + 1, w - kw + 1)))


def _dw_diagnose(c, got, expected):
    x, dout = c.args
    shape = _shape_of(got)
    if shape is None or shape == expected.shape:
        return None
    o, ch, kh, kw = expected.shape
    if shape == (kh, kw) or shape == (o, kh, kw) or shape == (ch, kh, kw):
        return ("Some axes were summed away: dweight has the weight's shape "
                "(out_channels, in_channels, kh, kw), one entry per weight.")
    if shape == (o, ch, kh - 1, kw - 1) or shape == (o, ch, kh + 1, kw + 1):
        return ("An off-by-one in the kernel size: kh = H - H' + 1 (a valid correlation of "
                "an H-row input with an H'-row gradient has H - H' + 1 rows).")
    return None


CONV2D_BACKWARD_WEIGHT = Exercise(
    name="ch05.conv2d_backward_weight",
    title="The gradient of a convolution's weight",
    reference=conv2d_backward_weight,
    cases=[
        case(_A003[None, None], np.array([[[[1.0, 0.0], [0.0, 0.0]]]]),
             note="003's input, a gradient at one output position"),
        _dw_case(1, 1, 1, 5, 5, 3, 3, note="one image, one channel"),
        _dw_case(2, 1, 1, 4, 4, 2, 2, note="two images: their contributions add up"),
        _dw_case(3, 2, 4, 6, 5, 3, 2, note="several channels, a non-square kernel"),
        _dw_case(2, 3, 2, 4, 4, 1, 1, note="a 1x1 kernel"),
        _dw_case(2, 2, 3, 5, 5, 3, 3, np.float32, note="float32"),
    ],
    random_case=_dw_random,
    rtol=1e-5,
    atol=1e-6,
    exact_dtype=False,
    mistakes=[
        Mistake(lambda x, dout: conv2d_backward_weight(x, dout)[:, :, ::-1, ::-1],
                "The result is rotated by 180 degrees: dweight[o, c, i, j] pairs dout[n, o, y, x] "
                "with x[n, c, y + i, x + j], a cross-correlation, not a convolution."),
        Mistake(lambda x, dout: conv2d_backward_weight(x, dout) / x.shape[0],
                "It averages over the batch; every image contributes its full gradient to the "
                "shared weight: sum over n."),
        Mistake(lambda x, dout: conv2d_backward_weight(x[:1], dout[:1]),
                "Only the first image counts: the weight is shared by every image of the "
                "batch, so sum the contributions of all of them."),
        Mistake(lambda x, dout: conv2d_backward_weight(x, dout).transpose(1, 0, 2, 3),
                "Axes 0 and 1 are swapped: dweight has the weight's layout "
                "(out_channels, in_channels, kh, kw)."),
    ],
    diagnose=_dw_diagnose,
    hints={
        "values": "dweight[o, c, i, j] = sum over n, y, x of dout[n, o, y, x] * x[n, c, y + i, x + j] "
                  "(003, eq. 18, summed over the batch).",
        "shape": "dweight has the weight's shape: (O, C, H - H' + 1, W - W' + 1).",
        "exception": "The kernel size follows from the shapes: kh = H - H' + 1, kw = W - W' + 1.",
    },
)


# -- ch05.im2col: im2col(x, kh, kw) -> (C * kh * kw, H' * W') ------------------------------
def im2col(x, kh, kw):
    """Every kh x kw window of one image as a column (stride 1, no padding).

    x: (C, H, W) -> (C*kh*kw, H'*W'); rows in (c, i, j) order, columns in (h', w') order,
    so that weight.reshape(O, -1) @ im2col(x, kh, kw) is the correlation, (O, H'*W').
    """
    return _im2col(x[None], (kh, kw))[0]  # (C*kh*kw, H'*W')


def _rows_reordered(x, kh, kw, order):
    cols = im2col(x, kh, kw)
    c, length = x.shape[0], cols.shape[1]
    return cols.reshape(c, kh, kw, length).transpose(*order, 3).reshape(-1, length)


def _columns_by_width(x, kh, kw):
    cols = im2col(x, kh, kw)
    ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    return cols.reshape(-1, ho, wo).transpose(0, 2, 1).reshape(cols.shape[0], -1)


def _im2col_case(c, h, w, kh, kw, dtype=np.float64, note=""):
    return case(_rng.standard_normal((c, h, w)).astype(dtype), kh, kw, note=note)


def _im2col_random(rng):
    c = int(rng.integers(1, 4))
    h, w = (int(v) for v in rng.integers(2, 7, size=2))
    kh, kw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    return case(rng.standard_normal((c, h, w)), kh, kw)


def _im2col_diagnose(c, got, expected):
    x, kh, kw = c.args
    shape = _shape_of(got)
    rows, length = expected.shape
    if shape is None or shape == expected.shape:
        return None
    ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    if shape in ((rows, (ho - 1) * (wo - 1)), ((ho - 1) * (wo - 1), rows)):
        return ("One window position too few in each direction, an off-by-one: a kh-row "
                "window fits in H - kh + 1 positions down, and likewise across.")
    if shape == (x.shape[0], kh * kw, length) or shape == (x.shape[0], kh, kw, ho, wo):
        return ("The right numbers, not yet flattened: reshape to 2-D, "
                "(C * kh * kw, H' * W').")
    return None


IM2COL = Exercise(
    name="ch05.im2col",
    title="im2col",
    reference=im2col,
    cases=[
        case(np.arange(16.0).reshape(1, 4, 4), 3, 3, note="one channel, 4x4, a 3x3 window"),
        _im2col_case(2, 4, 5, 2, 2, note="two channels"),
        _im2col_case(3, 5, 5, 3, 3, note="three channels"),
        _im2col_case(2, 4, 6, 2, 3, note="a non-square window"),
        _im2col_case(1, 3, 3, 3, 3, note="the window fills the image: one column"),
        _im2col_case(2, 3, 4, 1, 1, note="a 1x1 window"),
        _im2col_case(2, 4, 4, 2, 2, np.float32, note="float32"),
    ],
    random_case=_im2col_random,
    exact_dtype=False,
    mistakes=[
        Mistake(lambda x, kh, kw: _rows_reordered(x, kh, kw, (1, 2, 0)),
                "The rows are in (i, j, c) order: put the channel first, (c, i, j), the order "
                "of `weight[o].ravel()` for a weight of shape (O, C, kh, kw)."),
        Mistake(lambda x, kh, kw: _rows_reordered(x, kh, kw, (0, 2, 1)),
                "Within each channel the window is read column by column: read it row by row, "
                "(i, j) with j fastest, the order of `weight[o, c].ravel()`."),
        Mistake(_columns_by_width,
                "The columns run down the image first: order them row by row, column "
                "h' * W' + w' for window (h', w'), so that the result reshapes to (H', W')."),
    ],
    diagnose=_im2col_diagnose,
    hints={
        "values": "Column h' * W' + w' is `x[:, h':h' + kh, w':w' + kw].ravel()`: the window "
                  "under output (h', w'), flattened in (c, i, j) order.",
        "shape": "One row per weight of a filter, C * kh * kw, and one column per output "
                 "position, H' * W' with H' = H - kh + 1, W' = W - kw + 1.",
        "exception": "The window under output (h', w') is x[:, h':h' + kh, w':w' + kw], of "
                     "shape (C, kh, kw).",
    },
)

EXERCISES = [CORRELATE2D_VALID, CONV_OUTPUT_SIZE, CONV2D, CONV2D_BACKWARD_WEIGHT, IM2COL]
