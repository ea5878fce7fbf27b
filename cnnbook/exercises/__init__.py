"""Exercises that grade themselves.

In a chapter, after the reader's function::

    from cnnbook.exercises import check
    check("ch01.tlu", tlu)

runs ``tlu`` on fixed and random cases, compares it with the book's reference to a
stated tolerance and shows a short verdict: what is wrong (not done yet, an exception and
the line it came from, None, wrong type, shape or dtype, NaN, a changed input, wrong
values, a common mistake, too long a run) with a hint, never the expected values. What
the function prints is shown shortened under the verdict. It returns None, so "Run all"
goes on past an unfinished exercise; with ``CNNBOOK_STRICT=1`` a failure raises
``ExerciseFailed`` instead.

A check cannot be talked into a pass by the reader's objects or by patching NumPy or
this package from the notebook (see ``_plain`` and ``_seal``); the grader,
``cnnbook.course.grade``, goes further and compares in a process that runs none of the
reader's code.

Each chapter declares its exercises in ``cnnbook/exercises/chNN.py`` as a list
``EXERCISES`` of ``Exercise`` objects (see ``ch01.py`` for the pattern).
"""
from ._checker import CATEGORIES, Verdict, evaluate
from ._display import ExerciseFailed, show, strict_mode
from ._seal import seal
from ._spec import Case, Exercise, Mistake, case, get

__all__ = ["check", "evaluate", "ExerciseFailed", "Exercise", "Case", "Mistake", "case",
           "get", "Verdict", "CATEGORIES"]


def check(name: str, fn) -> None:
    """Grade the reader's function ``fn`` on exercise ``name`` (e.g. "ch01.tlu").

    Shows the verdict and returns None; in strict mode (CNNBOOK_STRICT=1) a failure
    raises ``ExerciseFailed``. Every chapter's exercises use it. See chapter 1.
    """
    verdict = evaluate(name, fn)
    show(verdict)
    if strict_mode() and verdict.category != "passed":
        raise ExerciseFailed(verdict)


seal(globals())
