"""The exercises branch (make exercises): what the site's Binder and Colab buttons open.

Built here into a temporary folder: every chapter is there in its exercise version, with
no line of any solution, no MyST directive left for Colab to show raw, notebooks that
validate and whose first cells run, and the files Binder needs to install the package.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from cnnbook.course import publish

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


@pytest.fixture(scope="module")
def branch(tmp_path_factory):
    out = tmp_path_factory.mktemp("exercises") / "branch"
    publish.build(out)
    return out


def solution_lines(path: Path) -> list[str]:
    """The telling lines of every solution of a chapter (between the markers) that the
    page does not also show outside its solutions (a variant of a cell on the page may
    share a line with it)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    page = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code"
                     and "solution" not in c.get("metadata", {}).get("tags", []))
    lines = []
    for cell in cells:
        if "solution" not in cell.get("metadata", {}).get("tags", []):
            continue
        inside = False
        for line in "".join(cell["source"]).splitlines():
            if line.strip().startswith(MARKERS[0]):
                inside = True
            elif line.strip().startswith(MARKERS[1]):
                inside = False
            elif (inside and len(line.strip()) > 12 and not line.strip().startswith("#")
                  and line.strip() not in page):
                lines.append(line.strip())
    return lines


def test_every_chapter_is_there(branch):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    listed = [Path(c["file"]).name for part in toc["parts"] for c in part["chapters"]
              if c["file"].startswith("chapters/")]
    written = sorted(p.stem for p in (branch / "chapters").glob("*.ipynb"))
    assert written == sorted(listed) == [p.stem for p in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_no_solution_code_and_no_myst_left(branch, source):
    path = branch / "chapters" / source.name
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    leaked = [line for line in solution_lines(source) if line in code]
    assert not leaked, f"{source.name}: solution lines left: {leaked[:5]}"
    assert solution_lines(source), f"{source.name}: no solution found to look for"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    raw = re.findall(r"^(?::::*|```)\{[a-z-]+\}.*$", markdown, re.M)
    assert not raw, f"{source.name}: MyST directives left: {raw[:3]}"
    assert not re.search(r"\{(eq|ref|numref|cite|doc|term)\}`", markdown), \
        f"{source.name}: MyST roles left"
    stubs = sum("NotImplementedError" in c.source for c in nb.cells if c.cell_type == "code")
    assert stubs >= 4, f"{source.name}: {stubs} exercise stubs"


@pytest.mark.parametrize("source", SOURCES[:1] + SOURCES[-1:], ids=lambda p: p.stem)
def test_a_notebook_opens_and_runs_its_first_cells(branch, source):
    nb = nbformat.read(branch / "chapters" / source.name, as_version=4)
    first = [c for c in nb.cells if c.cell_type == "code"][:2]     # Colab install, setup
    nb.cells = first
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(branch / "chapters")}}).execute()
    assert all(not any(o.get("output_type") == "error" for o in c.outputs) for c in nb.cells)


def test_binder_can_install_it(branch):
    for name in ("requirements.txt", "runtime.txt", "apt.txt", "pyproject.toml", "README.md"):
        assert (branch / name).is_file(), name
    assert "-e ." in (branch / "requirements.txt").read_text().splitlines()
    assert (branch / "cnnbook" / "__init__.py").is_file()
    assert not list(branch.rglob("__pycache__"))
    readme = (branch / "README.md").read_text()
    assert "/tree/main/chapters" in readme and "solutions" in readme


def test_it_refuses_to_overwrite_the_repository():
    with pytest.raises(ValueError, match="a folder of its own"):
        publish.build(ROOT)
