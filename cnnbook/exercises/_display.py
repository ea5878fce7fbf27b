"""Showing a verdict: coloured HTML in Jupyter (with a plain-text twin), plain text
elsewhere; an exception in strict mode.

Nothing is written anywhere else: the grader (``cnnbook.course.grade``) decides scores
in its own process and reads nothing a notebook writes."""
from __future__ import annotations

import html
import os
import re

from ._seal import seal
from ._verdict import Verdict

__all__ = ["ExerciseFailed", "strict_mode", "show", "to_html"]

_COLOURS = {"passed": "#1a7f37", "not_done": "#9a6700"}
_FAILED = "#cf222e"


class ExerciseFailed(AssertionError):
    """Raised by ``check`` in strict mode (``CNNBOOK_STRICT=1``) when an exercise fails.
    See chapter 1."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.text())
        self.verdict = verdict


def strict_mode() -> bool:
    """True when the environment variable CNNBOOK_STRICT is set to 1 (or true/yes)."""
    return os.environ.get("CNNBOOK_STRICT", "").strip().lower() in {"1", "true", "yes", "on"}


def show(verdict: Verdict) -> None:
    """Display the verdict: rich output in a Jupyter kernel, print() elsewhere."""
    if _in_jupyter():
        from IPython.display import display
        display({"text/plain": verdict.text(), "text/html": to_html(verdict)}, raw=True)
    else:
        print(verdict.text())


def to_html(verdict: Verdict) -> str:
    """A small coloured box; `code` in backticks becomes <code>."""
    colour = _COLOURS.get(verdict.category, _FAILED)
    mark = "✓" if verdict.passed else "✗"
    where = f' <span style="opacity:0.75">on {_inline(verdict.case)}</span>' if verdict.case else ""
    parts = [
        f'<div style="border-left:4px solid {colour};padding:2px 10px;margin:4px 0">',
        # white on the verdict's colour: 4.9:1 or more whatever the page's theme (WCAG AA)
        f'<span style="background:{colour};color:#ffffff;font-weight:bold;padding:0 4px;'
        f'border-radius:3px">{mark} {html.escape(verdict.headline)}</span>'
        f' &mdash; <code>{html.escape(verdict.name)}</code> {html.escape(verdict.title)}{where}',
    ]
    parts += [f"<div>{_inline(line)}</div>" for line in verdict.detail.splitlines()]
    if verdict.hint:
        parts.append(f"<div><em>Hint:</em> {_inline(verdict.hint)}</div>")
    if verdict.printed:
        first, _, rest = verdict.printed.partition("\n")
        parts.append(f'<div style="opacity:0.75">{html.escape(first)}</div>'
                     f'<pre style="margin:2px 0;max-height:12em;overflow:auto">{html.escape(rest)}</pre>')
    parts.append("</div>")
    return "\n".join(parts)


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _in_jupyter() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


seal(globals())
