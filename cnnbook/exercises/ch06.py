"""Chapter 6 exercises: flattening, 2x2 max pooling and its backward pass, the
cross-entropy of logits, and inverted dropout with a given mask."""
from __future__ import annotations

import numpy as np

from ..flatten import flatten_forward
from ..losses import cross_entropy as _cross_entropy
from ..pool import max_pool2d_backward as _max_pool2d_backward
from ..pool import max_pool2d_forward as _max_pool2d_forward
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(606)  # draws the fixed cases once, the same on every run

# 001's feature map after ReLU (chapter 6, section 6.2): every 2x2 window has one maximum
_RECTIFIED = np.array([[[[1.0, 0.0, 0.0, 0.0],
                         [2.0, 0.0, 7.0, 3.0],
                         [0.0, 0.0, 0.0, 0.0],
                         [3.0, 5.0, 4.0, 0.0]]]])


def _windows(x):
    """(N, C, H, W) -> (N, C, H/2, 2, W/2, 2): axes 3 and 5 run inside each 2x2 window."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2)


def _upsample(a):
    """Repeat every entry of (N, C, H', W') into a 2x2 block: (N, C, 2H', 2W')."""
    return np.repeat(np.repeat(a, 2, axis=2), 2, axis=3)


# -- ch06.flatten: flatten(x) -> (N, C*H*W) -------------------------------------------
def flatten(x):
    """(N, C, H, W) -> (N, C*H*W), channel by channel and row by row (torch.nn.Flatten)."""
    return flatten_forward(x)[0].copy()


def _flatten_random(rng):
    n, c, h, w = (int(v) for v in rng.integers(1, 6, size=4))
    return case(rng.standard_normal((n, c, h, w)))


FLATTEN = Exercise(
    name="ch06.flatten",
    exact_dtype=True,  # about dtype: the reference's dtype exactly (float32 in, float32 out)
    title="Flatten a stack of feature maps",
    reference=flatten,
    cases=[
        case(np.arange(1.0, 37.0).reshape(2, 2, 3, 3), note="2 examples, each two 3x3 maps"),
        case(np.arange(1.0, 10.0).reshape(1, 1, 3, 3), note="001's 3x3 example"),
        case(_rng.standard_normal((4, 3, 2, 5)), note="4 examples, 3 maps of 2x5"),
        case(_rng.standard_normal((2, 16, 5, 5)).astype(np.float32), note="LeNet's last maps, float32"),
        case(_rng.standard_normal((3, 4, 1, 1)), note="1x1 maps"),
    ],
    random_case=_flatten_random,
    mistakes=[
        Mistake(lambda x: x.reshape(-1),
                "It flattens the batch axis too, giving one long vector for all examples. "
                "Keep one row per example: `x.reshape(N, -1)` with N = x.shape[0]."),
        Mistake(lambda x: x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1),
                "It flattens position by position, with the channels innermost (the (H, W, C) "
                "order of Keras and TensorFlow). Flatten channel by channel: all of map 0, "
                "then all of map 1, ..."),
        Mistake(lambda x: x.transpose(0, 1, 3, 2).reshape(x.shape[0], -1),
                "Each map is read column by column; read it row by row, as 001 does "
                "(1, 2, 3, then 4, 5, 6, ...)."),
        Mistake(lambda x: x.reshape(x.shape[0], -1, order="F"),
                "`order='F'` reads the array in column-major (Fortran) order, first index "
                "fastest. Use NumPy's default row-major order."),
        Mistake(lambda x: x.reshape(x.shape[0], x.shape[1], -1),
                "It flattens each map but keeps the channels apart, (N, C, H*W); a dense "
                "layer needs one vector per example, (N, C*H*W)."),
    ],
    hints={
        "shape": "One row per example: the result is (N, C*H*W).",
        "values": "Row n is x[n] read map by map, and row by row within a map: "
                  "that is what `x.reshape(N, -1)` does.",
        "dtype": "Keep x's dtype; a reshape does.",
    },
)


# -- ch06.max_pool2d: max_pool2d(x) -> (N, C, H/2, W/2) ----------------------------------
def max_pool2d(x):
    """2x2 max pooling with stride 2 of (N, C, H, W), H and W even."""
    return _max_pool2d_forward(x, 2)[0]


def _pool_random(rng):
    n, c = (int(v) for v in rng.integers(1, 4, size=2))
    h, w = (2 * int(v) for v in rng.integers(1, 5, size=2))
    return case(rng.standard_normal((n, c, h, w)))


def _sliding_max(x):
    windows = np.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=(2, 3))
    return windows.max(axis=(-2, -1))  # (N, C, H - 1, W - 1)


MAX_POOL2D = Exercise(
    name="ch06.max_pool2d",
    title="Max pooling, 2x2 with stride 2",
    reference=max_pool2d,
    cases=[
        case(_RECTIFIED, note="the rectified feature map of section 6.2"),
        case(_rng.standard_normal((2, 3, 4, 6)), note="2 images, 3 channels, 4x6 maps"),
        case(-np.abs(_rng.standard_normal((1, 2, 4, 4))) - 1, note="every entry negative"),
        case(_rng.standard_normal((2, 6, 8, 8)).astype(np.float32), note="float32"),
        case(_rng.standard_normal((1, 1, 2, 2)), note="a single window"),
        case(_rng.standard_normal((3, 2, 6, 2)), note="maps one window wide"),
    ],
    random_case=_pool_random,
    mistakes=[
        Mistake(lambda x: _windows(x).mean(axis=(3, 5)),
                "It averages each window: that is average pooling. Max pooling keeps the "
                "largest entry of each 2x2 window."),
        Mistake(_sliding_max,
                "The windows overlap: they start at every row and column (stride 1), giving "
                "(H - 1, W - 1) outputs. With stride 2 they tile the map: (H/2, W/2)."),
        Mistake(lambda x: _windows(x).max(axis=(2, 4)),
                "It takes the max over the window positions (axes 2 and 4) instead of within "
                "each window: in (N, C, H/2, 2, W/2, 2) the window runs along axes 3 and 5."),
        Mistake(lambda x: x.reshape(x.shape[0], x.shape[1], x.shape[2] // 2, x.shape[3] // 2, 4).max(axis=-1),
                "The reshape groups four entries that are consecutive in memory (along a "
                "row), not a 2x2 square. Reshape to (N, C, H/2, 2, W/2, 2) and take the max "
                "over axes 3 and 5."),
        Mistake(lambda x: np.maximum(_max_pool2d_forward(x, 2)[0], 0),
                "Negative windows give 0: the running maximum starts at 0 (or a ReLU crept "
                "in). The max of four negative numbers is negative; start from the first "
                "entry of the window, or from -inf."),
        Mistake(lambda x: x.max(axis=(2, 3)),
                "It takes one maximum over each whole map (global max pooling); pool each "
                "2x2 window separately."),
    ],
    hints={
        "shape": "The result is (N, C, H/2, W/2): one number per 2x2 window.",
        "values": "out[n, c, i, j] is the largest of x[n, c, 2i:2i+2, 2j:2j+2]. "
                  "`x.reshape(N, C, H//2, 2, W//2, 2)` puts each window on axes 3 and 5.",
        "dtype": "Keep x's dtype; `max` does.",
    },
)


# -- ch06.max_pool2d_backward: max_pool2d_backward(dout, x) -> (N, C, H, W) -------------
def max_pool2d_backward(dout, x):
    """dL/dx of 2x2, stride-2 max pooling: each window's gradient goes to its arg-max."""
    _, cache = _max_pool2d_forward(x, 2)
    return _max_pool2d_backward(dout, cache)


def _backward_case(n, c, h, w, dtype=np.float64, note=""):
    x = _rng.standard_normal((n, c, h, w)).astype(dtype)
    return case(_rng.standard_normal((n, c, h // 2, w // 2)).astype(dtype), x, note=note)


def _backward_random(rng):
    n, c = (int(v) for v in rng.integers(1, 4, size=2))
    h, w = (2 * int(v) for v in rng.integers(1, 5, size=2))
    return case(rng.standard_normal((n, c, h // 2, w // 2)), rng.standard_normal((n, c, h, w)))


def _is_max(x):
    return x == _upsample(_max_pool2d_forward(x, 2)[0])


def _top_left(dout, x):
    dx = np.zeros_like(x)
    dx[:, :, ::2, ::2] = dout
    return dx


MAX_POOL2D_BACKWARD = Exercise(
    name="ch06.max_pool2d_backward",
    title="The backward pass of max pooling",
    reference=max_pool2d_backward,
    cases=[
        case(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), _RECTIFIED,
             note="the example of section 6.3"),
        _backward_case(2, 3, 4, 6, note="2 images, 3 channels"),
        case(_rng.standard_normal((1, 2, 2, 2)), -np.abs(_rng.standard_normal((1, 2, 4, 4))) - 1,
             note="every entry of x negative"),
        _backward_case(2, 4, 6, 6, np.float32, note="float32"),
        _backward_case(1, 1, 2, 2, note="a single window"),
    ],
    random_case=_backward_random,
    mistakes=[
        Mistake(lambda dout, x: _upsample(dout) / 4,
                "It spreads each gradient equally over its window: that is the backward "
                "pass of *average* pooling. Max pooling sends the whole gradient to the "
                "window's largest entry and 0 to the other three."),
        Mistake(lambda dout, x: _upsample(dout),
                "It sends the whole gradient to all four entries of each window; only the "
                "largest entry affected the output, so only it gets the gradient."),
        Mistake(lambda dout, x: _is_max(x).astype(x.dtype),
                "It marks the arg-max of each window with 1 but forgets to multiply by "
                "`dout`: the arg-max receives the window's upstream gradient."),
        Mistake(lambda dout, x: _upsample(dout) * (x > 0),
                "It routes the gradient to every positive entry, like a ReLU; only the "
                "largest entry of each window, positive or not, gets it."),
        Mistake(_top_left,
                "It always sends the gradient to the top-left entry of each window; send it "
                "to the window's largest entry."),
    ],
    hints={
        "shape": "dx has the shape of x, (N, C, H, W).",
        "values": "Compare x with its window maxima repeated over each window "
                  "(`np.repeat` along axes 2 and 3) to find the arg-max, then multiply that "
                  "mask by `dout` repeated the same way.",
        "dtype": "Keep the dtype of dout and x.",
    },
)


# -- ch06.cross_entropy: cross_entropy(logits, labels) -> float -------------------------
def cross_entropy(logits, labels):
    """Mean over the batch of -log softmax(logits)[n, labels[n]], computed stably."""
    return float(_cross_entropy(logits, labels)[0])


def _ce_case(n, m, scale=3.0, dtype=np.float64, note=""):
    return case((scale * _rng.standard_normal((n, m))).astype(dtype),
                _rng.integers(0, m, size=n), note=note)


def _ce_random(rng):
    n, m = int(rng.integers(1, 9)), int(rng.integers(2, 11))
    return case(rng.normal(0, 3, (n, m)), rng.integers(0, m, size=n))


def _log_softmax(z, axis=1):
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _ce_diagnose(c, got, expected):
    if isinstance(got, (int, float, np.floating)) and not np.isfinite(got):
        return ("The result is not finite: with large logits `np.exp` overflows to inf "
                "(or underflows to 0, and log(0) = -inf). Subtract each row's largest logit "
                "before exponentiating; the softmax does not change (section 6.4).")
    return None


CROSS_ENTROPY = Exercise(
    name="ch06.cross_entropy",
    title="Cross-entropy from logits",
    reference=cross_entropy,
    cases=[
        case(np.array([[2.0, 1.0, 0.1]]), np.array([0]), note="001's logits, right class 0"),
        case(np.array([[2.0, 1.0, 0.1], [2.0, 1.0, 0.1]]), np.array([1, 2]),
             note="001's logits twice, classes 1 and 2"),
        _ce_case(6, 10, note="6 examples, 10 classes"),
        case(np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]]), np.array([1, 1]),
             note="large logits"),
        case(np.array([[-1000.0, -1000.0, -999.0]]), np.array([0]), note="very negative logits"),
        _ce_case(4, 5, dtype=np.float32, note="float32"),
    ],
    random_case=_ce_random,
    rtol=1e-5,
    atol=1e-7,
    mistakes=[
        Mistake(lambda z, t: float(-_log_softmax(z)[np.arange(len(t)), t].sum()),
                "It sums the losses of the examples; the loss is their mean (divide by N), "
                "so that it does not grow with the batch size."),
        Mistake(lambda z, t: float(_log_softmax(z)[np.arange(len(t)), t].mean()),
                "The sign is wrong: the loss is *minus* the log-probability of the right "
                "class, which is >= 0."),
        Mistake(lambda z, t: float(-_log_softmax(z, axis=0)[np.arange(len(t)), t].mean()),
                "The softmax normalises each column, over the batch; it must normalise each "
                "row, over the classes (axis=1)."),
        Mistake(lambda z, t: float(-z[np.arange(len(t)), t].mean()),
                "It uses the logit of the right class, not its log-probability: "
                "log p = z - log(sum_j exp(z_j))."),
        Mistake(lambda z, t: float(-_log_softmax(z)[np.arange(len(t)), t].sum() / z.size),
                "It divides by N * M, averaging over the classes too; average over the N "
                "examples only."),
        Mistake(lambda z, t: float(-_log_softmax(z).mean()),
                "It averages -log p over all classes; only the probability of the right "
                "class counts (pick column labels[n] of row n)."),
    ],
    diagnose=_ce_diagnose,
    hints={
        "values": "log p[n, i] = z[n, i] - max_j z[n, j] - log(sum_j exp(z[n, j] - max_j z[n, j])); "
                  "the loss is -mean over n of log p[n, labels[n]].",
        "type": "Return one number, a float: the mean loss over the batch.",
    },
)


# -- ch06.inverted_dropout: inverted_dropout(x, p, mask) -> x's shape --------------------
def inverted_dropout(x, p, mask):
    """Training pass of inverted dropout with a given keep-mask: x * mask / (1 - p)."""
    return x * mask / (1 - p)


def _dropout_case(shape, p, dtype=np.float64, note=""):
    x = _rng.standard_normal(shape).astype(dtype)
    return case(x, p, _rng.random(shape) >= p, note=note)


def _dropout_random(rng):
    shape = tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(2, 5))))
    p = float(np.round(rng.uniform(0.05, 0.9), 2))
    return case(rng.standard_normal(shape), p, rng.random(shape) >= p)


INVERTED_DROPOUT = Exercise(
    name="ch06.inverted_dropout",
    exact_dtype=True,  # about dtype: the reference's dtype exactly (float32 in, float32 out)
    title="Inverted dropout",
    reference=inverted_dropout,
    cases=[
        _dropout_case((4, 10), 0.5, note="p = 0.5"),
        _dropout_case((2, 3, 4, 4), 0.2, note="feature maps, p = 0.2"),
        _dropout_case((3, 8), 0.9, note="p = 0.9: most units dropped"),
        _dropout_case((5, 6), 0.0, note="p = 0: nothing dropped"),
        _dropout_case((4, 16), 0.3, np.float32, note="float32"),
    ],
    random_case=_dropout_random,
    mistakes=[
        Mistake(lambda x, p, mask: x * mask,
                "The kept units are not scaled: that is the training pass of the original "
                "convention of 002, which scales at inference instead. Inverted dropout "
                "divides the kept units by 1 - p, so that their expected value is x."),
        Mistake(lambda x, p, mask: x * mask * (1 - p),
                "It multiplies by 1 - p; inverted dropout *divides* by 1 - p, the keep "
                "probability, so that E[output] = x."),
        Mistake(lambda x, p, mask: x * mask / p,
                "It divides by p, the probability of dropping; divide by 1 - p, the "
                "probability of keeping."),
        Mistake(lambda x, p, mask: x * ~mask / (1 - p),
                "The mask is used the wrong way round: True marks the units to *keep*."),
    ],
    hints={
        "values": "Zero the units where mask is False and divide the others by 1 - p: "
                  "`x * mask / (1 - p)`.",
        "dtype": "Keep x's dtype: `x * mask / (1 - p)` does, while `mask / (1 - p)` alone "
                 "is a float64 array that turns a float32 x into float64.",
        "shape": "The output has the shape of x.",
    },
)

EXERCISES = [FLATTEN, MAX_POOL2D, MAX_POOL2D_BACKWARD, CROSS_ENTROPY, INVERTED_DROPOUT]
