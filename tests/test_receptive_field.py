"""cnnbook.receptive_field: the recurrence equals the field a backpropagated unit gradient
reaches, on random stacks with strides, pooling, dilation and padding; the gradient map
equals PyTorch autograd's and finite differences; bad input is refused clearly."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnbook import (AvgPool2d, BatchNorm2d, Conv1d, Conv2d, Dense, Dropout, Flatten,
                     MaxPool2d, ReLU, Residual, Sequential, Tanh)
from cnnbook.gradcheck import numerical_gradient
from cnnbook.models import lenet
from cnnbook.receptive_field import (Extent, Geometry, gradient_extent, gradient_map,
                                     layer_geometry, receptive_field, receptive_fields)

torch.set_num_threads(1)


def unit_weights(model):
    """Every weight 1, every bias 0: every path from input to output is open and counts 1."""
    for _, module in model.named_modules():
        if "weight" in module.params:
            module.params["weight"][...] = 1.0
        if "bias" in module.params:
            module.params["bias"][...] = 0.0
    return model


def random_stack(rng):
    """A random stack of convolutions (stride, dilation, padding) and average poolings,
    and the input size it needs for an output of at least 3x3."""
    layers, c = [], 1
    for _ in range(int(rng.integers(1, 5))):
        if rng.random() < 0.3:
            k = int(rng.integers(2, 4))
            layers.append(AvgPool2d(k, stride=int(rng.integers(1, k + 1)),
                                    padding=int(rng.integers(0, k // 2 + 1))))
        else:
            k, d = int(rng.integers(1, 5)), int(rng.integers(1, 3))
            out = int(rng.integers(1, 3))
            layers.append(Conv2d(c, out, k, stride=int(rng.integers(1, 3)), dilation=d,
                                 padding=int(rng.integers(0, 3)), dtype=np.float64))
            c = out
            if rng.random() < 0.5:
                layers.append(ReLU())
    return unit_weights(Sequential(*layers))


def size_for(model, rows):
    """An input size whose output has at least 3 positions, computed from the recurrence."""
    last = rows[-1]
    return last.size + 3 * last.jump + 2 * abs(last.start) + 2


@pytest.mark.parametrize("seed", range(40))
def test_recurrence_equals_the_backpropagated_field(seed):
    rng = np.random.default_rng(seed)
    model = random_stack(rng)
    rows = receptive_fields(model)
    n = size_for(model, rows)
    x = np.ones((1, 1, n, n))
    out = model.forward(x)
    model.backward(np.zeros_like(out))
    h_out, w_out = out.shape[2:]
    last = rows[-1]
    # units whose whole field lies inside the image (padding has no pixels to receive
    # gradient, and with dilation the clipped field can start at a hole)
    first = -(last.start // last.jump) if last.start < 0 else 0
    inner = [i for i in range(first, h_out) if last.start + i * last.jump + last.size <= n]
    assert inner
    # a layer's taps, d j_{l-1} apart, leave no gap when each covers r_{l-1} >= d j_{l-1}
    sizes_before = [(1, 1)] + [(r.size, r.jump) for r in rows[:-1]]
    no_holes = all(r.geometry.kernel == 1 or r.geometry.dilation * j <= size
                   for r, (size, j) in zip(rows, sizes_before))
    for i, j in {(inner[0], inner[-1]), (inner[-1], inner[len(inner) // 2]), (0, w_out - 1)}:
        grad = gradient_map(model, x, (i, j))
        ext = gradient_extent(grad)
        top, left = last.start + i * last.jump, last.start + j * last.jump
        rows_seen = range(max(top, 0), min(top + last.size, n))
        cols_seen = range(max(left, 0), min(left + last.size, n))
        inside = np.zeros((n, n), bool)
        inside[rows_seen.start:rows_seen.stop, cols_seen.start:cols_seen.stop] = True
        assert (grad[~inside] == 0).all()  # nothing outside the field
        if i in inner and j in inner:  # the whole field, exactly
            assert ext == Extent(top, left, last.size, last.size)
            if no_holes:
                assert (grad[inside] > 0).all()  # and every pixel of it


@pytest.mark.parametrize("stack, size, eq17", [
    ([(3, 2), (3,)], 7, 5),
    ([(2, 2), (3,)], 6, 4),
    ([(3, 2), (3, 2), (3,)], 15, 7),
    ([(3,), (3, 1, 2)], 7, 5),
])
def test_the_counterexamples_to_eq17(stack, size, eq17):
    assert receptive_field(stack) == size
    assert 1 + sum(k - 1 for k, *_ in stack) == eq17 != size  # eq. 17 with the kernel sizes
    layers = []
    for k, s, d in [(g + (1, 1))[:3] for g in stack]:
        layers.append(Conv2d(1, 1, k, stride=s, dilation=d, dtype=np.float64))
    model = unit_weights(Sequential(*layers))
    grad = gradient_map(model, np.ones((1, 1, 40, 40)))
    assert gradient_extent(grad)[2:] == (size, size)


def test_pooling_counterexample_with_the_layers():
    model = unit_weights(Sequential(AvgPool2d(2), Conv2d(1, 1, 3, dtype=np.float64)))
    assert receptive_field(model) == 6
    assert gradient_extent(gradient_map(model, np.ones((1, 1, 20, 20))))[2:] == (6, 6)
    # max pooling has the same geometry, but sends the gradient to one input per window
    maxed = unit_weights(Sequential(MaxPool2d(2), Conv2d(1, 1, 3, dtype=np.float64)))
    x = np.random.default_rng(0).random((1, 1, 20, 20))
    assert receptive_field(maxed) == 6
    assert np.count_nonzero(gradient_map(maxed, x)) == 9


def test_eq17_holds_for_stride_one_stacks():
    for depth in range(1, 6):
        stack = [(3,)] * depth
        assert receptive_field(stack) == 2 * depth + 1
        model = unit_weights(Sequential(*[Conv2d(1, 1, 3, dtype=np.float64)] * 1,
                                        *[Conv2d(1, 1, 3, dtype=np.float64)
                                          for _ in range(depth - 1)]))
        assert gradient_extent(gradient_map(model, np.ones((1, 1, 16, 16))))[2:] == (
            2 * depth + 1,) * 2


def test_lenet_table():
    rows = receptive_fields(lenet(rng=0))
    assert [(r.size, r.jump) for r in rows] == [(5, 1), (5, 1), (6, 2), (14, 2), (14, 2), (16, 4)]
    assert rows[0].start == -2 and rows[0].name == "Conv2d k5 p2" and rows[1].name == "ReLU"
    assert len(rows) == 6  # stops at Flatten


def test_axes_tuples_same_padding_and_residual():
    stack = [((3, 5), (1, 2)), ((3, 3), 1, (2, 1))]
    assert receptive_field(stack, axis=0) == 3 + 4 * 1
    assert receptive_field(stack, axis=1) == 5 + 2 * 2
    assert layer_geometry(Conv2d(1, 1, 4, padding="same")) == Geometry(4, 1, 1, 1)
    assert layer_geometry(Conv2d(1, 1, 3, padding="full", dilation=2)) == Geometry(3, 1, 2, 4)
    block = Sequential(Conv2d(2, 2, 3, padding=1), ReLU(), Conv2d(2, 2, 3, padding=1))
    assert layer_geometry(Residual(block)) == Geometry(5, 1, 1, 2)
    assert layer_geometry(Residual(Conv2d(2, 2, 1))) == Geometry(1)
    assert [layer_geometry(m) for m in (Tanh(), BatchNorm2d(3), Dropout())] == [Geometry(1)] * 3
    assert layer_geometry(Flatten()) is None and layer_geometry(Dense(2, 3)) is None
    assert receptive_field([]) == 1
    nested = Sequential(Sequential(Conv2d(1, 1, 3, stride=2)), Conv2d(1, 1, 3))
    assert receptive_field(nested) == 7
    assert receptive_fields(nested)[0].center == 1.0


def test_residual_field_measured():
    rng = np.random.default_rng(3)
    block = Sequential(Conv2d(1, 1, 3, padding=1, dtype=np.float64), ReLU(),
                       Conv2d(1, 1, 3, padding=1, dtype=np.float64))
    model = unit_weights(Sequential(Conv2d(1, 1, 3, stride=2, dtype=np.float64),
                                    Residual(block)))
    grad = gradient_map(model, rng.random((1, 1, 21, 21)) + 0.1)
    r = receptive_fields(model)[-1]
    assert gradient_extent(grad) == Extent(r.start + 5 * r.jump, r.start + 5 * r.jump,
                                           r.size, r.size) and r.size == 11


@pytest.mark.parametrize("build", [
    lambda: [Conv2d(2, 3, 3, stride=2, padding=1, dtype=np.float64), ReLU(),
             AvgPool2d(2), Conv2d(3, 2, 3, dilation=2, padding=2, dtype=np.float64)],
    lambda: [Conv2d(2, 4, 5, padding=2, dtype=np.float64), Tanh(), MaxPool2d(3, stride=2),
             Conv2d(4, 3, 3, stride=2, dtype=np.float64)],
])
def test_gradient_map_matches_torch_and_finite_differences(build):
    rng = np.random.default_rng(7)
    layers = build()
    model = Sequential(*layers)
    x = rng.standard_normal((1, 2, 17, 17))
    grad = gradient_map(model, x, (1, 2), channel=1)

    tlayers = []
    for layer in layers:
        if isinstance(layer, Conv2d):
            t = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                stride=layer.stride, padding=layer.padding,
                                dilation=layer.dilation, dtype=torch.float64)
            t.weight.data = torch.tensor(layer.params["weight"])
            t.bias.data = torch.tensor(layer.params["bias"])
        elif isinstance(layer, AvgPool2d):
            t = torch.nn.AvgPool2d(layer.kernel_size)
        elif isinstance(layer, MaxPool2d):
            t = torch.nn.MaxPool2d(layer.kernel_size, stride=layer.stride)
        else:
            t = torch.nn.ReLU() if isinstance(layer, ReLU) else torch.nn.Tanh()
        tlayers.append(t)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.Sequential(*tlayers)(xt)[0, 1, 1, 2].backward()
    np.testing.assert_allclose(grad, xt.grad.numpy()[0].sum(axis=0), atol=1e-12)

    def unit(a):
        return model.forward(a)[0, 1, 1, 2]
    numeric = numerical_gradient(lambda a: (np.atleast_1d(unit(a)), None), [x],
                                 np.ones(1))
    model.forward(x)
    model.backward(np.zeros_like(model.forward(x)))
    np.testing.assert_allclose(grad, numeric[0].sum(axis=0), atol=1e-6)


def test_gradient_map_every_channel_and_no_cache_left():
    model = Sequential(Conv2d(1, 3, 3, dtype=np.float64))
    x = np.random.default_rng(1).standard_normal((1, 1, 7, 7))
    total = gradient_map(model, x)
    parts = sum(gradient_map(model, x, channel=c) for c in range(3))
    np.testing.assert_allclose(total, parts, atol=1e-12)
    assert all(not m._caches for _, m in model.named_modules())
    with pytest.raises(ValueError):
        gradient_map(model, x, (9, 0))
    assert all(not m._caches for _, m in model.named_modules())


def test_gradient_extent():
    g = np.zeros((6, 7))
    assert gradient_extent(g) == Extent(0, 0, 0, 0)
    g[2, 3], g[4, 1] = 1e-3, -2.0
    assert gradient_extent(g) == Extent(2, 1, 3, 3)
    assert gradient_extent(g, threshold=0.01) == Extent(4, 1, 1, 1)


@pytest.mark.parametrize("call, error, words", [
    (lambda: receptive_field([(0,)]), ValueError, "layer 0 kernel must be an integer >= 1"),
    (lambda: receptive_field([(3, 1, 1, -1)]), ValueError, "layer 0 padding"),
    (lambda: receptive_field([(3, 2.0)]), TypeError, "layer 0 stride"),
    (lambda: receptive_field([(3, 1, 1, 0, 5)]), ValueError, "1 to 4 entries"),
    (lambda: receptive_field([()]), ValueError, "1 to 4 entries"),
    (lambda: receptive_field([3, 3]), TypeError, "receptive_field: layers must be"),
    (lambda: receptive_field("3x3"), TypeError, "layers must be"),
    (lambda: receptive_field([(3,), [3]]), TypeError, "layer 1 must be a cnnbook layer"),
    (lambda: receptive_field([Conv1d(1, 1, 3)]), TypeError, "layer 0 is a Conv1d"),
    (lambda: receptive_field([(3,)], axis=2), ValueError, "axis must be 0"),
    (lambda: receptive_fields([(3,)], axis=True), ValueError, "receptive_fields: axis"),
    (lambda: layer_geometry(None), TypeError, "layer_geometry: layer must be"),
    (lambda: gradient_map([Conv2d(1, 1, 3)], np.ones((1, 1, 5, 5))), TypeError, "model must be"),
    (lambda: gradient_map(Conv2d(1, 1, 3), np.ones((2, 1, 5, 5))), ValueError, "one image"),
    (lambda: gradient_map(Conv2d(1, 1, 3), np.ones((1, 5, 5))), ValueError, "4 dimensions"),
    (lambda: gradient_map(Conv2d(1, 1, 3), np.ones((1, 1, 5, 0))), ValueError,
     "gradient_map: x must have a nonzero"),
    (lambda: gradient_map(Sequential(Conv2d(1, 1, 3), Flatten()), np.ones((1, 1, 5, 5))),
     ValueError, "must be maps"),
    (lambda: gradient_map(Conv2d(1, 1, 3), np.ones((1, 1, 5, 5)), (3, 0)), ValueError,
     "0 <= i < 3"),
    (lambda: gradient_map(Conv2d(1, 1, 3), np.ones((1, 1, 5, 5)), (1.0, 0)), ValueError,
     "position must be"),
    (lambda: gradient_map(Conv2d(1, 2, 3), np.ones((1, 1, 5, 5)), channel=2), ValueError,
     "channel"),
    (lambda: gradient_extent(np.ones(3)), ValueError, "gradient_extent: grad must have 2"),
    (lambda: gradient_extent(np.full((2, 2), np.nan)), ValueError, "NaN"),
    (lambda: gradient_extent(np.ones((2, 2)), threshold=-1), ValueError, "threshold"),
])
def test_bad_input(call, error, words):
    with pytest.raises(error, match=None) as info:
        call()
    assert words in str(info.value), str(info.value)
