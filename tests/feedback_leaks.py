"""What an exercise tells a reader must not hold the code of its answer (STYLE.md item 16).

``leaks(exercise, ...)`` lists the places where an exercise's Mistake messages, category
hints, hint steps or the verdicts it gave to wrong answers contain either a line of the
answer (the reference's source, the notebook's solution) or something that reads as
code: NumPy calls, method calls, assignments, slicing, keyword arguments, tuples of axis
numbers. Math in words and symbols ("tanh'(z) = 1 - tanh(z)^2") is allowed; code is not.
Used by tests/test_exercises_ch04.py to ch06.py.
"""
from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

import nbformat

from cnnbook.course._solutions import find_attempts

# The line every failing verdict of an exercise with hint steps ends with, and the
# generic hints of the checker itself: not the exercise's words.
_STANDARD = re.compile(r'Stuck\? `hint\("ch\d\d\.\w+"\)` gives a hint, one more each time\.')

CODE_PATTERNS = {
    "a NumPy call": r"\bnp\.\w|\bnumpy\.\w",
    "a method call": r"\.[A-Za-z_]\w*\(",
    "an assignment to a Python name": r"\b[A-Za-z_]*_[A-Za-z_]*\s*[-+*/@]?=(?!=)",
    "an assignment to a variable": r"(?<![\w'])[a-z][a-z0-9]+\s*=\s*[-\w(]",
    "an augmented assignment": r"[-+*/@]=(?!=)",
    "an assignment to an entry": r"\]\s*[-+*/]?=(?!=)",
    "a keyword argument": r"\b(?:axis|keepdims|dtype|out|order|mode)\s*=",
    "a slice": r"\[[^\]]*:[^\]]*\]",
    "integer division or a power written as code": r"//|\*\*",
    "a matrix product written as code": r"\w\s*@\s*\w",
    "a tuple of axis numbers": r"\(\d+(?:,\s*\d+)+\)",
    "a loop written as code": r"\bfor \w+ in \w+\(|\brange\(|\bnp\.ndindex",
    "code in backticks": r"`[^`]*[-+*/@=\[(][^`]*`",
}


def code_in(text: str) -> list[str]:
    """The kinds of code found in ``text`` (empty when it reads as words and math)."""
    text = _STANDARD.sub("", text)
    return [kind for kind, pattern in CODE_PATTERNS.items() if re.search(pattern, text)]


def answer_lines(*sources: str) -> list[str]:
    """The lines of code of the given sources that are long enough to be telling."""
    lines = []
    for source in sources:
        for line in textwrap.dedent(source).splitlines():
            code = line.split("#")[0].strip()
            if len(code) >= 12 and not code.startswith(("def ", '"""', "### ")):
                lines.append(code)
    return lines


def reference_source(ex) -> str:
    return inspect.getsource(inspect.unwrap(ex.reference))


def notebook_solutions(notebook: Path, exercises) -> dict[str, str]:
    """exercise name -> the source of its solution cell in ``notebook``."""
    nb = nbformat.read(notebook, as_version=4)
    found = {}
    for name, attempt in find_attempts(nb, exercises).items():
        if attempt.solution is not None:
            found[name] = nb.cells[attempt.solution - 1].source
    return found


def feedback(ex) -> list[tuple[str, str]]:
    """(where, text) of everything the exercise may tell a reader."""
    texts = [(f"mistake {i + 1}", m.message) for i, m in enumerate(ex.mistakes)]
    texts += [(f"hint for {category!r}", text) for category, text in ex.hints.items()]
    texts += [(f"hint step {i + 1}", text) for i, text in enumerate(ex.hint_steps)]
    return texts


def leaks(ex, verdicts=(), solutions=()) -> list[str]:
    """Where the feedback of ``ex`` (and the given verdict texts) holds code or a line of
    the answer (the reference and the given solution sources)."""
    lines = answer_lines(reference_source(ex), *solutions)
    found = []
    for where, text in feedback(ex) + [(f"verdict {i + 1}", v) for i, v in enumerate(verdicts)]:
        flat = " ".join(text.split())
        found += [f"{ex.name}, {where}: {kind}: {text!r}" for kind in code_in(flat)]
        found += [f"{ex.name}, {where}: a line of the answer ({line!r})"
                  for line in lines if line in flat]
    return found
