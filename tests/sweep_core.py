"""The machinery of the bad-input sweep (tests/test_sweep.py).

An ``Entry`` is one public callable with a builder of a VALID call. Every argument it
names has a *kind* ("array", "int", "float", ...); ``bad_values(kind, valid)`` gives the
standard list of wrong values for that kind, and ``bad_calls(entry)`` makes every call
with ONE argument replaced by one of them. ``outcome(entry, slot, tag)`` runs such a call
and sorts it into one of four classes:

- "clear": a TypeError/ValueError (RuntimeError, IndexError, KeyError, FileNotFoundError,
  PermissionError, ZeroDivisionError, OverflowError) whose message names the function (or
  its class, or one of ``entry.says``) and the argument;
- "generic": any other exception (AttributeError, RecursionError, MemoryError, NumPy's
  "operands could not be broadcast", a RuntimeWarning of NumPy raised inside cnnbook, as
  pytest's configuration turns those into errors, ...);
- "correct": a return shown right: by the PyTorch twin (``entry.twin``, same arguments,
  CPU, float64; if torch raises, a return is wrong), by the entry's consistency ``rule``,
  by the generic rule for integer and boolean arrays (the result equals that of the
  same values as float64), or documented in ``entry.accept`` with the reason;
- "silent": any other return, a silent wrong result.
"""
from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from matplotlib.figure import Figure

from cnnbook import optim
from cnnbook.autograd import Value

NAN, INF = float("nan"), float("inf")
CLEAR = (TypeError, ValueError, RuntimeError, IndexError, KeyError, FileNotFoundError,
         PermissionError, ZeroDivisionError, OverflowError)
NEVER_CLEAR = (RecursionError, MemoryError, AttributeError, NameError, UnboundLocalError,
               AssertionError)
CLASSES = ("clear", "generic", "silent", "correct")


@dataclass
class Entry:
    """One public callable and a valid call of it.

    ``build()`` returns a fresh dict {argument name: valid value} in call order; the first
    ``npos`` are passed positionally, the rest by keyword. ``kinds`` maps an argument to its
    kind (or a tuple of kinds); arguments without a kind are not varied (``fixed`` says why).
    ``twin`` takes the same arguments and computes the result with PyTorch (raising where
    torch raises); ``rule(result, args)`` (args: the dict of the call) is the consistency
    rule where torch has no twin. ``accept`` documents a return the twin or rule refuses,
    by (argument, tag); ``skip`` documents a bad value not tried, by (argument, tag).
    """
    name: str
    fn: Callable
    build: Callable[[], dict]
    kinds: dict
    npos: int = 0
    twin: Callable | None = None
    rule: Callable | None = None
    labels: dict = field(default_factory=dict)
    says: tuple = ()
    accept: dict = field(default_factory=dict)
    skip: dict = field(default_factory=dict)
    fixed: str = ""
    same: Callable | None = None  # (got, expected) -> bool, instead of ``same``
    variant: str = ""  # tells apart two entries of one function (its test id)
    nocast: tuple = ()  # array arguments whose int/bool values are judged by the twin or rule
    equiv: dict = field(default_factory=dict)  # (argument, tag) -> (value for the twin, why)
    # (result, expected, argument, entry) -> why a result that differs is right, or None:
    # a layer built with a value that only its first forward can refuse
    deferred: Callable | None = None

    @property
    def id(self) -> str:
        return f"{self.name}[{self.variant}]" if self.variant else self.name

    def names(self) -> tuple:
        head = self.name.split(".")[0]
        return tuple(dict.fromkeys((self.name, head, *self.says)))

    def call(self, args: dict):
        """Call ``fn``; arguments named with a leading underscore are for the twin only."""
        args = {k: v for k, v in args.items() if not k.startswith("_")}
        values = list(args.values())
        keys = list(args)
        return self.fn(*values[:self.npos], **dict(zip(keys[self.npos:], values[self.npos:])))

    def call_twin(self, args: dict):
        values = list(args.values())
        keys = list(args)
        return self.twin(*values[:self.npos], **dict(zip(keys[self.npos:], values[self.npos:])))


# ------------------------------------------------------------------ the standard bad values

def _other_shape(shape):
    """A shape of the same size but another layout."""
    if len(shape) >= 2 and shape[::-1] != shape:
        return shape[::-1]
    if len(shape) >= 2:
        return (int(np.prod(shape)),)
    return (1,) + tuple(shape) if shape else (1,)


def array_values(v):
    v = np.asarray(v)
    values = [("None", None), ("str", "x"), ("list of str", ["a", "b"]),
              ("complex", v.astype(np.complex128) + 1j), ("object", v.astype(object)),
              ("int", np.round(v).astype(np.int64)), ("bool", v > 0),
              ("nan", np.full(v.shape, NAN)), ("inf", np.full(v.shape, INF)),
              ("ndim+1", v[None]), ("0-d", np.array(1.0))]
    if v.ndim >= 1:
        values += [("ndim-1", v[0]), ("reshaped", v.reshape(_other_shape(v.shape))),
                   ("N=0", v[:0]), ("last axis 0", v[..., :0])]
    return values


def labels_values(v):
    """Integer class indices: a float array, out-of-range and negative labels, ..."""
    v = np.asarray(v)
    values = [("None", None), ("str", "x"), ("list of str", ["a", "b"]),
              ("float", v.astype(np.float64) + 0.5), ("complex", v.astype(np.complex128)),
              ("object", v.astype(object)), ("bool", v > 0),
              ("too large", np.full(v.shape, 10**6)), ("negative", np.full(v.shape, -1)),
              ("ndim+1", v[None]), ("0-d", np.array(0))]
    if v.ndim >= 1:
        values += [("ndim-1", v[0]), ("N=0", v[:0])]
    return values


KINDS = {
    "array": array_values,
    "labels": labels_values,
    "int": lambda v: [("None", None), ("'2'", "2"), ("2.0", 2.0), ("2.5", 2.5), ("True", True),
                      ("0", 0), ("-1", -1), ("10**12", 10**12)],
    "float": lambda v: [("None", None), ("'0.1'", "0.1"), ("nan", NAN), ("inf", INF),
                        ("-1.0", -1.0), ("0.0", 0.0), ("1e300", 1e300)],
    "bool": lambda v: [("'no'", "no"), ("0", 0), ("1", 1), ("None", None)],
    "rng": lambda v: [("'seed'", "seed"), ("-1", -1), ("1.5", 1.5), ("list", [1, 2])],
    "callable": lambda v: [("None", None), ("3", 3)],
    "str": lambda v: [("''", ""), ("'nonsense'", "nonsense"), ("3", 3)],
    # added to the brief's list: a layer's dtype, a Module argument, optimizer params
    "dtype": lambda v: [("None", None), ("int64", np.int64), ("complex128", np.complex128),
                        ("'nonsense'", "nonsense"), ("3", 3)],
    "module": lambda v: [("None", None), ("3", 3), ("'model'", "model"),
                         ("function", lambda x: x)],
    "params": lambda v: [("None", None), ("3", 3), ("'w'", "w"), ("[]", []), ("[1, 2]", [1, 2])],
}


def _state_values(v):
    first = next(iter(v))
    return [("None", None), ("3", 3), ("{}", {}), ("str values", {k: "x" for k in v}),
            ("complex", {k: np.asarray(a) + 1j for k, a in v.items()}),
            ("nan", {k: np.full(np.shape(a), NAN) for k, a in v.items()}),
            ("int", {k: np.round(a).astype(np.int64) for k, a in v.items()}),
            ("ndim+1", {k: np.asarray(a)[None] for k, a in v.items()}),
            ("missing key", {k: a for k, a in v.items() if k != first}),
            ("extra key", {**v, "extra": np.ones(2)})]


def _value_values(v):
    return [(f"Value({x})", Value(float(x))) for x in ("nan", "inf", "-inf", "-1.0", "0.0", "1e300")]


KINDS.update({  # added to the brief's list
    "state": _state_values,
    "value": _value_values,
    "operand": lambda v: KINDS["float"](v) + _value_values(v) + [("[1.0]", [1.0])],
    "betas": lambda v: [("None", None), ("'0.9'", "0.9"), ("(0.9,)", (0.9,)),
                        ("(nan, 0.999)", (NAN, 0.999)), ("(0.9, 1.0)", (0.9, 1.0)),
                        ("(-0.1, 0.999)", (-0.1, 0.999)), ("(0.9, 'x')", (0.9, "x"))],
    "dict": lambda v: [("None", None), ("3", 3), ("'lr'", "lr")],
    "ax": lambda v: [("3", 3), ("'ax'", "ax")],
    "figsize": lambda v: [("3", 3), ("'big'", "big"), ("(0, 2)", (0, 2)), ("(-1, 2)", (-1, 2)),
                          ("(nan, 2)", (NAN, 2)), ("(1e300, 2)", (1e300, 2))],
    "path": lambda v: [("''", ""), ("'nonsense'", "nonsense"), ("3", 3), ("b'/tmp'", b"/tmp")],
    "xy": lambda v: [("None", None), ("3", 3), ("'data'", "data"), ("(X,)", (v[0],)),
                     ("(X, y[:-1])", (v[0], v[1][:-1])), ("empty", (v[0][:0], v[1][:0])),
                     ("X nan", (np.full(np.shape(v[0]), NAN), v[1])),
                     ("X complex", (np.asarray(v[0]) + 1j, v[1])),
                     ("y str", (v[0], np.array(["a"] * len(v[1]))))],
    "history": lambda v: [("None", None), ("3", 3), ("'h'", "h"), ("{}", {}),
                          ("str losses", {"train_loss": "abc"}),
                          ("nan losses", {"train_loss": [NAN, NAN]})],
    "wrt": lambda v: [("'0'", "0"), ("[5]", [5]), ("[0.5]", [0.5]), ("3", 3), ("[-1]", [-1])],
    "optimizer": lambda v: [("None", None), ("3", 3), ("'sgd'", "sgd"),
                            ("an instance", optim.SGD([({"w": np.ones(1)}, {}, "w")]))],
    "names": lambda v: [("3", 3), ("'abc'", "abc"), ("[]", [])],
})


def bad_values(kind, valid):
    kinds = kind if isinstance(kind, tuple) else (kind,)
    seen, out = set(), []
    for k in kinds:
        for tag, value in KINDS[k](valid):
            if tag not in seen:
                seen.add(tag)
                out.append((tag, value))
    return out


def bad_calls(entry: Entry):
    """[(argument, tag)] for every bad value tried (the builder is called once here)."""
    valid = entry.build()
    calls = []
    for slot, kind in entry.kinds.items():
        for tag, _ in bad_values(kind, valid[slot]):
            if (slot, tag) not in entry.skip:
                calls.append((slot, tag))
    return calls


def make_args(entry: Entry, slot, tag) -> dict:
    """A fresh valid call with argument ``slot`` replaced by the bad value ``tag``."""
    args = entry.build()
    for t, value in bad_values(entry.kinds[slot], args[slot]):
        if t == tag:
            args[slot] = value
            return args
    raise KeyError((slot, tag))


# ------------------------------------------------------------------ comparing results

def to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, (tuple, list)):
        return type(value)(to_numpy(v) for v in value)
    return value


def same(got, want, rtol=1e-6, atol=1e-9) -> bool:
    """Equal results: arrays of the same shape whose values agree (NaN where NaN)."""
    want = to_numpy(want)
    if isinstance(want, dict):
        return (isinstance(got, dict) and set(got) == set(want)
                and all(same(got[k], want[k], rtol, atol) for k in want))
    if isinstance(want, (tuple, list)):
        return (isinstance(got, (tuple, list)) and len(got) == len(want)
                and all(same(g, w, rtol, atol) for g, w in zip(got, want)))
    if want is None:
        return got is None
    if isinstance(want, (bool, np.bool_)):
        return isinstance(got, (bool, np.bool_)) and bool(got) == bool(want)
    if isinstance(want, np.ndarray) or isinstance(got, np.ndarray):
        if not isinstance(got, (np.ndarray, float, int, np.generic)):
            return False
        got, want = np.asarray(got), np.asarray(want)
        if got.shape != want.shape or got.dtype.kind not in "biuf" or want.dtype.kind not in "biuf":
            return False
        return bool(np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol,
                                atol=atol, equal_nan=True))
    if isinstance(want, (int, float, np.number)):
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.number)):
            return False
        g, w = float(got), float(want)
        return (math.isnan(g) and math.isnan(w)) or g == w or math.isclose(g, w, rel_tol=rtol,
                                                                           abs_tol=atol)
    return got == want


def as_float_call(entry: Entry, slot, args):
    """The same call with the integer or boolean array in ``slot`` given as float64."""
    args = dict(args)
    args[slot] = np.asarray(args[slot]).astype(np.float64)
    return entry.call(args)


def _names(text: str, name: str) -> bool:
    """``name`` appears as a word; a one-letter name ("a", "x") as an argument: followed by
    " must", " is", " has", " and", ".shape", "=", "[" or "," (not the article in "a number")."""
    after = r"(?=\s+(must|is|has|and|holds|does)\b|\.shape|=|\[|,|\))" if len(name) == 1 else r"(?!\w)"
    return re.search(rf"(?<![\w.]){re.escape(name)}{after}", text) is not None


def is_clear(entry: Entry, slot, exc: BaseException) -> bool:
    if isinstance(exc, NEVER_CLEAR) or not isinstance(exc, CLEAR):
        return False
    message = str(exc)
    label = entry.labels.get(slot, slot)
    labels = label if isinstance(label, tuple) else (label,)
    return (any(_names(message, n) for n in entry.names())
            and (label is None or any(_names(message, lab) for lab in labels)))


@dataclass
class Outcome:
    entry: str
    slot: str
    tag: str
    cls: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.entry}({self.slot}={self.tag}): {self.cls}: {self.detail}"


def _run(fn):
    """Call ``fn`` with RuntimeWarnings raised inside cnnbook turned into errors, as the
    project's pytest configuration does (filterwarnings error::RuntimeWarning:cnnbook.*)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=RuntimeWarning, module=r"cnnbook\..*")
        return fn()


def outcome(entry: Entry, slot, tag) -> Outcome:
    args = make_args(entry, slot, tag)
    try:
        result = _run(lambda: entry.call(args))
    except BaseException as exc:  # noqa: BLE001
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        detail = f"{type(exc).__name__}: {str(exc)[:300]}"
        return Outcome(entry.name, slot, tag, "clear" if is_clear(entry, slot, exc) else "generic",
                       detail)
    cls, detail = judge(entry, slot, tag, result)
    return Outcome(entry.name, slot, tag, cls, detail)


def judge(entry: Entry, slot, tag, result):
    """("correct" | "silent", why) for a bad call that returned ``result``."""
    if (slot, tag) in entry.accept:
        return "correct", "documented: " + entry.accept[(slot, tag)]
    compare = entry.same or same
    kind = entry.kinds[slot]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if kinds == ("bool",) and tag in ("'no'", "None"):
        return "silent", "a flag took a value that is not True or False"
    if "array" in kinds and tag in ("int", "bool") and slot not in entry.nocast:
        try:
            ref = _run(lambda: as_float_call(entry, slot, make_args(entry, slot, tag)))
        except Exception as exc:  # noqa: BLE001
            return "silent", f"returned, but the float64 array raises {type(exc).__name__}: {exc}"
        if compare(result, ref) and _dtypes_match(result, ref):
            return "correct", "equals the result for the same values as float64"
        return "silent", "differs from the result for the same values as float64"
    if entry.twin is not None:
        twin_args = make_args(entry, slot, tag)
        if (slot, tag) in entry.equiv:
            twin_args[slot] = entry.equiv[(slot, tag)][0]
        try:
            expected = entry.call_twin(twin_args)
        except Exception as exc:  # noqa: BLE001
            return "silent", f"returned, but torch raises {type(exc).__name__}: {str(exc)[:200]}"
        if compare(result, expected):
            return "correct", "as torch"
        why = entry.deferred and entry.deferred(result, expected, slot, entry)
        if why:
            return "correct", why
        return "silent", f"differs from torch: got {_short(result)}, torch {_short(to_numpy(expected))}"
    if entry.rule is not None:
        try:
            ok = entry.rule(result, make_args(entry, slot, tag))
        except Exception as exc:  # noqa: BLE001
            return "silent", f"the rule failed with {type(exc).__name__}: {exc}"
        return ("correct", "passes the rule") if ok else ("silent", f"breaks the rule: {_short(result)}")
    return "silent", f"no twin or rule shows it right: {_short(result)}"


def _dtypes_match(a, b) -> bool:
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return all(_dtypes_match(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype == b.dtype
    return True


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape} {value.dtype} {np.array2string(value.ravel()[:4], precision=3)}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_short(v) for v in value[:4]) + ")"
    return repr(value)[:80]


def panels(result, want):
    """A Figure with ``want`` panels holding data, which renders (as a notebook would show it;
    at 10 dpi, to be quick)."""
    if not (isinstance(result, Figure) and sum(a.has_data() for a in result.axes) == want):
        return False
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning while drawing is a generic message too,
        # but not a library's notice about its own dependencies (matplotlib 3.7 calls
        # pyparsing's deprecated names: make test-lowest)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        result.savefig(buf, format="png", dpi=10)
    return buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def sweep(entries) -> list[Outcome]:
    return [outcome(e, slot, tag) for e in entries for slot, tag in bad_calls(e)]


def table(outcomes) -> str:
    """Counts per class, overall and per entry with anything but clear errors."""
    rows: dict = {}
    for o in outcomes:
        rows.setdefault(o.entry, dict.fromkeys(CLASSES, 0))[o.cls] += 1
    total = {c: sum(r[c] for r in rows.values()) for c in CLASSES}
    lines = [f"{'':40}" + "".join(f"{c:>9}" for c in CLASSES)]
    for name, r in rows.items():
        if r["generic"] or r["silent"]:
            lines.append(f"{name:40}" + "".join(f"{r[c]:>9}" for c in CLASSES))
    lines.append(f"{'TOTAL (' + str(len(rows)) + ' entries, ' + str(len(outcomes)) + ' bad calls)':40}"
                 + "".join(f"{total[c]:>9}" for c in CLASSES))
    return "\n".join(lines)
