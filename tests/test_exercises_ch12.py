"""Chapter 12's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, and the references agree with cnnbook's kernels,
finite differences and PyTorch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnbook import ConvTranspose2d, conv2d_forward, conv_transpose2d_forward, dice_loss
from cnnbook.exercises import evaluate, get
from cnnbook.exercises.ch12 import (concat_skip_backward, dice_loss_backward, mean_iou,
                                    restoring_output_padding)
from cnnbook.gradcheck import numerical_gradient
from cnnbook.skip import concat_backward, concat_forward


CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "12_unet.ipynb"


# -- right answers, written as different readers would -----------------------------------
def dice_quotient_rule(p, t, eps=1.0):
    axes = tuple(range(1, p.ndim))
    u = 2 * (p * t).sum(axis=axes, keepdims=True) + eps
    v = p.sum(axis=axes, keepdims=True) + t.sum(axis=axes, keepdims=True) + eps
    return -(2 * t * v - u) / v ** 2 / len(p)


def dice_loops(p, t, eps=1.0):
    grad = np.zeros_like(p, dtype=np.float64)
    for n in range(p.shape[0]):
        inter = np.sum(p[n] * t[n])
        s = np.sum(p[n]) + np.sum(t[n]) + eps
        d = (2 * inter + eps) / s
        grad[n] = -(2 * t[n] - d) / s / p.shape[0]
    return grad


def dice_flat(p, t, eps=1.0):
    q, r = p.reshape(len(p), -1), t.reshape(len(t), -1)
    s = q.sum(1) + r.sum(1) + eps
    d = (2 * (q * r).sum(1) + eps) / s
    return (-(2 * r - d[:, None]) / (s[:, None] * len(p))).reshape(p.shape)


def pad_by_formula(n, kernel_size, stride, padding):
    m = (n + 2 * padding - kernel_size) // stride + 1
    return n - ((m - 1) * stride - 2 * padding + kernel_size)


def pad_by_remainder(n, kernel_size, stride, padding):
    return (n + 2 * padding - kernel_size) % stride


def pad_by_search(n, kernel_size, stride, padding):
    m = (n + 2 * padding - kernel_size) // stride + 1
    for op in range(stride):
        if (m - 1) * stride - 2 * padding + kernel_size + op == n:
            return op
    return None


def skip_einsum(dout, weight):
    c = weight.shape[1]
    return dout[:, :c] + np.einsum("oc,nohw->nchw", weight, dout[:, c:])


def skip_tensordot(dout, weight):
    c = weight.shape[1]
    through = np.tensordot(weight, dout[:, c:], axes=([0], [1]))       # (C, N, H, W)
    return dout[:, :c] + through.transpose(1, 0, 2, 3)


def skip_loops(dout, weight):
    o, c = weight.shape
    dx = dout[:, :c].astype(np.float64).copy()
    for k in range(o):
        for j in range(c):
            dx[:, j] += weight[k, j] * dout[:, c + k]
    return dx


def miou_loops(pred, target, num_classes):
    total, count = 0.0, 0
    for c in range(num_classes):
        inter = np.sum((pred == c) & (target == c))
        union = np.sum((pred == c) | (target == c))
        if union > 0:
            total += inter / union
            count += 1
    return total / count


def miou_bincount(pred, target, num_classes):
    conf = np.bincount(num_classes * target.ravel() + pred.ravel(),
                       minlength=num_classes ** 2).reshape(num_classes, num_classes)
    inter = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - inter
    return float(np.mean(inter[union > 0] / union[union > 0]))


RIGHT = [
    ("ch12.dice_loss_backward", dice_quotient_rule),
    ("ch12.dice_loss_backward", dice_loops),
    ("ch12.dice_loss_backward", dice_flat),
    ("ch12.restoring_output_padding", pad_by_formula),
    ("ch12.restoring_output_padding", pad_by_remainder),
    ("ch12.restoring_output_padding", pad_by_search),
    ("ch12.concat_skip_backward", skip_einsum),
    ("ch12.concat_skip_backward", skip_tensordot),
    ("ch12.concat_skip_backward", skip_loops),
    ("ch12.mean_iou", miou_loops),
    ("ch12.mean_iou", miou_bincount),
]


# -- wrong answers, and the diagnosis each must get ----------------------------------------
def dice_numerator_only(p, t, eps=1.0):
    axes = tuple(range(1, p.ndim))
    v = p.sum(axis=axes, keepdims=True) + t.sum(axis=axes, keepdims=True) + eps
    return -2 * t / v / len(p)


def dice_no_mean(p, t, eps=1.0):
    return dice_quotient_rule(p, t, eps) * len(p)


def dice_sign(p, t, eps=1.0):
    return -dice_quotient_rule(p, t, eps)


def dice_pooled(p, t, eps=1.0):
    u, v = 2 * np.sum(p * t) + eps, np.sum(p) + np.sum(t) + eps
    return -(2 * t * v - u) / v ** 2


def dice_no_eps(p, t, eps=1.0):
    return dice_quotient_rule(p, t, 0.0)


def dice_denominator_once(p, t, eps=1.0):
    axes = tuple(range(1, p.ndim))
    u = 2 * (p * t).sum(axis=axes, keepdims=True) + eps
    v = p.sum(axis=axes, keepdims=True) + t.sum(axis=axes, keepdims=True) + eps
    return -(2 * t * v - u) / v / len(p)


def dice_returns_loss(p, t, eps=1.0):
    return dice_loss(p, t, eps=eps)[0]


def pad_no_padding(n, kernel_size, stride, padding):
    return (n - kernel_size) % stride


def pad_quotient(n, kernel_size, stride, padding):
    return (n + 2 * padding - kernel_size) // stride


def pad_stride_minus_one(n, kernel_size, stride, padding):
    return stride - 1


def pad_n_mod_s(n, kernel_size, stride, padding):
    return n % stride


def pad_zero(n, kernel_size, stride, padding):
    return 0


def pad_float(n, kernel_size, stride, padding):
    return float(pad_by_remainder(n, kernel_size, stride, padding))


def skip_only(dout, weight):
    return dout[:, :weight.shape[1]].copy()


def skip_block_only(dout, weight):
    c = weight.shape[1]
    return np.einsum("oc,nohw->nchw", weight, dout[:, c:])


def skip_swapped(dout, weight):
    o, c = weight.shape
    return dout[:, o:o + c] + np.einsum("oc,nohw->nchw", weight, dout[:, :o])


def skip_not_transposed(dout, weight):
    c = weight.shape[1]
    return dout[:, :c] + np.einsum("co,nohw->nchw", weight, dout[:, c:])


def skip_whole_dout(dout, weight):
    return dout + 0.0


def skip_in_place(dout, weight):
    c = weight.shape[1]
    dout[:, :c] += np.einsum("oc,nohw->nchw", weight, dout[:, c:])
    return dout[:, :c]


def miou_absent_zero(pred, target, num_classes):
    scores = []
    for c in range(num_classes):
        a, b = pred == c, target == c
        union = np.sum(a | b)
        scores.append(np.sum(a & b) / union if union else 0.0)
    return float(np.mean(scores))


def miou_absent_one(pred, target, num_classes):
    scores = []
    for c in range(num_classes):
        a, b = pred == c, target == c
        union = np.sum(a | b)
        scores.append(np.sum(a & b) / union if union else 1.0)
    return float(np.mean(scores))


def miou_dice(pred, target, num_classes):
    scores = []
    for c in range(num_classes):
        a, b = pred == c, target == c
        if np.any(a | b):
            scores.append(2 * np.sum(a & b) / (np.sum(a) + np.sum(b)))
    return float(np.mean(scores))


def miou_no_subtraction(pred, target, num_classes):
    scores = []
    for c in range(num_classes):
        a, b = pred == c, target == c
        if np.any(a | b):
            scores.append(np.sum(a & b) / (np.sum(a) + np.sum(b)))
    return float(np.mean(scores))


def miou_accuracy(pred, target, num_classes):
    return float(np.mean(pred == target))


def miou_per_image(pred, target, num_classes):
    return float(np.mean([miou_loops(p, t, num_classes) for p, t in zip(pred, target)]))


def miou_list(pred, target, num_classes):
    return [miou_loops(pred, target, num_classes)]


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch12.dice_loss_backward", dice_numerator_only, "mistake", "denominator"),
    ("ch12.dice_loss_backward", dice_no_mean, "mistake", "N times too large"),
    ("ch12.dice_loss_backward", dice_sign, "mistake", "sign is flipped"),
    ("ch12.dice_loss_backward", dice_pooled, "mistake", "pooled into one Dice"),
    ("ch12.dice_loss_backward", dice_no_eps, "mistake", "eps is left out"),
    ("ch12.dice_loss_backward", dice_denominator_once, "mistake", "not squared"),
    ("ch12.dice_loss_backward", dice_returns_loss, "type", "array"),
    ("ch12.restoring_output_padding", pad_no_padding, "mistake", "padding is left out"),
    ("ch12.restoring_output_padding", pad_quotient, "mistake", "quotient"),
    ("ch12.restoring_output_padding", pad_stride_minus_one, "mistake", "largest output_padding"),
    ("ch12.restoring_output_padding", pad_n_mod_s, "mistake", "ignores the kernel"),
    ("ch12.restoring_output_padding", pad_zero, "mistake", "Always 0"),
    ("ch12.restoring_output_padding", pad_float, "type", "int"),
    ("ch12.concat_skip_backward", skip_only, "mistake", "Only the skip"),
    ("ch12.concat_skip_backward", skip_block_only, "mistake", "through the convolution"),
    ("ch12.concat_skip_backward", skip_swapped, "mistake", "wrong order"),
    ("ch12.concat_skip_backward", skip_not_transposed, "mistake", "transpose"),
    ("ch12.concat_skip_backward", skip_whole_dout, "shape", "C = weight.shape[1]"),
    ("ch12.concat_skip_backward", skip_in_place, "mutated", "dout"),
    ("ch12.mean_iou", miou_absent_zero, "mistake", "counts as IoU 0"),
    ("ch12.mean_iou", miou_absent_one, "mistake", "counts as IoU 1"),
    ("ch12.mean_iou", miou_dice, "mistake", "mean Dice"),
    ("ch12.mean_iou", miou_no_subtraction, "mistake", "twice"),
    ("ch12.mean_iou", miou_accuracy, "mistake", "pixel accuracy"),
    ("ch12.mean_iou", miou_per_image, "mistake", "averaged over the images"),
    ("ch12.mean_iou", miou_list, "type", "float"),
]


# -- the references agree with cnnbook's kernels, finite differences and PyTorch --------
def test_dice_loss_backward_is_the_packages_gradient_and_finite_differences():
    rng = np.random.default_rng(0)
    p, t = rng.uniform(0.1, 0.9, (3, 4, 4)), (rng.random((3, 4, 4)) < 0.4).astype(float)
    numeric = numerical_gradient(lambda q: np.asarray(dice_loss(q, t)[0]), [p], np.asarray(1.0))
    np.testing.assert_allclose(dice_loss_backward(p, t), numeric, atol=1e-8)
    np.testing.assert_allclose(dice_quotient_rule(p, t, 0.5), dice_loss_backward(p, t, 0.5))
    torch = pytest.importorskip("torch")
    pt, tt = torch.tensor(p, requires_grad=True), torch.tensor(t)
    (1 - ((2 * (pt * tt).sum((1, 2)) + 1) / (pt.sum((1, 2)) + tt.sum((1, 2)) + 1)).mean()).backward()
    np.testing.assert_allclose(dice_loss_backward(p, t), pt.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("n, k, s, p", [(8, 3, 2, 1), (7, 3, 2, 1), (33, 2, 2, 0), (11, 3, 3, 0),
                                        (20, 5, 4, 2)])
def test_the_output_padding_restores_the_size_in_cnnbook_and_torch(n, k, s, p):
    x = np.zeros((1, 1, n, n))
    m = conv2d_forward(x, np.ones((1, 1, k, k)), None, stride=s, padding=p)[0].shape[-1]
    op = restoring_output_padding(n, k, s, p)
    back = conv_transpose2d_forward(np.zeros((1, 1, m, m)), np.ones((1, 1, k, k)), stride=s,
                                    padding=p, output_padding=op)[0]
    assert back.shape[-1] == n and 0 <= op < s
    layer = ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op, rng=0)
    assert layer.forward(np.zeros((1, 1, m, m), dtype=np.float32)).shape[-1] == n
    torch = pytest.importorskip("torch")
    out = torch.nn.functional.conv_transpose2d(torch.zeros(1, 1, m, m), torch.ones(1, 1, k, k),
                                               stride=s, padding=p, output_padding=op)
    assert out.shape[-1] == n


def test_concat_skip_backward_is_the_kernels_and_torchs():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((5, 3))
    block = np.einsum("oc,nchw->nohw", w, x)
    out, cache = concat_forward([x, block], axis=1)
    dout = rng.standard_normal(out.shape)
    d_skip, d_block = concat_backward(dout, cache)
    np.testing.assert_allclose(concat_skip_backward(dout, w),
                               d_skip + np.einsum("oc,nohw->nchw", w, d_block))
    torch = pytest.importorskip("torch")
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w)
    torch.cat([xt, torch.einsum("oc,nchw->nohw", wt, xt)], 1).backward(torch.tensor(dout))
    np.testing.assert_allclose(concat_skip_backward(dout, w), xt.grad.numpy(), atol=1e-12)


def test_mean_iou_with_two_classes_and_the_package():
    from cnnbook import iou_score
    rng = np.random.default_rng(2)
    pred, target = rng.integers(0, 2, (3, 5, 5)), rng.integers(0, 2, (3, 5, 5))
    assert mean_iou(pred, target, 2) == pytest.approx(
        (iou_score(pred, target, positive=0) + iou_score(pred, target, positive=1)) / 2)
    assert mean_iou(pred, target, 5) == mean_iou(pred, target, 2)   # absent classes left out
    assert evaluate("ch12.mean_iou", miou_bincount).passed
    assert len(get("ch12.mean_iou").all_cases()) == 16
