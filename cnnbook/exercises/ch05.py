"""Chapter 5 exercises: the output-size formula with its defaults, a convolution layer
with stride and padding (the page shows only the stride-1, unpadded loop), the banded
(Toeplitz) matrix of a 1-D convolution, the receptive field of a stack with strides and
dilations, and the weight gradient of a strided, padded convolution.

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch05.py checks this).
"""
from __future__ import annotations

import numpy as np

from .._im2col import conv_output_size as _conv_output_size
from ..conv import conv1d_forward, conv2d_backward, conv2d_forward
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(505)  # draws the fixed cases once, the same on every run

# Chidiac's worked example (eq. 14), and Fu's 2 x 2 image with its 2 x 2 kernel of twos
_A = np.array([[1.0, 6.0, 2.0], [5.0, 3.0, 1.0], [7.0, 0.0, 4.0]])
_G = np.array([[1.0, -2.0], [0.5, 3.0]])  # the output gradient of section 5.7
_X_FU = np.array([[[[1.0, 2.0], [4.0, 5.0]]]])
_W_FU = np.full((1, 1, 2, 2), 2.0)


def _shape_of(got):
    return getattr(got, "shape", None)


# -- ch05.output_length: output_length(n, k, stride=1, padding=0, dilation=1) -> int -----
def output_length(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """floor((n + 2p - d (k - 1) - 1) / s) + 1, the length of a convolution's output."""
    return _conv_output_size(input_size, kernel_size, stride, padding, dilation)


def _length_random(rng):
    while True:
        n, k = int(rng.integers(1, 65)), int(rng.integers(1, 8))
        s, p, d = int(rng.integers(1, 5)), int(rng.integers(0, 4)), int(rng.integers(1, 4))
        if n + 2 * p >= d * (k - 1) + 1:
            return case(n, k, s, p, d)


def _length(stride=1, padding=0, dilation=1, rule=None):
    """A wrong answer: ``rule(n, k, s, p, d)`` with the given defaults."""
    def wrong(input_size, kernel_size, stride=stride, padding=padding, dilation=dilation):
        return rule(input_size, kernel_size, stride, padding, dilation)
    return wrong


_RIGHT_RULE = lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s + 1

OUTPUT_LENGTH = Exercise(
    name="ch05.output_length",
    title="The output size of a convolution",
    reference=output_length,
    cases=[
        case(28, 5, note="only the sizes: stride 1, no padding, no dilation"),
        case(28, 5, padding=2, note="padding as a keyword: layer 1 of Lindholm et al."),
        case(28, 5, 2, 2, note="layer 2 of Lindholm et al.: stride 2"),
        case(14, 4, 2, 1, 1, note="layer 3 of Lindholm et al.: an even kernel"),
        case(4, 2, 1, 0, 1, note="Fu's padded 4x4 image, stride 1"),
        case(4, 2, 2, note="Fu's padded 4x4 image, stride 2"),
        case(224, 7, 2, 3, note="ResNet's first layer"),
        case(16, 2, dilation=8, note="a WaveNet kernel, dilation 8 as a keyword"),
        case(10, 3, 3, note="the stride does not divide evenly"),
        case(5, 5, note="the kernel fills the input"),
        case(1, 1, note="a single input and a single tap"),
        case(9, 3, 2, 1, 4, note="every argument: the dilated kernel spans 9"),
    ],
    random_case=_length_random,
    n_random=30,
    mistakes=[
        Mistake(_length(rule=lambda n, k, s, p, d: (n + 2 * p - d * (k - 1)) // s),
                "The 1 for the first window is inside the division. Which positions are s "
                "apart: all of them, or the ones after the first?"),
        Mistake(_length(rule=lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s),
                "One too few, an off-by-one: that counts the steps between the first and the "
                "last window. How many window positions does that make?"),
        Mistake(_length(rule=lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) / s + 1),
                "The result is a float: a division that does not round. Is a number of window "
                "positions rounded up or down when the stride does not divide evenly, and "
                "which Python operator does that for integers?"),
        Mistake(_length(rule=lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1),
                "The padding is counted once. On how many sides of the input are the "
                "`padding` zeros added?"),
        Mistake(_length(rule=lambda n, k, s, p, d: (n - d * (k - 1) - 1) // s + 1),
                "The padding is missing. Over which input does the kernel slide: the original "
                "one or the padded one, and how long is that?"),
        Mistake(_length(rule=lambda n, k, s, p, d: (n + 2 * p - k) // s + 1),
                "The dilation is ignored. How many inputs does a kernel of k taps span when "
                "its taps are d apart?"),
        Mistake(_length(rule=lambda n, k, s, p, d: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1),
                "It rounds up, counting a last window that sticks out of the padded input. "
                "Must a window fit entirely inside the padded input?"),
        Mistake(_length(padding=1, rule=_RIGHT_RULE),
                "Right when every argument is given, wrong with the defaults: which padding "
                "does the text mean when none is given?"),
        Mistake(_length(dilation=0, rule=_RIGHT_RULE),
                "Right when every argument is given, wrong with the defaults: which dilation "
                "is an ordinary kernel, whose taps are neighbours?"),
        Mistake(_length(stride=0, rule=_RIGHT_RULE),
                "A division by zero when the stride is left out: which stride does an "
                "ordinary convolution have?"),
    ],
    hints={
        "values": "Count by hand for one small case: with n + 2p padded inputs and a kernel "
                  "spanning d(k - 1) + 1 of them, where does the first window start, where "
                  "can the last one start, and how many starts s apart fit in between?",
        "type": "The number of window positions is a whole number: is your function's "
                "result an int?",
        "exception": "Some checks give only the input and kernel sizes, or name the others "
                     "as keywords: does your function give stride, padding and dilation the "
                     "defaults the text uses, under those names?",
    },
    hint_steps=(
        "Count window positions along one axis: the first window starts at 0; how long is "
        "the padded input, and how many inputs does one dilated window cover?",
        "The last start may be at most the padded length minus the window's span. Starts "
        "are s apart, so their number is that last start divided by s, rounded down, plus "
        "one for the start at 0.",
        "Give the parameters the values that mean 'nothing special': stride 1, no padding, "
        "taps that are neighbours.",
    ),
)


# -- ch05.conv2d: conv2d(x, weight, bias, stride=1, padding=0) -> (N, O, H', W') ---------
def conv2d(x, weight, bias, stride=1, padding=0):
    """A convolution layer's output, as torch.nn.functional.conv2d (int stride and padding)."""
    return conv2d_forward(x, weight, bias, stride=stride, padding=padding)[0]


def _conv_case(n, c, o, h, w, kh, kw, stride, padding, dtype=np.float64, note=""):
    kwargs = {} if (stride, padding) == (1, 0) else dict(stride=stride, padding=padding)
    return case(_rng.standard_normal((n, c, h, w)).astype(dtype),
                _rng.standard_normal((o, c, kh, kw)).astype(dtype),
                _rng.standard_normal(o).astype(dtype), note=note, **kwargs)


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
            return ("The output has one channel per *input* channel. How many maps does a "
                    "layer with weight of shape (O, C, kh, kw) produce, and what happens to "
                    "the C channels inside each filter?")
        return None
    dh, dw = shape[2] - expected.shape[2], shape[3] - expected.shape[3]
    if (dh, dw) != (0, 0) and dh in (-1, 0) and dw in (-1, 0):
        return ("A window position too few along an axis, an off-by-one. How many window "
                "starts, s apart, fit in the padded input (eq. ch05-output-size)? Were the "
                "zeros padded on both sides?")
    if (dh, dw) != (0, 0) and dh in (0, 1) and dw in (0, 1):
        return ("A window position too many along an axis. Must the last window fit "
                "entirely inside the padded input?")
    return None


CONV2D = Exercise(
    name="ch05.conv2d",
    title="A convolution layer with stride and padding",
    reference=conv2d,
    cases=[
        case(_X_FU, _W_FU, np.zeros(1), stride=1, padding=1,
             note="Fu's 2x2 image padded to 4x4, stride 1"),
        case(_X_FU, _W_FU, np.zeros(1), stride=2, padding=1, note="the same with stride 2"),
        _conv_case(2, 3, 4, 6, 6, 3, 3, 1, 1, note="3x3 'same' convolution"),
        _conv_case(1, 2, 3, 7, 7, 3, 3, 2, 0, note="stride 2, no padding"),
        _conv_case(2, 1, 2, 5, 8, 2, 3, 1, 2, note="a non-square kernel, padding 2"),
        _conv_case(1, 3, 2, 9, 6, 3, 2, 3, 1, note="stride 3 that does not divide evenly"),
        _conv_case(2, 4, 3, 4, 4, 1, 1, 1, 0, note="a 1x1 convolution with the defaults"),
        _conv_case(1, 2, 2, 6, 6, 3, 3, 2, 1, np.float32, note="float32"),
    ],
    random_case=_conv_random,
    rtol=1e-5,
    atol=1e-6,
    mistakes=[
        Mistake(lambda x, weight, bias, stride=1, padding=0:
                conv2d(x, weight[:, :, ::-1, ::-1], bias, stride, padding),
                "The kernel is flipped: that is a true convolution. Which entry of the kernel "
                "multiplies the top-left pixel of a window in the cross-correlation "
                "(eq. ch05-xcorr2d)?"),
        Mistake(lambda x, weight, bias, stride=1, padding=0:
                conv2d(x, weight, np.zeros_like(bias), stride, padding),
                "The bias is missing. Where does bias[o] go in output channel o?"),
        Mistake(lambda x, weight, bias, stride=1, padding=0: conv2d(x, weight, bias, 1, padding),
                "The stride is ignored: the windows start at every row and column. Where in "
                "the padded input does the window of output row r start when the stride is s?"),
        Mistake(lambda x, weight, bias, stride=1, padding=0: conv2d(x, weight, bias, stride, 0),
                "The padding is ignored. Over which input must the windows slide, and what "
                "surrounds the image there?"),
        Mistake(lambda x, weight, bias, stride=1, padding=0:
                conv2d(x, weight, bias, stride, padding) - bias[None, :, None, None]
                + bias[None, :, None, None] * weight.shape[1],
                "The bias is added once per input channel. How many biases does one output "
                "value of eq. (ch05-channels) get?"),
    ],
    diagnose=_conv_diagnose,
    hints={
        "values": "Try the two cases of Fu first (stride 1, then 2): is the padding right, and "
                  "does each output come from the window you expect? Then: is every input "
                  "channel summed, and the bias added once?",
        "shape": "The output is (N, O, H', W') with H' and W' from eq. (ch05-output-size): "
                 "which of the four is off?",
        "exception": "Print the shape of one window and of the weight: do they match, and does "
                     "every window lie inside the padded input?",
        "mutated": "Your function changed one of its arguments: build new arrays (the padded "
                   "input is a new array) instead of writing into x or weight.",
    },
    hint_steps=(
        "Start from the stride-1, unpadded loop of section 5.8: what do padding and stride "
        "change in it? One changes the array the windows are cut from, the other where they "
        "start.",
        "Pad first, with `padding` zeros on every side of each image (not along the batch or "
        "channel axes). Then output (r, q) reads the window whose top-left corner is at row "
        "r times s and column q times s of the padded input.",
        "The number of output rows and columns follows from eq. (ch05-output-size) with the "
        "padded size; each output is the sum over channels and kernel entries, plus one bias "
        "per output channel.",
    ),
)


# -- ch05.conv1d_matrix: the banded (Toeplitz) matrix of a 1-D convolution ---------------
def conv1d_matrix(weight, input_length, stride=1, padding=0):
    """The (L', L) matrix M with M @ x equal to the cross-correlation of x (length L) with
    the K taps of ``weight``, zero-padded by ``padding`` on both sides, with ``stride``:
    M[r, c] = weight[c + padding - r * stride] where that index lies in 0..K-1, else 0."""
    weight = np.asarray(weight, dtype=np.float64)
    basis = np.eye(input_length)[:, None, :]  # (L, 1, L): one unit impulse per input sample
    out, _ = conv1d_forward(basis, weight[None, None], stride=stride, padding=padding)
    return out[:, 0, :].T  # (L', L): column c is the response to the impulse at c


def _matrix_case(taps, length, stride=None, padding=None, dtype=np.float64, note=""):
    weight = _rng.standard_normal(taps).astype(dtype) if isinstance(taps, int) else taps
    kwargs = {k: v for k, v in (("stride", stride), ("padding", padding)) if v is not None}
    return case(weight, length, note=note, **kwargs)


def _matrix_random(rng):
    while True:
        k, length = int(rng.integers(1, 6)), int(rng.integers(1, 10))
        s, p = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        if length + 2 * p >= k:
            return case(rng.standard_normal(k), length, s, p)


def _matrix_wrong(offset):
    """A wrong answer: tap index c + offset(K, p) - r s instead of c + p - r s."""
    def wrong(weight, input_length, stride=1, padding=0):
        k = len(weight)
        rows = (input_length + 2 * padding - k) // stride + 1
        m = np.zeros((rows, input_length))
        for r in range(rows):
            for c in range(input_length):
                tap = c + offset(k, padding) - r * stride
                if 0 <= tap < k:
                    m[r, c] = weight[tap]
        return m
    return wrong


def _matrix_diagnose(c, got, expected):
    shape = _shape_of(got)
    if shape is None or len(shape) != 2 or shape == expected.shape:
        return None
    weight, length = c.args[0], c.args[1]
    stride = c.kwargs.get("stride", c.args[2] if len(c.args) > 2 else 1)
    padding = c.kwargs.get("padding", c.args[3] if len(c.args) > 3 else 0)
    k, rows = len(weight), expected.shape[0]
    if shape == (rows, length + 2 * padding) and padding:
        return ("It has a column for every sample of the *padded* signal. The padded zeros "
                "multiply whatever is in their columns and add nothing: the matrix acts on "
                "x itself, so which columns does it keep?")
    if shape[1] == length and shape[0] == length + 2 * padding - k + 1 and stride > 1:
        return ("One row for every window position at stride 1. With stride s, how far "
                "apart do the windows start, and how many rows does that leave "
                "(eq. ch05-output-size)?")
    if shape[1] == length and shape[0] == (length - k) // stride + 1 and padding:
        return ("The rows are those of an unpadded ('valid') convolution. How many windows "
                "fit once `padding` zeros are added on both sides?")
    if shape[1] == length and shape[0] in (rows - 1, rows + 1):
        return ("One row too few or too many. How many window starts, s apart, fit in the "
                "padded signal (eq. ch05-output-size)?")
    return None


CONV1D_MATRIX = Exercise(
    name="ch05.conv1d_matrix",
    title="The banded matrix of a 1-D convolution",
    reference=conv1d_matrix,
    cases=[
        _matrix_case(np.array([0.5, -1.0, 2.0]), 5, padding=1,
                     note="Duan's example: three weights, five inputs, x_0 = x_6 = 0"),
        _matrix_case(3, 6, note="the defaults: stride 1, no padding"),
        _matrix_case(4, 9, 2, note="stride 2: each row shifts by two columns"),
        _matrix_case(3, 4, padding=2, note="'full' padding, K - 1 zeros on each side"),
        _matrix_case(np.array([2.5]), 4, note="a single tap"),
        _matrix_case(5, 5, note="the kernel as long as the signal: one row"),
        _matrix_case(np.array([1.0, 2.0, 3.0]), 2, padding=1,
                     note="a kernel longer than the signal, with padding"),
        _matrix_case(4, 10, 3, 1, note="stride 3 and padding 1"),
        _matrix_case(2, 7, 1, 1, note="an even kernel with padding 1"),
        _matrix_case(3, 5, 1, 1, dtype=np.float32, note="float32 weights"),
    ],
    random_case=_matrix_random,
    mistakes=[
        Mistake(lambda weight, input_length, stride=1, padding=0:
                conv1d_matrix(np.asarray(weight)[::-1], input_length, stride, padding),
                "The kernel is reversed along each row: that is the matrix of a true "
                "convolution. In the cross-correlation (eq. ch05-xcorr1d), which weight meets "
                "the first sample of a window?"),
        Mistake(_matrix_wrong(lambda k, p: k // 2),
                "The kernel sits centred on the diagonal whatever the padding. With p zeros in "
                "front, at which sample of x does the first window start, and which tap "
                "meets x[0] there?"),
        Mistake(_matrix_wrong(lambda k, p: 0),
                "The kernel starts on the diagonal as if there were no padding. With p zeros "
                "in front, which tap of the first window meets x[0]?"),
    ],
    diagnose=_matrix_diagnose,
    hints={
        "values": "Check Duan's case first: eq. (ch05-banded) is its answer. Then: in row r, "
                  "which column does tap 0 fall on, and does the next row move by the stride?",
        "shape": "One row per output (eq. ch05-output-size) and one column per sample of the "
                 "unpadded input: which do you have?",
        "exception": "Some checks leave out stride and padding, or give them as keywords: do "
                     "they have their defaults (1 and 0) and these names? And do you skip "
                     "the taps that fall on padding, outside the matrix?",
        "mutated": "Your function changed the weight it was given: build the matrix as a new "
                   "array.",
    },
    hint_steps=(
        "Row r of the matrix holds what output r does with each input sample. Which samples "
        "does window r cover, counted in the padded signal?",
        "Window r starts at position r times s of the padded signal, which is sample "
        "r s - p of x itself. Tap k of the kernel meets sample r s - p + k; taps that meet a "
        "padded zero have no column.",
        "Fill the matrix with zeros, then, for each row, write the taps that land on real "
        "samples. With three taps, p = 1 and s = 1 you should get eq. (ch05-banded).",
    ),
)


# -- ch05.receptive_field: the receptive field of a stack of layers ---------------------
def receptive_field(kernel_sizes, strides=None, dilations=None):
    """How many inputs, along one axis, a unit of the last layer of a stack sees:
    1 + sum_l d_l (k_l - 1) * (s_1 s_2 ... s_(l-1)), the strides of the layers below l."""
    strides = [1] * len(kernel_sizes) if strides is None else strides
    dilations = [1] * len(kernel_sizes) if dilations is None else dilations
    field, jump = 1, 1
    for k, s, d in zip(kernel_sizes, strides, dilations):
        field += d * (k - 1) * jump  # this layer's taps are `jump` inputs apart
        jump *= s
    return field


def _field_random(rng):
    depth = int(rng.integers(1, 6))
    kernels = [int(v) for v in rng.integers(1, 8, size=depth)]
    strides = [int(v) for v in rng.integers(1, 4, size=depth)]
    if rng.random() < 0.3:
        return case(kernels, strides, [int(v) for v in rng.integers(1, 4, size=depth)])
    return case(kernels, strides)


def _field(rule):
    """A wrong answer from ``rule(k, s, d, below, above)`` summed over the layers, plus 1."""
    def wrong(kernel_sizes, strides=None, dilations=None):
        n = len(kernel_sizes)
        s = [1] * n if strides is None else list(strides)
        d = [1] * n if dilations is None else list(dilations)
        total = 1
        for i in range(n):
            below, above = int(np.prod(s[:i])), int(np.prod(s[i + 1:]))
            total += rule(kernel_sizes[i], s[i], d[i], below, above)
        return total
    return wrong


RECEPTIVE_FIELD = Exercise(
    name="ch05.receptive_field",
    title="The receptive field of a stack of layers",
    reference=receptive_field,
    cases=[
        case([5], note="a single layer"),
        case([], note="no layer at all: a unit is an input"),
        case([3, 3], note="two stride-1 layers"),
        case([5], [2], note="a single layer with stride 2"),
        case([3, 3], [1, 2], note="a stride in the last layer"),
        case([3, 3], [2, 1], note="the example of section 5.10: stride 2, then stride 1"),
        case([3, 3, 3], [2, 2, 2], note="three layers of stride 2"),
        case([5, 2, 5, 2], [1, 2, 1, 2], note="LeNet: conv, pool, conv, pool (chapter 6)"),
        case([7, 3], [2, 2], note="ResNet's stem: a 7x7 convolution and a pooling, stride 2"),
        case([1, 1], [2, 2], note="1x1 convolutions: one input, whatever the stride"),
        case([2, 2, 2, 2], dilations=[1, 2, 4, 8], note="the dilated causal stack of 5.10"),
        case([2] * 30, None, [2**i for i in range(10)] * 3, note="WaveNet's three blocks"),
        case([3, 3, 3], [1, 2, 1], [1, 1, 2], note="strides and dilations"),
        case([11, 3, 5, 3, 3, 3, 3, 3], [4, 2, 1, 2, 1, 1, 1, 2],
             note="AlexNet up to its last pooling"),
    ],
    random_case=_field_random,
    n_random=20,
    mistakes=[
        Mistake(_field(lambda k, s, d, below, above: d * (k - 1)),
                "That is the rule for stride-1 stacks, eq. (ch05-rf) and Chen's eq. 17. After "
                "a layer with stride s, how many inputs apart are the units that two "
                "neighbouring taps of the next layer read?"),
        Mistake(_field(lambda k, s, d, below, above: d * (k - 1) * above),
                "The strides are taken from the layers *above* each layer. Which layers lie "
                "between a layer's taps and the input, and spread them apart?"),
        Mistake(_field(lambda k, s, d, below, above: d * (k - 1) * below * s),
                "Each layer's span is multiplied by its *own* stride as well. Does a layer's "
                "stride change what one of its units sees, or only where the next unit "
                "starts?"),
        Mistake(_field(lambda k, s, d, below, above: d * k * below),
                "Each layer adds its whole kernel size. A kernel of k taps, one of which is "
                "the unit's own position, adds how many new positions?"),
        Mistake(_field(lambda k, s, d, below, above: (k - 1) * below),
                "The dilation is ignored. How far apart are the taps of a kernel with "
                "dilation d?"),
    ],
    hints={
        "values": "Work the example of section 5.10 by hand (3 then 3, stride 2 then 1: 7 "
                  "inputs). Which layers' strides spread the taps of a layer apart?",
        "type": "A receptive field is a whole number of inputs: return an int.",
        "exception": "Some checks give no strides or dilations (they are 1), and one gives no "
                     "layers at all: what does a unit see then?",
        "mutated": "Your function changed a list it was given: make a new list instead of "
                   "filling in the caller's.",
    },
    hint_steps=(
        "Follow one unit of the last layer down the stack: going through layer l, how many "
        "positions of layer l's input does the unit's field gain?",
        "Layer l's kernel spans d_l (k_l - 1) + 1 positions of its input; its field grows by "
        "d_l (k_l - 1) positions. But measured in *inputs of the network*, neighbouring "
        "positions of layer l's input are some distance apart: how far?",
        "That distance is the product of the strides of all the layers below l (1 for the "
        "first layer). Add up d_l (k_l - 1) times it over the layers, and 1 for the unit "
        "itself.",
    ),
)


# -- ch05.conv2d_weight_grad: dL/dweight of a strided, padded conv2d --------------------
def conv2d_weight_grad(x, dout, kernel_size, stride=1, padding=0):
    """dL/dweight of conv2d(x, weight, stride, padding), given dout = dL/dout:
    dweight[o, c, i, j] = sum_{n, y, x} dout[n, o, y, x] xp[n, c, y s + i, x s + j].

    x: (N, C, H, W), dout: (N, O, H', W'), kernel_size (kh, kw) -> (O, C, kh, kw).
    """
    x = np.asarray(x, dtype=np.float64)
    kh, kw = kernel_size
    zeros = np.zeros((dout.shape[1], x.shape[1], kh, kw))  # (O, C, kh, kw)
    _, cache = conv2d_forward(x, zeros, None, stride=stride, padding=padding)
    return conv2d_backward(np.asarray(dout, dtype=np.float64), cache)[1]


def _dout_shape(n, o, h, w, kh, kw, s, p):
    return (n, o, (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1)


def _dw_case(n, c, o, h, w, kh, kw, s=1, p=0, dtype=np.float64, note=""):
    x = _rng.standard_normal((n, c, h, w)).astype(dtype)
    dout = _rng.standard_normal(_dout_shape(n, o, h, w, kh, kw, s, p)).astype(dtype)
    kwargs = {} if (s, p) == (1, 0) else dict(stride=s, padding=p)
    return case(x, dout, (kh, kw), note=note, **kwargs)


def _dw_random(rng):
    while True:
        n, c, o = (int(v) for v in rng.integers(1, 4, size=3))
        h, w = (int(v) for v in rng.integers(2, 8, size=2))
        kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
        s, p = int(rng.integers(1, 4)), int(rng.integers(0, 2))
        if kh <= h + 2 * p and kw <= w + 2 * p:
            return case(rng.standard_normal((n, c, h, w)),
                        rng.standard_normal(_dout_shape(n, o, h, w, kh, kw, s, p)), (kh, kw),
                        stride=s, padding=p)


def _dw_wrong(transform=lambda dw, n: dw, contiguous=False, pad=True, images=None):
    """A wrong weight gradient: ``contiguous`` ignores the stride, ``pad=False`` the padding."""
    def wrong(x, dout, kernel_size, stride=1, padding=0):
        kh, kw = kernel_size
        p = padding if pad else 0
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        if images is not None:
            xp, dout = xp[:images], dout[:images]
        ho, wo = dout.shape[2:]
        s = 1 if contiguous else stride
        dw = np.zeros((dout.shape[1], x.shape[1], kh, kw))
        for i in range(kh):
            for j in range(kw):
                seen = xp[:, :, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]
                if seen.shape[2:] != (ho, wo):
                    raise ValueError("operands could not be broadcast together")
                dw[:, :, i, j] = np.einsum("nohw,nchw->oc", dout, seen)
        return transform(dw, len(x))
    return wrong


def _dw_diagnose(c, got, expected):
    shape = _shape_of(got)
    if shape is None or shape == expected.shape:
        return None
    o, ch, kh, kw = expected.shape
    if shape in ((kh, kw), (o, kh, kw), (ch, kh, kw)):
        return ("Some axes were summed away. How many entries does the weight have, and "
                "does each get its own gradient?")
    if len(shape) == 4 and shape[:2] == (o, ch) and shape[2:] != (kh, kw):
        return ("The gradient's kernel is the wrong size. A correlation of the input with "
                "the output gradient, with the stride and padding ignored, gives a kernel of "
                "another size: which rows of x did weight row i meet?")
    return None


CONV2D_WEIGHT_GRAD = Exercise(
    name="ch05.conv2d_weight_grad",
    title="The gradient of a convolution's weight",
    reference=conv2d_weight_grad,
    cases=[
        case(_A[None, None], _G[None, None], (2, 2),
             note="Chidiac's input and the output gradient of section 5.7"),
        _dw_case(1, 1, 1, 5, 5, 3, 3, note="one image, one channel"),
        _dw_case(2, 1, 1, 4, 4, 2, 2, note="two images: their contributions add up"),
        _dw_case(3, 2, 4, 6, 5, 3, 2, note="several channels, a non-square kernel"),
        _dw_case(2, 2, 3, 7, 7, 3, 3, s=2, note="stride 2"),
        _dw_case(2, 2, 2, 5, 6, 3, 3, p=1, note="'same' padding"),
        _dw_case(1, 3, 2, 6, 6, 3, 3, s=2, p=1, note="stride 2, padding 1: an unused last row"),
        _dw_case(2, 3, 2, 5, 5, 1, 1, s=2, note="a 1x1 kernel with stride 2"),
        _dw_case(2, 2, 3, 5, 5, 3, 3, s=1, p=1, dtype=np.float32, note="float32"),
    ],
    random_case=_dw_random,
    rtol=1e-5,
    atol=1e-6,
    mistakes=[
        Mistake(_dw_wrong(lambda dw, n: dw[:, :, ::-1, ::-1]),
                "The result is rotated by 180 degrees, a convolution where a cross-correlation "
                "belongs (eq. ch05-dk). In the forward pass, which input pixel does "
                "weight (i, j) meet at output (y, x): one to the lower right of the window's "
                "corner, or to the upper left?"),
        Mistake(_dw_wrong(lambda dw, n: dw / n),
                "It averages over the batch. The weight is shared by every image: how do the "
                "images' contributions to its gradient combine?"),
        Mistake(_dw_wrong(images=1),
                "Only the first image counts. The weight is shared by every image of the "
                "batch: what happens to the other images' contributions?"),
        Mistake(_dw_wrong(lambda dw, n: dw.transpose(1, 0, 2, 3)),
                "The first two axes are swapped. The weight's layout is (O, C, kh, kw): which "
                "axis counts the filters?"),
        Mistake(_dw_wrong(contiguous=True),
                "The stride is ignored: weight (i, j) is paired with neighbouring rows and "
                "columns of x. With stride s, how far apart are the input pixels that one "
                "weight meets at two neighbouring outputs?"),
        Mistake(_dw_wrong(pad=False),
                "The padding is ignored: the windows are cut from x itself. Over which input "
                "did the forward pass slide its kernel?"),
    ],
    diagnose=_dw_diagnose,
    hints={
        "values": "Check Chidiac's case first, eq. (ch05-dk) on one image and one channel. "
                  "Then: does every image, every output position and every filter contribute, "
                  "and is the stride respected?",
        "shape": "dweight has the weight's shape (O, C, kh, kw): which axis is off?",
        "exception": "Pad x first. Is every slice of the padded x you take the shape of "
                     "dout's maps, (H', W')? With stride s, its rows are s apart.",
        "mutated": "Your function changed x or dout: build new arrays (pad into a new one) "
                   "instead.",
    },
    hint_steps=(
        "In the forward pass, weight (o, c, i, j) multiplies one pixel of the padded x at "
        "every output (n, o, y, x). Which pixel, with stride s?",
        "So its gradient is the sum, over the images and the output positions, of the "
        "output gradient times that pixel: eq. (ch05-dk), with the input's pixels taken s "
        "apart.",
        "For a fixed (i, j), the pixels it met form a strided slice of the padded x of the "
        "same height and width as dout's maps. Multiply it with dout and sum over the images "
        "and positions, for every pair of filter and channel at once.",
    ),
)

EXERCISES = [OUTPUT_LENGTH, CONV2D, CONV1D_MATRIX, RECEPTIVE_FIELD, CONV2D_WEIGHT_GRAD]
