"""Local response normalization: the kernel pair against torch.nn.functional.local_response_norm
(forward and gradient), finite differences, fan-out, the layer against
torch.nn.LocalResponseNorm, and bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnbook.gradcheck import check_gradients
from cnnbook.lrn import LocalResponseNorm, local_response_norm_backward, local_response_norm_forward
from helpers import check_op

RNG = np.random.default_rng(0)


def torch_lrn(t, size, **kw):
    return F.local_response_norm(t, size, **kw)


@pytest.mark.parametrize("shape, size, hyper", [
    ((2, 6, 3, 3), 1, {}),
    ((2, 6, 3, 3), 2, dict(alpha=0.5, beta=0.75, k=1.5)),      # even window: torch's offsets
    ((2, 6, 3, 3), 3, dict(alpha=2.0, beta=0.5, k=1.0)),
    ((2, 5, 4, 2), 5, dict(alpha=1.0, beta=1.25, k=0.5)),
    ((2, 3, 4, 4), 8, dict(alpha=3.0, beta=0.75, k=2.0)),      # window wider than C
    ((3, 4, 5), 3, dict(alpha=1.0)),                            # (N, C, L)
    ((2, 4, 2, 3, 2), 4, dict(alpha=1.0, beta=0.9)),            # (N, C, D, H, W)
])
def test_lrn_matches_torch_and_finite_differences(shape, size, hyper):
    x = RNG.standard_normal(shape)
    check_op(local_response_norm_forward, local_response_norm_backward, torch_lrn, [x, size],
             kwargs=hyper, wrt=[0])


def test_lrn_formula_written_out_for_one_value():
    """out[c] = x[c] / (k + alpha / n * sum of x^2 over c - n // 2 .. c + (n - 1) // 2)^beta."""
    x = RNG.standard_normal((1, 7, 1, 1))
    out, _ = local_response_norm_forward(x, 4, alpha=0.3, beta=0.6, k=2.0)
    v = x[0, :, 0, 0]
    for c in range(7):
        window = v[max(c - 2, 0):c + 2]  # c - 4 // 2 .. c + (4 - 1) // 2
        assert np.isclose(out[0, c, 0, 0], v[c] / (2.0 + 0.3 / 4 * np.sum(window ** 2)) ** 0.6)


def test_lrn_is_the_identity_when_alpha_is_zero_and_k_one():
    x = RNG.standard_normal((2, 3, 2, 2))
    np.testing.assert_array_equal(local_response_norm_forward(x, 3, alpha=0.0)[0], x)


def test_lrn_layer_matches_torch_module():
    layer = LocalResponseNorm(3, alpha=0.5, beta=0.75, k=1.0)
    twin = torch.nn.LocalResponseNorm(3, alpha=0.5, beta=0.75, k=1.0)
    x = RNG.standard_normal((2, 5, 3, 3))
    xt = torch.tensor(x, requires_grad=True)
    out_t = twin(xt)
    dout = RNG.standard_normal(x.shape)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(layer(x), out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert layer.num_parameters() == 0 and repr(layer) == "LocalResponseNorm(3, alpha=0.5, beta=0.75, k=1.0)"


def test_lrn_layer_used_twice_keeps_two_caches():
    layer = LocalResponseNorm(2, alpha=1.0)
    x1, x2 = RNG.standard_normal((2, 2, 3, 4, 4))
    layer(x1)
    layer(x2)
    dout = RNG.standard_normal(x1.shape)
    np.testing.assert_array_equal(layer.backward(dout),
                                  local_response_norm_backward(dout, local_response_norm_forward(x2, 2, alpha=1.0)[1]))
    np.testing.assert_array_equal(layer.backward(dout),
                                  local_response_norm_backward(dout, local_response_norm_forward(x1, 2, alpha=1.0)[1]))


def test_lrn_float32_stays_float32():
    x = RNG.standard_normal((2, 3, 2, 2)).astype(np.float32)
    out, cache = local_response_norm_forward(x, 3)
    assert out.dtype == np.float32
    assert local_response_norm_backward(np.ones_like(out), cache).dtype == np.float32
    check_gradients(lambda x: local_response_norm_forward(x, 3, alpha=1.0),
                    local_response_norm_backward, [x.astype(np.float64)])


@pytest.mark.parametrize("call, exc, words", [
    (lambda: local_response_norm_forward(np.ones((2, 3)), 2), ValueError,
     "local_response_norm_forward: x must have at least 3 dimensions (N, C, ...), as in torch, but has 2"),
    (lambda: local_response_norm_forward(np.ones((2, 3, 4)), 0), ValueError,
     "local_response_norm_forward: size must be an integer >= 1 and <= 1000000, got 0"),
    (lambda: local_response_norm_forward(np.ones((2, 3, 4)), 2.0), TypeError,
     "local_response_norm_forward: size must be an integer >= 1 and <= 1000000, got 2.0"),
    (lambda: local_response_norm_forward(np.ones((2, 3, 4)), 2, alpha=-1.0), ValueError,
     "local_response_norm_forward: alpha must be a number >= 0, got -1.0"),
    (lambda: local_response_norm_forward(np.ones((2, 3, 4)), 2, beta="0.75"), TypeError,
     "local_response_norm_forward: beta must be a number >= 0"),
    (lambda: local_response_norm_forward(np.ones((2, 3, 4)), 2, k=0.0), ValueError,
     "local_response_norm_forward: k must be a number > 0, got 0.0"),
    (lambda: local_response_norm_forward(np.ones((2, 3, 4)) + 1j, 2), TypeError,
     "local_response_norm_forward: x must have a numeric dtype"),
    (lambda: local_response_norm_backward(np.ones((2, 3)), local_response_norm_forward(np.ones((2, 3, 4)), 2)[1]),
     ValueError, "local_response_norm_backward: dout must have shape (2, 3, 4)"),
    (lambda: LocalResponseNorm(-1), ValueError, "LocalResponseNorm: size must be an integer >= 1"),
    (lambda: LocalResponseNorm(3, k=float("nan")), ValueError, "LocalResponseNorm: k must be a number > 0"),
])
def test_lrn_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)
