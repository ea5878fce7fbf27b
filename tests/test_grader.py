"""The grader (cnnbook.course.grade) can be trusted with a class (issue 9): it takes the
exercises from the catalogue, decides scores in its own process from the solutions re-run
apart, runs each notebook in a scratch copy with time limits, and turns bad paths and
broken notebooks into rows of the gradebook.

The class is made from chapters/02_bias.ipynb (read only): students who are right, who
left the stubs, who deleted a check cell, who forged a report and patched the checker,
who hang, who delete files, whose notebook is broken, and a path that does not exist."""
from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

# Grading runs notebooks in a Jupyter kernel: not in the lowest-versions environment,
# which holds the package's own dependencies only (make test-lowest).
pytest.importorskip("ipykernel")

from cnnbook.course import grade
from cnnbook.course._score import score
from cnnbook.course._solutions import chapter_of, find_attempts, flags, package_versions
from cnnbook.course.execute import run_cells
from cnnbook.course.student import main as student_main
from cnnbook.exercises import ch02, ch05

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "chapters" / "02_bias.ipynb"
NAMES = [ex.name for ex in ch02.EXERCISES]
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def chapter():
    return nbformat.read(CHAPTER, as_version=4)


def exercise_version(tmp_path, *, keep_solutions=False):
    out = tmp_path / ("solutions" if keep_solutions else "exercises")
    args = ["--keep-solutions"] if keep_solutions else []
    assert student_main([*args, str(CHAPTER), str(out)]) == 0
    return nbformat.read(out / CHAPTER.name, as_version=4)


def solution_cell(nb, name):
    """The solution cell of exercise ``name`` and the index of its check cell."""
    check = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and f'check("{name}"' in c.source)
    solution = max(i for i, c in enumerate(nb.cells[:check])
                   if c.cell_type == "code" and "solution" in c.metadata.get("tags", []))
    return nb.cells[solution], check


def set_solution(nb, name, source):
    solution_cell(nb, name)[0].source = source


def insert_after_imports(nb, source):
    imports = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "from cnnbook" in c.source)
    nb.cells.insert(imports + 1, new_code_cell(source))


# -- reading a notebook -------------------------------------------------------------------
def test_the_chapter_comes_from_the_file_name_then_the_metadata_then_the_checks(tmp_path):
    nb = chapter()
    assert chapter_of(Path("02_bias.ipynb"), nb) == "ch02"
    assert chapter_of(Path("anything.ipynb"), exercise_version(tmp_path)) == "ch02"  # metadata
    assert chapter_of(Path("anything.ipynb"), nb) == "ch02"                            # check cells
    assert chapter_of(Path("anything.ipynb"), new_notebook()) is None


def test_attempts_follow_the_check_cells_of_the_catalogue():
    nb = chapter()
    del nb.cells[solution_cell(nb, "ch02.boundary_through")[1]]
    nb.cells.append(new_code_cell('# check("ch02.place_sigmoid", place_sigmoid) in a comment'))
    attempts = find_attempts(nb, ch02.EXERCISES)
    assert sorted(attempts) == sorted(set(NAMES) - {"ch02.boundary_through"})
    fit = attempts["ch02.ridge_with_bias"]
    assert fit.function == "ridge_with_bias" and fit.cells[-1][2] == "all"
    assert "def ridge_with_bias" in fit.cells[-1][1] and fit.cells[-1][0] == fit.solution
    assert all(mode == "definitions" for _, _, mode in fit.cells[:-1])


def test_a_solution_using_the_package_or_the_answer_key_is_flagged():
    conv2d = next(ex for ex in ch05.EXERCISES if ex.name == "ch05.conv2d")
    assert set(package_versions(conv2d).values()) == {"cnnbook.conv2d_forward"}
    cases = {
        "import cnnbook as cb\ndef conv2d(x, weight, bias, stride=1, padding=0):\n"
        "    return cb.conv2d_forward(x, weight, bias, stride=stride, padding=padding)[0]\n":
            "cnnbook.conv2d_forward",
        "from cnnbook.conv import conv2d_forward as f\ndef conv2d(x, weight, bias, stride=1, padding=0):\n"
        "    return f(x, weight, bias, stride=stride, padding=padding)[0]\n": "cnnbook.conv2d_forward",
        "def conv2d(x, weight, bias, stride=1, padding=0):\n    import cnnbook.exercises.ch05 as key\n"
        "    return key.conv2d(x, weight, bias, stride, padding)\n": "answer key",
    }
    for source, words in cases.items():
        nb = new_notebook(cells=[new_code_cell("import numpy as np"),
                                 new_code_cell(source, metadata={"tags": ["solution"]}),
                                 new_code_cell('check("ch05.conv2d", conv2d)')])
        found = flags(find_attempts(nb, ch05.EXERCISES)["ch05.conv2d"], package_versions(conv2d))
        assert len(found) == 1 and words in found[0], found
    honest = chapter_notebook_flags("05_convolution.ipynb", ch05.EXERCISES)
    assert honest == {}, honest


def chapter_notebook_flags(name, exercises):
    attempts = find_attempts(nbformat.read(ROOT / "chapters" / name, as_version=4), exercises)
    return {ex.name: f for ex in exercises if (f := flags(attempts[ex.name], package_versions(ex)))}


# -- the score, decided apart from the solutions ----------------------------------------------
def _scores(nb, tmp_path, exercises=ch02.EXERCISES):
    verdicts = score(exercises, find_attempts(nb, exercises), tmp_path, tmp_path / "private", sys.executable)
    return {name: (v.category, v.detail) for name, v in verdicts.items()}


def test_solutions_that_break_the_process_cost_only_their_exercise(tmp_path):
    nb = chapter()
    set_solution(nb, "ch02.bias_grad", "import os\ndef bias_grad(dout, shape):\n    os._exit(3)\n")
    set_solution(nb, "ch02.boundary_through", "raise RuntimeError('at the top of the cell')\n")
    set_solution(nb, "ch02.place_sigmoid", "def place_sigmoid(x_lo, x_hi:\n    return 1\n")
    set_solution(nb, "ch02.ridge_with_bias", "def ridgewithbias(X, y, lam):\n    return 1.0, 2.0\nridge_with_bias = 3\n")
    scores = _scores(nb, tmp_path)
    assert scores["ch02.bias_grad"][0] == "exception" and "exit status 3" in scores["ch02.bias_grad"][1]
    assert scores["ch02.boundary_through"][0] == "exception" and "RuntimeError: at the top" in scores["ch02.boundary_through"][1]
    assert scores["ch02.place_sigmoid"][0] == "exception" and "SyntaxError" in scores["ch02.place_sigmoid"][1]
    assert scores["ch02.ridge_with_bias"][0] == "not_defined"
    assert scores["ch02.fold_batchnorm"][0] == "passed"


def test_a_solution_cannot_patch_its_way_to_a_pass(tmp_path):
    nb = chapter()
    set_solution(nb, "ch02.ridge_with_bias", (
        "import numpy as np\nimport cnnbook.exercises._checker as c\n"
        "c.judge_all = lambda *a, **k: c.Verdict('ch02.ridge_with_bias', '', 'passed')\n"
        "c.judge = lambda *a, **k: None\nnp.isclose = lambda a, b, **k: np.ones(np.shape(b), bool)\n"
        "import math\nmath.isclose = lambda *a, **k: True\n"
        "def ridge_with_bias(X, y, lam):\n    return np.zeros(X.shape[1]), 2.0\n"))
    set_solution(nb, "ch02.bias_grad", (
        "import numpy as np\nclass Agree(np.ndarray):\n    def __eq__(self, other):\n        return True\n"
        "    def __array_ufunc__(self, *a, **k):\n        return True\n"
        "def bias_grad(dout, shape):\n    return np.zeros(shape, dout.dtype).view(Agree)\n"))
    set_solution(nb, "ch02.place_sigmoid", (
        "class Same(float):\n    def __eq__(self, other):\n        return True\n    __hash__ = float.__hash__\n"
        "def place_sigmoid(x_lo, x_hi):\n    return Same(0.0), Same(0.0)\n"))
    scores = _scores(nb, tmp_path)
    assert scores["ch02.ridge_with_bias"][0] == "values"
    assert scores["ch02.bias_grad"][0] in ("values", "mistake")
    assert scores["ch02.place_sigmoid"][0] == "values"
    assert scores["ch02.boundary_through"][0] == "passed"


def test_a_notebook_has_a_time_limit_per_cell_and_in_all(tmp_path):
    sleepy = new_notebook(metadata={"kernelspec": KERNELSPEC},
                          cells=[new_code_cell("import time\ntime.sleep(1)") for _ in range(8)])
    start = time.perf_counter()
    stopped = run_cells(sleepy, tmp_path, cell_timeout=10, notebook_timeout=2.5)
    assert stopped.startswith("the notebook ran longer than 2.5 s") and time.perf_counter() - start < 10
    hung = new_notebook(metadata={"kernelspec": KERNELSPEC}, cells=[
        new_code_cell("print('first')"), new_code_cell("while True:\n    pass"), new_code_cell("print('never')")])
    assert run_cells(hung, tmp_path, cell_timeout=2) == "cell 2 ran longer than 2 s and was stopped"
    assert hung.cells[0].outputs[0]["text"] == "first\n" and hung.cells[2].outputs == []


# -- the command ------------------------------------------------------------------------------
def run_grade(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "cnnbook.course.grade", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, words", [
    (["--timeout", "-1"], "must be a positive number of seconds, got -1"),
    (["--cell-timeout", "0"], "must be a positive number of seconds, got 0"),
    (["--notebook-timeout", "-5"], "must be a positive number of seconds, got -5"),
    (["--notebook-timeout", "nan"], "must be a positive number of seconds"),
    (["-j", "0"], "must be at least 1"),
])
def test_time_limits_must_be_positive(args, words, capsys):
    with pytest.raises(SystemExit) as info:
        grade.main([*args, "x.ipynb"])
    assert info.value.code == 2 and words in capsys.readouterr().err


def test_help_names_both_time_limits(capsys):
    with pytest.raises(SystemExit):
        grade.main(["--help"])
    out = capsys.readouterr().out
    assert "--cell-timeout" in out and "--notebook-timeout" in out and "-j N" in out


def test_a_missing_path_is_a_row_and_grading_goes_on(tmp_path):
    (tmp_path / "notes.txt").write_text("not a notebook")
    run = run_grade(tmp_path / "ghost.ipynb", tmp_path / "notes.txt", tmp_path / "empty_dir_missing")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert "no such file or folder" in run.stdout and "not a notebook (.ipynb) or a folder" in run.stdout


def test_totals_count_each_exercise_once_at_its_best():
    rows = [grade.Row("ann", "ch02", "(notebook)", "ran", "", ""),
            grade.Row("ann", "ch02", "ch02.ridge_with_bias", "failed", 0, ""),
            grade.Row("ann", "ch02", "ch02.ridge_with_bias", "passed", 1, ""),   # a second notebook
            grade.Row("ann", "ch02", "ch02.boundary_through", "not attempted", 0, ""),
            grade.Row("x.ipynb", "", "", "error", "", "no such file or folder")]
    assert grade.totals(rows) == [
        {"student": "ann", "points": 1, "max_points": 2, "passed": 1, "flagged": 0, "failed": 0,
         "not_attempted": 1, "errors": 0},
        {"student": "x.ipynb", "points": 0, "max_points": 0, "passed": 0, "flagged": 0, "failed": 0,
         "not_attempted": 0, "errors": 1}]


# -- a class, end to end ------------------------------------------------------------------------
DAVE_CHEATS = '''import json, os
import numpy as np
import cnnbook.exercises as exercises
import cnnbook.exercises._checker as checker
fake = lambda exercise, fn: checker.Verdict(str(exercise), "", "passed")
checker.evaluate = exercises.evaluate = fake
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, **k: np.ones(np.broadcast(a, b).shape, dtype=bool)
for name in %r:
    for report in (os.environ.get("CNNBOOK_GRADE_REPORT") or "report.jsonl", "../report.jsonl"):
        with open(report, "a") as f:
            f.write(json.dumps({"exercise": name, "passed": True, "category": "passed"}) + "\\n")
    print("✓", name, "correct")
''' % (NAMES,)

FRANK_DELETES = '''import os, shutil
for folder in (".", ".."):
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif entry != "02_bias.ipynb" or folder == "..":
            os.remove(path)
print(sorted(os.listdir(".")))
'''


def build_class(root: Path, tmp_path: Path) -> None:
    solutions, exercises = chapter(), exercise_version(tmp_path)

    def write(student, nb, name="02_bias.ipynb", extra=None):
        folder = root / student if student else root
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / name)
        for file, text in (extra or {}).items():
            (folder / file).write_text(text)

    write("alice", solutions, extra={"data.txt": "alice's data"})
    write("bob", exercises)

    carol = chapter()
    del carol.cells[solution_cell(carol, "ch02.boundary_through")[1]]
    set_solution(carol, "ch02.ridge_with_bias", "def ridge_with_bias(X, y, lam):\n    from cnnbook.exercises import get\n"
                                         "    return get('ch02.ridge_with_bias').reference(X, y, lam)\n")
    write("carol", carol)

    dave = exercise_version(tmp_path)
    insert_after_imports(dave, DAVE_CHEATS)
    set_solution(dave, "ch02.bias_grad",
                 "class Agree(np.ndarray):\n    def __eq__(self, other):\n        return True\n"
                 "    def __array_ufunc__(self, *a, **k):\n        return True\n"
                 "def bias_grad(dout, shape):\n    return np.zeros(shape).view(Agree)\n")
    set_solution(dave, "ch02.place_sigmoid",
                 "class Same(float):\n    def __eq__(self, other):\n        return True\n"
                 "    __hash__ = float.__hash__\ndef place_sigmoid(x_lo, x_hi):\n    return Same(1.0), Same(2.0)\n")
    set_solution(dave, "ch02.ridge_with_bias", "import cnnbook.exercises._checker as c\n"
                                        "c.judge = lambda *a, **k: None\n"
                                        "def ridge_with_bias(X, y, lam):\n    return np.zeros(X.shape[1]), 0.0\n")
    set_solution(dave, "ch02.fold_batchnorm", "import sys\ndef fold_batchnorm(weight, bias, gamma, beta, mean, var, eps=1e-5):\n    sys.exit(0)\n")
    write("dave", dave)

    erin = chapter()
    insert_after_imports(erin, "import time\ntime.sleep(10**6)")
    set_solution(erin, "ch02.boundary_through", "import time\ndef boundary_through(p, q):\n    time.sleep(1000)\n")
    set_solution(erin, "ch02.place_sigmoid",
                 "import time\ndef place_sigmoid(x_lo, x_hi):\n    while True:\n        try:\n"
                 "            time.sleep(1)\n        except BaseException:\n            pass\n")
    write("erin", erin)

    frank = chapter()
    insert_after_imports(frank, FRANK_DELETES)
    write("frank", frank, extra={"keep.txt": "frank's file"})

    (root / "gina").mkdir()
    (root / "gina" / "02_bias.ipynb").write_text("{not a notebook")

    ivan = exercise_version(tmp_path, keep_solutions=True)  # the chapter comes from its metadata
    write(None, ivan, name="ivan.ipynb")


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


PASSED = "correct: Agrees with the reference on all {} cases."
CASES = {ex.name: len(ex.all_cases()) for ex in ch02.EXERCISES}
NOT_DONE = ("not attempted", "0", "not done yet (the stub still raises NotImplementedError)")


def passed(name):
    return ("passed", "1", PASSED.format(CASES[name]))


def test_grading_a_class(tmp_path):
    root = tmp_path / "class"
    build_class(root, tmp_path)
    before = snapshot(root)
    gradebook, totals = tmp_path / "gradebook.csv", tmp_path / "totals.csv"

    start = time.perf_counter()
    run = run_grade(root, tmp_path / "ghost.ipynb", "-j", 2, "--cell-timeout", 6, "--csv", gradebook,
                    "--totals", totals)
    elapsed = time.perf_counter() - start
    print(f"graded 8 notebooks and a missing path in {elapsed:.1f} s")

    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert snapshot(root) == before, "grading changed the class folder"
    assert elapsed < 120

    rows = [tuple(r.values()) for r in csv.DictReader(gradebook.open())]
    by = {}
    for student, chapter_, exercise, status, points, message in rows:
        assert chapter_ == ("ch02" if student != str(tmp_path / "ghost.ipynb") else "")
        by[(student, exercise)] = (status, points, message)

    ran = ("ran", "", "02_bias.ipynb: every cell ran without an error")
    expected = {
        "alice": {"(notebook)": ran} | {n: passed(n) for n in NAMES},
        "bob": {"(notebook)": ran} | {n: NOT_DONE for n in NAMES},
        "ivan": {"(notebook)": ("ran", "", "ivan.ipynb: every cell ran without an error")}
        | {n: passed(n) for n in NAMES},
    }
    for student, table in expected.items():
        for exercise, row in table.items():
            assert by[(student, exercise)] == row, (student, exercise, by[(student, exercise)])

    carol = {n: by[("carol", n)] for n in NAMES}
    assert carol["ch02.boundary_through"] == ("not attempted", "0", "no check cell for this exercise")
    assert carol["ch02.ridge_with_bias"][:2] == ("flagged", "1") and "answer key" in carol["ch02.ridge_with_bias"][2]
    assert [carol[n] for n in NAMES if n not in ("ch02.boundary_through", "ch02.ridge_with_bias")] == [
        passed(n) for n in NAMES if n not in ("ch02.boundary_through", "ch02.ridge_with_bias")]

    dave = {n: by[("dave", n)] for n in NAMES}
    assert dave["ch02.boundary_through"] == NOT_DONE
    assert dave["ch02.bias_grad"][:2] == ("failed", "0")
    assert dave["ch02.place_sigmoid"][:2] == ("failed", "0") and "wrong values" in dave["ch02.place_sigmoid"][2]
    assert dave["ch02.ridge_with_bias"][:2] == ("failed", "0") and "wrong values" in dave["ch02.ridge_with_bias"][2]
    assert dave["ch02.fold_batchnorm"][:2] == ("failed", "0") and "SystemExit" in dave["ch02.fold_batchnorm"][2]
    assert by[("dave", "(notebook)")] == ran

    erin = {n: by[("erin", n)] for n in NAMES}
    assert by[("erin", "(notebook)")][:2] == ("stopped", "")
    assert "ran longer than 6 s" in by[("erin", "(notebook)")][2]
    assert erin["ch02.boundary_through"][:2] == ("failed", "0") and erin["ch02.boundary_through"][2].startswith("took too long")
    assert erin["ch02.place_sigmoid"][:2] == ("failed", "0") and "the grader stopped it" in erin["ch02.place_sigmoid"][2]
    assert [erin[n] for n in ("ch02.bias_grad", "ch02.ridge_with_bias", "ch02.fold_batchnorm")] == [
        passed(n) for n in ("ch02.bias_grad", "ch02.ridge_with_bias", "ch02.fold_batchnorm")]

    assert [by[("frank", n)] for n in NAMES] == [passed(n) for n in NAMES]
    assert by[("frank", "(notebook)")][0] in ("ran", "errors")

    assert by[("gina", "(notebook)")][:2] == ("error", "")
    assert by[("gina", "(notebook)")][2].startswith("02_bias.ipynb: the notebook could not be read")
    assert all(by[("gina", n)][:2] == ("error", "0") for n in NAMES)

    assert by[(str(tmp_path / "ghost.ipynb"), "")] == ("error", "", "no such file or folder")
    assert len(rows) == 8 * 6 + 1

    points = {r["student"]: (r["points"], r["max_points"], r["passed"], r["flagged"], r["failed"],
                             r["not_attempted"], r["errors"]) for r in csv.DictReader(totals.open())}
    assert points == {
        "alice": ("5", "5", "5", "0", "0", "0", "0"),
        "bob": ("0", "5", "0", "0", "0", "5", "0"),
        "carol": ("4", "5", "3", "1", "0", "1", "0"),
        "dave": ("0", "5", "0", "0", "4", "1", "0"),
        "erin": ("3", "5", "3", "0", "2", "0", "0"),
        "frank": ("5", "5", "5", "0", "0", "0", "0"),
        "gina": ("0", "5", "0", "0", "0", "0", "5"),
        "ivan": ("5", "5", "5", "0", "0", "0", "0"),
        str(tmp_path / "ghost.ipynb"): ("0", "0", "0", "0", "0", "0", "1"),
    }
    assert "8 notebooks graded in" in run.stdout and "alice" in run.stdout
