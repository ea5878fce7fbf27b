"""Weight initialisation, matching PyTorch's defaults so weights can be compared.

``torch.nn.Linear`` and ``torch.nn.Conv2d`` draw weight and bias from
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5)).
"""
from __future__ import annotations

import numpy as np

__all__ = ["make_rng", "uniform_fan_in"]


def make_rng(rng=None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, a Generator, or None (fresh entropy)."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def uniform_fan_in(shape, fan_in: int, rng=None, dtype=np.float32) -> np.ndarray:
    """Draw from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for weights and biases."""
    bound = 1.0 / np.sqrt(fan_in)
    return make_rng(rng).uniform(-bound, bound, size=shape).astype(dtype)
