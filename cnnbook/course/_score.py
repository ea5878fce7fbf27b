"""The score of a notebook's solutions: run in a separate process, judged in this one.

``score`` starts ``cnnbook.course._runner`` in a scratch folder with the cells of every
attempted exercise, reads back what each reader's function returned (plain data) and
judges it here with ``cnnbook.exercises._checker.judge_all``, where no reader's code
runs. Each exercise gets its time limit twice (its cells, then its cases) and a margin;
an exercise that overruns that (its code caught the time limit) or ends the process is
charged to that exercise alone: the process is killed, with everything it started, and
a new one runs the exercises that remain.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from ..exercises._checker import Outcome, Raised, Verdict, judge_all
from ._solutions import Attempt
from .execute import kernel_env

__all__ = ["ENV", "score"]

ENV = {"CNNBOOK_STRICT": "0", "CNNBOOK_PROGRESS": "off", "CNNBOOK_RECORD": "off", "MPLBACKEND": "Agg"}
# The solution process: the folder it runs in comes last on sys.path, so that a student's
# helper module can be imported but a file named like a package (numpy.py) cannot
# replace it.
_LAUNCH = ("import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')] + ['']; "
           "from cnnbook.course._runner import main; sys.exit(main(sys.argv[1:]))")


def score(exercises, attempts: dict, folder: Path, private: Path, python: str) -> dict:
    """name -> Verdict for every attempted exercise."""
    by_name = {ex.name: ex for ex in exercises}
    verdicts, pending = {}, []
    for ex in exercises:
        attempt = attempts.get(ex.name)
        if attempt is None:
            continue
        if attempt.solution is None:
            verdicts[ex.name] = Verdict(ex.name, ex.title, "not_defined",
                                        f"No cell before its check defines `{attempt.function}`.")
        else:
            pending.append(attempt)
    private.mkdir(parents=True, exist_ok=True)
    round_ = 0
    while pending:
        round_ += 1
        lines, stopped = _run_solutions(pending, by_name, folder, private / f"round{round_}", python)
        for k, attempt in enumerate(pending):
            ex = by_name[attempt.exercise]
            line = lines.get(attempt.exercise)
            if line is not None:
                verdicts[ex.name] = _verdict(ex, attempt, line)
                continue
            verdicts[ex.name] = _stopped(ex, stopped)
            pending = pending[k + 1:]
            break
        else:
            pending = []
    return verdicts


def _run_solutions(pending: list[Attempt], by_name, folder: Path, private: Path, python: str):
    """Run the solution process on ``pending``; its result lines (name -> dict), and how
    it ended when it ended early."""
    private.mkdir(parents=True)
    job, results = private / "job.json", private / "results.jsonl"
    job.write_text(json.dumps([{"name": a.exercise, "function": a.function, "cells": a.cells}
                               for a in pending]))
    begun = time.monotonic()
    process = subprocess.Popen([python, "-c", _LAUNCH, str(job), str(results)], cwd=folder,
                               env=kernel_env(ENV), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    # Each exercise gets its time limit twice (its cells, then its cases) and a margin;
    # an exercise that has not reported by then stopped listening to its time limit.
    # (The reader's code can write to the results file too, hence also a limit in all.)
    total = 20 + sum(2 * by_name[a.exercise].time_limit + 5 for a in pending)
    done, started, killed, limit = 0, time.monotonic(), False, 0.0
    while process.poll() is None and done < len(pending):
        limit = 2 * by_name[pending[done].exercise].time_limit + (20 if done == 0 else 5)
        if time.monotonic() - started > limit or time.monotonic() - begun > total:
            killed = True
            break
        time.sleep(0.1)
        now_done = _count_lines(results)
        if now_done > done:
            done, started = now_done, time.monotonic()
    code = process.poll()
    _kill_group(process)
    lines = {}
    if results.exists():
        with open(results, encoding="utf-8", errors="replace") as f:
            for text in f:
                try:
                    line = json.loads(text)
                except ValueError:
                    continue
                if isinstance(line, dict) and isinstance(line.get("name"), str):
                    lines.setdefault(line["name"], line)
    how = f"the grader stopped it after {limit:g} s" if killed else f"exit status {code}"
    return lines, how


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def _kill_group(process: subprocess.Popen) -> None:
    """End the solution process and anything it started."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _stopped(ex, how: str) -> Verdict:
    if how.startswith("the grader stopped"):
        return Verdict(ex.name, ex.title, "timeout",
                       f"It did not stop at its time limit of {ex.time_limit:g} s, and {how}.")
    return Verdict(ex.name, ex.title, "exception",
                   f"The process running it ended ({how}) before its checks were done: does the "
                   f"solution call `exit()` or `os._exit()`, or crash Python?")


def _verdict(ex, attempt: Attempt, line: dict) -> Verdict:
    """The verdict on what the solution process reported for one exercise."""
    printed = line.get("printed") if isinstance(line.get("printed"), str) else ""
    setup, cell = line.get("setup"), f"cell {attempt.solution}"
    if setup == "timeout":
        return Verdict(ex.name, ex.title, "timeout",
                       f"Running the solution ({cell}) took more than {ex.time_limit:g} s.", printed=printed)
    if isinstance(setup, dict):
        raised = Outcome.from_json({"raised": setup}).raised or Raised("", "an exception", "")
        message = (raised.message.strip().splitlines() or [""])[0]
        detail = f"The solution ({cell}) raised {raised.name}: {message}"
        return Verdict(ex.name, ex.title, "exception", detail + (f"\n{raised.where}" if raised.where else ""),
                       printed=printed)
    if line.get("missing") is True:
        return Verdict(ex.name, ex.title, "not_defined",
                       f"Run on its own, the solution ({cell}) does not define `{attempt.function}`.",
                       printed=printed)
    outcomes = line.get("outcomes") if isinstance(line.get("outcomes"), list) else []
    return judge_all(ex, [Outcome.from_json(o) for o in outcomes if isinstance(o, dict)], printed)
