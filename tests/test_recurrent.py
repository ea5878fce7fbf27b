"""The recurrent convolutional layer (Liang & Hu): T = 0 is a plain convolution, the
recurrence equals its unrolled stack, gradients by finite differences and against a
PyTorch RCL with the same weights, the recurrent weight SHARED over the steps (a check
that fails an unshared layer), the receptive field 3 + 2t at a constant parameter count,
and bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.activations import relu_forward
from cnnbook.conv import Conv2d, conv2d_backward, conv2d_forward
from cnnbook.gradcheck import check_gradients
from cnnbook.lrn import local_response_norm_forward
from cnnbook.module import Module
from cnnbook.recurrent import RecurrentConv2d
from helpers import module_as_kernel

RNG = np.random.default_rng(0)
F64 = np.float64


pytestmark = pytest.mark.usefixtures("torch_float64")  # conftest.py: twins in float64


def rcl(c_in=2, c_out=4, k=3, steps=2, lrn=True, seed=1):
    return RecurrentConv2d(c_in, c_out, k, steps=steps, lrn=lrn, rng=seed, dtype=F64)


def g_f(z, layer):
    """ReLU, then the layer's LRN (if any), with the kernels."""
    x = relu_forward(z)[0]
    if layer.norm is None:
        return x
    n = layer.norm
    return local_response_norm_forward(x, n.size, alpha=n.alpha, beta=n.beta, k=n.k)[0]


class TorchRCL(nn.Module):
    """The same layer in PyTorch: one weight tensor per kernel, used at every step, so
    autograd sums the steps' gradients by itself."""

    def __init__(self, c_in, c_out, k, steps, lrn):
        super().__init__()
        self.feedforward = nn.Conv2d(c_in, c_out, k, padding="same")
        self.recurrent = nn.Conv2d(c_out, c_out, k, padding="same", bias=False) if steps else None
        self.norm = nn.LocalResponseNorm(c_out // 8 + 1, alpha=0.001, beta=0.75, k=1.0) if lrn else None
        self.steps = steps

    def g_f(self, z):
        x = F.relu(z)
        return x if self.norm is None else self.norm(x)

    def forward(self, u):
        ff = self.feedforward(u)
        x = self.g_f(ff)
        for _ in range(self.steps):
            x = self.g_f(ff + self.recurrent(x))
        return x


def torch_twin(layer):
    twin = TorchRCL(layer.in_channels, layer.out_channels, layer.kernel_size, layer.steps,
                    layer.norm is not None)
    twin.load_state_dict({k: torch.tensor(v) for k, v in layer.state_dict().items()})
    return twin


# -- the definition ------------------------------------------------------------------------
@pytest.mark.parametrize("lrn", [True, False])
def test_zero_steps_is_a_plain_convolution_relu_and_lrn(lrn):
    layer = rcl(steps=0, lrn=lrn)
    u = RNG.standard_normal((2, 2, 6, 5))
    conv, _ = conv2d_forward(u, layer.feedforward.params["weight"], layer.feedforward.params["bias"],
                             padding=1)
    np.testing.assert_array_equal(layer(u), g_f(conv, layer))
    assert layer.recurrent is None and layer.num_parameters() == 4 * 2 * 9 + 4


@pytest.mark.parametrize("steps, lrn", [(1, True), (3, True), (4, False)])
def test_the_recurrence_equals_its_unrolled_stack(steps, lrn):
    """Chen: "expanded into t regular convolution operations ... identical weights". The
    unrolled stack is written with the kernels, one convolution per step, every step
    given the same w_r and the same feed-forward term w_f * u + b."""
    layer = rcl(steps=steps, lrn=lrn)
    u = RNG.standard_normal((2, 2, 5, 5))
    wf, b = layer.feedforward.params["weight"], layer.feedforward.params["bias"]
    wr = layer.recurrent.params["weight"]
    ff, _ = conv2d_forward(u, wf, b, padding=1)
    x = g_f(ff, layer)
    for _ in range(steps):  # x(t) = g(f(w_f * u + w_r * x(t-1) + b))
        x = g_f(conv2d_forward(u, wf, b, padding=1)[0] + conv2d_forward(x, wr, padding=1)[0], layer)
    np.testing.assert_allclose(layer(u), x, rtol=1e-13, atol=1e-15)


# -- gradients -------------------------------------------------------------------------------
@pytest.mark.parametrize("steps, lrn, k", [(0, True, 3), (1, True, 3), (3, True, 3), (2, False, 3),
                                           (2, True, 5)])
def test_finite_differences_for_the_input_and_every_parameter(steps, lrn, k):
    layer = rcl(steps=steps, lrn=lrn, k=k)
    forward, backward, params = module_as_kernel(layer)
    u = RNG.standard_normal((2, 2, 5, 4))
    check_gradients(forward, backward, [u, *params])


@pytest.mark.parametrize("steps, lrn", [(0, True), (1, True), (3, True), (4, False)])
def test_forward_and_every_gradient_match_pytorch(steps, lrn):
    layer = rcl(c_in=3, c_out=9, steps=steps, lrn=lrn)  # 9 channels: an LRN window of 2
    twin = torch_twin(layer)
    u = RNG.standard_normal((3, 3, 6, 5))
    for _ in range(2):  # twice: zero_grad clears, nothing carries over
        layer.zero_grad()
        twin.zero_grad()
        ut = torch.tensor(u, requires_grad=True)
        out_t = twin(ut)
        dout = RNG.standard_normal(out_t.shape)
        out_t.backward(torch.tensor(dout))
        np.testing.assert_allclose(layer(u), out_t.detach().numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.backward(dout), ut.grad.numpy(), rtol=0, atol=1e-11)
        t_params = dict(twin.named_parameters())
        names = [n for n, _ in layer.named_parameters()]
        assert names == list(t_params)
        for (name, _), (_, grads, key) in zip(layer.named_parameters(), layer.parameters()):
            np.testing.assert_allclose(grads[key], t_params[name].grad.numpy(), rtol=0,
                                       atol=1e-11, err_msg=name)


def test_the_shared_kernels_gradient_is_the_sum_of_the_steps_gradients():
    """Backprop through time with the kernels, one step at a time: dL/dw_r is the sum of
    the T per-step gradients, dL/dw_f the sum of T + 1 (the fan-out rule of chapter 4)."""
    layer = rcl(steps=3, lrn=False)
    u = RNG.standard_normal((2, 2, 5, 5))
    wf, b = layer.feedforward.params["weight"], layer.feedforward.params["bias"]
    wr = layer.recurrent.params["weight"]
    # forward with one cache per step
    ff, ff_cache = conv2d_forward(u, wf, b, padding=1)
    xs, caches = [np.maximum(ff, 0)], []
    for _ in range(3):
        r, cache = conv2d_forward(xs[-1], wr, padding=1)
        caches.append(cache)
        xs.append(np.maximum(ff + r, 0))
    dout = RNG.standard_normal(xs[-1].shape)
    dx, dff, per_step = dout, np.zeros_like(ff), []
    for t in range(3, 0, -1):
        dz = dx * (ff + conv2d_forward(xs[t - 1], wr, padding=1)[0] > 0)
        dff += dz
        dx, dwr_t, _ = conv2d_backward(dz, caches[t - 1])
        per_step.append(dwr_t)
    dff += dx * (ff > 0)
    _, dwf, db = conv2d_backward(dff, ff_cache)

    layer.zero_grad()
    layer(u)
    layer.backward(dout)
    assert len(per_step) == 3 and not np.allclose(per_step[0], per_step[1])
    np.testing.assert_allclose(layer.recurrent.grads["weight"], sum(per_step), rtol=1e-12)
    np.testing.assert_allclose(layer.feedforward.grads["weight"], dwf, rtol=1e-12)
    np.testing.assert_allclose(layer.feedforward.grads["bias"], db, rtol=1e-12)


# -- the weight is shared: a check that an unshared layer fails -------------------------------
class UnsharedRCL(Module):
    """A WRONG recurrent layer: one recurrent Conv2d per step (copies of the same initial
    weight, so its first forward equals the shared layer's), each learning alone."""

    def __init__(self, shared: RecurrentConv2d):
        super().__init__()
        self.feedforward = shared.feedforward
        self.norm, self.relu = shared.norm, shared.relu
        self.steps = shared.steps
        self.recurrent = []
        for _ in range(shared.steps):
            conv = Conv2d(shared.out_channels, shared.out_channels, 3, padding="same", bias=False,
                          dtype=F64)
            conv.params["weight"][...] = shared.recurrent.params["weight"]
            self.recurrent.append(conv)

    _g_f, _g_f_backward = RecurrentConv2d._g_f, RecurrentConv2d._g_f_backward

    def forward(self, u):
        ff = self.feedforward.forward(u)
        x = self._g_f(ff)
        for conv in self.recurrent:
            x = self._g_f(ff + conv.forward(x))
        return x

    def backward(self, dout):
        dx, dff = dout, np.zeros_like(dout)
        for conv in reversed(self.recurrent):
            dz = self._g_f_backward(dx)
            dff = dff + dz
            dx = conv.backward(dz)
        return self.feedforward.backward(dff + self._g_f_backward(dx))


class LastStepOnlyRCL(RecurrentConv2d):
    """A WRONG backward: one weight, but its gradient overwritten at every step, so only
    the gradient of step 1 (the last one computed) is kept."""

    def backward(self, dout):
        dx, dff = dout, np.zeros_like(dout)
        for _ in range(self.steps):
            dz = self._g_f_backward(dx)
            dff = dff + dz
            self.recurrent.grads["weight"] = np.zeros_like(self.recurrent.params["weight"])
            dx = self.recurrent.backward(dz)
        return self.feedforward.backward(dff + self._g_f_backward(dx))


def assert_recurrent_weight_shared(layer, make_reference):
    """The weight-sharing contract of an RCL with T >= 2 steps:
    1. as many learnable scalars as the layer with ONE step (w_f, b and one w_r);
    2. dL/dw_r (wherever the layer keeps it) equals that of a reference where w_r is one
       tensor used at every step (PyTorch autograd: the sum over the steps)."""
    one_step = make_reference(1)
    assert layer.num_parameters() == one_step.num_parameters(), (
        f"{layer.num_parameters()} parameters but {one_step.num_parameters()} with one step: "
        "the recurrent weight is not shared")
    twin = torch_twin(make_reference(layer.steps))
    u = np.random.default_rng(7).standard_normal((2, layer.feedforward.in_channels, 5, 5))
    ut = torch.tensor(u)
    out_t = twin(ut)
    dout = np.random.default_rng(8).standard_normal(out_t.shape)
    out_t.backward(torch.tensor(dout))
    layer.zero_grad()
    np.testing.assert_allclose(layer(u), out_t.detach().numpy(), atol=1e-12)
    layer.backward(dout)
    grads = [g[k] for _, g, k in layer.parameters()]
    assert len(grads) == 3
    np.testing.assert_allclose(grads[2], twin.recurrent.weight.grad.numpy(), atol=1e-11,
                               err_msg="dL/dw_r is not the sum over the steps")


@pytest.mark.parametrize("lrn", [True, False])
def test_the_recurrent_layer_shares_its_weight(lrn):
    assert_recurrent_weight_shared(rcl(steps=3, lrn=lrn), lambda s: rcl(steps=s, lrn=lrn))


def test_the_sharing_check_fails_a_layer_with_one_weight_per_step():
    shared = rcl(steps=3)
    unshared = UnsharedRCL(rcl(steps=3))
    u = RNG.standard_normal((2, 2, 5, 5))
    np.testing.assert_array_equal(unshared(u), shared(u))  # a forward test cannot tell them apart
    assert unshared.num_parameters() == shared.num_parameters() + 2 * 4 * 4 * 9
    with pytest.raises(AssertionError, match="not shared"):
        assert_recurrent_weight_shared(unshared, lambda s: rcl(steps=s))


def test_the_sharing_check_fails_a_backward_that_keeps_one_steps_gradient():
    bad = LastStepOnlyRCL(2, 4, 3, steps=3, rng=1, dtype=F64)
    with pytest.raises(AssertionError, match="not the sum over the steps"):
        assert_recurrent_weight_shared(bad, lambda s: rcl(steps=s))


# -- receptive field -------------------------------------------------------------------------
def receptive_field(layer, size=31):
    """Rows of the input that reach the centre output pixel: the support of the gradient of
    that one output (a unit dout there, zeros elsewhere)."""
    for p, _, k in layer.parameters():
        p[k][...] = np.abs(p[k]) + 0.1  # positive weights: ReLU passes, nothing cancels
    u = np.ones((1, layer.in_channels, size, size))
    out = layer(u)
    dout = np.zeros_like(out)
    dout[0, 0, size // 2, size // 2] = 1.0
    du = layer.backward(dout)
    rows = np.flatnonzero(np.abs(du[0]).sum(axis=(0, 2)) > 0)
    cols = np.flatnonzero(np.abs(du[0]).sum(axis=(0, 1)) > 0)
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.mark.parametrize("k", [3, 5])
def test_receptive_field_grows_by_k_minus_1_per_step_at_a_constant_parameter_count(k):
    counts = set()
    for t in range(6):
        layer = rcl(c_in=1, c_out=2, k=k, steps=t)
        assert receptive_field(layer) == (k + (k - 1) * t,) * 2  # 3 + 2t for k = 3
        if t >= 1:
            counts.add(layer.num_parameters())
    assert counts == {2 * 1 * k * k + 2 + 2 * 2 * k * k}


# -- dtypes, repr, bad input ------------------------------------------------------------------
def test_float32_layer_gives_float32():
    layer = RecurrentConv2d(1, 3, steps=2, rng=0)
    out = layer(np.ones((2, 1, 4, 4), np.float32))
    assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32
    assert repr(layer).startswith("RecurrentConv2d(\n  1, 3, kernel_size=(3, 3), steps=2, lrn=True")


@pytest.mark.parametrize("call, exc, words", [
    (lambda: RecurrentConv2d(1, 2, steps=-1), ValueError, "RecurrentConv2d: steps must be an integer >= 0 and <= 1000, got -1"),
    (lambda: RecurrentConv2d(1, 2, steps=1.5), TypeError, "RecurrentConv2d: steps must be an integer >= 0"),
    (lambda: RecurrentConv2d(1, 2, lrn="no"), TypeError, "RecurrentConv2d: lrn must be True or False"),
    (lambda: RecurrentConv2d(0, 2), ValueError, "RecurrentConv2d: in_channels must be an integer >= 1"),
    (lambda: RecurrentConv2d(1, 2, kernel_size=(3,)), ValueError, "RecurrentConv2d: kernel_size must be an int or a pair"),
    (lambda: RecurrentConv2d(1, 2, dtype=np.int64), TypeError, "RecurrentConv2d: dtype must be np.float32 or np.float64"),
    (lambda: RecurrentConv2d(1, 2, rng="seed"), TypeError, "RecurrentConv2d: rng must be None"),
    (lambda: RecurrentConv2d(1, 2)(np.ones((2, 3, 4, 4))), ValueError,
     "conv2d_forward: weight has 1 input channels but x has 3"),
    (lambda: RecurrentConv2d(1, 2)(np.ones((3, 4, 4))), ValueError, "conv2d_forward: x must have 4 dimensions"),
    (lambda: RecurrentConv2d(1, 2).backward(np.ones((1, 2, 4, 4))), RuntimeError,
     "backward called before forward"),
])
def test_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value)


def test_backward_refuses_a_dout_of_another_shape():
    layer = RecurrentConv2d(1, 2, steps=2, rng=0, dtype=F64)
    layer(np.ones((2, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 2, 4, 4\)"):
        layer.backward(np.ones((1, 2, 4, 4)))
