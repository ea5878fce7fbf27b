"""Sweep entries for everything that is not a kernel pair or a layer: losses, optimizers,
the autograd Value, data, training, plots, gradient checks, exercises, and the helpers
exported at the top level (im2col, col2im, conv_output_size, correlate2d, ...)."""
from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from sweep_core import INF, KINDS, NAN, Entry, same, to_numpy
from sweep_kernels import T, flag, need

import cnnbook
from cnnbook import optim
from cnnbook.autograd import Value, draw_graph
from cnnbook.data import fashion_mnist as fm
from cnnbook.exercises import check, hint
from cnnbook.plot import plot_decision_boundary, plot_filters, plot_history, show_images
from cnnbook.train import History, progress_mode

F64 = np.float64


def _rng(seed=0):
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ more kinds of argument

def _state_values(v):
    first = next(iter(v))
    return [("None", None), ("3", 3), ("{}", {}), ("str values", {k: "x" for k in v}),
            ("complex", {k: np.asarray(a) + 1j for k, a in v.items()}),
            ("nan", {k: np.full(np.shape(a), NAN) for k, a in v.items()}),
            ("int", {k: np.round(a).astype(np.int64) for k, a in v.items()}),
            ("ndim+1", {k: np.asarray(a)[None] for k, a in v.items()}),
            ("missing key", {k: a for k, a in v.items() if k != first}),
            ("extra key", {**v, "extra": np.ones(2)})]


def _value_values(v):
    return [(f"Value({x})", Value(float(x))) for x in ("nan", "inf", "-inf", "-1.0", "0.0", "1e300")]


KINDS.update({
    "state": _state_values,
    "value": _value_values,
    "operand": lambda v: KINDS["float"](v) + _value_values(v) + [("[1.0]", [1.0])],
    "betas": lambda v: [("None", None), ("'0.9'", "0.9"), ("(0.9,)", (0.9,)),
                        ("(nan, 0.999)", (NAN, 0.999)), ("(0.9, 1.0)", (0.9, 1.0)),
                        ("(-0.1, 0.999)", (-0.1, 0.999)), ("(0.9, 'x')", (0.9, "x"))],
    "dict": lambda v: [("None", None), ("3", 3), ("'lr'", "lr")],
    "ax": lambda v: [("3", 3), ("'ax'", "ax")],
    "figsize": lambda v: [("3", 3), ("'big'", "big"), ("(0, 2)", (0, 2)), ("(-1, 2)", (-1, 2)),
                          ("(nan, 2)", (NAN, 2)), ("(1e300, 2)", (1e300, 2))],
    "path": lambda v: [("''", ""), ("'nonsense'", "nonsense"), ("3", 3), ("b'/tmp'", b"/tmp")],
    "xy": lambda v: [("None", None), ("3", 3), ("'data'", "data"), ("(X,)", (v[0],)),
                     ("(X, y[:-1])", (v[0], v[1][:-1])), ("empty", (v[0][:0], v[1][:0])),
                     ("X nan", (np.full(np.shape(v[0]), NAN), v[1])),
                     ("X complex", (np.asarray(v[0]) + 1j, v[1])),
                     ("y str", (v[0], np.array(["a"] * len(v[1]))))],
    "history": lambda v: [("None", None), ("3", 3), ("'h'", "h"), ("{}", {}),
                          ("str losses", {"train_loss": "abc"}),
                          ("nan losses", {"train_loss": [NAN, NAN]})],
    "wrt": lambda v: [("'0'", "0"), ("[5]", [5]), ("[0.5]", [0.5]), ("3", 3), ("[-1]", [-1])],
    "optimizer": lambda v: [("None", None), ("3", 3), ("'sgd'", "sgd"),
                            ("an instance", optim.SGD([({"w": np.ones(1)}, {}, "w")]))],
    "names": lambda v: [("3", 3), ("'abc'", "abc"), ("[]", [])],
})


# ------------------------------------------------------------------ losses

def loss_twin(fn, same_shape=True):
    def twin(input, target, **kwargs):
        p, t = T(input), T(target)
        need(isinstance(p, torch.Tensor) and isinstance(t, torch.Tensor))
        need(p.numel() > 0, "empty")
        if same_shape:
            need(p.shape == t.shape, "shapes differ")
        p = p.clone().requires_grad_(True)
        loss = fn(p, t, **kwargs)
        (grad,) = torch.autograd.grad(loss, p)
        return loss.item(), grad
    return twin


def _scaled(p, t, *, scale=1.0):
    need(isinstance(scale, (int, float)) and not isinstance(scale, bool) and 0 <= scale < INF)
    return scale * ((p - t) ** 2).sum()


def zero_one_twin(input, target):
    a, b = np.asarray(input), np.asarray(target)
    need(a.shape == b.shape and a.size > 0)
    return float(np.mean(a != b)), np.zeros(a.shape)


def accuracy_twin(output, labels, *, threshold=0.0):
    """The documented rules, written with torch: argmax for C > 1 scores; else class 1 where
    the score exceeds ``threshold``, labels 0 or 1."""
    out, lab = T(output), T(labels)
    need(isinstance(out, torch.Tensor) and out.dtype.is_floating_point and out.dim() in (1, 2))
    n = out.shape[0]
    need(n > 0 and out.numel() > 0 and isinstance(lab, torch.Tensor))
    if out.dim() == 2 and out.shape[1] > 1:
        need(not lab.dtype.is_floating_point and lab.dtype != torch.bool and lab.shape == (n,))
        need(bool(((lab >= 0) & (lab < out.shape[1])).all()))
        return (out.argmax(1) == lab).double().mean().item()
    need(isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
         and math.isfinite(threshold))
    need(lab.shape in ((n,), out.shape) and bool(((lab == 0) | (lab == 1)).all()))
    return ((out.reshape(-1) > threshold) == (lab.reshape(-1) == 1)).double().mean().item()


def one_hot_twin(labels, num_classes=-1, *, dtype=np.int64):
    need(dtype in (np.int64, np.int32, np.float64, np.float32, bool))
    return F.one_hot(T(labels), num_classes)


def loss_entries():
    p = lambda: _rng(0).standard_normal((4, 3))  # noqa: E731
    t = lambda: _rng(1).standard_normal((4, 3))  # noqa: E731
    probs = lambda seed: _rng(seed).uniform(0.05, 0.95, (4, 3))  # noqa: E731
    pair = {"input": "array", "target": "array"}
    return [
        Entry("mse_loss", cnnbook.mse_loss, lambda: {"input": p(), "target": t()}, pair, npos=2,
              twin=loss_twin(F.mse_loss)),
        Entry("half_sum_squared_error", cnnbook.half_sum_squared_error,
              lambda: {"input": p(), "target": t()}, pair, npos=2,
              twin=loss_twin(lambda a, b: 0.5 * ((a - b) ** 2).sum())),
        Entry("quadratic_loss", cnnbook.quadratic_loss,
              lambda: {"input": p(), "target": t(), "scale": 0.5}, {**pair, "scale": "float"},
              npos=2, twin=loss_twin(_scaled)),
        Entry("zero_one_loss", cnnbook.zero_one_loss,
              lambda: {"input": np.array([0, 2, 1, 1]), "target": np.array([0, 1, 1, 2])},
              {"input": "labels", "target": "labels"}, npos=2, twin=zero_one_twin),
        Entry("binary_cross_entropy", cnnbook.binary_cross_entropy,
              lambda: {"input": probs(0), "target": probs(1)}, pair, npos=2,
              twin=loss_twin(F.binary_cross_entropy)),
        Entry("binary_cross_entropy_with_logits", cnnbook.binary_cross_entropy_with_logits,
              lambda: {"input": p(), "target": probs(1)}, pair, npos=2,
              twin=loss_twin(F.binary_cross_entropy_with_logits)),
        Entry("cross_entropy", cnnbook.cross_entropy,
              lambda: {"input": p(), "target": np.array([0, 2, 1, 2])},
              {"input": "array", "target": "labels"}, npos=2,
              twin=loss_twin(F.cross_entropy, same_shape=False)),
        Entry("one_hot", cnnbook.one_hot,
              lambda: {"labels": np.array([0, 2, 1, 2]), "num_classes": -1, "dtype": np.int64},
              {"labels": "labels", "num_classes": "int", "dtype": "dtype"}, npos=2,
              twin=one_hot_twin),
        Entry("accuracy", cnnbook.accuracy, variant="scores",
              build=lambda: {"output": p(), "labels": np.array([0, 2, 1, 2]), "threshold": 0.0},
              kinds={"output": "array", "labels": "labels", "threshold": "float"}, npos=2,
              twin=accuracy_twin),
        Entry("accuracy", cnnbook.accuracy, variant="one score",  # threshold and 0/1 labels
              build=lambda: {"output": _rng(2).standard_normal(4), "labels": np.array([0, 1, 1, 0]),
                       "threshold": 0.0},
              kinds={"output": "array", "labels": "labels", "threshold": "float"}, npos=2,
              twin=accuracy_twin),
    ]


# ------------------------------------------------------------------ optimizers

TORCH_OPTIM = {optim.SGD: torch.optim.SGD, optim.Adagrad: torch.optim.Adagrad,
               optim.RMSprop: torch.optim.RMSprop, optim.Adam: torch.optim.Adam}
HYPER = {
    optim.SGD: dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=True),
    optim.Adagrad: dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1,
                        eps=1e-10),
    optim.RMSprop: dict(lr=0.01, alpha=0.9, eps=1e-8, weight_decay=0.01, momentum=0.5,
                        centered=True),
    optim.Adam: dict(lr=0.01, betas=(0.8, 0.9), eps=1e-8, weight_decay=0.01, amsgrad=True),
}
OPTIM_ACCEPT = {optim.RMSprop: {("alpha", "0.0"): (
    "alpha = 0 with centered=True: the variance g^2 - g^2 is 0 up to rounding, so each step is "
    "lr * g / eps; torch's fused multiply-add leaves a tiny negative number there, whose "
    "square root is NaN, NumPy's rounding leaves 0: both evaluate the formula")}}
GRADS = [np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -3.0])]


def _w():
    return np.array([1.0, -2.0, 0.5])


def _triples():
    return [({"w": _w()}, {}, "w")]


def run_optimizer(cls):
    """Build the optimizer, take two steps with fixed gradients, return the parameter after each."""
    def run(params, **hyper):
        opt = cls(params, **hyper)
        p, g, key = opt.params[0]
        path = []
        for grad in GRADS:
            g[key] = grad.copy()
            opt.step()
            path.append(p[key].copy())
        return path
    return run


def torch_optimizer(cls):
    def twin(params, **hyper):
        need(isinstance(params, list) and len(params) == 1)
        (p, g, key), = params
        w = T(p[key]).requires_grad_(True)
        for name in ("nesterov", "centered", "amsgrad"):
            if name in hyper:
                hyper[name] = flag(hyper[name])
        opt = TORCH_OPTIM[cls]([w], **hyper)
        path = []
        for grad in GRADS:
            w.grad = torch.from_numpy(grad.copy())
            opt.step()
            path.append(w.detach().clone())
        return path
    return twin


def step_entry(cls):
    """``opt.step()`` after a bad gradient was stored in ``grads[key]`` (by a backward)."""
    def build():
        return {"self": cls(_triples(), **HYPER[cls]), "grad": GRADS[0].copy()}

    def step(self, grad):
        p, g, key = self.params[0]
        g[key] = grad
        self.step()
        return p[key].copy()

    def twin(self, grad):
        hyper = dict(HYPER[cls])
        w = torch.from_numpy(_w()).requires_grad_(True)
        opt = TORCH_OPTIM[cls]([w], **hyper)
        g = T(grad)
        need(isinstance(g, torch.Tensor) and g.dtype.is_floating_point and g.shape == w.shape)
        w.grad = g
        opt.step()
        return w.detach()

    return Entry(f"{cls.__name__}.step", step, build, {"grad": "array"}, npos=2, twin=twin,
                 labels={"grad": ("gradient", "grads")})


def optimizer_entries():
    entries = []
    for cls, hyper in HYPER.items():
        kinds = {"params": "params"}
        for k, v in hyper.items():
            kinds[k] = "betas" if k == "betas" else ("bool" if isinstance(v, bool) else "float")
        entries.append(Entry(cls.__name__, run_optimizer(cls),
                             lambda hyper=hyper: {"params": _triples(), **hyper}, kinds, npos=1,
                             twin=torch_optimizer(cls), accept=OPTIM_ACCEPT.get(cls, {}),
                             labels={"betas": ("betas", "betas[0]", "betas[1]")}))
        entries.append(step_entry(cls))
    entries.append(Entry(
        "Optimizer", optim.Optimizer, lambda: {"params": _triples(), "defaults": {"weight_decay": 0.0}},
        {"params": "params", "defaults": "dict"}, npos=2,
        rule=lambda result, args: isinstance(result, optim.Optimizer) and len(result.params) == 1))

    def descent_twin(optimizer, grad_fn, x0, *, steps, lr):
        x = T(x0)
        need(isinstance(x, torch.Tensor) and x.dim() == 1 and x.dtype.is_floating_point)
        need(isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0)
        need(callable(grad_fn))
        x = x.clone().requires_grad_(True)
        opt = TORCH_OPTIM[optimizer]([x], lr=lr)
        path = [x.detach().clone()]
        for _ in range(steps):
            x.grad = torch.from_numpy(np.asarray(grad_fn(x.detach().numpy().copy()), dtype=F64))
            opt.step()
            path.append(x.detach().clone())
        return torch.stack(path)
    entries.append(Entry(
        "descent_path", optim.descent_path,
        lambda: {"optimizer": optim.SGD, "grad_fn": lambda x: 2 * x, "x0": np.array([1.0, -2.0]),
                 "steps": 3, "lr": 0.1},
        {"optimizer": "optimizer", "grad_fn": "callable", "x0": "array", "steps": "int",
         "lr": "float"}, npos=3, twin=descent_twin, says=("SGD",)))
    return entries


# ------------------------------------------------------------------ autograd

def _torch_scalar(v):
    if isinstance(v, Value):
        return torch.tensor(v.data, dtype=torch.float64, requires_grad=True)
    need(isinstance(v, (int, float)) and not isinstance(v, bool))
    return torch.tensor(float(v), dtype=torch.float64)


def binary(op, reflected=False):
    name = op.__name__

    def ours(self, other):
        out = getattr(self, name)(other)
        out.backward()
        return out.data, self.grad, other.grad if isinstance(other, Value) else None

    def twin(self, other):
        a, b = _torch_scalar(self), _torch_scalar(other)
        out = op(b, a) if reflected else op(a, b)
        out.backward()
        return (out.item(), a.grad.item(),
                None if not isinstance(other, Value) else (0.0 if b.grad is None else b.grad.item()))
    return ours, twin


def unary(name, torch_fn):
    def ours(self):
        out = getattr(self, name)()
        out.backward()
        return out.data, self.grad

    def twin(self):
        a = _torch_scalar(self)
        out = torch_fn(a)
        out.backward()
        return out.item(), a.grad.item()
    return ours, twin


def _pow(self, exponent):
    out = self ** exponent
    out.backward()
    return out.data, self.grad


def _pow_twin(self, exponent):
    need(isinstance(exponent, (int, float)) and not isinstance(exponent, bool))
    a = _torch_scalar(self)
    out = a ** exponent
    out.backward()
    return out.item(), a.grad.item()


def _value_rule(result, args):
    data = args["data"]
    return (isinstance(result, Value) and isinstance(args["label"], str)
            and same(result.data, float(data)) and result.label == args["label"])


def _is_figure(result, args):
    return _panels(result, 1)


def autograd_entries():
    ops = {"__add__": lambda a, b: a + b, "__mul__": lambda a, b: a * b,
           "__sub__": lambda a, b: a - b, "__truediv__": lambda a, b: a / b}
    reflected = {"__radd__": ops["__add__"], "__rmul__": ops["__mul__"],
                 "__rsub__": ops["__sub__"], "__rtruediv__": ops["__truediv__"]}
    labels = {"self": None, "other": ("other", "division by zero")}
    entries = [Entry("Value", Value, lambda: {"data": 2.0, "label": "a"},
                     {"data": "float", "label": "str"}, npos=1, rule=_value_rule)]
    for name, op in {**ops, **reflected}.items():
        op.__name__ = name
        ours, twin = binary(op, reflected=name in reflected)
        entries.append(Entry(f"Value.{name}", ours, lambda: {"self": Value(2.0), "other": 3.0},
                             {"self": "value", "other": "operand"}, npos=2, twin=twin,
                             labels=labels))
    for name, fn in {"exp": torch.exp, "log": torch.log, "tanh": torch.tanh,
                     "sigmoid": torch.sigmoid, "relu": torch.relu, "__neg__": torch.neg}.items():
        ours, twin = unary(name, fn)
        entries.append(Entry(f"Value.{name}", ours, lambda: {"self": Value(0.5)},
                             {"self": "value"}, npos=1, twin=twin, labels={"self": None}))
    entries.append(Entry("Value.__pow__", _pow, lambda: {"self": Value(2.0), "exponent": 3.0},
                         {"self": "value", "exponent": "operand"}, npos=2, twin=_pow_twin,
                         labels={"self": None, "exponent": ("exponent", r"**")}))
    for name, (fn, rule) in {
        "backward": (lambda self: (self.backward(), self.grad)[1],
                     lambda result, args: result == 1.0),
        "zero_grad": (lambda self: (self.zero_grad(), self.grad)[1],
                      lambda result, args: result == 0.0),
        "topological_order": (lambda self: [v.data for v in self.topological_order()],
                              lambda result, args: same(result, [args["self"].data])),
    }.items():
        entries.append(Entry(f"Value.{name}", fn, lambda: {"self": Value(0.5)},
                             {"self": "value"}, npos=1, rule=rule, labels={"self": None}))
    entries.append(Entry(
        "draw_graph", draw_graph,
        lambda: {"root": Value(2.0, "a") * Value(3.0, "b"), "ax": None, "show_grad": True,
                 "figsize": None},
        {"root": "module", "ax": "ax", "show_grad": "bool", "figsize": "figsize"}, npos=1,
        rule=_is_figure))
    return entries


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
    need(isinstance(x, torch.Tensor) and x.dim() == 2 and len(x) > 0)
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

def _history():
    return History(epoch=[1, 2], train_loss=[1.0, 0.5], train_acc=[0.5, 0.7], val_loss=[1.1, 0.6],
                   val_acc=[0.4, 0.6], time=[0.1, 0.1])


def _has_accuracy(history):
    h = history.as_dict() if isinstance(history, History) else history
    return any(v is not None for k in ("train_acc", "val_acc") for v in h.get(k, []))


def _panels(result, want):
    """A Figure with ``want`` panels holding data, which renders (as a notebook would show it;
    at 10 dpi, to be quick)."""
    if not (isinstance(result, Figure) and sum(a.has_data() for a in result.axes) == want):
        return False
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning while drawing is a generic message too
        result.savefig(buf, format="png", dpi=10)
    return buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def plot_entries():
    images = lambda: _rng(0).uniform(0, 1, (3, 4, 4))  # noqa: E731
    return [
        Entry("plot_history", plot_history, lambda: {"history": _history(), "ax": None},
              {"history": "history", "ax": "ax"}, npos=1,
              rule=lambda result, args: _panels(result, 1 + _has_accuracy(args["history"]))),
        Entry("show_images", show_images,
              lambda: {"images": images(), "labels": np.array([0, 1, 2]),
                       "class_names": ["a", "b", "c"], "predictions": np.array([0, 2, 2]),
                       "ncols": 2, "cmap": "gray", "vmin": 0.0, "vmax": 1.0, "size": 1.0},
              {"images": "array", "labels": "labels", "class_names": "names",
               "predictions": "labels", "ncols": "int", "cmap": "str", "vmin": "float",
               "vmax": "float", "size": "float"}, npos=3,
              rule=lambda result, args: _panels(result, len(np.asarray(args["images"]))),
              nocast=("images",)),
        Entry("plot_decision_boundary", plot_decision_boundary,
              lambda: {"predict_fn": lambda pts: (pts[:, 0] > 0.5).astype(int),
                       "X": _rng(0).uniform(0, 1, (6, 2)), "y": np.array([0, 1, 1, 0, 1, 0]),
                       "ax": None, "resolution": 20, "padding": 0.5, "threshold": 0.5},
              {"predict_fn": "callable", "X": "array", "y": "labels", "ax": "ax",
               "resolution": "int", "padding": "float", "threshold": "float"}, npos=3,
              rule=lambda result, args: _panels(result, 1), nocast=("X",)),
        Entry("plot_filters", plot_filters,
              lambda: {"weight": _rng(0).standard_normal((4, 1, 3, 3)), "ncols": 2,
                       "cmap": "RdBu_r", "size": 1.0},
              {"weight": "array", "ncols": "int", "cmap": "str", "size": "float"}, npos=1,
              rule=lambda result, args: _panels(result, len(np.asarray(args["weight"]))),
              nocast=("weight",)),
    ]


# ------------------------------------------------------------------ gradient checks

def _tanh_forward(x):
    return cnnbook.tanh_forward(x)


def gradcheck_entries():
    x = lambda: _rng(0).standard_normal((2, 3))  # noqa: E731

    def check_rule(result, args):
        return (isinstance(result, dict) and sorted(result) == [0]
                and all(math.isfinite(v) and v >= 0 for v in result.values()))

    def numerical_twin(f, inputs, dout, wrt=0, h=1e-6):
        need(callable(f) and isinstance(wrt, int) and not isinstance(wrt, bool) and wrt == 0)
        need(isinstance(h, float) and 0 < h < 1e-2)
        x = T(inputs[0])
        d = T(dout)
        need(isinstance(x, torch.Tensor) and isinstance(d, torch.Tensor) and x.shape == d.shape)
        need(x.dtype.is_floating_point and d.dtype.is_floating_point)
        return d * (1 - torch.tanh(x) ** 2)

    def relative_twin(a, b):
        a, b = T(a), T(b)
        need(isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape)
        need(a.dtype.is_floating_point and b.dtype.is_floating_point)
        if a.numel() == 0:
            return 0.0
        return ((a - b).abs() / torch.clamp(a.abs() + b.abs(), min=1e-12)).max().item()

    return [
        Entry("check_gradients", cnnbook.check_gradients,
              lambda: {"forward": _tanh_forward, "backward": cnnbook.tanh_backward,
                       "inputs": [x()], "wrt": None, "rng": 0, "h": 1e-6, "atol": 1e-6,
                       "rtol": 1e-5},
              {"forward": "callable", "backward": "callable", "inputs": "params", "wrt": "wrt",
               "rng": "rng", "h": "float", "atol": "float", "rtol": "float"}, npos=3,
              rule=check_rule, says=("tanh_forward", "tanh_backward")),
        Entry("check_gradients", variant="inputs[0]", fn=lambda forward, backward, x, **kw:
              cnnbook.check_gradients(forward, backward, [x], **kw),
              build=lambda: {"forward": _tanh_forward, "backward": cnnbook.tanh_backward, "x": x()},
              kinds={"x": "array"}, npos=3, rule=check_rule, says=("tanh_forward", "tanh_backward"),
              fixed="forward and backward are swept in the other check_gradients entry",
              labels={"x": ("inputs[0]", "x", "inputs")}),
        Entry("numerical_gradient", variant="x", fn=lambda f, x, dout, **kw:
              cnnbook.numerical_gradient(f, [x], dout, **kw),
              build=lambda: {"f": _tanh_forward, "x": x(), "dout": _rng(1).standard_normal((2, 3)),
                       "wrt": 0, "h": 1e-6},
              kinds={"f": "callable", "x": "array", "dout": "array", "wrt": "int", "h": "float"},
              npos=3, twin=lambda f, x, dout, **kw: numerical_twin(f, [x], dout, **kw),
              says=("tanh_forward",), labels={"x": ("inputs[0]", "x", "inputs")},
              same=lambda got, want: same(got, want, rtol=1e-5, atol=1e-7)),
        Entry("numerical_gradient", cnnbook.numerical_gradient, variant="inputs",
              build=lambda: {"f": _tanh_forward, "inputs": [x()], "dout": _rng(1).standard_normal((2, 3))},
              kinds={"inputs": "params"}, npos=3, twin=numerical_twin,
              fixed="f and dout are swept in the other numerical_gradient entry", says=("tanh_forward",),
              same=lambda got, want: same(got, want, rtol=1e-5, atol=1e-7)),
        Entry("relative_error", cnnbook.relative_error,
              lambda: {"a": x(), "b": _rng(2).standard_normal((2, 3))},
              {"a": "array", "b": "array"}, npos=2, twin=relative_twin,
              labels={"a": ("a", "a and b"), "b": ("b", "a and b")}),
    ]


# ------------------------------------------------------------------ exercises

def _printed(fn, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = fn(*args, **kwargs)
    return result, out.getvalue()


def exercise_entries():
    from cnnbook.exercises import get
    tlu = get("ch01.tlu").reference

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
              lambda: {"name": "ch01.tlu", "fn": tlu}, {"name": "str", "fn": "callable"}, npos=2,
              rule=check_rule),
        Entry("hint", lambda name, level=None: _printed(hint, name, level),
              lambda: {"name": "ch01.tlu", "level": None}, {"name": "str", "level": "int"}, npos=2,
              rule=hint_rule),
    ]


# ------------------------------------------------------------------ helpers at the top level

def _conv_size_rule(result, args):
    n, k, s, p, d = (args[key] for key in ("input_size", "kernel_size", "stride", "padding",
                                           "dilation"))
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (n, k, s, p, d))
    valid = ints and n >= 1 and k >= 1 and s >= 1 and p >= 0 and d >= 1 and n + 2 * p >= d * (k - 1) + 1
    return valid and result == (n + 2 * p - d * (k - 1) - 1) // s + 1


def _single_2d(fn):
    def twin(a, k, mode="valid"):
        need(mode in ("valid", "same", "full"))
        a, k = np.asarray(a), np.asarray(k)
        need(a.ndim == 2 and k.ndim == 2 and a.size > 0 and k.size > 0)
        need(a.dtype.kind == "f" and k.dtype.kind == "f")
        if mode == "valid":
            need(k.shape[0] <= a.shape[0] and k.shape[1] <= a.shape[1])
        return fn(a, k, mode=mode)
    return twin


def helper_entries():
    x = lambda: _rng(0).standard_normal((2, 2, 5, 4))  # noqa: E731
    return [
        Entry("sigmoid", cnnbook.sigmoid, lambda: {"x": _rng(0).standard_normal((3, 4))},
              {"x": "array"}, npos=1, twin=lambda x: torch.sigmoid(T(x))),
        Entry("im2col", cnnbook.im2col,
              lambda: {"x": x(), "kernel_size": 2, "stride": 1, "padding": 1, "dilation": 1},
              {"x": "array", "kernel_size": "int", "stride": "int", "padding": ("int", "str"),
               "dilation": "int"}, npos=2,
              twin=lambda x, kernel_size, *, stride=1, padding=0, dilation=1: F.unfold(
                  T(x), kernel_size, dilation, padding, stride)),
        Entry("col2im", cnnbook.col2im,
              lambda: {"cols": _rng(0).standard_normal((2, 8, 30)), "output_size": (5, 4),
                       "kernel_size": 2, "stride": 1, "padding": 1, "dilation": 1},
              {"cols": "array", "output_size": "int", "kernel_size": "int", "stride": "int",
               "padding": ("int", "str"), "dilation": "int"}, npos=3,
              twin=lambda cols, output_size, kernel_size, *, stride=1, padding=0, dilation=1:
              F.fold(T(cols), output_size, kernel_size, dilation, padding, stride)),
        Entry("conv_output_size", cnnbook.conv_output_size,
              lambda: {"input_size": 7, "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1},
              {k: "int" for k in ("input_size", "kernel_size", "stride", "padding", "dilation")},
              npos=5, rule=_conv_size_rule),
        Entry("correlate2d", cnnbook.correlate2d,
              lambda: {"a": _rng(0).standard_normal((5, 4)), "k": _rng(1).standard_normal((2, 3)),
                       "mode": "same"},
              {"a": "array", "k": "array", "mode": "str"}, npos=3,
              twin=_single_2d(scipy.signal.correlate2d)),
        Entry("convolve2d", cnnbook.convolve2d,
              lambda: {"a": _rng(0).standard_normal((5, 4)), "k": _rng(1).standard_normal((2, 3)),
                       "mode": "full"},
              {"a": "array", "k": "array", "mode": "str"}, npos=3,
              twin=_single_2d(scipy.signal.convolve2d)),
        Entry("no_grad", cnnbook.no_grad, dict, {}, fixed="no_grad() takes no arguments",
              rule=lambda result, args: True),
        Entry("ExerciseFailed", cnnbook.ExerciseFailed,
              lambda: {"verdict": cnnbook.exercises.Verdict("ch01.tlu", "t", "values")}, {},
              npos=1, fixed="raised by check in strict mode with the verdict it made",
              rule=lambda result, args: True),
    ]


def tool_entries():
    return (loss_entries() + optimizer_entries() + autograd_entries() + data_entries()
            + train_entries() + plot_entries() + gradcheck_entries() + exercise_entries()
            + helper_entries())
