"""Reading a submitted notebook without running it.

``chapter_of`` tells which chapter a notebook is; ``find_attempts`` finds, for each
exercise of that chapter's catalogue, its check cell (none: not attempted), the name of
the reader's function, the solution cell that defines it and the code cells before the
check, whose imports and definitions the solution may use. ``statements`` picks the
statements of a cell that the grader runs; ``package_versions`` and ``flags`` point out
a solution that only calls the package's own version of the exercise.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..exercises import Exercise

__all__ = ["Attempt", "chapter_of", "find_attempts", "ipython_to_python", "statements",
           "package_versions", "flags"]

_FILE = re.compile(r"(\d\d)_.*\.ipynb")
_CHECK = re.compile(r"""^[^#\n]*\bcheck\(\s*["'](ch\d\d\.\w+)["']\s*(?:,\s*([A-Za-z_]\w*)\s*[,)])?""",
                    re.MULTILINE)
_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass
class Attempt:
    """One exercise as a notebook attempts it. ``cells`` are (cell number, source, mode):
    the earlier code cells, whose imports and definitions are run ("definitions"), then
    the solution cell, run in full ("all"). ``solution`` is None when no cell before the
    check defines ``function``."""
    exercise: str
    function: str
    check_cell: int
    solution: int | None = None
    cells: list = field(default_factory=list)


def chapter_of(path: Path, nb) -> str | None:
    """'ch02' for 02_bias.ipynb; else the notebook's metadata (cnnbook.chapter, written by
    cnnbook-student); else the chapter most of its check cells name."""
    found = _FILE.fullmatch(Path(path).name)
    if found:
        return f"ch{found[1]}"
    meta = nb.metadata.get("cnnbook", {}) if hasattr(nb, "metadata") else {}
    chapter = meta.get("chapter") if isinstance(meta, dict) else None
    if isinstance(chapter, str) and re.fullmatch(r"ch\d\d", chapter):
        return chapter
    if isinstance(chapter, int) and 0 <= chapter < 100:
        return f"ch{chapter:02d}"
    named = Counter(name[:4] for cell in _code_cells(nb) for name, _ in _CHECK.findall(cell[1]))
    return named.most_common(1)[0][0] if named else None


def ipython_to_python(source: str) -> str:
    """A cell's source with IPython syntax (%magic, !shell) turned into Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return "\n".join("pass" if line.lstrip()[:1] in ("%", "!") else line
                         for line in source.splitlines())
    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - leave it to the parser to report
        return source


def _code_cells(nb) -> list[tuple[int, str]]:
    """(cell number from 1, Python source) of each code cell."""
    return [(i, ipython_to_python(cell.source)) for i, cell in enumerate(nb.cells, 1)
            if cell.get("cell_type") == "code" and isinstance(cell.get("source"), str)]


def find_attempts(nb, exercises: list[Exercise]) -> dict[str, Attempt]:
    """The exercises of the catalogue that the notebook has a check cell for."""
    wanted = {ex.name: ex for ex in exercises}
    cells = _code_cells(nb)
    attempts: dict[str, Attempt] = {}
    for k, (number, source) in enumerate(cells):
        for name, function in _CHECK.findall(source):
            if name not in wanted or name in attempts:
                continue
            function = function or wanted[name].function
            attempt = Attempt(name, function, number)
            solution = _solution_cell(nb, cells[:k + 1], function)
            if solution is not None:
                before = [(n, s, "definitions") for n, s in cells[:k + 1] if n != solution and n < number]
                attempt.solution = solution
                attempt.cells = before + [(solution, dict(cells)[solution], "all")]
            attempts[name] = attempt
    return attempts


def _solution_cell(nb, cells, function: str) -> int | None:
    """The cell tagged ``solution`` between the previous check cell and this one; else the
    last cell up to this check that defines ``function`` at top level."""
    for number, source in reversed(cells[:-1]):
        if _CHECK.search(source):
            break
        if "solution" in nb.cells[number - 1].get("metadata", {}).get("tags", []):
            return number
    defining = [n for n, source in cells if function in _bound_names(source)]
    return defining[-1] if defining else None


def _bound_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        found = re.findall(r"^(?:def|class)\s+(\w+)", source, re.MULTILINE)
        return set(found)
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def statements(source: str, mode: str, function: str) -> list[ast.stmt]:
    """The statements of a cell the grader runs: in "definitions" mode its imports,
    functions and classes (not ``function`` itself); in "all" mode every statement but
    IPython's magics. Raises SyntaxError."""
    body = ast.parse(source).body
    if mode == "all":
        return [node for node in body if not _is_magic(node)]
    return [node for node in body if isinstance(node, _DEFINITIONS)
            and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
            and function not in _bound_names(ast.unparse(node))]


def _is_magic(node: ast.stmt) -> bool:
    """get_ipython().run_line_magic(...) and the like, written by ipython_to_python."""
    call = node.value if isinstance(node, ast.Expr) else None
    inner = call.func.value if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) else None
    return (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name)
            and inner.func.id == "get_ipython")


# -- solutions that call the package's own version -------------------------------------
def package_versions(ex: Exercise) -> dict[int, str]:
    """id -> public name of the cnnbook functions the reference returns the result of
    (``return conv2d_forward(...)[0]``): the package's own version of the exercise."""
    reference = inspect.unwrap(ex.reference)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(reference)))
    except (OSError, TypeError, SyntaxError):
        return {}
    found = {}
    for node in ast.walk(tree):
        value = node.value if isinstance(node, ast.Return) else None
        while isinstance(value, ast.Subscript):
            value = value.value
        if isinstance(value, ast.Call):
            obj = _lookup(reference.__globals__, _dotted(value.func))
            module = getattr(obj, "__module__", None) or ""
            if callable(obj) and module.startswith("cnnbook.") and not module.startswith("cnnbook.exercises"):
                found[id(obj)] = _public_name(obj)
    return found


def _public_name(obj) -> str:
    import cnnbook
    name = getattr(obj, "__name__", "?")
    return f"cnnbook.{name}" if getattr(cnnbook, name, None) is obj else f"{obj.__module__}.{name}"


def _dotted(node) -> list[str]:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return []
    return [node.id] + parts[::-1]


def _lookup(namespace: dict, parts: list[str]):
    if not parts or parts[0] not in namespace:
        return None
    obj = namespace[parts[0]]
    for part in parts[1:]:
        obj = getattr(obj, part, None)
    return obj


def flags(attempt: Attempt, versions: dict[int, str]) -> list[str]:
    """Why an instructor may want to read this solution: it uses the package's own
    version of the exercise, or the exercise catalogue (cnnbook.exercises)."""
    if attempt.solution is None:
        return []
    bindings = {}
    for _, source, mode in attempt.cells:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree) if mode == "all" else tree.body:
            bindings.update(_imported(node))
    solution = attempt.cells[-1][1]
    try:
        tree = ast.parse(solution)
    except SyntaxError:
        return []
    paths = set()
    for node in ast.walk(tree):
        parts = _dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else []
        if parts and parts[0] in bindings:
            paths.add(".".join([bindings[parts[0]]] + parts[1:]))
    found = []
    for path in paths - {p.rsplit(".", 1)[0] for p in paths}:  # the longest paths only
        for obj in _resolve(path):
            if id(obj) in versions:
                found.append(f"it uses {versions[id(obj)]}, the package's own version of this exercise")
        if path.startswith("cnnbook.exercises.") and path not in ("cnnbook.exercises.check",):
            found.append(f"it uses {path}, from the exercises' answer key")
    return sorted(set(found))


def _imported(node) -> dict[str, str]:
    """name -> dotted path, for the names an import statement binds to cnnbook."""
    if isinstance(node, ast.Import):
        return {(a.asname or a.name.split(".")[0]): (a.name if a.asname else a.name.split(".")[0])
                for a in node.names if a.name.split(".")[0] == "cnnbook"}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "cnnbook":
        bound = {}
        for a in node.names:
            if a.name == "*":
                module = _resolve(node.module)
                for name in getattr(module[-1] if module else None, "__all__", []):
                    bound[name] = f"{node.module}.{name}"
            else:
                bound[a.asname or a.name] = f"{node.module}.{a.name}"
        return bound
    return {}


def _resolve(path: str) -> list:
    """The objects along a dotted path into cnnbook (modules imported as needed)."""
    parts, objects, obj = path.split("."), [], None
    for i, part in enumerate(parts):
        name = ".".join(parts[:i + 1])
        nxt = getattr(obj, part, None) if obj is not None else None
        if nxt is None:
            try:
                nxt = importlib.import_module(name)
            except Exception:  # noqa: BLE001 - not a module: the path ends here
                break
        objects.append(nxt)
        obj = nxt
    return objects
