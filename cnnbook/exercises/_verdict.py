"""A check's verdict: the diagnosis (one of ``CATEGORIES``), where, the detail, a hint,
and what the reader's function printed (shortened), as plain text for any output."""
from __future__ import annotations

from dataclasses import dataclass

from ._seal import seal

__all__ = ["CATEGORIES", "DEFAULT_HINTS", "Verdict"]

# Every diagnosis, with the words the verdict leads with.
CATEGORIES = {
    "passed": "correct",
    "not_done": "not done yet",
    "exception": "raised an exception",
    "timeout": "took too long",
    "not_defined": "function not defined",
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
    "timeout": "Look for a loop that never ends, or a Python loop over every entry of a "
               "large array: operations on whole NumPy arrays are much faster.",
}


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: ``category`` is a key of ``CATEGORIES``; ``printed`` is
    what the reader's function printed, shortened."""
    name: str
    title: str
    category: str
    detail: str = ""
    hint: str = ""
    case: str = ""
    printed: str = ""

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
        printed = self.printed.splitlines()
        lines += [f"  {line}" for line in printed[:1]] + [f"  | {line}" for line in printed[1:]]
        return "\n".join(lines)


seal(globals())
