"""Run a reader's function on an exercise's cases and say what, if anything, is wrong.

Two steps, which the grader (``cnnbook.course.grade``) runs in two processes:

- ``call`` runs the reader's function on one case (copies of its arguments) within the
  exercise's time limit, with what it prints captured, and returns an ``Outcome``: the
  result as plain data (``_plain``: base-class arrays and exact built-in numbers, never
  the reader's own objects), what it raised, or that it ran out of time.
- ``judge`` compares an outcome with the reference and names the first problem, with
  functions taken privately at import (``_seal``), not looked up in NumPy or in this
  module when a check runs.

``evaluate`` does both in this process (what ``check`` uses in a notebook);
``judge_all`` judges the outcomes that another process sent.

The verdict never shows an expected value: only shapes, dtypes, how many entries are
wrong and the largest relative error (``cnnbook.gradcheck.relative_error``, the measure
the package's own tests use).
"""
from __future__ import annotations

import math
import numbers
import os
import sysconfig
import traceback
from copy import deepcopy
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..gradcheck import relative_error
from ._limits import Printed, TimeLimit, TookTooLong, capture
from ._plain import Opaque, decode, describe, encode, plain, safe_text, type_name
from ._seal import seal
from ._spec import Case, Exercise, get
from ._verdict import CATEGORIES, DEFAULT_HINTS, Verdict

__all__ = ["CATEGORIES", "DEFAULT_HINTS", "Verdict", "Raised", "Outcome", "evaluate", "call",
           "describe_exception", "judge", "judge_all"]

# Hints for the exceptions that leave a program rather than report a problem.
_LEAVING = {
    "builtins.SystemExit": "`exit()` and `sys.exit()` end the whole program; a function gives "
                           "its answer with `return`.",
    "builtins.KeyboardInterrupt": "It was interrupted: by the stop button, or by a "
                                  "`raise KeyboardInterrupt` in it.",
}

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = tuple({_PACKAGE_DIR} | {os.path.abspath(sysconfig.get_paths()[k])
                                        for k in ("stdlib", "platstdlib", "purelib", "platlib")})


@dataclass(frozen=True)
class Raised:
    """An exception the reader's code raised, in words: ``kind`` is its module and
    qualified name ("builtins.ValueError"), ``where`` the reader's line it came from."""
    kind: str
    name: str
    message: str
    where: str = ""
    not_implemented: bool = False


@dataclass(frozen=True)
class Outcome:
    """What one call of the reader's function did: returned ``returned`` (plain data) and
    changed the argument named ``changed`` (or none), raised ``raised``, or ran out of time."""
    returned: Any = None
    changed: str | None = None
    raised: Raised | None = None
    timed_out: bool = False

    def to_json(self) -> dict:
        return {"returned": encode(self.returned), "changed": self.changed,
                "raised": asdict(self.raised) if self.raised else None, "timed_out": self.timed_out}

    @classmethod
    def from_json(cls, data: dict) -> "Outcome":
        """Read what another process wrote, trusting nothing but its plain data."""
        raised = data.get("raised")
        if isinstance(raised, dict):
            raised = Raised(*(_text(raised.get(k)) for k in ("kind", "name", "message", "where")),
                            raised.get("not_implemented") is True)
        elif raised is not None:
            raised = Raised("", "an exception", "")
        changed = data.get("changed")
        return cls(decode(data.get("returned")), None if changed is None else _text(changed),
                   raised, data.get("timed_out") is True)


def _text(value) -> str:
    return value[:2000] if type(value) is str else ""


def evaluate(exercise: Exercise | str, fn) -> Verdict:
    """Run ``fn`` on every case of ``exercise`` and diagnose the first failing one."""
    ex = exercise if isinstance(exercise, Exercise) else get(exercise)
    if not callable(fn):
        return Verdict(ex.name, ex.title, "type",
                       f"check needs your function itself, but got {describe(plain(fn))}.",
                       "Pass the function without calling it: `check(name, my_function)`.")
    cases, limit, printed = ex.all_cases(), TimeLimit(ex.time_limit), Printed()
    outcomes = (call(fn, c, limit, printed, ex.arg_names(len(c.args))) for c in cases)
    return judge_all(ex, outcomes, printed, cases)


def call(fn, c: Case, limit: TimeLimit, printed: Printed, arg_names=()) -> Outcome:
    """Run ``fn`` on copies of the case's arguments, within ``limit``, printing into ``printed``."""
    args, kwargs = deepcopy(c.args), deepcopy(dict(c.kwargs))
    try:
        with limit, capture(printed):
            got = fn(*args, **kwargs)
    except TookTooLong:
        return Outcome(timed_out=True)
    except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt: a verdict too
        return Outcome(timed_out=True) if limit.exceeded else Outcome(raised=describe_exception(exc))
    if limit.exceeded:  # the reader's code caught TookTooLong, or signals are not available
        return Outcome(timed_out=True)
    return Outcome(returned=plain(got), changed=_changed_argument(arg_names, c, args, kwargs))


def judge_all(ex: Exercise, outcomes, printed: Printed | str = "", cases=None) -> Verdict:
    """The verdict on a series of outcomes, one per case in order (stops at the first failure)."""
    cases = ex.all_cases() if cases is None else cases
    ran = 0
    for i, (c, outcome) in enumerate(zip(cases, outcomes), 1):
        ran = i
        found = judge(ex, c, outcome)
        if found is not None:
            category, detail, hint = found
            where = "" if category == "not_done" else f"case {i} of {len(cases)} ({_label(ex, c)})"
            if ex.hint_steps and category != "not_done":
                detail += f'\nStuck? `hint("{ex.name}")` gives a hint, one more each time.'
            return Verdict(ex.name, ex.title, category, detail, hint, where, _summary(printed))
    if ran < len(cases):
        return Verdict(ex.name, ex.title, "exception",
                       f"The run stopped after {ran} of {len(cases)} cases.", "", "", _summary(printed))
    return Verdict(ex.name, ex.title, "passed", f"Agrees with the reference on all {len(cases)} cases.",
                   printed=_summary(printed))


def _summary(printed) -> str:
    return printed.summary() if isinstance(printed, Printed) else str(printed)


def judge(ex: Exercise, c: Case, outcome: Outcome):
    """(category, detail, hint) for a failing case, None for a passing one."""
    if outcome.timed_out:
        return ("timeout", f"It ran for more than {ex.time_limit:g} s over the cases and was "
                           f"stopped during this one.", _hint(ex, "timeout"))
    raised = outcome.raised
    if raised is not None:
        if raised.not_implemented:
            return "not_done", "Replace the `raise NotImplementedError(...)` line with your code.", ""
        for mistake in ex.mistakes:
            if _raises_same(mistake.wrong, c, raised):
                return "mistake", mistake.message, ""
        return "exception", _exception_detail(raised), _LEAVING.get(raised.kind) or _hint(ex, "exception")
    if outcome.changed:
        return "mutated", f"Your function changed its argument `{outcome.changed}`.", _hint(ex, "mutated")
    got, expected = outcome.returned, _call(ex.reference, c)
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
    return fn(*deepcopy(c.args), **deepcopy(dict(c.kwargs)))


def _raises_same(wrong, c: Case, raised: Raised) -> bool:
    try:
        _call(wrong, c)
    except Exception as other:
        kind = type(other)
        return f"{kind.__module__}.{kind.__qualname__}" == raised.kind and safe_text(other) == raised.message
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
        return None if got is None else ("type", f"{_cap(what)} should be None, but is {describe(got)}.")
    if got is None:
        return "none", f"{_cap(what)} is None: is a `return` missing?"
    if isinstance(exp, np.ndarray):
        return _compare_array(got, exp, ex, what, dtypes)
    if isinstance(exp, numbers.Integral):
        return _compare_int(got, exp, what)
    if isinstance(exp, numbers.Real):
        return _compare_float(got, exp, ex, what)
    raise TypeError(f"{ex.name}: the reference returned {describe(exp)}, which check cannot compare")


def _compare_tuple(got, exp: tuple, ex: Exercise, what: str, dtypes: bool):
    names = list(ex.outputs)[:len(exp)]
    names += [f"item {i + 1} of the result" for i in range(len(names), len(exp))]
    expected_items = f"{len(exp)} items ({', '.join(names)})"
    if not isinstance(got, (tuple, list)):
        return "type", f"{_cap(what)} is {describe(got)}; expected a tuple of {expected_items}."
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
    if type(got) is Opaque and got.description.startswith("an array"):
        return "type", f"{_cap(what)} is {got.description}; expected an array of numbers."
    if type(got) is not np.ndarray:
        return "type", f"{_cap(what)} is {describe(got)}; expected a NumPy array."
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
    rtol, atol = _tolerances(ex, got.dtype, exp.dtype)
    with np.errstate(all="ignore"):
        return np.isclose(got.astype(np.float64), exp.astype(np.float64),
                          rtol=rtol, atol=atol, equal_nan=True)


def _tolerances(ex: Exercise, got: np.dtype, exp: np.dtype) -> tuple[float, float]:
    """The exercise's rtol and atol, loosened for an answer in a less precise float dtype
    (float32 for float64) than the reference's, to the precision of that dtype."""
    if got.kind == exp.kind == "f" and got.itemsize < exp.itemsize:
        eps = float(np.finfo(got).eps)
        return max(ex.rtol, min(1e3 * eps, 1e-2)), max(ex.atol, min(1e2 * eps, 1e-3))
    return ex.rtol, ex.atol


def _compare_int(got, exp, what: str):
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, numbers.Integral):
        if isinstance(got, numbers.Real) and math.isfinite(got) and float(got).is_integer():
            return "type", f"{_cap(what)} is {describe(got)}; a count is a whole number: return an int."
        return "type", f"{_cap(what)} is {describe(got)}; expected an int."
    if got != exp:
        return "values", f"{_cap(what)} is {int(got)}, which is not right: {_how_far(got, exp)}."
    return None


def _compare_float(got, exp, ex: Exercise, what: str):
    if type(got) is np.ndarray and got.shape == () and got.dtype.kind in "iuf":
        got = got.item()
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, numbers.Real):
        return "type", f"{_cap(what)} is {describe(got)}; expected a number."
    if not math.isfinite(got) and math.isfinite(exp):
        return "nonfinite", f"{_cap(what)} is {float(got)}."
    if not math.isclose(got, exp, rel_tol=ex.rtol, abs_tol=ex.atol):
        return "values", f"{_cap(what)} is {float(got):.6g}, which is not right: {_how_far(got, exp)}."
    return None


def _how_far(got, exp) -> str:
    """How far off a number is, in words that do not give the right value away: the sign,
    one too many or too few, or a factor rounded to a whole number (capped at 20)."""
    got, exp = float(got), float(exp)
    if exp == 0:
        return "it should be zero"
    if got == 0:
        return "it should not be zero"
    if (got > 0) != (exp > 0):
        return "it has the wrong sign"
    if float(exp).is_integer() and float(got).is_integer() and abs(got - exp) == 1:
        return "one too many" if abs(got) > abs(exp) else "one too few"
    ratio = abs(got / exp)
    big = ratio > 1
    factor = ratio if big else 1 / ratio
    word = "large" if big else "small"
    if factor < 1.1:
        return f"slightly too {word} (by less than 10%)"
    if factor < 1.5:
        return f"too {word}, by less than a factor of 1.5"
    if factor < 20:
        return f"about {max(2, round(factor))}x too {word}"
    return f"more than 20x too {word}"


# -- describing things without revealing the answer ---------------------------------
def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


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
    return f"{name}: {describe(value)}"


def _changed_argument(names, c: Case, args, kwargs) -> str | None:
    """The name of the first argument the reader's function modified, if any."""
    names = list(names) + [f"arg{i + 1}" for i in range(len(names), len(args))]
    pairs = list(zip(names, c.args, args)) + [(k, v, kwargs.get(k)) for k, v in c.kwargs.items()]
    for name, before, after in pairs:
        if _is_data(before) and not _equal(before, plain(after)):
            return name
    return None


def _is_data(value) -> bool:
    """Arrays, numbers, strings and lists or tuples of them; not functions or generators."""
    if isinstance(value, (list, tuple)):
        return all(_is_data(v) for v in value)
    return value is None or isinstance(value, (np.ndarray, np.generic, numbers.Number, str))


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


def describe_exception(exc: BaseException) -> Raised:
    """The exception in words, found within a second of the reader's code (its __str__)."""
    try:
        with TimeLimit(1.0):
            kind = type(exc)
            return Raised(f"{str.__str__(kind.__module__)}.{str.__str__(kind.__qualname__)}",
                          type_name(exc), safe_text(exc), _reader_line(exc),
                          issubclass(kind, NotImplementedError))
    except BaseException:  # noqa: BLE001 - whatever the reader's exception does
        return Raised("", type_name(exc), "(it could not be described)")


def _reader_line(exc: BaseException) -> str:
    """'in f, line 3: code' for the last line of the reader's code in the traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library(f.filename)]
    if not frames:
        return ""
    f = frames[-1]
    code = f": {f.line.strip()}" if f.line and f.line.strip() else ""
    return f"in {f.name}, line {f.lineno}{code}"


def _exception_detail(raised: Raised) -> str:
    """The exception's type and first line, and the line of the reader's code it came from."""
    message = raised.message.strip().splitlines()
    detail = f"{raised.name}: {message[0]}" if message else raised.name
    return f"{detail}\n{raised.where}" if raised.where else detail


def _is_library(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return True
    path = os.path.abspath(filename)
    return any(path.startswith(d + os.sep) for d in _LIBRARY_DIRS)


seal(globals(), freeze=("np", "math"))
