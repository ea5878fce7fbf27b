"""What an exercise is made of, declared once per chapter: ``Case``, ``Mistake``, ``Exercise``.

A chapter file ``cnnbook/exercises/chNN.py`` lists its exercises in ``EXERCISES``. ``get``
imports that file the first time one of its names is asked for, so adding a chapter
needs no edit anywhere else.
"""
from __future__ import annotations

import importlib
import inspect
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ._seal import seal

__all__ = ["Case", "case", "Mistake", "Exercise", "get"]

_NAME = re.compile(r"(ch\d\d)\.\w+")


@dataclass(frozen=True)
class Case:
    """The arguments of one call of the reader's function; ``note`` says what it tests."""
    args: tuple
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


def case(*args, note: str = "", **kwargs) -> Case:
    """``case(x, w, b, note="on the threshold")`` is ``Case((x, w, b), {}, note)``."""
    return Case(tuple(args), dict(kwargs), note)


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer and what to tell the reader who gives it.

    ``wrong`` computes the wrong answer; the reader made this mistake when their function
    returns the same values as ``wrong`` (or raises the same exception) on a failing case.
    """
    wrong: Callable
    message: str


@dataclass(frozen=True)
class Exercise:
    """One self-grading exercise.

    The reader's function must agree with ``reference`` on every fixed case and on
    ``n_random`` cases drawn by ``random_case(rng)`` from a generator seeded by the name.
    The answer may be an array, an int (compared exactly), a float, or a tuple of those
    (``outputs`` names its items, e.g. ``("dx", "dweight", "dbias")``).

    ``hints`` maps a diagnosis (``"values"``, ``"shape"``, ``"dtype"``, ``"exception"``, ...;
    see ``cnnbook.exercises.CATEGORIES``) to advice shown with it. ``mistakes`` are tried
    on a failing case before the generic diagnosis; ``diagnose(case, got, expected)``, called
    when the answer has the right type but the wrong shape, dtype or values, may return a
    message naming a mistake the others cannot recognise (or None).
    A float answer in another float dtype passes (float32 for float64, compared to the
    precision of its dtype); ``exact_dtype=True`` is for the exercises that are about
    dtype and asks for the reference's dtype exactly.

    ``hint_steps`` are hints given only on request, one more at each call of
    ``hint(name)``, from a question that points where to look to the most specific
    advice; none of them holds the code of the answer.

    ``time_limit`` is the number of seconds the reader's function may run in total, over
    all the cases of one check, before it is stopped with a "took too long" verdict.
    """
    name: str
    title: str
    reference: Callable
    cases: Sequence[Case] = ()
    random_case: Callable[[np.random.Generator], Case] | None = None
    n_random: int = 10
    rtol: float = 1e-6
    atol: float = 1e-8
    hints: Mapping[str, str] = field(default_factory=dict)
    mistakes: Sequence[Mistake] = ()
    diagnose: Callable[[Case, Any, Any], str | None] | None = None
    outputs: Sequence[str] = ()
    exact_dtype: bool = False
    time_limit: float = 10.0
    hint_steps: Sequence[str] = ()

    def __post_init__(self):
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"Exercise: name must look like 'ch01.perceptron', got {self.name!r}")
        if not self.cases and self.random_case is None:
            raise ValueError(f"Exercise {self.name}: give fixed cases, a random_case, or both")
        if not self.time_limit > 0:
            raise ValueError(f"Exercise {self.name}: time_limit must be a positive number of "
                             f"seconds, got {self.time_limit!r}")

    @property
    def function(self) -> str:
        """The name of the reader's function: the reference's (``conv2d`` for ch05.conv2d)."""
        return self.reference.__name__

    def all_cases(self) -> list[Case]:
        """The fixed cases, then the random ones (the same on every run)."""
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        drawn = [self.random_case(rng) for _ in range(self.n_random)] if self.random_case else []
        return list(self.cases) + drawn

    def arg_names(self, n: int) -> list[str]:
        """Names of the first ``n`` arguments, from the reference's signature."""
        try:
            names = [p.name for p in inspect.signature(self.reference).parameters.values()
                     if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            names = []
        return (names + [f"arg{i + 1}" for i in range(len(names), n)])[:n]


def get(name: str, func: str = "check") -> Exercise:
    """The exercise called ``name`` ("ch01.perceptron"), from ``cnnbook/exercises/ch01.py``;
    errors name ``func``, the public function that was asked (check, hint)."""
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(f"{func}: name must be an exercise's name such as 'ch01.perceptron' "
                         f"(chapter.exercise), got {name!r}")
    chapter = match[1]
    try:
        module = importlib.import_module(f"{__package__}.{chapter}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{chapter}":
            raise
        raise ValueError(f"{func}: there are no exercises for chapter {chapter} "
                         f"(no file cnnbook/exercises/{chapter}.py), got name={name!r}") from None
    table = {ex.name: ex for ex in module.EXERCISES}
    if name not in table:
        raise ValueError(f"{func}: chapter {chapter} has no exercise {name!r}; "
                         f"it has {', '.join(sorted(table))}")
    return table[name]


seal(globals(), freeze=("np",))
