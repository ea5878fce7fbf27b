"""Layer normalization: gradients, PyTorch agreement, Module, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnnbook.layernorm import LayerNorm, layer_norm_backward, layer_norm_forward
from helpers import check_fan_out, check_op


def backward_by_position(dout, cache):
    """(dx, dweight, dbias) placed at the positions of x, weight, bias in the forward's
    arguments (x, normalized_shape, weight, bias), as check_op indexes them."""
    dx, dweight, dbias = layer_norm_backward(dout, cache)
    return dx, None, dweight, dbias


@settings(max_examples=15, deadline=None)
@given(lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
       norm=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       affine=st.sampled_from(["both", "weight", "none"]),
       offset=st.sampled_from([0.0, 50.0]), seed=st.integers(0, 2**16))
def test_gradients_and_pytorch(lead, norm, affine, offset, seed):
    rng = np.random.default_rng(seed)
    shape = tuple(norm)
    x = rng.standard_normal(tuple(lead) + shape) * rng.uniform(0.5, 2) + offset
    weight = rng.standard_normal(shape) if affine != "none" else None
    bias = rng.standard_normal(shape) if affine == "both" else None
    inputs = [x, shape, weight, bias]
    wrt = [0] + [i for i, a in ((2, weight), (3, bias)) if a is not None]
    check_op(layer_norm_forward, backward_by_position,
             lambda x, s, w, b: F.layer_norm(x, s, w, b, eps=1e-5), inputs,
             torch_kwargs={}, wrt=wrt, rng=seed)


def test_vit_tokens_and_fan_out():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4))  # (N, T, D)
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    out, _ = layer_norm_forward(x, (4,), w, b)
    np.testing.assert_allclose(out, F.layer_norm(torch.tensor(x), (4,), torch.tensor(w),
                                                 torch.tensor(b)).numpy(), atol=1e-12)
    check_fan_out(lambda x: layer_norm_forward(x, 4, w, b), layer_norm_backward, x)


def test_float32_agrees_with_float64():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 6, 16)) + 3, rng.standard_normal(16), rng.standard_normal(16)
    dout = rng.standard_normal(x.shape)
    r64 = layer_norm_forward(x, 16, w, b)
    r32 = layer_norm_forward(x.astype(np.float32), 16, w.astype(np.float32), b.astype(np.float32))
    assert r32[0].dtype == np.float32
    np.testing.assert_allclose(r32[0], r64[0], atol=1e-5, rtol=1e-4)
    for a, b_ in zip(layer_norm_backward(dout.astype(np.float32), r32[1]), layer_norm_backward(dout, r64[1])):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b_, atol=1e-4 * np.abs(b_).max(), rtol=1e-3)


def test_module_matches_pytorch():
    rng = np.random.default_rng(2)
    ours = LayerNorm((3, 4), dtype=np.float64)
    theirs = torch.nn.LayerNorm((3, 4)).double()
    np.testing.assert_array_equal(ours.params["weight"], theirs.weight.detach().numpy())
    np.testing.assert_array_equal(ours.params["bias"], theirs.bias.detach().numpy())
    ours.params["weight"][:] = rng.standard_normal((3, 4))
    ours.params["bias"][:] = rng.standard_normal((3, 4))
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x, dout = rng.standard_normal((2, 5, 3, 4)), rng.standard_normal((2, 5, 3, 4))
    xt = torch.tensor(x, requires_grad=True)
    yt = theirs(xt)
    yt.backward(torch.tensor(dout))
    ours.eval()  # no difference between train and eval
    np.testing.assert_allclose(ours(x), yt.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.backward(dout), xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.grads["weight"], theirs.weight.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.grads["bias"], theirs.bias.grad.numpy(), atol=1e-10)
    assert LayerNorm(5, elementwise_affine=False).params == {}
    assert set(LayerNorm(5, bias=False).params) == {"weight"}


def test_errors():
    x = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"last 1 dimensions of x must be normalized_shape=\(5,\)"):
        layer_norm_forward(x, 5)
    with pytest.raises(ValueError, match=r"weight must have shape normalized_shape=\(4,\)"):
        layer_norm_forward(x, 4, np.ones(3))
    with pytest.raises(TypeError, match="normalized_shape must be an int"):
        layer_norm_forward(x, "4")
    with pytest.raises(ValueError, match="normalized_shape must be an integer >= 1"):
        LayerNorm(0)
    with pytest.raises(RuntimeError, match="before forward"):
        LayerNorm(4).backward(x)
