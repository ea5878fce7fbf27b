"""Grade notebooks: ``python -m cnnbook.course.grade student/*.ipynb`` prints a score table.

Each notebook runs top to bottom in a fresh kernel (its folder as working directory) in
strict mode, CNNBOOK_STRICT=1, so that a failed ``check`` raises; a failing cell does not
stop the run. Every ``check`` appends its verdict to the file named by
CNNBOOK_GRADE_REPORT, which is read back here. The exit status is 1 when an exercise
fails, when a check never ran, or when any other cell raised an error.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .execute import TIMEOUT, run_notebook
from .student import CHECK_CALL

__all__ = ["NotebookGrade", "grade_notebook", "format_table", "main"]


@dataclass
class NotebookGrade:
    """The checks of one notebook (dicts: exercise, passed, category, message) and the
    errors of its other cells."""
    path: str
    results: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(r["passed"] for r in self.results)


def grade_notebook(path, *, strict: bool = True, timeout: int = TIMEOUT) -> NotebookGrade:
    """Execute one notebook and collect its check results and other cell errors."""
    grade = NotebookGrade(str(path))
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.jsonl"
        report.touch()
        env = {"CNNBOOK_STRICT": "1" if strict else "0", "CNNBOOK_GRADE_REPORT": str(report),
               "CNNBOOK_PROGRESS": "off"}
        nb = None
        try:
            nb = run_notebook(path, env=env, allow_errors=True, timeout=timeout)
        except Exception as exc:  # a cell timed out or the kernel died: grade what ran
            grade.errors.append(f"execution stopped: {type(exc).__name__}: {_first_line(exc)}")
        grade.results = [json.loads(line) for line in report.read_text().splitlines() if line.strip()]
    if nb is not None:
        grade.errors += _cell_errors(nb)
    seen = {r["exercise"] for r in grade.results}
    for name in _checked_names(path):
        if name not in seen:
            grade.results.append({"exercise": name, "title": "", "passed": False,
                                  "category": "not_run", "message": "its check cell did not run"})
    return grade


def _checked_names(path) -> list[str]:
    nb = nbformat.read(str(path), as_version=4)
    names = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            names += [n for n in CHECK_CALL.findall(cell.source) if n not in names]
    return names


def _cell_errors(nb) -> list[str]:
    """'cell N (first line of code): Error: message' for each error not from a check."""
    errors = []
    for i, cell in enumerate(nb.cells, 1):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.output_type == "error" and out.ename != "ExerciseFailed":
                first = next((line for line in cell.source.splitlines() if line.strip()), "")
                errors.append(f"cell {i} ({first.strip()[:60]}): {out.ename}: {_first_line(out.evalue)}")
    return errors


def _first_line(text) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def format_table(grades: list[NotebookGrade], width: int = 100) -> str:
    """The score table and the total line."""
    rows = [("notebook", "exercise", "result", "message")]
    for g in grades:
        name = g.path
        rows += [(name, r["exercise"], "pass" if r["passed"] else "FAIL", r["message"]) for r in g.results]
        rows += [(name, "(other cell)", "ERROR", e) for e in g.errors]
    widths = [max(len(row[k]) for row in rows) for k in range(3)]
    lines = []
    for row in rows:
        message = row[3] if len(row[3]) <= width else row[3][:width - 1] + "…"
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + message)
    passed = sum(r["passed"] for g in grades for r in g.results)
    failed = sum(not r["passed"] for g in grades for r in g.results)
    errors = sum(len(g.errors) for g in grades)
    total = f"{passed} passed, {failed} failed"
    if errors:
        total += f"; {errors} error{'s' if errors > 1 else ''} outside the exercise checks"
    return "\n".join(lines + ["", total])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnbook.course.grade",
                                     description="Run notebooks strictly and print a score table.")
    parser.add_argument("notebooks", nargs="+", help="notebook files (.ipynb)")
    parser.add_argument("--timeout", type=int, default=TIMEOUT, help="seconds allowed per cell")
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE as JSON")
    args = parser.parse_args(argv)
    grades = []
    for path in args.notebooks:
        print(f"grading {path} ...", file=sys.stderr, flush=True)
        grades.append(grade_notebook(path, timeout=args.timeout))
    print(format_table(grades))
    if args.json:
        Path(args.json).write_text(json.dumps([vars(g) for g in grades], indent=1))
    return 0 if all(g.ok for g in grades) else 1


if __name__ == "__main__":
    sys.exit(main())
