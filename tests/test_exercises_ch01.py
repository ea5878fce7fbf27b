"""Chapter 1's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, the references agree with cnnbook's layers and
with brute force, and no feedback holds the code of an answer."""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from cnnbook import BinaryStep, Dense, Sequential
from cnnbook.exercises import get
from cnnbook.exercises.ch01 import max_hidden_width, perceptron, tlu_network, translate


CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "01_neurons.ipynb"


# -- right answers, written as different readers would ----------------------------------
def perceptron_loop(X, t, epochs):
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        changed = False
        for n in range(len(X)):
            y = 1.0 if np.dot(w, X[n]) + b >= 0 else 0.0
            if y != t[n]:
                w = w + (t[n] - y) * X[n]
                b = b + (t[n] - y)
                changed = True
        if not changed:
            break
    return w, b


def perceptron_folded(X, t, epochs):
    # the bias folded in: a column of ones first, its weight first
    X1 = np.hstack([np.ones((len(X), 1)), X])
    v = np.zeros(X1.shape[1])
    for _ in range(epochs):
        for x_n, t_n in zip(X1, t):
            v += (t_n - np.heaviside(x_n @ v, 1.0)) * x_n
    return v[1:], v[0]


def perceptron_all_epochs(X, t, epochs):
    w, b = np.zeros(X.shape[1], dtype=np.float64), 0.0
    for _epoch in range(epochs):                   # no early stop: later passes change nothing
        for i, x_n in enumerate(X.astype(np.float64)):
            error = t[i] - int(x_n @ w + b >= 0)
            w += error * x_n
            b += error
    return w, float(b)


def tlu_network_loop(x, weights, biases):
    a = x
    for W, b in zip(weights, biases):
        a = np.where(a @ W.T + b >= 0, 1.0, 0.0)
    return a


def tlu_network_reduce(x, weights, biases):
    layer = lambda a, wb: np.heaviside(a @ wb[0].T + wb[1], 1.0)
    return functools.reduce(layer, zip(weights, biases), x)


def tlu_network_modules(x, weights, biases):
    layers = []
    for W, b in zip(weights, biases):
        dense = Dense(W.shape[1], W.shape[0], dtype=np.float64)
        dense.params["weight"][...] = W
        dense.params["bias"][...] = b
        layers += [dense, BinaryStep()]
    return Sequential(*layers)(x.astype(np.float64))


def tlu_network_per_example(x, weights, biases):
    out = []
    for row in x:
        a = row
        for W, b in zip(weights, biases):
            a = (W @ a + b >= 0).astype(float)
        out.append(a)
    return np.array(out)


def width_closed_form(n_in, n_out, budget):
    return max(0, (budget - n_out) // (n_in + n_out + 1))


def width_count_up(n_in, n_out, budget):
    h = 0
    while (h + 1) * (n_in + 1) + n_out * (h + 2) <= budget:
        h += 1
    return h


def width_bisect(n_in, n_out, budget):
    params = lambda h: (n_in * h + h) + (h * n_out + n_out)
    lo, hi = 0, budget + 1                 # params(lo) <= budget < params(hi), or lo = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if params(mid) <= budget else (lo, mid)
    return lo


def width_floor(n_in, n_out, budget):
    if budget < n_in + 2 * n_out + 1:
        return 0
    return math.floor((budget - n_out) / (n_in + n_out + 1))


def translate_slices(images, dx, dy):
    out = np.zeros_like(images)
    H, W = images.shape[-2:]
    if abs(dx) >= W or abs(dy) >= H:
        return out
    out[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        images[..., max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
    return out


def translate_loops(images, dx, dy):
    out = np.zeros_like(images)
    H, W = images.shape[-2:]
    for i in range(H):
        for j in range(W):
            if 0 <= i - dy < H and 0 <= j - dx < W:
                out[..., i, j] = images[..., i - dy, j - dx]
    return out


def translate_pad(images, dx, dy):
    H, W = images.shape[-2:]
    p = max(H, W, abs(dx), abs(dy))
    pad = [(0, 0)] * (images.ndim - 2) + [(p, p), (p, p)]
    big = np.pad(images, pad)
    return big[..., p - dy:p - dy + H, p - dx:p - dx + W].copy()


def translate_roll_then_clear(images, dx, dy):
    out = np.roll(images, (dy, dx), axis=(-2, -1))
    H, W = images.shape[-2:]
    rows, cols = np.arange(H)[:, None], np.arange(W)[None, :]
    inside = (rows - dy >= 0) & (rows - dy < H) & (cols - dx >= 0) & (cols - dx < W)
    return np.where(inside, out, 0).astype(images.dtype)


RIGHT = [
    ("ch01.perceptron", perceptron_loop),
    ("ch01.perceptron", perceptron_folded),
    ("ch01.perceptron", perceptron_all_epochs),
    ("ch01.tlu_network", tlu_network_loop),
    ("ch01.tlu_network", tlu_network_reduce),
    ("ch01.tlu_network", tlu_network_modules),
    ("ch01.tlu_network", tlu_network_per_example),
    ("ch01.max_hidden_width", width_closed_form),
    ("ch01.max_hidden_width", width_count_up),
    ("ch01.max_hidden_width", width_bisect),
    ("ch01.max_hidden_width", width_floor),
    ("ch01.translate", translate_slices),
    ("ch01.translate", translate_loops),
    ("ch01.translate", translate_pad),
    ("ch01.translate", translate_roll_then_clear),
]


# -- wrong answers, and the diagnosis each must get ----------------------------------------
def _perc(fires=lambda z: z >= 0, error=lambda t, y: t - y, bias_step=lambda e: e, passes=0,
          order=None):
    def wrong(X, t, epochs):
        w, b = np.zeros(X.shape[1]), 0.0
        for _ in range(epochs + passes):
            for n in (order(len(X)) if order else range(len(X))):
                y = float(fires(X[n] @ w + b))
                e = error(t[n], y)
                w = w + e * X[n]
                b = b + bias_step(e)
        return w, b
    return wrong


perc_strict = _perc(fires=lambda z: z > 0)
perc_every_class_1 = _perc(error=lambda t, y: t)
perc_backwards = _perc(error=lambda t, y: y - t)
perc_threshold_update = _perc(bias_step=lambda e: -e)
perc_frozen_bias = _perc(bias_step=lambda e: 0.0)
perc_one_pass_more = _perc(passes=1)
perc_one_pass_less = _perc(passes=-1)
perc_random_order = _perc(order=lambda n: np.random.default_rng(0).permutation(n))
for _name, _fn in list(globals().items()):
    if _name.startswith("perc_") and _fn.__name__ == "wrong":
        _fn.__name__ = _name


def perc_plus_minus(X, t, epochs):
    w, b = np.zeros(X.shape[1]), 0.0
    y = 2 * np.asarray(t) - 1
    for _ in range(epochs):
        for n in range(len(X)):
            if y[n] * (X[n] @ w + b) <= 0:
                w, b = w + y[n] * X[n], b + y[n]
    return w, b


def perc_batch(X, t, epochs):
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        err = t - (X @ w + b >= 0)
        w, b = w + X.T @ err, b + err.sum()
    return w, b


def perc_bias_first(X, t, epochs):
    w, b = perceptron(X, t, epochs)
    return b, w


def tlu_strict(x, weights, biases):
    a = x
    for W, b in zip(weights, biases):
        a = (a @ W.T + b > 0).astype(float)
    return a


def tlu_minus_bias(x, weights, biases):
    a = x
    for W, b in zip(weights, biases):
        a = (a @ W.T - b >= 0).astype(float)
    return a


def tlu_untransposed(x, weights, biases):
    a = x
    for W, b in zip(weights, biases):
        a = (a @ W + b >= 0).astype(float)
    return a


def tlu_linear_output(x, weights, biases):
    a = x
    for W, b in zip(weights[:-1], biases[:-1]):
        a = (a @ W.T + b >= 0).astype(float)
    return a @ weights[-1].T + biases[-1]


def tlu_first_layer_only(x, weights, biases):
    return (x @ weights[0].T + biases[0] >= 0).astype(float)


def tlu_sigmoid(x, weights, biases):
    a = x
    for W, b in zip(weights, biases):
        a = 1 / (1 + np.exp(-(a @ W.T + b)))
    return a


def tlu_booleans(x, weights, biases):
    a = x
    for W, b in zip(weights, biases):
        a = a @ W.T + b >= 0
    return a


def tlu_squeezed(x, weights, biases):
    return tlu_network(x, weights, biases).squeeze()


def width_no_output_bias(n_in, n_out, budget):
    return max(0, budget // (n_in + n_out + 1))


def width_no_hidden_bias(n_in, n_out, budget):
    return max(0, (budget - n_out) // (n_in + n_out))


def width_no_biases(n_in, n_out, budget):
    return budget // (n_in + n_out)


def width_round_up(n_in, n_out, budget):
    return max(0, math.ceil((budget - n_out) / (n_in + n_out + 1)))


def width_strictly_below(n_in, n_out, budget):
    h = 0
    while (h + 1) * (n_in + n_out + 1) + n_out < budget:
        h += 1
    return h


def width_negative(n_in, n_out, budget):
    return (budget - n_out) // (n_in + n_out + 1)


def width_hidden_layer_only(n_in, n_out, budget):
    return budget // (n_in + 1)


def width_float(n_in, n_out, budget):
    return max(0.0, (budget - n_out) // (n_in + n_out + 1) * 1.0)


def translate_roll(images, dx, dy):
    return np.roll(np.roll(images, dx, axis=-1), dy, axis=-2)


def translate_reversed(images, dx, dy):
    return translate_slices(images, -dx, -dy)


def translate_axes_swapped(images, dx, dy):
    return translate_slices(images, dy, dx)


def translate_sideways_only(images, dx, dy):
    return translate_slices(images, dx, 0)


def translate_positive_slices(images, dx, dy):
    out = np.zeros_like(images)
    out[..., dy:, dx:] = images[..., :-dy, :-dx]
    return out


def translate_in_place(images, dx, dy):
    shifted = translate_slices(images, dx, dy)
    images[...] = shifted
    return images


def translate_integers(images, dx, dy):
    return translate_slices(images, dx, dy).astype(int)


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch01.perceptron", perc_strict, "mistake", "What does the step H"),
    ("ch01.perceptron", perc_plus_minus, "mistake", "updates on the boundary"),
    ("ch01.perceptron", perc_every_class_1, "mistake", "right or wrong"),
    ("ch01.perceptron", perc_backwards, "mistake", "wrong way"),
    ("ch01.perceptron", perc_threshold_update, "mistake", "as if it were the threshold"),
    ("ch01.perceptron", perc_frozen_bias, "mistake", "bias never changes"),
    ("ch01.perceptron", perc_batch, "mistake", "once per pass"),
    ("ch01.perceptron", perc_one_pass_more, "mistake", "one pass more"),
    ("ch01.perceptron", perc_one_pass_less, "values", "Follow one pass by hand"),
    ("ch01.perceptron", perc_random_order, "values", "Follow one pass by hand"),
    ("ch01.perceptron", perc_bias_first, "values", "holds what"),
    ("ch01.tlu_network", tlu_strict, "mistake", "exactly 0"),
    ("ch01.tlu_network", tlu_minus_bias, "mistake", "is b added or subtracted"),
    ("ch01.tlu_network", tlu_untransposed, "mistake", "(out, in)"),
    ("ch01.tlu_network", tlu_linear_output, "mistake", "last layer"),
    ("ch01.tlu_network", tlu_first_layer_only, "mistake", "Only the first layer"),
    ("ch01.tlu_network", tlu_sigmoid, "mistake", "sigmoid"),
    ("ch01.tlu_network", tlu_booleans, "dtype", "not booleans"),
    ("ch01.tlu_network", tlu_squeezed, "shape", "one column per unit"),
    ("ch01.max_hidden_width", width_no_output_bias, "mistake", "output layer's biases"),
    ("ch01.max_hidden_width", width_no_hidden_bias, "mistake", "hidden units' biases"),
    ("ch01.max_hidden_width", width_no_biases, "mistake", "No biases"),
    ("ch01.max_hidden_width", width_round_up, "mistake", "rounds up"),
    ("ch01.max_hidden_width", width_strictly_below, "mistake", "uses the budget exactly"),
    ("ch01.max_hidden_width", width_negative, "mistake", "negative width"),
    ("ch01.max_hidden_width", width_hidden_layer_only, "mistake", "Only the hidden layer"),
    ("ch01.max_hidden_width", width_float, "type", "whole number"),
    ("ch01.translate", translate_roll, "mistake", "wraps"),
    ("ch01.translate", translate_reversed, "mistake", "opposite way"),
    ("ch01.translate", translate_axes_swapped, "mistake", "left to right"),
    ("ch01.translate", translate_sideways_only, "mistake", "Only the sideways"),
    ("ch01.translate", translate_positive_slices, "mistake", "minus zero"),
    ("ch01.translate", translate_in_place, "mutated", "`images`"),
    ("ch01.translate", translate_integers, "dtype", "int"),
]


# -- the references agree with the page's code, cnnbook's layers and brute force ----------
def test_perceptron_separates_what_it_converges_on():
    for c in get("ch01.perceptron").all_cases():
        X, t, epochs = c.args
        w, b = perceptron(X, t, epochs)
        clean_pass = np.array_equal((np.asarray(X, float) @ w + b >= 0).astype(int), t)
        if epochs >= 20 and "XOR" not in c.note:   # enough passes on separable data
            assert clean_pass, c.note
        if clean_pass:                             # a converged unit stays where it is
            w2, b2 = perceptron(X, t, epochs + 5)
            np.testing.assert_array_equal(w2, w)
            assert b2 == b
    w, b = perceptron(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 1]), 10)
    assert b < 0 <= w.sum() + b                    # (0, 0) silent, (1, 1) fires


def test_tlu_network_matches_the_layers_and_the_gates():
    for c in get("ch01.tlu_network").all_cases():
        np.testing.assert_array_equal(tlu_network(*c.args), tlu_network_modules(*c.args))
    x = get("ch01.tlu_network").cases[0].args[0]
    assert tlu_network(*get("ch01.tlu_network").cases[0].args)[:, 0].tolist() == [0, 1, 1, 0]
    cube = get("ch01.tlu_network").cases[3]
    assert tlu_network(*cube.args)[:, 0].tolist() == (cube.args[0].sum(axis=1) % 2).tolist()
    assert x.shape == (4, 2)


def test_max_hidden_width_matches_the_layers_and_brute_force():
    for c in get("ch01.max_hidden_width").all_cases()[:10]:
        n_in, n_out, budget = c.args
        h = max_hidden_width(n_in, n_out, budget)
        count = lambda width: (n_in * width + width) + (width * n_out + n_out)
        assert h == 0 or count(h) <= budget
        assert count(h + 1) > budget
    assert max_hidden_width(784, 10, 79_510) == 100
    small = Sequential(Dense(7, max_hidden_width(7, 3, 200), rng=0),
                       Dense(max_hidden_width(7, 3, 200), 3, rng=0))
    assert small.num_parameters() <= 200 < small.num_parameters() + 7 + 3 + 1


def test_translate_matches_a_loop():
    for c in get("ch01.translate").all_cases():
        np.testing.assert_array_equal(translate(*c.args), translate_loops(*c.args))
