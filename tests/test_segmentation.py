"""Segmentation: per-pixel cross-entropy, soft Dice loss (finite differences and a PyTorch
twin), IoU and Dice scores, and the synthetic lines-and-disks set. See chapter 12."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import check_op
from test_losses import as_kernel, check_loss
from cnnbook import cross_entropy, dice_loss, dice_score, iou_score, make_lines_and_disks


def torch_dice_loss(p, t, eps=1.0):
    """The soft Dice loss written with torch, per image, then 1 - the batch mean."""
    dims = tuple(range(1, p.dim()))
    inter = (p * t).sum(dims)
    return 1 - ((2 * inter + eps) / (p.sum(dims) + t.sum(dims) + eps)).mean()


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 1, 4, 5), (1, 6)])
def test_per_pixel_cross_entropy_matches_torch(shape):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((shape[0], 3) + shape[1:])
    labels = rng.integers(0, 3, (shape[0],) + shape[1:])
    check_loss(cross_entropy, F.cross_entropy, z, labels)


def test_per_pixel_cross_entropy_is_the_mean_over_pixels_of_the_2d_one():
    rng = np.random.default_rng(1)
    z, labels = rng.standard_normal((2, 4, 3, 5)), rng.integers(0, 4, (2, 3, 5))
    loss, grad = cross_entropy(z, labels)
    rows = np.moveaxis(z, 1, -1).reshape(-1, 4)
    loss2, grad2 = cross_entropy(rows, labels.reshape(-1))
    assert loss == pytest.approx(loss2)
    np.testing.assert_allclose(np.moveaxis(grad, 1, -1).reshape(-1, 4), grad2)
    assert grad.shape == z.shape and grad.flags.c_contiguous


def test_per_pixel_cross_entropy_soft_targets():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((2, 3, 4, 4))
    t = np.moveaxis(np.eye(3)[rng.integers(0, 3, (2, 4, 4))], -1, 1)  # one-hot (2, 3, 4, 4)
    check_loss(cross_entropy, F.cross_entropy, z, t)
    assert cross_entropy(z, t)[0] == pytest.approx(cross_entropy(z, t.argmax(1))[0])


@pytest.mark.parametrize("target", [np.zeros((2, 4, 4), dtype=np.int64)[:, :3],
                                    np.zeros((2, 3, 4, 4), dtype=np.int64)])
def test_per_pixel_cross_entropy_bad_target_shape(target):
    with pytest.raises(ValueError, match=r"cross_entropy: target must have shape \(2, 4, 4\)"):
        cross_entropy(np.zeros((2, 3, 4, 4)), target)
    with pytest.raises(TypeError, match="cross_entropy: target must be integer class indices"):
        cross_entropy(np.zeros((2, 3, 4, 4)), np.zeros((2, 4, 4)))


def test_cross_entropy_one_dimension_is_refused():
    with pytest.raises(ValueError, match=r"cross_entropy: input must have layout \(N, C\)"):
        cross_entropy(np.zeros(3), np.array([0]))


@pytest.mark.parametrize("shape", [(3, 5), (2, 4, 4), (2, 1, 3, 3)])
def test_dice_loss_gradients_and_torch(shape):
    rng = np.random.default_rng(3)
    p = rng.uniform(0.05, 0.95, shape)
    t = (rng.random(shape) < 0.3).astype(np.float64)
    check_loss(dice_loss, torch_dice_loss, p, t)
    fwd, bwd = as_kernel(dice_loss, target=t, eps=0.5)
    check_op(fwd, bwd, lambda q: torch_dice_loss(q, torch.tensor(t), eps=0.5), [p])


def test_dice_loss_values():
    t = np.zeros((2, 4, 4))
    t[:, 1:3, 1:3] = 1
    assert dice_loss(t, t, eps=1e-9)[0] == pytest.approx(0.0)  # perfect overlap
    assert dice_loss(np.zeros_like(t), t, eps=1e-9)[0] == pytest.approx(1.0)  # none
    assert dice_loss(np.zeros_like(t), np.zeros_like(t))[0] == pytest.approx(0.0)  # both empty
    half = t.copy()
    half[:, 1, 1:3] = 0  # half the foreground: Dice = 2*2 / (2 + 4) = 2/3
    assert dice_loss(half, t, eps=1e-12)[0] == pytest.approx(1 / 3)
    assert dice_loss(np.float32(half), t)[1].dtype == np.float32


@pytest.mark.parametrize("call, match", [
    (lambda: dice_loss(np.full((2, 3), 1.5), np.zeros((2, 3))), "input must lie in"),
    (lambda: dice_loss(np.zeros((2, 3)), np.full((2, 3), -1.0)), "target must lie in"),
    (lambda: dice_loss(np.zeros((2, 3)), np.zeros((2, 4))), "input and target must have the same shape"),
    (lambda: dice_loss(np.zeros(3), np.zeros(3)), r"input must be \(N, ...\)"),
    (lambda: dice_loss(np.zeros((2, 3)), np.zeros((2, 3)), eps=0), "eps must be"),
])
def test_dice_loss_bad_input(call, match):
    with pytest.raises(ValueError, match="dice_loss: " + match):
        call()


def test_iou_and_dice_scores():
    a = np.array([[1, 1, 0, 0], [0, 1, 0, 0]])
    b = np.array([[1, 0, 0, 0], [0, 1, 1, 0]])
    assert iou_score(a, b) == pytest.approx(2 / 4)  # 2 shared, 4 in the union
    assert dice_score(a, b) == pytest.approx(2 * 2 / (3 + 3))
    iou = iou_score(a, b)
    assert dice_score(a, b) == pytest.approx(2 * iou / (1 + iou))
    assert iou_score(a, a) == dice_score(a, a) == 1.0
    assert iou_score(np.zeros((2, 2), int), np.zeros((2, 2), int)) == 1.0
    assert iou_score(a.astype(bool), b.astype(bool)) == iou
    labels = np.array([[2, 2, 1], [0, 2, 1]])
    assert iou_score(labels, np.array([[2, 0, 1], [0, 2, 2]]), positive=2) == pytest.approx(2 / 4)
    # the torch twin: the sums written with tensors
    ta, tb = torch.tensor(a == 1), torch.tensor(b == 1)
    assert iou == pytest.approx(((ta & tb).sum() / (ta | tb).sum()).item())


@pytest.mark.parametrize("call, err, match", [
    (lambda: iou_score(np.zeros((2, 2)), np.zeros((2, 2), int)), TypeError, "pred must be a mask"),
    (lambda: iou_score(np.zeros((2, 2), int), np.zeros((2, 3), int)), ValueError, "pred and target must have the same shape"),
    (lambda: dice_score(np.zeros(0, int), np.zeros(0, int)), ValueError, "pred is empty"),
    (lambda: dice_score(np.zeros(2, int), np.zeros(2, int), positive=1.0), TypeError,
     "positive must be"),
])
def test_scores_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_lines_and_disks():
    X, M = make_lines_and_disks(50, rng=0)
    X2, M2 = make_lines_and_disks(50, rng=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(M, M2)
    assert X.shape == (50, 1, 32, 32) and X.dtype == np.float32
    assert M.shape == (50, 32, 32) and M.dtype == np.int64 and set(np.unique(M)) == {0, 1}
    assert not np.array_equal(M, make_lines_and_disks(50, rng=1)[1])
    # without noise, line pixels and disk pixels have the same brightness, 1
    clean, masks = make_lines_and_disks(20, noise=0.0, disk_class=True, rng=3)
    assert set(np.unique(clean)) == {0.0, 1.0}
    assert np.all(clean[:, 0][masks > 0] == 1) and set(np.unique(masks)) == {0, 1, 2}
    assert np.all(clean[:, 0][masks == 0] == 0)
    line = masks == 1
    assert 0.02 < line.mean() < 0.1 and 0.1 < (masks == 2).mean() < 0.5
    # a line is one pixel wide: no 2x2 block of line pixels
    _, single = make_lines_and_disks(200, disks=0, lines=1, rng=4)
    line = single == 1
    assert line.sum(axis=(1, 2)).min() >= 2 and line.sum(axis=(1, 2)).mean() >= 32 // 3
    blocks = line[:, 1:, 1:] & line[:, :-1, 1:] & line[:, 1:, :-1] & line[:, :-1, :-1]
    assert not blocks.any()
    # the noise has the requested standard deviation
    noisy, _ = make_lines_and_disks(20, noise=0.3, rng=3)
    assert np.std(noisy - clean) == pytest.approx(0.3, rel=0.05)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(n=0), ValueError, "n must be"), (dict(size=8), ValueError, "size must be"),
    (dict(noise=-1.0), ValueError, r"noise must be a number in \[0, 1000\]"), (dict(disk_class="yes"), TypeError, "disk_class"),
    (dict(rng="seed"), TypeError, "rng must be"), (dict(lines=-1), ValueError, "lines must be"),
])
def test_lines_and_disks_bad_input(kwargs, err, match):
    with pytest.raises(err, match="make_lines_and_disks: " + match):
        make_lines_and_disks(**kwargs)


def test_fit_reports_pixel_accuracy_for_per_pixel_labels():
    from cnnbook import Adam, fit, predict
    from cnnbook.models import unet
    X, M = make_lines_and_disks(8, size=16, rng=0)
    net = unet(width=2, depth=1, rng=0)
    history = fit(net, cross_entropy, Adam(net, lr=0.01), (X, M), epochs=1, batch_size=4,
                  val_data=(X, M), rng=0, progress="off")
    pixel_acc = np.mean(predict(net, X).argmax(axis=1) == M)
    assert history.val_acc[0] == pytest.approx(pixel_acc)
    assert 0 <= history.train_acc[0] <= 1
