"""Layers that compose: sub-modules found from attributes, PyTorch's names, shared layers,
a cache stack per layer, gradients that add up, and whole models checked against PyTorch.

Every composite model below is a class with attributes and a hand-written backward;
each is compared with its PyTorch twin (same attribute names, so the state_dict loads
across) on every parameter's gradient to 1e-10 in float64, and checked by finite
differences.
"""
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook import models, train
from cnnbook.models.vit import ViT
from cnnbook.activations import ReLU, Tanh
from cnnbook.batchnorm import BatchNorm1d, BatchNorm2d
from cnnbook.activations import relu_backward, relu_forward
from cnnbook.conv import Conv2d, conv2d_backward, conv2d_forward
from cnnbook.conv_transpose import ConvTranspose2d
from cnnbook.dense import Dense
from cnnbook.dropout import Dropout
from cnnbook.flatten import Flatten
from cnnbook.gradcheck import check_gradients
from cnnbook.losses import cross_entropy
from cnnbook.module import Module, Sequential, no_grad
from cnnbook.optim import SGD, Adam
from cnnbook.pool import GlobalAvgPool2d, MaxPool2d
from cnnbook.skip import ConcatSkip, Residual, concat_backward, concat_forward
from helpers import TorchResidual, check_model_against_torch, load_into_torch, module_as_kernel

F64 = dict(dtype=np.float64)


pytestmark = pytest.mark.usefixtures("torch_float64")  # conftest.py: twins in float64


# -- helpers ----------------------------------------------------------------------------
def check_model_by_finite_differences(model, x):
    """The model as a kernel in (x, *parameters): every gradient against central differences."""
    forward, backward, params = module_as_kernel(model)
    check_gradients(forward, backward, [x, *params])


def randomize(model, rng):
    """Random values for every parameter (batch norm's weight and bias included)."""
    for _, a in model.named_parameters():
        a[...] = rng.uniform(-1, 1, a.shape) if a.ndim > 1 else rng.uniform(0.5, 1.5, a.shape)


# -- (a) a residual block with batch norm, in training mode ------------------------------
class BasicBlock(Module):
    """ResNet's basic block: relu(x + bn2(conv2(relu(bn1(conv1(x))))))."""

    def __init__(self, channels, rng):
        super().__init__()
        self.conv1 = Conv2d(channels, channels, 3, padding=1, bias=False, rng=rng, **F64)
        self.bn1 = BatchNorm2d(channels, **F64)
        self.relu1 = ReLU()
        self.conv2 = Conv2d(channels, channels, 3, padding=1, bias=False, rng=rng, **F64)
        self.bn2 = BatchNorm2d(channels, **F64)
        self.relu2 = ReLU()

    def forward(self, x):
        h = self.relu1(self.bn1(self.conv1(x)))
        return self.relu2(x + self.bn2(self.conv2(h)))

    def backward(self, dout):
        d = self.relu2.backward(dout)
        # the addition copies d to both branches; at x they add up
        dh = self.conv1.backward(self.bn1.backward(self.relu1.backward(
            self.conv2.backward(self.bn2.backward(d)))))
        return d + dh


class TorchBasicBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu2 = nn.ReLU()

    def forward(self, x):
        return self.relu2(x + self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))))


class TorchConcatSkip(TorchResidual):
    def forward(self, x):
        return torch.cat([x, self.block(x)], dim=1)


def residual_pair(channels, rng):
    """The same block from Residual and Sequential, and its PyTorch twin."""
    def conv():
        return Conv2d(channels, channels, 3, padding=1, bias=False, rng=rng, **F64)

    def t_conv():
        return nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    ours = Sequential(Residual(Sequential(conv(), BatchNorm2d(channels, **F64), ReLU(),
                                          conv(), BatchNorm2d(channels, **F64))), ReLU())
    theirs = nn.Sequential(TorchResidual(nn.Sequential(t_conv(), nn.BatchNorm2d(channels), nn.ReLU(),
                                                       t_conv(), nn.BatchNorm2d(channels))), nn.ReLU())
    return ours, theirs


@pytest.mark.parametrize("build", [
    lambda rng: (BasicBlock(3, rng), TorchBasicBlock(3)),
    lambda rng: residual_pair(3, rng),
], ids=["hand-written", "Residual"])
def test_residual_block_with_batch_norm_matches_torch(build):
    rng = np.random.default_rng(1)
    ours, theirs = build(rng)
    randomize(ours, rng)
    x = rng.standard_normal((4, 3, 5, 5))
    check_model_against_torch(ours, theirs, x, steps=3)  # running statistics move each step
    assert all(m.training for _, m in ours.named_modules())


def test_residual_block_by_finite_differences():
    rng = np.random.default_rng(2)
    block = BasicBlock(2, rng)
    randomize(block, rng)
    check_model_by_finite_differences(block, rng.standard_normal((3, 2, 4, 4)))


# -- (b) one convolution applied three times (an unrolled recurrence) --------------------
class Unrolled(Module):
    """h <- relu(conv(h)), ``steps`` times with the same conv (and the same ReLU)."""

    def __init__(self, channels, steps, rng):
        super().__init__()
        self.conv = Conv2d(channels, channels, 3, padding=1, rng=rng, **F64)
        self.relu = ReLU()
        self.steps = steps

    def forward(self, h):
        for _ in range(self.steps):
            h = self.relu(self.conv(h))
        return h

    def backward(self, dout):
        for _ in range(self.steps):  # the loop read backwards: last use first
            dout = self.conv.backward(self.relu.backward(dout))
        return dout


class TorchUnrolled(nn.Module):
    def __init__(self, channels, steps):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU()
        self.steps = steps

    def forward(self, h):
        for _ in range(self.steps):
            h = self.relu(self.conv(h))
        return h


def test_shared_conv_gets_the_sum_of_its_three_gradients_like_torch():
    rng = np.random.default_rng(3)
    ours, theirs = Unrolled(2, 3, rng), TorchUnrolled(2, 3)
    ours.conv.params["bias"][...] = 0.2  # keep most units alive through three ReLUs
    x = rng.standard_normal((2, 2, 5, 5))
    check_model_against_torch(ours, theirs, x)
    assert len(ours.parameters()) == 2 and ours.num_parameters() == 2 * 2 * 9 + 2
    # the same by the kernels: one cache per use, the weight's gradient summed over uses
    w, b = ours.conv.params["weight"], ours.conv.params["bias"]
    h, caches = x, []
    for _ in range(3):
        z, conv_cache = conv2d_forward(h, w, b, padding=1)
        h, relu_cache = relu_forward(z)
        caches.append((conv_cache, relu_cache))
    dout, dweights = np.ones_like(h), []
    for conv_cache, relu_cache in reversed(caches):
        dout, dweight, _ = conv2d_backward(relu_backward(dout, relu_cache), conv_cache)
        dweights.append(dweight)
    ours.zero_grad()
    ours(x)
    np.testing.assert_allclose(ours.backward(np.ones_like(h)), dout, rtol=1e-12)
    np.testing.assert_allclose(ours.conv.grads["weight"], sum(dweights), rtol=1e-12)
    assert not np.allclose(ours.conv.grads["weight"], dweights[-1])  # not one use's alone


def test_unrolled_conv_by_finite_differences():
    rng = np.random.default_rng(4)
    model = Unrolled(2, 3, rng)
    model.conv.params["bias"][...] = 0.2
    check_model_by_finite_differences(model, rng.standard_normal((2, 2, 4, 4)))


# -- (c) a two-level encoder-decoder with concatenation skips ----------------------------
class TinyUNet(Module):
    """Two levels: the outer skip written with the concat kernels, the inner a ConcatSkip.

    (N, 1, 8, 8) -> enc1 (N, 2, 8, 8) -> pool, enc2 (N, 3, 4, 4) -> [itself, pool, conv,
    up] (N, 6, 4, 4) -> dec2 (N, 3, 4, 4) -> up (N, 2, 8, 8) -> [enc1's maps, it]
    (N, 4, 8, 8) -> dec1 (N, 2, 8, 8).
    """

    def __init__(self, rng):
        super().__init__()
        self.enc1 = Conv2d(1, 2, 3, padding=1, rng=rng, **F64)
        self.relu1 = ReLU()
        self.down = MaxPool2d(2)
        self.enc2 = Conv2d(2, 3, 3, padding=1, rng=rng, **F64)
        self.relu2 = ReLU()
        self.inner = ConcatSkip(Sequential(MaxPool2d(2), Conv2d(3, 3, 3, padding=1, rng=rng, **F64),
                                           ReLU(), ConvTranspose2d(3, 3, 2, stride=2, rng=rng, **F64)))
        self.dec2 = Conv2d(6, 3, 3, padding=1, rng=rng, **F64)
        self.relu3 = ReLU()
        self.up = ConvTranspose2d(3, 2, 2, stride=2, rng=rng, **F64)
        self.dec1 = Conv2d(4, 2, 3, padding=1, rng=rng, **F64)

    def forward(self, x):
        skip = self.relu1(self.enc1(x))                          # (N, 2, 8, 8)
        h = self.relu2(self.enc2(self.down(skip)))               # (N, 3, 4, 4)
        h = self.relu3(self.dec2(self.inner(h)))                 # (N, 6, 4, 4) -> (N, 3, 4, 4)
        cat, cache = concat_forward([skip, self.up(h)], axis=1)  # (N, 4, 8, 8)
        self._push_cache(cache)
        return self.dec1(cat)                                    # (N, 2, 8, 8)

    def backward(self, dout):
        # the concatenation splits the gradient: enc1's channels, and the up branch's
        dskip, dup = concat_backward(self.dec1.backward(dout), self._pop_cache())
        dh = self.inner.backward(self.dec2.backward(self.relu3.backward(self.up.backward(dup))))
        # skip fed both the concatenation and the lower level: the two gradients add up
        dskip = dskip + self.down.backward(self.enc2.backward(self.relu2.backward(dh)))
        return self.enc1.backward(self.relu1.backward(dskip))


class TorchTinyUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc1, self.relu1, self.down = nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        self.enc2, self.relu2 = nn.Conv2d(2, 3, 3, padding=1), nn.ReLU()
        self.inner = TorchConcatSkip(nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(3, 3, 3, padding=1),
                                                   nn.ReLU(), nn.ConvTranspose2d(3, 3, 2, stride=2)))
        self.dec2, self.relu3 = nn.Conv2d(6, 3, 3, padding=1), nn.ReLU()
        self.up = nn.ConvTranspose2d(3, 2, 2, stride=2)
        self.dec1 = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x):
        skip = self.relu1(self.enc1(x))
        h = self.relu3(self.dec2(self.inner(self.relu2(self.enc2(self.down(skip))))))
        return self.dec1(torch.cat([skip, self.up(h)], dim=1))


def test_encoder_decoder_with_concatenation_skips_matches_torch():
    rng = np.random.default_rng(5)
    ours = TinyUNet(rng)
    assert [n for n, _ in ours.named_parameters()][4:8] == [
        "inner.block.1.weight", "inner.block.1.bias", "inner.block.3.weight", "inner.block.3.bias"]
    check_model_against_torch(ours, TorchTinyUNet(), rng.standard_normal((2, 1, 8, 8)))


def test_encoder_decoder_by_finite_differences():
    rng = np.random.default_rng(6)
    check_model_by_finite_differences(TinyUNet(rng), rng.standard_normal((2, 1, 8, 8)))


# -- (d) a list of blocks, a dict head, one ReLU used three times, Adam -----------------
class Stack(Module):
    def __init__(self, rng, n_blocks=2):
        super().__init__()
        self.stem = Conv2d(1, 3, 3, padding=1, rng=rng, **F64)
        self.act = ReLU()  # one ReLU for the whole model: a stack of caches
        self.blocks = [Residual(Sequential(Conv2d(3, 3, 3, padding=1, rng=rng, **F64), Tanh(),
                                           Conv2d(3, 3, 3, padding=1, rng=rng, **F64)))
                       for _ in range(n_blocks)]
        self.head = {"pool": GlobalAvgPool2d(), "fc": Dense(3, 4, rng=rng, **F64)}

    def forward(self, x):
        h = self.act(self.stem(x))
        for block in self.blocks:
            h = self.act(block(h))
        return self.head["fc"](self.head["pool"](h))

    def backward(self, dout):
        d = self.head["pool"].backward(self.head["fc"].backward(dout))
        for block in reversed(self.blocks):
            d = block.backward(self.act.backward(d))
        return self.stem.backward(self.act.backward(d))


class TorchStack(nn.Module):
    def __init__(self, n_blocks=2):
        super().__init__()
        self.stem, self.act = nn.Conv2d(1, 3, 3, padding=1), nn.ReLU()
        self.blocks = nn.ModuleList(TorchResidual(nn.Sequential(
            nn.Conv2d(3, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 3, 3, padding=1)))
            for _ in range(n_blocks))
        self.head = nn.ModuleDict({"pool": nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
                                   "fc": nn.Linear(3, 4)})

    def forward(self, x):
        h = self.act(self.stem(x))
        for block in self.blocks:
            h = self.act(block(h))
        return self.head["fc"](self.head["pool"](h))


def test_list_of_blocks_trains_with_adam_exactly_like_torch():
    rng = np.random.default_rng(7)
    ours, theirs = Stack(rng), TorchStack()
    load_into_torch(ours, theirs)
    opt = Adam(ours.parameters(), lr=0.02)
    t_opt = torch.optim.Adam(theirs.parameters(), lr=0.02)
    assert len(opt.params) == len(list(theirs.parameters())) == 12
    for step in range(4):
        x, y = rng.standard_normal((6, 1, 5, 5)), rng.integers(0, 4, 6)
        ours.zero_grad()
        loss, dlogits = cross_entropy(ours(x), y)
        ours.backward(dlogits)
        opt.step()
        t_opt.zero_grad()
        t_loss = F.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        t_loss.backward()
        t_opt.step()
        assert loss == pytest.approx(t_loss.item(), rel=1e-12)
        t_params = dict(theirs.named_parameters())
        for name, value in ours.named_parameters():
            np.testing.assert_allclose(value, t_params[name].detach().numpy(), rtol=0, atol=1e-10,
                                       err_msg=f"{name} after step {step + 1}")


def test_stack_by_finite_differences():
    rng = np.random.default_rng(8)
    check_model_by_finite_differences(Stack(rng, n_blocks=1), rng.standard_normal((2, 1, 4, 4)))


class GradSpy(Stack):
    """Records, at every forward, whether all gradients were zero."""

    def __init__(self, rng):
        super().__init__(rng)
        self.zero_at_forward = []

    def forward(self, x):
        self.zero_at_forward.append(all(not g[k].any() for _, g, k in self.parameters()))
        return super().forward(x)


def test_fit_zeroes_the_grads_every_step():
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((12, 1, 5, 5)), rng.integers(0, 4, 12)
    ours, theirs = GradSpy(rng), TorchStack()
    load_into_torch(ours, theirs)
    train.fit(ours, cross_entropy, SGD(ours.parameters(), lr=0.1, momentum=0.9), (X, y), epochs=2,
              batch_size=4, shuffle=False, progress="off")
    assert ours.zero_at_forward == [True] * 6
    t_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        for s in range(0, 12, 4):
            t_opt.zero_grad()
            F.cross_entropy(theirs(torch.tensor(X[s:s + 4])), torch.tensor(y[s:s + 4])).backward()
            t_opt.step()
    t_params = dict(theirs.named_parameters())
    for name, value in ours.named_parameters():
        np.testing.assert_allclose(value, t_params[name].detach().numpy(), rtol=0, atol=1e-10,
                                   err_msg=name)


# -- finding sub-modules and naming them as PyTorch ---------------------------------------
class Nested(Module):
    def __init__(self):
        super().__init__()
        self.sizes = [3, 4]  # a list of numbers: not sub-modules
        self.conv = Conv2d(1, 2, 3, rng=0)
        self.bn = BatchNorm2d(2)
        self.layers = [Dense(8, 8, rng=1), ReLU(), Dense(8, 4, rng=2)]
        self.pair = (Dropout(0.1), Dense(4, 4, rng=3))
        self.heads = {"a": Dense(4, 2, rng=4), "b": Sequential(Dense(4, 3, rng=5), BatchNorm1d(3))}
        self.block = Residual(Sequential(Dense(4, 4, rng=6), Tanh()))


class TorchNested(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)
        self.layers = nn.ModuleList([nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4)])
        self.pair = nn.ModuleList([nn.Dropout(0.1), nn.Linear(4, 4)])
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2),
                                    "b": nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))})
        self.block = TorchResidual(nn.Sequential(nn.Linear(4, 4), nn.Tanh()))


def test_attributes_lists_tuples_dicts_and_nesting_are_found_with_torchs_names():
    ours, theirs = Nested(), TorchNested()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())  # buffers included, same order
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())
    assert [n for n, _ in ours.named_children()] == [
        "conv", "bn", "layers.0", "layers.1", "layers.2", "pair.0", "pair.1", "heads.a", "heads.b",
        "block"]
    assert len(ours.children()) == 10 and len(list(ours.named_modules())) == 1 + 10 + 2 + 3
    ours.eval()
    assert not any(m.training for _, m in ours.named_modules())
    ours.train()
    assert all(m.training for _, m in ours.named_modules())
    assert "(heads.b): Sequential(\n    (0): Dense(" in repr(ours)


def test_a_sequential_subclass_keeps_its_other_sub_modules():
    class WithHead(Sequential):
        def __init__(self):
            super().__init__(Dense(2, 3), ReLU())
            self.head = Dense(3, 1)

    assert [n for n, _ in WithHead().named_parameters()] == ["0.weight", "0.bias", "head.weight",
                                                             "head.bias"]


def test_state_dict_round_trip_with_buffers_through_torch():
    rng = np.random.default_rng(10)
    ours = Nested()
    ours.heads["b"][1].buffers["running_mean"][...] = rng.standard_normal(3)
    ours.bn.buffers["num_batches_tracked"][...] = 7
    theirs = TorchNested()
    load_into_torch(ours, theirs)
    back = Nested()
    back.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k], v, err_msg=k)
    assert back.bn.buffers["num_batches_tracked"] == 7


class Shared(Module):
    """One Dense reachable three times: as two attributes and in a list."""

    def __init__(self):
        super().__init__()
        self.first = Dense(3, 3, rng=0, **F64)
        self.again = self.first
        self.layers = [self.first, Tanh()]

    def forward(self, x):
        return self.layers[1](self.again(self.first(x)))

    def backward(self, dout):
        return self.first.backward(self.again.backward(self.layers[1].backward(dout)))


class TorchShared(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 3)
        self.again = self.first
        self.layers = nn.ModuleList([self.first, nn.Tanh()])

    def forward(self, x):
        return self.layers[1](self.again(self.first(x)))


def test_a_shared_module_is_counted_once_and_stepped_once():
    ours, theirs = Shared(), TorchShared()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()] \
        == ["first.weight", "first.bias"]
    assert len(ours.parameters()) == 2 and ours.num_parameters() == 12
    assert list(ours.state_dict()) == list(theirs.state_dict())  # under every name, as torch
    check_model_against_torch(ours, theirs, np.random.default_rng(11).standard_normal((4, 3)))
    weight = ours.first.params["weight"].copy()
    SGD(ours, lr=0.5).step()
    np.testing.assert_allclose(ours.first.params["weight"], weight - 0.5 * ours.first.grads["weight"])


# -- the cache stack ---------------------------------------------------------------------
def test_k_forwards_then_k_backwards_last_in_first_out():
    rng = np.random.default_rng(12)
    layer = Dense(3, 2, rng=0, **F64)
    xs = [rng.standard_normal((4, 3)) for _ in range(3)]
    for x in xs:
        layer(x)
    assert len(layer._caches) == 3
    douts = [rng.standard_normal((4, 2)) for _ in range(3)]
    for x, dout in zip(reversed(xs), douts):  # the latest forward is backpropagated first
        np.testing.assert_allclose(layer.backward(dout), dout @ layer.params["weight"])
    expected = sum(d.T @ x for x, d in zip(reversed(xs), douts))  # the weight's three uses
    np.testing.assert_allclose(layer.grads["weight"], expected, rtol=1e-12)
    np.testing.assert_allclose(layer.grads["bias"], sum(d.sum(axis=0) for d in douts), rtol=1e-12)
    with pytest.raises(RuntimeError, match="Dense.backward called before forward: no forward cache"):
        layer.backward(douts[0])


LAYERS = [
    lambda: (Dense(3, 2), (2, 3)), lambda: (Tanh(), (2, 3)), lambda: (Dropout(0.5, rng=0), (2, 3)),
    lambda: (BatchNorm1d(3), (4, 3)), lambda: (Conv2d(1, 2, 3), (1, 1, 4, 4)),
    lambda: (ConvTranspose2d(1, 2, 2), (1, 1, 3, 3)), lambda: (MaxPool2d(2), (1, 1, 4, 4)),
    lambda: (GlobalAvgPool2d(), (1, 2, 3, 3)), lambda: (Flatten(), (2, 3, 2)),
    lambda: (Residual(Tanh()), (2, 3)), lambda: (ConcatSkip(Tanh()), (2, 3)),
    lambda: (Sequential(Dense(3, 3), ReLU()), (2, 3)),
]


@pytest.mark.parametrize("make", LAYERS, ids=lambda f: type(f()[0]).__name__)
def test_every_layer_keeps_one_cache_per_call_and_raises_when_none_is_left(make):
    layer, shape = make()
    x = np.random.default_rng(13).standard_normal(shape)
    outs = [layer(x), layer(2 * x)]
    dxs = [layer.backward(np.ones_like(out)) for out in reversed(outs)]
    assert all(dx.shape == x.shape for dx in dxs)
    name = type(layer.layers[-1] if isinstance(layer, Sequential) else layer).__name__
    with pytest.raises(RuntimeError, match=f"{name}.backward called before forward"):
        layer.backward(np.ones_like(outs[0]))


def test_a_forward_in_eval_mode_keeps_its_cache_for_saliency():
    model = Sequential(Dense(3, 4, rng=0, **F64), ReLU(), Dense(4, 2, rng=1, **F64))
    x = np.random.default_rng(14).standard_normal((1, 3))
    model.eval()
    out = model(x)
    saliency = model.backward(np.eye(2)[[out.argmax()]])  # d(top score) / d(input)
    assert saliency.shape == (1, 3) and np.abs(saliency).sum() > 0


def test_no_grad_zero_grad_train_and_eval_drop_caches():
    model = Sequential(Dense(3, 3, rng=0), ReLU())
    x = np.ones((2, 3))
    with no_grad():
        model(x)
    assert not model[0]._caches
    with pytest.raises(RuntimeError, match="no_grad\\(\\) keeps none"):
        model.backward(np.ones((2, 3)))
    with pytest.raises(KeyError), no_grad():
        raise KeyError  # the switch is restored on the way out
    model(x)
    assert len(model[0]._caches) == len(model[1]._caches) == 1
    for drop in (model.zero_grad, model.train, model.eval):
        model(x)
        drop()
        assert not model[0]._caches and not model[1]._caches

    @no_grad()
    def infer(x):
        return model(x)

    infer(x)
    assert not model[0]._caches


def test_backward_adds_into_grads_and_zero_grad_clears_them():
    layer = Dense(3, 2, rng=0, **F64)
    x, dout = np.ones((2, 3)), np.ones((2, 2))
    layer(x)
    layer.backward(dout)
    once = {k: v.copy() for k, v in layer.grads.items()}
    layer(x)
    layer.backward(dout)
    for k in once:
        np.testing.assert_allclose(layer.grads[k], 2 * once[k])
    assert once["weight"].any()
    layer.zero_grad()
    assert all(not v.any() and v.shape == layer.params[k].shape for k, v in layer.grads.items())
    opt = SGD(layer.parameters(), lr=0.1)
    layer(x)
    layer.backward(dout)
    opt.zero_grad()  # the optimizer's zero_grad clears the same arrays
    assert not any(v.any() for v in layer.grads.values())
    with pytest.raises(ValueError, match=r"Dense: gradient of 'weight' has shape \(3,\)"):
        layer._store_grads(weight=np.ones(3))


# -- no memory grows over many batches of inference --------------------------------------
def peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_predict_evaluate_and_validation_over_many_batches_do_not_grow_memory():
    model = Sequential(Conv2d(1, 8, 3, padding=1, rng=0), ReLU(), MaxPool2d(2), Flatten(),
                       Dense(8 * 4 * 4, 10, rng=1))
    X = np.random.default_rng(15).standard_normal((8000, 1, 8, 8)).astype(np.float32)
    y = np.zeros(8000, dtype=np.int64)
    # one batch of 1000 peaks at about 4.6 MB, of which its caches keep about 1.4 MB
    one = peak_bytes(lambda: train.predict(model, X[:1000]))
    margin = 2 * 8000 * 10 * 4 + 200_000  # the (8000, 10) logits, in pieces and joined
    runs = {"predict": lambda: train.predict(model, X),  # 8 batches of 1000
            "evaluate": lambda: train.evaluate(model, X, y),
            "fit's validation": lambda: train.fit(model, cross_entropy, SGD(model.parameters()),
                                                  (X[:10], y[:10]), epochs=1, batch_size=10,
                                                  val_data=(X, y), progress="off")}
    for name, run in runs.items():
        assert peak_bytes(run) < one + margin, name
    assert all(not m._caches for _, m in model.named_modules())
    # what the rule prevents: the same forwards keeping their caches grow with the batches
    leaky = peak_bytes(lambda: [model.forward(X[s:s + 1000]) for s in range(0, 8000, 1000)])
    assert leaky > 2 * one + 2 * margin  # about one + 7 * 1.4 MB


@pytest.mark.parametrize("make, shape", [
    (lambda: models.lenet(rng=0), (3, 1, 28, 28)),
    (lambda: models.lenet_bn(rng=0), (3, 1, 28, 28)),
    (lambda: models.rcnn(rng=0, channels=4, steps=2), (3, 1, 28, 28)),
    (lambda: models.unet(width=2, depth=1, rng=0), (2, 1, 8, 8)),
    (lambda: ViT(image_size=28, patch=7, dim=8, depth=1, num_heads=2, mlp_dim=8, rng=0),
     (3, 1, 28, 28)),
])
def test_models_backward_params_equals_backward(make, shape):
    """What fit calls (no gradient of the images) gives every parameter the gradient that
    backward gives, to the bit."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    grads = []
    for method in ("backward", "backward_params"):
        model = make()
        model.zero_grad()
        out = model.forward(x)
        result = getattr(model, method)(np.ones_like(out))
        assert (result is None) == (method == "backward_params")
        grads.append({name: model_grad.copy() for name, model_grad in _named_grads(model)})
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name in grads[0]:
        np.testing.assert_array_equal(grads[1][name], grads[0][name], err_msg=name)


def _named_grads(model):
    for name, module in model.named_modules():
        for key, grad in module.grads.items():
            yield f"{name}.{key}", grad
