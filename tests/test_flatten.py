"""Flatten: shapes, gradient, PyTorch's order, Module, errors."""
import numpy as np
import pytest
import torch

from cnnbook.flatten import Flatten, flatten_backward, flatten_forward
from helpers import check_op


def test_flatten_gradcheck_and_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    check_op(flatten_forward, flatten_backward, lambda t: torch.flatten(t, 1), [x])


def test_flatten_module_matches_torch_and_round_trips():
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5)).astype(np.float32)
    layer = Flatten()
    out = layer.forward(x)
    assert out.shape == (2, 60) and out.dtype == np.float32
    np.testing.assert_array_equal(out, torch.nn.Flatten()(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(layer.backward(out), x)
    assert layer.params == {} and layer.grads == {}


def test_flatten_other_ranks():
    out, cache = flatten_forward(np.zeros((4, 7)))
    assert out.shape == (4, 7)
    out, cache = flatten_forward(np.zeros((4, 2, 3)))
    assert out.shape == (4, 6) and flatten_backward(out, cache).shape == (4, 2, 3)


def test_flatten_bad_input():
    with pytest.raises(ValueError, match=r"flatten_forward: x must have a batch axis.*x.shape=\(5,\)"):
        flatten_forward(np.zeros(5))
    with pytest.raises(TypeError, match="flatten_forward: x must have a numeric dtype"):
        flatten_forward(np.array(["a", "b"]).reshape(1, 2))
