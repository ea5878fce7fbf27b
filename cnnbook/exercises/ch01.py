"""Chapter 1 exercises: a threshold logic unit, a dense layer, an MLP's parameter count."""
from __future__ import annotations

import numpy as np

from ..activations import binary_step_forward
from ..dense import dense_forward as _dense_forward
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(101)  # draws the fixed cases once, the same on every run


# -- ch01.tlu: tlu(x, w, b) -> (N,) of 0.0/1.0 ------------------------------------------
def tlu(x, w, b):
    """1.0 where x @ w + b >= 0, else 0.0: the step fires at 0. x (N, D), w (D,) -> (N,)."""
    return binary_step_forward(x @ w + b)[0]


def _tlu_random(rng):
    # Small integers make x @ w + b exact, and often exactly 0: the boundary is tested.
    n, d = rng.integers(1, 9), rng.integers(1, 6)
    x = rng.integers(-3, 4, size=(n, d)).astype(np.float64)
    w = rng.integers(-2, 3, size=d).astype(np.float64)
    return case(x, w, float(rng.integers(-3, 4)))


_GATE_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

TLU = Exercise(
    name="ch01.tlu",
    title="Threshold logic unit",
    reference=tlu,
    cases=[
        case(_GATE_INPUTS, np.array([1.0, 1.0]), -1.5, note="the AND gate"),
        case(_GATE_INPUTS, np.array([1.0, 1.0]), -1.0, note="x @ w + b == 0 on two rows"),
        case(np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]]),
             np.array([1.0, 1.0, 1.0]), 0.0, note="x @ w + b == 0 on the first row"),
        case(np.array([[2.0]]), np.array([-1.0]), 2.0, note="one example exactly on the threshold"),
        case(_rng.standard_normal((6, 3)), _rng.standard_normal(3), 0.25),
    ],
    random_case=_tlu_random,
    mistakes=[
        Mistake(lambda x, w, b: (x @ w + b > 0).astype(np.float64),
                "It gives 0 where `x @ w + b == 0` exactly, but the step is 1 at 0: "
                "use `>= 0`, not `> 0`."),
        Mistake(lambda x, w, b: (x @ w + b < 0).astype(np.float64),
                "It fires on the wrong side: 1 where `x @ w + b < 0` instead of `>= 0`."),
        Mistake(lambda x, w, b: (x @ w >= 0).astype(np.float64),
                "It ignores the bias: compare `x @ w + b`, not `x @ w`, with 0."),
    ],
    hints={
        "values": "Compute z = x @ w + b for all rows at once, then 1.0 where z >= 0, else 0.0.",
        "dtype": "Return floats 0.0/1.0, e.g. `(z >= 0).astype(float)`.",
        "shape": "One output per example: x @ w has shape (N,).",
    },
)


# -- ch01.dense_forward: dense_forward(x, weight, bias) -> (N, out) -------------------
def dense_forward(x, weight, bias):
    """x @ weight.T + bias with weight (out_features, in_features), as torch.nn.Linear."""
    return _dense_forward(x, weight, bias)[0]


def _dense_random(rng):
    n, n_in, n_out = rng.integers(1, 9), rng.integers(1, 8), rng.integers(1, 8)
    return case(rng.standard_normal((n, n_in)), rng.standard_normal((n_out, n_in)),
                rng.standard_normal(n_out))


def _dense_case(n, n_in, n_out, dtype=np.float64, note=""):
    return case(_rng.standard_normal((n, n_in)).astype(dtype),
                _rng.standard_normal((n_out, n_in)).astype(dtype),
                _rng.standard_normal(n_out).astype(dtype), note=note)


_LAYOUT = ("weight is stored (out_features, in_features), PyTorch's layout: "
           "each output is a row of weight, so compute `x @ weight.T + bias`.")

DENSE_FORWARD = Exercise(
    name="ch01.dense_forward",
    title="Dense layer, forward pass",
    reference=dense_forward,
    cases=[
        _dense_case(4, 3, 3, note="a square weight"),
        _dense_case(5, 4, 2),
        _dense_case(1, 3, 5, note="a single example"),
        _dense_case(3, 6, 4, np.float32, note="float32 in, float32 out"),
    ],
    random_case=_dense_random,
    rtol=1e-5,
    atol=1e-5,
    mistakes=[
        Mistake(lambda x, weight, bias: x @ weight + bias, f"It computes `x @ weight`, but {_LAYOUT}"),
        Mistake(lambda x, weight, bias: x @ weight.T, "It leaves out the bias: add `bias` to `x @ weight.T`."),
        Mistake(lambda x, weight, bias: x @ weight.T - bias, "It subtracts the bias; add it."),
    ],
    hints={
        "exception": _LAYOUT,
        "shape": "The result has one row per example and one column per output: (N, out_features). "
                 + _LAYOUT,
        "values": _LAYOUT,
        "dtype": "Keep the input's dtype: NumPy's @ and + already do.",
    },
)


# -- ch01.mlp_param_count: mlp_param_count(layer_sizes) -> int ------------------------
def mlp_param_count(layer_sizes):
    """Weights and biases of a fully connected MLP: sum over layers of n_in * n_out + n_out."""
    return sum(n_in * n_out + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))


def _count_random(rng):
    return case([int(n) for n in rng.integers(1, 1000, size=rng.integers(2, 6))])


def _pairs(sizes):
    return list(zip(sizes[:-1], sizes[1:]))


MLP_PARAM_COUNT = Exercise(
    name="ch01.mlp_param_count",
    title="Parameters of an MLP",
    reference=mlp_param_count,
    cases=[
        case([784, 100, 10], note="the chapter's network"),
        case([2, 1], note="one neuron with two inputs"),
        case([2, 2, 1], note="the XOR network"),
        case([3, 4, 4, 2]),
        case([784, 300, 100, 10]),
    ],
    random_case=_count_random,
    mistakes=[
        Mistake(lambda sizes: sum(a * b for a, b in _pairs(sizes)),
                "It counts the weights but not the biases: a layer with n_out neurons "
                "also has n_out biases."),
        Mistake(lambda sizes: sum(a * b for a, b in _pairs(sizes)) + sum(sizes),
                "It gives the input units biases too: only the neurons of the layers after "
                "the input have one."),
        Mistake(lambda sizes: sum(a * b + a for a, b in _pairs(sizes)),
                "It gives each layer n_in biases; a layer has one bias per neuron, n_out."),
    ],
    hints={
        "values": "A dense layer from n_in to n_out units has an (n_out, n_in) weight and "
                  "n_out biases; add that up over consecutive pairs of layer sizes.",
    },
)

EXERCISES = [TLU, DENSE_FORWARD, MLP_PARAM_COUNT]
