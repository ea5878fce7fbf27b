"""The RCNN of chapter 9 and its baselines (cnnbook.models.rcnn): layouts and parameter
counts, forward and every gradient against a PyTorch twin, finite differences, bad input."""
import numpy as np
import pytest
import torch

from cnnbook.gradcheck import check_gradients
from cnnbook.models import rcnn
from cnnbook.recurrent import RecurrentConv2d
from helpers import module_as_kernel, to_float64
from sweep_layers import torch_rcnn


pytestmark = pytest.mark.usefixtures("torch_float64")  # conftest.py: twins in float64


def test_parameter_counts_of_the_chapter_arms():
    stem, head = 16 * 25 + 16, 16 * 49 * 10 + 10
    rcl = rcnn(rng=0, steps=3)
    assert isinstance(rcl[3], RecurrentConv2d)
    assert rcl.num_parameters() == stem + (16 * 16 * 9 + 16) + 16 * 16 * 9 + head == 12_890
    assert rcnn(rng=0, steps=1).num_parameters() == rcnn(rng=0, steps=4).num_parameters() == 12_890
    assert rcnn(rng=0, steps=0).num_parameters() == 12_890 - 16 * 16 * 9  # no w_r
    assert rcnn(rng=0, block="stack").num_parameters() == 12_890 + 16  # a second bias
    assert rcnn(rng=0, block="wide", wide_channels=20).num_parameters() == (
        stem + 16 * 9 * 20 + 20 + 20 * 49 * 10 + 10)


@pytest.mark.parametrize("kwargs", [dict(steps=2), dict(steps=0), dict(block="stack"),
                                    dict(block="wide", wide_channels=5)])
def test_forward_and_every_gradient_match_pytorch(kwargs):
    ours = to_float64(rcnn(rng=1, channels=4, **kwargs))
    theirs = torch_rcnn(channels=4, **kwargs)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(2).random((2, 1, 28, 28))
    xt = torch.tensor(x, requires_grad=True)
    out = theirs(xt)
    dout = np.random.default_rng(3).standard_normal(out.shape)
    out.backward(torch.tensor(dout))
    np.testing.assert_allclose(ours.forward(x), out.detach().numpy(), rtol=0, atol=1e-11)
    np.testing.assert_allclose(ours.backward(dout), xt.grad.numpy(), rtol=0, atol=1e-11)
    t_params = dict(theirs.named_parameters())
    for name, grad in ((f"{n}.{k}", m.grads[k]) for n, m in ours.named_modules() for k in m.params):
        np.testing.assert_allclose(grad, t_params[name].grad.numpy(), rtol=0, atol=1e-11, err_msg=name)


def test_finite_differences_through_the_whole_rcnn():
    model = to_float64(rcnn(rng=4, channels=2, steps=2, n_classes=3))
    forward, backward, params = module_as_kernel(model)
    x = np.random.default_rng(5).random((1, 1, 28, 28))
    check_gradients(forward, backward, [x, *params], wrt=[0, 3, 4, 5])


@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(block="gru"), ValueError, "rcnn: block must be one of ('rcl', 'stack', 'wide'), got 'gru'"),
    (dict(block="wide"), ValueError, "rcnn: block='wide' needs wide_channels"),
    (dict(wide_channels=8), ValueError, "rcnn: wide_channels is only for block='wide'"),
    (dict(steps=-1), ValueError, "rcnn: steps must be an integer >= 0 and <= 1000, got -1"),
    (dict(channels=2.0), TypeError, "rcnn: channels must be an integer >= 1"),
    (dict(n_classes=10**12), ValueError, "rcnn: a weight would have shape"),
    (dict(rng="seed"), TypeError, "rcnn: rng must be None"),
])
def test_bad_arguments(kwargs, exc, words):
    with pytest.raises(exc) as info:
        rcnn(**kwargs)
    assert words in str(info.value)
