"""Chapter 12 exercises: the gradient of the soft Dice loss, the output_padding that
restores a size, the backward pass of a concatenation skip, and the mean IoU over classes.

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch12.py checks this).
"""
from __future__ import annotations

import numpy as np

from ..segmentation import dice_loss as _dice_loss
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(1212)  # draws the fixed cases once, the same on every run


# -- ch12.dice_loss_backward: the gradient of the soft Dice loss -------------------------
def dice_loss_backward(p, t, eps=1.0):
    """dL/dp of L = 1 - (1/N) sum_n (2 sum p t + eps) / (sum p + sum t + eps), the sums over
    the pixels of image n (``cnnbook.dice_loss``'s gradient)."""
    return _dice_loss(p, t, eps=eps)[1]


def _dice_parts(p, t, eps):
    axes = tuple(range(1, p.ndim))
    inter = (p * t).sum(axis=axes, keepdims=True)
    denom = p.sum(axis=axes, keepdims=True) + t.sum(axis=axes, keepdims=True) + eps
    return inter, denom


def _dice_case(shape, eps=None, fraction=0.3, note=""):
    p = _rng.uniform(0.02, 0.98, shape)
    t = (_rng.random(shape) < fraction).astype(np.float64)
    return case(p, t, note=note) if eps is None else case(p, t, eps, note=note)


def _dice_random(rng):
    shape = (int(rng.integers(1, 4)),) + tuple(int(v) for v in rng.integers(1, 6, size=2))
    p = rng.uniform(0.0, 1.0, shape)
    t = (rng.random(shape) < rng.uniform(0.1, 0.6)).astype(np.float64)
    return case(p, t, float(rng.choice([0.5, 1.0, 2.0])))


def _dice_wrong(numerator_only=False, no_mean=False, sign=1.0, pooled=False, no_eps=False,
                denominator_squared=True):
    def wrong(p, t, eps=1.0):
        e = 0.0 if no_eps else eps
        if pooled:  # one Dice for the whole batch
            inter, denom = (p * t).sum(), p.sum() + t.sum() + e
            return -sign * (2 * t * denom - (2 * inter + e)) / denom ** 2
        inter, denom = _dice_parts(p, t, e)
        if numerator_only:
            g = 2 * t / denom
        elif not denominator_squared:
            g = (2 * t * denom - (2 * inter + e)) / denom
        else:
            g = (2 * t * denom - (2 * inter + e)) / denom ** 2
        return -sign * g / (1 if no_mean else p.shape[0])
    return wrong


DICE_LOSS_BACKWARD = Exercise(
    name="ch12.dice_loss_backward",
    title="The gradient of the soft Dice loss",
    reference=dice_loss_backward,
    cases=[
        _dice_case((1, 4, 4), note="one image"),
        _dice_case((3, 5, 5), note="three images"),
        _dice_case((2, 6, 6), eps=0.5, note="eps = 0.5"),
        _dice_case((2, 3, 3), fraction=0.0, note="no foreground in the target"),
        _dice_case((4, 8), note="(N, pixels): one axis of pixels"),
        _dice_case((2, 1, 4, 4), eps=2.0, note="(N, 1, H, W)"),
    ],
    random_case=_dice_random,
    mistakes=[
        Mistake(_dice_wrong(numerator_only=True),
                "Only the numerator is differentiated, as if the denominator were a "
                "constant. Does p_i appear in the denominator of D_n too?"),
        Mistake(_dice_wrong(no_mean=True),
                "The gradient is N times too large. The loss averages D_n over the "
                "images: what does that mean do to each image's gradient?"),
        Mistake(_dice_wrong(sign=-1.0),
                "The sign is flipped: this is the gradient of D, not of L = 1 - mean D. "
                "Should raising the probability of a foreground pixel raise or lower the "
                "loss?"),
        Mistake(_dice_wrong(pooled=True),
                "All the images are pooled into one Dice. Each image has its own D_n, "
                "with sums over its own pixels only."),
        Mistake(_dice_wrong(no_eps=True),
                "eps is left out of the derivative. Where does eps appear in D_n, and "
                "does it stay in the quotient rule?"),
        Mistake(_dice_wrong(denominator_squared=False),
                "The quotient rule's denominator is not squared: d(u / v) = (u' v - u v') / v^2."),
    ],
    hints={
        "values": "Read D_n as a quotient: a numerator (twice the overlap plus eps) over a "
                  "denominator (both sums plus eps). How does each change when p_i grows, "
                  "and what does the quotient rule make of that?",
        "shape": "The gradient has one entry per entry of p: the shape of p.",
        "exception": "The sums run over every axis but the first (the images): which axes "
                     "are those when p has shape (N, H, W), and (N, 1, H, W)?",
        "mutated": "Your function changed p or t: compute into new arrays.",
    },
    hint_steps=(
        "The loss is 1 minus the mean of the D_n, and p_i of image n appears only in D_n. "
        "So the gradient is -(1/N) dD_n/dp_i.",
        "D_n is a quotient u / v. Which of the two sums contain p_i, and with which "
        "factor?",
        "The numerator grows by twice t_i per unit of p_i, the denominator by one. Put "
        "these in the quotient rule, with the numerator and denominator as per-image sums "
        "kept with one entry per image, so that they broadcast over the pixels.",
    ),
)


# -- ch12.restoring_output_padding -----------------------------------------------------
def restoring_output_padding(n, kernel_size, stride, padding):
    """The output_padding with which conv_transpose2d(k, s, p) maps conv2d(k, s, p)'s output
    size back to n: (n + 2 p - k) mod s."""
    return int((n + 2 * padding - kernel_size) % stride)


def _pad_random(rng):
    k = int(rng.integers(1, 6))
    s = int(rng.integers(1, 5))
    p = int(rng.integers(0, 3))
    n = int(rng.integers(max(1, k - 2 * p), 40))
    return case(n, k, s, p)


def _pad_wrong(rule):
    def wrong(n, kernel_size, stride, padding):
        return int(rule(n, kernel_size, stride, padding))
    return wrong


RESTORING_OUTPUT_PADDING = Exercise(
    name="ch12.restoring_output_padding",
    title="The output_padding that restores a size",
    reference=restoring_output_padding,
    cases=[
        case(16, 3, 6, 1, note="stride 6: every wrong rule gives another number"),
        case(8, 3, 2, 1, note="8 -> 4 -> 8 (k = 3, s = 2, p = 1)"),
        case(7, 3, 2, 1, note="7 -> 4 -> 7"),
        case(32, 2, 2, 0, note="the U-Net's up-convolution: k = s = 2"),
        case(33, 2, 2, 0, note="an odd size under k = s = 2"),
        case(10, 4, 2, 1, note="k = 4, s = 2, p = 1"),
        case(11, 3, 3, 0, note="stride 3"),
        case(12, 5, 1, 2, note="stride 1: nothing to choose"),
        case(9, 3, 4, 2, note="stride 4 with padding"),
    ],
    random_case=_pad_random,
    n_random=20,
    mistakes=[
        Mistake(_pad_wrong(lambda n, k, s, p: 0),
                "Always 0: then every size n maps back to the smallest of the sizes the "
                "convolution merges. Try n = 8, k = 3, s = 2, p = 1."),
        Mistake(_pad_wrong(lambda n, k, s, p: (n - k) % s),
                "The padding is left out. How large is the padded input the kernel slides "
                "over?"),
        Mistake(_pad_wrong(lambda n, k, s, p: (n + 2 * p - k) // s),
                "That is the number of steps the kernel takes, the quotient. Which part of "
                "the division does the convolution's rounding down throw away?"),
        Mistake(_pad_wrong(lambda n, k, s, p: s - 1),
                "Always stride - 1: that is the largest output_padding allowed, not the one "
                "every size needs. Does 8 -> 4 -> 8 with k = 3, s = 2, p = 1 need any?"),
        Mistake(_pad_wrong(lambda n, k, s, p: n % s),
                "n mod s ignores the kernel and the padding. Try n = 8, k = 3, s = 2, p = 1: "
                "what does the transposed convolution give without output_padding?"),
    ],
    hints={
        "values": "Compute the convolution's output size m (chapter 5), then the size "
                  "the transposed convolution's formula (section 12.4) gives for m with "
                  "output_padding 0. How far is it from n?",
        "type": "Return an int (Python's int or a NumPy integer).",
        "exception": "All four arguments are ints; use integer division where chapter 5's "
                     "formula rounds down.",
    },
    hint_steps=(
        "Go forward first: what size m does the convolution produce from n?",
        "Go back with output_padding 0: what size does the transposed convolution's "
        "formula give for m? It is at most n.",
        "The difference between n and that size is the answer; it is the remainder the "
        "convolution's rounding down threw away.",
    ),
)


# -- ch12.concat_skip_backward ------------------------------------------------------------
def concat_skip_backward(dout, weight):
    """dx of out = concatenate([x, conv1x1(x, weight)], axis=1), weight (O, C):
    dx = dout[:, :C] + W^T dout[:, C:] at every pixel."""
    c = weight.shape[1]
    return dout[:, :c] + np.einsum("oc,nohw->nchw", weight, dout[:, c:])


def _skip_case(n, c, o, h, w, dtype=np.float64, note=""):
    dout = _rng.standard_normal((n, c + o, h, w)).astype(dtype)
    weight = _rng.standard_normal((o, c)).astype(dtype)
    return case(dout, weight, note=note)


def _skip_random(rng):
    n, c, o, h, w = (int(v) for v in rng.integers(1, 5, size=5))
    return case(rng.standard_normal((n, c + o, h, w)), rng.standard_normal((o, c)))


def _skip_wrong(kind):
    def wrong(dout, weight):
        o, c = weight.shape
        if kind == "skip only":
            return np.array(dout[:, :c], copy=True)
        if kind == "block only":
            return np.einsum("oc,nohw->nchw", weight, dout[:, c:])
        if kind == "swapped":  # the block's channels taken first
            return dout[:, o:o + c] + np.einsum("oc,nohw->nchw", weight, dout[:, :o])
        if kind == "no transpose":  # W instead of W^T (only shapes where O == C)
            return dout[:, :c] + np.einsum("co,nohw->nchw", weight, dout[:, c:])
        raise ValueError(kind)
    return wrong


CONCAT_SKIP_BACKWARD = Exercise(
    name="ch12.concat_skip_backward",
    title="The backward pass of a concatenation skip",
    reference=concat_skip_backward,
    cases=[
        _skip_case(1, 2, 3, 2, 2, note="C = 2, O = 3"),
        _skip_case(2, 3, 3, 4, 4, note="C = O = 3"),
        _skip_case(2, 4, 1, 3, 5, note="one block channel"),
        _skip_case(1, 1, 4, 1, 1, note="a single pixel"),
        _skip_case(3, 2, 2, 3, 3, note="C = O = 2, three images"),
    ],
    random_case=_skip_random,
    mistakes=[
        Mistake(_skip_wrong("skip only"),
                "Only the skip's part of the gradient reaches x. x also went through the "
                "convolution: what gradient comes back that way?"),
        Mistake(_skip_wrong("block only"),
                "Only the gradient through the convolution reaches x. The first C channels "
                "of out are x itself: where does their gradient go?"),
        Mistake(_skip_wrong("swapped"),
                "The channels are split in the wrong order. Which comes first in "
                "concatenate([x, conv1x1(x)])?"),
        Mistake(_skip_wrong("no transpose"),
                "The block's gradient is multiplied by W instead of its transpose. A dense "
                "layer's input gradient is W^T times dout (chapter 4): which index of W "
                "runs over the input channels?"),
    ],
    hints={
        "values": "Split dout into the first C channels and the other O. Which part belongs "
                  "to the copy of x, which to the convolution's output?",
        "shape": "dx has the shape of x, (N, C, H, W): C = weight.shape[1] channels.",
        "exception": "weight is (O, C): O output channels, C input channels. At every pixel, "
                     "the 1x1 convolution is a dense layer from C to O.",
        "mutated": "Your function changed dout or weight: compute into new arrays.",
    },
    hint_steps=(
        "x is used twice: copied into the first C channels of out, and read by the 1x1 "
        "convolution. Its gradient is the sum of what comes back along each way.",
        "Along the copy: the concatenation splits dout, so x gets the first C channels of "
        "dout unchanged.",
        "Along the convolution: at every pixel it is a dense layer from C to O channels, so "
        "the gradient is the transposed weight times the convolution's part of dout, pixel "
        "by pixel: a sum over the O channels.",
    ),
)


# -- ch12.mean_iou ----------------------------------------------------------------------------
def mean_iou(pred, target, num_classes):
    """Mean over the classes present in pred or target of |pred == c & target == c| /
    |pred == c | target == c|, counted over the whole batch."""
    scores = []
    for c in range(num_classes):
        a, b = pred == c, target == c
        union = np.count_nonzero(a | b)
        if union:
            scores.append(np.count_nonzero(a & b) / union)
    return float(np.mean(scores))


def _miou_case(shape, num_classes, agree=0.7, absent=(), note=""):
    target = _rng.integers(0, num_classes, shape)
    pred = np.where(_rng.random(shape) < agree, target, _rng.integers(0, num_classes, shape))
    for c in absent:  # a class in neither map
        target = np.where(target == c, 0, target)
        pred = np.where(pred == c, 0, pred)
    return case(pred, target, num_classes, note=note)


def _miou_random(rng):
    k = int(rng.integers(2, 6))
    shape = tuple(int(v) for v in rng.integers(1, 6, size=3))
    target = rng.integers(0, k, shape)
    pred = np.where(rng.random(shape) < 0.6, target, rng.integers(0, k, shape))
    return case(pred, target, k)


def _miou_wrong(kind):
    def wrong(pred, target, num_classes):
        scores = []
        for c in range(num_classes):
            a, b = pred == c, target == c
            inter, union = np.count_nonzero(a & b), np.count_nonzero(a | b)
            if kind == "absent as 0":
                scores.append(inter / union if union else 0.0)
            elif kind == "absent as 1":
                scores.append(inter / union if union else 1.0)
            elif kind == "dice" and union:
                scores.append(2 * inter / (np.count_nonzero(a) + np.count_nonzero(b)))
            elif kind == "no subtraction" and union:
                scores.append(inter / (np.count_nonzero(a) + np.count_nonzero(b)))
        if kind == "accuracy":
            return float(np.mean(pred == target))
        if kind == "per image":
            return float(np.mean([mean_iou(p, t, num_classes) for p, t in zip(pred, target)]))
        if kind == "foreground":
            return float(np.mean(scores[1:])) if len(scores) > 1 else float(scores[0])
        return float(np.mean(scores))
    return wrong


MEAN_IOU = Exercise(
    name="ch12.mean_iou",
    title="Mean IoU over classes",
    reference=mean_iou,
    cases=[
        _miou_case((2, 4, 4), 3, note="three classes"),
        case(np.array([[0, 1, 1, 0], [0, 1, 1, 0]]), np.array([[0, 0, 1, 1], [0, 0, 1, 1]]), 2,
             note="two classes, one 2x4 map"),
        _miou_case((3, 5, 5), 4, absent=(2,), note="class 2 appears nowhere"),
        _miou_case((1, 6, 6), 5, agree=0.3, absent=(3, 4), note="two absent classes"),
        case(np.zeros((2, 3, 3), dtype=np.int64), np.zeros((2, 3, 3), dtype=np.int64), 3,
             note="everything class 0, in both"),
        _miou_case((4, 3, 3), 2, agree=0.9, note="two classes, mostly right"),
    ],
    random_case=_miou_random,
    mistakes=[
        Mistake(_miou_wrong("absent as 0"),
                "A class in neither map counts as IoU 0. It has no IoU at all: should it "
                "pull the mean down?"),
        Mistake(_miou_wrong("absent as 1"),
                "A class in neither map counts as IoU 1. It has no IoU at all: should it "
                "enter the mean?"),
        Mistake(_miou_wrong("dice"),
                "That is the mean Dice, 2 |A & B| / (|A| + |B|). IoU divides by the union."),
        Mistake(_miou_wrong("no subtraction"),
                "The union is counted as |A| + |B|, which counts the shared pixels twice."),
        Mistake(_miou_wrong("accuracy"),
                "That is the pixel accuracy. IoU is computed for each class separately."),
        Mistake(_miou_wrong("per image"),
                "The IoU is averaged over the images. The pixels of the whole batch are "
                "counted together, then divided."),
    ],
    hints={
        "values": "Take one class c: which pixels are c in pred, which in target? Count "
                  "both, the shared ones and the union.",
        "type": "Return a float (a Python float or a NumPy float).",
        "exception": "pred and target are integer arrays: compare them with c to get "
                     "boolean masks.",
        "mutated": "Your function changed pred or target: compare, do not assign.",
    },
    hint_steps=(
        "For each class c there are two masks, pred == c and target == c. What are their "
        "intersection and union?",
        "If the union of class c is empty, the class is in neither map: skip it.",
        "Collect the IoU of the remaining classes and take their mean.",
    ),
)

EXERCISES = [DICE_LOSS_BACKWARD, RESTORING_OUTPUT_PADDING, CONCAT_SKIP_BACKWARD, MEAN_IOU]
