"""Optimizers: identical steps to torch.optim given identical gradients, over several steps."""
import numpy as np
import pytest
import torch

from cnnbook import optim
from cnnbook.dense import Dense
from cnnbook.module import Sequential
from cnnbook.activations import ReLU

SETTINGS = [
    (optim.SGD, torch.optim.SGD, dict(lr=0.1)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    (optim.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (optim.Adagrad, torch.optim.Adagrad, dict()),
    (optim.Adagrad, torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.01,
                                               initial_accumulator_value=0.1, eps=1e-6)),
    (optim.RMSprop, torch.optim.RMSprop, dict()),
    (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.02, alpha=0.9, momentum=0.5, weight_decay=0.01)),
    (optim.RMSprop, torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.3, eps=1e-4)),
    (optim.Adam, torch.optim.Adam, dict()),
    (optim.Adam, torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    (optim.Adam, torch.optim.Adam, dict(lr=0.02, amsgrad=True)),
]


def _id(s):
    return s[0].__name__ + "(" + ", ".join(f"{k}={v}" for k, v in s[2].items()) + ")"


@pytest.mark.parametrize("ours, theirs, hyper", SETTINGS, ids=[_id(s) for s in SETTINGS])
def test_same_steps_as_torch(ours, theirs, hyper):
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,), ()]
    params = [{"w": rng.standard_normal(s)} for s in shapes]
    grads = [{} for _ in shapes]
    opt = ours([(p, g, "w") for p, g in zip(params, grads)], **hyper)
    tensors = [torch.tensor(p["w"].copy(), requires_grad=True) for p in params]
    t_opt = theirs(tensors, foreach=False, **hyper)
    for _ in range(6):
        for g, p, t in zip(grads, params, tensors):
            g["w"] = rng.standard_normal(p["w"].shape) * rng.uniform(0.1, 3)
            t.grad = torch.tensor(g["w"].copy())
        opt.step()
        t_opt.step()
        for p, t in zip(params, tensors):
            np.testing.assert_allclose(p["w"], t.detach().numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("dtype, big", [(np.float32, 1e30), (np.float64, 1e200)])
@pytest.mark.parametrize("ours, theirs, hyper", SETTINGS, ids=[_id(s) for s in SETTINGS])
def test_huge_gradient_like_torch(ours, theirs, hyper, dtype, big):
    """A gradient whose square overflows: v_t becomes inf and the step 0, as in torch (finite,
    no NaN, no NumPy warning: pyproject.toml turns cnnbook's RuntimeWarnings into errors)."""
    p, g = {"w": np.array([1.0, -2.0, 3.0], dtype)}, {}
    opt = ours([(p, g, "w")], **hyper)
    t = torch.tensor(p["w"].copy(), requires_grad=True)
    t_opt = theirs([t], foreach=False, **hyper)
    for grad in ([big, 1.0, -big], [1.0, 2.0, 3.0], [0.5, -1.0, 2.0]):
        g["w"] = np.array(grad, dtype)
        t.grad = torch.tensor(g["w"].copy())
        opt.step()
        t_opt.step()
        assert np.isfinite(p["w"]).all() and p["w"].dtype == dtype
        np.testing.assert_allclose(p["w"], t.detach().numpy(), rtol=1e-5 if dtype == np.float32
                                   else 1e-10)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam])
def test_updates_in_place_keeping_dtype_and_the_layer_sees_it(cls):
    model = Sequential(Dense(3, 4, rng=0), ReLU(), Dense(4, 2, rng=1))
    weight = model[0].params["weight"]
    before = weight.copy()
    opt = cls(model.parameters(), lr=0.1)
    model.forward(np.ones((5, 3), dtype=np.float32))
    model.backward(np.ones((5, 2), dtype=np.float32))
    opt.step()
    assert model[0].params["weight"] is weight and weight.dtype == np.float32
    assert not np.array_equal(weight, before)
    assert cls(model, lr=0.1).params == opt.params  # a Module is accepted as well


def test_zero_grad_and_missing_gradient():
    p, g = {"w": np.ones(3)}, {}
    opt = optim.SGD([(p, g, "w")], lr=0.1)
    with pytest.raises(RuntimeError, match="no gradient for 'w'"):
        opt.step()
    opt.zero_grad()
    np.testing.assert_array_equal(g["w"], np.zeros(3))
    opt.step()
    np.testing.assert_array_equal(p["w"], np.ones(3))
    g["w"] = np.ones(2)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        opt.step()


def test_plain_point_and_descent_path():
    """Gradient descent on f(x, y) = x^2 + 10 y^2 from (1, 1): SGD with lr = 0.01 shrinks
    each coordinate by the factors 1 - 2 lr and 1 - 20 lr per step (003 §1.3)."""
    grad = lambda v: np.array([2 * v[0], 20 * v[1]])
    path = optim.descent_path(optim.SGD, grad, [1.0, 1.0], steps=10, lr=0.01)
    assert path.shape == (11, 2)
    np.testing.assert_allclose(path[-1], [0.98**10, 0.8**10])
    f = lambda v: v[..., 0] ** 2 + 10 * v[..., 1] ** 2
    assert np.all(np.diff(f(path)) <= 0)  # small step: the loss never increases (003 eq. 1)
    big = optim.descent_path(optim.SGD, grad, [1.0, 1.0], steps=10, lr=0.11)
    assert f(big[-1]) > f(big[0])  # too large a step diverges (003 §1.4)
    for cls in (optim.Adagrad, optim.RMSprop, optim.Adam):
        p = optim.descent_path(cls, grad, [1.0, 1.0], steps=300, lr=0.05)
        assert f(p[-1]) < 0.05 * f(p[0])
    p, g = {"w": np.array([1.0, 1.0])}, {}
    opt = optim.Adam([(p, g, "w")], lr=0.1)
    g["w"] = grad(p["w"])
    opt.step()
    np.testing.assert_allclose(p["w"], [0.9, 0.9])  # Adam's first step: lr * sign(g)


def test_repr_names_hyperparameters():
    opt = optim.Adam([({"w": np.ones(2)}, {}, "w")], lr=0.01)
    assert "Adam" in repr(opt) and "lr=0.01" in repr(opt) and "betas=(0.9, 0.999)" in repr(opt)


@pytest.mark.parametrize("call, exc, words", [
    (lambda p: optim.SGD(p, lr=-0.1), ValueError, ["lr", ">= 0"]),
    (lambda p: optim.SGD(p, lr="fast"), TypeError, ["lr"]),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError, ["nesterov", "momentum"]),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     ["dampening"]),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), ValueError, ["betas[1]"]),
    (lambda p: optim.Adam(p, betas=0.9), ValueError, ["betas"]),
    (lambda p: optim.RMSprop(p, eps=-1), ValueError, ["eps"]),
    (lambda p: optim.Adagrad(p, lr_decay=-1), ValueError, ["lr_decay"]),
    (lambda p: optim.SGD([np.ones(3)], lr=0.1), TypeError, ["params", "triples"]),
    (lambda p: optim.SGD([], lr=0.1), ValueError, ["params", "empty"]),
    (lambda p: optim.SGD([({"w": [1.0]}, {}, "w")], lr=0.1), TypeError, ["NumPy array"]),
    (lambda p: optim.descent_path(optim.SGD, lambda v: v, [[1.0]], steps=3), ValueError, ["x0"]),
])
def test_bad_input_messages(call, exc, words):
    params = [({"w": np.ones(2)}, {}, "w")]
    with pytest.raises(exc) as info:
        call(params)
    for w in words:
        assert w in str(info.value)
