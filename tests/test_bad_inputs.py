"""The bad-input sweep, re-runnable: public names called with bad input or at the extremes.

One table, one row per call: ``bad(callable, *args, raises=..., says=[...], **kwargs)``. The
call must raise exactly that exception type, and its message must contain every string in
``says`` (the function, the argument, what was expected, what came in; for data files the
file and the fix). An argument given as ``Setup(make)`` is built for the row from the test's
``tmp_path`` and ``monkeypatch`` (files and folders, environment variables), so no row touches
the network or the real data. Calls at the extremes that must *work* are in
test_extremes.py (and test_data.py, test_optim.py for the data files and the optimizers).
"""
from __future__ import annotations

import gzip

import numpy as np
import pytest

import cnnbook
from cnnbook import optim
from cnnbook.activations import ReLU
from cnnbook.data import fashion_mnist as fm
from cnnbook.data import fashion_mnist_paths, load_fashion_mnist
from cnnbook.dense import Dense
from cnnbook.losses import accuracy
from cnnbook.train import evaluate, fit, predict
from cnnbook.module import Sequential


class Setup:
    """An argument made for the row: ``make(tmp_path, monkeypatch) -> value``."""

    def __init__(self, make):
        self.make = make

    def __repr__(self):
        return self.make.__name__


def _show(value) -> str:
    """A short text for a test id, the same in every pytest-xdist worker (no addresses)."""
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{value.shape}"
    text = " ".join(repr(value).split())
    return type(value).__name__ if " at 0x" in text else text[:40]


def bad(func, *args, raises, says, **kwargs):
    shown = ", ".join([_show(a) for a in args] + [f"{k}={_show(v)}" for k, v in kwargs.items()])
    name = getattr(func, "__qualname__", type(func).__name__)
    return pytest.param(func, args, kwargs, raises, says, id=f"{name}({shown})")


# ---------------------------------------------------------------- data files (tmp_path only)

IMAGES, LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


def isolate(tmp, mp, *, system_copy=False):
    """No $CNNBOOK_DATA, a system folder and a cache under tmp, mirrors that do not exist.
    ``system_copy``: the system folder holds (empty stand-ins for) the test split, enough for
    the search, which only looks for the files."""
    mp.delenv("CNNBOOK_DATA", raising=False)
    mp.setenv("CNNBOOK_PROGRESS", "off")
    system, cache = tmp / "system", tmp / "cache"
    system.mkdir()
    if system_copy:
        for name in (IMAGES, LABELS):
            (system / name).write_bytes(b"")
    mp.setattr(fm, "_SYSTEM_DIR", system)
    mp.setattr(fm, "_cache_dir", lambda: cache)
    mp.setattr(fm, "_MIRRORS", ((tmp / "nowhere").as_uri() + "/",))
    return tmp


def folder_with(images, labels=b""):
    """A data_dir whose images file is made by ``images(path, monkeypatch)`` (or holds those bytes)."""
    def make(tmp, mp):
        isolate(tmp, mp)
        folder = tmp / "d"
        folder.mkdir()
        (folder / LABELS).write_bytes(labels)
        if callable(images):
            images(folder / IMAGES, mp)
        else:
            (folder / IMAGES).write_bytes(images)
        return folder
    make.__name__ = f"folder_with({getattr(images, '__name__', 'bytes')})"
    return Setup(make)


def unreadable(path, mp):
    path.write_bytes(gzip.compress(b"x"))
    real_read = type(path).read_bytes

    def read_bytes(self):
        if self == path:  # root reads any file: a chmod would not stop it, so pretend
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)
    mp.setattr(type(path), "read_bytes", read_bytes)


def a_folder(path, mp):
    path.mkdir()


def dangling_symlink(path, mp):
    path.symlink_to(path.parent / "gone.gz")


def gzip_bomb(path, mp):
    """100 MB of zeros in ~100 KB: the images file holds 7,840,016 bytes."""
    path.write_bytes(gzip.compress(bytes(100_000_000), compresslevel=1))


def empty_env_folder_with_system_copy(tmp, mp):
    isolate(tmp, mp, system_copy=True)
    (tmp / "empty").mkdir()
    mp.setenv("CNNBOOK_DATA", str(tmp / "empty"))
    return "test"


DATA = [
    bad(load_fashion_mnist, "test", data_dir=folder_with(unreadable), raises=PermissionError,
        says=[IMAGES, "permission denied", "chmod a+r", "put a good copy there"]),
    bad(load_fashion_mnist, "test", data_dir=folder_with(gzip_bomb), raises=ValueError,
        says=[IMAGES, "decompresses to more than 7840016 bytes", "Delete"]),
    bad(load_fashion_mnist, "test", data_dir=folder_with(b"\0" * 8_000_000), raises=ValueError,
        says=[IMAGES, "8000000 bytes, larger than any copy", "Delete"]),
    bad(load_fashion_mnist, "test", data_dir=folder_with(a_folder), raises=FileNotFoundError,
        says=[f"{IMAGES} is a folder, not a file", "sudo apt install dataset-fashion-mnist"]),
    bad(load_fashion_mnist, "test", data_dir=folder_with(dangling_symlink),
        raises=FileNotFoundError, says=[f"{IMAGES} is a broken symbolic link (to ", "gone.gz"]),
    bad(load_fashion_mnist, Setup(empty_env_folder_with_system_copy), raises=FileNotFoundError,
        says=["$CNNBOOK_DATA=", f"{IMAGES} is missing", "system: unset CNNBOOK_DATA to use it"]),
    bad(fashion_mnist_paths, "test", data_dir=123, raises=TypeError,
        says=["fashion_mnist_paths: data_dir must be a folder path", "got int 123"]),
    bad(load_fashion_mnist, "test", data_dir=b"/tmp", raises=TypeError,
        says=["data_dir must be a folder path", "bytes"]),
    bad(load_fashion_mnist, "test", download="no", raises=TypeError,
        says=["fashion_mnist_paths: download must be True or False, got 'no'"]),
    bad(load_fashion_mnist, "valid", raises=ValueError,
        says=["split must be one of ('train', 'test')", "'valid'"]),
]

# ---------------------------------------------------------------- optimizers

def triple(array, key="w"):
    return ({key: array}, {}, key)


def read_only(shape=(3,)):
    array = np.ones(shape)
    array.flags.writeable = False
    return array


W = np.ones(3)
SHARED = Dense(2, 2, rng=0)

OPTIM = [
    bad(optim.SGD, None, raises=TypeError,
        says=["SGD: params must be model.parameters(), a Module, or a list of", "NoneType"]),
    bad(optim.Adam, 3, raises=TypeError, says=["Adam: params must be", "int 3"]),
    bad(optim.SGD, [triple(W), triple(W)], raises=ValueError,
        says=["SGD: params items 0 and 1 are the same array", "'w'", "list each parameter once"]),
    bad(optim.Adam, [({"a": W, "b": W}, {}, "a"), ({"a": W, "b": W}, {}, "b")], raises=ValueError,
        says=["Adam: params items 0 and 1 are the same array"]),
    bad(optim.RMSprop, Sequential(SHARED).parameters() * 2, raises=ValueError,
        says=["RMSprop: params items 0 and 2 are the same array", "'weight'", "used twice"]),
    bad(optim.SGD, [triple(np.ones(3, dtype=np.int64))], raises=TypeError,
        says=["SGD: params item 0", "params_dict['w']", "floating-point", "int64"]),
    bad(optim.Adagrad, [triple(np.ones(3, dtype=bool))], raises=TypeError,
        says=["Adagrad: params item 0", "floating-point", "bool"]),
    bad(optim.Adam, [triple(np.ones(2)), triple(read_only())], raises=ValueError,
        says=["Adam: params item 1", "read-only", "pass a copy"]),
    bad(optim.SGD, [triple(np.ones(3))], lr=float("nan"), raises=ValueError,
        says=["SGD: lr must be a number >= 0", "nan"]),
    bad(optim.Adam, [triple(np.ones(3))], eps=float("inf"), raises=ValueError,
        says=["Adam: eps must be a number >= 0", "inf"]),
]

# ---------------------------------------------------------------- metrics, training, rng

SCORES = np.array([[0.1, 0.9, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
CLASSIFIER = Sequential(Dense(2, 3, rng=0))
BINARY = Sequential(Dense(2, 1, rng=0))
X2 = np.ones((4, 2))

METRICS = [
    bad(accuracy, SCORES, np.array([[1, 0], [2, 0]]), raises=ValueError,
        says=["accuracy: labels must have shape (N,) = (4,)", "labels.shape=(2, 2)"]),
    bad(accuracy, SCORES, np.array([[1], [0], [2], [0]]), raises=ValueError,
        says=["accuracy: labels must have shape (N,) = (4,)", "labels.shape=(4, 1)"]),
    bad(accuracy, SCORES, np.array([1.0, 0.0, 2.0, 0.5]), raises=TypeError,
        says=["accuracy: labels must be integer class indices", "float64"]),
    bad(accuracy, SCORES, np.array([1, 0, 3, 0]), raises=ValueError,
        says=["accuracy: labels must lie in [0, 2] for 3 classes", "got 3"]),
    bad(accuracy, np.array([0.2, 0.8]), np.array([0, 1]), threshold=float("nan"),
        raises=ValueError, says=["accuracy: threshold must be a number", "nan"]),
    bad(accuracy, np.array([0.2, 0.8]), np.array([0, 1]), threshold="0.5",
        raises=TypeError, says=["accuracy: threshold must be a number", "'0.5'"]),
    bad(accuracy, np.array([0.2, 0.8]), np.array([0, 2]), raises=ValueError,
        says=["accuracy: with one score per example, labels must be 0 or 1, got 2"]),
    bad(accuracy, np.array([[0.2], [0.8]]), np.array([[0, 1]]), raises=ValueError,
        says=["accuracy: labels must have shape (2,) or (2, 1)", "labels.shape=(1, 2)"]),
    bad(accuracy, np.zeros((0, 3)), np.zeros(0, dtype=np.int64), raises=ValueError,
        says=["accuracy: output is empty (output.shape=(0, 3))", "undefined"]),
    bad(accuracy, np.zeros(0), np.zeros(0), raises=ValueError, says=["accuracy: output is empty"]),
    bad(accuracy, np.zeros((2, 3, 4)), np.zeros(2), raises=ValueError,
        says=["accuracy: output must have 1 or 2 dimensions", "(2, 3, 4)"]),
    bad(evaluate, CLASSIFIER, X2, np.array([0.5, 1.0, 2.0, 0.0]), raises=TypeError,
        says=["evaluate: labels must be integer class indices", "float64"]),
    bad(evaluate, CLASSIFIER, X2, np.array([0, 1, 5, 0]), raises=ValueError,
        says=["evaluate: labels must lie in [0, 2] for 3 classes, got 5"]),
    bad(evaluate, BINARY, X2, np.array([0.0, 0.3, 1.0, 1.0]), raises=ValueError,
        says=["evaluate: with one score per example, labels must be 0 or 1, got 0.3"]),
    bad(evaluate, BINARY, X2, np.array([0, 1, 1, 0]), threshold=float("inf"), raises=ValueError,
        says=["evaluate: threshold must be a number", "inf"]),
    bad(predict, CLASSIFIER, np.ones((0, 2)), raises=ValueError, says=["predict: X is empty"]),
    bad(predict, None, X2, raises=TypeError,
        says=["predict: model must be a Module (with forward, train and eval), got NoneType"]),
    bad(evaluate, "model", X2, np.zeros(4), raises=TypeError, says=["evaluate: model must be a Module"]),
    bad(evaluate, CLASSIFIER, X2, 3, raises=ValueError,
        says=["evaluate: X and y must have one row per example", "y.shape=()"]),
    bad(fit, None, cnnbook.cross_entropy, optim.SGD(CLASSIFIER, lr=0.1), (X2, np.zeros(4)),
        epochs=1, raises=TypeError, says=["fit: model must be a Module"]),
]

RNG = [
    bad(fit, CLASSIFIER, cnnbook.cross_entropy, optim.SGD(CLASSIFIER, lr=0.1),
        (X2, np.array([0, 1, 2, 0])), epochs=1, rng="seed", progress="off", raises=TypeError,
        says=["fit: rng must be None, an integer seed >= 0 or a numpy.random.Generator",
              "got str 'seed'"]),
    bad(Dense, 2, 3, rng="seed", raises=TypeError, says=["Dense: rng must be", "str 'seed'"]),
    bad(cnnbook.Conv2d, 1, 2, 3, rng=-1, raises=ValueError, says=["Conv2d: rng must be", "got -1"]),
    bad(cnnbook.Dropout, 0.5, rng=np.random.RandomState(0), raises=TypeError,
        says=["Dropout: rng must be", "got RandomState"]),
    bad(cnnbook.dropout_forward, np.ones(3), 0.5, rng=1.5, raises=TypeError,
        says=["dropout_forward: rng must be", "float 1.5"]),
    bad(cnnbook.make_moons, 10, rng=True, raises=TypeError, says=["make_moons: rng must be", "bool"]),
    bad(cnnbook.iterate_minibatches, X2, np.zeros(4), 2, rng="0", raises=TypeError,
        says=["iterate_minibatches: rng must be"]),
    bad(cnnbook.MultiheadAttention, 4, 2, rng=[1, 2], raises=TypeError,
        says=["MultiheadAttention: rng must be", "got list"]),
    bad(cnnbook.check_gradients, lambda x: (x, None), lambda d, c: d, [np.ones(2)], rng="x",
        raises=TypeError, says=["check_gradients: rng must be"]),
]

# ---------------------------------------------------------------- kernels and layers

X4 = np.ones((2, 3, 4, 4))
K3 = np.ones((1, 3, 3, 3))
HUGE = 10**7  # a padding whose padded input would hold 1e14+ values: refused, never allocated

LAYERS = [
    bad(cnnbook.batch_norm_forward, X4, None, None, training=True, eps=0.0, raises=ValueError,
        says=["batch_norm_forward: eps must be a number > 0, got 0.0"]),
    bad(cnnbook.batch_norm_forward, X4, None, None, training=True, eps=-1e-5, raises=ValueError,
        says=["batch_norm_forward: eps must be a number > 0", "-1e-05"]),
    bad(cnnbook.batch_norm_forward, X4, None, None, training=True, eps=float("nan"), raises=ValueError,
        says=["batch_norm_forward: eps must be a number > 0", "nan"]),
    bad(cnnbook.batch_norm_forward, X4, running_mean=np.zeros(3), running_var=np.ones(3),
        training="no", raises=TypeError,
        says=["batch_norm_forward: training must be True or False, got 'no'"]),
    bad(cnnbook.batch_norm_forward, np.ones((1, 3)), None, None, training=True, raises=ValueError,
        says=["batch_norm_forward: training needs more than 1 value per channel"]),
    bad(cnnbook.dropout_forward, X4, 0.5, training="no", raises=TypeError,
        says=["dropout_forward: training must be True or False, got 'no'"]),
    bad(cnnbook.dropout_forward, X4, 0.5, training=None, raises=TypeError,
        says=["dropout_forward: training must be True or False, got None"]),
    bad(cnnbook.LayerNorm, 4, eps=float("nan"), raises=ValueError,
        says=["LayerNorm: eps must be a number >= 0, got nan"]),
    bad(cnnbook.LayerNorm, 4, eps="1e-5", raises=TypeError, says=["LayerNorm: eps must be a number"]),
    bad(cnnbook.LayerNorm, 4, elementwise_affine="yes", raises=TypeError,
        says=["LayerNorm: elementwise_affine must be True or False, got 'yes'"]),
    bad(cnnbook.LayerNorm, 4, bias=None, raises=TypeError,
        says=["LayerNorm: bias must be True or False, got None"]),
    bad(cnnbook.LayerNorm, (4, 0), raises=ValueError,
        says=["LayerNorm: normalized_shape must be an integer >= 1, got 0"]),
    bad(cnnbook.LayerNorm, "4", raises=TypeError,
        says=["LayerNorm: normalized_shape must be an int or a non-empty tuple of ints, got '4'"]),
    bad(cnnbook.LayerNorm, 10**12, raises=ValueError,
        says=["LayerNorm: weight would have shape (1000000000000,)", "normalized_shape="]),
    bad(cnnbook.one_hot, np.array([0, 1]), 10**12, raises=ValueError,
        says=["one_hot: the one-hot array would have shape (2, 1000000000000)", "num_classes="]),
    bad(cnnbook.softmax_forward, "x", raises=TypeError,
        says=["softmax_forward: x must be a NumPy array, got str"]),
    bad(cnnbook.sigmoid, ["a"], raises=TypeError, says=["sigmoid: x must have a numeric dtype"]),
    bad(cnnbook.check_gradients, None, lambda d, c: d, [np.ones(2)], raises=TypeError,
        says=["check_gradients: forward must be a function, got NoneType"]),
    bad(cnnbook.numerical_gradient, lambda x: x, [np.ones(2)], np.ones(2), wrt=3,
        raises=ValueError, says=["numerical_gradient: wrt must be the position of an array"]),
    bad(cnnbook.relative_error, "x", np.ones(2), raises=TypeError,
        says=["relative_error: a and b must be arrays of numbers", "'x'"]),
    bad(cnnbook.layer_norm_forward, np.ones((2, 4)), 4, eps=float("inf"), raises=ValueError,
        says=["layer_norm_forward: eps must be a number >= 0, got inf"]),
    bad(cnnbook.conv2d_forward, X4, K3, padding=HUGE, raises=ValueError,
        says=["conv2d_forward: the padded input would have shape (2, 3, 20000004, 20000004)",
              "more than this machine's memory", "padding=((10000000, 10000000)"]),
    bad(cnnbook.Conv2d(3, 1, 3, padding=HUGE, rng=0), X4.astype(np.float32), raises=ValueError,
        says=["conv2d_forward: the padded input would have shape", "x.shape=(2, 3, 4, 4)"]),
    bad(cnnbook.conv2d_forward, np.broadcast_to(1.0, (1, 1, 3000, 3000)),  # views: no memory
        np.broadcast_to(1.0, (1, 1, 300, 300)), padding=1000, raises=ValueError,
        says=["conv2d_forward: the columns of one image would have shape (90000, 22099401)"]),
    bad(cnnbook.conv1d_forward, np.ones((1, 1, 5)), np.ones((1, 1, 3)), padding=HUGE**2,
        raises=ValueError, says=["more than this machine's memory", "padding="]),
    bad(cnnbook.im2col, X4, 3, padding=HUGE, raises=ValueError,
        says=["im2col: the padded input would have shape", "(at least 8.53 PiB), more than"]),
    bad(cnnbook.col2im, np.ones((1, 9, 4)), (HUGE, HUGE), 3, raises=ValueError,
        says=["col2im: the output would have shape (1, 1, 10000000, 10000000)",
              "check output_size=(10000000, 10000000)"]),
    bad(cnnbook.conv_transpose2d_forward, X4, np.ones((3, 1, 3, 3)), stride=HUGE,
        raises=ValueError, says=["conv_transpose2d_forward: the output would have shape",
                                 "stride=(10000000, 10000000)"]),
]

AUTOGRAD = [
    bad(cnnbook.Value.exp, cnnbook.Value(1000.0), raises=OverflowError,
        says=["Value.exp: e^1000 is too large for a float", "709.78"]),
    bad(cnnbook.Value.__truediv__, cnnbook.Value(1.0), cnnbook.Value(0.0),
        raises=ZeroDivisionError, says=["Value.__truediv__: division by zero (1 / 0)"]),
    bad(cnnbook.Value.__rtruediv__, cnnbook.Value(0.0), 2, raises=ZeroDivisionError,
        says=["Value.__truediv__: division by zero (2 / 0)"]),
    bad(cnnbook.Value.__pow__, cnnbook.Value(10.0), 400, raises=OverflowError,
        says=["Value.__pow__: 10 ** 400 is too large for a float"]),
    bad(cnnbook.Value.__pow__, cnnbook.Value(0.0), -1, raises=ZeroDivisionError,
        says=["Value.__pow__: 0 ** -1 divides by zero"]),
    bad(lambda v: (v ** 0.5).backward(), cnnbook.Value(0.0), raises=ZeroDivisionError,
        says=["Value.__pow__ (backward): 0 ** -0.5 divides by zero"]),
    bad(cnnbook.Value.log, cnnbook.Value(0.0), raises=ValueError,
        says=["Value.log: argument must be > 0, got 0.0"]),
    bad(cnnbook.Value, "1.0", raises=TypeError, says=["Value: data must be a real number", "str"]),
]

CASES = DATA + OPTIM + METRICS + RNG + LAYERS + AUTOGRAD


@pytest.mark.parametrize("func, args, kwargs, raises, says", CASES)
def test_bad_input(func, args, kwargs, raises, says, tmp_path, monkeypatch):
    def build(value):
        return value.make(tmp_path, monkeypatch) if isinstance(value, Setup) else value
    args = [build(a) for a in args]
    kwargs = {k: build(v) for k, v in kwargs.items()}
    with pytest.raises(Exception) as info:
        func(*args, **kwargs)
    assert type(info.value) is raises, f"raised {type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for text in says:
        assert text in message, f"{text!r} is not in the message:\n{message}"
