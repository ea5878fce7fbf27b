"""Chapter 4 exercises: the dense layer's backward pass, the gradient of softmax +
cross-entropy, one step of SGD with momentum, a numerical gradient by central differences."""
from __future__ import annotations

import numpy as np

from ..dense import dense_backward as _dense_backward
from ..dense import dense_forward as _dense_forward
from ..losses import cross_entropy as _cross_entropy
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(404)  # draws the fixed cases once, the same on every run


def _quiet(fn):
    """A wrong answer computed without NumPy's overflow warnings (the checker runs it too)."""
    def wrapped(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return wrapped


# -- ch04.dense_backward: dense_backward(dout, x, weight) -> (dx, dweight, dbias) -------
def dense_backward(dout, x, weight):
    """Gradients of y = x @ weight.T + bias: dx = dout @ weight, dweight = dout.T @ x,
    dbias = dout.sum(axis=0). dout (N, out), x (N, in), weight (out, in)."""
    bias = np.zeros(weight.shape[0], dtype=weight.dtype)
    _, cache = _dense_forward(x, weight, bias)
    return _dense_backward(dout, cache)


def _dense_case(n, n_in, n_out, dtype=np.float64, note=""):
    return case(_rng.standard_normal((n, n_out)).astype(dtype),
                _rng.standard_normal((n, n_in)).astype(dtype),
                _rng.standard_normal((n_out, n_in)).astype(dtype), note=note)


def _dense_random(rng):
    n, n_in, n_out = (int(v) for v in rng.integers(1, 8, size=3))
    return case(rng.standard_normal((n, n_out)), rng.standard_normal((n, n_in)),
                rng.standard_normal((n_out, n_in)))


DENSE_BACKWARD = Exercise(
    name="ch04.dense_backward",
    exact_dtype=True,  # about dtype: the reference's dtype exactly (float32 in, float32 out)
    title="Dense layer, backward pass",
    reference=dense_backward,
    cases=[
        _dense_case(4, 3, 3, note="a square weight"),
        _dense_case(5, 4, 2),
        _dense_case(3, 3, 3, note="N = in_features = out_features"),
        _dense_case(1, 4, 3, note="a single example"),
        _dense_case(6, 5, 4, np.float32, note="float32 in, float32 out"),
    ],
    random_case=_dense_random,
    rtol=1e-5,
    atol=1e-6,
    outputs=("dx", "dweight", "dbias"),
    mistakes=[
        Mistake(lambda dout, x, weight: (dout @ weight.T, dout.T @ x, dout.sum(axis=0)),
                "dx uses `weight.T`. The forward pass multiplies by `weight.T`, so the "
                "backward pass multiplies by `weight` itself: dx = dout @ weight, "
                "(N, out) @ (out, in) -> (N, in)."),
        Mistake(lambda dout, x, weight: (dout @ weight, x.T @ dout, dout.sum(axis=0)),
                "dweight is `x.T @ dout`, the transpose of the gradient: dweight must have "
                "weight's shape (out_features, in_features), so take `dout.T @ x`."),
        Mistake(lambda dout, x, weight: (dout @ weight, dout.T @ x / len(x), dout.sum(axis=0) / len(x)),
                "It divides by the batch size. Averaging over the batch belongs in the loss, "
                "whose gradient dout already carries the 1/N; the layer sums over examples."),
        Mistake(lambda dout, x, weight: (dout @ weight, dout.T @ x, dout.mean(axis=0)),
                "dbias averages dout over the batch; the bias is added to every example, so "
                "its gradient is the sum, `dout.sum(axis=0)`."),
        Mistake(lambda dout, x, weight: (dout @ weight, dout.T @ x, dout.sum(axis=1)),
                "dbias sums over the wrong axis: one entry per output feature, so sum over "
                "the batch, `dout.sum(axis=0)`."),
    ],
    hints={
        "values": "Let the shapes guide you: dx has x's shape (N, in), dweight has weight's "
                  "shape (out, in), dbias has one entry per output. Each is a product of dout "
                  "with the other factor of the forward pass, summed over the batch.",
        "exception": "Let the shapes guide you: dout is (N, out), x is (N, in), weight is "
                     "(out, in); dx must be (N, in) and dweight (out, in).",
        "shape": "dx has x's shape (N, in_features), dweight has weight's shape "
                 "(out_features, in_features), dbias has shape (out_features,).",
        "dtype": "Keep the inputs' dtype: `@` and `.sum` on float32 arrays give float32.",
    },
)


# -- ch04.softmax_cross_entropy_grad: (logits, labels) -> dlogits ----------------------
def softmax_cross_entropy_grad(logits, labels):
    """Gradient of L = -(1/N) sum_n log softmax(z_n)[y_n] with respect to the logits:
    (softmax(z) - onehot(y)) / N. logits (N, C), labels int (N,) -> (N, C)."""
    return _cross_entropy(logits, labels)[1]


def _onehot(labels, c, dtype):
    return np.eye(c, dtype=dtype)[labels]


def _softmax(z, axis=1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _ce_case(n, c, scale=1.0, dtype=np.float64, offset=0.0, note=""):
    return case((offset + scale * _rng.standard_normal((n, c))).astype(dtype),
                _rng.integers(0, c, size=n), note=note)


def _ce_random(rng):
    n, c = int(rng.integers(2, 9)), int(rng.integers(2, 11))
    return case(rng.standard_normal((n, c)) * float(rng.choice([0.5, 1.0, 3.0])),
                rng.integers(0, c, size=n))


def _ce_wrong(f):
    def wrong(logits, labels):
        n, c = logits.shape
        return f(logits, _onehot(labels, c, logits.dtype), n)
    return _quiet(wrong)


SOFTMAX_CROSS_ENTROPY_GRAD = Exercise(
    name="ch04.softmax_cross_entropy_grad",
    title="Gradient of softmax + cross-entropy",
    reference=softmax_cross_entropy_grad,
    cases=[
        _ce_case(4, 3, note="4 examples, 3 classes"),
        _ce_case(6, 10, note="10 classes, like Fashion-MNIST"),
        _ce_case(5, 3, scale=3.0, offset=1000.0, note="logits near 1000: exp overflows unless shifted"),
        _ce_case(3, 5, dtype=np.float32, note="float32 in, float32 out"),
        case(np.zeros((2, 4)), np.array([1, 3]), note="all logits equal"),
    ],
    random_case=_ce_random,
    rtol=1e-5,
    atol=1e-7,
    mistakes=[
        Mistake(_ce_wrong(lambda z, y, n: _softmax(z) - y),
                "It sums over the batch instead of averaging: the loss is the *mean* over "
                "the N examples (as `F.cross_entropy`), so divide p - y by N."),
        Mistake(_ce_wrong(lambda z, y, n: (z - y) / n),
                "It uses the logits z where the probabilities belong: the gradient is "
                "(softmax(z) - onehot(y)) / N."),
        Mistake(_ce_wrong(lambda z, y, n: (y - _softmax(z)) / n),
                "The sign is flipped: that is the gradient of -L. Raising the true class's "
                "logit lowers the loss, so its entry must be negative: p - y, not y - p."),
        Mistake(_ce_wrong(lambda z, y, n: (_softmax(z, axis=0) - y) / n),
                "The softmax runs down the batch (axis 0); it must normalise each example's "
                "scores over the classes, along axis 1."),
        Mistake(_ce_wrong(lambda z, y, n: (1 / (1 + np.exp(-z)) - y) / n),
                "It applies the sigmoid to each logit; the probabilities of softmax sum to 1 "
                "over the classes: exp(z) / exp(z).sum(axis=1, keepdims=True)."),
    ],
    hints={
        "nonfinite": "exp(1000) overflows. Subtract each row's maximum from the logits before "
                     "exp: softmax does not change, and the largest exponent becomes 0.",
        "values": "Compute p = softmax(z) row by row, subtract 1 at each example's true "
                  "class, and divide by the batch size N.",
        "shape": "The gradient has the logits' shape (N, C).",
        "dtype": "Keep the logits' dtype: build the one-hot matrix with `dtype=logits.dtype`.",
    },
)


# -- ch04.sgd_momentum_step: one step of torch.optim.SGD with momentum -----------------
def sgd_momentum_step(param, grad, velocity, lr, momentum):
    """PyTorch's momentum: v <- momentum * v + grad, param <- param - lr * v.
    Returns (new_param, new_velocity), new arrays; the arguments are left unchanged."""
    new_velocity = momentum * velocity + grad
    return param - lr * new_velocity, new_velocity


def _momentum_case(shape, lr, momentum, dtype=np.float64, zero_velocity=False, note=""):
    velocity = (np.zeros(shape) if zero_velocity else _rng.standard_normal(shape)).astype(dtype)
    return case(_rng.standard_normal(shape).astype(dtype), _rng.standard_normal(shape).astype(dtype),
                velocity, lr, momentum, note=note)


def _momentum_random(rng):
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 3)))
    return case(rng.standard_normal(shape), rng.standard_normal(shape), rng.standard_normal(shape),
                float(rng.choice([0.01, 0.05, 0.1, 0.5])), float(rng.choice([0.5, 0.9, 0.99])))


SGD_MOMENTUM_STEP = Exercise(
    name="ch04.sgd_momentum_step",
    title="One step of SGD with momentum",
    reference=sgd_momentum_step,
    cases=[
        _momentum_case((5,), 0.1, 0.9, note="a vector of parameters"),
        _momentum_case((3, 4), 0.05, 0.9, zero_velocity=True, note="the first step: velocity 0"),
        _momentum_case((4,), 0.1, 0.0, note="momentum 0: plain SGD"),
        _momentum_case((2, 3), 0.01, 0.5, dtype=np.float32, note="float32 in, float32 out"),
        _momentum_case((6,), 0.5, 0.99),
    ],
    random_case=_momentum_random,
    rtol=1e-6,
    atol=1e-7,
    outputs=("new_param", "new_velocity"),
    mistakes=[
        Mistake(lambda p, g, v, lr, mu: (p + (mu * v - lr * g), mu * v - lr * g),
                "That is the other common form, v <- momentum v - lr g, param <- param + v "
                "(Sutskever et al.), which keeps lr inside the velocity. PyTorch's buffer holds "
                "no learning rate: v <- momentum v + g, param <- param - lr v."),
        Mistake(lambda p, g, v, lr, mu: (p - lr * (mu * v + (1 - mu) * g), mu * v + (1 - mu) * g),
                "It averages, v <- momentum v + (1 - momentum) g (that is `dampening=momentum`). "
                "PyTorch's default adds the whole gradient: v <- momentum v + g."),
        Mistake(lambda p, g, v, lr, mu: (p - lr * v, mu * v + g),
                "The step uses the old velocity. Update the velocity first, then step with "
                "the new one: param - lr * (momentum v + g)."),
        Mistake(lambda p, g, v, lr, mu: (p - (mu * v + lr * g), mu * v + lr * g),
                "It puts lr inside the velocity, v <- momentum v + lr g. That moves the same "
                "way while lr stays fixed, but PyTorch's buffer is v <- momentum v + g, and the "
                "step is param - lr v."),
        Mistake(lambda p, g, v, lr, mu: (p - lr * g, mu * v + g),
                "The step ignores the velocity: that is plain SGD. Step with the new velocity: "
                "param - lr * (momentum v + g)."),
    ],
    hints={
        "values": "Two lines: new_velocity = momentum * velocity + grad, then "
                  "new_param = param - lr * new_velocity.",
        "mutated": "Return new arrays: write `new_param = param - ...`, not `param -= ...` "
                   "(the optimizers in cnnbook update in place, this exercise does not).",
        "type": "Return a tuple (new_param, new_velocity).",
        "dtype": "Keep the parameters' dtype: arithmetic with Python floats does.",
    },
)


# -- ch04.numerical_gradient: central differences ---------------------------------------
def numerical_gradient(f, x, h=1e-5):
    """Central-difference estimate of the gradient of the scalar function f at x:
    grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h), for every entry i of x (any shape)."""
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def sin_times_square(x):
    """sum_i sin(x_i) x_i^2"""
    return float(np.sum(np.sin(x) * x**2))


def logsumexp(x):
    """log sum_i exp(x_i), computed stably"""
    m = np.max(x)
    return float(m + np.log(np.sum(np.exp(x - m))))


def coupled(x):
    """sum_i tanh(x_i) * sum_i x_i^2: every entry affects every partial derivative"""
    return float(np.sum(np.tanh(x)) * np.sum(x**2))


def cube_norm(x):
    """||x||^3"""
    return float(np.sum(x**2) ** 1.5)


_FUNCTIONS = (sin_times_square, logsumexp, coupled, cube_norm)


def _forward_difference(f, x, h=1e-5):
    x = np.array(x, dtype=np.float64, copy=True)
    grad, f0 = np.zeros_like(x), f(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        grad[i] = (f(x + e) - f0) / h
    return grad


def _backward_difference(f, x, h=1e-5):
    x = np.array(x, dtype=np.float64, copy=True)
    grad, f0 = np.zeros_like(x), f(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        grad[i] = (f0 - f(x - e)) / h
    return grad


def _numgrad_random(rng):
    shape = [(3,), (5,), (2, 3), (4, 2)][int(rng.integers(4))]
    f = _FUNCTIONS[int(rng.integers(len(_FUNCTIONS)))]
    return case(f, rng.uniform(-2, 2, size=shape), float(rng.choice([1e-3, 1e-4])))


NUMERICAL_GRADIENT = Exercise(
    name="ch04.numerical_gradient",
    title="A numerical gradient by central differences",
    reference=numerical_gradient,
    cases=[
        case(sin_times_square, np.array([0.5, -1.0, 2.0]), 1e-4, note="f = sum sin(x) x^2"),
        case(logsumexp, _rng.uniform(-2, 2, size=5), 1e-4, note="f = log sum exp(x)"),
        case(coupled, _rng.uniform(-2, 2, size=(2, 3)), 1e-3, note="a 2-D x"),
        case(cube_norm, _rng.uniform(-2, 2, size=4), 1e-3, note="f = ||x||^3"),
        case(sin_times_square, np.array([1.0]), 1e-3, note="a single entry"),
    ],
    random_case=_numgrad_random,
    # Two correct central differences agree to rounding (about 1e-12 here); forward
    # differences are off by about h/2 * f'' (1e-4 or more), far outside this tolerance.
    rtol=1e-7,
    atol=1e-9,
    mistakes=[
        Mistake(_forward_difference,
                "That is the forward difference (f(x + h e_i) - f(x)) / h, whose error shrinks "
                "only like h. Use the central difference (f(x + h e_i) - f(x - h e_i)) / (2h): "
                "its error shrinks like h^2."),
        Mistake(_backward_difference,
                "That is the backward difference (f(x) - f(x - h e_i)) / h, whose error shrinks "
                "only like h. Use the central difference (f(x + h e_i) - f(x - h e_i)) / (2h)."),
        Mistake(lambda f, x, h=1e-5: 2 * numerical_gradient(f, x, h),
                "It divides by h; the two points x + h e_i and x - h e_i are 2h apart, so "
                "divide by 2h."),
    ],
    hints={
        "values": "Nudge one entry at a time: for each index i, evaluate f with x[i] + h and "
                  "with x[i] - h (all other entries unchanged), and divide the difference by 2h.",
        "shape": "The gradient has x's shape: loop over `np.ndindex(x.shape)` so that 2-D x "
                 "works too.",
        "exception": "Loop over `np.ndindex(x.shape)` to visit every entry of an x of any shape, "
                     "and work on a copy of x so that the caller's array is left unchanged.",
        "mutated": "Work on a copy, `x = x.copy()`, or put back the original value of x[i] "
                   "after each nudge.",
        "dtype": "Return float64 (`np.zeros(x.shape)`): the gradient of a float64 check.",
    },
)

EXERCISES = [DENSE_BACKWARD, SOFTMAX_CROSS_ENTROPY_GRAD, SGD_MOMENTUM_STEP, NUMERICAL_GRADIENT]
