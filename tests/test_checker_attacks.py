"""`check` cannot be talked into a pass (issue 9): objects that lie about equality, a
patched NumPy or checker, functions that never return, print without end, exit, or raise
exceptions that cannot be printed. Each attack meets a wrong answer that must still fail,
or a right one that must still pass."""
from __future__ import annotations

import sys
import time

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

import cnnbook.exercises
from cnnbook.exercises import Exercise, ExerciseFailed, case, check, evaluate, get
from cnnbook.exercises import _checker, _plain
from cnnbook.exercises._limits import Printed, TimeLimit

from checker_fixtures import ADD_BIAS_COLUMN, DENSE_FORWARD, MLP_PARAM_COUNT


def dense_forward(x, weight, bias):
    return x @ weight.T + bias


def dense_wrong(x, weight, bias):
    return 2 * (x @ weight.T) + bias


def mlp_param_count(sizes):
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


# -- results that lie about themselves ----------------------------------------------------
class AlwaysClose(np.ndarray):
    """An array that says it equals anything, under every comparison NumPy offers."""

    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    __ne__ = __eq__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.ones(np.broadcast(*[np.asarray(i) for i in inputs]).shape, dtype=bool)

    def __array_function__(self, func, types, args, kwargs):
        return True if func in (np.allclose, np.array_equal) else np.ones(np.shape(args[1]), dtype=bool)


class NeverDifferent(int):
    def __ne__(self, other):
        return False

    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class LyingFloat(float):
    def __eq__(self, other):
        return True

    def __sub__(self, other):
        return 0.0

    __rsub__ = __sub__
    __hash__ = float.__hash__


class FakeArray:
    """Not an array at all, but isinstance(x, np.ndarray) says it is."""
    __class__ = property(lambda self: np.ndarray)
    shape, dtype, ndim = (4, 3), np.dtype(np.float64), 2


def test_an_array_subclass_that_always_agrees_fails():
    liar = lambda x, weight, bias: np.zeros((x.shape[0], weight.shape[0])).view(AlwaysClose)
    verdict = evaluate(DENSE_FORWARD, liar)
    assert verdict.category == "values", verdict.text()
    # the right values in the same subclass pass: only the lie is ignored
    honest = lambda x, weight, bias: dense_forward(x, weight, bias).view(AlwaysClose)
    assert evaluate(DENSE_FORWARD, honest).passed


def test_an_int_whose_comparisons_always_agree_fails():
    verdict = evaluate(MLP_PARAM_COUNT, lambda sizes: NeverDifferent(mlp_param_count(sizes) + 1))
    assert verdict.category == "values", verdict.text()
    assert evaluate(MLP_PARAM_COUNT, lambda sizes: NeverDifferent(mlp_param_count(sizes))).passed


def test_a_float_whose_comparisons_always_agree_fails():
    wrong = lambda x_star, slope: (LyingFloat(1.0), LyingFloat(2.0))
    assert not evaluate("ch02.place_sigmoid", wrong).passed


def test_an_object_posing_as_an_array_fails():
    verdict = evaluate(DENSE_FORWARD, lambda x, weight, bias: FakeArray())
    assert verdict.category == "type" and "FakeArray" in verdict.detail


def test_an_object_array_fails_without_touching_its_items():
    class Bomb:
        def __eq__(self, other):
            raise RuntimeError("touched")
    verdict = evaluate(DENSE_FORWARD, lambda x, weight, bias: np.array([[Bomb()]], dtype=object))
    assert verdict.category == "type" and "dtype object" in verdict.detail


def test_list_and_tuple_subclasses_are_read_for_what_they_hold():
    class Liar(tuple):
        def __iter__(self):
            return iter([np.zeros(3), np.zeros(3)])

        def __len__(self):
            return 2
    step = get("ch04.adam_step").reference
    assert evaluate("ch04.adam_step", lambda *a: Liar(step(*a))).passed
    assert not evaluate("ch04.adam_step", lambda *a: Liar(x * 2 for x in step(*a))).passed


def test_plain_copies_without_running_the_readers_code():
    calls = []

    class Hooked(np.ndarray):
        def __array__(self, *args, **kwargs):
            calls.append("__array__")
            return np.zeros(self.shape)

        def __array_finalize__(self, obj):
            calls.append("finalize")
    data = np.arange(3.0).view(Hooked)
    calls.clear()
    copy = _plain.plain(data)
    assert type(copy) is np.ndarray and copy.tolist() == [0.0, 1.0, 2.0] and calls == []
    assert type(_plain.plain(NeverDifferent(3))) is int and _plain.plain(NeverDifferent(3)) == 3


# -- patching the checker or NumPy from the notebook -----------------------------------------
@pytest.fixture
def strict(monkeypatch):
    monkeypatch.setenv("CNNBOOK_STRICT", "1")


def _fake_pass(exercise, fn):
    return _checker.Verdict(str(exercise), "", "passed")


@pytest.mark.parametrize("target, name, replacement", [
    (_checker, "evaluate", _fake_pass),
    (cnnbook.exercises, "evaluate", _fake_pass),
    (_checker, "_compare", lambda *args, **kwargs: None),
    (_checker, "judge", lambda *args, **kwargs: None),
    (_checker, "_close", lambda got, exp, ex: np.ones(got.shape, dtype=bool)),
    (np, "isclose", lambda a, b, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)),
    (np, "allclose", lambda *args, **kwargs: True),
    (np, "array_equal", lambda *args, **kwargs: True),
    (np, "isfinite", lambda a: np.ones(np.shape(a), dtype=bool)),
    (_plain, "plain", lambda value: None),
], ids=["_checker.evaluate", "exercises.evaluate", "_compare", "judge", "_close", "np.isclose",
        "np.allclose", "np.array_equal", "np.isfinite", "_plain.plain"])
def test_patching_the_checker_or_numpy_changes_nothing(strict, monkeypatch, capsys, target, name, replacement):
    monkeypatch.setattr(target, name, replacement)
    with pytest.raises(ExerciseFailed) as info:
        check(DENSE_FORWARD, dense_wrong)
    assert info.value.verdict.category == "values"
    assert check(DENSE_FORWARD, dense_forward) is None


def test_a_function_that_patches_the_checker_while_it_runs_still_fails(strict, monkeypatch, capsys):
    def sneaky(x, weight, bias):
        monkeypatch.setattr(_checker, "_compare", lambda *args, **kwargs: None)
        monkeypatch.setattr(np, "isclose", lambda a, b, **kw: np.ones(np.broadcast(a, b).shape, bool))
        return dense_wrong(x, weight, bias)
    with pytest.raises(ExerciseFailed):
        check(DENSE_FORWARD, sneaky)


# -- functions that run too long, print too much, exit or raise oddly -------------------------
SLOW = Exercise(name="ch99.slow", title="slow", reference=lambda x: 2 * x,
                cases=[case(np.ones(3)), case(np.zeros(2))], time_limit=1.0)


def test_a_function_that_sleeps_is_stopped_within_the_limit():
    start = time.perf_counter()
    verdict = evaluate(SLOW, lambda x: time.sleep(450))
    elapsed = time.perf_counter() - start
    assert verdict.category == "timeout" and verdict.headline == "took too long", verdict.text()
    assert "more than 1 s" in verdict.detail and verdict.case.startswith("case 1 of 2")
    assert elapsed < 3


def test_the_limit_covers_all_cases_together():
    def slowish(x):
        time.sleep(0.6)
        return 2 * x
    verdict = evaluate(SLOW, slowish)
    assert verdict.category == "timeout" and verdict.case.startswith("case 2 of 2")


def test_catching_the_time_limit_does_not_help():
    def stubborn(x):
        try:
            time.sleep(450)
        except BaseException:
            pass
        return 2 * x
    start = time.perf_counter()
    assert evaluate(SLOW, stubborn).category == "timeout"
    assert time.perf_counter() - start < 3


def test_the_time_limit_is_declared_per_exercise():
    assert get("ch01.perceptron").time_limit == 10.0 and SLOW.time_limit == 1.0
    with pytest.raises(ValueError, match="time_limit"):
        Exercise(name="ch99.x", title="x", reference=abs, cases=[case(1)], time_limit=-1)


def test_a_time_limit_leaves_no_alarm_behind():
    import signal
    before = signal.getsignal(signal.SIGALRM)
    with TimeLimit(5):
        pass
    assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_twenty_thousand_printed_lines_are_shortened_below_the_verdict(capsys, monkeypatch):
    monkeypatch.delenv("CNNBOOK_STRICT", raising=False)

    calls = []

    def chatty(x, weight, bias):
        if not calls:
            for i in range(20_000):
                print(f"line {i}")
        calls.append(1)
        return dense_forward(x, weight, bias)
    check(DENSE_FORWARD, chatty)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("✓ ch99.dense_forward") and len(lines) < 20, out
    assert "It printed 20,000 lines; the first 5 and the last 5:" in out
    assert "| line 0" in out and "[... 19,990 more lines ...]" in out and "| line 19999" in out


def test_printed_output_is_kept_short_and_counted():
    printed = Printed(head=2, tail=2)
    printed.write("a\nb\nc")
    printed.write("d\ne\n" + "x" * 1000 + "\n")
    text = printed.summary()
    assert text.splitlines()[:3] == ["It printed 5 lines; the first 2 and the last 2:", "a", "b"]
    assert text.splitlines()[-2] == "e"
    assert "[... 1 more line ...]" in text and max(map(len, text.splitlines())) <= 200
    assert Printed().summary() == ""


def test_stderr_is_captured_too(capsys):
    def noisy(x, weight, bias):
        print("to stderr", file=sys.stderr)
        return dense_forward(x, weight, bias)
    verdict = evaluate(DENSE_FORWARD, noisy)
    assert verdict.passed and "to stderr" in verdict.printed
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("exc, words", [
    (SystemExit(3), ["SystemExit: 3"]),
    (KeyboardInterrupt(), ["KeyboardInterrupt"]),
    (GeneratorExit(), ["GeneratorExit"]),
])
def test_exit_and_interrupt_end_in_a_verdict(exc, words, monkeypatch, capsys):
    monkeypatch.delenv("CNNBOOK_STRICT", raising=False)

    def leaves(x, weight, bias):
        raise exc
    verdict = evaluate(DENSE_FORWARD, leaves)
    assert verdict.category == "exception" and all(w in verdict.detail for w in words), verdict.text()
    assert check(DENSE_FORWARD, leaves) is None
    if isinstance(exc, SystemExit):
        assert "return" in verdict.hint


def test_an_exception_whose_str_fails_ends_in_a_verdict():
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    def raises(x, weight, bias):
        raise Unprintable()
    verdict = evaluate(DENSE_FORWARD, raises)
    assert verdict.category == "exception" and "Unprintable" in verdict.detail
    assert "could not be shown" in verdict.detail


def test_an_exception_whose_str_never_returns_ends_in_a_verdict():
    class Endless(Exception):
        def __str__(self):
            while True:
                pass

    def raises(x, weight, bias):
        raise Endless()
    start = time.perf_counter()
    verdict = evaluate(DENSE_FORWARD, raises)
    assert verdict.category == "exception" and "Endless" in verdict.detail
    assert time.perf_counter() - start < 4


# -- dtypes ------------------------------------------------------------------------------------
def test_another_float_dtype_passes_unless_the_exercise_is_about_dtype():
    as32 = lambda x, weight, bias: dense_forward(x, weight, bias).astype(np.float32)
    assert not DENSE_FORWARD.exact_dtype
    assert evaluate(DENSE_FORWARD, as32).passed, evaluate(DENSE_FORWARD, as32).text()
    assert evaluate(DENSE_FORWARD, lambda *a: dense_wrong(*a).astype(np.float32)).category == "values"
    add = ADD_BIAS_COLUMN
    assert add.exact_dtype
    as64 = lambda X: add.reference(X).astype(np.float64)
    assert evaluate(add, as64).category == "dtype"


# -- in a Jupyter kernel ------------------------------------------------------------------------
def test_time_limit_and_capture_work_in_a_jupyter_kernel(tmp_path):
    pytest.importorskip("ipykernel")  # not in make test-lowest's environment
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}}, cells=[
        new_code_cell("import time\nimport numpy as np\n"
                      "from cnnbook.exercises import Exercise, case, check\n"
                      "SLOW = Exercise(name='ch99.slow', title='slow', reference=lambda x: 2 * x,\n"
                      "                cases=[case(np.ones(3))], time_limit=1.0)"),
        new_code_cell("start = time.perf_counter()\ncheck(SLOW, lambda x: time.sleep(450))\n"
                      "print(f'{time.perf_counter() - start:.0f}')"),
        new_code_cell("def chatty(x):\n    for i in range(20_000):\n        print(i)\n    return 2 * x\n"
                      "check(SLOW, chatty)"),
    ])
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    slow, chatty = nb.cells[1].outputs, nb.cells[2].outputs
    assert "took too long" in slow[0]["data"]["text/plain"]
    assert int(slow[1]["text"]) <= 2
    assert len(chatty) == 1 and "✓ ch99.slow" in chatty[0]["data"]["text/plain"]
    assert "It printed 20,000 lines" in chatty[0]["data"]["text/html"]
    assert len(nbformat.writes(nb)) < 20_000
