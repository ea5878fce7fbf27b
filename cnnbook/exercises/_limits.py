"""Limits on a reader's function during a check: a time limit and a cap on what it prints.

``TimeLimit(10)`` is a budget of seconds shared by all the calls of one check; ``with
limit:`` around a call stops it with ``TookTooLong`` once the budget is spent. It uses
SIGALRM (``signal.setitimer``), so it interrupts only where that works: the main thread
on Linux and macOS, which is where a Jupyter kernel runs a cell. Elsewhere (Windows,
another thread) the call runs to its end and is then judged by the time it took.

``Printed`` keeps the first and last few lines of what the reader's code prints (stdout
and stderr) and counts the rest, so 20,000 lines of output shrink to a dozen and the
verdict stays in sight.
"""
from __future__ import annotations

import collections
import contextlib
import io
import signal
import threading
import time

from ._seal import seal

__all__ = ["TookTooLong", "TimeLimit", "Printed", "capture"]

_REPEAT = 0.25  # seconds: the alarm rings again until the call ends, in case one is caught


class TookTooLong(BaseException):
    """Raised inside the reader's code when its time is up (a BaseException, so that an
    ``except Exception`` in the reader's code does not swallow it)."""


class TimeLimit:
    """A budget of ``seconds`` for one or more calls, each made inside ``with limit:``."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.used = 0.0
        self.exceeded = False
        self._armed = False
        self._previous = None
        self._start = 0.0

    @property
    def can_interrupt(self) -> bool:
        return (self.seconds is not None and hasattr(signal, "setitimer")
                and threading.current_thread() is threading.main_thread())

    def __enter__(self):
        if self.seconds is not None and self.used >= self.seconds:
            self.exceeded = True
            raise TookTooLong()
        self._start = time.perf_counter()
        if self.can_interrupt:
            self._previous = signal.signal(signal.SIGALRM, self._ring)
            self._armed = True
            signal.setitimer(signal.ITIMER_REAL, max(self.seconds - self.used, 1e-3), _REPEAT)
        return self

    def __exit__(self, *exc):
        if self._armed:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous if self._previous is not None else signal.SIG_DFL)
        self.used += time.perf_counter() - self._start
        if self.seconds is not None and self.used > self.seconds:
            self.exceeded = True
        return False

    def _ring(self, signum, frame):
        if self._armed:  # a late signal, after the call ended, is ignored
            self.exceeded = True
            raise TookTooLong()


class Printed(io.TextIOBase):
    """A text stream that keeps the first ``head`` and last ``tail`` lines written to it."""

    def __init__(self, head: int = 5, tail: int = 5, width: int = 200):
        super().__init__()
        self.head, self.width = head, width
        self.first: list[str] = []
        self.last: collections.deque[str] = collections.deque(maxlen=tail)
        self.lines = 0
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        text = str.__str__(text)
        pieces = (self._partial + text).split("\n")
        self._partial = pieces.pop()[:self.width + 1]
        for line in pieces:
            self._keep(line)
        return len(text)

    def _keep(self, line: str) -> None:
        line = line if len(line) <= self.width else line[:self.width - 1] + "…"
        self.lines += 1
        if len(self.first) < self.head:
            self.first.append(line)
        else:
            self.last.append(line)

    def summary(self) -> str:
        """What was printed, shortened: '' when nothing was."""
        if self._partial:
            self._keep(self._partial)
            self._partial = ""
        if not self.lines:
            return ""
        shown = self.first + list(self.last)
        if self.lines == len(shown):
            head = f"It printed {_count(self.lines, 'line')}:"
            return "\n".join([head] + shown)
        hidden = self.lines - len(shown)
        head = (f"It printed {_count(self.lines, 'line')}; the first {len(self.first)} "
                f"and the last {len(self.last)}:")
        return "\n".join([head] + self.first + [f"[... {_count(hidden, 'more line')} ...]"]
                         + list(self.last))


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@contextlib.contextmanager
def capture(printed: Printed):
    """Send what Python code prints (sys.stdout and sys.stderr) to ``printed``."""
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        yield printed


seal(globals())
