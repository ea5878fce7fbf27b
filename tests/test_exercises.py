"""The exercise checker: each kind of wrong answer gets its own diagnosis, a right one
passes, strict mode raises, and no verdict ever shows an expected value. The answers are
checked against the fixtures of tests/checker_fixtures.py (chapter 1's own exercises are
tested in tests/test_exercises_ch01.py)."""
from __future__ import annotations

import re

import numpy as np
import pytest
from cnnbook.exercises import (CATEGORIES, Case, Exercise, ExerciseFailed, Mistake, case, check,
                               evaluate, get)
from cnnbook.exercises._display import to_html

from checker_fixtures import DENSE_FORWARD, MLP_PARAM_COUNT, TLU


# -- right answers ----------------------------------------------------------------------
def tlu(x, w, b):
    return (x @ w + b >= 0).astype(float)


def dense_forward(x, weight, bias):
    return x @ weight.T + bias


def mlp_param_count(layer_sizes):
    return sum(n_in * n_out + n_out for n_in, n_out in zip(layer_sizes, layer_sizes[1:]))


# -- wrong answers, one per diagnosis ----------------------------------------------------
def tlu_not_done(x, w, b):
    raise NotImplementedError("Exercise 1.1: Threshold logic unit")


def tlu_type_error(x, w, b):
    raise TypeError("a deliberate bug")


def tlu_no_return(x, w, b):
    z = x @ w + b  # noqa: F841


def tlu_ints(x, w, b):
    return (x @ w + b >= 0).astype(np.int64)


def tlu_strict(x, w, b):
    return (x @ w + b > 0).astype(float)


def tlu_mutates(x, w, b):
    x += b  # changes the caller's array
    return (x @ w >= 0).astype(float)


def dense_wrong_shape(x, weight, bias):
    return (x @ weight.T + bias)[:, :1]


def dense_nan(x, weight, bias):
    y = x @ weight.T + bias
    y[0, 0] = np.nan
    return y


def dense_wrong_values(x, weight, bias):
    return 2 * (x @ weight.T) + bias


def dense_x_at_w(x, weight, bias):
    return x @ weight + bias


def dense_list(x, weight, bias):
    return (x @ weight.T + bias).tolist()


def count_without_biases(layer_sizes):
    return sum(n_in * n_out for n_in, n_out in zip(layer_sizes, layer_sizes[1:]))


def count_float(layer_sizes):
    return float(mlp_param_count(layer_sizes))


WRONG = [  # (exercise, function, category, words the detail must contain)
    (TLU, tlu_not_done, "not_done", ["NotImplementedError"]),
    (TLU, tlu_type_error, "exception",
     ["TypeError: a deliberate bug", "tlu_type_error", 'raise TypeError("a deliberate bug")']),
    (TLU, tlu_no_return, "none", ["None"]),
    (TLU, tlu_ints, "dtype", ["int64", "float64"]),
    (TLU, tlu_strict, "mistake", [">= 0"]),
    (TLU, tlu_mutates, "mutated", ["`x`"]),
    (DENSE_FORWARD, dense_wrong_shape, "shape", ["(4, 1)", "(4, 3)"]),
    (DENSE_FORWARD, dense_nan, "nonfinite", ["NaN"]),
    (DENSE_FORWARD, dense_wrong_values, "values", ["entries", "relative error"]),
    (DENSE_FORWARD, dense_x_at_w, "mistake", ["x @ weight.T", "(out_features, in_features)"]),
    (DENSE_FORWARD, dense_list, "type", ["list", "NumPy array"]),
    (MLP_PARAM_COUNT, count_without_biases, "mistake", ["biases"]),
    (MLP_PARAM_COUNT, count_float, "type", ["int"]),
    (MLP_PARAM_COUNT, lambda sizes: mlp_param_count(sizes) + 1, "values", ["not right"]),
]


@pytest.mark.parametrize("name, fn, category, words", WRONG, ids=[w[1].__name__ for w in WRONG])
def test_each_mistake_gets_its_diagnosis(name, fn, category, words):
    verdict = evaluate(name, fn)
    assert not verdict.passed
    assert verdict.category == category, verdict.text()
    assert verdict.headline == CATEGORIES[category]
    for word in words:
        assert word in verdict.detail, verdict.text()
    if category != "not_done":
        assert verdict.case.startswith("case ") and " of " in verdict.case


@pytest.mark.parametrize("name, fn", [(TLU, tlu), (DENSE_FORWARD, dense_forward),
                                      (MLP_PARAM_COUNT, mlp_param_count)])
def test_right_answers_pass(name, fn):
    verdict = evaluate(name, fn)
    assert verdict.passed, verdict.text()
    assert verdict.category == "passed" and verdict.case == ""


def test_failing_case_is_named_with_its_shapes():
    verdict = evaluate(TLU, tlu_strict)  # the first case on the threshold is case 2
    assert verdict.case.startswith("case 2 of ")
    assert "x.shape=(4, 2)" in verdict.case and "b=-1.0" in verdict.case


def test_hint_comes_with_the_diagnosis():
    assert "x @ weight.T" in evaluate(DENSE_FORWARD, dense_wrong_values).hint
    assert "astype" in evaluate(TLU, tlu_ints).hint


def test_exception_from_non_square_layout_gets_the_layout_hint():
    ex = Exercise(name="ch99.dense_nonsquare", title="dense", reference=DENSE_FORWARD.reference,
                  cases=[case(np.ones((2, 3)), np.ones((4, 3)), np.ones(4))], hints={"exception": "layout!"})
    verdict = evaluate(ex, lambda x, weight, bias: np.dot(x, weight) + bias)
    assert verdict.category == "exception" and "ValueError" in verdict.detail
    assert verdict.hint == "layout!"
    # the same mistake with @ raises exactly what the declared wrong answer raises
    assert evaluate(DENSE_FORWARD, dense_x_at_w).category == "mistake"


def test_transposed_result_is_recognised():
    verdict = evaluate(DENSE_FORWARD, lambda x, weight, bias: (x @ weight.T + bias).T)
    assert verdict.category == "shape" and "transpose" in verdict.detail


def test_not_callable():
    verdict = evaluate(TLU, tlu(np.ones((1, 1)), np.ones(1), 0.0))
    assert verdict.category == "type" and "function itself" in verdict.detail


def test_verdicts_never_show_expected_values():
    for name, fn in [(DENSE_FORWARD, dense_wrong_values), (DENSE_FORWARD, dense_nan),
                     (DENSE_FORWARD, dense_wrong_shape)]:
        text = evaluate(name, fn).text()
        for c in name.all_cases():
            for v in np.ravel(name.reference(*c.args)):
                assert f"{v:.4g}" not in text and f"{v:.3f}" not in text
    for fn in [count_without_biases, lambda sizes: mlp_param_count(sizes) + 1]:
        text = evaluate(MLP_PARAM_COUNT, fn).text()
        for c in MLP_PARAM_COUNT.all_cases():
            count = mlp_param_count(*c.args)
            assert count < 100 or not re.search(rf"\b{count}\b", text)


def test_text_is_the_same_on_every_run():
    for name, fn, _, _ in WRONG:
        first, second = evaluate(name, fn).text(), evaluate(name, fn).text()
        assert first == second and "0x" not in first


def test_check_returns_none_and_prints_the_verdict(capsys, monkeypatch):
    monkeypatch.delenv("CNNBOOK_STRICT", raising=False)
    assert check(TLU, tlu_not_done) is None
    assert "not done yet" in capsys.readouterr().out
    assert check(TLU, tlu) is None
    assert "✓ ch99.tlu" in capsys.readouterr().out


def test_strict_mode_raises_on_failure_only(monkeypatch, capsys):
    monkeypatch.setenv("CNNBOOK_STRICT", "1")
    with pytest.raises(ExerciseFailed) as info:
        check(DENSE_FORWARD, dense_wrong_values)
    assert info.value.verdict.category == "values"
    assert isinstance(info.value, AssertionError)
    assert check(DENSE_FORWARD, dense_forward) is None


def test_check_writes_no_report_file(tmp_path, monkeypatch, capsys):
    """Scores come from the grader's own process (cnnbook.course.grade), never from a file
    that a notebook could write to as well."""
    report = tmp_path / "report.jsonl"
    monkeypatch.setenv("CNNBOOK_GRADE_REPORT", str(report))
    monkeypatch.delenv("CNNBOOK_STRICT", raising=False)
    check(TLU, tlu)
    assert "✓ ch99.tlu" in capsys.readouterr().out
    assert not report.exists()


def test_html_is_escaped_and_coloured():
    verdict = evaluate(TLU, tlu_strict)
    html = to_html(verdict)
    assert html.startswith("<div") and "#cf222e" in html
    assert "<code>&gt;= 0</code>" in html  # `>= 0` in the message becomes code, escaped
    assert "#1a7f37" in to_html(evaluate(TLU, tlu))


def test_registry_names():
    assert get("ch01.perceptron").title == "The perceptron rule with 0/1 labels"
    with pytest.raises(ValueError, match="check: name must be an exercise.s name such as .ch01.perceptron."):
        get("tlu")
    with pytest.raises(ValueError, match="no exercises for chapter ch99"):
        get("ch99.tlu")
    with pytest.raises(ValueError, match="ch01.perceptron"):
        get("ch01.nope")


# -- the declarative API on other kinds of answers: tuples (backward passes), floats ---
def _square_backward(dout, x, w):
    """Gradients of y = (x * w)**2 w.r.t. x and w."""
    return 2 * x * w**2 * dout, 2 * x**2 * w * dout


BACKWARD = Exercise(
    name="ch99.square_backward", title="a backward pass", reference=_square_backward,
    cases=[case(np.array([0.5, -1.0, 2.0]), np.arange(1.0, 4.0), np.arange(2.0, 5.0))],
    random_case=lambda rng: case(*rng.standard_normal((3, 4))), n_random=3,
    outputs=("dx", "dw"),
    mistakes=[Mistake(lambda dout, x, w: (2 * x * w**2 * dout, 2 * x * w**2 * dout),
                      "dw copies dx")],
    diagnose=lambda c, got, exp: "forgot dout" if np.allclose(got[0], 2 * c.args[1] * c.args[2]**2) else None,
)


def test_tuple_answers():
    assert evaluate(BACKWARD, _square_backward).passed
    swapped = evaluate(BACKWARD, lambda dout, x, w: _square_backward(dout, x, w)[::-1])
    assert swapped.category == "values" and "dx holds what dw should be" in swapped.detail
    assert evaluate(BACKWARD, lambda dout, x, w: _square_backward(dout, x, w)[0]).category == "type"
    assert evaluate(BACKWARD, lambda dout, x, w: (_square_backward(dout, x, w)[0],)).category == "type"
    copied = evaluate(BACKWARD, lambda dout, x, w: (2 * x * w**2 * dout,) * 2)
    assert copied.category == "mistake" and copied.detail == "dw copies dx"


def test_diagnose_hook_names_a_mistake():
    verdict = evaluate(BACKWARD, lambda dout, x, w: (2 * x * w**2, 2 * x**2 * w))
    assert verdict.category == "mistake" and verdict.detail == "forgot dout"


def test_float_answers_use_the_tolerance_and_dtype_kind():
    ex = Exercise(name="ch99.mean", title="mean", reference=lambda x: float(np.mean(x)),
                  cases=[Case((np.arange(4.0),))], rtol=1e-6)
    assert evaluate(ex, lambda x: np.mean(x) + 1e-9).passed
    assert evaluate(ex, lambda x: np.mean(x) + 1e-3).category == "values"
    assert evaluate(ex, lambda x: np.nan).category == "nonfinite"
    assert evaluate(ex, lambda x: "1.5").category == "type"
    loose = Exercise(name="ch99.double", title="double", reference=lambda x: 2 * x,
                     cases=[case(np.ones(3))], exact_dtype=False)
    assert evaluate(loose, lambda x: (2 * x).astype(np.float32)).passed
    assert evaluate(loose, lambda x: (2 * x).astype(int)).category == "dtype"


def test_exercise_declarations_are_validated():
    with pytest.raises(ValueError, match="look like"):
        Exercise(name="tlu", title="t", reference=tlu, cases=[case(1)])
    with pytest.raises(ValueError, match="cases"):
        Exercise(name="ch01.x", title="t", reference=tlu)
