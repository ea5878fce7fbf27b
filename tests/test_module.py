"""Module and Sequential: modes, parameters, state_dict, errors."""
import numpy as np
import pytest

from cnnbook.activations import ReLU, Tanh
from cnnbook.dense import Dense
from cnnbook.module import Module, Sequential


class WithBuffer(Module):
    """A layer with a learnable scale and a running statistic (like batch norm)."""

    def __init__(self):
        super().__init__()
        self.params["scale"] = np.ones(3)
        self.buffers["running_mean"] = np.zeros(3)
        self.zero_grad()

    def forward(self, x):
        self._push_cache(x)
        if self.training:
            self.buffers["running_mean"] += 0.1 * x.mean(axis=0)
        return x * self.params["scale"]

    def backward(self, dout):
        x = self._pop_cache()
        self._store_grads(scale=(dout * x).sum(axis=0))
        return dout * self.params["scale"]


def net():
    return Sequential(Dense(3, 4, rng=0), ReLU(), Dense(4, 3, rng=1), WithBuffer())


def test_train_eval_propagate_to_every_layer():
    model = net()
    assert all(m.training for _, m in model.named_modules())
    assert model.eval() is model
    assert not any(m.training for _, m in model.named_modules())
    model.train()
    assert all(m.training for _, m in model.named_modules())


def test_parameters_are_live_references():
    model = net()
    triples = model.parameters()
    assert [k for _, _, k in triples] == ["weight", "bias", "weight", "bias", "scale"]
    params, grads, key = triples[0]
    assert params[key] is model[0].params["weight"]
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "3.scale"]
    assert model.num_parameters() == 3 * 4 + 4 + 4 * 3 + 3 + 3
    x = np.ones((2, 3), dtype=np.float32)
    model.backward(np.ones_like(model.forward(x)))
    assert grads[key] is model[0].grads["weight"] and grads[key].any()
    model.zero_grad()
    assert all(not g[k].any() and g[k].shape == p[k].shape for p, g, k in model.parameters())


def test_state_dict_round_trip_includes_buffers():
    model = net()
    model.forward(np.ones((2, 3)))
    state = model.state_dict()
    assert set(state) == {"0.weight", "0.bias", "2.weight", "2.bias", "3.scale", "3.running_mean"}
    assert state["3.running_mean"].any()
    state["0.weight"][0, 0] = 123.0  # copies, not views
    assert model[0].params["weight"][0, 0] != 123.0
    other = net()
    other[0].params["weight"][...] = 0
    weight = other[0].params["weight"]
    other.load_state_dict(model.state_dict())
    assert other[0].params["weight"] is weight  # loaded in place
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_array_equal(other.eval().forward(x), model.eval().forward(x))
    np.testing.assert_array_equal(other[3].buffers["running_mean"], model[3].buffers["running_mean"])


def test_load_state_dict_errors():
    model = net()
    state = model.state_dict()
    with pytest.raises(ValueError, match=r"missing keys \['0.bias'\]"):
        model.load_state_dict({k: v for k, v in state.items() if k != "0.bias"})
    with pytest.raises(ValueError, match="unexpected keys"):
        model.load_state_dict({**state, "9.weight": np.ones(1)})
    with pytest.raises(ValueError, match=r"0.weight has shape \(4, 3\)"):
        model.load_state_dict({**state, "0.weight": np.ones((3, 4))})


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="Dense.backward called before forward"):
        Dense(2, 2).backward(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match="before forward"):
        net().backward(np.ones((1, 3)))


def test_sequential_composition():
    model = Sequential(Dense(2, 3, rng=0, dtype=np.float64), Tanh(), Dense(3, 1, rng=1, dtype=np.float64))
    x = np.random.default_rng(1).standard_normal((4, 2))
    by_hand = model[2](model[1](model[0](x)))
    np.testing.assert_array_equal(model(x), by_hand)
    assert len(model) == 3 and "(1): Tanh()" in repr(model) and "in_features=2" in repr(model)
    with pytest.raises(TypeError, match="layer 1 must be a cnnbook Module"):
        Sequential(Dense(2, 2), lambda x: x)


def test_base_module_is_abstract():
    with pytest.raises(NotImplementedError, match="Module.forward"):
        Module().forward(1)
    with pytest.raises(NotImplementedError, match="Module.backward"):
        Module().backward(1)
    assert Module().parameters() == []


class Recorder(Module):
    """Says which backward it was asked for."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x):
        return x

    def backward(self, dout):
        self.calls.append("backward")
        return dout

    def backward_params(self, dout):
        self.calls.append("backward_params")


def test_backward_params_skips_only_the_first_layers_input_gradient():
    first, last = Recorder(), Recorder()
    model = Sequential(first, Dense(3, 2, rng=0), last)
    x = np.random.default_rng(0).standard_normal((4, 3))
    model.forward(x)
    assert model.backward_params(np.ones((4, 2))) is None
    assert first.calls == ["backward_params"] and last.calls == ["backward"]


def test_backward_params_gives_the_grads_of_backward():
    """Same numbers to the bit, whether or not the first layer's dx is computed; a Module
    without its own backward_params falls back to backward."""
    x = np.random.default_rng(1).standard_normal((5, 3))
    grads = []
    for method in ("backward", "backward_params"):
        model = net()
        model.zero_grad()
        out = model.forward(x)
        getattr(model, method)(np.ones_like(out))
        grads.append({name: g.copy() for name, g in
                      ((f"{i}.{k}", m.grads[k]) for i, m in enumerate(model) for k in m.grads)})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        np.testing.assert_array_equal(grads[1][name], grads[0][name])
    layer = WithBuffer()
    layer.forward(x)
    assert layer.backward_params(np.ones_like(x)) is None
    np.testing.assert_array_equal(layer.grads["scale"], x.sum(axis=0))
