"""Learner progress: each passed check is recorded in a file of the reader's data folder
(here a temporary one), shown per chapter by progress() and cnnbook-progress, and reset."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import cnnbook
from cnnbook.exercises import check, evaluate, progress
from cnnbook.exercises import record as progress_module
from cnnbook.exercises._spec import get


@pytest.fixture
def record(tmp_path, monkeypatch):
    path = tmp_path / "data" / "progress.json"
    monkeypatch.setenv("CNNBOOK_PROGRESS_FILE", str(path))
    monkeypatch.delenv("CNNBOOK_RECORD", raising=False)
    monkeypatch.delenv("CNNBOOK_STRICT", raising=False)
    return path


def right(name):
    return get(name).reference


def wrong(*args, **kwargs):
    return np.zeros(3)


def test_a_passed_check_is_recorded_and_a_failed_one_is_not(record, capsys):
    check("ch01.translate", right("ch01.translate"))
    check("ch02.bias_grad", wrong)
    data = json.loads(record.read_text())
    assert data["version"] == 1
    assert list(data["passed"]) == ["ch01.translate"]
    assert data["passed"]["ch01.translate"].endswith("Z")
    assert "correct" in capsys.readouterr().out


def test_progress_shows_passed_over_total_and_the_next_exercise(record, capsys):
    check("ch01.perceptron", right("ch01.perceptron"))
    capsys.readouterr()
    progress()
    out = capsys.readouterr().out
    n1 = len(cnnbook.exercises.ch01.EXERCISES)
    line = next(line for line in out.splitlines() if "1. Neurons" in line)
    assert f"1 / {n1}" in line and "ch01.tlu_network" in line   # the next one, in order
    assert str(record) in out
    total = sum(len(exercises) for _, exercises in progress_module._chapters())
    assert "all chapters" in out and f"1 / {total}" in out


def test_a_chapter_with_everything_passed_says_so(record, capsys):
    for ex in cnnbook.exercises.ch03.EXERCISES:
        progress_module.record_pass(ex.name)
    progress()
    line = next(line for line in capsys.readouterr().out.splitlines() if "3. Activation" in line)
    n = len(cnnbook.exercises.ch03.EXERCISES)
    assert f"{n} / {n}" in line and "all done" in line


def test_reset_forgets_everything(record, capsys):
    progress_module.record_pass("ch01.translate")
    assert record.is_file()
    progress(reset=True)
    out = capsys.readouterr().out
    assert "Progress reset" in out and not record.exists()
    assert progress_module.passed_exercises() == {}
    progress(reset=True)                                   # nothing to remove: no error
    with pytest.raises(TypeError, match="reset must be True or False"):
        progress(reset="yes")


@pytest.mark.parametrize("env", [{"CNNBOOK_STRICT": "1"}, {"CNNBOOK_RECORD": "off"}])
def test_nothing_is_recorded_in_strict_mode_or_when_off(record, monkeypatch, env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    check("ch01.translate", right("ch01.translate"))
    assert not record.exists()


def test_an_unwritable_or_broken_record_never_breaks_a_check(record, monkeypatch, capsys):
    record.parent.mkdir(parents=True)
    record.write_text("{not json")
    check("ch01.translate", right("ch01.translate"))          # a broken file is replaced
    assert "ch01.translate" in json.loads(record.read_text())["passed"]
    monkeypatch.setenv("CNNBOOK_PROGRESS_FILE", str(record / "inside-a-file" / "p.json"))
    check("ch01.translate", right("ch01.translate"))          # cannot be written: still a verdict
    assert "correct" in capsys.readouterr().out


def test_the_first_pass_time_is_kept(record):
    progress_module.record_pass("ch01.translate")
    first = progress_module.passed_exercises()["ch01.translate"]
    data = json.loads(record.read_text())
    data["passed"]["ch01.translate"] = "2020-01-01T00:00:00Z"
    record.write_text(json.dumps(data))
    progress_module.record_pass("ch01.translate")
    assert progress_module.passed_exercises()["ch01.translate"] == "2020-01-01T00:00:00Z" != first


def test_the_default_file_is_in_the_users_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNBOOK_PROGRESS_FILE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert progress_module.progress_file() == tmp_path / "cnnbook" / "progress.json"
    assert "cnnbook" in progress_module.progress_file().parts


def test_the_command(record):
    progress_module.record_pass("ch02.bias_grad")
    env_cmd = [sys.executable, "-m", "cnnbook.exercises.record"]
    out = subprocess.run(env_cmd, capture_output=True, text=True, check=True).stdout
    assert "2. Bias" in out and "1 / " in out
    out = subprocess.run(env_cmd + ["--reset"], capture_output=True, text=True, check=True).stdout
    assert "Progress reset" in out and not record.exists()


def test_evaluate_alone_records_nothing(record):
    assert evaluate("ch01.translate", right("ch01.translate")).passed
    assert not record.exists()


def test_every_chapter_with_exercises_has_its_title_as_in_its_notebook():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for chapter, _ in progress_module._chapters():
        notebook = next((root / "chapters").glob(f"{chapter[2:]}_*.ipynb"))
        first = json.loads(notebook.read_text())["cells"][0]["source"]
        title = "".join(first).splitlines()[0].split(": ", 1)[1]
        assert progress_module.CHAPTER_TITLES[chapter] == title, notebook.name
