"""Hints teach, they do not tell (STYLE.md item 16).

- every exercise has hints on request (``hint_steps``), at least two levels, shown one more
  at each ``hint(name)`` call, and none holds a line of the reference's code;
- a failed verdict points to ``hint``; a wrong number says how far off it is, never the
  right value.
"""
from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from cnnbook.exercises import evaluate, hint
from cnnbook.exercises._checker import _how_far

import cnnbook.exercises

CHAPTERS = sorted(p.stem for p in Path(cnnbook.exercises.__file__).parent.glob("ch[0-9][0-9].py"))
EXERCISES = [ex for ch in CHAPTERS for ex in importlib.import_module(f"cnnbook.exercises.{ch}").EXERCISES]


def code_lines(fn) -> list[str]:
    """The reference's statements that compute something (long enough to be telling)."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return []
    lines = [line.strip() for line in source.splitlines()[1:]]
    return [line for line in lines
            if len(line) >= 12 and not line.startswith(("#", '"""', "return _", "def "))
            and '"""' not in line]


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.name)
def test_every_exercise_has_hints_that_do_not_give_the_code(ex):
    assert len(ex.hint_steps) >= 2, f"{ex.name}: give at least two levels of hints"
    texts = list(ex.hint_steps) + list(ex.hints.values()) + [m.message for m in ex.mistakes]
    for line in code_lines(ex.reference):
        compact = re.sub(r"\s+", "", line)
        for text in texts:
            assert compact not in re.sub(r"\s+", "", text), (
                f"{ex.name}: a hint or message holds the reference's code {line!r}")


def test_hint_gives_one_more_level_each_call(capsys):
    ex = next(e for e in EXERCISES if len(e.hint_steps) >= 2)
    hint(ex.name, level=1)
    first = capsys.readouterr().out
    assert f"Hint 1 of {len(ex.hint_steps)}" in first and ex.hint_steps[0] in first
    hint(ex.name)
    second = capsys.readouterr().out
    assert "Hint 2 of" in second and ex.hint_steps[1] in second
    hint(ex.name, level=1)  # going back shows the first again
    assert ex.hint_steps[0] in capsys.readouterr().out
    with pytest.raises(ValueError, match="hint: level must be a whole number from 1 to"):
        hint(ex.name, level=0)
    with pytest.raises(ValueError, match="hint: name must be an exercise.s name such as"):
        hint("conv2d")


def test_a_failed_verdict_points_to_hint():
    ex = next(e for e in EXERCISES if e.hint_steps)
    verdict = evaluate(ex.name, lambda *args, **kwargs: None)
    assert not verdict.passed and f'hint("{ex.name}")' in verdict.detail


@pytest.mark.parametrize("got, expected, words", [
    (4.0, 1.0, "about 4x too large"), (2, 8, "about 4x too small"), (-1.0, 2.0, "wrong sign"),
    (3, 2, "one too many"), (5, 6, "one too few"), (1.05, 1.0, "slightly too large"),
    (1.3, 1.0, "less than a factor of 1.5"), (0.0, 3.0, "should not be zero"),
    (2.0, 0.0, "should be zero"), (1e6, 1.0, "more than 20x too large"),
])
def test_how_far_off_without_the_value(got, expected, words):
    text = _how_far(got, expected)
    assert words in text
    assert str(expected) not in text and repr(expected) not in text
