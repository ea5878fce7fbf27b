"""Skip connections: a branch that goes around a block and meets its output again.

Two ways to meet: by addition, ``Residual`` (out = x + block(x), ResNet's residual
block, chapter 7), and by concatenation along the channels, ``ConcatSkip``
(out = [x, block(x)], the skips of the U-Net and DenseNet, chapter 12), with the kernel
pair ``concat_forward`` / ``concat_backward`` (``torch.cat``) for models that write their
backward by hand. In the backward pass an addition copies the gradient to both
branches; a concatenation splits it, each input taking back its own channels; where
the branches meet again at x their gradients add up.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import as_float_array, check_dout, nan_in_nan_out
from .module import Module

__all__ = ["concat_forward", "concat_backward", "Residual", "ConcatSkip"]


@nan_in_nan_out
def concat_forward(arrays, *, axis=1):
    """Join arrays along ``axis``, as ``torch.cat(tensors, dim=axis)``.

    arrays: a list or tuple of K >= 1 arrays with the same number of dimensions and the
    same size on every axis but ``axis``. For feature maps, axis=1 stacks the channels:
    (N, C_1, H, W), ..., (N, C_K, H, W) -> (N, C_1 + ... + C_K, H, W). The dtype is the
    common one (float32 with float64 gives float64). Returns ``(out, cache)``.
    See chapter 12.
    """
    func = "concat_forward"
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{func}: arrays must be a list or tuple of arrays, "
                        f"got {type(arrays).__name__}")
    if len(arrays) == 0:
        raise ValueError(f"{func}: arrays must hold at least one array, "
                         f"got an empty {type(arrays).__name__}")
    arrays = [as_float_array(a, f"arrays[{i}]", func) for i, a in enumerate(arrays)]
    first = arrays[0]
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{func}: axis must be an integer, got {axis!r}")
    if not -first.ndim <= axis < first.ndim:
        raise ValueError(f"{func}: axis must be in [{-first.ndim}, {first.ndim - 1}] for arrays "
                         f"with {first.ndim} dimensions, got axis={axis} "
                         f"(arrays[0].shape={first.shape})")
    axis = int(axis) % first.ndim
    for i, a in enumerate(arrays[1:], start=1):
        if a.ndim != first.ndim:
            raise ValueError(f"{func}: arrays[{i}] has {a.ndim} dimensions but arrays[0] has "
                             f"{first.ndim} (arrays[0].shape={first.shape}, "
                             f"arrays[{i}].shape={a.shape})")
        for d in range(first.ndim):
            if d != axis and a.shape[d] != first.shape[d]:
                raise ValueError(f"{func}: arrays[{i}] has size {a.shape[d]} on axis {d} but "
                                 f"arrays[0] has {first.shape[d]}; every size but axis={axis}'s "
                                 f"must agree (arrays[0].shape={first.shape}, "
                                 f"arrays[{i}].shape={a.shape})")
    out = np.concatenate(arrays, axis=axis)  # (N, C_1 + ... + C_K, H, W) for axis=1
    sizes = tuple(a.shape[axis] for a in arrays)
    return out, (sizes, axis, out.shape, tuple(a.dtype for a in arrays))


@nan_in_nan_out
def concat_backward(dout, cache):
    """Split ``dout`` along the forward's axis: each input gets back its own slice.

    dout: the forward output's shape, e.g. (N, C_1 + ... + C_K, H, W). Returns a tuple with
    one gradient per input array, each shaped (N, C_k, H, W) and typed like it.
    See chapter 12.
    """
    sizes, axis, out_shape, dtypes = cache
    dout = check_dout(dout, out_shape, np.result_type(*dtypes), "concat_backward")
    bounds = np.cumsum(sizes)[:-1]
    # copies, not views into dout, so a caller may change dout or a gradient in place
    return tuple(part.astype(dtype, copy=True)
                 for part, dtype in zip(np.split(dout, bounds, axis=axis), dtypes))


class _Skip(Module):
    """A block with a skip around it; the block is the sub-module ``block``."""

    def __init__(self, block: Module):
        super().__init__()
        if not isinstance(block, Module):
            raise TypeError(f"{type(self).__name__}: block must be a cnnbook Module, "
                            f"got {type(block).__name__}")
        self.block = block


class Residual(_Skip):
    """out = x + block(x): the skip connection of a residual block (ResNet).

    ``block`` must keep the shape, e.g. (N, C, H, W) -> (N, C, H, W). Backward: the
    addition copies dout to both branches, and they add up again at x:
    dx = dout + block.backward(dout). See chapter 7.
    """

    def forward(self, x):
        fx = self.block.forward(x)
        if np.shape(fx) != np.shape(x):
            raise ValueError(f"Residual: the block's output has shape {np.shape(fx)} but x has "
                             f"{np.shape(x)}; x + block(x) needs the same shape")
        self._push_cache(np.shape(x))
        return x + fx

    def backward(self, dout):
        shape = self._pop_cache()
        if np.shape(dout) != shape:
            raise ValueError(f"Residual.backward: dout must have shape {shape}, the shape of the "
                             f"forward output, got dout.shape={np.shape(dout)}")
        # the addition copies the gradient to both branches; at x they add up
        return dout + self.block.backward(dout)


class ConcatSkip(_Skip):
    """out = concatenate([x, block(x)], axis=1): a skip by concatenation (U-Net, DenseNet).

    x: (N, C, H, W) and block(x): (N, C', H, W) give (N, C + C', H, W). Backward: the
    concatenation splits dout, the first C channels go straight back to x, the other C'
    through the block, and the two add up at x. See chapter 12.
    """

    def forward(self, x):
        out, cache = concat_forward([x, self.block.forward(x)], axis=1)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        dskip, dblock = concat_backward(dout, self._pop_cache())
        # the concatenation splits the gradient; the two parts meet again at x
        return dskip + self.block.backward(dblock)
