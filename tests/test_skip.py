"""Skip connections: concat kernels (torch.cat), Residual and ConcatSkip, gradients and errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnbook.activations import Tanh
from cnnbook.conv import Conv2d
from cnnbook.dense import Dense
from cnnbook.module import Sequential
from cnnbook.skip import ConcatSkip, Residual, concat_backward, concat_forward
from cnnbook.gradcheck import check_gradients
from helpers import check_op, module_as_kernel

RNG = np.random.default_rng(0)


# -- concat kernels ---------------------------------------------------------------------
@pytest.mark.parametrize("shapes, axis", [
    ([(2, 3, 4, 4), (2, 1, 4, 4), (2, 2, 4, 4)], 1),   # the U-Net skip: channels
    ([(1, 2, 3), (3, 2, 3)], 0),
    ([(2, 3, 2), (2, 3, 4)], -1),
    ([(2, 5)], 1),                                      # one array: a copy
])
def test_concat_matches_torch_cat_and_finite_differences(shapes, axis):
    arrays = [RNG.standard_normal(s) for s in shapes]

    def forward(*xs):
        return concat_forward(list(xs), axis=axis)

    check_op(forward, concat_backward, lambda *ts: torch.cat(ts, dim=axis), arrays)


def test_concat_input_used_twice_gets_both_gradients():
    x = RNG.standard_normal((2, 3, 2, 2))
    check_op(lambda x: concat_forward([x, x]), lambda d, c: sum(concat_backward(d, c)),
             lambda t: torch.cat([t, t], dim=1), [x])


def test_concat_shapes_dtypes_and_copies():
    a, b = np.ones((2, 3, 4, 4), np.float32), np.zeros((2, 5, 4, 4), np.float64)
    out, cache = concat_forward((a, b))
    assert out.shape == (2, 8, 4, 4) and out.dtype == np.float64  # as torch.cat: promoted
    dout = np.arange(out.size, dtype=np.float64).reshape(out.shape)
    da, db = concat_backward(dout, cache)
    assert (da.shape, da.dtype) == ((2, 3, 4, 4), np.float32)
    assert (db.shape, db.dtype) == ((2, 5, 4, 4), np.float64)
    np.testing.assert_array_equal(db, dout[:, 3:])
    db[...] = -1  # a copy, not a view into dout
    assert dout.min() == 0


@pytest.mark.parametrize("call, exc, words", [
    (lambda: concat_forward(np.ones((2, 3))), TypeError,
     "arrays must be a list or tuple of arrays, got ndarray"),
    (lambda: concat_forward([]), ValueError, "at least one array"),
    (lambda: concat_forward([np.ones((2, 3)), "x"]), TypeError, "arrays[1] must be a NumPy array"),
    (lambda: concat_forward([np.ones((2, 3))], axis=2), ValueError, "axis must be in [-2, 1]"),
    (lambda: concat_forward([np.ones((2, 3))], axis=1.0), TypeError, "axis must be an integer"),
    (lambda: concat_forward([np.ones((2, 3, 4)), np.ones((2, 3))]), ValueError,
     "arrays[1] has 2 dimensions but arrays[0] has 3"),
    (lambda: concat_forward([np.ones((2, 3, 6, 6)), np.ones((2, 4, 5, 6))]), ValueError,
     "arrays[1] has size 5 on axis 2 but arrays[0] has 6; every size but axis=1's must agree"),
    (lambda: concat_backward(np.ones((2, 4)), concat_forward([np.ones((2, 3))] * 2)[1]), ValueError,
     "concat_backward: dout must have shape (2, 6)"),
])
def test_concat_errors(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


# -- Residual and ConcatSkip ------------------------------------------------------------
def dense_tanh():
    return Sequential(Dense(4, 4, rng=1, dtype=np.float64), Tanh())


def test_residual_adds_the_block_and_copies_the_gradient_to_both_branches():
    block = dense_tanh()
    W, b = (torch.tensor(block[0].params[k]) for k in ("weight", "bias"))
    layer = Residual(block)
    x = RNG.standard_normal((3, 4))
    forward, backward, params = module_as_kernel(layer)
    check_op(lambda x: (layer.forward(x), None), lambda d, _: layer.backward(d),
             lambda t: t + torch.tanh(F.linear(t, W, b)), [x])
    check_gradients(forward, backward, [x, *params])  # weight and bias too
    dout = RNG.standard_normal((3, 4))
    layer(x)
    dx = layer.backward(dout)
    block(x)
    np.testing.assert_allclose(dx, dout + block.backward(dout), rtol=1e-12)  # dout + block's dx


def test_concat_skip_splits_the_gradient():
    block = Conv2d(3, 2, 3, padding=1, rng=2, dtype=np.float64)
    W, b = (torch.tensor(block.params[k]) for k in ("weight", "bias"))
    layer = ConcatSkip(block)
    x = RNG.standard_normal((2, 3, 4, 4))
    assert layer(x).shape == (2, 5, 4, 4)
    layer.zero_grad()
    check_op(lambda x: (layer.forward(x), None), lambda d, _: layer.backward(d),
             lambda t: torch.cat([t, F.conv2d(t, W, b, padding=1)], dim=1), [x])
    forward, backward, params = module_as_kernel(layer)
    check_gradients(forward, backward, [x, *params])


def test_skip_blocks_are_found_and_named():
    layer = Residual(dense_tanh())
    assert [n for n, _ in layer.named_parameters()] == ["block.0.weight", "block.0.bias"]
    assert repr(layer).startswith("Residual(\n  (block): Sequential(\n    (0): Dense(")
    assert ConcatSkip(Tanh()).children()[0].__class__ is Tanh


def test_skip_errors():
    with pytest.raises(TypeError, match="Residual: block must be a cnnbook Module, got function"):
        Residual(lambda x: x)
    with pytest.raises(TypeError, match="ConcatSkip: block must be a cnnbook Module"):
        ConcatSkip(np.tanh)
    with pytest.raises(ValueError, match=r"the block's output has shape \(2, 3\) but x has \(2, 4\)"):
        Residual(Dense(4, 3)).forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match="arrays\\[1\\] has size 2 on axis 2"):
        ConcatSkip(Conv2d(1, 1, 3)).forward(np.ones((1, 1, 4, 4)))
    layer = Residual(Tanh())
    with pytest.raises(RuntimeError, match="Residual.backward called before forward"):
        layer.backward(np.ones((2, 4)))
    layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"Residual.backward: dout must have shape \(2, 4\)"):
        layer.backward(np.ones((4, 2)))
