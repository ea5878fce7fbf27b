"""Every chapter's exercises, against the right and wrong answers listed in its
``tests/test_exercises_chNN.py`` (``RIGHT``, ``WRONG`` and the notebook ``CHAPTER``):

- every correct variant passes, every wrong answer gets its diagnosis (category and words);
- every exercise has at least five wrong answers, two right ones and 2-4 hint levels;
- no verdict or hint holds a line of the answer's code (reference or notebook solution);
- no reader function takes the name of something the chapter defines or imports.
"""
from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import pytest

from cnnbook.exercises import evaluate
from feedback_leaks import leaks, names_bound_outside_solutions, notebook_solutions

CHAPTERS = {path.stem[len("test_exercises_"):]: importlib.import_module(path.stem)
            for path in sorted(Path(__file__).parent.glob("test_exercises_ch[0-9][0-9].py"))}
EXERCISES = {ch: importlib.import_module(f"cnnbook.exercises.{ch}").EXERCISES for ch in CHAPTERS}
RIGHT = [(name, fn) for m in CHAPTERS.values() for name, fn in m.RIGHT]
WRONG = [row for m in CHAPTERS.values() for row in m.WRONG]


def verdict_of(name, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflowing wrong answers
        return evaluate(name, fn)


@pytest.mark.parametrize("name, fn", RIGHT, ids=[f"{n}-{f.__name__}" for n, f in RIGHT])
def test_right_answers_pass(name, fn):
    verdict = evaluate(name, fn)
    assert verdict.passed, verdict.text()


@pytest.mark.parametrize("name, fn, category, words", WRONG,
                         ids=[f"{n}-{f.__name__}" for n, f, _, _ in WRONG])
def test_wrong_answers_are_diagnosed(name, fn, category, words):
    verdict = verdict_of(name, fn)
    assert verdict.category == category, verdict.text()
    assert words in verdict.text(), verdict.text()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_exercise_has_five_wrong_answers_and_two_right_ones(chapter):
    module = CHAPTERS[chapter]
    assert len(EXERCISES[chapter]) >= 4
    for ex in EXERCISES[chapter]:
        assert sum(name == ex.name for name, *_ in module.WRONG) >= 5, ex.name
        assert sum(name == ex.name for name, _ in module.RIGHT) >= 2, ex.name
        assert 2 <= len(ex.hint_steps) <= 4, ex.name


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_feedback_holds_the_code_of_an_answer(chapter):
    module = CHAPTERS[chapter]
    solutions = notebook_solutions(module.CHAPTER, EXERCISES[chapter])
    assert sorted(solutions) == sorted(ex.name for ex in EXERCISES[chapter])
    found = []
    for ex in EXERCISES[chapter]:
        texts = []
        for name, fn, *_ in module.WRONG:
            if name == ex.name:
                v = verdict_of(name, fn)
                texts += [v.hint] + ([v.detail] if v.category == "mistake" else [])
        found += leaks(ex, texts, [solutions[ex.name]])
    assert not found, "\n".join(found)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_exercise_takes_the_name_of_something_the_chapter_defines_or_imports(chapter):
    module = CHAPTERS[chapter]
    taken = names_bound_outside_solutions(module.CHAPTER)
    assert "np" in taken and "check" in taken
    clash = taken & {ex.function for ex in EXERCISES[chapter]}
    assert not clash, clash
