"""A small recurrent convolutional network (RCNN) for 28x28 grey images, and the
baselines it is compared with in chapter 9, all built by one function."""
from __future__ import annotations

import numpy as np

from .._checks import fits_in_memory, positive_int
from .._init import make_rng
from ..activations import ReLU
from ..conv import Conv2d
from ..dense import Dense
from ..flatten import Flatten
from ..lrn import LocalResponseNorm
from ..module import Sequential
from ..pool import MaxPool2d
from ..recurrent import _MAX_STEPS, RecurrentConv2d

__all__ = ["rcnn"]

_BLOCKS = ("rcl", "stack", "wide")


def rcnn(n_classes=10, rng=None, channels=16, steps=3, block="rcl", wide_channels=None):
    """A small RCNN for (N, 1, 28, 28) images, or one of its baselines; returns logits.

    stem: Conv2d(1, c, 5, padding 2), ReLU, MaxPool2d(2)        -> (N, c, 14, 14)
    middle, by ``block``:
      "rcl":   RecurrentConv2d(c, c, 3, steps=steps) (LRN on)    (steps=0: its
               feed-forward part alone)
      "stack": Conv2d(c, c, 3), ReLU, LRN, Conv2d(c, c, 3), ReLU, LRN: two distinct
               layers, as many parameters as the RCL (the RCL's unrolled T = 1 with
               its weights NOT shared)
      "wide":  Conv2d(c, c', 3), ReLU, LRN with c' = ``wide_channels``: one wider layer
    head: MaxPool2d(2), Flatten, Dense(c * 7 * 7, n_classes).
    Every convolution keeps the size (padding "same"). See chapter 9.
    """
    func = "rcnn"
    n_classes = positive_int(n_classes, "n_classes", func)
    channels = positive_int(channels, "channels", func)
    steps = positive_int(steps, "steps", func, minimum=0, maximum=_MAX_STEPS)
    if not isinstance(block, str) or block not in _BLOCKS:
        raise ValueError(f"{func}: block must be one of {_BLOCKS}, got {block!r:.40}")
    if block == "wide":
        if wide_channels is None:
            raise ValueError(f"{func}: block='wide' needs wide_channels (the wider layer's "
                             "number of channels), got None")
        wide_channels = positive_int(wide_channels, "wide_channels", func)
    elif wide_channels is not None:
        raise ValueError(f"{func}: wide_channels is only for block='wide', got "
                         f"wide_channels={wide_channels!r:.40} with block={block!r}")
    width = wide_channels if block == "wide" else channels
    for shape, what in (((width, channels, 3, 3), f"channels={channels}, "
                                                  f"wide_channels={wide_channels}"),
                        ((n_classes, width * 7 * 7), f"n_classes={n_classes}")):
        fits_in_memory(shape, "a weight", func, what)
    rng = make_rng(rng)
    c = channels
    lrn_size = c // 8 + 1  # the RCL's LRN, in every arm

    def norm():
        return LocalResponseNorm(lrn_size, alpha=0.001, beta=0.75, k=1.0)

    stem = [Conv2d(1, c, 5, padding=2, rng=rng), ReLU(), MaxPool2d(2)]
    if block == "rcl":
        middle, width = [RecurrentConv2d(c, c, 3, steps=steps, rng=rng)], c
    elif block == "stack":
        middle, width = [Conv2d(c, c, 3, padding=1, rng=rng), ReLU(), norm(),
                         Conv2d(c, c, 3, padding=1, rng=rng), ReLU(), norm()], c
    else:
        middle, width = [Conv2d(c, wide_channels, 3, padding=1, rng=rng), ReLU(),
                         LocalResponseNorm(wide_channels // 8 + 1, alpha=0.001, beta=0.75,
                                           k=1.0)], wide_channels
    head = [MaxPool2d(2), Flatten(), Dense(width * 7 * 7, n_classes, rng=rng)]
    return Sequential(*stem, *middle, *head)
