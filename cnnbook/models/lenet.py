"""LeNet-style CNNs for 28x28 grey images: ``lenet`` (chapter 6, the benchmarks' workload
W7) and ``lenet_bn``, the same network with batch normalization (chapter 7)."""
from __future__ import annotations

import numpy as np

from .._checks import fits_in_memory, positive_int
from .._init import make_rng
from .._checks import flag
from ..activations import ReLU, Sigmoid
from ..batchnorm import BatchNorm1d, BatchNorm2d
from ..conv import Conv2d
from ..dense import Dense
from ..flatten import Flatten
from ..module import Sequential, no_grad
from ..pool import MaxPool2d

__all__ = ["lenet", "lenet_bn"]


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


_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid}


def lenet_bn(n_classes=10, rng=None, *, activation="relu", batch_norm=True):
    """Chapter 6's LeNet (``lenet()``) with batch normalization before every activation.

    conv 5x5 (6, padding 2) -> BatchNorm2d -> act -> max pool 2 -> conv 5x5 (16) ->
    BatchNorm2d -> act -> max pool 2 -> flatten -> dense 120 -> BatchNorm1d -> act ->
    dense 84 -> BatchNorm1d -> act -> dense ``n_classes``: logits (N, n_classes) for
    (N, 1, 28, 28) images. ``activation`` is "relu" or "sigmoid". ``batch_norm=False``
    leaves the four BatchNorm layers out and changes nothing else, so the two networks
    built with the same seed have the same weights and differ in exactly one thing (with
    "relu" it is ``lenet(n_classes, rng)``). The convolutions and dense layers keep their
    biases, which batch norm makes redundant (their gradient is zero), so that the
    weights are drawn in the same order in both networks. See chapter 7.
    """
    func = "lenet_bn"
    n_classes = positive_int(n_classes, "n_classes", func)
    make_rng(rng)  # checked here, so that a bad one names lenet_bn
    if not isinstance(activation, str):
        raise TypeError(f"{func}: activation must be one of {sorted(_ACTIVATIONS)}, "
                        f"got {type(activation).__name__}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"{func}: activation must be one of {sorted(_ACTIVATIONS)}, "
                         f"got {activation!r:.40}")
    batch_norm = flag(batch_norm, "batch_norm", func)
    fits_in_memory((n_classes, 84), "a weight", func, f"n_classes={n_classes}")
    act = _ACTIVATIONS[activation]

    def norm(bn):  # a BatchNorm layer, or nothing in the control network
        return [bn] if batch_norm else []

    return Sequential(
        Conv2d(1, 6, 5, padding=2, rng=rng), *norm(BatchNorm2d(6)), act(), MaxPool2d(2),
        Conv2d(6, 16, 5, rng=rng), *norm(BatchNorm2d(16)), act(), MaxPool2d(2), Flatten(),
        Dense(400, 120, rng=rng), *norm(BatchNorm1d(120)), act(),
        Dense(120, 84, rng=rng), *norm(BatchNorm1d(84)), act(),
        Dense(84, n_classes, rng=rng))
