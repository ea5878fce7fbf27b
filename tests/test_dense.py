"""The dense layer: finite differences, PyTorch (F.linear, nn.Linear), init, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import check_op
from cnnbook.dense import Dense, dense_backward, dense_forward


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("n, fin, fout", [(1, 1, 1), (5, 3, 4), (8, 7, 2)])
def test_dense_gradients_and_torch(n, fin, fout, bias):
    rng = np.random.default_rng(n + fin + fout)
    x, w = rng.standard_normal((n, fin)), rng.standard_normal((fout, fin))
    b = rng.standard_normal(fout) if bias else None
    inputs = [x, w, b]
    wrt = [0, 1, 2] if bias else [0, 1]
    check_op(dense_forward, dense_backward, F.linear, inputs, wrt=wrt)
    dbias = dense_backward(np.ones((n, fout)), dense_forward(x, w, b)[1])[2]
    if bias:
        np.testing.assert_array_equal(dbias, np.full(fout, float(n)))  # sum over the batch
    else:
        assert dbias is None


def test_source_003_eqs_9_to_11_for_one_example():
    """003 writes one example as a column: dE/dW = dE/dY X^t, dE/dB = dE/dY, dE/dX = W^t dE/dY."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(3), rng.standard_normal((2, 3)), rng.standard_normal(2)
    dy = rng.standard_normal(2)
    dx, dw, db = dense_backward(dy[None], dense_forward(x[None], w, b)[1])
    np.testing.assert_allclose(dw, np.outer(dy, x))
    np.testing.assert_allclose(db, dy)
    np.testing.assert_allclose(dx[0], w.T @ dy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_layer_equals_nn_linear_with_copied_weights(dtype):
    layer = Dense(6, 4, rng=0, dtype=dtype)
    linear = torch.nn.Linear(6, 4).to(torch.float32 if dtype == np.float32 else torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(layer.params["weight"]))
        linear.bias.copy_(torch.from_numpy(layer.params["bias"]))
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(dtype)
    tx = torch.from_numpy(x).requires_grad_()
    t_out = linear(tx)
    out = layer(x)
    assert out.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=tol, atol=tol)
    dout = np.random.default_rng(2).standard_normal(out.shape).astype(dtype)
    t_out.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.grads["weight"], linear.weight.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.grads["bias"], linear.bias.grad.numpy(), rtol=tol, atol=tol)


def test_init_follows_pytorch_default_and_rng():
    layer = Dense(100, 50, rng=0)
    bound = 1 / np.sqrt(100)
    for v in layer.params.values():
        assert v.dtype == np.float32 and np.abs(v).max() <= bound
    assert np.abs(layer.params["weight"]).max() > 0.9 * bound  # the whole interval is used
    np.testing.assert_array_equal(Dense(100, 50, rng=0).params["weight"], layer.params["weight"])
    assert not np.array_equal(Dense(100, 50, rng=1).params["weight"], layer.params["weight"])
    no_bias = Dense(3, 2, bias=False)
    assert set(no_bias.params) == {"weight"} and "bias=False" in repr(no_bias)
    no_bias.forward(np.ones((1, 3)))
    no_bias.backward(np.ones((1, 2)))
    assert set(no_bias.grads) == {"weight"}


@pytest.mark.parametrize("call, exc, words", [
    (lambda: dense_forward(np.ones((2, 3)), np.ones((4, 5))), ValueError,
     ["weight expects 5 input features but x has 3", "x.shape=(2, 3)"]),
    (lambda: dense_forward(np.ones(3), np.ones((4, 3))), ValueError, ["x", "2 or more dimensions", "(N, in_features)"]),
    (lambda: dense_forward(np.ones((2, 3)), np.ones((4, 3)), np.ones(3)), ValueError, ["bias", "4 entries"]),
    (lambda: dense_forward("x", np.ones((4, 3))), TypeError, ["x", "NumPy array"]),
    (lambda: Dense(0, 3), ValueError, ["in_features"]),
    (lambda: Dense(3, 2.0), TypeError, ["out_features"]),
])
def test_bad_input_messages(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("bias", [True, False])
def test_dense_on_token_sequences(bias):
    """x (N, T, in) -> (N, T, out), as F.linear: the same weights on every token, the weight
    and bias gradients summed over the batch and the tokens (chapter 10)."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 5, 4)), rng.standard_normal((3, 4))
    b = rng.standard_normal(3) if bias else None
    inputs, wrt = ([x, w, b], None) if bias else ([x, w], None)
    check_op(dense_forward, dense_backward, F.linear, inputs, wrt=wrt)
    y, cache = dense_forward(x, w, b)
    assert y.shape == (2, 5, 3)
    y2, _ = dense_forward(x.reshape(10, 4), w, b)  # the tokens as one big batch
    np.testing.assert_allclose(y.reshape(10, 3), y2, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"dense_backward: dout must have shape \(2, 5, 3\)"):
        dense_backward(np.ones((10, 3)), cache)
    layer = Dense(4, 3, rng=0, dtype=np.float64)
    assert layer(x).shape == (2, 5, 3)
    assert layer.backward(np.ones((2, 5, 3))).shape == (2, 5, 4)
    np.testing.assert_allclose(layer.grads["bias"], np.full(3, 10.0))
