"""Grade notebooks, one or a whole class: ``cnnbook-grade class/ -j 2 --csv gradebook.csv``.

How a score is decided (nothing a notebook does can change it):

1. The chapter comes from the file name (``02_bias.ipynb``) or from the notebook's
   metadata (written by ``cnnbook-student``); the list of exercises comes from the
   package's catalogue (``cnnbook/exercises/chNN.py``), not from the notebook. An
   exercise whose check cell is missing is "not attempted".
2. The notebook runs top to bottom in a fresh kernel, in a scratch copy of its folder,
   with a time limit per cell and one for the whole notebook. That run only reports the
   errors of cells (the "(notebook)" row of the gradebook). It decides no score, and
   whatever it writes goes away with the copy.
3. The score: a separate process, in another scratch copy, runs for each attempted
   exercise only the imports and definitions of the cells before its check, then its
   solution cell, then the reader's function on the exercise's cases, within the
   exercise's time limit (``cnnbook.course._runner``). It sends back what the function
   returned as plain data (arrays and numbers, ``cnnbook.exercises._plain``). This
   process, which runs no code from any notebook, compares those results with the
   references (``cnnbook.exercises._checker.judge_all``); its verdicts are the score.
   A solution process that hangs is killed, one that dies costs only the exercise it
   was running.
4. A solution that uses the package's own version of its exercise (the cnnbook
   function the reference returns the result of, e.g. ``cnnbook.conv2d_forward`` for
   ch05.conv2d) or the exercises' answer key is read from its code (not at run time):
   if it passes, its status is "flagged", for the instructor to read.

A path that does not exist, a notebook that cannot be read or whose chapter has no
exercises becomes a row of the gradebook, and grading goes on.

Each PATH is a notebook (one submission; the student is the folder it is in when it is
named like a chapter, ``alice/02_bias.ipynb``, else the file's name) or a class folder,
in which each subfolder is one student (all its notebooks) and each .ipynb file one
student (named after the file). ``-j N`` grades N notebooks at a time.

What this does not do is contain a notebook: its kernel and its solutions run with the
grader's rights and can read or change any file the grader can; the scratch copies only
keep relative paths away from the originals. Grade untrusted work in a container, or as
a user who can write nowhere else.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import multiprocessing
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from ..exercises import Verdict
from ._score import ENV, score
from ._solutions import Attempt, chapter_of, find_attempts, flags, package_versions
from .execute import TIMEOUT, run_cells

__all__ = ["Row", "NotebookGrade", "grade_notebook", "grade_paths", "totals", "format_table",
           "write_csv", "main"]

NOTEBOOK_TIMEOUT = 1800  # seconds for a whole notebook
COLUMNS = ("student", "chapter", "exercise", "status", "points", "message")
TOTAL_COLUMNS = ("student", "points", "max_points", "passed", "flagged", "failed",
                 "not_attempted", "errors")
_CHAPTER_FILE = re.compile(r"\d\d_.*\.ipynb")


@dataclass
class Row:
    """One line of the gradebook."""
    student: str
    chapter: str
    exercise: str
    status: str
    points: int | str
    message: str


@dataclass
class NotebookGrade:
    """The grade of one notebook: ``rows`` of its exercises (and its "(notebook)" row)."""
    student: str
    path: str
    chapter: str = ""
    run: str = ""            # why the notebook's run stopped, or ""
    errors: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.run and not self.errors and all(
            r.status in ("passed", "flagged") for r in self.rows if r.exercise != "(notebook)")


# -- one notebook -----------------------------------------------------------------------
def grade_notebook(path, *, student: str | None = None, folder=None,
                   cell_timeout: float = TIMEOUT, notebook_timeout: float = NOTEBOOK_TIMEOUT,
                   python: str = sys.executable) -> NotebookGrade:
    """Grade one notebook. ``folder`` is copied whole into the scratch folders (a student's
    folder); without it, the notebook and the plain files beside it are."""
    path = Path(path)
    grade = NotebookGrade(student or _student_of(path), str(path))
    start = time.perf_counter()
    try:
        _grade(grade, path, Path(folder) if folder else None, cell_timeout, notebook_timeout, python)
    except Exception as exc:  # noqa: BLE001 - one notebook never stops the class
        grade.rows.insert(0, Row(grade.student, grade.chapter, "(notebook)", "error", "",
                                 f"grading failed: {type(exc).__name__}: {_first_line(exc)}"))
    grade.seconds = time.perf_counter() - start
    return grade


def _grade(grade: NotebookGrade, path: Path, folder, cell_timeout, notebook_timeout, python):
    found = _CHAPTER_FILE.fullmatch(path.name)
    grade.chapter = f"ch{path.name[:2]}" if found else ""
    try:
        nb = nbformat.read(str(path), as_version=4)
        _validate(nb)
    except Exception as exc:  # noqa: BLE001 - a broken file is a row, not a crash
        _error(grade, f"the notebook could not be read: {type(exc).__name__}: {_first_line(exc)}")
        return
    grade.chapter = chapter_of(path, nb) or ""
    exercises = _catalogue(grade.chapter)
    if not exercises:
        which = f"chapter {grade.chapter} has no exercises" if grade.chapter else (
            "its chapter is unknown: name the file like the chapter (02_bias.ipynb)")
        _error(grade, which)
        return
    with tempfile.TemporaryDirectory(prefix="cnnbook-grade-", ignore_cleanup_errors=True) as tmp:
        tmp = Path(tmp)
        run_dir, run_nb = _scratch_copy(path, folder, tmp / "run")
        grade.run, grade.errors = _run_notebook(copy.deepcopy(nb), run_dir, cell_timeout, notebook_timeout)
        score_dir, _ = _scratch_copy(path, folder, tmp / "score")
        attempts = find_attempts(nb, exercises)
        verdicts = score(exercises, attempts, score_dir, tmp / "private", python)
    status = "stopped" if grade.run else ("errors" if grade.errors else "ran")
    message = grade.run or "; ".join(grade.errors[:3]) or "every cell ran without an error"
    if len(grade.errors) > 3:
        message += f"; and {len(grade.errors) - 3} more"
    message = f"{path.name}: {message}"
    grade.rows.append(Row(grade.student, grade.chapter, "(notebook)", status, "", message))
    for ex in exercises:
        grade.rows.append(_exercise_row(grade, ex, attempts.get(ex.name), verdicts.get(ex.name)))


def _validate(nb) -> None:
    for i, cell in enumerate(nb.cells, 1):
        if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(cell.get("source"), str):
            raise ValueError(f"cell {i} is not a code, markdown or raw cell with a source")


def _error(grade: NotebookGrade, message: str) -> None:
    grade.rows.append(Row(grade.student, grade.chapter, "(notebook)", "error", "",
                          f"{Path(grade.path).name}: {message}"))
    for ex in _catalogue(grade.chapter):
        grade.rows.append(Row(grade.student, grade.chapter, ex.name, "error", 0, message))


def _catalogue(chapter: str) -> list:
    if not chapter:
        return []
    try:
        module = __import__(f"cnnbook.exercises.{chapter}", fromlist=["EXERCISES"])
    except ImportError:
        return []
    return list(module.EXERCISES)


def _exercise_row(grade: NotebookGrade, ex, attempt: Attempt | None, verdict: Verdict | None) -> Row:
    row = Row(grade.student, grade.chapter, ex.name, "failed", 0, "")
    if attempt is None:
        row.status, row.message = "not attempted", "no check cell for this exercise"
    elif verdict.category == "not_done":
        row.status, row.message = "not attempted", "not done yet (the stub still raises NotImplementedError)"
    elif verdict.passed:
        found = flags(attempt, package_versions(ex))
        row.status, row.points = ("flagged", 1) if found else ("passed", 1)
        row.message = "review: " + "; ".join(found) if found else verdict.summary()
    else:
        row.message = verdict.summary()
    return row


def _run_notebook(nb, folder: Path, cell_timeout, notebook_timeout) -> tuple[str, list]:
    try:
        stopped = run_cells(nb, folder, env=ENV, cell_timeout=cell_timeout,
                            notebook_timeout=notebook_timeout)
    except Exception as exc:  # noqa: BLE001 - the kernel did not start, or worse
        return f"the notebook could not be run: {type(exc).__name__}: {_first_line(exc)}", []
    return stopped or "", _cell_errors(nb)


def _cell_errors(nb) -> list[str]:
    """'cell N (first line of code): Error: message' for each cell that raised."""
    errors = []
    for i, cell in enumerate(nb.cells, 1):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                first = next((line for line in cell.source.splitlines() if line.strip()), "")
                errors.append(f"cell {i} ({first.strip()[:60]}): {out.get('ename')}: "
                              f"{_first_line(out.get('evalue', ''))}")
    return errors


def _scratch_copy(path: Path, folder: Path | None, into: Path) -> tuple[Path, Path]:
    """Copy the student's folder (or the notebook and the plain files beside it) into
    ``into``; return the folder the notebook is in there, and the notebook's copy."""
    if folder is not None:
        shutil.copytree(folder, into, symlinks=True, ignore=shutil.ignore_patterns(".*"))
        where = into / path.resolve().parent.relative_to(folder.resolve())
    else:
        into.mkdir(parents=True)
        for other in path.parent.iterdir():
            if other.is_file() and not other.name.startswith(".") and other.suffix != ".ipynb":
                shutil.copy2(other, into / other.name)
        where = into
    target = where / path.name
    if not target.exists():
        shutil.copy2(path, target)
    return where, target


# -- a class ------------------------------------------------------------------------------
@dataclass
class _Submission:
    student: str
    path: str
    folder: str | None = None


def _student_of(path: Path) -> str:
    return path.resolve().parent.name if _CHAPTER_FILE.fullmatch(path.name) else path.stem


def _submissions(paths) -> list:
    """A _Submission per notebook to grade, or a Row for a path that cannot be graded."""
    found = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            entries = [p for p in sorted(path.iterdir()) if not p.name.startswith(".")]
            before = len(found)
            for entry in entries:
                if entry.is_dir():
                    notebooks = sorted(q for q in entry.rglob("*.ipynb")
                                       if not any(part.startswith(".") for part in q.relative_to(entry).parts))
                    found += [_Submission(entry.name, str(q), str(entry)) for q in notebooks] or [
                        Row(entry.name, "", "", "error", "", "no notebooks in this student's folder")]
                elif entry.suffix == ".ipynb":
                    found.append(_Submission(entry.stem, str(entry)))
            if len(found) == before:
                found.append(Row(str(text), "", "", "error", "", "no notebooks or student folders here"))
        elif path.is_file() and path.suffix == ".ipynb":
            found.append(_Submission(_student_of(path), str(path)))
        elif path.exists():
            found.append(Row(str(text), "", "", "error", "", "not a notebook (.ipynb) or a folder"))
        else:
            found.append(Row(str(text), "", "", "error", "", "no such file or folder"))
    return found


def _grade_one(sub: _Submission, cell_timeout, notebook_timeout) -> NotebookGrade:
    return grade_notebook(sub.path, student=sub.student, folder=sub.folder,
                          cell_timeout=cell_timeout, notebook_timeout=notebook_timeout)


def grade_paths(paths, *, jobs: int = 1, cell_timeout: float = TIMEOUT,
                notebook_timeout: float = NOTEBOOK_TIMEOUT, progress=None) -> tuple[list, list]:
    """(gradebook rows, NotebookGrades) for notebooks and class folders, ``jobs`` at a time."""
    items = _submissions(paths)
    subs = [s for s in items if isinstance(s, _Submission)]
    args = (cell_timeout, notebook_timeout)
    if jobs == 1 or len(subs) <= 1:
        grades = []
        for s in subs:
            grades.append(_grade_one(s, *args))
            if progress:
                progress(grades[-1])
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = [pool.submit(_grade_one, s, *args) for s in subs]
            grades = []
            for s, future in zip(subs, futures):
                try:
                    grades.append(future.result())
                except Exception as exc:  # noqa: BLE001 - a worker that died
                    grades.append(NotebookGrade(s.student, s.path, rows=[Row(
                        s.student, "", "(notebook)", "error", "", f"grading failed: {type(exc).__name__}")]))
                if progress:
                    progress(grades[-1])
    results = iter(grades)
    rows = []
    for item in items:
        rows += [item] if isinstance(item, Row) else next(results).rows
    rows.sort(key=lambda r: (r.student, r.chapter))  # stable: exercises stay in catalogue order
    return rows, grades


def totals(rows: list[Row]) -> list[dict]:
    """Per student: points, the most they could have, and how many exercises of each
    status ("errors" also counts the paths that could not be graded at all). When a
    student handed in two notebooks of a chapter, each exercise counts once, at its best."""
    rank = {"passed": 4, "flagged": 3, "failed": 2, "not attempted": 1, "error": 0}
    best, table = {}, {}
    for r in rows:
        t = table.setdefault(r.student, dict.fromkeys(TOTAL_COLUMNS, 0) | {"student": r.student})
        if r.exercise == "":
            t["errors"] += 1
        elif r.exercise != "(notebook)":
            key = (r.student, r.exercise)
            if key not in best or rank[r.status] > rank[best[key].status]:
                best[key] = r
    keys = {"passed": "passed", "flagged": "flagged", "failed": "failed",
            "not attempted": "not_attempted", "error": "errors"}
    for (student, _), r in best.items():
        t = table[student]
        t["max_points"] += 1
        t["points"] += r.points if isinstance(r.points, int) else 0
        t[keys[r.status]] += 1
    return list(table.values())


def write_csv(path, rows: list, columns) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(asdict(r) if isinstance(r, Row) else r for r in rows)


def format_table(records: list, columns, width: int = 90) -> str:
    """Rows (Row or dict) as aligned text; long messages are cut."""
    cells = [list(columns)] + [[str((asdict(r) if isinstance(r, Row) else r)[c]) for c in columns]
                               for r in records]
    for row in cells:
        row[-1] = row[-1] if len(row[-1]) <= width else row[-1][:width - 1] + "…"
    widths = [max(len(row[k]) for row in cells) for k in range(len(columns) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in cells)


# -- the command ------------------------------------------------------------------------------
def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def _first_line(text) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="cnnbook-grade",
        description="Grade notebooks or a class folder. Scores come from the package's catalogue "
                    "of exercises and from the solutions re-run in a separate process, never from "
                    "what a notebook prints or writes. Each solution has the time limit its "
                    "exercise declares (10 s unless the catalogue says otherwise). Exit status 0 "
                    "when every exercise passed and every cell ran, 1 otherwise.",
        epilog="A PATH is a notebook (its student is its folder's name when the file is named like "
               "a chapter, 02_bias.ipynb, else the file's name) or a class folder (each subfolder, "
               "or each .ipynb file in it, is one student).")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="notebooks (.ipynb) or class folders")
    parser.add_argument("-j", "--jobs", type=_jobs, default=1, metavar="N",
                        help="grade N notebooks at a time (default 1)")
    parser.add_argument("--cell-timeout", "--timeout", type=_seconds, default=TIMEOUT, metavar="SECONDS",
                        help=f"seconds a cell may run before the notebook's run is stopped (default {TIMEOUT})")
    parser.add_argument("--notebook-timeout", type=_seconds, default=NOTEBOOK_TIMEOUT, metavar="SECONDS",
                        help=f"seconds a whole notebook may run (default {NOTEBOOK_TIMEOUT})")
    parser.add_argument("--csv", metavar="FILE", help="write the gradebook (one row per exercise) to FILE")
    parser.add_argument("--totals", metavar="FILE", help="write the points of each student to FILE (CSV)")
    parser.add_argument("--json", metavar="FILE", help="write every notebook's details to FILE (JSON)")
    args = parser.parse_args(argv)

    def progress(g: NotebookGrade):
        print(f"graded {g.path} ({g.student}) in {g.seconds:.1f} s", file=sys.stderr, flush=True)

    start = time.perf_counter()
    rows, grades = grade_paths(args.paths, jobs=args.jobs, cell_timeout=args.cell_timeout,
                               notebook_timeout=args.notebook_timeout, progress=progress)
    summary = totals(rows)
    if args.csv:
        write_csv(args.csv, rows, COLUMNS)
    else:
        print(format_table(rows, COLUMNS), end="\n\n")
    if args.totals:
        write_csv(args.totals, summary, TOTAL_COLUMNS)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(g) for g in grades], indent=1))
    print(format_table(summary, TOTAL_COLUMNS, width=20))
    print(f"\n{len(grades)} notebook{'s' if len(grades) != 1 else ''} graded in "
          f"{time.perf_counter() - start:.1f} s" + (f"; gradebook in {args.csv}" if args.csv else ""))
    ok = all(g.ok for g in grades) and all(r.status != "error" for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
