"""Small exercises that the checker's own tests run answers against (tests/test_exercises.py,
tests/test_checker_attacks.py): a threshold logic unit (0/1 floats), a dense layer (an
array), a parameter count (an int) and a column of ones (about dtype). They are not in any
chapter: chapters' exercises change with the book, these stay as the checker's fixtures."""
from __future__ import annotations

import numpy as np

from cnnbook.exercises import Exercise, Mistake, case

_rng = np.random.default_rng(101)


def tlu(x, w, b):
    """1.0 where x @ w + b >= 0, else 0.0: the step fires at 0. x (N, D), w (D,) -> (N,)."""
    return (x @ w + b >= 0).astype(np.float64)


def _tlu_random(rng):
    n, d = rng.integers(1, 9), rng.integers(1, 6)
    x = rng.integers(-3, 4, size=(n, d)).astype(np.float64)
    w = rng.integers(-2, 3, size=d).astype(np.float64)
    return case(x, w, float(rng.integers(-3, 4)))


_GATE_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

TLU = Exercise(
    name="ch99.tlu",
    title="Threshold logic unit",
    reference=tlu,
    cases=[
        case(_GATE_INPUTS, np.array([1.0, 1.0]), -1.5, note="the AND gate"),
        case(_GATE_INPUTS, np.array([1.0, 1.0]), -1.0, note="x @ w + b == 0 on two rows"),
        case(np.array([[2.0]]), np.array([-1.0]), 2.0, note="one example exactly on the threshold"),
        case(_rng.standard_normal((6, 3)), _rng.standard_normal(3), 0.25),
    ],
    random_case=_tlu_random,
    mistakes=[
        Mistake(lambda x, w, b: (x @ w + b > 0).astype(np.float64),
                "It gives 0 where the sum is exactly 0, but the step is 1 at 0: use `>= 0`."),
        Mistake(lambda x, w, b: (x @ w >= 0).astype(np.float64), "It ignores the bias."),
    ],
    hints={"dtype": "Return floats 0.0/1.0, e.g. `(z >= 0).astype(float)`."},
)


def dense_forward(x, weight, bias):
    """x @ weight.T + bias with weight (out_features, in_features), as torch.nn.Linear."""
    return x @ weight.T + bias


def _dense_case(n, n_in, n_out, dtype=np.float64, note=""):
    return case(_rng.standard_normal((n, n_in)).astype(dtype),
                _rng.standard_normal((n_out, n_in)).astype(dtype),
                _rng.standard_normal(n_out).astype(dtype), note=note)


_LAYOUT = ("weight is stored (out_features, in_features), PyTorch's layout: "
           "each output is a row of weight, so compute `x @ weight.T + bias`.")

DENSE_FORWARD = Exercise(
    name="ch99.dense_forward",
    title="Dense layer, forward pass",
    reference=dense_forward,
    cases=[
        _dense_case(4, 3, 3, note="a square weight"),
        _dense_case(5, 4, 2),
        _dense_case(1, 3, 5, note="a single example"),
        _dense_case(3, 6, 4, np.float32, note="float32 in, float32 out"),
    ],
    random_case=lambda rng: case(rng.standard_normal((3, 4)), rng.standard_normal((2, 4)),
                                 rng.standard_normal(2)),
    rtol=1e-5,
    atol=1e-5,
    mistakes=[Mistake(lambda x, weight, bias: x @ weight + bias, f"It computes `x @ weight`, but {_LAYOUT}")],
    hints={"exception": _LAYOUT, "values": _LAYOUT},
)


def mlp_param_count(layer_sizes):
    """Weights and biases of a fully connected MLP: sum over layers of n_in * n_out + n_out."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))


MLP_PARAM_COUNT = Exercise(
    name="ch99.mlp_param_count",
    title="Parameters of an MLP",
    reference=mlp_param_count,
    cases=[case([784, 100, 10]), case([2, 1]), case([3, 4, 4, 2])],
    random_case=lambda rng: case([int(n) for n in rng.integers(1, 1000, size=rng.integers(2, 6))]),
    mistakes=[Mistake(lambda sizes: sum(a * b for a, b in zip(sizes, sizes[1:])),
                      "It counts the weights but not the biases.")],
)


def add_bias_column(X):
    """[1, X]: a column of ones first, in X's dtype."""
    return np.concatenate([np.ones((X.shape[0], 1), dtype=X.dtype), X], axis=1)


ADD_BIAS_COLUMN = Exercise(
    name="ch99.add_bias_column",
    title="A column of ones",
    reference=add_bias_column,
    exact_dtype=True,  # about dtype: the reference's dtype exactly (float32 in, float32 out)
    cases=[case(_rng.standard_normal((5, 3))),
           case(_rng.standard_normal((3, 2)).astype(np.float32), note="float32 in, float32 out")],
)
