"""Chapter 4 exercises: backpropagation through a two-layer network, the loss and
gradient of cross-entropy with label smoothing (computed stably), one step of Adam, and
the backward pass of any function by central differences (the gradient check).

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch04.py checks this).
"""
from __future__ import annotations

import numpy as np

from ..activations import tanh_backward as _tanh_backward
from ..activations import tanh_forward as _tanh_forward
from ..dense import dense_backward as _dense_backward
from ..dense import dense_forward as _dense_forward
from ..gradcheck import numerical_gradient as _numerical_gradient
from ..losses import cross_entropy as _cross_entropy
from ..losses import half_sum_squared_error as _half_sum_squared_error
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(404)  # draws the fixed cases once, the same on every run


def _quiet(fn):
    """A wrong answer computed without NumPy's overflow warnings (the checker runs it too)."""
    def wrapped(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return wrapped


def _as64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


# -- ch04.mlp_gradients: backpropagation through dense -> tanh -> dense ------------------
def mlp_gradients(x, target, w1, b1, w2, b2):
    """Gradients of L = 1/2 sum (y - target)^2 for h = tanh(x w1^T + b1), y = h w2^T + b2.

    x (N, D), target (N, K), w1 (H, D), b1 (H,), w2 (K, H), b2 (K,).
    Returns (dw1, db1, dw2, db2), shaped like w1, b1, w2, b2, computed in float64 (a
    float32 answer is compared to float32's precision).
    """
    x, target, w1, b1, w2, b2 = _as64(x, target, w1, b1, w2, b2)
    z, dense1 = _dense_forward(x, w1, b1)
    h, tanh_cache = _tanh_forward(z)
    y, dense2 = _dense_forward(h, w2, b2)
    _, dy = _half_sum_squared_error(y, target)
    dh, dw2, db2 = _dense_backward(dy, dense2)
    dz = _tanh_backward(dh, tanh_cache)
    _, dw1, db1 = _dense_backward(dz, dense1)
    return dw1, db1, dw2, db2


def _mlp_case(n, d, hidden, k, dtype=np.float64, scale=1.0, note=""):
    draw = lambda *shape: (scale * _rng.standard_normal(shape)).astype(dtype)
    return case(draw(n, d), draw(n, k), draw(hidden, d), draw(hidden), draw(k, hidden), draw(k),
                note=note)


def _mlp_random(rng):
    n, d, hidden, k = (int(v) for v in rng.integers(1, 7, size=4))
    return case(rng.standard_normal((n, d)), rng.standard_normal((n, k)),
                rng.standard_normal((hidden, d)), rng.standard_normal(hidden),
                rng.standard_normal((k, hidden)), rng.standard_normal(k))


def _mlp_wrong(dy_of, dz_of, dh_of=lambda dy, w2: dy @ w2, per_example=False, bias_sum=True):
    """A wrong backward pass: ``dy_of(y, t)``, ``dh_of(dy, w2)``, ``dz_of(dh, z, h)``."""
    def wrong(x, target, w1, b1, w2, b2):
        z = x @ w1.T + b1
        h = np.tanh(z)
        y = h @ w2.T + b2
        dy = dy_of(y, target) / (len(x) if per_example else 1)
        dh = dh_of(dy, w2)
        dz = dz_of(dh, z, h)
        db = (lambda g: g.sum(axis=0)) if bias_sum else (lambda g: g.mean(axis=0))
        return dz.T @ x, db(dz), dy.T @ h, db(dy)
    return _quiet(wrong)


_RIGHT_DY = lambda y, t: y - t
_RIGHT_DZ = lambda dh, z, h: dh * (1 - h * h)

MLP_GRADIENTS = Exercise(
    name="ch04.mlp_gradients",
    title="Backpropagation through a two-layer network",
    reference=mlp_gradients,
    cases=[
        _mlp_case(1, 3, 4, 2, note="a single example"),
        _mlp_case(5, 3, 3, 3, note="square weights, 5 examples"),
        _mlp_case(6, 4, 5, 2),
        _mlp_case(4, 2, 6, 3, scale=2.0, note="large pre-activations: tanh near saturation"),
        _mlp_case(3, 4, 4, 4, dtype=np.float32, note="float32"),
    ],
    random_case=_mlp_random,
    rtol=1e-5,
    atol=1e-7,
    outputs=("dw1", "db1", "dw2", "db2"),
    mistakes=[
        Mistake(_mlp_wrong(_RIGHT_DY, lambda dh, z, h: dh),
                "The tanh between the layers is skipped: the gradient at the hidden outputs "
                "is used as the gradient at the pre-activations. By what does eq. "
                "(ch04-activation-grad) multiply it on the way through an activation?"),
        Mistake(_mlp_wrong(_RIGHT_DY, lambda dh, z, h: dh * (1 - z * z)),
                "The slope of tanh is taken at the wrong quantity: 1 - u^2 is tanh's "
                "derivative when u is tanh(z), the activation. Which of the two did you "
                "square, z or tanh(z)?"),
        Mistake(_mlp_wrong(_RIGHT_DY, lambda dh, z, h: dh * h * (1 - h)),
                "The activation's slope is the sigmoid's, s(1 - s). The hidden layer is tanh: "
                "what is tanh'(z), written with tanh(z)?"),
        Mistake(_mlp_wrong(_RIGHT_DY, _RIGHT_DZ, dh_of=lambda dy, w2: dy @ w2.T),
                "The gradient sent back to the hidden layer goes through the transposed output "
                "weight. The forward pass multiplies by w2 transposed; what does the backward "
                "pass of a dense layer multiply dout by (eq. ch04-dense-batch)? Compare the "
                "shapes: (N, K) times what gives (N, H)?"),
        Mistake(_mlp_wrong(lambda y, t: t - y, _RIGHT_DZ),
                "Every gradient has the wrong sign: the derivative of 1/2 (y - t)^2 with "
                "respect to y. Does the loss grow or shrink when y moves away from t?"),
        Mistake(_mlp_wrong(lambda y, t: 2 * (y - t), _RIGHT_DZ),
                "Every gradient is twice too large. The loss has a factor 1/2 in front of the "
                "squares: what does it do to the derivative?"),
        Mistake(_mlp_wrong(_RIGHT_DY, _RIGHT_DZ, per_example=True),
                "Every gradient is divided by the batch size. This loss is a *sum* over the "
                "examples, not a mean: should its gradient shrink when the batch grows?"),
        Mistake(_mlp_wrong(_RIGHT_DY, _RIGHT_DZ, bias_sum=False),
                "The bias gradients are averaged over the batch. Each bias is added to every "
                "example's output: how do the contributions of the examples combine?"),
    ],
    hints={
        "values": "Work backwards one step at a time and check each step on its own: which "
                  "gradient is right, dw2 and db2 (the output layer) or also dw1 and db1?",
        "shape": "Each gradient has the shape of its parameter: which product of the backward "
                 "pass gives an array of shape (H, D) for w1?",
        "exception": "Write down the shape of every array of the forward and the backward pass: "
                     "which product does not fit?",
        "type": "Return the four gradients as a tuple (dw1, db1, dw2, db2), in that order.",
    },
    hint_steps=(
        "Go backwards: what is the gradient of L with respect to y, and which two parameter "
        "gradients does the output layer's backward pass give from it (eq. ch04-dense-batch)?",
        "The output layer also sends a gradient back to its input h. Between h and the first "
        "layer sits tanh: by eq. (ch04-activation-grad) the gradient at z is the gradient at h "
        "times tanh'(z), entry by entry, and tanh'(z) = 1 - tanh(z)^2.",
        "With the gradient at z, the first layer's backward pass is the same as the second's: "
        "weights get a sum over the examples of outer products, biases a sum over the batch. "
        "Keep h (or z) from the forward pass, so that you need not recompute it.",
    ),
)


# -- ch04.smoothed_cross_entropy: loss and gradient with label smoothing -----------------
def smoothed_cross_entropy(logits, labels, smoothing=0.0):
    """Mean cross-entropy against smoothed targets q = (1 - eps) onehot + eps / M, and its
    gradient (p - q) / N, as F.cross_entropy(logits, labels, label_smoothing=eps).

    logits (N, M), labels int (N,) -> (loss as a float, dlogits (N, M) in float64).
    """
    z = np.asarray(logits, dtype=np.float64)
    n, c = z.shape
    q = np.full((n, c), smoothing / c)
    q[np.arange(n), labels] += 1 - smoothing
    return _cross_entropy(z, q)


def _sce_case(n, c, smoothing=None, scale=1.0, offset=0.0, dtype=np.float64, note=""):
    logits = (offset + scale * _rng.standard_normal((n, c))).astype(dtype)
    labels = _rng.integers(0, c, size=n)
    if smoothing is None:
        return case(logits, labels, note=note)
    return case(logits, labels, smoothing, note=note)


def _sce_random(rng):
    n, c = int(rng.integers(1, 9)), int(rng.integers(2, 11))
    return case(rng.standard_normal((n, c)) * float(rng.choice([0.5, 1.0, 3.0])),
                rng.integers(0, c, size=n), float(rng.choice([0.0, 0.05, 0.1, 0.3])))


def _log_softmax(z, axis=1):
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def _sce_wrong(targets=None, log_p=_log_softmax, mean=True, sign=1.0):
    """A wrong answer: ``targets(n, c, labels, eps)`` gives q, ``log_p(z)`` the log-softmax."""
    def default_targets(n, c, labels, eps):
        q = np.full((n, c), eps / c)
        q[np.arange(n), labels] += 1 - eps
        return q

    def wrong(logits, labels, smoothing=0.0):
        z = np.asarray(logits, dtype=np.float64)
        n, c = z.shape
        q = (targets or default_targets)(n, c, labels, smoothing)
        lp = log_p(z)
        scale = n if mean else 1
        loss = float(-(q * lp).sum() / scale)
        grad = sign * (np.exp(lp) * q.sum(axis=1, keepdims=True) - q) / scale
        return loss, grad
    return _quiet(wrong)


def _others(n, c, labels, eps):
    q = np.full((n, c), eps / (c - 1))
    q[np.arange(n), labels] = 1 - eps
    return q


def _unsmoothed(n, c, labels, eps):
    return np.eye(c)[labels]


def _not_normalised(n, c, labels, eps):
    q = np.full((n, c), eps)
    q[np.arange(n), labels] += 1 - eps
    return q


SMOOTHED_CROSS_ENTROPY = Exercise(
    name="ch04.smoothed_cross_entropy",
    title="Cross-entropy with label smoothing, stably",
    reference=smoothed_cross_entropy,
    cases=[
        _sce_case(4, 3, note="no smoothing: the default"),
        _sce_case(5, 4, 0.1, note="smoothing 0.1"),
        _sce_case(6, 10, 0.2, scale=3.0, note="10 classes, like Fashion-MNIST"),
        _sce_case(1, 2, 0.5, note="a single example, two classes"),
        case(np.array([[-1000.0, 0.0, 1000.0], [0.0, 2000.0, 1000.0]]), np.array([0, 1]), 0.1,
             note="logits that spread over 2000 in a row"),
        case(np.array([[0.0, 1000.0]]), np.array([0]), note="the true class 1000 below the other"),
        _sce_case(3, 5, 0.1, offset=500.0, dtype=np.float32, note="float32, logits near 500"),
        case(np.zeros((2, 4)), np.array([1, 3]), 1.0, note="smoothing 1: uniform targets"),
    ],
    random_case=_sce_random,
    rtol=1e-6,
    atol=1e-8,
    outputs=("loss", "dlogits"),
    mistakes=[
        Mistake(_sce_wrong(targets=_unsmoothed),
                "The smoothing is ignored: the target is still one-hot. With smoothing eps, "
                "how much of the target's mass stays on the true class, and where does the "
                "rest go?"),
        Mistake(_sce_wrong(targets=_others),
                "The smoothing mass is shared among the M - 1 *other* classes. PyTorch's "
                "label_smoothing spreads eps / M over all M classes, the true one included: "
                "what does the true class get then?"),
        Mistake(_sce_wrong(targets=_not_normalised),
                "Each class gets all of eps, so the smoothed target no longer adds up to 1. "
                "How must eps be divided among the M classes?"),
        Mistake(_sce_wrong(mean=False),
                "The loss and its gradient are sums over the batch; this loss is the *mean* "
                "over the N examples. What does that do to both?"),
        Mistake(_sce_wrong(sign=-1.0),
                "The gradient has the wrong sign. Raising the true class's logit lowers the "
                "loss: which sign must that entry of the gradient have?"),
        Mistake(_sce_wrong(log_p=lambda z: _log_softmax(z, axis=0)),
                "The softmax normalises each column, over the batch. Over which axis must the "
                "probabilities of one example add up to 1?"),
    ],
    hints={
        "nonfinite": "An inf or NaN appears for widely spread logits. Does your code take the "
                     "log of a probability that has rounded to 0, or the exp of a large "
                     "positive number? Which of the two can you avoid by writing log p "
                     "directly?",
        "values": "Check the unsmoothed case first (smoothing 0): is the loss the mean of "
                  "-log p of the true classes? Then: what is the smoothed target of one "
                  "example?",
        "shape": "The gradient has the logits' shape (N, M).",
        "type": "Return a tuple (loss, dlogits): the loss as one number, dlogits as an array.",
        "exception": "Some checks leave out the smoothing: does your function give it a "
                     "default, and which default means 'no smoothing'?",
    },
    hint_steps=(
        "Write the smoothed target q of one example: how much goes to the true class, how "
        "much to each of the others? Check that its entries add up to 1.",
        "Eq. (ch04-ce-grad) used only that the target adds up to 1. Redo it with q in place of "
        "the one-hot y: the gradient is p - q, and the mean over the batch divides loss and "
        "gradient by N.",
        "For stability, never form log(p): log p_k is z_k minus the row's largest logit m, "
        "minus the log of the sum over j of exp(z_j - m). Every exponent is then at most 0, "
        "and the log's argument at least 1.",
    ),
)


# -- ch04.adam_step: one step of torch.optim.Adam ---------------------------------------
def adam_step(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    """One step of eq. (ch04-adam) at step t (counted from 1), as torch.optim.Adam.
    Returns (new_param, new_m, new_s), new float64 arrays; the arguments are left unchanged."""
    param, grad, m, s = _as64(param, grad, m, s)
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    s = beta2 * s + (1 - beta2) * grad * grad
    m_hat, s_hat = m / (1 - beta1**t), s / (1 - beta2**t)
    param = param - lr * m_hat / (np.sqrt(s_hat) + eps)
    return param, m, s


def _adam_case(shape, t, *hyper, state=True, grad_scale=1.0, dtype=np.float64, note=""):
    draw = lambda scale=1.0: (scale * _rng.standard_normal(shape)).astype(dtype)
    m = draw(grad_scale) if state else np.zeros(shape, dtype)
    s = (draw(grad_scale) ** 2).astype(dtype) if state else np.zeros(shape, dtype)
    return case(draw(), draw(grad_scale), m, s, t, *hyper, note=note)


def _adam_random(rng):
    shape = tuple(int(v) for v in rng.integers(1, 6, size=int(rng.integers(1, 3))))
    t = int(rng.choice([1, 2, 5, 20, 300]))
    fresh = t == 1
    m = np.zeros(shape) if fresh else 0.1 * rng.standard_normal(shape)
    s = np.zeros(shape) if fresh else 0.01 * rng.standard_normal(shape) ** 2
    return case(rng.standard_normal(shape), rng.standard_normal(shape), m, s, t,
                float(rng.choice([1e-3, 0.01, 0.1])), (float(rng.choice([0.8, 0.9])),
                                                       float(rng.choice([0.99, 0.999]))))


def _adam_wrong(update_m=None, update_s=None, correct=True, corr_t=lambda t: t,
                eps_inside=False, use_grad=False, sign=1.0):
    def wrong(param, grad, m, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        b1, b2 = betas
        m = update_m(m, grad, b1) if update_m else b1 * m + (1 - b1) * grad
        s = update_s(s, grad, b2) if update_s else b2 * s + (1 - b2) * grad * grad
        tc = corr_t(t)
        m_hat = m / (1 - b1**tc) if correct else m
        s_hat = s / (1 - b2**tc) if correct else s
        top = grad if use_grad else m_hat
        bottom = np.sqrt(s_hat + eps) if eps_inside else np.sqrt(s_hat) + eps
        return param - sign * lr * top / bottom, m, s
    return _quiet(wrong)


ADAM_STEP = Exercise(
    name="ch04.adam_step",
    title="One step of Adam",
    reference=adam_step,
    cases=[
        _adam_case((5,), 1, state=False, note="the first step, with the defaults"),
        _adam_case((3, 4), 1, 0.1, state=False, note="the first step, lr 0.1"),
        _adam_case((4,), 10, 0.01, (0.5, 0.9), note="step 10, betas (0.5, 0.9)"),
        _adam_case((4,), 1, 1e-3, (0.9, 0.999), 1e-8, state=False, grad_scale=1e-9,
                   note="tiny gradients: eps matters"),
        _adam_case((2, 3), 1000, 0.01, note="step 1000: the corrections are almost 1"),
        _adam_case((6,), 3, 0.05, (0.8, 0.99), 1e-6, note="every hyperparameter given"),
        _adam_case((2, 2), 2, 0.01, dtype=np.float32, note="float32"),
    ],
    random_case=_adam_random,
    rtol=1e-6,
    atol=1e-9,
    outputs=("new_param", "new_m", "new_s"),
    mistakes=[
        Mistake(_adam_wrong(correct=False),
                "The bias correction is missing: the averages start at 0, so early on they "
                "are too small. By which factor does eq. (ch04-adam) divide each of them at "
                "step t?"),
        Mistake(_adam_wrong(corr_t=lambda t: t - 1),
                "The corrections use t - 1: at the first step that divides by 0. The step "
                "being taken is step t, counted from 1: which power of beta belongs to it?"),
        Mistake(_adam_wrong(corr_t=lambda t: t + 1),
                "The corrections use t + 1, one step ahead. The step being taken is step t, "
                "counted from 1: which power of beta belongs to it?"),
        Mistake(_adam_wrong(eps_inside=True),
                "eps is added inside the square root. Where does eq. (ch04-adam) add it? It "
                "only matters when the gradients are tiny, as in one of the checks."),
        Mistake(_adam_wrong(use_grad=True),
                "The step uses the raw gradient where the corrected first moment belongs "
                "(that is RMSprop with a bias correction). What does Adam divide by the "
                "root of the second moment?"),
        Mistake(_adam_wrong(update_m=lambda m, g, b1: b1 * m + g),
                "The first moment adds the whole gradient, like momentum's velocity. Adam "
                "keeps an *average*: what weight does eq. (ch04-adam) give the new gradient?"),
        Mistake(_adam_wrong(update_s=lambda s, g, b2: b2 * s + (1 - b2) * g),
                "The second moment averages the gradient itself. Which power of the gradient "
                "does eq. (ch04-adam) average in s?"),
        Mistake(_adam_wrong(sign=-1.0),
                "The parameter moves uphill. Does a step of gradient descent add or subtract "
                "the (scaled) gradient?"),
    ],
    hints={
        "values": "Check the first step first (t = 1, m and s zero): it should move every "
                  "entry by about lr against the sign of its gradient. Does yours?",
        "mutated": "The exercise returns new arrays and leaves m and s as they were: did you "
                   "update an argument in place?",
        "type": "Return a tuple of three arrays: (new_param, new_m, new_s).",
        "exception": "Some checks leave out lr, betas and eps: does your function give them "
                     "PyTorch's defaults?",
        "nonfinite": "A division by zero: is 1 - beta^t ever 0 in your code, or the root of "
                     "the second moment 0 without eps?",
    },
    hint_steps=(
        "Adam keeps two running averages: which one is updated with the gradient, which with "
        "its square, and with what weights (eq. ch04-adam)? Update both before you step.",
        "Both averages start at 0 and are too small at first: at step t, divide the first by "
        "1 - beta1^t and the second by 1 - beta2^t. The first step is t = 1.",
        "The step is lr times the corrected first moment, divided by the square root of the "
        "corrected second moment plus eps, and it is subtracted from the parameter.",
    ),
)


# -- ch04.numerical_backward: the gradient check, for a function with an array output ---
def numerical_backward(f, x, dout, h=1e-6):
    """Central-difference estimate of the gradient of L = sum(f(x) * dout) with respect to x:
    grad[i] = (L(x + h e_i) - L(x - h e_i)) / (2 h), for every entry i of x (any shape)."""
    return _numerical_gradient(f, [x], dout, h=h)


_M34 = _rng.standard_normal((3, 4))


def project(x):
    """A fixed (3, 4) matrix times x: (4,) -> (3,)"""
    return _M34 @ x


def softmax_rows(x):
    """the softmax of every row of a 2-D x: each output depends on its whole row"""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def running_sum(x):
    """the cumulative sum along the last axis"""
    return np.cumsum(x, axis=-1)


def scaled_by_norm(x):
    """x times its Euclidean norm"""
    return x * np.sqrt(np.sum(x * x))


def outer_square(x):
    """x x^T for a vector x: (n,) -> (n, n)"""
    return np.outer(x, x)


def sin_loss(x):
    """a scalar: sum_i sin(x_i) x_i^2"""
    return np.sum(np.sin(x) * x * x)


def tanh_each(x):
    """tanh of every entry: the only elementwise one"""
    return np.tanh(x)


_FUNCTIONS = (project, softmax_rows, running_sum, scaled_by_norm, outer_square, tanh_each)


def _shape_in(f, x):
    return np.shape(f(x))


def _numback_case(f, shape, h=None, note=""):
    x = _rng.uniform(-2, 2, size=shape)
    dout = _rng.standard_normal(_shape_in(f, x))
    args = (f, x, dout) if h is None else (f, x, dout, h)
    return case(*args, note=note)


def _numback_random(rng):
    f = _FUNCTIONS[int(rng.integers(len(_FUNCTIONS)))]
    shape = {project: (4,), outer_square: (int(rng.integers(1, 5)),)}.get(
        f, tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 3)))))
    if f is softmax_rows and len(shape) == 1:
        shape = (1,) + shape
    x = rng.uniform(-2, 2, size=shape)
    return case(f, x, rng.standard_normal(_shape_in(f, x)), float(rng.choice([1e-3, 1e-4])))


def _difference(f, x, dout, h, kind):
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    loss = lambda a: np.sum(f(a) * dout)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        if kind == "forward":
            grad[i] = (loss(x + e) - loss(x)) / h
        elif kind == "backward":
            grad[i] = (loss(x) - loss(x - e)) / h
        elif kind == "over h":
            grad[i] = (loss(x + e) - loss(x - e)) / h
        elif kind == "no dout":
            grad[i] = (np.sum(f(x + e)) - np.sum(f(x - e))) / (2 * h)
        elif kind == "elementwise":
            grad[i] = dout[i] * (f(x + e)[i] - f(x - e)[i]) / (2 * h)
    return grad


def _numback_wrong(kind):
    def wrong(f, x, dout, h=1e-6):
        return _difference(f, x, dout, h, kind)
    return wrong


NUMERICAL_BACKWARD = Exercise(
    name="ch04.numerical_backward",
    title="A backward pass by central differences",
    reference=numerical_backward,
    cases=[
        _numback_case(softmax_rows, (2, 3), 1e-3, note="softmax of each row of a 2-D x"),
        case(sin_loss, np.array([0.5, -1.0, 2.0]), np.array(1.0), 1e-4,
             note="a scalar loss, dout = 1: the gradient check of section 4.3"),
        _numback_case(project, (4,), 1e-3, note="a matrix times x: 3 outputs from 4 inputs"),
        _numback_case(running_sum, (5,), 1e-3, note="a cumulative sum"),
        _numback_case(outer_square, (3,), 1e-4, note="x x^T: a (3, 3) output"),
        _numback_case(scaled_by_norm, (2, 2), note="the default h"),
        _numback_case(tanh_each, (1,), 1e-3, note="a single entry"),
    ],
    random_case=_numback_random,
    # Two correct central differences agree to rounding (about 1e-10 here); forward
    # differences are off by about h/2 * f'' (1e-4 or more at h = 1e-3).
    rtol=1e-6,
    atol=1e-8,
    mistakes=[
        Mistake(_numback_wrong("forward"),
                "That is the forward difference, from x to x + h e_i, whose error shrinks only "
                "like h. Which two points does the central difference of eq. (ch04-central) "
                "compare?"),
        Mistake(_numback_wrong("backward"),
                "That is the backward difference, from x - h e_i to x, whose error shrinks "
                "only like h. Which two points does the central difference of eq. "
                "(ch04-central) compare?"),
        Mistake(_numback_wrong("over h"),
                "Every entry is twice too large. How far apart are the two points x + h e_i "
                "and x - h e_i?"),
        Mistake(_numback_wrong("no dout"),
                "The outputs are added up without their weights: the result is right only "
                "when dout is all ones. How does dout weigh each output's change into the one "
                "number L?"),
        Mistake(_numback_wrong("elementwise"),
                "Only the change of output i is counted for entry i of x, which is right only "
                "for an elementwise f. When one entry of x moves, which outputs of a matrix "
                "product or a softmax move with it?"),
    ],
    hints={
        "values": "Try the scalar case first, where dout is 1: does your function give the "
                  "slope of f along each entry of x? Then: how does dout enter L?",
        "shape": "The gradient has the shape of x, not of f(x) or dout: one entry per entry "
                 "of x.",
        "exception": "Does your loop visit every index of an x with one *or* two axes? And do "
                     "f(x) and dout have the shapes you expect (they need not be x's shape)?",
        "mutated": "Your function changed x. Work on a copy, or put back each entry's old "
                   "value after nudging it: what does the caller's x hold afterwards?",
    },
    hint_steps=(
        "f returns an array, so nudging one entry of x changes many outputs a little: how does "
        "dout turn those changes into the change of the one number L = sum of f(x) times dout?",
        "For every index i of x: evaluate L with x_i moved up by h and with x_i moved down by "
        "h, all other entries unchanged, and divide the difference by the distance 2h.",
        "Visit every multi-index of x's shape (NumPy has an iterator for that), and nudge "
        "a copy of x so that the caller's array is left alone.",
    ),
)

EXERCISES = [MLP_GRADIENTS, SMOOTHED_CROSS_ENTROPY, ADAM_STEP, NUMERICAL_BACKWARD]
