"""LeNet-style CNN for 28x28 grey images (chapter 6, the benchmarks' workload W7)."""
from __future__ import annotations

import numpy as np

from .._checks import fits_in_memory, positive_int
from .._init import make_rng
from ..activations import ReLU
from ..conv import Conv2d
from ..dense import Dense
from ..flatten import Flatten
from ..module import Sequential, no_grad
from ..pool import MaxPool2d

__all__ = ["lenet"]


def lenet(n_classes=10, rng=None, channels=(6, 16), kernel=5, stride=1, padding2=0):
    """A LeNet-style CNN for (N, 1, 28, 28) images; returns logits (N, n_classes).

    Two stages of convolution, ReLU and 2x2 max pooling, then dense layers of 120, 84
    and ``n_classes`` units. The defaults give the network of chapter 6's table (61,706
    parameters); ``channels``, ``kernel``, ``stride`` (of the first convolution) and
    ``padding2`` (of the second) are the variants of section 6.8. See chapter 6.
    """
    func = "lenet"
    n_classes = positive_int(n_classes, "n_classes", func)
    make_rng(rng)  # checked here, so that a bad one names lenet (each layer gets it as given)
    if not (isinstance(channels, (tuple, list)) and len(channels) == 2):
        raise TypeError(f"{func}: channels must be a pair (c1, c2) of channel counts, "
                        f"got {channels!r:.40}")
    c1, c2 = (positive_int(c, "channels", func) for c in channels)
    kernel = positive_int(kernel, "kernel", func)
    stride = positive_int(stride, "stride", func)
    padding2 = positive_int(padding2, "padding2", func, minimum=0)
    for shape, what in (((c2, c1, kernel, kernel), f"channels={channels}, kernel={kernel}"),
                        ((n_classes, 84), f"n_classes={n_classes}")):
        fits_in_memory(shape, "a weight", func, what)
    layers = [Conv2d(1, c1, kernel, stride=stride, padding=kernel // 2, rng=rng), ReLU(), MaxPool2d(2),
              Conv2d(c1, c2, kernel, padding=padding2, rng=rng), ReLU(), MaxPool2d(2), Flatten()]
    x = np.zeros((1, 1, 28, 28), dtype=np.float32)
    try:
        with no_grad():  # a trial run, leaving no caches in the layers
            n_flat = Sequential(*layers).forward(x).shape[1]  # size of the flattened maps
    except ValueError as exc:  # the maps shrank to nothing, or a padding too large
        raise ValueError(f"{func}: kernel={kernel}, stride={stride}, padding2={padding2} do not fit "
                         f"a 28x28 image ({exc})") from None
    return Sequential(*layers,
                      Dense(n_flat, 120, rng=rng), ReLU(),
                      Dense(120, 84, rng=rng), ReLU(),
                      Dense(84, n_classes, rng=rng))
