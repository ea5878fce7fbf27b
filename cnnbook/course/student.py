"""Write the exercise version of the chapters: ``cnnbook-student SRC DEST``.

For every notebook in SRC (a folder, or one .ipynb file), in each code cell tagged
``solution`` the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` become, at the
same indentation, ``raise NotImplementedError("Exercise 1.2: <title>")``; the outputs of
that cell and of the check cell after it are cleared. Everything else is kept, and the
notebook's metadata records its chapter (``cnnbook.chapter``, read by the grader).

Solution markers in a cell that is not tagged ``solution`` are an error (the answer
would stay in the exercise version), and so is DEST = SRC unless ``--in-place`` says so
(and the exercises branch, cnnbook.course.publish, is made from it).

``--plain-markdown`` also turns MyST-only syntax into plain Markdown (exercise boxes,
equation labels, references, citations; see ``_markdown``), for Colab and a Jupyter
without jupyterlab-myst; ``--keep-solutions`` keeps the answers (only the marker lines
go), e.g. ``cnnbook-student --plain-markdown --keep-solutions chapters colab``.
Used by ``make student``.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat

from ._markdown import load_book, number_labels, to_plain_markdown

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


def to_student(nb, chapter, where: str = "", *, keep_solutions: bool = False) -> int:
    """Turn ``nb`` (changed in place) into its exercise version; return the number of
    solution cells. Exercise k of the notebook is numbered ``{chapter}.{k}``. With
    ``keep_solutions`` the answers stay and only the marker lines go."""
    title, count, after_solution = None, 0, False
    for i, cell in enumerate(nb.cells, 1):
        tagged = cell.cell_type == "code" and "solution" in cell.metadata.get("tags", [])
        if not tagged and _has_marker(cell.source):
            raise ValueError(f"{where}cell {i} has '{BEGIN}' or '{END}' but is not a code cell "
                             f"tagged 'solution', so its answer would be left in the exercise "
                             f"version: tag it 'solution' or remove the markers")
        if cell.cell_type == "markdown":
            found = _EXERCISE.search(cell.source)
            if found:
                title = found[1] or None
            continue
        if cell.cell_type != "code":
            continue
        if tagged:
            count += 1
            label = title or _fallback_title(nb.cells[i - 1:])
            message = json.dumps(f"Exercise {chapter}.{count}: {label}", ensure_ascii=False)
            if keep_solutions:
                strip_solution(cell.source, "", f"{where}cell {i}")  # the same checks of the markers
                cell.source = "\n".join(line for line in cell.source.splitlines()
                                        if not _is_marker(line)) + ("\n" if cell.source.endswith("\n") else "")
            else:
                cell.source = strip_solution(cell.source, f"raise NotImplementedError({message})",
                                             f"{where}cell {i}")
                _clear(cell)
            title, after_solution = None, True
        elif after_solution:
            if CHECK_CALL.search(cell.source) and not keep_solutions:
                _clear(cell)
            after_solution = False
    nb.metadata["cnnbook"] = {"chapter": f"ch{int(chapter):02d}",
                              "version": "solutions" if keep_solutions else "exercises"}
    return count


def _is_marker(line: str) -> bool:
    return line.strip().startswith((BEGIN, END))


def _has_marker(source: str) -> bool:
    return any(_is_marker(line) for line in source.splitlines())


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
    parser = argparse.ArgumentParser(prog="cnnbook-student",
                                     description="Write the exercise version of the chapters.")
    parser.add_argument("src", help="folder of notebooks (or one .ipynb file)")
    parser.add_argument("dest", help="output folder")
    parser.add_argument("--in-place", action="store_true",
                        help="allow DEST to be SRC: overwrite the notebooks with their exercise version")
    parser.add_argument("--plain-markdown", action="store_true",
                        help="turn MyST-only syntax into plain Markdown (for Colab and plain Jupyter)")
    parser.add_argument("--keep-solutions", action="store_true",
                        help="keep the answers (drop only the solution markers)")
    args = parser.parse_args(argv)
    src, dest = Path(args.src), Path(args.dest)
    paths = sorted(src.glob("*.ipynb")) if src.is_dir() else [src]
    if not paths or not all(p.is_file() for p in paths):
        print(f"cnnbook-student: no notebooks found at {src}", file=sys.stderr)
        return 1
    overwritten = [p for p in paths if (dest / p.name).resolve() == p.resolve()]
    if overwritten and not args.in_place:
        print(f"cnnbook-student: DEST is SRC, so {overwritten[0]} would be overwritten by its "
              f"exercise version; pass --in-place to do that on purpose", file=sys.stderr)
        return 1
    book = _book(src, paths) if args.plain_markdown else None
    converted = []  # convert every notebook before writing any, so an error writes nothing
    try:
        for path in paths:
            nb = nbformat.read(path, as_version=4)
            chapter = chapter_number(path, nb)
            count = to_student(nb, chapter, f"{path}: ", keep_solutions=args.keep_solutions)
            if book is not None:
                to_plain_markdown(nb, int(chapter), book, solutions=args.keep_solutions,
                                  folder=_folder_in_book(path, book))
            converted.append((path, nb, count))
    except ValueError as exc:
        print(f"cnnbook-student: {exc}", file=sys.stderr)
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


def _book(src: Path, paths: list[Path]):
    """Citations and the site from the book around SRC; numbers of labels from every
    chapter beside SRC (a reference may point to another chapter)."""
    folder = src if src.is_dir() else src.parent
    book = load_book(folder.resolve())
    for path in sorted(set(folder.glob("[0-9][0-9]_*.ipynb")) | set(paths)):
        nb = nbformat.read(path, as_version=4)
        book.labels.update(number_labels(int(chapter_number(path, nb)), nb))
    return book


def _folder_in_book(path: Path, book) -> str:
    try:
        return path.resolve().parent.relative_to(book.root).as_posix()
    except (TypeError, ValueError):
        return "chapters"


if __name__ == "__main__":
    sys.exit(main())
