"""Run a reader's function on an exercise's cases and say what, if anything, is wrong.

The verdict never shows an expected value: only shapes, dtypes, how many entries are
wrong and the largest relative error (``cnnbook.gradcheck.relative_error``, the measure
the package's own tests use).
"""
from __future__ import annotations

import copy
import math
import numbers
import os
import sysconfig
import traceback
from dataclasses import dataclass

import numpy as np

from ..gradcheck import relative_error
from ._spec import Case, Exercise, get

__all__ = ["CATEGORIES", "DEFAULT_HINTS", "Verdict", "evaluate"]

# Every diagnosis, with the words the verdict leads with.
CATEGORIES = {
    "passed": "correct",
    "not_done": "not done yet",
    "exception": "raised an exception",
    "mistake": "a common mistake",
    "mutated": "changed its input",
    "none": "returned None",
    "type": "wrong type",
    "shape": "wrong shape",
    "dtype": "wrong dtype",
    "nonfinite": "NaN or inf in the result",
    "values": "wrong values",
}

DEFAULT_HINTS = {
    "none": "End the function with a `return` statement.",
    "mutated": "Build new arrays (`y = x * 2`) instead of changing an argument in place "
               "(`x *= 2`, `x[...] = ...`).",
    "nonfinite": "Look for a division by zero, the log of 0, or an exp that overflows.",
    "shape": "Print the shapes of your intermediate arrays.",
}

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = tuple({_PACKAGE_DIR} | {os.path.abspath(sysconfig.get_paths()[k])
                                        for k in ("stdlib", "platstdlib", "purelib", "platlib")})


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: ``category`` is a key of ``CATEGORIES``."""
    name: str
    title: str
    category: str
    detail: str = ""
    hint: str = ""
    case: str = ""

    @property
    def passed(self) -> bool:
        return self.category == "passed"

    @property
    def headline(self) -> str:
        return CATEGORIES[self.category]

    def summary(self) -> str:
        """One line, for score tables: the diagnosis, where, and the detail."""
        where = f" on {self.case}" if self.case else ""
        detail = " ".join(self.detail.split())
        return f"{self.headline}{where}: {detail}" if detail else f"{self.headline}{where}"

    def text(self) -> str:
        """A few plain lines; the same on every run (no timings, no addresses)."""
        mark = "✓" if self.passed else "✗"
        where = f" on {self.case}" if self.case else ""
        lines = [f"{mark} {self.name} ({self.title}): {self.headline}{where}"]
        lines += [f"  {line}" for line in self.detail.splitlines()]
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        return "\n".join(lines)


def evaluate(exercise: Exercise | str, fn) -> Verdict:
    """Run ``fn`` on every case of ``exercise`` and diagnose the first failing one."""
    ex = exercise if isinstance(exercise, Exercise) else get(exercise)
    if not callable(fn):
        return Verdict(ex.name, ex.title, "type",
                       f"check needs your function itself, but got {_describe(fn)}.",
                       "Pass the function without calling it: `check(name, my_function)`.")
    cases = ex.all_cases()
    for i, c in enumerate(cases, 1):
        found = _examine(ex, fn, c)
        if found is not None:
            category, detail, hint = found
            where = "" if category == "not_done" else f"case {i} of {len(cases)} ({_label(ex, c)})"
            return Verdict(ex.name, ex.title, category, detail, hint, where)
    return Verdict(ex.name, ex.title, "passed", f"Agrees with the reference on all {len(cases)} cases.")


def _examine(ex: Exercise, fn, c: Case):
    """(category, detail, hint) for a failing case, None for a passing one."""
    expected = ex.reference(*copy.deepcopy(c.args), **copy.deepcopy(dict(c.kwargs)))
    args, kwargs = copy.deepcopy(c.args), copy.deepcopy(dict(c.kwargs))
    try:
        got = fn(*args, **kwargs)
    except NotImplementedError:
        return "not_done", "Replace the `raise NotImplementedError(...)` line with your code.", ""
    except Exception as exc:
        for mistake in ex.mistakes:
            if _raises_same(mistake.wrong, c, exc):
                return "mistake", mistake.message, ""
        return "exception", _exception_detail(exc), _hint(ex, "exception")
    changed = _changed_argument(ex, c, args, kwargs)
    if changed:
        return "mutated", f"Your function changed its argument `{changed}`.", _hint(ex, "mutated")
    problem = _compare(got, expected, ex, "the result")
    if problem is None:
        return None
    for mistake in ex.mistakes:
        if _gives_same(mistake.wrong, c, got, expected, ex):
            return "mistake", mistake.message, ""
    category, detail = problem
    if ex.diagnose is not None and category not in ("none", "type"):
        named = ex.diagnose(c, got, expected)
        if named:
            return "mistake", named, ""
    return category, detail, _hint(ex, category)


def _hint(ex: Exercise, category: str) -> str:
    return ex.hints.get(category) or DEFAULT_HINTS.get(category, "")


def _call(fn, c: Case):
    return fn(*copy.deepcopy(c.args), **copy.deepcopy(dict(c.kwargs)))


def _raises_same(wrong, c: Case, exc: Exception) -> bool:
    try:
        _call(wrong, c)
    except Exception as other:
        return type(other) is type(exc) and str(other) == str(exc)
    return False


def _gives_same(wrong, c: Case, got, expected, ex: Exercise) -> bool:
    """The reader's answer equals this wrong answer, which differs from the right one."""
    try:
        answer = _call(wrong, c)
    except Exception:
        return False
    return (_compare(got, answer, ex, "", dtypes=False) is None
            and _compare(answer, expected, ex, "", dtypes=False) is not None)


# -- comparing an answer with the reference -------------------------------------------
def _compare(got, exp, ex: Exercise, what: str, *, dtypes: bool = True):
    """(category, detail) for the first difference between ``got`` and ``exp``, else None."""
    if isinstance(exp, tuple):
        return _compare_tuple(got, exp, ex, what, dtypes)
    if exp is None:
        return None if got is None else ("type", f"{_cap(what)} should be None, but is {_describe(got)}.")
    if got is None:
        return "none", f"{_cap(what)} is None: is a `return` missing?"
    if isinstance(exp, np.ndarray):
        return _compare_array(got, exp, ex, what, dtypes)
    if isinstance(exp, numbers.Integral):
        return _compare_int(got, exp, what)
    if isinstance(exp, numbers.Real):
        return _compare_float(got, exp, ex, what)
    raise TypeError(f"{ex.name}: the reference returned {_describe(exp)}, which check cannot compare")


def _compare_tuple(got, exp: tuple, ex: Exercise, what: str, dtypes: bool):
    names = list(ex.outputs)[:len(exp)]
    names += [f"item {i + 1} of the result" for i in range(len(names), len(exp))]
    expected_items = f"{len(exp)} items ({', '.join(names)})"
    if not isinstance(got, (tuple, list)):
        return "type", f"{_cap(what)} is {_describe(got)}; expected a tuple of {expected_items}."
    if len(got) != len(exp):
        items = f"{len(got)} item" + ("" if len(got) == 1 else "s")
        return "type", f"{_cap(what)} has {items}; expected {expected_items}."
    for i, (g, e) in enumerate(zip(got, exp)):
        problem = _compare(g, e, ex, names[i], dtypes=dtypes)
        if problem is None:
            continue
        for j, other in enumerate(exp):
            if (j != i and other is not None and _compare(g, other, ex, "", dtypes=False) is None
                    and _compare(e, other, ex, "", dtypes=False) is not None):
                return "values", (f"{names[i]} holds what {names[j]} should be: the gradient "
                                  f"of the wrong input, or the items in the wrong order?")
        return problem
    return None


def _compare_array(got, exp: np.ndarray, ex: Exercise, what: str, dtypes: bool):
    if not isinstance(got, np.ndarray):
        return "type", f"{_cap(what)} is {_describe(got)}; expected a NumPy array."
    if got.dtype.kind not in "biuf":
        return "type", f"{_cap(what)} is an array of dtype {got.dtype}; expected numbers."
    if got.shape != exp.shape:
        if got.ndim == 2 and got.shape == exp.shape[::-1] and _close(got.T, exp, ex).all():
            return "shape", (f"{_cap(what)} has shape {got.shape}; expected {exp.shape}: "
                             f"it is the transpose of the right answer.")
        return "shape", f"{_cap(what)} has shape {got.shape}; expected {exp.shape}."
    same_dtype = got.dtype == exp.dtype if ex.exact_dtype else got.dtype.kind == exp.dtype.kind
    if dtypes and not same_dtype:
        return "dtype", f"{_cap(what)} has dtype {got.dtype}; expected {exp.dtype}."
    bad = ~np.isfinite(got) & np.isfinite(exp)
    if bad.any():
        n_nan = int(np.isnan(got[bad]).sum())
        counts = [f"{n} {kind}" for n, kind in ((n_nan, "NaN"), (int(bad.sum()) - n_nan, "inf")) if n]
        return "nonfinite", f"{_cap(what)} has {' and '.join(counts)} entries (of {got.size})."
    close = _close(got, exp, ex)
    if not close.all():
        with np.errstate(all="ignore"):
            err = relative_error(got, exp)
        return "values", (f"{int((~close).sum())} of {close.size} entries of {what} are wrong "
                          f"(largest relative error {err:.2g}).")
    return None


def _close(got: np.ndarray, exp: np.ndarray, ex: Exercise) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.isclose(got.astype(np.float64), exp.astype(np.float64),
                          rtol=ex.rtol, atol=ex.atol, equal_nan=True)


def _compare_int(got, exp, what: str):
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, numbers.Integral):
        if isinstance(got, numbers.Real) and math.isfinite(got) and float(got).is_integer():
            return "type", f"{_cap(what)} is {_describe(got)}; a count is a whole number: return an int."
        return "type", f"{_cap(what)} is {_describe(got)}; expected an int."
    if got != exp:
        return "values", f"{_cap(what)} is {int(got)}, which is not right."
    return None


def _compare_float(got, exp, ex: Exercise, what: str):
    if isinstance(got, np.ndarray) and got.shape == () and got.dtype.kind in "iuf":
        got = got.item()
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, numbers.Real):
        return "type", f"{_cap(what)} is {_describe(got)}; expected a number."
    if not math.isfinite(got) and math.isfinite(exp):
        return "nonfinite", f"{_cap(what)} is {float(got)}."
    if not math.isclose(got, exp, rel_tol=ex.rtol, abs_tol=ex.atol):
        return "values", f"{_cap(what)} is {float(got):.6g}, which is not right."
    return None


# -- describing things without revealing the answer ---------------------------------
def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _describe(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    name = f"NumPy {value.dtype} scalar" if isinstance(value, np.generic) else type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


def _label(ex: Exercise, c: Case) -> str:
    """The case in a few words: shapes of arrays, values of small scalars and lists."""
    pairs = list(zip(ex.arg_names(len(c.args)), c.args)) + list(c.kwargs.items())
    text = ", ".join(_show_arg(name, value) for name, value in pairs)
    return f"{text}; {c.note}" if c.note else text


def _show_arg(name: str, value) -> str:
    if isinstance(value, np.ndarray):
        dtype = "" if value.dtype == np.float64 else f" {value.dtype}"
        return f"{name}.shape={value.shape}{dtype}"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        text = repr(value)
        return f"{name}={text if len(text) <= 8 else format(value, '.4g')}"
    if isinstance(value, (int, bool, type(None))):
        return f"{name}={value!r}"
    if isinstance(value, (list, tuple)) and len(value) <= 10 and all(isinstance(v, int) for v in value):
        return f"{name}={value!r}"
    if isinstance(value, (list, tuple)):
        return f"len({name})={len(value)}"
    return f"{name}: {_describe(value)}"


def _changed_argument(ex: Exercise, c: Case, args, kwargs) -> str | None:
    """The name of the first argument the reader's function modified, if any."""
    for name, before, after in zip(ex.arg_names(len(c.args)), c.args, args):
        if not _equal(before, after):
            return name
    for name, before in c.kwargs.items():
        if not _equal(before, kwargs[name]):
            return name
    return None


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return True


def _exception_detail(exc: Exception) -> str:
    """The exception's type and first line, and the line of the reader's code it came from."""
    message = str(exc).strip().splitlines()
    detail = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library(f.filename)]
    if frames:
        f = frames[-1]
        code = f": {f.line.strip()}" if f.line and f.line.strip() else ""
        detail += f"\nin {f.name}, line {f.lineno}{code}"
    return detail


def _is_library(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return True
    path = os.path.abspath(filename)
    return any(path.startswith(d + os.sep) for d in _LIBRARY_DIRS)
