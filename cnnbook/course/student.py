"""Write the exercise version of the chapters: ``python -m cnnbook.course.student SRC DEST``.

For every notebook in SRC (a folder, or one .ipynb file), in each code cell tagged
``solution`` the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` become, at the
same indentation, ``raise NotImplementedError("Exercise 1.2: <title>")``; the outputs of
that cell and of the check cell after it are cleared. Everything else is kept. DEST may
be SRC (Binder's postBuild converts the chapters in place). Used by ``make student``.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat

__all__ = ["CHECK_CALL", "strip_solution", "to_student", "chapter_number", "main"]

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([\w.]+)["']""")
_EXERCISE = re.compile(r"^(?:`{3,}|:{3,})\{exercise\}[ \t]*(.*?)[ \t]*$", re.MULTILINE)


def strip_solution(source: str, stub: str, where: str = "this cell") -> str:
    """Replace each BEGIN..END SOLUTION region of ``source`` by ``stub``, indented alike."""
    out, inside, found = [], False, False
    for line in source.splitlines():
        marker = line.strip()
        if marker.startswith(BEGIN):
            if inside:
                raise ValueError(f"{where}: '{BEGIN}' again before '{END}'")
            inside = found = True
            out.append(line[:len(line) - len(line.lstrip())] + stub)
        elif marker.startswith(END):
            if not inside:
                raise ValueError(f"{where}: '{END}' without a '{BEGIN}' before it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: '{BEGIN}' has no matching '{END}'")
    if not found:
        raise ValueError(f"{where}: the cell is tagged 'solution' but has no "
                         f"'{BEGIN}' ... '{END}' lines around the answer")
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def to_student(nb, chapter, where: str = "") -> int:
    """Turn ``nb`` (changed in place) into its exercise version; return the number of
    solution cells. Exercise k of the notebook is numbered ``{chapter}.{k}``."""
    title, count, after_solution = None, 0, False
    for i, cell in enumerate(nb.cells, 1):
        if cell.cell_type == "markdown":
            found = _EXERCISE.search(cell.source)
            if found:
                title = found[1] or None
            continue
        if cell.cell_type != "code":
            continue
        if "solution" in cell.metadata.get("tags", []):
            count += 1
            label = title or _fallback_title(nb.cells[i - 1:])
            message = json.dumps(f"Exercise {chapter}.{count}: {label}", ensure_ascii=False)
            stub = f"raise NotImplementedError({message})"
            cell.source = strip_solution(cell.source, stub, f"{where}cell {i}")
            _clear(cell)
            title, after_solution = None, True
        elif after_solution:
            if CHECK_CALL.search(cell.source):
                _clear(cell)
            after_solution = False
    return count


def _fallback_title(cells) -> str:
    """No {exercise} title: the name given to check() after the cell, else the function's."""
    for cell in cells[1:]:
        if cell.cell_type == "code":
            found = CHECK_CALL.search(cell.source)
            if found:
                return found[1]
            break
    found = re.search(r"^\s*def\s+(\w+)", cells[0].source, re.MULTILINE)
    return found[1] if found else "exercise"


def _clear(cell) -> None:
    cell.outputs = []
    cell.execution_count = None


def chapter_number(path: Path, nb) -> str:
    """'1' for 01_neurons.ipynb; else the chapter of the first check("chNN...") call."""
    found = re.match(r"(\d+)", path.name)
    if found:
        return str(int(found[1]))
    for cell in nb.cells:
        found = CHECK_CALL.search(cell.source) if cell.cell_type == "code" else None
        if found and re.match(r"ch(\d+)", found[1]):
            return str(int(re.match(r"ch(\d+)", found[1])[1]))
    return "0"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnbook.course.student",
                                     description="Write the exercise version of the chapters.")
    parser.add_argument("src", help="folder of notebooks (or one .ipynb file)")
    parser.add_argument("dest", help="output folder (may be the same as src)")
    args = parser.parse_args(argv)
    src, dest = Path(args.src), Path(args.dest)
    paths = sorted(src.glob("*.ipynb")) if src.is_dir() else [src]
    if not paths or not all(p.is_file() for p in paths):
        print(f"cnnbook.course.student: no notebooks found at {src}", file=sys.stderr)
        return 1
    converted = []  # convert every notebook before writing any, so an error writes nothing
    try:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            converted.append((path, nb, to_student(nb, chapter_number(path, nb), f"{path}: ")))
    except ValueError as exc:
        print(f"cnnbook.course.student: {exc}", file=sys.stderr)
        return 1
    dest.mkdir(parents=True, exist_ok=True)
    if src.is_dir() and src.resolve() != dest.resolve():
        for other in src.iterdir():  # files the notebooks may read, e.g. a small image
            if other.is_file() and other.suffix != ".ipynb" and not other.name.startswith("."):
                shutil.copy2(other, dest / other.name)
    for path, nb, count in converted:
        nbformat.write(nb, dest / path.name)
        print(f"{dest / path.name}: {count} exercise{'' if count == 1 else 's'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
