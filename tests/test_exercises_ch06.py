"""Chapter 6's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, the references agree with cnnbook's layers,
finite differences and PyTorch, and no feedback holds the code of an answer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from cnnbook import Conv2d, Dense, Flatten, MaxPool2d, ReLU, Sequential
from cnnbook.exercises import evaluate, get
from cnnbook.exercises.ch06 import (cnn_cost, max_pool, max_pool_backward,
                                    to_channels_first)
from cnnbook.gradcheck import numerical_gradient
from cnnbook.models import lenet


CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "06_cnn.ipynb"


# -- right answers, written as different readers would -----------------------------------
def port_reshape(weight, shape):
    c, h, w = shape
    return weight.reshape(len(weight), h, w, c).transpose(0, 3, 1, 2).reshape(len(weight), -1)


def port_moveaxis(weight, shape):
    c, h, w = shape
    rows = weight.reshape(-1, h, w, c)
    return np.moveaxis(rows, 3, 1).reshape(weight.shape[0], c * h * w)


def port_loops(weight, shape):
    c, h, w = shape
    new = np.empty_like(weight)
    for ch in range(c):
        for row in range(h):
            for col in range(w):
                new[:, ch * h * w + row * w + col] = weight[:, row * w * c + col * c + ch]
    return new


def port_permutation(weight, shape):
    # position of each channels-first entry in the channels-last vector
    c, h, w = shape
    where = np.arange(c * h * w).reshape(h, w, c).transpose(2, 0, 1).ravel()
    return weight[:, where].astype(np.float64)


def pool_offsets(x, kernel_size, stride=None):
    k = kernel_size
    s = k if stride is None else stride
    ho, wo = (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1
    out = None
    for i in range(k):
        for j in range(k):
            part = x[:, :, i:i + s * (ho - 1) + 1:s, j:j + s * (wo - 1) + 1:s]
            out = part if out is None else np.maximum(out, part)
    return out


def pool_windows(x, kernel_size, stride=None):
    s = stride or kernel_size
    win = sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))[:, :, ::s, ::s]
    return win.max(axis=(-2, -1))


def pool_loops_from_minus_infinity(x, kernel_size, stride=None):
    k, s = kernel_size, stride if stride is not None else kernel_size
    n, c, h, w = x.shape
    out = np.full((n, c, (h - k) // s + 1, (w - k) // s + 1), -np.inf)
    for r in range(out.shape[2]):
        for q in range(out.shape[3]):
            for i in range(k):
                for j in range(k):
                    out[:, :, r, q] = np.maximum(out[:, :, r, q], x[:, :, r * s + i, q * s + j])
    return out


def pool_float32(x, kernel_size, stride=None):
    return pool_windows(x, kernel_size, stride).astype(np.float32)


def back_loops(dout, x, kernel_size, stride=None):
    k, s = kernel_size, stride or kernel_size
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for r in range(dout.shape[2]):
                for q in range(dout.shape[3]):
                    window = x[n, c, r * s:r * s + k, q * s:q * s + k]
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, r * s + i, q * s + j] += dout[n, c, r, q]
    return dx


def back_add_at(dout, x, kernel_size, stride=None):
    k, s = kernel_size, stride or kernel_size
    n, c, ho, wo = dout.shape
    win = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s][:, :, :ho, :wo]
    first = win.reshape(n, c, ho, wo, k * k).argmax(axis=-1)     # first maximum
    rows = np.arange(ho)[:, None] * s + first // k
    cols = np.arange(wo)[None, :] * s + first % k
    dx = np.zeros(x.shape)
    nn, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    np.add.at(dx, (nn[..., None, None], cc[..., None, None], rows, cols), dout)
    return dx


def back_float64_zeros(dout, x, kernel_size, stride=None):
    # built in np.zeros, float64, whatever the dtype of x: must pass for float32 input
    k, s = kernel_size, stride or kernel_size
    dx = np.zeros(x.shape)
    for r in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            window = x[:, :, r * s:r * s + k, q * s:q * s + k].reshape(*x.shape[:2], -1)
            first = window.argmax(axis=-1)
            for n in range(x.shape[0]):
                for c in range(x.shape[1]):
                    i, j = divmod(int(first[n, c]), k)
                    dx[n, c, r * s + i, q * s + j] += dout[n, c, r, q]
    return dx


def back_with_the_layer(dout, x, kernel_size, stride=None):
    pool = MaxPool2d(kernel_size, stride=stride)
    pool.forward(x)
    return pool.backward(dout)


def cost_by_hand(input_shape, layers):
    c, h, w = input_shape
    n_in, params, macs = None, 0, 0
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            out, k = layer[1], layer[2]
            s = layer[3] if len(layer) > 3 else 1
            p = layer[4] if len(layer) > 4 else 0
            h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            params += out * c * k * k + out
            macs += out * h * w * c * k * k
            c = out
        elif kind == "pool":
            k = layer[1]
            s = layer[2] if len(layer) > 2 else k
            h, w = (h - k) // s + 1, (w - k) // s + 1
        elif kind == "flatten":
            n_in = c * h * w
        elif kind == "dense":
            params += n_in * layer[1] + layer[1]
            macs += n_in * layer[1]
            n_in = layer[1]
    return params, macs


def cost_with_layers(input_shape, layers):
    x = np.zeros((1, *input_shape), dtype=np.float32)
    params = macs = 0
    channels = input_shape[0]
    for kind, *args in layers:
        if kind == "conv":
            stride, padding = (args[2:] + [1, 0][len(args) - 2:])[:2]
            layer = Conv2d(channels, args[0], args[1], stride=stride, padding=padding)
            channels = args[0]
        elif kind == "pool":
            layer = MaxPool2d(*args)
        elif kind == "relu":
            layer = ReLU()
        elif kind == "flatten":
            layer = Flatten()
        else:
            layer = Dense(x.shape[1], args[0])
        y = layer.forward(x)
        params += layer.num_parameters()
        if kind == "conv":
            macs += y[0].size * layer.params["weight"][0].size
        elif kind == "dense":
            macs += layer.params["weight"].size
        x = y
    return [np.int64(params), np.int64(macs)]


RIGHT = [
    ("ch06.to_channels_first", port_reshape),
    ("ch06.to_channels_first", port_moveaxis),
    ("ch06.to_channels_first", port_loops),
    ("ch06.to_channels_first", port_permutation),
    ("ch06.max_pool", pool_offsets),
    ("ch06.max_pool", pool_windows),
    ("ch06.max_pool", pool_loops_from_minus_infinity),
    ("ch06.max_pool", pool_float32),
    ("ch06.max_pool_backward", back_loops),
    ("ch06.max_pool_backward", back_add_at),
    ("ch06.max_pool_backward", back_float64_zeros),
    ("ch06.max_pool_backward", back_with_the_layer),
    ("ch06.cnn_cost", cost_by_hand),
    ("ch06.cnn_cost", cost_with_layers),
]


# -- wrong answers, and the diagnosis each must get ----------------------------------------
def port_inverse(weight, shape):
    c, h, w = shape
    return weight.reshape(len(weight), c, h, w).transpose(0, 2, 3, 1).reshape(len(weight), -1)


def port_rows_columns_swapped(weight, shape):
    c, h, w = shape
    return weight.reshape(len(weight), h, w, c).transpose(0, 3, 2, 1).reshape(len(weight), -1)


def port_unchanged(weight, shape):
    return weight.copy()


def port_unflattened(weight, shape):
    c, h, w = shape
    return weight.reshape(len(weight), h, w, c).transpose(0, 3, 1, 2)


def port_transposed(weight, shape):
    return port_reshape(weight, shape).T


def port_out_axis_last(weight, shape):
    c, h, w = shape
    return weight.reshape(h, w, c, -1).transpose(3, 2, 0, 1).reshape(len(weight), -1)


def pool_average(x, kernel_size, stride=None):
    s = stride or kernel_size
    win = sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))[:, :, ::s, ::s]
    return win.mean(axis=(-2, -1))


def pool_from_zero(x, kernel_size, stride=None):
    return np.maximum(pool_offsets(x, kernel_size, stride), 0)


def pool_stride_one_by_default(x, kernel_size, stride=None):
    return pool_windows(x, kernel_size, stride or 1)


def pool_ceil(x, kernel_size, stride=None):
    k, s = kernel_size, stride or kernel_size
    n, c, h, w = x.shape
    ho, wo = -(-(h - k) // s) + 1, -(-(w - k) // s) + 1
    xp = np.full((n, c, (ho - 1) * s + k, (wo - 1) * s + k), -np.inf)
    xp[:, :, :h, :w] = x
    return pool_windows(xp, k, s)


def pool_stride_ignored(x, kernel_size, stride=None):
    return pool_windows(x, kernel_size, kernel_size)


def pool_global(x, kernel_size, stride=None):
    return x.max(axis=(2, 3))


def pool_max_over_channels(x, kernel_size, stride=None):
    out = pool_windows(x, kernel_size, stride)
    return np.repeat(out.max(axis=1, keepdims=True), x.shape[1], axis=1)


def _back(choose, add=True, default_stride=None):
    def wrong(dout, x, kernel_size, stride=None):
        k = kernel_size
        s = stride or default_stride or k
        dx = np.zeros(x.shape)
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                for r in range(dout.shape[2]):
                    for q in range(dout.shape[3]):
                        window = x[n, c, r * s:r * s + k, q * s:q * s + k]
                        for i, j, share in choose(window):
                            if add:
                                dx[n, c, r * s + i, q * s + j] += share * dout[n, c, r, q]
                            else:
                                dx[n, c, r * s + i, q * s + j] = share * dout[n, c, r, q]
        return dx
    return wrong


def _first(window):
    i, j = np.unravel_index(np.argmax(window), window.shape)
    return [(i, j, 1.0)]


def back_spread(dout, x, kernel_size, stride=None):
    return _back(lambda win: [(i, j, 1 / win.size) for i, j in np.ndindex(win.shape)])(
        dout, x, kernel_size, stride)


def back_copy(dout, x, kernel_size, stride=None):
    return _back(lambda win: [(i, j, 1.0) for i, j in np.ndindex(win.shape)])(
        dout, x, kernel_size, stride)


def back_every_maximum(dout, x, kernel_size, stride=None):
    return _back(lambda win: [(i, j, 1.0) for i, j in zip(*np.nonzero(win == win.max()))])(
        dout, x, kernel_size, stride)


def back_last_maximum(dout, x, kernel_size, stride=None):
    def last(win):
        i, j = [int(v[-1]) for v in np.nonzero(win == win.max())]
        return [(i, j, 1.0)]
    return _back(last)(dout, x, kernel_size, stride)


def back_overwrites(dout, x, kernel_size, stride=None):
    return _back(_first, add=False)(dout, x, kernel_size, stride)


def back_top_left(dout, x, kernel_size, stride=None):
    return _back(lambda win: [(0, 0, 1.0)])(dout, x, kernel_size, stride)


def back_default_stride_one(dout, x, kernel_size, stride=None):
    return _back(_first, default_stride=1)(dout, x, kernel_size, stride)


def back_mask_only(dout, x, kernel_size, stride=None):
    return back_loops(np.ones_like(dout), x, kernel_size, stride)


def back_shape_of_dout(dout, x, kernel_size, stride=None):
    return dout.copy()


def back_in_place(dout, x, kernel_size, stride=None):
    dx = back_loops(dout, x, kernel_size, stride)
    x[...] = dx                                      # overwrites the caller's input
    return x


def cost_no_biases(input_shape, layers):
    params, macs = cost_by_hand(input_shape, layers)
    biases = sum(layer[1] for layer in layers if layer[0] in ("conv", "dense"))
    return params - biases, macs


def cost_single_kernel_filters(input_shape, layers):
    c, h, w = input_shape
    n_in, params, macs = None, 0, 0
    for layer in layers:
        if layer[0] == "conv":
            out, k = layer[1], layer[2]
            s, p = (list(layer[3:]) + [1, 0][len(layer) - 3:])[:2]
            h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            params += out * k * k + out
            macs += out * h * w * k * k
            c = out
        elif layer[0] == "pool":
            k = layer[1]
            s = layer[2] if len(layer) > 2 else k
            h, w = (h - k) // s + 1, (w - k) // s + 1
        elif layer[0] == "flatten":
            n_in = c * h * w
        elif layer[0] == "dense":
            params += n_in * layer[1] + layer[1]
            macs += n_in * layer[1]
            n_in = layer[1]
    return params, macs


def cost_macs_per_image(input_shape, layers):
    # a convolution's multiply-adds counted like its weights, once per image
    params, macs = cost_by_hand(input_shape, layers)
    conv_macs = cost_by_hand(input_shape, [l for l in layers if l[0] != "dense"])[1]
    c, per_image = input_shape[0], 0
    for layer in layers:
        if layer[0] == "conv":
            per_image += layer[1] * c * layer[2] ** 2
            c = layer[1]
    return params, macs - conv_macs + per_image


def cost_bias_macs(input_shape, layers):
    params, macs = cost_by_hand(input_shape, layers)
    return params, macs + cost_outputs(input_shape, layers)


def cost_outputs(input_shape, layers):
    """The number of outputs of the conv and dense layers: one bias addition each."""
    c, h, w = input_shape
    total, n_in = 0, None
    for layer in layers:
        if layer[0] == "conv":
            s, p = (list(layer[3:]) + [1, 0][len(layer) - 3:])[:2]
            h, w = (h + 2 * p - layer[2]) // s + 1, (w + 2 * p - layer[2]) // s + 1
            c = layer[1]
            total += c * h * w
        elif layer[0] == "pool":
            k = layer[1]
            s = layer[2] if len(layer) > 2 else k
            h, w = (h - k) // s + 1, (w - k) // s + 1
        elif layer[0] == "dense":
            total += layer[1]
    return total


def cost_no_padding(input_shape, layers):
    return cost_by_hand(input_shape, [l[:4] + (0,) if l[0] == "conv" and len(l) > 4 else l
                                      for l in layers])


def cost_pool_stride_one(input_shape, layers):
    return cost_by_hand(input_shape, [("pool", l[1], 1) if l[0] == "pool" and len(l) == 2 else l
                                      for l in layers])


def cost_params_only(input_shape, layers):
    return cost_by_hand(input_shape, layers)[0]


def cost_swapped(input_shape, layers):
    return cost_by_hand(input_shape, layers)[::-1]


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch06.to_channels_first", port_inverse, "mistake", "the other way"),
    ("ch06.to_channels_first", port_rows_columns_swapped, "mistake", "Rows and columns"),
    ("ch06.to_channels_first", port_unchanged, "mistake", "unchanged"),
    ("ch06.to_channels_first", port_unflattened, "mistake", "unflattened"),
    ("ch06.to_channels_first", port_transposed, "shape", "transpose"),
    ("ch06.to_channels_first", port_out_axis_last, "values", "which column of the given weight"),
    ("ch06.max_pool", pool_average, "mistake", "average pooling"),
    ("ch06.max_pool", pool_from_zero, "mistake", "starts at 0"),
    ("ch06.max_pool", pool_stride_one_by_default, "mistake", "stride 1"),
    ("ch06.max_pool", pool_ceil, "mistake", "sticks out"),
    ("ch06.max_pool", pool_stride_ignored, "mistake", "whatever the stride"),
    ("ch06.max_pool", pool_global, "mistake", "global maximum"),
    ("ch06.max_pool", pool_max_over_channels, "values", "rectified map"),
    ("ch06.max_pool_backward", back_spread, "mistake", "*average* pooling"),
    ("ch06.max_pool_backward", back_copy, "mistake", "whole gradient"),
    ("ch06.max_pool_backward", back_every_maximum, "mistake", "several equal maxima"),
    ("ch06.max_pool_backward", back_last_maximum, "mistake", "the first or the last"),
    ("ch06.max_pool_backward", back_overwrites, "mistake", "overwritten"),
    ("ch06.max_pool_backward", back_top_left, "mistake", "top-left"),
    ("ch06.max_pool_backward", back_default_stride_one, "mistake", "defaults to the window size"),
    ("ch06.max_pool_backward", back_mask_only, "values", "section 6.3"),
    ("ch06.max_pool_backward", back_shape_of_dout, "mistake", "shape of dout"),
    ("ch06.max_pool_backward", back_in_place, "mutated", "`x`"),
    ("ch06.cnn_cost", cost_no_biases, "mistake", "biases are not counted"),
    ("ch06.cnn_cost", cost_single_kernel_filters, "mistake", "How deep is each filter"),
    ("ch06.cnn_cost", cost_macs_per_image, "mistake", "once per image"),
    ("ch06.cnn_cost", cost_bias_macs, "mistake", "counted as multiply-adds"),
    ("ch06.cnn_cost", cost_no_padding, "mistake", "padding of the convolutions is ignored"),
    ("ch06.cnn_cost", cost_pool_stride_one, "mistake", "one pixel at a time"),
    ("ch06.cnn_cost", cost_params_only, "type", "2 items"),
    ("ch06.cnn_cost", cost_swapped, "values", "wrong order"),
]


# -- the references agree with cnnbook's layers, finite differences and PyTorch --------
def test_a_float64_gradient_passes_for_float32_input():
    ex = get("ch06.max_pool_backward")
    c = next(c for c in ex.cases if c.args[1].dtype == np.float32)
    assert back_float64_zeros(*c.args).dtype == np.float64
    assert evaluate(ex.name, back_float64_zeros).passed


def test_ported_weights_compute_the_same_outputs():
    rng = np.random.default_rng(0)
    maps = rng.standard_normal((5, 4, 3, 2))                          # (N, C, H, W)
    keras_weight = rng.standard_normal((7, 24))
    keras_out = maps.transpose(0, 2, 3, 1).reshape(5, -1) @ keras_weight.T
    torch_out = maps.reshape(5, -1) @ to_channels_first(keras_weight, (4, 3, 2)).T
    np.testing.assert_allclose(torch_out, keras_out, atol=1e-12)


def test_max_pool_and_its_backward_match_torch_and_finite_differences():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for k, s in [(2, None), (3, 1), (3, 2)]:
        x = rng.standard_normal((2, 3, 7, 8))
        xt = torch.tensor(x, requires_grad=True)
        out = torch.nn.functional.max_pool2d(xt, k, stride=s)
        np.testing.assert_array_equal(max_pool(x, k, s), out.detach().numpy())
        dout = rng.standard_normal(tuple(out.shape))
        out.backward(torch.tensor(dout))
        np.testing.assert_allclose(max_pool_backward(dout, x, k, s), xt.grad.numpy(), atol=1e-12)
        numeric = numerical_gradient(lambda a: max_pool(a, k, s), [x], dout)
        np.testing.assert_allclose(max_pool_backward(dout, x, k, s), numeric, atol=1e-6)


def test_ties_go_to_the_first_maximum_as_in_torch():
    torch = pytest.importorskip("torch")
    x = np.zeros((1, 1, 4, 4))
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2).backward(torch.ones(1, 1, 2, 2, dtype=xt.dtype))
    np.testing.assert_array_equal(max_pool_backward(np.ones((1, 1, 2, 2)), x, 2), xt.grad.numpy())


def test_cnn_cost_of_lenet_is_the_chapters_table():
    spec = get("ch06.cnn_cost").cases[2].args
    assert cnn_cost(*spec) == (61_706, 416_520) == (lenet().num_parameters(), 416_520)
    lwls = get("ch06.cnn_cost").cases[7].args
    assert cnn_cost(*lwls)[0] == 104 + 808 + 1548 + 117_800 + 2010
    assert cost_by_hand(*spec) == cnn_cost(*spec)
    net = Sequential(Conv2d(1, 4, 5, padding=2))
    assert cnn_cost((1, 28, 28), [("conv", 4, 5, 1, 2)])[0] == net.num_parameters()
