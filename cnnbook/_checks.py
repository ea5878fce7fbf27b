"""Input checks shared by the kernels: errors a learner can act on.

Every message names the function, the argument, what was expected and what came in,
e.g. ``conv2d_forward: weight has 3 input channels but x has 1 (x.shape=(8, 1, 28, 28))``.
"""
from __future__ import annotations

import numbers

import numpy as np


def as_float_array(x, name: str, func: str, *, ndim=None, layout: str | None = None) -> np.ndarray:
    """Return ``x`` as a floating NumPy array, or raise a clear TypeError/ValueError.

    ``ndim`` may be an int or a tuple of allowed ints; ``layout`` (e.g. "(N, C, H, W)")
    is quoted in the message.
    """
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple, numbers.Number)):
            x = np.asarray(x)
        else:
            raise TypeError(f"{func}: {name} must be a NumPy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
            x = x.astype(np.float64)
        else:
            raise TypeError(f"{func}: {name} must have a numeric dtype, got {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            shape = f" {layout}" if layout else ""
            raise ValueError(
                f"{func}: {name} must have {want} dimensions{shape}, "
                f"but has {x.ndim} ({name}.shape={x.shape})"
            )
    return x


def positive_int(value, name: str, func: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an int >= ``minimum``, or raise naming the argument."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: {name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{func}: {name} must be an integer >= {minimum}, got {value}")
    return int(value)


def int_pair(value, name: str, func: str, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (as in ``torch.nn.functional``) -> a checked pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{func}: {name} must be an int or a pair of ints, got {value!r}")
        return (positive_int(value[0], name, func, minimum=minimum),
                positive_int(value[1], name, func, minimum=minimum))
    v = positive_int(value, name, func, minimum=minimum)
    return v, v


def same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str, func: str) -> None:
    """Raise ValueError when two arrays that must match in shape do not."""
    if a.shape != b.shape:
        raise ValueError(
            f"{func}: {name_a} and {name_b} must have the same shape, "
            f"got {name_a}.shape={a.shape} and {name_b}.shape={b.shape}"
        )
