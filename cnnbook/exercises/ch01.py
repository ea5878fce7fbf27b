"""Chapter 1 exercises: the perceptron rule with 0/1 labels, the forward pass of a network
of threshold logic units, the widest hidden layer a parameter budget allows, and the
shift of an image with zero fill.

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch01.py checks this). The bias is added, w.x + b, with
b = -theta for a unit that fires at a threshold theta, as everywhere in the book.
"""
from __future__ import annotations

import numpy as np

from ..activations import binary_step_forward as _binary_step_forward
from ..data import shift_images as _shift_images
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(101)  # draws the fixed cases once, the same on every run


# -- ch01.perceptron: perceptron(X, t, epochs) -> (w, b) -------------------------------
def perceptron(X, t, epochs):
    """Rosenblatt's rule with labels t in {0, 1} and the step H (H(0) = 1), from zero
    weights, visiting the rows of X in order: after each example, w += (t_n - y_n) x_n and
    b += t_n - y_n with y_n = H(w.x_n + b); at most ``epochs`` passes (the first pass
    without a mistake ends it: later passes would change nothing). X (N, D), t (N,) ->
    (w (D,) float64, b float)."""
    X = np.asarray(X, dtype=np.float64)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        mistakes = 0
        for x_n, t_n in zip(X, t):
            error = float(t_n) - (1.0 if x_n @ w + b >= 0 else 0.0)
            if error != 0:
                w = w + error * x_n
                b += error
                mistakes += 1
        if mistakes == 0:
            break
    return w, float(b)


def _perceptron_wrong(fires=lambda z: z >= 0, update=None, bias_sign=1.0, extra_epochs=0):
    """A wrong perceptron: ``fires(z)`` is its step, ``update(t, y, z)`` the error it uses."""
    def wrong(X, t, epochs):
        X = np.asarray(X, dtype=np.float64)
        w, b = np.zeros(X.shape[1]), 0.0
        for _ in range(epochs + extra_epochs):
            for x_n, t_n in zip(X, t):
                z = x_n @ w + b
                y = 1.0 if fires(z) else 0.0
                error = update(float(t_n), y, z) if update else float(t_n) - y
                w = w + error * x_n
                b += bias_sign * error
        return w, float(b)
    return wrong


def _perceptron_plus_minus(X, t, epochs):
    """The rule of section 1.3 with y = 2t - 1: an update also on the boundary, z = 0."""
    X = np.asarray(X, dtype=np.float64)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        for x_n, t_n in zip(X, t):
            y = 2.0 * float(t_n) - 1.0
            if y * (x_n @ w + b) <= 0:
                w, b = w + y * x_n, b + y
    return w, float(b)


def _perceptron_batch(X, t, epochs):
    """One update per pass, from the errors of all examples under the pass's first weights."""
    X = np.asarray(X, dtype=np.float64)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        error = np.asarray(t, dtype=np.float64) - (X @ w + b >= 0)
        w, b = w + error @ X, b + float(error.sum())
    return w, float(b)


def _perceptron_no_bias(X, t, epochs):
    X = np.asarray(X, dtype=np.float64)
    w = np.zeros(X.shape[1])
    for _ in range(epochs):
        for x_n, t_n in zip(X, t):
            w = w + (float(t_n) - (1.0 if x_n @ w >= 0 else 0.0)) * x_n
    return w, 0.0


_AND = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def _separable(rng, n, d, dtype=np.float64):
    """n integer points in [-3, 3]^d labelled by an integer line; some lie on it (label 1)."""
    X = rng.integers(-3, 4, size=(n, d)).astype(dtype)
    w, b = rng.integers(-2, 3, size=d), int(rng.integers(-2, 3))
    return X, (X @ w + b >= 0).astype(int)


def _perceptron_random(rng):
    X, t = _separable(rng, int(rng.integers(1, 12)), int(rng.integers(1, 4)))
    return case(X, t, int(rng.integers(1, 15)))


_P_X, _P_T = _separable(_rng, 20, 2)
_P3_X, _P3_T = _separable(_rng, 15, 3)
_FLOAT_X = _rng.uniform(-2, 2, size=(30, 2))
_FLOAT_T = (_FLOAT_X @ np.array([1.0, -0.7]) + 0.3 >= 0).astype(int)

PERCEPTRON = Exercise(
    name="ch01.perceptron",
    title="The perceptron rule with 0/1 labels",
    reference=perceptron,
    cases=[
        case(_AND, np.array([0, 0, 0, 1]), 20, note="the AND gate"),
        case(_AND, np.array([0, 1, 1, 1]), 20, note="the OR gate"),
        case(np.array([[2.0, 1.0]]), np.array([1]), 5,
             note="one example of class 1: the zero weights already fire on it"),
        case(np.array([[2.0, 1.0]]), np.array([0]), 5, note="one example of class 0"),
        case(_AND, np.array([0, 1, 1, 0]), 7, note="XOR: no pass is ever free of mistakes"),
        case(_AND, np.array([0, 0, 0, 1]), 0, note="no pass at all"),
        case(_P_X, _P_T, 50, note="20 points with whole-number coordinates, some on the line"),
        case(_P_X, _P_T, 2, note="two passes, too few to converge"),
        case(_P3_X, _P3_T, 50, note="three inputs"),
        case(_FLOAT_X, _FLOAT_T, 100, note="30 points with real coordinates"),
        case(_P_X.astype(np.float32), _P_T, 50, note="float32 inputs"),
    ],
    random_case=_perceptron_random,
    rtol=1e-9,
    atol=1e-9,
    outputs=("w", "b"),
    mistakes=[
        Mistake(_perceptron_wrong(fires=lambda z: z > 0),
                "Your unit stays silent where w.x + b is exactly 0, so it learns from examples "
                "that are already right. What does the step H of eq. (ch01-tlu) give at z = 0?"),
        Mistake(_perceptron_plus_minus,
                "It updates on the boundary, where the step already answers 1: that is the rule "
                "of section 1.3 for labels -1 and +1, which counts a point on the line as a "
                "mistake. With labels 0 and 1 the rule updates when the prediction H(w.x + b) "
                "differs from the label. Is the prediction wrong for an example of class 1 "
                "with w.x + b = 0?"),
        Mistake(_perceptron_wrong(update=lambda t, y, z: t),
                "It adds every example of class 1, right or wrong. When does the perceptron "
                "change its weights, and by what?"),
        Mistake(_perceptron_wrong(update=lambda t, y, z: y - t),
                "Every step goes the wrong way: after a mistake on an example of class 1 the "
                "weights move so that w.x + b gets smaller. Which way must w.x + b move for "
                "an example that should fire?"),
        Mistake(_perceptron_wrong(bias_sign=-1.0),
                "The weights are right but the bias moves the wrong way: it is updated as if "
                "it were the threshold theta. The bias is b = -theta and enters as the weight "
                "of a constant input 1: how does the rule change the weight of an input that "
                "is 1?"),
        Mistake(_perceptron_no_bias,
                "The bias never changes, so every line passes through the origin. Which "
                "parameter besides w does eq. (ch01-perceptron) update?"),
        Mistake(_perceptron_batch,
                "It updates once per pass, with the errors of all examples under the same "
                "weights. The perceptron visits the examples one by one: which weights does "
                "the second example meet?"),
        Mistake(_perceptron_wrong(extra_epochs=1),
                "It makes one pass more than `epochs` allows. How many passes over the data "
                "does `epochs` ask for?"),
    ],
    hints={
        "mutated": "Your function changed X. The weights are new arrays of their own: which "
                   "line writes into an example?",
        "values": "Follow one pass by hand on the AND gate: after which example does your "
                  "function change w or b, and does the rule agree?",
        "type": "Return a pair: the weights as an array of shape (D,) and the bias as a number.",
        "shape": "The weights have one entry per input, shape (D,). Which array did you return "
                 "first?",
        "exception": "Which shapes meet in your product of an example with the weights? An "
                     "example is a row of X, shape (D,).",
    },
    hint_steps=(
        "Start from zero weights and a zero bias and go through the rows of X in order. For "
        "each example: what does the unit predict, and is that its label?",
        "The prediction is H(w.x + b) with H(0) = 1. The error t - y is then -1, 0 or +1: "
        "0 means right, and nothing changes.",
        "After a mistake, add the error times the example to w, and the error alone to b (the "
        "bias is the weight of an input that is always 1). Do this after each example, "
        "not once per pass.",
        "Repeat the pass `epochs` times; a pass without a single update can end the loop early, "
        "since the passes after it would change nothing.",
    ),
)


# -- ch01.tlu_network: tlu_network(x, weights, biases) -> (N, K) of 0.0/1.0 ------------
def tlu_network(x, weights, biases):
    """Layers of threshold logic units: a <- H(a W^T + b) for each (W, b) in turn, starting
    from a = x, H(z) = 1 for z >= 0. x (N, D); W of layer l (n_l, n_{l-1}), b (n_l,)."""
    a = np.asarray(x, dtype=np.float64)
    for weight, bias in zip(weights, biases):
        a = _binary_step_forward(a @ np.asarray(weight, np.float64).T
                                 + np.asarray(bias, np.float64))[0]
    return a


def _tlu_wrong(fires=lambda z: z >= 0, transpose=True, bias_sign=1.0, last_step=True,
               layers=None):
    def wrong(x, weights, biases):
        a = np.asarray(x, dtype=np.float64)
        pairs = list(zip(weights, biases))[:layers]
        for i, (weight, bias) in enumerate(pairs):
            z = a @ (weight.T if transpose else weight) + bias_sign * bias
            a = z if (i == len(pairs) - 1 and not last_step) else fires(z).astype(np.float64)
        return a
    return wrong


def _sigmoid_network(x, weights, biases):
    a = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        for weight, bias in zip(weights, biases):
            a = 1.0 / (1.0 + np.exp(-(a @ weight.T + bias)))
    return a


_XOR_NET = ([np.array([[1.0, 1.0], [-1.0, -1.0]]), np.array([[1.0, 1.0]])],
            [np.array([-0.5, 1.5]), np.array([-1.5])])
# Whole-number weights and biases: many pre-activations are exactly 0.
_EDGE_NET = ([np.array([[1.0, -1.0], [1.0, 1.0], [0.0, 2.0]]), np.array([[1.0, 1.0, -1.0]])],
             [np.array([0.0, -1.0, -2.0]), np.array([-1.0])])
# 3-input parity: hidden "at least k inputs on" for k = 1, 2, 3, output +1, -1, +1.
_PARITY_NET = ([np.ones((3, 3)), np.array([[1.0, -1.0, 1.0]])],
               [np.array([-0.5, -1.5, -2.5]), np.array([-0.5])])
_CUBE = np.array([[a, b, c] for a in (0.0, 1.0) for b in (0.0, 1.0) for c in (0.0, 1.0)])


def _net_case(sizes, n, note="", dtype=np.float64):
    weights = [_rng.integers(-2, 3, size=(o, i)).astype(dtype) for i, o in zip(sizes, sizes[1:])]
    biases = [_rng.integers(-2, 3, size=o).astype(dtype) for o in sizes[1:]]
    x = _rng.integers(0, 2, size=(n, sizes[0])).astype(dtype)
    return case(x, weights, biases, note=note)


def _tlu_network_random(rng):
    sizes = [int(s) for s in rng.integers(1, 5, size=rng.integers(2, 5))]
    weights = [rng.integers(-2, 3, size=(o, i)).astype(float) for i, o in zip(sizes, sizes[1:])]
    biases = [rng.integers(-2, 3, size=o).astype(float) for o in sizes[1:]]
    return case(rng.integers(0, 2, size=(int(rng.integers(1, 9)), sizes[0])).astype(float),
                weights, biases)


TLU_NETWORK = Exercise(
    name="ch01.tlu_network",
    title="A network of threshold logic units",
    reference=tlu_network,
    cases=[
        case(_AND, *_XOR_NET, note="the chapter's XOR network"),
        case(_AND, [np.array([[1.0, 1.0]])], [np.array([-1.5])], note="a single layer: AND"),
        case(_AND, *_EDGE_NET, note="pre-activations exactly 0"),
        case(_CUBE, *_PARITY_NET, note="three inputs, parity"),
        case(np.array([[1.0, 0.0]]), *_XOR_NET, note="a single example"),
        _net_case([4, 3, 3, 2], 6, note="three layers"),
        _net_case([2, 5, 1], 4, note="float32", dtype=np.float32),
    ],
    random_case=_tlu_network_random,
    mistakes=[
        Mistake(_tlu_wrong(fires=lambda z: z > 0),
                "Where a pre-activation is exactly 0 your units stay silent. What does the "
                "step H of eq. (ch01-tlu) give at z = 0?"),
        Mistake(_tlu_wrong(bias_sign=-1.0),
                "The bias enters with the wrong sign, as if it were a threshold to subtract. "
                "In this book a unit computes w.x + b, with b = -theta for the threshold "
                "theta of Chidiac's notes: is b added or subtracted?"),
        Mistake(_tlu_wrong(transpose=False),
                "Each weight matrix is stored (out, in), one row per unit, as in `cnnbook.Dense`. "
                "Which product of the batch (N, in) with that matrix gives (N, out)?"),
        Mistake(_tlu_wrong(last_step=False),
                "The last layer returns its pre-activations: its units have a step too. What "
                "does every layer of eq. (ch01-layer) apply after the weighted sum?"),
        Mistake(_tlu_wrong(layers=1),
                "Only the first layer is applied. Where does the output of one layer go?"),
        Mistake(_sigmoid_network,
                "It uses a sigmoid, a soft threshold; these units are threshold logic units. "
                "Which activation gives exactly 0 or 1?"),
    ],
    hints={
        "mutated": "Your function changed an argument. Each layer's output is a new array: "
                   "which line writes into x or a weight?",
        "values": "Work through the XOR network by hand for the input with both entries on: "
                  "what does each hidden unit output, and what does your function give?",
        "shape": "The result has one row per example and one column per unit of the last "
                 "layer. Which layer sets the number of columns?",
        "dtype": "Return floats 0.0 and 1.0, not booleans or integers.",
        "exception": "Print the shape of the batch and of each weight matrix: which product "
                     "does not fit? A weight matrix is (out, in).",
    },
    hint_steps=(
        "One layer at a time: the input of a layer is the output of the one before, and the "
        "first layer's input is x.",
        "A layer computes the pre-activations of all its units for all examples in one matrix "
        "product, eq. (ch01-layer): the batch times the transposed weight matrix, plus the bias "
        "in every row.",
        "Then the step, entry by entry: 1 where the pre-activation is at least 0, else 0, as "
        "floats. Every layer has it, the last one too.",
    ),
)


# -- ch01.max_hidden_width: max_hidden_width(n_in, n_out, budget) -> int ---------------
def max_hidden_width(n_in, n_out, budget):
    """The widest hidden layer h >= 1 for which the MLP n_in -> h -> n_out (dense layers with
    biases) has at most ``budget`` parameters, h (n_in + 1) + n_out (h + 1); 0 if none."""
    return max(0, (budget - n_out) // (n_in + n_out + 1))


def _width_random(rng):
    n_in, n_out = int(rng.integers(1, 1000)), int(rng.integers(1, 50))
    return case(n_in, n_out, int(rng.integers(0, 10**7)))


MAX_HIDDEN_WIDTH = Exercise(
    name="ch01.max_hidden_width",
    title="The widest hidden layer within a budget",
    reference=max_hidden_width,
    cases=[
        case(784, 10, 79_510, note="exactly the chapter's 784-100-10 network"),
        case(5, 37, 338, note="exactly seven hidden units"),
        case(6, 2, 114),
        case(784, 10, 79_509, note="one parameter less"),
        case(784, 10, 80_000),
        case(150_528, 1000, 10**10, note="Fu's image and ten billion parameters"),
        case(10, 5, 21, note="exactly enough for one hidden unit"),
        case(10, 5, 20, note="not enough for one hidden unit"),
        case(3, 2, 0, note="no parameters at all"),
        case(1, 1, 1000),
    ],
    random_case=_width_random,
    mistakes=[
        Mistake(lambda n_in, n_out, budget: max(0, budget // (n_in + n_out + 1)),
                "The output layer's biases are not counted. Which parameters of the network "
                "are there whatever the width h?"),
        Mistake(lambda n_in, n_out, budget: max(0, (budget - n_out) // (n_in + n_out)),
                "The hidden units' biases are not counted. What does one more hidden unit "
                "add, counting its bias?"),
        Mistake(lambda n_in, n_out, budget: max(0, budget // (n_in + n_out)),
                "No biases are counted. How many parameters does a dense layer from n_in to "
                "n_out inputs have, eq. (ch01-params)?"),
        Mistake(lambda n_in, n_out, budget: max(0, -(-(budget - n_out) // (n_in + n_out + 1))),
                "It rounds up, so the network can exceed the budget. Must the count stay "
                "within the budget?"),
        Mistake(lambda n_in, n_out, budget: max(0, (budget - n_out - 1) // (n_in + n_out + 1)),
                "A network that uses the budget exactly is rejected. Is a count equal to the "
                "budget allowed?"),
        Mistake(lambda n_in, n_out, budget: (budget - n_out) // (n_in + n_out + 1),
                "A budget too small for one hidden unit gives a negative width. What should the "
                "answer be when no width fits?"),
        Mistake(lambda n_in, n_out, budget: max(0, budget // (n_in + 1)),
                "Only the hidden layer is counted. How many dense layers does the network "
                "n_in -> h -> n_out have?"),
    ],
    hints={
        "values": "Write the number of parameters of the network as a function of h, and check "
                  "it against the chapter's 784-100-10 network, which has 79,510.",
        "type": "A width is a whole number: return an int.",
        "exception": "Use whole-number arithmetic on the three integers.",
    },
    hint_steps=(
        "Count the parameters of n_in -> h -> n_out with eq. (ch01-params): two dense layers, "
        "each with a weight matrix and a bias vector. Which terms grow with h?",
        "The count is h (n_in + n_out + 1) + n_out: it grows by n_in + n_out + 1 with each "
        "hidden unit. Which is the largest h whose count is still within the budget?",
        "Divide what is left after the fixed part by the cost of one unit and round down; "
        "when nothing is left for even one unit, the answer is 0.",
    ),
)


# -- ch01.translate: translate(images, dx, dy) -> like images --------------------------
def translate(images, dx, dy):
    """Move the content dx pixels right and dy pixels down, filling with zeros:
    out[..., i, j] = images[..., i - dy, j - dx] where that lies inside, else 0."""
    return _shift_images(images, dx, dy)


def _translate_random(rng):
    shape = (int(rng.integers(1, 3)),) + tuple(int(n) for n in rng.integers(1, 7, size=2))
    h, w = shape[1:]
    return case(rng.integers(1, 10, size=shape).astype(float),
                int(rng.integers(-w - 1, w + 2)), int(rng.integers(-h - 1, h + 2)))


def _roll(images, dx, dy):
    return np.roll(images, (dy, dx), axis=(-2, -1))


def _slices_without_zero(images, dx, dy):
    """Slices written for positive shifts only: a shift of 0 selects nothing."""
    out = np.zeros_like(images)
    out[..., dy:, dx:] = images[..., :-dy, :-dx]
    return out


_SHIFT = np.arange(1.0, 1.0 + 4 * 6).reshape(1, 4, 6)   # (N, H, W): every pixel different

TRANSLATE = Exercise(
    name="ch01.translate",
    title="Shifting images with zero fill",
    reference=translate,
    cases=[
        case(_SHIFT, 2, 1, note="2 right, 1 down"),
        case(_SHIFT, -1, -2, note="1 left, 2 up"),
        case(_SHIFT, 3, 0, note="sideways only"),
        case(_SHIFT, 0, -1, note="up only"),
        case(_SHIFT, 0, 0, note="no shift"),
        case(_SHIFT, 6, 0, note="a shift of the whole width"),
        case(_SHIFT, -2, 9, note="further down than the image is high"),
        case(np.arange(2.0 * 3 * 3 * 5).reshape(2, 3, 3, 5), 1, -1, note="(N, C, H, W)"),
        case(_rng.random((3, 28, 28)).astype(np.float32), -2, 2, note="float32 images"),
    ],
    random_case=_translate_random,
    mistakes=[
        Mistake(_roll,
                "The pixels that leave on one side come back on the other: the image wraps "
                "around. What should fill the uncovered border?"),
        Mistake(lambda images, dx, dy: _shift_images(images, -dx, -dy),
                "The content moves the opposite way. For dx > 0, where does pixel (i, j) of the "
                "input end up?"),
        Mistake(lambda images, dx, dy: _shift_images(images, dy, dx),
                "dx moves the rows and dy the columns. Which axis of an image runs from left to "
                "right?"),
        Mistake(lambda images, dx, dy: _shift_images(images, dx, 0),
                "Only the sideways shift is applied. What does dy ask for?"),
        Mistake(lambda images, dx, dy: _shift_images(images, 0, dy),
                "Only the vertical shift is applied. What does dx ask for?"),
        Mistake(_slices_without_zero,
                "It fails when one of the shifts is 0 (or negative): the slices are written for "
                "positive shifts. What does a slice that stops at minus zero select?"),
    ],
    hints={
        "mutated": "Your function changed the images it was given. The shifted images are a "
                   "new array: which line writes into the input?",
        "values": "Try a 3 x 3 image holding 1 to 9, shifted one pixel to the right, by hand: "
                  "which column should be all zeros?",
        "shape": "A shifted image has the size of the original: pixels that leave are dropped.",
        "exception": "Does your function handle a shift of 0, negative shifts, and a shift as "
                     "large as the image (where nothing is left)?",
    },
    hint_steps=(
        "Start from an array of zeros shaped like the input. Which block of the output receives "
        "pixels, and which block of the input do they come from?",
        "For dx > 0 the output's columns dx to W - 1 receive the input's columns 0 to W - 1 - dx; "
        "for dx < 0 it is the other way round. The rows follow dy in the same way.",
        "Treat the sign of each shift separately, and a shift of at least the image's size "
        "leaves only zeros. The last two axes are the rows and the columns, whatever comes "
        "before them.",
    ),
)

EXERCISES = [PERCEPTRON, TLU_NETWORK, MAX_HIDDEN_WIDTH, TRANSLATE]
