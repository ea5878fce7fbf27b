"""fit / evaluate / predict: learning XOR, the History, progress modes, bad input."""
import numpy as np
import pytest

from cnnbook import train
from cnnbook.activations import Sigmoid, Tanh
from cnnbook.dense import Dense
from cnnbook.losses import (binary_cross_entropy, binary_cross_entropy_with_logits,
                            cross_entropy, mse_loss)
from cnnbook.module import Module, Sequential
from cnnbook.optim import SGD, Adam


def xor_data(n=400, seed=0):
    """Four Gaussian blobs at the corners of a square; label 1 where the signs differ."""
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 1.0], size=(n, 2)) + 0.15 * rng.standard_normal((n, 2))
    y = (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(np.int64)
    return X, y


def mlp(out=2, seed=0):
    return Sequential(Dense(2, 16, rng=seed), Tanh(), Dense(16, out, rng=seed + 1))


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("CNNBOOK_PROGRESS", raising=False)


def test_fit_learns_xor_and_history_is_well_formed(capsys):
    X, y = xor_data()
    model = mlp()
    h = train.fit(model, cross_entropy, Adam(model.parameters(), lr=0.05), (X[:300], y[:300]),
                  epochs=15, batch_size=32, val_data=(X[300:], y[300:]), rng=0, progress="off")
    out, err = capsys.readouterr()
    assert out == "" and err == ""  # progress off: silent
    assert len(h) == 15 and h.epoch == list(range(1, 16))
    d = h.as_dict()
    assert set(d) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "time"}
    assert all(len(v) == 15 for v in d.values())
    assert all(t > 0 for t in h.time)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.train_acc[-1] >= 0.97 and h.val_acc[-1] >= 0.97
    assert train.evaluate(model, X[300:], y[300:]) == pytest.approx(h.val_acc[-1])
    text = repr(h)
    assert text.startswith("History (15 epochs)") and "val_acc" in text and "..." in text
    assert "time" not in text  # times vary from run to run: kept out of notebook outputs


def test_fit_is_reproducible_with_a_seed():
    X, y = xor_data(120)
    runs = []
    for _ in range(2):
        model = mlp(seed=3)
        runs.append(train.fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y),
                              epochs=3, batch_size=16, rng=7, progress="off").train_loss)
    assert runs[0] == runs[1]


def test_binary_outputs_logits_and_probabilities():
    X, y = xor_data(300, seed=1)
    t = y.astype(np.float64)[:, None]  # (N, 1) float targets: still classification
    model = mlp(out=1)
    h = train.fit(model, binary_cross_entropy_with_logits, Adam(model.parameters(), lr=0.05),
                  (X, t), epochs=15, batch_size=32, rng=0, progress="off")
    assert h.train_acc[-1] >= 0.95
    assert train.evaluate(model, X, y) >= 0.95  # threshold 0 on logits
    prob_model = Sequential(*mlp(out=1).layers, Sigmoid())
    h = train.fit(prob_model, binary_cross_entropy, Adam(prob_model.parameters(), lr=0.05),
                  (X, t), epochs=15, batch_size=32, rng=0, progress="off")
    assert h.train_acc[-1] >= 0.95
    assert train.evaluate(prob_model, X, y) >= 0.95  # threshold 0.5 after a Sigmoid


def test_regression_records_no_accuracy():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((64, 2))
    target = (X @ np.array([[1.5], [-2.0]])) + 0.3
    model = Dense(2, 1, rng=0, dtype=np.float64)
    h = train.fit(model, mse_loss, SGD(model.parameters(), lr=0.1), (X, target), epochs=20,
                  batch_size=16, val_data=(X, target), rng=0, progress="off")
    assert h.train_acc == [None] * 20 and h.val_acc == [None] * 20
    assert h.val_loss[-1] < 1e-3
    assert "train_acc" not in repr(h)


class Probe(Module):
    """Identity layer that records the mode it ran in."""

    def __init__(self):
        super().__init__()
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return x

    def backward(self, dout):
        return dout


def test_modes_during_fit_evaluate_predict():
    X, y = xor_data(50)
    probe = Probe()
    model = Sequential(Dense(2, 2, rng=0), probe)
    model.eval()
    train.fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), epochs=1,
              batch_size=25, val_data=(X, y), progress="off", rng=0)
    assert probe.modes == [True, True, False] and model.training is False  # mode restored
    model.train()
    probe.modes.clear()
    train.evaluate(model, X, y, batch_size=20)
    assert probe.modes == [False] * 3 and model.training is True
    out = train.predict(model, X, batch_size=20)
    assert out.shape == (50, 2)
    np.testing.assert_allclose(out, model.forward(X))


def test_progress_modes(monkeypatch, capsys):
    assert train.progress_mode("off") == "off" and train.progress_mode(False) == "off"
    assert train.progress_mode("text") == "text"
    assert train.progress_mode("auto") == "off"  # pytest captures stderr: not a TTY
    monkeypatch.setenv("CNNBOOK_PROGRESS", "text")
    assert train.progress_mode("auto") == "text"
    assert train.progress_mode("off") == "off"  # an explicit choice beats the variable
    monkeypatch.setenv("CNNBOOK_PROGRESS", "loud")
    with pytest.raises(ValueError, match="CNNBOOK_PROGRESS"):
        train.progress_mode("auto")
    with pytest.raises(ValueError, match="progress"):
        train.progress_mode("verbose")
    monkeypatch.setenv("CNNBOOK_PROGRESS", "text")
    X, y = xor_data(40)
    model = mlp()
    train.fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y), epochs=2,
              batch_size=10, rng=0)
    out, err = capsys.readouterr()
    assert out == "" and "epoch 2/2" in err and "8/8" in err and "acc" in err


def test_auto_progress_is_a_widget_inside_a_jupyter_kernel(monkeypatch):
    import types

    IPython = pytest.importorskip("IPython")
    shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    assert train.progress_mode("auto") == "notebook"
    shell.kernel = None  # plain IPython in a terminal: not a kernel
    assert train.progress_mode("auto") == "off"


@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(train_data=(np.ones((4, 2)), np.ones(3, np.int64))), ValueError, ["train_data", "4", "3"]),
    (dict(train_data=np.ones((4, 2))), TypeError, ["train_data", "(X, y)"]),
    (dict(epochs=0), ValueError, ["epochs"]),
    (dict(batch_size=2.5), TypeError, ["batch_size"]),
    (dict(loss_fn="cross_entropy"), TypeError, ["loss_fn"]),
    (dict(optimizer=None), TypeError, ["optimizer"]),
    (dict(val_data=(np.ones((2, 2)), np.ones(3, np.int64))), ValueError, ["val_data"]),
])
def test_bad_input_messages(kwargs, exc, words):
    model = mlp()
    args = dict(model=model, loss_fn=cross_entropy, optimizer=SGD(model.parameters(), lr=0.1),
                train_data=xor_data(8), epochs=1, progress="off")
    args.update(kwargs)
    with pytest.raises(exc) as info:
        train.fit(**args)
    for w in words:
        assert w in str(info.value)
    with pytest.raises(ValueError, match="y has 3"):
        train.evaluate(model, np.ones((4, 2)), np.ones(3, np.int64))
