"""Optimizers: SGD (with momentum and Nesterov), Adagrad, RMSprop, Adam. See chapter 4.

Each follows ``torch.optim``'s update rule, argument names and defaults exactly, so the
same gradients and hyperparameters give the same steps. ``params`` is a list of
``(params_dict, grads_dict, key)`` triples, as returned by ``Module.parameters()`` (a
Module itself is accepted too). ``step()`` reads ``grads[key]`` and updates
``params[key]`` in place, so the layer holding it sees the new value.

To optimise a bare point, e.g. to draw paths on a 2-D loss surface, wrap it in dicts::

    p, g = {"w": np.array([-1.5, 2.0])}, {}
    opt = Adam([(p, g, "w")], lr=0.1)
    for _ in range(100):
        g["w"] = grad_f(p["w"])
        opt.step()

or call ``descent_path(Adam, grad_f, [-1.5, 2.0], steps=100, lr=0.1)``.
In the formulas below g is the gradient (plus weight_decay * theta when weight_decay
is set), theta the parameter, t the step count starting at 1.
"""
from __future__ import annotations

import functools

import numpy as np

from ._checks import as_float_array, fits_in_memory, flag, function, positive_int, real_number

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "descent_path"]


class Optimizer:
    """Base class: holds the parameter triples and per-parameter state. See chapter 4."""

    def __init__(self, params, defaults: dict):
        name = type(self).__name__
        if not isinstance(defaults, dict):
            raise TypeError(f"{name}: defaults must be a dict of hyperparameters, "
                            f"got {type(defaults).__name__}")
        if hasattr(params, "parameters") and callable(params.parameters):
            params = params.parameters()
        want = "model.parameters(), a Module, or a list of (params_dict, grads_dict, key) triples"
        try:
            if isinstance(params, (str, bytes)):
                raise TypeError
            params = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be {want}, got {type(params).__name__} "
                            f"{params!r:.60}") from None
        seen = {}  # id of each parameter array -> its index: step each one once
        for i, item in enumerate(params):
            if not (isinstance(item, tuple) and len(item) == 3 and isinstance(item[0], dict)
                    and isinstance(item[1], dict)):
                raise TypeError(f"{name}: params must be {want}; item {i} is {item!r:.60}")
            array = item[0].get(item[2])
            if not isinstance(array, np.ndarray):
                raise TypeError(f"{name}: params item {i}: params_dict[{item[2]!r}] must be a "
                                f"NumPy array, got {type(array).__name__}")
            if not np.issubdtype(array.dtype, np.floating):
                raise TypeError(f"{name}: params item {i}: params_dict[{item[2]!r}] must be a "
                                f"floating-point array (float32 or float64) to be updated in place, "
                                f"got dtype {array.dtype}")
            if not array.flags.writeable:
                raise ValueError(f"{name}: params item {i}: params_dict[{item[2]!r}] is read-only "
                                 "(writeable=False), so it cannot be updated in place: pass a copy")
            if id(array) in seen:
                raise ValueError(
                    f"{name}: params items {seen[id(array)]} and {i} are the same array "
                    f"({item[2]!r}, shape {array.shape}): list each parameter once, or it is "
                    "stepped twice (torch.optim warns that this will become an error); a layer "
                    "used twice in a model shares one weight, to be listed once")
            seen[id(array)] = i
        if not params:
            raise ValueError(f"{name}: params is empty, there is nothing to optimise")
        self.params = params
        self.defaults = defaults
        for k, v in defaults.items():
            setattr(self, k, v)
        self.state: list[dict] = [{} for _ in params]

    def _grads(self):
        """Yield (index, param array, gradient in the param's dtype)."""
        for i, (p, g, key) in enumerate(self.params):
            param = p[key]
            if key not in g or g[key] is None:
                raise RuntimeError(f"{type(self).__name__}.step: no gradient for {key!r} "
                                   f"(params item {i}): run backward first")
            grad = np.asarray(g[key])
            if grad.dtype.kind not in "biuf":  # complex would lose its imaginary part
                raise TypeError(f"{type(self).__name__}.step: the gradient of {key!r} must be a "
                                f"real array, got dtype {grad.dtype}")
            if grad.shape != param.shape:
                raise ValueError(f"{type(self).__name__}.step: gradient of {key!r} has shape "
                                 f"{grad.shape} but the parameter has {param.shape}")
            grad = grad.astype(param.dtype, copy=False)
            if self.weight_decay != 0:
                grad = grad + self.weight_decay * param  # L2 penalty, as torch: never in place
            yield i, param, grad

    def zero_grad(self) -> None:
        """Set every gradient to zeros of its parameter's shape."""
        for p, g, key in self.params:
            g[key] = np.zeros_like(p[key])

    def step(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)}" for k in self.defaults)
        return f"{type(self).__name__}({len(self.params)} parameter arrays, {hyper})"


def _as_torch(step):
    """An update rule run as IEEE arithmetic, as torch.optim runs it: a huge learning rate
    or gradient overflows to inf (and inf - inf to NaN) without NumPy's warnings."""
    @functools.wraps(step)
    def quiet(self):
        with np.errstate(over="ignore", invalid="ignore"):
            return step(self)
    return quiet


class SGD(Optimizer):
    """Stochastic gradient descent (Chen's eq. 6, Chidiac's §1.3), optionally with momentum:

        b_t = g_t (t = 1),  b_t = momentum b_(t-1) + (1 - dampening) g_t (t > 1)
        theta <- theta - lr * (g_t + momentum b_t  if nesterov else  b_t)

    (with momentum = 0 simply theta <- theta - lr g_t), as ``torch.optim.SGD``. See chapter 4.
    """

    def __init__(self, params, lr=1e-3, *, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        f = "SGD"
        defaults = dict(lr=real_number(lr, "lr", f, minimum=0),
                        momentum=real_number(momentum, "momentum", f, minimum=0),
                        dampening=real_number(dampening, "dampening", f),
                        weight_decay=real_number(weight_decay, "weight_decay", f, minimum=0),
                        nesterov=flag(nesterov, "nesterov", f))
        if nesterov and (defaults["momentum"] <= 0 or defaults["dampening"] != 0):
            raise ValueError("SGD: nesterov=True requires momentum > 0 and dampening = 0, "
                             f"got momentum={momentum}, dampening={dampening}")
        super().__init__(params, defaults)

    @_as_torch
    def step(self) -> None:
        for i, param, grad in self._grads():
            if self.momentum != 0:
                state = self.state[i]
                if "momentum_buffer" not in state:
                    buf = state["momentum_buffer"] = np.array(grad, dtype=param.dtype)  # a copy
                else:
                    buf = state["momentum_buffer"]
                    buf *= self.momentum
                    buf += (1 - self.dampening) * grad
                grad = grad + self.momentum * buf if self.nesterov else buf
            param -= self.lr * grad


class Adagrad(Optimizer):
    """Adaptive gradient: each parameter's step shrinks with its accumulated squared
    gradients, as ``torch.optim.Adagrad``:

        s_t = s_(t-1) + g_t^2  (s_0 = initial_accumulator_value)
        theta <- theta - lr / (1 + (t - 1) lr_decay) * g_t / (sqrt(s_t) + eps)

    See chapter 4.
    """

    def __init__(self, params, lr=0.01, *, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
        f = "Adagrad"
        defaults = dict(lr=real_number(lr, "lr", f, minimum=0),
                        lr_decay=real_number(lr_decay, "lr_decay", f, minimum=0),
                        weight_decay=real_number(weight_decay, "weight_decay", f, minimum=0),
                        initial_accumulator_value=real_number(
                            initial_accumulator_value, "initial_accumulator_value", f, minimum=0),
                        eps=real_number(eps, "eps", f, minimum=0))
        super().__init__(params, defaults)
        for state, (p, _, key) in zip(self.state, self.params):
            state["step"] = 0
            state["sum"] = np.full_like(p[key], self.initial_accumulator_value)

    @_as_torch
    def step(self) -> None:
        for i, param, grad in self._grads():
            state = self.state[i]
            state["step"] += 1
            clr = self.lr / (1 + (state["step"] - 1) * self.lr_decay)
            with np.errstate(over="ignore"):  # a huge gradient: inf, as in torch (steps of 0)
                state["sum"] += grad * grad
            param -= clr * grad / (np.sqrt(state["sum"]) + self.eps)


class RMSprop(Optimizer):
    """Root mean square propagation, as ``torch.optim.RMSprop``:

        v_t = alpha v_(t-1) + (1 - alpha) g_t^2
        (centered: m_t = alpha m_(t-1) + (1 - alpha) g_t, and v_t - m_t^2 replaces v_t)
        theta <- theta - lr g_t / (sqrt(v_t) + eps)
        (momentum > 0: b_t = momentum b_(t-1) + g_t / (sqrt(v_t) + eps), theta <- theta - lr b_t)

    See chapter 4.
    """

    def __init__(self, params, lr=0.01, *, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        f = "RMSprop"
        defaults = dict(lr=real_number(lr, "lr", f, minimum=0),
                        alpha=real_number(alpha, "alpha", f, minimum=0, maximum=1),
                        eps=real_number(eps, "eps", f, minimum=0),
                        weight_decay=real_number(weight_decay, "weight_decay", f, minimum=0),
                        momentum=real_number(momentum, "momentum", f, minimum=0),
                        centered=flag(centered, "centered", f))
        super().__init__(params, defaults)
        for state, (p, _, key) in zip(self.state, self.params):
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p[key])
            if self.momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p[key])
            if self.centered:
                state["grad_avg"] = np.zeros_like(p[key])

    @_as_torch
    def step(self) -> None:
        for i, param, grad in self._grads():
            state = self.state[i]
            state["step"] += 1
            square_avg = state["square_avg"]
            square_avg *= self.alpha
            with np.errstate(over="ignore"):  # a huge gradient: inf, as in torch (steps of 0)
                square_avg += (1 - self.alpha) * grad * grad
            if self.centered:
                grad_avg = state["grad_avg"]
                grad_avg += (1 - self.alpha) * (grad - grad_avg)  # torch's lerp
                with np.errstate(over="ignore", invalid="ignore"):
                    var = square_avg - grad_avg * grad_avg
                # where v_t overflowed, keep inf as torch's fused addcmul does (not inf - inf = nan)
                var = np.where(np.isinf(square_avg), square_avg, var)
                avg = np.sqrt(var) + self.eps
            else:
                avg = np.sqrt(square_avg) + self.eps
            if self.momentum > 0:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += grad / avg
                param -= self.lr * buf
            else:
                param -= self.lr * grad / avg


class Adam(Optimizer):
    """Adaptive moment estimation, as ``torch.optim.Adam``:

        m_t = beta1 m_(t-1) + (1 - beta1) g_t,   v_t = beta2 v_(t-1) + (1 - beta2) g_t^2
        theta <- theta - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

    The divisions by 1 - beta^t undo the bias of m and v towards their zero start.
    amsgrad=True uses the running maximum of v_t in the denominator. See chapter 4.
    """

    def __init__(self, params, lr=1e-3, *, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        f = "Adam"
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        beta1 = real_number(betas[0], "betas[0]", f, minimum=0, maximum=1, open_max=True)
        beta2 = real_number(betas[1], "betas[1]", f, minimum=0, maximum=1, open_max=True)
        defaults = dict(lr=real_number(lr, "lr", f, minimum=0), betas=(beta1, beta2),
                        eps=real_number(eps, "eps", f, minimum=0),
                        weight_decay=real_number(weight_decay, "weight_decay", f, minimum=0),
                        amsgrad=flag(amsgrad, "amsgrad", f))
        super().__init__(params, defaults)
        for state, (p, _, key) in zip(self.state, self.params):
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p[key])
            state["exp_avg_sq"] = np.zeros_like(p[key])
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p[key])

    @_as_torch
    def step(self) -> None:
        beta1, beta2 = self.betas
        for i, param, grad in self._grads():
            state = self.state[i]
            state["step"] += 1
            t = state["step"]
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m += (1 - beta1) * (grad - m)  # torch's lerp: = beta1 m + (1 - beta1) g
            v *= beta2
            with np.errstate(over="ignore"):  # a huge gradient: inf, as in torch (steps of 0)
                v += (1 - beta2) * grad * grad
            step_size = self.lr / (1 - beta1**t)
            bias_correction2_sqrt = (1 - beta2**t) ** 0.5
            if self.amsgrad:
                np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                v = state["max_exp_avg_sq"]
            denom = np.sqrt(v) / bias_correction2_sqrt + self.eps
            param -= step_size * m / denom


def descent_path(optimizer, grad_fn, x0, *, steps, **hyper) -> np.ndarray:
    """Run ``optimizer`` (a class: SGD, Adam, ...) from x0 on a function whose gradient
    is ``grad_fn(x)``; return the iterates x_0, ..., x_steps as an array (steps + 1, D).

    For drawing optimizers' paths on a loss surface: hyperparameters go in ``hyper``.
    See chapter 4.
    """
    func = "descent_path"
    if not (isinstance(optimizer, type) and issubclass(optimizer, Optimizer)):
        raise TypeError(f"{func}: optimizer must be an optimizer class such as SGD or Adam "
                        f"(not an instance), got {optimizer!r:.60}")
    function(grad_fn, "grad_fn", func, "a function x -> the gradient at x")
    x = as_float_array(x0, "x0", func, ndim=1, layout="(D,)").astype(np.float64)
    steps = positive_int(steps, "steps", func, minimum=0)
    fits_in_memory((steps + 1, x.size), "the path", func, f"steps={steps}")
    p, g = {"x": x.copy()}, {}
    opt = optimizer([(p, g, "x")], **hyper)
    path = np.empty((steps + 1, x.size))  # (steps + 1, D)
    path[0] = p["x"]
    for k in range(1, steps + 1):
        g["x"] = np.asarray(grad_fn(p["x"].copy()), dtype=np.float64)
        opt.step()
        path[k] = p["x"]
    return path
