"""Sweep entries for the learner's tools: data, training, plots and exercises."""
from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
import torch.nn.functional as F

from sweep_core import Entry, panels, same, to_numpy
from sweep_kernels import T, need
from sweep_math import accuracy_twin

import cnnbook
from cnnbook import optim
from cnnbook.data import fashion_mnist as fm
from cnnbook.exercises import check, hint, progress
from cnnbook.plot import (animation_html, plot_decision_boundary, plot_filters, plot_history,
                          show_images, use_book_style)
from cnnbook.train import History, progress_mode

F64 = np.float64


def _rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ data

def _system_copy() -> bool:
    return all(fm._find_file(fm._SYSTEM_DIR, name) for name in fm._SHA256)


def _data_rule(result, args):
    """The test split: paths of its two files, or 10,000 images (28, 28) in [0, 1] and labels."""
    if args["split"] != "test" or args["data_dir"] is not None or args["download"] is not False:
        return False
    first, second = result
    if isinstance(first, np.ndarray):
        return (first.shape == (10_000, 28, 28) and first.dtype == np.float32
                and second.shape == (10_000,) and set(np.unique(second)) == set(range(10)))
    return "t10k-images" in str(first) and "t10k-labels" in str(second)


def _toy_rule(counts):
    """(X, y): X (n, 2) finite float64, y (n,) int64, class sizes as documented."""
    def rule(result, args):
        X, y = result
        n = args["n"]
        return (X.shape == (n, 2) and X.dtype == F64 and np.isfinite(X).all()
                and y.shape == (n,) and y.dtype == np.int64
                and list(np.bincount(y)) == counts(n, args))
    return rule


def _equal(a, b) -> bool:
    """Equal arrays, NaN equal to NaN where the dtype has NaN (object arrays compared as they are)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _batches_rule(result, args):
    """Concatenated, the batches are X and y in the documented order."""
    X, y = np.asarray(args["X"]), np.asarray(args["y"])
    order = (np.random.default_rng(args["rng"]).permutation(len(X)) if args["shuffle"]
             else np.arange(len(X)))
    batches = list(result)
    size = args["batch_size"]
    want = [order[s:s + size] for s in range(0, len(X), size)]
    return (len(batches) == len(want)
            and all(_equal(bx, X[i]) and _equal(by, y[i]) for (bx, by), i in zip(batches, want)))


def _shift_rule(result, args):
    """out[..., i, j] = images[..., i - dy, j - dx] inside the image, else 0."""
    images, dx, dy = np.asarray(args["images"]), args["dx"], args["dy"]
    H, W = images.shape[-2:]
    out = np.zeros_like(images)
    for i in range(H):
        for j in range(W):
            if 0 <= i - dy < H and 0 <= j - dx < W:
                out[..., i, j] = images[..., i - dy, j - dx]
    return _equal(result, out)


def data_entries():
    entries = []
    if _system_copy():
        for name, fn in (("load_fashion_mnist", cnnbook.load_fashion_mnist),
                         ("fashion_mnist_paths", cnnbook.fashion_mnist_paths)):
            entries.append(Entry(name, fn, lambda: {"split": "test", "data_dir": None,
                                                    "download": False},
                                 {"split": "str", "data_dir": "path", "download": "bool"}, npos=1,
                                 rule=_data_rule, says=("fashion_mnist_paths",)))
    counts = {
        "make_xor": lambda n, a: [len(range(0, n, 4)) + len(range(2, n, 4)),
                                  len(range(1, n, 4)) + len(range(3, n, 4))],
        "make_moons": lambda n, a: [n // 2, n - n // 2],
        "make_spirals": lambda n, a: [n // a["classes"] + (k < n % a["classes"])
                                      for k in range(a["classes"])],
    }
    for name, extra in (("make_xor", {}), ("make_moons", {}), ("make_spirals", {"classes": 3})):
        kinds = {"n": "int", **{k: "int" for k in extra}, "noise": "float", "rng": "rng"}
        entries.append(Entry(name, getattr(cnnbook, name),
                             lambda extra=extra: {"n": 12, **extra, "noise": 0.1, "rng": 0},
                             kinds, npos=1, rule=_toy_rule(counts[name])))
    entries.append(Entry(
        "iterate_minibatches", cnnbook.iterate_minibatches,
        lambda: {"X": _rng(0).standard_normal((5, 2)), "y": np.array([0, 1, 1, 0, 1]),
                 "batch_size": 2, "shuffle": True, "rng": 0},
        {"X": "array", "y": "labels", "batch_size": "int", "shuffle": "bool", "rng": "rng"},
        npos=3, rule=_batches_rule, nocast=("X",)))
    entries.append(Entry(
        "shift_images", cnnbook.shift_images,
        lambda: {"images": _rng(0).standard_normal((2, 3, 4)), "dx": 1, "dy": -2},
        {"images": "array", "dx": "int", "dy": "int"}, npos=3, rule=_shift_rule,
        nocast=("images",)))
    return entries


# ------------------------------------------------------------------ training

X8 = _rng(0).standard_normal((8, 2))
Y8 = np.array([0, 1, 2, 0, 1, 2, 0, 1])


def _model(seed=0):
    return cnnbook.Sequential(cnnbook.Dense(2, 3, rng=seed, dtype=F64))


def _torch_model(m):
    from sweep_layers import of
    return of(m)


def _predict_twin(model, X, *, batch_size=1000):
    need(isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1)
    x = T(X)
    need(isinstance(x, torch.Tensor) and x.dim() >= 2 and len(x) > 0)  # Dense: (N, ..., in)
    return _torch_model(model)(x)


def _evaluate_twin(model, X, y, *, batch_size=1000, threshold=None):
    out = to_numpy(_predict_twin(model, X, batch_size=batch_size))
    return accuracy_twin(out, y, threshold=0.0 if threshold is None else threshold)


def _fit(model, loss_fn, optimizer, train_data, **kwargs):
    history = cnnbook.fit(model, loss_fn, optimizer, train_data, **kwargs)
    return history, model.state_dict()


def _fit_twin(model, loss_fn, optimizer, train_data, *, epochs, batch_size=128, val_data=None,
              rng=None, progress="off", shuffle=True):
    """The same training in torch: the same batches (the same permutations of the seed),
    F.cross_entropy, torch.optim.SGD; returns the per-epoch loss and the weights."""
    need(isinstance(model, cnnbook.Module) and loss_fn is cnnbook.cross_entropy)
    need(isinstance(optimizer, optim.SGD) and progress in ("off", False))
    need(isinstance(train_data, tuple) and len(train_data) == 2)
    need(val_data is None or (isinstance(val_data, tuple) and len(val_data) == 2))
    X, y = (np.asarray(a) for a in train_data)
    need(len(X) == len(y) and len(X) > 0 and X.dtype.kind == "f" and y.dtype.kind == "i")
    for v in (epochs, batch_size):
        need(isinstance(v, int) and not isinstance(v, bool) and v >= 1)
    need(isinstance(shuffle, bool) and (rng is None or isinstance(rng, int) and rng >= 0))
    tm = _torch_model(model)
    opt = torch.optim.SGD(tm.parameters(), lr=optimizer.lr)
    gen = np.random.default_rng(rng)
    losses = []
    for _ in range(epochs):
        order = gen.permutation(len(X)) if shuffle else np.arange(len(X))
        total = 0.0
        for s in range(0, len(X), batch_size):
            idx = order[s:s + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(tm(T(X[idx])), T(y[idx]))
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(X))
    return losses, {n: p.detach() for n, p in tm.named_parameters()}


def _fit_same(got, want):
    history, state = got
    losses, params = want
    return (isinstance(history, History) and same(history.train_loss, losses)
            and same({k: v for k, v in state.items()}, params))


def train_entries():
    def fit_args():
        model = _model()
        return {"model": model, "loss_fn": cnnbook.cross_entropy,
                "optimizer": optim.SGD(model, lr=0.1), "train_data": (X8.copy(), Y8.copy()),
                "epochs": 2, "batch_size": 3, "val_data": (X8[:4].copy(), Y8[:4].copy()),
                "rng": 0, "progress": "off", "shuffle": True}
    return [
        Entry("fit", _fit, fit_args,
              {"model": "module", "loss_fn": "callable", "optimizer": "optimizer",
               "train_data": "xy", "epochs": "int", "batch_size": "int", "val_data": "xy",
               "rng": "rng", "progress": "str", "shuffle": "bool"}, npos=4, twin=_fit_twin,
              same=_fit_same, says=("dense_forward", "cross_entropy"),
              labels={"train_data": ("train_data", "X", "y", "x", "target", "input"),
                      "val_data": ("val_data", "X", "y", "x", "target", "input")},
              skip={("epochs", "10**12"): "a very long run that is legal: not tried"}),
        Entry("predict", cnnbook.predict,
              lambda: {"model": _model(), "X": X8.copy(), "batch_size": 3},
              {"model": "module", "X": "array", "batch_size": "int"}, npos=2,
              twin=_predict_twin, says=("dense_forward",), labels={"X": ("X", "x")}),
        Entry("evaluate", cnnbook.evaluate,
              lambda: {"model": _model(), "X": X8.copy(), "y": Y8.copy(), "batch_size": 3,
                       "threshold": None},
              {"model": "module", "X": "array", "y": "labels", "batch_size": "int",
               "threshold": "float"}, npos=3, twin=_evaluate_twin, says=("dense_forward",),
              labels={"X": ("X", "x"), "y": ("y", "labels")}),
        Entry("progress_mode", progress_mode, lambda: {"progress": "off"}, {"progress": "str"},
              npos=1, rule=lambda result, args: result == args["progress"] == "off"),
        Entry("History", History, dict, {}, fixed="a record of lists that fit fills",
              rule=lambda result, args: isinstance(result, History)),
    ]


# ------------------------------------------------------------------ plots

def _animation():
    from matplotlib import animation
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    return animation.FuncAnimation(fig, lambda k: ax.plot([k]), frames=2)


def _book_style():
    import matplotlib as mpl

    with mpl.rc_context():
        use_book_style()
        return mpl.rcParams["axes.prop_cycle"].by_key()["color"]

def _history():
    return History(epoch=[1, 2], train_loss=[1.0, 0.5], train_acc=[0.5, 0.7], val_loss=[1.1, 0.6],
                   val_acc=[0.4, 0.6], time=[0.1, 0.1])


def _has_accuracy(history):
    h = history.as_dict() if isinstance(history, History) else history
    return any(v is not None for k in ("train_acc", "val_acc") for v in h.get(k, []))


def plot_entries():
    images = lambda: _rng(0).uniform(0, 1, (3, 4, 4))  # noqa: E731
    return [
        Entry("animation_html", animation_html, lambda: {"anim": _animation(), "alt": "a dot"},
              {"alt": "str"}, npos=2, fixed="anim: a matplotlib animation (or any object: TypeError)",
              rule=lambda result, args: f'alt="{args["alt"]}"' in result and "https://" not in result),
        Entry("use_book_style", lambda: _book_style(), dict, {}, fixed="takes no argument",
              rule=lambda result, args: result[:2] == ["#0072B2", "#E69F00"]),
        Entry("plot_history", plot_history, lambda: {"history": _history(), "ax": None},
              {"history": "history", "ax": "ax"}, npos=1,
              rule=lambda result, args: panels(result, 1 + _has_accuracy(args["history"]))),
        Entry("show_images", show_images,
              lambda: {"images": images(), "labels": np.array([0, 1, 2]),
                       "class_names": ["a", "b", "c"], "predictions": np.array([0, 2, 2]),
                       "ncols": 2, "cmap": "gray", "vmin": 0.0, "vmax": 1.0, "size": 1.0},
              {"images": "array", "labels": "labels", "class_names": "names",
               "predictions": "labels", "ncols": "int", "cmap": "str", "vmin": "float",
               "vmax": "float", "size": "float"}, npos=3,
              rule=lambda result, args: panels(result, len(np.asarray(args["images"]))),
              nocast=("images",)),
        Entry("plot_decision_boundary", plot_decision_boundary,
              lambda: {"predict_fn": lambda pts: (pts[:, 0] > 0.5).astype(int),
                       "X": _rng(0).uniform(0, 1, (6, 2)), "y": np.array([0, 1, 1, 0, 1, 0]),
                       "ax": None, "resolution": 20, "padding": 0.5, "threshold": 0.5},
              {"predict_fn": "callable", "X": "array", "y": "labels", "ax": "ax",
               "resolution": "int", "padding": "float", "threshold": "float"}, npos=3,
              rule=lambda result, args: panels(result, 1), nocast=("X",)),
        Entry("plot_filters", plot_filters,
              lambda: {"weight": _rng(0).standard_normal((4, 1, 3, 3)), "ncols": 2,
                       "cmap": "RdBu_r", "size": 1.0},
              {"weight": "array", "ncols": "int", "cmap": "str", "size": "float"}, npos=1,
              rule=lambda result, args: panels(result, len(np.asarray(args["weight"]))),
              nocast=("weight",)),
    ]


# ------------------------------------------------------------------ exercises

def _printed(fn, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = fn(*args, **kwargs)
    return result, out.getvalue()


def exercise_entries():
    from cnnbook.exercises import get
    tlu = get("ch01.perceptron").reference

    def check_rule(result, args):
        """check shows a verdict and returns None; a function that is not a function fails."""
        returned, printed = result
        return returned is None and printed.startswith("✓" if args["fn"] is tlu else "✗")

    def hint_rule(result, args):
        """hint prints the next hint (or that there is none) and returns None; level is
        None or a whole number from 1 to the number of hints."""
        returned, printed = result
        level = args["level"]
        steps = len(get(args["name"]).hint_steps)
        good_level = level is None or (type(level) is int and 1 <= level <= max(steps, 1))
        return returned is None and printed != "" and good_level

    return [
        Entry("check", lambda name, fn: _printed(check, name, fn),
              lambda: {"name": "ch01.perceptron", "fn": tlu}, {"name": "str", "fn": "callable"}, npos=2,
              rule=check_rule),
        Entry("hint", lambda name, level=None: _printed(hint, name, level),
              lambda: {"name": "ch01.perceptron", "level": None}, {"name": "str", "level": "int"}, npos=2,
              rule=hint_rule),
        Entry("progress", lambda reset=False: _printed(progress, reset=reset),
              lambda: {"reset": False}, {"reset": "bool"},
              rule=lambda result, args: result[0] is None and "all chapters" in result[1]),
    ]


# ------------------------------------------------------------------ chapter 12

def _lines_rule(result, args):
    """(images, masks): (n, 1, size, size) finite float32 and (n, size, size) int64 in {0, 1}
    (and 2 with disk_class)."""
    X, M = result
    n, size = args["n"], args["size"]
    return (X.shape == (n, 1, size, size) and X.dtype == np.float32 and np.isfinite(X).all()
            and M.shape == (n, size, size) and M.dtype == np.int64
            and set(np.unique(M)) <= ({0, 1, 2} if args["disk_class"] else {0, 1}))


def _unet_rule(result, args):
    """A Module whose logits keep the probe's height and width."""
    if not isinstance(result, cnnbook.Module):
        return False
    x = np.zeros((1, args["in_channels"], 16, 16), dtype=np.float32)
    with cnnbook.no_grad():
        return result.forward(x).shape == (1, args["n_classes"], 16, 16)


def chapter12_entries():
    return [
        Entry("make_lines_and_disks", cnnbook.make_lines_and_disks,
              lambda: {"n": 3, "size": 16, "disks": 2, "lines": 1, "noise": 0.1,
                       "disk_class": False, "rng": 0},
              {"n": "int", "size": "int", "disks": "int", "lines": "int", "noise": "float",
               "disk_class": "bool", "rng": "rng"}, npos=1, rule=_lines_rule),
        Entry("unet", cnnbook.unet,
              lambda: {"in_channels": 1, "n_classes": 2, "width": 2, "depth": 2,
                       "skip": "concat", "rng": 0, "dtype": np.float32},
              {"in_channels": "int", "n_classes": "int", "width": "int", "depth": "int",
               "skip": "str", "rng": "rng", "dtype": "dtype"}, npos=2, rule=_unet_rule),
    ]


def tool_entries():
    return (data_entries() + train_entries() + plot_entries() + exercise_entries()
            + chapter12_entries())
