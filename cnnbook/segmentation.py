"""Segmentation metrics and the soft Dice loss. See chapter 12.

A segmentation net classifies every pixel; its quality is measured by the overlap of the
predicted foreground A with the true foreground B:

    IoU(A, B) = |A & B| / |A | B|       (intersection over union, the Jaccard index)
    Dice(A, B) = 2 |A & B| / (|A| + |B|)  (the F1 score of the foreground pixels)

Both count the pixels of the whole batch together (one pool, not a mean over images),
and both are 1 when A and B are both empty. ``dice_loss`` is the soft Dice of
probabilities, a differentiable stand-in used as a training loss.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, nan_in_nan_out, real_number, same_shape

__all__ = ["iou_score", "dice_score", "dice_loss"]


def _masks(pred, target, func):
    pred, target = np.asarray(pred), np.asarray(target)
    for name, a in (("pred", pred), ("target", target)):
        if a.dtype.kind not in "biu":
            raise TypeError(f"{func}: {name} must be a mask of 0/1 or bool values (or integer "
                            f"class labels with positive=...), got dtype {a.dtype}")
    same_shape(pred, target, "pred", "target", func)
    if pred.size == 0:
        raise ValueError(f"{func}: pred is empty (pred.shape={pred.shape})")
    return pred, target


def _counts(pred, target, positive, func):
    pred, target = _masks(pred, target, func)
    if isinstance(positive, (bool, np.bool_)) or not isinstance(positive, (int, np.integer)):
        raise TypeError(f"{func}: positive must be an integer class label, got {positive!r}")
    a, b = pred == positive, target == positive
    return (int(np.count_nonzero(a & b)), int(np.count_nonzero(a)),
            int(np.count_nonzero(b)))


def iou_score(pred, target, *, positive=1) -> float:
    """Intersection over union of the pixels labelled ``positive`` in pred and target.

    pred, target: integer or bool arrays of equal shape, e.g. (N, H, W) masks or class
    maps (``logits.argmax(1)``). IoU = |A & B| / |A | B| over all pixels together; 1.0
    when neither has a positive pixel. See chapter 12.
    """
    inter, a, b = _counts(pred, target, positive, "iou_score")
    union = a + b - inter
    return 1.0 if union == 0 else inter / union


def dice_score(pred, target, *, positive=1) -> float:
    """Dice coefficient 2 |A & B| / (|A| + |B|) of the pixels labelled ``positive``.

    Same arguments as ``iou_score``; Dice = 2 IoU / (1 + IoU), so the two rank
    predictions alike. 1.0 when neither has a positive pixel. See chapter 12.
    """
    inter, a, b = _counts(pred, target, positive, "dice_score")
    return 1.0 if a + b == 0 else 2 * inter / (a + b)


@nan_in_nan_out
def dice_loss(input, target, *, eps=1.0):
    """Soft Dice loss of foreground probabilities, averaged over the batch:

        D_n = (2 sum_i p_i t_i + eps) / (sum_i p_i + sum_i t_i + eps),   L = 1 - (1/N) sum_n D_n

    with the sums over the pixels of image n, and its gradient

        dL/dp_i = -(1/N) (2 t_i (S_n + eps) - (2 I_n + eps)) / (S_n + eps)^2,

    I_n = sum p t, S_n = sum p + sum t. input: probabilities p in [0, 1] (e.g. the softmax's
    foreground channel), (N, ...) with at least one pixel per image; target: the same
    shape, 0/1 (or soft) values. ``eps`` > 0 keeps an empty image finite (D = 1 when p
    and t are both 0). Returns ``(loss, dinput)``. See chapter 12.
    """
    func = "dice_loss"
    p = as_float_array(input, "input", func)
    t = as_float_array(target, "target", func)
    same_shape(p, t, "input", "target", func)
    if p.ndim < 2 or p.size == 0:
        raise ValueError(f"{func}: input must be (N, ...) with at least one image and one "
                         f"pixel each, got input.shape={p.shape}")
    eps = real_number(eps, "eps", func, minimum=0, open_min=True)
    for name, a in (("input", p), ("target", t)):
        bad = ~((a >= 0) & (a <= 1))
        if bad.any():
            i = np.unravel_index(np.argmax(bad), a.shape)
            raise ValueError(f"{func}: {name} must lie in [0, 1], got {a[i]!r} at index {i}"
                             + (" (pass probabilities, e.g. a softmax, not logits)"
                                if name == "input" else ""))
    n = p.shape[0]
    axes = tuple(range(1, p.ndim))
    inter = (p * t).sum(axis=axes)  # (N,)
    total = p.sum(axis=axes) + t.sum(axis=axes) + eps  # (N,)
    dice = (2 * inter + eps) / total  # (N,)
    shape = (n,) + (1,) * (p.ndim - 1)
    # (2 t S' - (2 I + eps)) / S'^2 with S' = S + eps, written as (2 t - D) / S' (no square)
    grad = -(2 * t - dice.reshape(shape)) / total.reshape(shape) / n
    return float(1 - dice.mean()), grad.astype(p.dtype, copy=False)
