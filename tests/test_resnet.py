"""residual_stack (chapter 7): its PyTorch twin with and without batch norm, finite
differences in float64, He initialization, and the two stacks sharing their weights."""
import numpy as np
import pytest
from torch import nn

from cnnbook.models import residual_stack
from helpers import TorchResidual, check_model_against_torch, to_float64



def torch_stack(n_blocks, channels, batch_norm):
    def conv():
        return nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def norm():
        return [nn.BatchNorm2d(channels)] if batch_norm else []

    return nn.Sequential(*[TorchResidual(nn.Sequential(conv(), *norm(), nn.ReLU(), conv(), *norm()))
                           for _ in range(n_blocks)]).double()


@pytest.mark.parametrize("batch_norm", [True, False])
def test_matches_torch(batch_norm):
    rng = np.random.default_rng(0)
    ours = to_float64(residual_stack(3, 4, batch_norm=batch_norm, rng=1))
    theirs = torch_stack(3, 4, batch_norm)
    for mode in (True, False):
        ours.train(mode), theirs.train(mode)
        check_model_against_torch(ours, theirs, rng.standard_normal((5, 4, 6, 6)), steps=1,
                                  grad_atol=1e-9)


@pytest.mark.parametrize("batch_norm", [True, False])
def test_gradients_by_finite_differences(batch_norm):
    rng = np.random.default_rng(2)
    model = to_float64(residual_stack(2, 2, batch_norm=batch_norm, rng=3))
    x = rng.standard_normal((3, 2, 4, 4))
    dout = rng.standard_normal(x.shape)
    arrays = [p[k] for p, _, k in model.parameters()]
    model.zero_grad()
    model.forward(x)
    dx = model.backward(dout)
    grads = [g[k].copy() for _, g, k in model.parameters()]
    h = 1e-6
    f = lambda x_: np.sum(model.forward(x_) * dout)  # noqa: E731
    numeric_dx = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        numeric_dx[i] = (f(x + e) - f(x - e)) / (2 * h)
    np.testing.assert_allclose(dx, numeric_dx, atol=1e-6, rtol=1e-5)
    for a, g in zip(arrays, grads):
        numeric = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + h
            plus = f(x)
            a[i] = old - h
            numeric[i] = (plus - f(x)) / (2 * h)
            a[i] = old
        np.testing.assert_allclose(g, numeric, atol=1e-6, rtol=1e-5)


def test_he_initialization_and_shared_weights():
    a = residual_stack(4, 16, rng=0)
    b = residual_stack(4, 16, batch_norm=True, rng=0)
    wa = [v for k, v in a.named_parameters() if v.ndim == 4]
    wb = [v for k, v in b.named_parameters() if v.ndim == 4]
    assert len(wa) == len(wb) == 8
    for u, v in zip(wa, wb):
        np.testing.assert_array_equal(u, v)
    w = np.concatenate([v.ravel() for v in wa])
    assert w.var() == pytest.approx(2 / (9 * 16), rel=0.03)
    assert b.num_parameters() - a.num_parameters() == 8 * 2 * 16


def test_errors():
    with pytest.raises(ValueError, match="residual_stack: n_blocks"):
        residual_stack(0)
    with pytest.raises(TypeError, match="residual_stack: channels"):
        residual_stack(2, 2.5)
    with pytest.raises(TypeError, match="residual_stack: batch_norm"):
        residual_stack(2, batch_norm="yes")
