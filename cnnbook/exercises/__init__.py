"""Exercises that grade themselves.

In a chapter, after the reader's function::

    from cnnbook.exercises import check
    check("ch01.tlu", tlu)

runs ``tlu`` on fixed and random cases, compares it with the book's reference to a
stated tolerance and shows a short verdict: what is wrong (not done yet, an exception and
the line it came from, None, wrong type, shape or dtype, NaN, a changed input, wrong
values, a common mistake) with a hint, never the expected values. It returns None, so
"Run all" goes on past an unfinished exercise; with ``CNNBOOK_STRICT=1`` (what
``python -m cnnbook.course.grade`` sets) a failure raises ``ExerciseFailed`` instead.

Each chapter declares its exercises in ``cnnbook/exercises/chNN.py`` as a list
``EXERCISES`` of ``Exercise`` objects (see ``ch01.py`` for the pattern).
"""
from ._checker import CATEGORIES, Verdict, evaluate
from ._display import ExerciseFailed, record, show, strict_mode
from ._spec import Case, Exercise, Mistake, case, get

__all__ = ["check", "evaluate", "ExerciseFailed", "Exercise", "Case", "Mistake", "case",
           "get", "Verdict", "CATEGORIES"]


def check(name: str, fn) -> None:
    """Grade the reader's function ``fn`` on exercise ``name`` (e.g. "ch01.tlu").

    Shows the verdict and returns None; in strict mode (CNNBOOK_STRICT=1) a failure
    raises ``ExerciseFailed``. When CNNBOOK_GRADE_REPORT names a file, the verdict is
    appended to it as a JSON line (this is how ``python -m cnnbook.course.grade`` collects scores).
    Every chapter's exercises use it. See chapter 1.
    """
    verdict = evaluate(name, fn)
    record(verdict)
    show(verdict)
    if strict_mode() and not verdict.passed:
        raise ExerciseFailed(verdict)
