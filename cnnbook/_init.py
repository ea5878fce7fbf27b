"""Weight initialisation, matching PyTorch's defaults so weights can be compared.

``torch.nn.Linear`` and ``torch.nn.Conv2d`` draw weight and bias from
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5)).
"""
from __future__ import annotations

import numbers
import sys

import numpy as np

__all__ = ["make_rng", "uniform_fan_in"]


def make_rng(rng=None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed (an int >= 0), a Generator, or None (fresh
    entropy); anything else is a clear TypeError/ValueError naming the public caller."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    want = "rng must be None, an integer seed >= 0 or a numpy.random.Generator"
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, numbers.Integral):
        shown = f" {rng!r:.40}" if isinstance(rng, (str, bytes, numbers.Number)) else ""
        raise TypeError(f"{_caller()}: {want}, got {type(rng).__name__}{shown}")
    if rng < 0:
        raise ValueError(f"{_caller()}: {want}, got {rng}")
    return np.random.default_rng(int(rng))


def _caller() -> str:
    """Name of the first function outside this module on the stack: "make_xor", "Dense"."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    return getattr(frame.f_code, "co_qualname", frame.f_code.co_name).removesuffix(".__init__")


def uniform_fan_in(shape, fan_in: int, rng=None, dtype=np.float32) -> np.ndarray:
    """Draw from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for weights and biases."""
    bound = 1.0 / np.sqrt(fan_in)
    return make_rng(rng).uniform(-bound, bound, size=shape).astype(dtype)
