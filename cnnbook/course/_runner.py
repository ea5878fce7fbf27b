"""The process where a reader's solutions run, apart from the grader that judges them.

``python -c "...; from cnnbook.course._runner import main; main([JOB, RESULTS])"`` (see
``cnnbook.course.grade``) reads JOB, a JSON list of exercises, each with the name of the
reader's function and the cells to run (``cnnbook.course._solutions.Attempt.cells``).
For each exercise, in a fresh namespace and within the exercise's time limit: the
imports and definitions of the cells before its solution, then the solution cell, then
the reader's function on every case (``cnnbook.exercises.call``: results as plain data).
It appends one JSON line per exercise to RESULTS:

    {"name": "ch02.bias_grad", "setup": null, "missing": false,
     "outcomes": [Outcome.to_json(), ...], "printed": "It printed 3 lines: ..."}

``setup`` describes an exception of the solution cell ("timeout" when it ran out of
time), ``missing`` says the cells did not define the function. Nothing here decides a
score: the grader compares these outcomes with the references in its own process.
"""
from __future__ import annotations

import ast
import builtins
import json
import linecache
import sys
from dataclasses import asdict

from ..exercises import get
from ..exercises._checker import call, describe_exception
from ..exercises._limits import Printed, TimeLimit, TookTooLong, capture
from ._solutions import statements

__all__ = ["main", "run_exercise"]


def main(argv=None) -> int:
    job_path, results_path = argv if argv is not None else sys.argv[1:]
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    # The catalogue is loaded and every case drawn before any reader's code runs.
    work = [(get(spec["name"]), spec) for spec in job]
    cases = {ex.name: ex.all_cases() for ex, _ in work}
    with open(results_path, "a", encoding="utf-8") as out:
        for ex, spec in work:
            out.write(json.dumps(run_exercise(ex, spec, cases[ex.name])) + "\n")
            out.flush()
    return 0


def run_exercise(ex, spec: dict, cases) -> dict:
    """Run the cells of one attempt, then the reader's function on every case."""
    result = {"name": ex.name, "setup": None, "missing": False, "outcomes": [], "printed": ""}
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    setup, limit, printed = TimeLimit(ex.time_limit), TimeLimit(ex.time_limit), Printed()
    for number, source, mode in spec["cells"]:
        problem = _run_cell(number, source, mode, spec["function"], namespace, setup, printed)
        if problem is not None and mode == "all":
            result["setup"], result["printed"] = problem, printed.summary()
            return result
    fn = namespace.get(spec["function"])
    if fn is None or not callable(fn):
        result["missing"], result["printed"] = True, printed.summary()
        return result
    for c in cases:
        outcome = call(fn, c, limit, printed, ex.arg_names(len(c.args)))
        result["outcomes"].append(outcome.to_json())
        if outcome.raised is not None or outcome.timed_out:
            break
    result["printed"] = printed.summary()
    return result


def _run_cell(number, source, mode, function, namespace, setup, printed):
    """Run the chosen statements of one cell; what went wrong (a dict or "timeout"), or None."""
    filename = f"<cell {number}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        nodes = statements(source, mode, function)
    except SyntaxError as exc:
        where = f"in cell {number}, line {exc.lineno}: {(exc.text or '').strip()}"
        return {"kind": "builtins.SyntaxError", "name": "SyntaxError", "message": str(exc.msg),
                "where": where, "not_implemented": False}
    for node in nodes:
        code = compile(ast.Module(body=[node], type_ignores=[]), filename, "exec")
        try:
            with setup, capture(printed):
                exec(code, namespace)
        except TookTooLong:
            return "timeout"
        except BaseException as exc:  # noqa: BLE001 - the reader's code may raise anything
            if setup.exceeded:
                return "timeout"
            if mode == "all":
                return asdict(describe_exception(exc))
            # an import or a definition before the solution failed: go on without it
    return "timeout" if setup.exceeded else None
