"""Chapter 6 exercises: porting a dense layer's weights between the two flattening orders,
max pooling with any window and stride, its backward pass (overlapping windows, ties),
and the parameters and multiply-adds of a CNN from its list of layers.

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch06.py checks this).
"""
from __future__ import annotations

import numpy as np

from ..activations import ReLU
from ..conv import Conv2d
from ..dense import Dense
from ..flatten import Flatten
from ..module import Sequential, no_grad
from ..pool import MaxPool2d
from ..pool import max_pool2d_backward as _max_pool2d_backward
from ..pool import max_pool2d_forward as _max_pool2d_forward
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(606)  # draws the fixed cases once, the same on every run

# Fu's feature map after ReLU (section 6.2): every 2x2 window has one maximum
_RECTIFIED = np.array([[[[1.0, 0.0, 0.0, 0.0],
                         [2.0, 0.0, 7.0, 3.0],
                         [0.0, 0.0, 0.0, 0.0],
                         [3.0, 5.0, 4.0, 0.0]]]])


def _shape_of(got):
    return getattr(got, "shape", None)


# -- ch06.to_channels_first: a dense layer's weight for the other flattening order ------
def to_channels_first(weight, shape):
    """The weight of a dense layer that reads maps of ``shape`` = (C, H, W) flattened in
    (C, H, W) order (PyTorch, cnnbook) and computes what ``weight``, trained on the same
    maps flattened in (H, W, C) order (Keras, TensorFlow), computes.

    weight: (O, H*W*C) -> (O, C*H*W).
    """
    c, h, w = shape
    weight = np.asarray(weight)
    return weight.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(weight.shape[0], -1)


def _port_case(o, shape, dtype=np.float64, note=""):
    c, h, w = shape
    return case(_rng.standard_normal((o, c * h * w)).astype(dtype), shape, note=note)


def _port_random(rng):
    shape = tuple(int(v) for v in rng.integers(1, 6, size=3))
    return case(rng.standard_normal((int(rng.integers(1, 5)), int(np.prod(shape)))), shape)


def _port_diagnose(c, got, expected):
    shape = _shape_of(got)
    if shape is None or shape == expected.shape:
        return None
    o, (ch, h, w) = expected.shape[0], c.args[1]
    if shape in ((o, ch, h, w), (o, h, w, ch)):
        return ("The weight is still unflattened, one axis per map axis. What shape does a "
                "dense layer's weight have?")
    return None


TO_CHANNELS_FIRST = Exercise(
    name="ch06.to_channels_first",
    title="A dense layer's weight for the other flattening order",
    reference=to_channels_first,
    cases=[
        _port_case(3, (2, 3, 4), note="two 3x4 maps, 3 outputs"),
        _port_case(2, (3, 2, 2), note="three 2x2 maps"),
        _port_case(120, (16, 5, 5), note="LeNet's first dense layer"),
        _port_case(4, (1, 3, 3), note="a single map: nothing to reorder"),
        _port_case(2, (5, 1, 1), note="1x1 maps: nothing to reorder either"),
        _port_case(1, (2, 2, 3), note="a single output"),
        _port_case(3, (4, 2, 3), dtype=np.float32, note="float32"),
    ],
    random_case=_port_random,
    mistakes=[
        Mistake(lambda weight, shape: weight.reshape(-1, *shape).transpose(0, 2, 3, 1)
                .reshape(weight.shape[0], -1),
                "It converts the other way, from channels-first to channels-last. In which "
                "order were the maps flattened for the weight you are given, and in which "
                "order will they be flattened for the weight you return?"),
        Mistake(lambda weight, shape: weight.reshape(-1, shape[1], shape[2], shape[0])
                .transpose(0, 3, 2, 1).reshape(weight.shape[0], -1),
                "Rows and columns of the maps are swapped. After moving the channel axis to "
                "the front, in which order must rows and columns follow?"),
        Mistake(lambda weight, shape: np.array(weight, copy=True),
                "The weight is returned unchanged. Column j of the weight multiplies entry j "
                "of the flattened maps: is entry j the same pixel of the same map in both "
                "orders?"),
    ],
    diagnose=_port_diagnose,
    hints={
        "values": "Take one entry of the channels-first vector (map c, row h, column w): "
                  "which column of the given weight multiplied that pixel, and which column "
                  "of yours must?",
        "shape": "The result is a dense layer's weight, (O, C H W), like the one given.",
        "exception": "The given weight has O rows of H W C entries: which shape can each row "
                     "be unflattened into, and in which order of axes?",
        "mutated": "Your function changed the weight it was given: return a new array.",
    },
    hint_steps=(
        "Both layers must give the same outputs for the same maps. Column j of a weight "
        "multiplies entry j of its flattened input: which pixel is entry j in the order "
        "(H, W, C), and which in the order (C, H, W)?",
        "So each row of the weight is a map stack flattened in the layout of its input. "
        "Unflatten each row in the given layout, (H, W, C), move the axes into the other "
        "layout, (C, H, W), and flatten again.",
        "Check with a tiny case by hand: two 1x2 maps, and a weight whose entries are "
        "0, 1, 2, 3.",
    ),
)


# -- ch06.max_pool: max pooling with any window and stride ------------------------------
def max_pool(x, kernel_size, stride=None):
    """Max pooling of (N, C, H, W) with k x k windows placed ``stride`` apart (default k),
    no padding, as torch.nn.functional.max_pool2d: out (N, C, H', W'),
    H' = floor((H - k) / s) + 1."""
    return _max_pool2d_forward(x, kernel_size, stride=stride)[0]


def _pool_case(shape, k, s=None, negative=False, dtype=np.float64, note=""):
    x = _rng.standard_normal(shape)
    x = (-np.abs(x) - 1 if negative else x).astype(dtype)
    return case(x, k, note=note) if s is None else case(x, k, s, note=note)


def _pool_random(rng):
    k = int(rng.integers(1, 4))
    s = int(rng.integers(1, 4))
    n, c = (int(v) for v in rng.integers(1, 3, size=2))
    h, w = (int(v) for v in rng.integers(k, 9, size=2))
    x = rng.standard_normal((n, c, h, w))
    return case(x, k, s) if rng.random() < 0.7 else case(x, k)


def _pool_wrong(reduce, default_stride=None, start=None, ceil=False, ignore_stride=False):
    def wrong(x, kernel_size, stride=None):
        k = kernel_size
        s = stride if stride is not None else (default_stride or k)
        if ignore_stride:
            s = k
        n, c, h, w = x.shape
        rows = -(-(h - k) // s) + 1 if ceil else (h - k) // s + 1
        cols = -(-(w - k) // s) + 1 if ceil else (w - k) // s + 1
        out = np.empty((n, c, rows, cols))
        for r in range(rows):
            for q in range(cols):
                window = x[:, :, r * s:r * s + k, q * s:q * s + k].reshape(n, c, -1)
                if start is not None:
                    window = np.concatenate([np.full((n, c, 1), start), window], axis=-1)
                out[:, :, r, q] = reduce(window, axis=-1)
        return out
    return wrong


def _pool_args(c):
    x, k = c.args[0], c.args[1]
    s = c.args[2] if len(c.args) > 2 else c.kwargs.get("stride")
    return x, k, (k if s is None else s), s is None


def _pool_diagnose(c, got, expected):
    shape = _shape_of(got)
    if shape is None or shape == expected.shape:
        return None
    x, k, s, default = _pool_args(c)
    h, w = x.shape[2:]
    if shape == x.shape[:2]:
        return ("One number per map: that is a global maximum. How many windows of k x k, "
                "s apart, fit in a map?")
    if len(shape) != 4 or shape[:2] != x.shape[:2]:
        return None
    if default and k > 1 and shape[2:] == (h - k + 1, w - k + 1):
        return ("The windows start at every row and column: stride 1. When no stride is "
                "given, how far apart are the windows of a pooling layer (section 6.3)?")
    if not default and s != k and shape[2:] == ((h - k) // k + 1, (w - k) // k + 1):
        return ("The windows are placed k apart whatever the stride. Where does window "
                "(i, j) start when the stride s is given?")
    if all(g - e == 1 for g, e in zip(shape[2:], expected.shape[2:])
           if g != e) and shape[2:] != expected.shape[2:]:
        return ("One window too many along an axis: a last window that sticks out of the "
                "map. Must a window fit entirely inside the map (chapter 5's output size)?")
    return None


MAX_POOL = Exercise(
    name="ch06.max_pool",
    title="Max pooling with any window and stride",
    reference=max_pool,
    cases=[
        case(_RECTIFIED, 2, note="the rectified map of section 6.2, 2x2 windows"),
        case(_RECTIFIED, 3, 1, note="3x3 windows with stride 1: they overlap"),
        _pool_case((2, 3, 7, 7), 3, 2, note="3x3 windows with stride 2, as in AlexNet"),
        _pool_case((1, 2, 5, 7), 2, note="odd sizes: the last row and column are left out"),
        _pool_case((1, 2, 4, 6), 2, negative=True, note="every entry negative"),
        _pool_case((2, 2, 3, 4), 1, note="1x1 windows: nothing changes"),
        _pool_case((1, 3, 4, 4), 4, note="one window covers the whole map"),
        _pool_case((2, 3, 6, 8), 2, 2, note="the stride given, equal to the window"),
        _pool_case((2, 6, 8, 8), 2, dtype=np.float32, note="float32"),
    ],
    random_case=_pool_random,
    mistakes=[
        Mistake(_pool_wrong(np.mean),
                "It averages each window: that is average pooling. Which single entry of a "
                "window does max pooling keep?"),
        Mistake(_pool_wrong(np.max, start=0.0),
                "Negative windows give 0: the running maximum starts at 0. What is the "
                "largest of four negative numbers, and where must a running maximum start?"),
    ],
    diagnose=_pool_diagnose,
    hints={
        "values": "Try the rectified map of section 6.2 by hand. Then: with overlapping "
                  "windows (stride 1 with 3x3 windows), where does each window start?",
        "shape": "The output is (N, C, H', W'), with H' = floor((H - k)/s) + 1 and W' alike: "
                 "which of them is off?",
        "exception": "Some checks leave out the stride: what does it default to? Does every "
                     "window you take lie inside the map?",
        "mutated": "Your function changed x: take the maximum into a new array instead.",
    },
    hint_steps=(
        "How many windows fit along each axis (chapter 5's output size without padding), "
        "and, when no stride is given, how far apart are they?",
        "Output (i, j) is the largest entry of the k x k window whose top-left corner is at "
        "row i s and column j s. Instead of looping over the windows, you can loop over the "
        "k x k offsets inside a window: each offset gives one strided slice of x with the "
        "output's shape.",
        "Take the running maximum over those slices, starting from the first slice (or from "
        "minus infinity), not from 0: every entry may be negative.",
    ),
)


# -- ch06.max_pool_backward: the gradient of max pooling --------------------------------
def max_pool_backward(dout, x, kernel_size, stride=None):
    """dL/dx of ``max_pool(x, kernel_size, stride)``: each window's upstream gradient goes
    to its largest entry (the first in row-major order when several are equal); entries
    that win several overlapping windows get the sum. dx has x's shape."""
    _, cache = _max_pool2d_forward(x, kernel_size, stride=stride)
    return _max_pool2d_backward(dout, cache)


def _pooled_shape(shape, k, s):
    n, c, h, w = shape
    return (n, c, (h - k) // s + 1, (w - k) // s + 1)


def _back_case(x, k, s=None, dtype=np.float64, note=""):
    x = np.asarray(x, dtype=dtype)
    dout = _rng.standard_normal(_pooled_shape(x.shape, k, k if s is None else s)).astype(dtype)
    return case(dout, x, k, note=note) if s is None else case(dout, x, k, s, note=note)


def _back_random(rng):
    k, s = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    n, c = (int(v) for v in rng.integers(1, 3, size=2))
    h, w = (int(v) for v in rng.integers(k, 8, size=2))
    x = rng.standard_normal((n, c, h, w))
    if rng.random() < 0.3:
        x = np.maximum(x, 0)  # after a ReLU: windows of zeros, ties
    dout = rng.standard_normal(_pooled_shape(x.shape, k, s))
    return case(dout, x, k, s)


def _peak(size=5):
    """A map with one large entry in the middle: every overlapping window picks it."""
    x = _rng.uniform(-1, 0, size=(1, 1, size, size))
    x[0, 0, size // 2, size // 2] = 5.0
    return x


def _route(choose, add=True, default_stride=None):
    """A wrong backward pass: ``choose(window)`` gives (weights of the window's entries)."""
    def wrong(dout, x, kernel_size, stride=None):
        k = kernel_size
        s = stride if stride is not None else (default_stride or k)
        dx = np.zeros(x.shape)
        n, c = x.shape[:2]
        for r in range(dout.shape[2]):
            for q in range(dout.shape[3]):
                window = x[:, :, r * s:r * s + k, q * s:q * s + k]
                share = choose(window) * dout[:, :, r, q][:, :, None, None]
                target = dx[:, :, r * s:r * s + k, q * s:q * s + k]
                if add:
                    target += share
                else:
                    touched = choose(window) != 0
                    target[touched] = share[touched]
        return dx
    return wrong


def _first_max(window):
    n, c, k, _ = window.shape
    flat = window.reshape(n, c, -1)
    return np.eye(k * k)[flat.argmax(axis=-1)].reshape(window.shape)


def _last_max(window):
    n, c, k, _ = window.shape
    flat = window.reshape(n, c, -1)[:, :, ::-1]
    return np.eye(k * k)[k * k - 1 - flat.argmax(axis=-1)].reshape(window.shape)


def _all_maxima(window):
    return (window == window.max(axis=(2, 3), keepdims=True)).astype(float)


def _back_diagnose(c, got, expected):
    shape = _shape_of(got)
    dout, x = c.args[0], c.args[1]
    if shape is not None and shape == dout.shape and shape != x.shape:
        return ("The result has the shape of dout. The gradient belongs to the input of the "
                "pooling: which shape does it have?")
    return None


MAX_POOL_BACKWARD = Exercise(
    name="ch06.max_pool_backward",
    title="The backward pass of max pooling",
    reference=max_pool_backward,
    cases=[
        case(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), _RECTIFIED, 2,
             note="the example of section 6.3"),
        _back_case(_rng.standard_normal((2, 3, 4, 6)), 2, note="2x2 windows, the default stride"),
        _back_case(_peak(5), 3, 1, note="overlapping windows that all pick the same entry"),
        _back_case(_rng.standard_normal((1, 2, 7, 7)), 3, 2, note="3x3 windows, stride 2"),
        _back_case(np.maximum(_rng.standard_normal((2, 2, 6, 6)), 0), 2,
                   note="after a ReLU: windows of zeros, whose maxima tie"),
        _back_case(_rng.standard_normal((1, 2, 5, 7)), 2, note="odd sizes: uncovered entries"),
        _back_case(-np.abs(_rng.standard_normal((1, 2, 4, 4))) - 1, 2, note="negative entries"),
        _back_case(_rng.standard_normal((1, 1, 3, 3)), 3, note="a single window"),
        _back_case(_rng.standard_normal((2, 4, 6, 6)), 2, dtype=np.float32, note="float32"),
    ],
    random_case=_back_random,
    mistakes=[
        Mistake(_route(lambda win: np.full(win.shape, 1.0 / win[0, 0].size)),
                "It spreads each gradient evenly over its window: the backward pass of "
                "*average* pooling. How much does a window's maximum change when one of the "
                "smaller entries changes a little?"),
        Mistake(_route(lambda win: np.ones(win.shape)),
                "Every entry of a window gets the window's whole gradient. Which entry of the "
                "window did the output come from?"),
        Mistake(_route(_all_maxima),
                "Where a window has several equal maxima (after a ReLU, windows of zeros), "
                "each of them gets the gradient. The pooling took one of them: which one "
                "does the text say is taken?"),
        Mistake(_route(_last_max),
                "Ties go to the last of the equal maxima. Which one does the text (and "
                "PyTorch) pick: the first or the last in reading order?"),
        Mistake(_route(_first_max, add=False),
                "Where overlapping windows pick the same entry, it keeps only one window's "
                "gradient: the values are overwritten. The entry fed all those outputs: how "
                "do their gradients combine?"),
        Mistake(_route(lambda win: np.eye(1, win[0, 0].size).reshape(1, 1, *win.shape[2:])
                       * np.ones(win.shape)),
                "The gradient always goes to the top-left entry of each window. Which entry "
                "did the window's output come from?"),
        Mistake(_route(_first_max, default_stride=1),
                "Right when the stride is given, wrong when it is left out: where does window "
                "(i, j) start when the stride defaults to the window size?"),
    ],
    diagnose=_back_diagnose,
    hints={
        "values": "Check the example of section 6.3 first. Then: do overlapping windows add "
                  "up their gradients, and does a tie go to one entry only?",
        "shape": "dx has the shape of x, (N, C, H, W), even where no window reaches.",
        "exception": "Some checks leave out the stride (it is the window size) or have maps "
                     "whose last rows no window covers: do your loops and slices stay inside "
                     "x and dout?",
        "mutated": "Your function changed x or dout: build dx as a new array.",
    },
    hint_steps=(
        "Which entry of each window decided its output? Only that entry's change moves the "
        "output, so where must the window's upstream gradient go, and where must nothing go?",
        "Two details: when overlapping windows pick the same entry, it receives the sum of "
        "their gradients (add, do not overwrite); when a window holds several equal maxima, "
        "only the first in reading order (row by row) gets the gradient.",
        "For each window, find the position of its first maximum (an arg-max over the "
        "window's entries read row by row), turn it into a row and a column of x, and add the "
        "window's upstream gradient there. Entries no window chose keep 0.",
    ),
)


# -- ch06.cnn_cost: parameters and multiply-adds from a list of layers ------------------
def _module(spec, channels):
    kind, *args = spec
    if kind == "conv":
        out, k, *rest = args
        stride, padding = (list(rest) + [1, 0][len(rest):])[:2]
        return Conv2d(channels, out, k, stride=stride, padding=padding, rng=0), out
    if kind == "pool":
        k, *rest = args
        return MaxPool2d(k, stride=rest[0] if rest else None), channels
    if kind == "relu":
        return ReLU(), channels
    if kind == "flatten":
        return Flatten(), channels
    if kind == "dense":
        return None, args[0]
    raise ValueError(f"cnn_cost: unknown layer {spec!r}")


def cnn_cost(input_shape, layers):
    """(parameters, multiply-adds per image) of a network given as a list of layers:
    ("conv", out_channels, kernel_size[, stride[, padding]]), ("pool", kernel_size[, stride]),
    ("relu",), ("flatten",), ("dense", out_features), on an input of shape (C, H, W).
    Multiply-adds as section 6.5 counts them: C_in k k per output entry of a convolution,
    one per weight of a dense layer; biases, ReLU, pooling and flattening count 0."""
    out = np.zeros((1, *input_shape), dtype=np.float32)
    channels, parameters, macs = input_shape[0], 0, 0
    with no_grad():
        for spec in layers:
            module, channels = _module(spec, channels)
            if module is None:  # a dense layer: its input is the flattened vector
                module = Dense(out.shape[1], spec[1], rng=0)
            out = module.forward(out)
            parameters += module.num_parameters()
            if isinstance(module, Conv2d):
                macs += out[0].size * module.params["weight"][0].size
            elif isinstance(module, Dense):
                macs += module.params["weight"].size
    return int(parameters), int(macs)


def _lenet(c1=6, c2=16, k=5, s=1, p2=0):
    return [("conv", c1, k, s, k // 2), ("relu",), ("pool", 2), ("conv", c2, k, 1, p2),
            ("relu",), ("pool", 2), ("flatten",), ("dense", 120), ("relu",), ("dense", 84),
            ("relu",), ("dense", 10)]


_LWLS = [("conv", 4, 5, 1, 2), ("relu",), ("conv", 8, 5, 2, 2), ("relu",),
         ("conv", 12, 4, 2, 1), ("relu",), ("flatten",), ("dense", 200), ("relu",),
         ("dense", 10)]


def _cost_random(rng):
    c, size = int(rng.integers(1, 4)), int(rng.integers(8, 17))
    layers, h = [], size
    for _ in range(int(rng.integers(1, 4))):
        k = int(rng.integers(1, 4))
        s, p = int(rng.integers(1, 3)), int(rng.integers(0, 2))
        if h + 2 * p < k:
            break
        layers.append(("conv", int(rng.integers(1, 5)), k, s, p))
        h = (h + 2 * p - k) // s + 1
        layers.append(("relu",))
        if h >= 2 and rng.random() < 0.5:
            layers.append(("pool", 2))
            h = (h - 2) // 2 + 1
    layers += [("flatten",), ("dense", int(rng.integers(1, 12)))]
    return case((c, size, size), layers)


def _cost_wrong(conv_params=None, conv_macs=None, dense_params=None, dense_macs=None,
                pool_stride=None, ignore_padding=False, pool_halves=False):
    """A wrong count; each rule is a function of the layer's numbers."""
    def wrong(input_shape, layers):
        c, h, w = input_shape
        flat = None
        parameters = macs = 0
        for kind, *args in layers:
            if kind == "conv":
                out, k, *rest = args
                s, p = (list(rest) + [1, 0][len(rest):])[:2]
                p = 0 if ignore_padding else p
                h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
                parameters += (conv_params or (lambda o, ci, k: o * ci * k * k + o))(out, c, k)
                macs += (conv_macs or (lambda o, ci, k, hw: o * hw * ci * k * k))(out, c, k, h * w)
                c = out
            elif kind == "pool":
                k, *rest = args
                s = rest[0] if rest else (pool_stride or k)
                if pool_halves:
                    h, w = h // 2, w // 2
                else:
                    h, w = (h - k) // s + 1, (w - k) // s + 1
            elif kind == "flatten":
                flat = c * h * w
            elif kind == "dense":
                n_in, out = flat, args[0]
                parameters += (dense_params or (lambda i, o: i * o + o))(n_in, out)
                macs += (dense_macs or (lambda i, o: i * o))(n_in, out)
                flat = out
        return parameters, macs
    return wrong


CNN_COST = Exercise(
    name="ch06.cnn_cost",
    title="Parameters and multiply-adds of a CNN",
    reference=cnn_cost,
    cases=[
        case((1, 28, 28), [("conv", 4, 5, 1, 2)], note="a single layer: layer 1 of Lindholm et al."),
        case((1, 28, 28), [("flatten",), ("dense", 10)], note="a single dense layer"),
        case((1, 28, 28), _lenet(), note="the LeNet of section 6.5"),
        case((1, 28, 28), _lenet(k=3), note="LeNet with 3x3 kernels (section 6.8)"),
        case((1, 28, 28), _lenet(c1=12, c2=32), note="LeNet with twice the depth"),
        case((1, 28, 28), _lenet(s=2), note="LeNet with stride 2 in the first convolution"),
        case((1, 28, 28), _lenet(p2=2), note="LeNet with same padding in the second"),
        case((1, 28, 28), _LWLS, note="the network of Lindholm et al. (chapter 5)"),
        case((3, 32, 32), [("conv", 8, 3), ("relu",), ("pool", 3, 2), ("conv", 16, 3, 1, 1),
                           ("pool", 2), ("flatten",), ("dense", 10)],
             note="colour images, a 3x3 pooling with stride 2, the conv defaults"),
        case((2, 7, 7), [("pool", 2), ("flatten",), ("dense", 3)],
             note="a pooling that leaves the last row and column out"),
    ],
    random_case=_cost_random,
    n_random=15,
    outputs=("parameters", "multiply_adds"),
    mistakes=[
        Mistake(_cost_wrong(conv_params=lambda o, ci, k: o * ci * k * k,
                            dense_params=lambda i, o: i * o),
                "The biases are not counted. How many biases does a convolution with O "
                "filters have, and a dense layer with O outputs?"),
        Mistake(_cost_wrong(conv_params=lambda o, ci, k: o * k * k + o,
                            conv_macs=lambda o, ci, k, hw: o * hw * k * k),
                "A filter is counted as a single k x k kernel. How deep is each filter of a "
                "layer whose input has C_in channels (section 5.6)?"),
        Mistake(_cost_wrong(conv_macs=lambda o, ci, k, hw: o * ci * k * k),
                "The multiply-adds of a convolution are counted once per image, like its "
                "weights. At how many positions is each filter applied?"),
        Mistake(_cost_wrong(conv_macs=lambda o, ci, k, hw: o * hw * (ci * k * k + 1),
                            dense_macs=lambda i, o: i * o + o),
                "The biases are counted as multiply-adds. Does adding a bias multiply "
                "anything? Section 6.5 counts only the products."),
        Mistake(_cost_wrong(ignore_padding=True),
                "The padding of the convolutions is ignored. How large is a map after a "
                "convolution with padding p (chapter 5's output size)?"),
        Mistake(_cost_wrong(pool_stride=1),
                "The poolings move one pixel at a time when no stride is given. What is a "
                "pooling layer's stride by default (section 6.3)?"),
        Mistake(_cost_wrong(pool_halves=True),
                "Every pooling halves the maps, whatever its window and stride. What size "
                "does chapter 5's output-size formula give for a pooling?"),
    ],
    hints={
        "values": "Check the single-layer cases first, then LeNet against the table of "
                  "section 6.5, which prints every layer's parameters and multiply-adds: "
                  "which layer is off, and in which of the two numbers?",
        "type": "Return a tuple of two ints: (parameters, multiply_adds).",
        "exception": "Some layers leave out their stride and padding (a convolution: 1 and "
                     "0; a pooling: its window size). And what is the length of the vector "
                     "a dense layer reads after a flatten?",
        "mutated": "Your function changed the list of layers it was given: read it, do not "
                   "modify it.",
    },
    hint_steps=(
        "Walk the shape (C, H, W) through the layers one at a time. Which layers change it, "
        "and how (chapter 5's output size, without padding for a pooling)?",
        "A convolution's parameters depend on its kernel size, its input channels and its "
        "number of filters, plus one bias per filter; not on H and W. A dense layer's depend "
        "on the length of its input vector, which the flatten before it fixes.",
        "Multiply-adds: a convolution computes one sum of C_in k k products for every entry "
        "of its output, all channels and positions; a dense layer one product per weight. "
        "Compare your LeNet, layer by layer, with the table of section 6.5.",
    ),
)

EXERCISES = [TO_CHANNELS_FIRST, MAX_POOL, MAX_POOL_BACKWARD, CNN_COST]
