"""Receptive fields: the theoretical one by a recurrence, the measured one by backprop.
See chapter 8.

Along one axis, a layer with kernel k, stride s, dilation d and padding p spans
k_eff = d (k - 1) + 1 inputs. Through a stack, with r_0 = j_0 = 1 and a_0 = 0,

    r_l = r_{l-1} + (k_eff,l - 1) j_{l-1}      receptive field (inputs seen by one unit)
    j_l = j_{l-1} s_l                          jump (inputs between neighbouring units)
    a_l = a_{l-1} - p_l j_{l-1}                start (first input seen by unit 0)

so unit i of layer l sees inputs a_l + i j_l, ..., a_l + i j_l + r_l - 1 (negative
indices and indices past the end are padding). Chen's eq. 17, r_l = r_{l-1} + k_l - 1,
is the case s = d = 1. ``gradient_map`` measures the same field by backpropagating a
unit gradient from one output position, the method of chapter 5 in two dimensions.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ._checks import as_float_array, int_pair, nonempty, positive_int, real_number
from ._im2col import resolve_padding
from .activations import _Elementwise, PReLU
from .batchnorm import _BatchNorm
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .dense import Dense
from .module import Sequential
from .pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .skip import Residual

__all__ = ["Geometry", "RFLayer", "Extent", "layer_geometry", "receptive_fields",
           "receptive_field", "gradient_map", "gradient_extent"]


class Geometry(NamedTuple):
    """One layer's geometry along one axis: kernel, stride, dilation, padding (before)."""
    kernel: int
    stride: int = 1
    dilation: int = 1
    padding: int = 0


class RFLayer(NamedTuple):
    """The receptive field after one layer, along one axis (see the module docstring)."""
    name: str
    geometry: Geometry
    size: int  # r_l: inputs seen by one unit
    jump: int  # j_l: inputs between neighbouring units
    start: int  # a_l: first input seen by unit 0 (negative: padding)

    @property
    def center(self) -> float:
        """Input coordinate of the centre of unit 0's field: a + (r - 1) / 2."""
        return self.start + (self.size - 1) / 2


class Extent(NamedTuple):
    """A rectangle of input pixels: first row and column, height and width."""
    top: int
    left: int
    height: int
    width: int


def _axis(axis, func):
    if isinstance(axis, (bool, np.bool_)) or axis not in (0, 1):
        raise ValueError(f"{func}: axis must be 0 (rows) or 1 (columns), got {axis!r}")
    return axis


def _from_tuple(spec, axis, func, where):
    if not 1 <= len(spec) <= 4:
        raise ValueError(f"{func}: {where} must be (kernel[, stride[, dilation[, padding]]]), "
                         f"1 to 4 entries, got {spec!r}")
    names = ("kernel", "stride", "dilation", "padding")
    values = [int_pair(v, f"{where} {n}", func, minimum=0 if n == "padding" else 1)[axis]
              for n, v in zip(names, spec)]
    return Geometry(*values)


def _composite(layers, axis, func, where):
    """A stack is one layer: kernel r, stride j, padding -a (dilation 1)."""
    rows = receptive_fields(layers, axis=axis, _func=func, _where=where)
    if not rows:
        return Geometry(1)
    last = rows[-1]
    return Geometry(last.size, last.jump, 1, -last.start)


def _conv(layer, axis, func, where):
    kernel, stride, dilation = (int_pair(v, name, func) for v, name in
                                ((layer.kernel_size, "kernel_size"), (layer.stride, "stride"),
                                 (layer.dilation, "dilation")))
    pads = resolve_padding(layer.padding, kernel, stride, dilation, func)
    return Geometry(kernel[axis], stride[axis], dilation[axis], pads[axis][0])


def _pool(layer, axis, func, where):
    k = int_pair(layer.kernel_size, "kernel_size", func)[axis]
    s = k if layer.stride is None else int_pair(layer.stride, "stride", func)[axis]
    return Geometry(k, s, 1, int_pair(layer.padding, "padding", func, minimum=0)[axis])


def _stack(layer, axis, func, where):
    return _composite(layer.layers, axis, func, where)


def _residual(layer, axis, func, where):
    block = _composite([layer.block], axis, func, where)
    # the union of the block's field and the skip's single input (unit i sees input i)
    first, last = min(0, -block.padding), max(0, block.kernel - 1 - block.padding)
    return Geometry(last - first + 1, block.stride, 1, -first)


# which geometry each kind of layer has; None: every unit after it sees the whole input
_GEOMETRY = (
    (Conv2d, _conv),
    ((MaxPool2d, AvgPool2d), _pool),
    ((_Elementwise, PReLU, _BatchNorm, Dropout), lambda *_: Geometry(1)),  # position-wise
    ((Flatten, Dense, GlobalAvgPool2d), lambda *_: None),
    (Sequential, _stack),
    (Residual, _residual),
)


def layer_geometry(layer, axis=0, *, _func="layer_geometry", _where="layer"):
    """A layer's ``Geometry`` along ``axis`` (0: rows, 1: columns), or None for a layer
    after which every unit sees the whole input (Flatten, Dense, GlobalAvgPool2d).

    ``layer`` is a cnnbook ``Conv2d``, ``MaxPool2d`` or ``AvgPool2d``; a layer that acts on
    each position alone (activations, batch norm, dropout: kernel 1); a ``Sequential`` or
    a ``Residual`` (the union of the block's field and the skip's single input); or a
    tuple ``(kernel[, stride[, dilation[, padding]]])`` of ints or (row, column) pairs.
    See chapter 8.
    """
    func = _func
    axis = _axis(axis, func)
    if isinstance(layer, tuple):
        return _from_tuple(layer, axis, func, _where)
    for kinds, geometry in _GEOMETRY:
        if isinstance(layer, kinds):
            return geometry(layer, axis, func, _where)
    if hasattr(layer, "forward") and hasattr(layer, "backward"):
        raise TypeError(f"{func}: {_where} is a {type(layer).__name__}, whose geometry is not "
                        f"known; expected Conv2d, MaxPool2d, AvgPool2d, a layer acting on each "
                        f"position alone, Sequential, Residual or a tuple (kernel, stride, "
                        f"dilation, padding)")
    raise TypeError(f"{func}: {_where} must be a cnnbook layer or a tuple (kernel, stride, "
                    f"dilation, padding), got {type(layer).__name__}")


def _name(layer, g):
    """'Conv2d k5 p2', 'MaxPool2d k2 s2', 'ReLU', or 'k3 s2' for a tuple."""
    kind = "" if isinstance(layer, tuple) else type(layer).__name__
    if g == Geometry(1) and kind:
        return kind
    extras = "".join(f" {tag}{v}" for tag, v, default in
                     (("s", g.stride, 1), ("d", g.dilation, 1), ("p", g.padding, 0))
                     if v != default)
    return f"{kind} k{g.kernel}{extras}".strip()


def receptive_fields(layers, axis=0, *, _func="receptive_fields", _where=None):
    """The receptive field, jump and start after every layer of ``layers``, along ``axis``:
    a list of ``RFLayer`` (name, geometry, size, jump, start), one per layer.

    ``layers`` is a ``Sequential`` or a list of layers and tuples (see ``layer_geometry``).
    The list stops before a Flatten, Dense or GlobalAvgPool2d, after which every unit sees
    the whole input. See chapter 8.
    """
    func = _func
    axis = _axis(axis, func)
    layers = getattr(layers, "layers", layers)  # a Sequential: its list
    if not isinstance(layers, (list, tuple)) or (layers and isinstance(layers[0], numbers.Number)):
        raise TypeError(f"{func}: layers must be a Sequential or a list of layers or tuples "
                        f"(kernel, stride, dilation, padding), got {layers!r:.60}")
    size, jump, start, rows = 1, 1, 0, []
    for i, layer in enumerate(layers):
        where = f"layer {i}" if _where is None else f"{_where} (layer {i} inside)"
        g = layer_geometry(layer, axis, _func=func, _where=where)
        if g is None:
            break
        # the recurrence of the module docstring
        size += (g.dilation * (g.kernel - 1)) * jump
        start -= g.padding * jump
        jump *= g.stride
        rows.append(RFLayer(_name(layer, g), g, size, jump, start))
    return rows


def receptive_field(layers, axis=0) -> int:
    """The number of inputs along ``axis`` that one unit of the last layer sees (1 for no
    layers). See chapter 8."""
    rows = receptive_fields(layers, axis, _func="receptive_field")
    return rows[-1].size if rows else 1


def gradient_map(model, x, position=None, *, channel=None):
    """d out[0, channel, i, j] / d x[0], summed over the input channels: (H, W).

    A unit gradient at output position ``position`` = (i, j) (default: the centre,
    (H' // 2, W' // 2)) of output channel ``channel`` (default: every channel) is
    backpropagated through ``model``, a cnnbook Module whose output is (1, C', H', W').
    Where the map is nonzero, the input reaches that output unit: its receptive field,
    when every path is open (positive weights and inputs, average pooling). Max pooling
    passes the gradient to one input per window, so it shows less. See chapter 8.
    """
    func = "gradient_map"
    if not (hasattr(model, "forward") and hasattr(model, "backward")):
        raise TypeError(f"{func}: model must be a cnnbook Module, got {type(model).__name__}")
    x = as_float_array(x, "x", func, ndim=4, layout="(1, C, H, W)")
    if x.shape[0] != 1:
        raise ValueError(f"{func}: x must hold one image, shape (1, C, H, W), got x.shape={x.shape}")
    nonempty(x, (1, 2, 3), "x", func, "number of channels, height and width")
    out = model.forward(x)
    if np.ndim(out) != 4:
        model.backward(np.zeros_like(out))  # leave no cache behind
        raise ValueError(f"{func}: the model's output must be maps (1, C', H', W'), got shape "
                         f"{np.shape(out)}; pass the layers before any Flatten or Dense")
    c_out, h_out, w_out = out.shape[1:]
    if position is None:
        position = (h_out // 2, w_out // 2)
    ok = (isinstance(position, (tuple, list)) and len(position) == 2
          and all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in position)
          and 0 <= position[0] < h_out and 0 <= position[1] < w_out)
    if not ok:
        model.backward(np.zeros_like(out))
        raise ValueError(f"{func}: position must be a pair (i, j) with 0 <= i < {h_out} and "
                         f"0 <= j < {w_out} (the output is {h_out}x{w_out}), got {position!r}")
    if channel is not None:
        try:
            channel = positive_int(channel, "channel", func, minimum=0, maximum=c_out - 1)
        except (TypeError, ValueError):
            model.backward(np.zeros_like(out))
            raise
    dout = np.zeros_like(out)
    i, j = position
    dout[0, slice(None) if channel is None else channel, i, j] = 1.0
    return model.backward(dout)[0].sum(axis=0)  # (H, W)


def gradient_extent(grad, *, threshold=0.0) -> Extent:
    """The smallest rectangle holding every entry of the 2-D map ``grad`` with
    |grad| > threshold: an ``Extent`` (top, left, height, width); height and width are
    0 when no entry is above it. See chapter 8."""
    func = "gradient_extent"
    grad = as_float_array(grad, "grad", func, ndim=2, layout="(H, W)")
    threshold = real_number(threshold, "threshold", func, minimum=0)
    if np.isnan(grad).any():
        raise ValueError(f"{func}: grad holds NaN")
    rows = np.flatnonzero(np.abs(grad).max(axis=1, initial=0) > threshold)
    cols = np.flatnonzero(np.abs(grad).max(axis=0, initial=0) > threshold)
    if rows.size == 0:
        return Extent(0, 0, 0, 0)
    return Extent(int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1),
                  int(cols[-1] - cols[0] + 1))
