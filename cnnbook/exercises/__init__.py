"""Exercises that grade themselves.

In a chapter, after the reader's function::

    from cnnbook.exercises import check
    check("ch01.perceptron", perceptron)

runs ``tlu`` on fixed and random cases, compares it with the book's reference to a
stated tolerance and shows a short verdict: what is wrong (not done yet, an exception and
the line it came from, None, wrong type, shape or dtype, NaN, a changed input, wrong
values, a common mistake, too long a run) with a hint, never the expected values. What
the function prints is shown shortened under the verdict. It returns None, so "Run all"
goes on past an unfinished exercise; with ``CNNBOOK_STRICT=1`` a failure raises
``ExerciseFailed`` instead. ``progress()`` shows which exercises have passed so far
(``cnnbook.exercises.record`` keeps the record in the reader's data folder).

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
from .record import progress, record_pass

__all__ = ["check", "hint", "progress", "evaluate", "ExerciseFailed", "Exercise", "Case", "Mistake", "case",
           "get", "Verdict", "CATEGORIES"]


def check(name: str, fn) -> None:
    """Grade the reader's function ``fn`` on exercise ``name`` (e.g. "ch01.perceptron").

    Shows the verdict and returns None; in strict mode (CNNBOOK_STRICT=1) a failure
    raises ``ExerciseFailed``. A pass is recorded for ``progress()`` (not in strict mode
    or under the grader). Every chapter's exercises use it. See chapter 1.
    """
    verdict = evaluate(name, fn)
    show(verdict)
    if verdict.passed:
        record_pass(verdict.name)
    if strict_mode() and verdict.category != "passed":
        raise ExerciseFailed(verdict)


_HINTS_GIVEN: dict[str, int] = {}


def hint(name: str, level: int | None = None) -> None:
    """Show the next hint for exercise ``name`` ("ch05.conv2d"), one more at each call:
    from a question that says where to look to the most specific advice, never the code
    of the answer. ``level=k`` shows hint k again (1 is the first). See chapter 1.
    """
    steps = list(get(name, "hint").hint_steps)
    if level is not None and (isinstance(level, bool) or not isinstance(level, int)
                              or not 1 <= level <= max(len(steps), 1)):
        raise ValueError(f"hint: level must be a whole number from 1 to {max(len(steps), 1)}, "
                         f"or None for the next hint, got {level!r}")
    if not steps:
        print(f"{name}: this exercise has no hints beyond what its check says.")
        return
    if level is None:
        level = min(_HINTS_GIVEN.get(name, 0) + 1, len(steps))
    _HINTS_GIVEN[name] = level  # the next call goes on from the level just shown
    more = ("" if level == len(steps)
            else f' (`hint("{name}")` again for hint {level + 1})')
    print(f"Hint {level} of {len(steps)} for {name}{more}:\n{steps[level - 1]}")


seal(globals())
