"""Loss functions ``loss_fn(input, target) -> (loss: float, dinput)``: the value and its
gradient with respect to the prediction ``input``, ready to start the backward pass. See
chapter 4.

Arguments come in ``torch.nn.functional``'s order and names, prediction first. Reductions
follow PyTorch's defaults (mean over the batch) unless the name says otherwise, so
``mse_loss`` matches ``F.mse_loss`` and ``half_sum_squared_error`` is the 1/2 ||p - t||^2
of Chen's eq. 3 (which Chen calls "mean squared error", though it sums). The gradient comes
in the prediction's dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._checks import (as_float_array, fits_in_memory, nan_in_nan_out, positive_int, real_number,
                      same_shape)
from .activations import sigmoid

__all__ = [
    "mse_loss", "half_sum_squared_error", "quadratic_loss", "zero_one_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "one_hot",
    "cross_entropy", "accuracy",
]


def _pair(input, target, func):
    input = as_float_array(input, "input", func)
    target = as_float_array(target, "target", func)
    same_shape(input, target, "input", "target", func)
    if input.size == 0:
        raise ValueError(f"{func}: input is empty (input.shape={input.shape})")
    return input, target


@nan_in_nan_out
def mse_loss(input, target):
    """Mean squared error, L = (1/n) sum_i (p_i - t_i)^2 over all n entries (``F.mse_loss``).

    dL/dp = 2 (p - t) / n. input (the prediction p) and target: any shape, equal.
    Returns ``(loss, dinput)``, dinput shaped like input. See chapter 4.
    """
    input, target = _pair(input, target, "mse_loss")
    diff = input - target
    grad = (2 / diff.size) * diff
    return float(np.mean(diff * diff)), grad.astype(input.dtype, copy=False)


@nan_in_nan_out
def half_sum_squared_error(input, target):
    """L = 1/2 ||p - t||^2 = 1/2 sum_i (p_i - t_i)^2 (Chen's eq. 3; Chidiac's §2 E = 1/2 (y^ - y)^2).

    The 1/2 cancels the 2 of the derivative: dL/dp = p - t (the first factor of Chen's eq. 4).
    input (the prediction p) and target: any shape, equal. Returns ``(loss, dinput)``.
    See chapter 4.
    """
    input, target = _pair(input, target, "half_sum_squared_error")
    diff = input - target
    return float(0.5 * np.sum(diff * diff)), diff.astype(input.dtype, copy=True)


@nan_in_nan_out
def quadratic_loss(input, target, *, scale=1.0):
    """Quadratic (squared error) loss of Chidiac's eq. 2, lambda(x) = C (t - x)^2, summed over
    all entries; ``scale`` is C. dL/dx = 2 C (x - t).

    C = 1/2 gives ``half_sum_squared_error``; C = 1/n gives ``mse_loss``. input (the
    prediction x) and target: any shape, equal. Returns ``(loss, dinput)``. See chapter 4.
    """
    input, target = _pair(input, target, "quadratic_loss")
    scale = real_number(scale, "scale", "quadratic_loss", minimum=0)
    diff = input - target
    grad = (2 * scale) * diff
    return float(scale * np.sum(diff * diff)), grad.astype(input.dtype, copy=False)


def zero_one_loss(input, target):
    """0-1 loss of Chidiac's eq. 3, L(y^, y) = [y != y^] (Iverson bracket), averaged over the
    batch: the error rate. input and target: predicted and true labels, equal shapes.

    The gradient returned is zero, and that is the point: L is piecewise constant (a
    small change of the prediction's scores does not change the argmax, so does not
    change L), hence its derivative is 0 wherever it exists and undefined at the jumps.
    Gradient descent gets no signal from it; we train on a smooth surrogate such as
    cross-entropy and report the 0-1 loss (as 1 - accuracy). Returns ``(loss, dinput)``.
    See chapter 4.
    """
    func = "zero_one_loss"
    input, target = np.asarray(input), np.asarray(target)
    same_shape(input, target, "input", "target", func)
    if input.size == 0:
        raise ValueError(f"{func}: input is empty (input.shape={input.shape})")
    dtype = input.dtype if np.issubdtype(input.dtype, np.floating) else np.float64
    return float(np.mean(input != target)), np.zeros(input.shape, dtype=dtype)


def _check_unit_interval(a, name, func):
    bad = ~((a >= 0) & (a <= 1))  # also catches NaN
    if bad.any():
        i = np.unravel_index(np.argmax(bad), a.shape)
        raise ValueError(
            f"{func}: {name} must hold probabilities in [0, 1], got {a[i]!r} at index {i} "
            f"({name}.shape={a.shape}); pass logits to binary_cross_entropy_with_logits instead"
            if name == "input" else
            f"{func}: {name} must lie in [0, 1], got {a[i]!r} at index {i} ({name}.shape={a.shape})"
        )


_LOG_FLOOR = -100.0  # PyTorch clamps each log to >= -100, so p = 0 or 1 gives a finite loss
_EPS = 1e-12  # PyTorch's floor on p (1 - p) in the gradient, used only where p is 0 or 1


@nan_in_nan_out
def binary_cross_entropy(input, target):
    """Binary cross-entropy of probabilities p = ``input``, Chidiac's eq. 21 with its parentheses
    restored:

        E = -(1/n) sum_i [ t_i log p_i + (1 - t_i) log(1 - p_i) ]

    and its derivative, Chidiac's eq. 22,

        dE/dp_i = (1/n) ((1 - t_i) / (1 - p_i) - t_i / p_i) = (1/n) (p_i - t_i) / (p_i (1 - p_i)).

    (Chidiac names the target y^ and the prediction y; here p is the prediction, t the target.)
    As ``F.binary_cross_entropy``: each log is clamped to >= -100 so p = 0 or 1 gives a
    finite loss, and the gradient divides by max(p (1 - p), 1e-12), which changes it only
    where p (1 - p) < 1e-12, i.e. p within 1e-12 of 0 or 1. Prefer the logits form
    ``binary_cross_entropy_with_logits``, which needs no such floor.
    input and target: any shape, equal, values in [0, 1]. Returns ``(loss, dinput)``.
    See chapter 4.
    """
    func = "binary_cross_entropy"
    p, target = _pair(input, target, func)
    _check_unit_interval(p, "input", func)
    _check_unit_interval(target, "target", func)
    # log(0) = -inf is replaced by the floor before it is computed: no warning
    log_p = np.full(p.shape, _LOG_FLOOR, dtype=p.dtype)
    np.log(p, out=log_p, where=p > 0)
    log_1mp = np.full(p.shape, _LOG_FLOOR, dtype=p.dtype)
    np.log1p(-p, out=log_1mp, where=p < 1)
    log_p, log_1mp = np.maximum(log_p, _LOG_FLOOR), np.maximum(log_1mp, _LOG_FLOOR)
    loss = -np.mean(target * log_p + (1 - target) * log_1mp)
    dp = (p - target) / np.maximum(p * (1 - p), _EPS) / p.size
    return float(loss), dp.astype(p.dtype, copy=False)


@nan_in_nan_out
def binary_cross_entropy_with_logits(input, target):
    """Binary cross-entropy of sigma(z) computed from the logits z = ``input``, stably:

        E = (1/n) sum_i [ max(z_i, 0) - z_i t_i + log(1 + e^-|z_i|) ],  dE/dz_i = (sigma(z_i) - t_i) / n.

    Equal to ``binary_cross_entropy(sigmoid(z), t)`` but never takes the log of 0: finite
    for any finite z (``F.binary_cross_entropy_with_logits``). input and target: any
    shape, equal. Returns ``(loss, dinput)``. See chapter 4.
    """
    func = "binary_cross_entropy_with_logits"
    z, target = _pair(input, target, func)
    _check_unit_interval(target, "target", func)
    # (1 - t) z + softplus(-z), softplus(-z) = max(-z, 0) + log(1 + e^-|z|): torch's form,
    # equal to max(z, 0) - z t + log(1 + e^-|z|), and inf (not inf - inf) at z = +inf
    loss = np.mean((1 - target) * z + np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z))))
    grad = (sigmoid(z) - target) / z.size
    return float(loss), grad.astype(z.dtype, copy=False)


def one_hot(labels, num_classes=-1, *, dtype=np.int64):
    """Row n has a 1 in column labels[n] and 0 elsewhere (``F.one_hot``; num_classes=-1
    means labels.max() + 1). labels: int (N,) -> (N, num_classes). See chapter 4."""
    func = "one_hot"
    labels = _int_labels(labels, "labels", func)
    try:
        kind = "" if dtype is None else np.dtype(dtype).kind
    except TypeError:
        kind = ""
    if kind not in ("b", "i", "u", "f"):
        raise TypeError(f"{func}: dtype must be a real NumPy dtype (int, float or bool), got {dtype!r}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"{func}: labels must be class indices >= 0, got {labels.min()}")
    if isinstance(num_classes, numbers.Integral) and num_classes == -1:
        if labels.size == 0:
            raise ValueError(f"{func}: labels is empty, so num_classes=-1 cannot be inferred "
                             "from it (as in torch): give num_classes")
        num_classes = int(labels.max()) + 1
    num_classes = positive_int(num_classes, "num_classes", func)
    _labels_in_range(labels, num_classes, "one_hot")
    fits_in_memory(labels.shape + (num_classes,), "the one-hot array", "one_hot",
                   f"num_classes={num_classes}")
    out = np.zeros(labels.shape + (num_classes,), dtype=dtype)  # (..., num_classes)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def _int_labels(labels, name, func):
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{func}: {name} must be integer class indices, got dtype {labels.dtype} "
                        f"(use {name}.astype(np.int64) if they are whole numbers)")
    return labels


def _labels_in_range(labels, num_classes, func, name="labels"):
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise ValueError(f"{func}: {name} must lie in [0, {num_classes - 1}] for {num_classes} "
                         f"classes, got {labels[bad][0]} at index {int(np.flatnonzero(bad.ravel())[0])}")


@nan_in_nan_out
def cross_entropy(input, target):
    """Softmax + cross-entropy (Duan's slides), averaged over the batch (``F.cross_entropy``):

        p = softmax(z_n),  L = -(1/N) sum_n log p[n, y_n],  dL/dz = (p - onehot(y)) / N.

    The combined gradient p - y is why the two are fused: simple, and stable, since the
    log-softmax z - logsumexp(z) never takes the log of a rounded-to-zero probability.
    input: the logits z, (N, C); target: int (N,) class indices y, or float (N, C) class
    probabilities (e.g. one-hot rows), for which L = -(1/N) sum_n sum_c y[n, c] log p[n, c].

    Per-pixel (segmentation, chapter 12): input (N, C, H, W) (or any (N, C, d_1, ...))
    with int target (N, H, W) takes the softmax over C at every pixel and averages the
    cross-entropy over all N H W pixels, as ``F.cross_entropy`` does; float targets
    (N, C, H, W) hold per-pixel class probabilities.
    Returns ``(loss, dinput)``, dinput shaped like input. See chapters 4, 6 and 12.
    """
    func = "cross_entropy"
    z = as_float_array(input, "input", func)
    if z.ndim < 2:
        raise ValueError(f"{func}: input must have layout (N, C) or (N, C, H, W), got "
                         f"input.shape={z.shape} ({z.ndim} dimensions)")
    if z.ndim > 2:  # per-pixel: move the classes last and treat every pixel as an example
        labels = np.asarray(target)
        soft = np.issubdtype(labels.dtype, np.floating) and labels.ndim == z.ndim
        want = z.shape if soft else z.shape[:1] + z.shape[2:]
        if labels.shape != want:
            raise ValueError(f"{func}: target must have shape {want} to match "
                             f"input.shape={z.shape} (int class indices (N, H, W), or float "
                             f"probabilities (N, C, H, W)), got target.shape={labels.shape}")
        flat = np.moveaxis(z, 1, -1).reshape(-1, z.shape[1])  # (N H W, C)
        flat_t = np.moveaxis(labels, 1, -1).reshape(-1, z.shape[1]) if soft else labels.reshape(-1)
        loss, grad = _cross_entropy_2d(flat, flat_t, func)
        grad = np.moveaxis(grad.reshape(np.moveaxis(z, 1, -1).shape), -1, 1)  # (N, C, H, W)
        return loss, np.ascontiguousarray(grad)
    return _cross_entropy_2d(z, target, func)


def _cross_entropy_2d(z, target, func):
    """cross_entropy for logits (N, C); the per-pixel form calls it with N H W rows."""
    labels = np.asarray(target)
    n, c = z.shape
    if n == 0 or c == 0:
        raise ValueError(f"{func}: input is empty (input.shape={z.shape}): it needs at least "
                         "one example and one class")
    shifted = z - z.max(axis=1, keepdims=True)  # (N, C)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, C)
    p = np.exp(log_p)
    if np.issubdtype(labels.dtype, np.floating) and labels.ndim == 2:
        same_shape(z, labels, "input", "target", func)
        loss = -np.sum(labels * log_p) / n
        grad = (p * labels.sum(axis=1, keepdims=True) - labels) / n
        return float(loss), grad.astype(z.dtype, copy=False)
    labels = _int_labels(labels, "target", func)
    if labels.shape != (n,):
        raise ValueError(f"{func}: target must have shape (N,) = ({n},) to match input, "
                         f"got target.shape={labels.shape} (input.shape={z.shape})")
    _labels_in_range(labels, c, func, name="target")
    rows = np.arange(n)
    loss = -np.mean(log_p[rows, labels])
    grad = p
    grad[rows, labels] -= 1
    return float(loss), grad / n


def accuracy(output, labels, *, threshold=0.0) -> float:
    """Fraction of correct predictions, in [0, 1].

    output (N, C) with C > 1: class = argmax, labels int (N,) in 0..C-1. A single score per
    example, (N,) or (N, 1): class 1 where score > ``threshold`` (0 for logits, 0.5 for
    probabilities), labels 0/1 of shape (N,) or output's shape. An empty batch (N = 0) has
    no accuracy: it raises ValueError, as the losses do, rather than return NaN. See chapter 4.
    """
    return _accuracy(output, labels, threshold, "accuracy")


def _accuracy(output, labels, threshold, func) -> float:
    """``accuracy`` with every check, its messages naming ``func`` (accuracy, evaluate)."""
    output = as_float_array(output, "output", func, ndim=(1, 2), layout="(N,) or (N, C)")
    labels = np.asarray(labels)
    n = output.shape[0]
    if n == 0 or output.size == 0:
        raise ValueError(f"{func}: output is empty (output.shape={output.shape}): the accuracy "
                         "of no examples is undefined")
    if output.ndim == 2 and output.shape[1] > 1:
        labels = _int_labels(labels, "labels", func)
        if labels.shape != (n,):
            raise ValueError(f"{func}: labels must have shape (N,) = ({n},) to match "
                             f"output.shape={output.shape}, got labels.shape={labels.shape}")
        _labels_in_range(labels, output.shape[1], func)
        return float(np.mean(output.argmax(axis=1) == labels))  # (N,)
    threshold = real_number(threshold, "threshold", func)
    if labels.shape not in ((n,), output.shape):
        raise ValueError(f"{func}: labels must have shape ({n},) or {output.shape} to match "
                         f"output.shape={output.shape}, got labels.shape={labels.shape}")
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"{func}: labels must be numbers 0 or 1, got dtype {labels.dtype}")
    bad = (labels != 0) & (labels != 1)
    if bad.any():
        raise ValueError(f"{func}: with one score per example, labels must be 0 or 1, "
                         f"got {labels[bad].ravel()[0].item()!r}")
    return float(np.mean((output.reshape(-1) > threshold) == (labels.reshape(-1) == 1)))  # (N,)
