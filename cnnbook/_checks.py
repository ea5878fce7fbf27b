"""Input checks shared by the kernels: errors a learner can act on.

Every message names the function, the argument, what was expected and what came in,
e.g. ``conv2d_forward: weight has 3 input channels but x has 1 (x.shape=(8, 1, 28, 28))``.
"""
from __future__ import annotations

import functools
import inspect
import numbers
import os

import numpy as np

__all__ = [
    "as_float_array", "check_dout", "nonempty", "positive_int", "int_pair", "same_shape",
    "real_number", "bias_vector", "fits_in_memory", "flag", "float_dtype", "function",
    "nan_in_nan_out",
]


def as_float_array(x, name: str, func: str, *, ndim=None, layout: str | None = None) -> np.ndarray:
    """Return ``x`` as a floating NumPy array, or raise a clear TypeError/ValueError.

    Integer and boolean input becomes float64; complex, object, string input and None
    are refused with a TypeError (never cast, which would drop the imaginary part).
    ``ndim`` may be an int or a tuple of allowed ints; ``layout`` (e.g. "(N, C, H, W)")
    is quoted in the message.
    """
    x = _as_array(x, name, func)
    if not np.issubdtype(x.dtype, np.floating):
        if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
            x = x.astype(np.float64)
        else:
            raise TypeError(f"{func}: {name} must have a numeric dtype (float, int or bool), "
                            f"got {_dtype_name(x.dtype)}")
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


def _as_array(x, name, func):
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple, numbers.Number, np.generic)):
        return np.asarray(x)
    got = "None" if x is None else type(x).__name__
    raise TypeError(f"{func}: {name} must be a NumPy array, got {got}")


def _dtype_name(dtype) -> str:
    if np.issubdtype(dtype, np.complexfloating):
        return f"the complex dtype {dtype} (take .real or abs() first if that is what you mean)"
    return str(dtype)


def check_dout(dout, shape, dtype, func: str) -> np.ndarray:
    """The upstream gradient of a backward kernel, checked against the forward output.

    ``dout`` must be a floating array of exactly ``shape`` (the forward output's shape:
    a same-size array of another shape, or one that would broadcast, is an error, never
    reshaped or broadcast); integer, boolean, complex and object arrays and None are
    refused with a TypeError rather than cast. Returns dout in ``dtype``, the forward's
    working dtype, so a float16 or float32 dout does not lower the gradients' precision.
    """
    dout = _as_array(dout, "dout", func)
    shape = tuple(shape)
    if not np.issubdtype(dout.dtype, np.floating):
        raise TypeError(f"{func}: dout must be a floating-point array shaped like the forward "
                        f"output {shape}, got {_dtype_name(dout.dtype)}")
    if dout.shape != shape:
        raise ValueError(f"{func}: dout must have shape {shape}, the shape of the forward "
                         f"output, got dout.shape={dout.shape}")
    return dout.astype(dtype, copy=False)


def nonempty(a: np.ndarray, axes, name: str, func: str, what: str) -> None:
    """Raise ValueError when an axis in ``axes`` of ``a`` has length 0, as PyTorch does for
    an empty image or a zero-size kernel; ``what`` names the axes, e.g. "height and width"."""
    if any(a.shape[i] == 0 for i in axes):
        raise ValueError(f"{func}: {name} must have a nonzero {what}, got {name}.shape={a.shape}")


def positive_int(value, name: str, func: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int in [minimum, maximum], or raise naming the argument:
    TypeError for a non-integer (bool and float included), ValueError out of range."""
    want = f"an integer >= {minimum}" + ("" if maximum is None else f" and <= {maximum}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: {name} must be {want}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{func}: {name} must be {want}, got {value}")
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


def real_number(value, name: str, func: str, *, minimum=None, maximum=None,
                open_min: bool = False, open_max: bool = False) -> float:
    """Return ``value`` as a finite float within [minimum, maximum] (ends open if asked),
    or raise naming the argument: ``SGD: lr must be a number >= 0, got -0.1``."""
    lo = "" if minimum is None else f"{'>' if open_min else '>='} {minimum}"
    hi = "" if maximum is None else f"{'<' if open_max else '<='} {maximum}"
    want = "a number" + (f" {lo}" if lo else "") + (" and" if lo and hi else "") + (f" {hi}" if hi else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {name} must be {want}, got {value!r}")
    v = float(value)
    if (not np.isfinite(v)
            or (minimum is not None and (v <= minimum if open_min else v < minimum))
            or (maximum is not None and (v >= maximum if open_max else v > maximum))):
        raise ValueError(f"{func}: {name} must be {want}, got {value!r}")
    return v


def bias_vector(bias, n: int, func: str, weight_shape=None) -> np.ndarray:
    """Check a layer's bias: a 1-D float array with one entry per output channel (its own
    dtype kept, so that its gradient can be returned in it); ``weight_shape``, when given,
    is quoted, since the weight says how many channels there are."""
    bias = as_float_array(bias, "bias", func, ndim=1, layout="(out_channels,)")
    if bias.shape[0] != n:
        of_weight = "" if weight_shape is None else f" of weight.shape={tuple(weight_shape)}"
        raise ValueError(
            f"{func}: bias must have {n} entries (one per output channel{of_weight}), "
            f"got bias.shape={bias.shape}"
        )
    return bias


def flag(value, name: str, func: str) -> bool:
    """True or False (NumPy's bool too), never a truthy stand-in: "no", None, 0 or 1 are a
    TypeError, since "no" would silently mean True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{func}: {name} must be True or False, got {value!r:.60}")
    return bool(value)


def float_dtype(dtype, func: str, name: str = "dtype") -> np.dtype:
    """A layer's parameter dtype: float32 or float64 (an int dtype would truncate the
    initial weights to zeros, a complex one is no real weight)."""
    try:
        resolved = None if dtype is None else np.dtype(dtype)
    except TypeError:
        resolved = None
    # "is not None" first: NumPy reads a dtype compared with None as float64
    if resolved is None or resolved.type not in (np.float32, np.float64):
        raise TypeError(f"{func}: {name} must be np.float32 or np.float64, got {dtype!r:.60}")
    return resolved


def function(fn, name: str, func: str, what: str = "a function") -> None:
    """Raise TypeError unless ``fn`` can be called."""
    if not callable(fn):
        raise TypeError(f"{func}: {name} must be {what}, got {type(fn).__name__} {fn!r:.40}")


def nan_in_nan_out(kernel):
    """Run ``kernel`` with NumPy's "invalid value" warning off: an inf or NaN in the input
    gives NaN in the output where the arithmetic says so (inf - inf, 0 * inf), as in
    PyTorch, which computes the same silently. Finite input never meets these cases, and
    overflow still warns."""
    @functools.wraps(kernel)
    def quiet(*args, **kwargs):
        with np.errstate(invalid="ignore"):
            return kernel(*args, **kwargs)
    quiet.__signature__ = inspect.signature(kernel)
    del quiet.__wrapped__  # the kernel is this function, as far as anyone can tell
    return quiet


def _memory_bytes() -> int:
    """This machine's memory (1 TiB when the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 1 << 40


def _in_units(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024


def fits_in_memory(shape, what: str, func: str, hint: str) -> None:
    """ValueError when an array of ``shape`` could not fit in memory even at 4 bytes a value
    (float32), rather than a MemoryError for terabytes, or an allocation that the system
    grants and then kills the process for using. ``hint`` names the arguments to check."""
    count = int(np.prod([int(d) for d in shape], dtype=object))
    memory = _memory_bytes()
    if count * 4 > memory:
        raise ValueError(f"{func}: {what} would have shape {tuple(shape)}, {count:.3g} values "
                         f"(at least {_in_units(count * 4)}), more than this machine's "
                         f"memory ({_in_units(memory)}); check {hint}")
