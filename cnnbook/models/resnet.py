"""A stack of residual blocks, with or without batch normalization (chapter 7)."""
from __future__ import annotations

import numpy as np

from .._checks import fits_in_memory, flag, positive_int
from .._init import make_rng
from ..activations import ReLU
from ..batchnorm import BatchNorm2d
from ..conv import Conv2d
from ..module import Sequential
from ..skip import Residual

__all__ = ["residual_stack"]


def residual_stack(n_blocks, channels=16, *, batch_norm=False, rng=None):
    """``n_blocks`` residual blocks x + F(x) on (N, channels, H, W) maps, shape kept.

    F is conv 3x3 -> [BatchNorm2d] -> ReLU -> conv 3x3 -> [BatchNorm2d] (padding 1, no
    bias), ResNet's basic block without the ReLU after the addition. The convolution
    weights are drawn from N(0, 2 / fan_in) (He et al.'s initialization for ReLU
    networks, fan_in = 9 * channels), in the same order with or without batch norm, so
    that the two stacks built from the same seed differ in the BatchNorm layers only.
    See chapter 7.
    """
    func = "residual_stack"
    n_blocks = positive_int(n_blocks, "n_blocks", func)
    channels = positive_int(channels, "channels", func)
    batch_norm = flag(batch_norm, "batch_norm", func)
    fits_in_memory((n_blocks, 2, channels, channels, 3, 3), "the weights", func,
                   f"n_blocks={n_blocks}, channels={channels}")
    rng = make_rng(rng)

    def conv():
        layer = Conv2d(channels, channels, 3, padding=1, bias=False, rng=rng)
        std = np.sqrt(2.0 / (9 * channels))  # He: Var(w) = 2 / fan_in
        layer.params["weight"][...] = rng.normal(0.0, std, layer.params["weight"].shape)
        return layer

    def norm():
        return [BatchNorm2d(channels)] if batch_norm else []

    return Sequential(*[Residual(Sequential(conv(), *norm(), ReLU(), conv(), *norm()))
                        for _ in range(n_blocks)])
