"""A small U-Net (Ronneberger et al. 2015) built from the book's layers. See chapter 12.

The network is nested: level i is

    conv3x3 - ReLU - conv3x3 - ReLU  -> skip( maxpool - [level i+1] - up-conv 2x2/2 ) -> conv3x3 - ReLU - conv3x3 - ReLU

where the skip meets the upsampled maps by concatenation (U-Net, ``ConcatSkip``), by
addition (FusionNet, ``Residual``) or not at all (an encoder-decoder without skips).
The innermost level is the bottleneck (two convolutions), and a 1x1 convolution maps the
last maps to the class scores. Convolutions are padded ("same"), so the output has the
input's height and width and no crop is needed.
"""
from __future__ import annotations

import numpy as np

from .._checks import fits_in_memory, float_dtype, positive_int
from .._init import make_rng
from ..activations import ReLU
from ..conv import Conv2d
from ..conv_transpose import ConvTranspose2d
from ..module import Sequential
from ..pool import MaxPool2d
from ..skip import ConcatSkip, Residual

__all__ = ["unet"]

_SKIPS = ("concat", "add", "none")


def _double_conv(c_in, c_out, rng, dtype):
    return [Conv2d(c_in, c_out, 3, padding=1, rng=rng, dtype=dtype), ReLU(),
            Conv2d(c_out, c_out, 3, padding=1, rng=rng, dtype=dtype), ReLU()]


def unet(in_channels=1, n_classes=2, *, width=8, depth=2, skip="concat", rng=None,
         dtype=np.float32):
    """A U-Net for (N, in_channels, H, W) images; returns logits (N, n_classes, H, W).

    ``width`` channels at full resolution, doubled at each of the ``depth`` poolings
    (H and W must be divisible by 2**depth). ``skip``: "concat" (U-Net: the decoder's
    first convolution sees 2C channels), "add" (FusionNet: C channels, fewer
    parameters) or "none" (no skips). The layers draw their weights in the order encoder,
    bottleneck, decoder from the inside out, so with one seed "add" and "none" start from
    the same weights. ``dtype``: the parameters' dtype (float64 for gradient checks).
    See chapter 12.
    """
    func = "unet"
    in_channels = positive_int(in_channels, "in_channels", func)
    n_classes = positive_int(n_classes, "n_classes", func)
    width = positive_int(width, "width", func)
    depth = positive_int(depth, "depth", func, minimum=0, maximum=6)
    if skip not in _SKIPS:
        raise ValueError(f"{func}: skip must be one of {_SKIPS}, got {skip!r}")
    rng = make_rng(rng)
    dtype = float_dtype(dtype, func)
    chans = [width * 2 ** i for i in range(depth + 1)]
    for shape, what in (((width, in_channels, 3, 3), f"in_channels={in_channels}, width={width}"),
                        ((n_classes, width), f"n_classes={n_classes}, width={width}"),
                        ((chans[-1], chans[-1], 3, 3), f"width={width}, depth={depth}")):
        fits_in_memory(shape, "a weight", func, what)
    encoders = [_double_conv(in_channels if i == 0 else chans[i - 1], chans[i], rng, dtype)
                for i in range(depth)]
    inner = Sequential(*_double_conv(in_channels if depth == 0 else chans[depth - 1],
                                     chans[depth], rng, dtype))  # the bottleneck
    for i in reversed(range(depth)):  # wrap the inner levels from the inside out
        c = chans[i]
        down_up = Sequential(MaxPool2d(2), inner,
                             ConvTranspose2d(chans[i + 1], c, 2, stride=2, rng=rng,
                                             dtype=dtype))
        merge = {"concat": ConcatSkip, "add": Residual}.get(skip)
        middle = [merge(down_up)] if merge else list(down_up)
        decoder = _double_conv(2 * c if skip == "concat" else c, c, rng, dtype)
        inner = Sequential(*encoders[i], *middle, *decoder)
    return Sequential(*inner, Conv2d(chans[0], n_classes, 1, rng=rng, dtype=dtype))
