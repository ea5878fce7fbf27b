"""The small U-Net (cnnbook.models.unet): forward and every gradient against a PyTorch twin
holding the same weights (float64), finite differences, the skip variants' parameter
counts, and bad arguments. See chapter 12."""
import numpy as np
import pytest
import torch
from torch import nn

import cnnbook
from cnnbook import ConcatSkip, Conv2d, ConvTranspose2d, MaxPool2d, ReLU, Residual, Sequential
from cnnbook.models import unet

torch.set_num_threads(1)


class TorchConcat(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return torch.cat([x, self.block(x)], dim=1)  # U-Net: copy (and crop), then concatenate


class TorchAdd(TorchConcat):
    def forward(self, x):
        return x + self.block(x)  # FusionNet: copy and add


def twin(m):
    """A PyTorch module of the same structure holding the same weights (float64)."""
    if isinstance(m, Sequential):
        return nn.Sequential(*(twin(layer) for layer in m))
    if isinstance(m, ConcatSkip):
        return TorchConcat(twin(m.block))
    if isinstance(m, Residual):
        return TorchAdd(twin(m.block))
    if isinstance(m, ReLU):
        return nn.ReLU()
    if isinstance(m, MaxPool2d):
        return nn.MaxPool2d(2)
    if isinstance(m, (Conv2d, ConvTranspose2d)):
        w = m.params["weight"]
        if isinstance(m, Conv2d):
            t = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2:], padding=m.padding)
        else:
            t = nn.ConvTranspose2d(w.shape[0], w.shape[1], w.shape[2:], stride=m.stride)
        t.weight.data = torch.tensor(w, dtype=torch.float64)
        t.bias.data = torch.tensor(m.params["bias"], dtype=torch.float64)
        return t
    raise TypeError(type(m).__name__)


def grads_of(model):
    return [g[k] for _, g, k in model.parameters()]


@pytest.mark.parametrize("skip", ["concat", "add", "none"])
@pytest.mark.parametrize("depth", [1, 2])
def test_unet_matches_torch(skip, depth):
    model = unet(1, 3, width=4, depth=depth, skip=skip, rng=0, dtype=np.float64)
    tmodel = twin(model)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 1, 16, 16))
    dout = rng.standard_normal((2, 3, 16, 16))
    model.zero_grad()
    out = model.forward(x)
    dx = model.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    out_t = tmodel(xt)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, out_t.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    tgrads = [p.grad.numpy() for p in tmodel.parameters()]
    assert len(tgrads) == len(grads_of(model)) == 2 * (5 * depth + 3)  # 5 layers a level, bottleneck 2, head 1
    for g, tg in zip(grads_of(model), tgrads):
        np.testing.assert_allclose(g, tg, atol=1e-10)


def test_unet_training_step_matches_torch():
    """Loss, gradients and an Adam step agree with PyTorch's F.cross_entropy per pixel."""
    model = unet(1, 2, width=4, depth=2, rng=3, dtype=np.float64)
    tmodel = twin(model)
    X, M = cnnbook.make_lines_and_disks(4, size=16, rng=0)
    opt, topt = cnnbook.Adam(model, lr=0.01), torch.optim.Adam(tmodel.parameters(), lr=0.01)
    for _ in range(2):
        model.zero_grad()
        loss, dout = cnnbook.cross_entropy(model.forward(X.astype(np.float64)), M)
        model.backward(dout)
        opt.step()
        topt.zero_grad()
        tloss = nn.functional.cross_entropy(tmodel(torch.tensor(X, dtype=torch.float64)),
                                            torch.tensor(M))
        tloss.backward()
        topt.step()
        assert loss == pytest.approx(tloss.item(), rel=1e-10)
    for (p, _, k), tp in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(p[k], tp.detach().numpy(), atol=1e-10)


@pytest.mark.parametrize("skip", ["concat", "add", "none"])
def test_unet_finite_differences(skip):
    """Input and every parameter: central differences of sum(out * dout) at random entries."""
    model = unet(1, 2, width=2, depth=2, skip=skip, rng=5, dtype=np.float64)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 1, 8, 8))
    dout = rng.standard_normal((1, 2, 8, 8))

    def f():
        with cnnbook.no_grad():
            return float(np.sum(model.forward(x) * dout))

    model.zero_grad()
    model.forward(x)
    dx = model.backward(dout)
    h = 1e-6
    targets = [(x, dx)] + [(p[k], g[k]) for p, g, k in model.parameters()]
    for arr, grad in targets:
        for flat in rng.choice(arr.size, size=min(arr.size, 4), replace=False):
            i = np.unravel_index(flat, arr.shape)
            old = arr[i]
            arr[i] = old + h
            up = f()
            arr[i] = old - h
            down = f()
            arr[i] = old
            assert (up - down) / (2 * h) == pytest.approx(grad[i], abs=1e-6, rel=1e-5)


def test_skip_variants_parameter_counts():
    """The convolution after a concatenation sees 2C channels: 9 C^2 more weights per level."""
    counts = {s: unet(width=8, depth=2, skip=s, rng=0).num_parameters() for s in
              ("concat", "add", "none")}
    assert counts == {"concat": 29_330, "add": 26_450, "none": 26_450}
    # concat: Conv2d(2C, C) has 9 (2C) C + C parameters, add: Conv2d(C, C) 9 C C + C
    assert counts["concat"] - counts["add"] == sum(9 * c * c for c in (8, 16))


def test_same_seed_same_weights_for_add_and_none():
    a, b = unet(skip="add", rng=7), unet(skip="none", rng=7)
    wa = [p[k] for p, _, k in a.parameters()]
    wb = [p[k] for p, _, k in b.parameters()]
    assert all(np.array_equal(u, v) for u, v in zip(wa, wb))
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)
    assert not np.allclose(a.forward(x), b.forward(x))  # the skip changes the output


def test_unet_output_shape_and_depth_zero():
    x = np.zeros((3, 2, 16, 24), dtype=np.float32)
    assert unet(2, 5, width=3, depth=3, rng=0).forward(x).shape == (3, 5, 16, 24)
    assert unet(2, 5, width=3, depth=0, rng=0).forward(x).shape == (3, 5, 16, 24)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(skip="sum"), ValueError, r"skip must be one of \('concat', 'add', 'none'\)"),
    (dict(width=0), ValueError, "width must be"), (dict(depth=-1), ValueError, "depth must be"),
    (dict(n_classes=2.0), TypeError, "n_classes must be"), (dict(rng="seed"), TypeError, "rng"),
    (dict(dtype=np.int64), TypeError, "dtype"),
])
def test_unet_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match="unet: " + match):
        unet(**kwargs)


def test_unet_input_size_not_divisible_names_the_mismatch():
    with pytest.raises(ValueError, match="concat_forward"):
        unet(rng=0).forward(np.zeros((1, 1, 30, 30), dtype=np.float32))
