"""The LeNets of chapters 6 and 7: lenet_bn (batch norm before every activation) against
its PyTorch twin in training and evaluation mode, by finite differences in float64, and
its control network (batch_norm=False), which differs in the BatchNorm layers only."""
import numpy as np
import pytest
import torch
from torch import nn

from cnnbook.conv import Conv2d
from cnnbook.dense import Dense
from cnnbook.losses import cross_entropy
from cnnbook.models import lenet, lenet_bn
from helpers import check_model_against_torch, to_float64


def torch_lenet_bn(n_classes=10, activation="relu", batch_norm=True):
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[activation]

    def norm(bn):
        return [bn] if batch_norm else []

    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), *norm(nn.BatchNorm2d(6)), act(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), *norm(nn.BatchNorm2d(16)), act(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), *norm(nn.BatchNorm1d(120)), act(),
        nn.Linear(120, 84), *norm(nn.BatchNorm1d(84)), act(),
        nn.Linear(84, n_classes)).double()


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_matches_torch_in_training_and_evaluation(activation, batch_norm):
    rng = np.random.default_rng(0)
    ours = to_float64(lenet_bn(7, rng=1, activation=activation, batch_norm=batch_norm))
    theirs = torch_lenet_bn(7, activation, batch_norm)
    # two training steps (the running statistics move at each), state compared after each
    check_model_against_torch(ours, theirs, rng.standard_normal((6, 1, 28, 28)), grad_atol=1e-9)
    ours.eval(), theirs.eval()
    x = rng.standard_normal((3, 1, 28, 28))
    np.testing.assert_allclose(ours.forward(x), theirs(torch.tensor(x)).detach().numpy(), atol=1e-10)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_gradients_by_finite_differences(activation):
    """Directional derivatives of the loss along random directions of (x, every parameter),
    and single entries of each parameter, against central differences, in float64. (Max
    pooling has kinks: a direction that moves two nearly equal entries of a window past
    each other would break the comparison; these seeds cross none.)"""
    rng = np.random.default_rng(12)
    model = to_float64(lenet_bn(4, rng=3, activation=activation))
    x = rng.standard_normal((5, 1, 28, 28))
    y = rng.integers(0, 4, 5)
    arrays = [p[k] for p, _, k in model.parameters()]

    def loss_at(x_):
        return cross_entropy(model.forward(x_), y)[0]

    model.zero_grad()
    _, dlogits = cross_entropy(model.forward(x), y)
    dx = model.backward(dlogits)
    grads = [g[k].copy() for _, g, k in model.parameters()]
    h = 1e-6
    for _ in range(3):
        vx = rng.standard_normal(x.shape)
        vs = [rng.standard_normal(a.shape) for a in arrays]
        for a, v in zip(arrays, vs):
            a += h * v
        plus = loss_at(x + h * vx)
        for a, v in zip(arrays, vs):
            a -= 2 * h * v
        minus = loss_at(x - h * vx)
        for a, v in zip(arrays, vs):
            a += h * v
        numeric = (plus - minus) / (2 * h)
        analytic = np.sum(dx * vx) + sum(np.sum(g * v) for g, v in zip(grads, vs))
        assert numeric == pytest.approx(analytic, rel=1e-5, abs=1e-7)
    for a, g in zip(arrays, grads):  # one entry of every parameter
        i = tuple(int(rng.integers(0, n)) for n in a.shape)
        old = a[i]
        a[i] = old + h
        plus = loss_at(x)
        a[i] = old - h
        minus = loss_at(x)
        a[i] = old
        assert (plus - minus) / (2 * h) == pytest.approx(g[i], rel=1e-4, abs=1e-8)


def test_the_control_network_is_lenet_and_shares_the_weights():
    with_bn, without = lenet_bn(rng=5), lenet_bn(rng=5, batch_norm=False)
    plain = lenet(rng=5)
    assert len(with_bn.layers) == len(without.layers) + 4 == 16
    def weights(net):  # the convolutions' and dense layers' parameters, in order
        return [v for m in net.layers if isinstance(m, (Conv2d, Dense)) for v in m.params.values()]

    assert len(weights(with_bn)) == len(weights(plain)) == 10
    for a, b, c in zip(weights(with_bn), weights(without), weights(plain)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(b, c)
    assert without.num_parameters() == plain.num_parameters() == 61_706
    # four BatchNorm layers: 2 parameters per channel or unit
    assert with_bn.num_parameters() - plain.num_parameters() == 2 * (6 + 16 + 120 + 84)
    x = np.random.default_rng(6).standard_normal((2, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(without.forward(x), plain.forward(x))


def test_bias_before_batch_norm_gets_no_gradient():
    model = to_float64(lenet_bn(rng=7, activation="sigmoid"))
    rng = np.random.default_rng(8)
    _, dlogits = cross_entropy(model.forward(rng.standard_normal((8, 1, 28, 28))),
                               rng.integers(0, 10, 8))
    model.backward(dlogits)
    for i in (0, 4, 9, 12):  # the layers followed by batch norm
        assert np.abs(model.layers[i].grads["bias"]).max() < 1e-12
    assert np.abs(model.layers[15].grads["bias"]).max() > 1e-3  # the last one is not


def test_errors():
    with pytest.raises(ValueError, match=r"lenet_bn: activation must be one of \['relu', 'sigmoid'\], got 'tanh'"):
        lenet_bn(activation="tanh")
    with pytest.raises(TypeError, match="lenet_bn: activation must be one of"):
        lenet_bn(activation=None)
    with pytest.raises(TypeError, match="lenet_bn: batch_norm"):
        lenet_bn(batch_norm="no")
    with pytest.raises(ValueError, match="lenet_bn: n_classes"):
        lenet_bn(0)
    with pytest.raises(TypeError, match="lenet_bn: rng"):
        lenet_bn(rng="seed")
