"""The exercise version of the notebooks (``cnnbook.course.student``), its grading
(``cnnbook.course.grade``; tests/test_grader.py grades a whole class) and in-place
execution (``cnnbook.course.execute``).

A small notebook is built here following the exercise pattern of HELPERS.md; every real
chapter in chapters/ is converted, executed and graded too.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cnnbook.course.grade import grade_notebook
from cnnbook.course.student import BEGIN, CHECK_CALL, END, main as student_main, strip_solution

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9]*.ipynb"))
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

PERCEPTRON = '''def perceptron(X, t, epochs):
    """Rosenblatt's rule with labels 0 and 1."""
    ### BEGIN SOLUTION
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        for x_n, t_n in zip(X, t):
            error = t_n - float(x_n @ w + b >= 0)
            w, b = w + error * x_n, b + error
    return w, float(b)
    ### END SOLUTION
'''
NETWORK = '''def tlu_network(x, weights, biases):
    ### BEGIN SOLUTION
    for W, b in zip(weights, biases):
        x = (x @ W.T + b >= 0).astype(float)
    return x
    ### END SOLUTION
'''
WIDTH = '''def max_hidden_width(n_in, n_out, budget):
    per_unit = n_in + n_out + 1
    if budget < n_out + per_unit:
        ### BEGIN SOLUTION
        return 0
        ### END SOLUTION
    return (budget - n_out) // per_unit
'''
TRANSLATE = '''def translate(images, dx, dy):
    ### BEGIN SOLUTION
    out = np.zeros_like(images)
    H, W = images.shape[-2:]
    for i in range(H):
        for j in range(W):
            if 0 <= i - dy < H and 0 <= j - dx < W:
                out[..., i, j] = images[..., i - dy, j - dx]
    return out
    ### END SOLUTION
'''
NAMES = ("ch01.perceptron", "ch01.tlu_network", "ch01.max_hidden_width", "ch01.translate")


def _output(text):
    return new_output("stream", name="stdout", text=text)


def exercise_cells(label, title, solution, check):
    """The five cells of one exercise, with outputs as an executed notebook has them."""
    return [
        new_markdown_cell(f"```{{exercise}}{' ' + title if title else ''}\n:label: {label}\n\n"
                          f"Write the function.\n```"),
        new_markdown_cell(f"```{{solution-start}} {label}\n:class: dropdown\n```"),
        new_code_cell(solution, metadata={"tags": ["solution"]}, execution_count=3,
                      outputs=[_output("solution output\n")]),
        new_markdown_cell("```{solution-end}\n```"),
        new_code_cell(check, execution_count=4, outputs=[_output("✓ correct\n")]),
    ]


def small_notebook():
    return new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=[
        new_markdown_cell("# Chapter 1: Exercises only"),
        new_code_cell("import numpy as np\nfrom cnnbook.exercises import check\n"
                      "rng = np.random.default_rng(0)", execution_count=1),
        new_code_cell("print(np.arange(3))", execution_count=2, outputs=[_output("[0 1 2]\n")]),
        *exercise_cells("ex-01-perceptron", "The perceptron rule", PERCEPTRON,
                        'check("ch01.perceptron", perceptron)'),
        *exercise_cells("ex-01-network", "A network of TLUs", NETWORK,
                        'check("ch01.tlu_network", tlu_network)'),
        *exercise_cells("ex-01-width", "", WIDTH, 'check("ch01.max_hidden_width", max_hidden_width)'),
        *exercise_cells("ex-01-translate", "Shifts", TRANSLATE, 'check("ch01.translate", translate)'),
    ])


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """(solution notebook, student notebook): written by ``python -m cnnbook.course.student``."""
    root = tmp_path_factory.mktemp("book")
    (root / "chapters").mkdir()
    source = root / "chapters" / "01_small.ipynb"
    nbformat.write(small_notebook(), source)
    (root / "chapters" / "notes.txt").write_text("a file a chapter may read")
    assert student_main([str(root / "chapters"), str(root / "student")]) == 0
    return source, root / "student" / "01_small.ipynb"


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _grade(notebooks, tmp_path):
    """Grade with the command; (the run, its JSON details)."""
    report = tmp_path / "grade.json"
    run = subprocess.run([sys.executable, "-m", "cnnbook.course.grade", "--json", str(report),
                          *map(str, notebooks)], capture_output=True, text=True, timeout=3600)
    return run, json.loads(report.read_text())


def _statuses(grade):
    """(exercise, status) of each exercise row of a NotebookGrade (or its JSON)."""
    rows = grade.rows if hasattr(grade, "rows") else [type("R", (), r) for r in grade["rows"]]
    return [(r.exercise, r.status) for r in rows if r.exercise != "(notebook)"]


def _notebook_row(grade):
    rows = grade.rows if hasattr(grade, "rows") else [type("R", (), r) for r in grade["rows"]]
    return next((r.status, r.message) for r in rows if r.exercise == "(notebook)")


# -- conversion -------------------------------------------------------------------------
def test_solutions_become_stubs(books):
    source, student = books
    solutions = [c for c in _code(nbformat.read(student, 4)) if "solution" in c.metadata.get("tags", [])]
    assert [c.source for c in solutions] == [
        'def perceptron(X, t, epochs):\n    """Rosenblatt\'s rule with labels 0 and 1."""\n'
        '    raise NotImplementedError("Exercise 1.1: The perceptron rule")\n',
        'def tlu_network(x, weights, biases):\n'
        '    raise NotImplementedError("Exercise 1.2: A network of TLUs")\n',
        'def max_hidden_width(n_in, n_out, budget):\n    per_unit = n_in + n_out + 1\n'
        '    if budget < n_out + per_unit:\n'
        '        raise NotImplementedError("Exercise 1.3: ch01.max_hidden_width")\n'
        '    return (budget - n_out) // per_unit\n',
        'def translate(images, dx, dy):\n'
        '    raise NotImplementedError("Exercise 1.4: Shifts")\n',
    ]
    for cell in solutions:
        assert BEGIN not in cell.source and END not in cell.source


def test_outputs_of_exercise_cells_cleared_everything_else_kept(books):
    source, student = books
    before, after = nbformat.read(source, 4), nbformat.read(student, 4)
    assert len(before.cells) == len(after.cells)
    for old, new in zip(before.cells, after.cells):
        is_solution = "solution" in old.metadata.get("tags", [])
        is_check = old.cell_type == "code" and CHECK_CALL.search(old.source)
        if is_solution or is_check:
            assert new.outputs == [] and new.execution_count is None
            if is_check:
                assert new.source == old.source
        else:
            assert new == old
    assert (student.parent / "notes.txt").read_text() == "a file a chapter may read"


def test_in_place_conversion_needs_the_flag(tmp_path, capsys):
    nbformat.write(small_notebook(), tmp_path / "01_small.ipynb")
    before = (tmp_path / "01_small.ipynb").read_text()
    assert student_main([str(tmp_path), str(tmp_path)]) == 1
    assert "--in-place" in capsys.readouterr().err
    assert (tmp_path / "01_small.ipynb").read_text() == before
    assert student_main([str(tmp_path / "01_small.ipynb"), str(tmp_path)]) == 1
    assert student_main(["--in-place", str(tmp_path), str(tmp_path)]) == 0
    text = (tmp_path / "01_small.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and text.count("raise NotImplementedError") == 4


def test_markers_outside_a_tagged_cell_are_an_error(tmp_path, capsys):
    nb = small_notebook()
    nb.cells[5].metadata["tags"] = []  # the solution of perceptron, untagged: it would leak
    nbformat.write(nb, tmp_path / "01_leak.ipynb")
    assert student_main([str(tmp_path), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "01_leak.ipynb: cell 6" in err and "not a code cell tagged 'solution'" in err
    assert not (tmp_path / "out").exists()
    nb = small_notebook()
    nb.cells.append(new_markdown_cell(f"{BEGIN}\nthe answer\n{END}"))
    nbformat.write(nb, tmp_path / "01_leak.ipynb")
    assert student_main([str(tmp_path), str(tmp_path / "out")]) == 1


def test_the_chapter_is_recorded_and_solutions_can_be_kept(books, tmp_path):
    source, student = books
    assert nbformat.read(student, 4).metadata["cnnbook"] == {"chapter": "ch01", "version": "exercises"}
    assert student_main(["--keep-solutions", str(source), str(tmp_path)]) == 0
    kept = nbformat.read(tmp_path / source.name, 4)
    assert kept.metadata["cnnbook"]["version"] == "solutions"
    code = [c for c in _code(kept) if "solution" in c.metadata.get("tags", [])]
    assert code[1].source == ("def tlu_network(x, weights, biases):\n    for W, b in zip(weights, biases):\n"
                              "        x = (x @ W.T + b >= 0).astype(float)\n    return x\n")
    assert all(BEGIN not in c.source and END not in c.source for c in code)


def test_missing_markers_are_an_error(tmp_path, capsys):
    nb = small_notebook()
    nb.cells[5].source = "def perceptron(X, t, epochs):\n    return X\n"  # tagged solution, no markers
    nbformat.write(nb, tmp_path / "01_bad.ipynb")
    assert student_main([str(tmp_path), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "01_bad.ipynb: cell 6" in err and "tagged 'solution'" in err and BEGIN in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source, problem", [
    (f"    {BEGIN}\n    x = 1\n", "no matching"),
    (f"    x = 1\n    {END}\n", "without"),
    (f"{BEGIN}\n{BEGIN}\n{END}\n", "again"),
])
def test_unbalanced_markers(source, problem):
    with pytest.raises(ValueError, match=problem):
        strip_solution(source, "raise NotImplementedError")


# -- execution and grading --------------------------------------------------------------
def test_student_version_runs_and_every_exercise_is_not_done(books):
    _, student = books
    grade = grade_notebook(student)
    assert grade.errors == [] and not grade.run
    assert _notebook_row(grade) == ("ran", "01_small.ipynb: every cell ran without an error")
    assert _statuses(grade) == [(n, "not attempted") for n in NAMES]
    assert all("not done yet" in r.message for r in grade.rows if r.exercise != "(notebook)")


def test_grading_the_student_version_fails(books, tmp_path):
    _, student = books
    run, grades = _grade([student], tmp_path)
    assert run.returncode == 1
    assert _statuses(grades[0]) == [(n, "not attempted") for n in NAMES]


def test_grading_the_solutions_passes(books, tmp_path):
    source, _ = books
    run, grades = _grade([source], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert _statuses(grades[0]) == [(n, "passed") for n in NAMES]
    assert grades[0]["student"] == "chapters"


def test_grading_reports_errors_outside_the_checks(tmp_path):
    nb = small_notebook()
    nb.cells.append(new_code_cell("1 / 0"))
    nb.cells.append(new_code_cell('check("ch01.perceptron", lambda X, t, epochs: None)'))  # ignored
    path = tmp_path / "01_errors.ipynb"
    nbformat.write(nb, path)
    run, grades = _grade([path], tmp_path)
    assert run.returncode == 1
    assert len(grades[0]["errors"]) == 1 and "ZeroDivisionError" in grades[0]["errors"][0]
    assert _notebook_row(grades[0])[0] == "errors"
    assert [status for _, status in _statuses(grades[0])] == ["passed"] * 4


def test_execute_in_place_with_the_venv_kernel(tmp_path):
    path = tmp_path / "run.ipynb"
    nbformat.write(new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=[
        new_code_cell("import os, sys\nprint(sys.executable)\nprint(os.getcwd())\n"
                      "print(os.environ['CNNBOOK_PROGRESS'])")]), path)
    run = subprocess.run([sys.executable, "-m", "cnnbook.course.execute", str(path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "run.ipynb: executed in" in run.stdout
    lines = nbformat.read(path, 4).cells[0].outputs[0].text.splitlines()
    assert Path(lines[0]).resolve() == Path(sys.executable).resolve()
    assert Path(lines[1]).resolve() == tmp_path.resolve()
    assert lines[2] == "text"


def test_execute_stops_at_the_first_error_and_keeps_the_file(tmp_path):
    path = tmp_path / "broken.ipynb"
    nbformat.write(new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=[
        new_code_cell("raise RuntimeError('deliberate')"), new_code_cell("print('never')")]), path)
    before = path.read_text()
    run = subprocess.run([sys.executable, "-m", "cnnbook.course.execute", str(path)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1
    assert "broken.ipynb: execution stopped" in run.stderr and "deliberate" in run.stderr
    assert path.read_text() == before


# -- the real chapters ---------------------------------------------------------------------
@pytest.mark.parametrize("chapter", CHAPTERS or [None], ids=[p.stem for p in CHAPTERS] or ["none-yet"])
def test_real_chapter_student_version(chapter, tmp_path):
    """Converted, the chapter runs without an error and every exercise of its catalogue
    is graded "not attempted" (not done yet)."""
    if chapter is None:
        return  # no chapter written yet: nothing to convert
    student = tmp_path / chapter.name
    assert student_main([str(chapter), str(tmp_path)]) == 0
    names = [n for c in _code(nbformat.read(chapter, 4)) for n in CHECK_CALL.findall(c.source)]

    grade = grade_notebook(student)
    assert grade.errors == [] and not grade.run, (grade.errors, grade.run)
    assert sorted(_statuses(grade)) == sorted((n, "not attempted") for n in names)
    assert all("not done yet" in r.message for r in grade.rows if r.exercise != "(notebook)")
