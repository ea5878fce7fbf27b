"""Sweep entries for the numerical tools: losses, optimizers, the autograd Value, the
gradient checks, and the helpers exported at the top level (sigmoid, im2col, col2im,
conv_output_size, correlate2d, ...)."""
from __future__ import annotations

import math

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F

from sweep_core import INF, Entry, panels, same
from sweep_kernels import T, flag, need

import cnnbook
from cnnbook import optim
from cnnbook.autograd import Value, draw_graph

F64 = np.float64


def _rng(seed=0):
    return np.random.default_rng(seed)


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
        rule=lambda result, args: panels(result, 1)))
    return entries


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
              lambda: {"verdict": cnnbook.exercises.Verdict("ch01.perceptron", "t", "values")}, {},
              npos=1, fixed="raised by check in strict mode with the verdict it made",
              rule=lambda result, args: True),
    ]


# ------------------------------------------------------------------ chapter 10

def _sinusoidal_twin(num_positions, dim, *, base=10000.0):
    for n in (num_positions, dim):
        need(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 10**6)
    need(dim % 2 == 0, "dim must be even")
    need(isinstance(base, (int, float)) and not isinstance(base, bool) and 1 < base < math.inf)
    t = torch.arange(num_positions, dtype=torch.float64)[:, None]
    w = torch.tensor(float(base), dtype=torch.float64) ** (
        -torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    table = torch.empty(num_positions, dim, dtype=torch.float64)
    table[:, 0::2], table[:, 1::2] = torch.sin(t * w), torch.cos(t * w)
    return table


def chapter10_entries():
    return [Entry("sinusoidal_embedding", cnnbook.sinusoidal_embedding,
                  lambda: {"num_positions": 6, "dim": 4, "base": 100.0},
                  {"num_positions": "int", "dim": "int", "base": "float"}, npos=2,
                  twin=_sinusoidal_twin)]


# ------------------------------------------------------------------ receptive fields (chapter 8)

def _extent_rule(result, args):
    g = np.abs(np.asarray(args["grad"], dtype=np.float64))
    above = np.argwhere(g > args["threshold"])
    if not len(above):
        return tuple(result) == (0, 0, 0, 0)
    (r0, c0), (r1, c1) = above.min(axis=0), above.max(axis=0)
    return tuple(result) == (r0, c0, r1 - r0 + 1, c1 - c0 + 1)


def _rf_model():
    conv = cnnbook.Conv2d(1, 2, 3, padding=1, rng=0, dtype=np.float64)
    return cnnbook.Sequential(conv)


def _gradient_map_twin(model, x, position=None, *, channel=None):
    conv = model.layers[0]
    xt = T(np.asarray(x, dtype=np.float64)).requires_grad_(True)
    out = F.conv2d(xt, T(conv.params["weight"]), T(conv.params["bias"]), padding=1)
    i, j = position
    (out[0, :, i, j] if channel is None else out[0, channel, i, j]).sum().backward()
    return xt.grad[0].sum(dim=0)


def receptive_field_entries():
    stack = lambda: [(3, 2), (3,)]  # noqa: E731
    return [
        Entry("receptive_field", cnnbook.receptive_field, lambda: {"layers": stack(), "axis": 0},
              {"layers": "module", "axis": "int"}, npos=1,
              rule=lambda result, args: result == 7),
        Entry("receptive_fields", cnnbook.receptive_fields, lambda: {"layers": stack(), "axis": 1},
              {"layers": "module", "axis": "int"}, npos=1,
              rule=lambda result, args: [(r.size, r.jump, r.start) for r in result]
              == [(3, 2, 0), (7, 2, 0)]),
        Entry("layer_geometry", cnnbook.layer_geometry, lambda: {"layer": (3, 2, 1, 1), "axis": 0},
              {"layer": "module", "axis": "int"}, npos=1,
              rule=lambda result, args: tuple(result) == (3, 2, 1, 1)),
        Entry("gradient_map", cnnbook.gradient_map,
              lambda: {"model": _rf_model(), "x": _rng(0).standard_normal((1, 1, 6, 6)),
                       "position": (1, 2), "channel": 1},
              {"model": "module", "x": "array", "channel": "int"}, npos=3,
              fixed="position: a pair of ints, checked in tests/test_receptive_field.py",
              twin=_gradient_map_twin),
        Entry("gradient_extent", cnnbook.gradient_extent,
              lambda: {"grad": np.array([[0.0, 0.2, 0.0], [0.0, 0.0, -1.0], [0.7, 0.0, 0.0]]),
                       "threshold": 0.5},
              {"grad": "array", "threshold": "float"}, npos=1, rule=_extent_rule,
              same=lambda got, want: tuple(got) == tuple(want)),  # an Extent (a NamedTuple)
    ]


# ------------------------------------------------------------------ chapter 12: segmentation

def _torch_dice(p, t, eps=1.0):
    need(isinstance(eps, (int, float)) and not isinstance(eps, bool) and 0 < eps < INF)
    need(p.dim() >= 2 and bool(((p >= 0) & (p <= 1)).all()) and bool(((t >= 0) & (t <= 1)).all()))
    dims = tuple(range(1, p.dim()))
    return 1 - ((2 * (p * t).sum(dims) + eps) / (p.sum(dims) + t.sum(dims) + eps)).mean()


def _overlap_twin(dice):
    """IoU or Dice of the ``positive`` pixels, counted with torch."""
    def twin(pred, target, *, positive=1):
        a, b = T(pred), T(target)
        need(isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor))
        need(not a.dtype.is_floating_point and not b.dtype.is_floating_point)
        need(a.shape == b.shape and a.numel() > 0)
        need(isinstance(positive, (int, np.integer)) and not isinstance(positive, bool))
        a, b = a == positive, b == positive
        inter, na, nb = (a & b).sum().item(), a.sum().item(), b.sum().item()
        if dice:
            return 1.0 if na + nb == 0 else 2 * inter / (na + nb)
        return 1.0 if na + nb - inter == 0 else inter / (na + nb - inter)
    return twin


def segmentation_entries():
    probs = lambda seed: _rng(seed).uniform(0.05, 0.95, (4, 3))  # noqa: E731
    masks = lambda seed: _rng(seed).integers(0, 2, (2, 3, 3))  # noqa: E731
    return [
        Entry("dice_loss", cnnbook.dice_loss,
              lambda: {"input": probs(0), "target": probs(1), "eps": 1.0},
              {"input": "array", "target": "array", "eps": "float"}, npos=2,
              twin=loss_twin(_torch_dice)),
        Entry("iou_score", cnnbook.iou_score,
              lambda: {"pred": masks(0), "target": masks(1), "positive": 1},
              {"pred": "labels", "target": "labels", "positive": "int"}, npos=2,
              twin=_overlap_twin(False)),
        Entry("dice_score", cnnbook.dice_score,
              lambda: {"pred": masks(0), "target": masks(1), "positive": 1},
              {"pred": "labels", "target": "labels", "positive": "int"}, npos=2,
              twin=_overlap_twin(True)),
    ]


def math_entries():
    return (loss_entries() + optimizer_entries() + autograd_entries() + gradcheck_entries()
            + helper_entries() + chapter10_entries() + receptive_field_entries()
            + segmentation_entries())
