"""Plain data: a reader's result copied into types whose behaviour the reader cannot change.

Before anything is compared, a result becomes plain data: a NumPy array of the base class
(a copy, so that a subclass's ``__eq__``, ``__array_ufunc__`` or ``__array_function__``
takes no part), a NumPy scalar of a base type, an exact ``int``, ``float``, ``bool`` or
``str``, ``None``, or a tuple or list of those. Anything else becomes an ``Opaque``, which
only knows how to describe itself ("a dict"). Converting runs none of the reader's code.

``encode`` and ``decode`` carry plain data between processes as JSON: the grader
(``cnnbook.course.grade``) runs the reader's code in one process and compares the
answers in another, where no reader's code runs.
"""
from __future__ import annotations

import base64

import numpy as np

from ._seal import seal

__all__ = ["Opaque", "plain", "describe", "type_name", "safe_text", "encode", "decode"]

_MAX_ITEMS = 100_000   # longer lists and tuples are described, not copied
_MAX_DEPTH = 20
_MAX_BYTES = 256 * 2**20
_MAX_TEXT = 2_000


class Opaque:
    """A value that is not plain data, known only by its description ("a dict")."""
    __slots__ = ("description",)

    def __init__(self, description: str):
        self.description = description

    def __eq__(self, other):
        return type(other) is Opaque and other.description == self.description

    def __hash__(self):
        return hash(self.description)

    def __repr__(self):
        return f"Opaque({self.description!r})"


def type_name(value) -> str:
    """The name of ``value``'s type, read without running any of its code."""
    return type.__dict__["__name__"].__get__(type(value))


def plain(value, _depth: int = 0):
    """``value`` as plain data (see the module docstring); never runs the reader's code."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if issubclass(kind, np.ndarray):
        return _plain_array(value)
    if issubclass(kind, np.generic):
        return np.array(value, copy=True, subok=False)[()]
    if issubclass(kind, (tuple, list)):
        base = tuple if issubclass(kind, tuple) else list
        n = base.__len__(value)
        if n > _MAX_ITEMS or _depth >= _MAX_DEPTH:
            return Opaque(f"a {base.__name__} of {n} items")
        return base(plain(item, _depth + 1) for item in base.__iter__(value))
    if issubclass(kind, int):
        return int.__int__(value)
    if issubclass(kind, float):
        return float.__float__(value)
    if issubclass(kind, str):
        return str.__str__(value)
    return Opaque(_article(type_name(value)))


def _plain_array(value):
    # np.array(..., subok=False) copies the data into a base-class array without calling
    # any method the subclass defines.
    array = np.array(value, copy=True, subok=False)
    if array.dtype.hasobject:
        return Opaque(f"an array of shape {array.shape} and dtype {array.dtype}")
    return array


def describe(value) -> str:
    """A few words about a plain value that never show its numbers."""
    if value is None:
        return "None"
    if type(value) is Opaque:
        return value.description
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, np.generic):
        return _article(f"NumPy {value.dtype} scalar")
    return _article(type(value).__name__)


def _article(name: str) -> str:
    return f"{'an' if name[:1] in tuple('aeiouAEIOU') else 'a'} {name}"


def safe_text(obj, limit: int = _MAX_TEXT) -> str:
    """``str(obj)`` as an exact str of at most ``limit`` characters; a note if str() fails."""
    try:
        text = str.__str__(str(obj))
    except BaseException:  # noqa: BLE001 - the reader's __str__ may raise anything
        return f"(the message of this {type_name(obj)} could not be shown: str() failed)"
    return text if len(text) <= limit else text[:limit - 1] + "…"


# -- JSON for plain data ----------------------------------------------------------------
def encode(value):
    """Plain data (the output of ``plain``) as something ``json.dumps`` writes."""
    kind = type(value)
    if value is None or kind is float:
        return value
    if kind is bool:
        return {"bool": value}
    if kind is int:
        return {"int": str(value)}
    if kind is str:
        return {"str": value[:_MAX_TEXT]}
    if kind is Opaque:
        return {"opaque": value.description}
    if kind in (tuple, list):
        return {kind.__name__: [encode(v) for v in value]}
    if kind is np.ndarray:
        if value.nbytes > _MAX_BYTES:
            return {"opaque": f"an array of shape {value.shape} and dtype {value.dtype} (too big to check)"}
        data = np.ascontiguousarray(value).tobytes()
        return {"array": value.dtype.str, "shape": list(value.shape),
                "data": base64.b64encode(data).decode("ascii")}
    if issubclass(kind, np.generic):
        return {"scalar": encode(np.array(value))}
    return {"opaque": describe(value)}


def decode(obj):
    """The plain data that ``encode`` wrote; anything unexpected becomes an ``Opaque``."""
    try:
        return _decode(obj)
    except Exception:  # noqa: BLE001 - written by a process that ran the reader's code
        return Opaque("something the grader could not read")


def _decode(obj):
    if obj is None or type(obj) is float:
        return obj
    if type(obj) is not dict or not obj:
        return Opaque("something the grader could not read")
    key = next(iter(obj))
    data = obj[key]
    if key == "bool":
        return bool(data)
    if key == "int":
        return int(data)
    if key == "str":
        return str(data)
    if key == "opaque":
        return Opaque(str(data))
    if key in ("tuple", "list"):
        items = [_decode(v) for v in data]
        return tuple(items) if key == "tuple" else items
    if key == "array":
        dtype = np.dtype(data)
        if dtype.hasobject or dtype.kind not in "biufcmMSUV":
            return Opaque(f"an array of dtype {dtype}")
        shape = tuple(int(n) for n in obj["shape"])
        raw = base64.b64decode(obj["data"])
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if key == "scalar":
        array = _decode(data)
        return array[()] if isinstance(array, np.ndarray) and array.ndim == 0 else Opaque("a scalar")
    return Opaque("something the grader could not read")


seal(globals(), freeze=("np",))
