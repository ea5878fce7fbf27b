"""The benchmark workloads W1-W12, each as a pair of zero-argument functions doing the same
work in cnnbook and in PyTorch (CPU). All in float32 with the same random inputs.

``make(quick)`` builds the inputs once and returns ``(ours, theirs)``; timing a call
times the computation only. FLOPs count multiply-adds as 2 and only the matrix-product
work (convolutions, dense layers, attention); pooling and batch norm are memory-bound,
so they get no GFLOP/s figure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

import cnnbook.conv as conv
import cnnbook.pool as pool
from cnnbook.attention import multi_head_attention_backward, multi_head_attention_forward
from cnnbook.batchnorm import batch_norm_backward, batch_norm_forward
from cnnbook.losses import cross_entropy
from cnnbook.models import lenet
from cnnbook.optim import SGD

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@dataclass
class Workload:
    key: str
    title: str
    make: Callable[[bool], tuple[Callable, Callable]]
    flops: float | None  # per call, for GFLOP/s; None for memory-bound work
    target: float  # the goal for time(cnnbook) / time(torch) (issue 15's table)
    repeats: int = 30  # timed runs (after warm-up); --quick divides them


def conv_flops(n, c, o, kh, kw, ho, wo):
    return 2.0 * n * o * c * kh * kw * ho * wo


# -- W1-W3: convolution -------------------------------------------------------------------
W1_SHAPES = dict(x=(64, 3, 32, 32), weight=(32, 3, 3, 3), padding=1)


def make_w1(quick=False):
    x, w, b = randn(*W1_SHAPES["x"]), randn(*W1_SHAPES["weight"]), randn(32)
    xt, wt, bt = map(torch.from_numpy, (x, w, b))
    return (lambda: conv.conv2d_forward(x, w, b, padding=1),
            lambda: F.conv2d(xt, wt, bt, padding=1))


def make_w1_naive(batch):
    """The loop version on the first ``batch`` images of W1's input."""
    x, w, b = randn(batch, 3, 32, 32), randn(32, 3, 3, 3), randn(32)
    return lambda: conv.conv2d_forward_naive(x, w, b, padding=1)


def make_w2(quick=False):
    x, w, b = randn(64, 3, 32, 32), randn(32, 3, 3, 3), randn(32)
    dout = randn(64, 32, 32, 32)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    dout_t = torch.from_numpy(dout)

    def ours():
        out, cache = conv.conv2d_forward(x, w, b, padding=1)
        return conv.conv2d_backward(dout, cache)  # (dx, dweight, dbias)

    def theirs():
        out = F.conv2d(xt, wt, bt, padding=1)
        return torch.autograd.grad(out, (xt, wt, bt), dout_t)
    return ours, theirs


def make_w3(quick=False):
    x, w, b = randn(128, 1, 28, 28), randn(32, 1, 5, 5), randn(32)
    xt, wt, bt = map(torch.from_numpy, (x, w, b))
    return (lambda: conv.conv2d_forward(x, w, b, padding=2),
            lambda: F.conv2d(xt, wt, bt, padding=2))


# -- W4: max pooling -----------------------------------------------------------------------
def make_w4(quick=False):
    x, dout = randn(64, 32, 32, 32), randn(64, 32, 16, 16)
    xt, dout_t = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

    def ours():
        out, cache = pool.max_pool2d_forward(x, 2, stride=2)
        return pool.max_pool2d_backward(dout, cache)

    def theirs():
        return torch.autograd.grad(F.max_pool2d(xt, 2, stride=2), xt, dout_t)
    return ours, theirs


# -- W5: batch norm ------------------------------------------------------------------------
def make_w5(quick=False):
    x, dout = randn(64, 32, 32, 32), randn(64, 32, 32, 32)
    weight, bias = 1 + 0.1 * randn(32), 0.1 * randn(32)
    mean, var = np.zeros(32, np.float32), np.ones(32, np.float32)
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, weight, bias))
    mean_t, var_t, dout_t = torch.zeros(32), torch.ones(32), torch.from_numpy(dout)

    def ours():
        out, cache = batch_norm_forward(x, mean, var, weight, bias, training=True)
        return batch_norm_backward(dout, cache)

    def theirs():
        out = F.batch_norm(xt, mean_t, var_t, wt, bt, training=True)
        return torch.autograd.grad(out, (xt, wt, bt), dout_t)
    return ours, theirs


# -- W6: multi-head self-attention --------------------------------------------------------
def make_w6(quick=False):
    n, t, d, heads = 32, 64, 64, 4
    mha = torch.nn.MultiheadAttention(d, heads, batch_first=True)
    params = [p.detach().numpy().copy() for p in (mha.in_proj_weight, mha.in_proj_bias,
                                                  mha.out_proj.weight, mha.out_proj.bias)]
    x, dout = randn(n, t, d), randn(n, t, d)
    xt, dout_t = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

    def ours():
        out, cache = multi_head_attention_forward(x, *params, num_heads=heads)
        return multi_head_attention_backward(dout, cache)

    def theirs():
        out = mha(xt, xt, xt, need_weights=False)[0]
        return torch.autograd.grad(out, (xt, *mha.parameters()), dout_t)
    return ours, theirs


def attention_flops(n=32, t=64, d=64):
    forward = 2.0 * n * t * d * 3 * d + 2 * 2.0 * n * t * t * d + 2.0 * n * t * d * d
    return 3 * forward  # backward costs about twice the forward


# -- W7: a LeNet-style CNN, one epoch --------------------------------------------------------
LENET_BATCH, LENET_LR, LENET_MOMENTUM = 128, 0.01, 0.9


def load_images(n_quick=None):
    """Fashion-MNIST's 60,000 training images (N, 1, 28, 28), or random stand-ins."""
    try:
        from cnnbook.data import load_fashion_mnist
        images, labels = load_fashion_mnist("train", download=False)
        source = "Fashion-MNIST train"
    except Exception:  # no copy on this machine: same shapes, random values
        images = RNG.random((60_000, 28, 28), dtype=np.float32)
        labels = RNG.integers(0, 10, 60_000)
        source = "random 28x28 images (Fashion-MNIST not found)"
    images = images[:, None, :, :].astype(np.float32)  # (N, 1, 28, 28)
    if n_quick:
        images, labels = images[:n_quick], labels[:n_quick]
    return images, labels.astype(np.int64), source


def lenet_cnnbook(rng=0):
    return lenet(rng=rng)  # the network of chapter 6, from its one home


def lenet_torch():
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def lenet_flops(n):
    forward = (conv_flops(1, 1, 6, 5, 5, 28, 28) + conv_flops(1, 6, 16, 5, 5, 10, 10)
               + 2.0 * (400 * 120 + 120 * 84 + 84 * 10))
    return 3 * forward * n  # forward, plus a backward of about twice the work


def _train_pair(model, opt, tmodel, topt, images, targets):
    """Two functions that train ``model`` (cnnbook) and ``tmodel`` (torch) on the same
    batches of (images, targets) with softmax cross-entropy, one optimizer step per
    batch; each takes a list of index arrays and returns the last loss."""
    timages, ttargets = torch.from_numpy(images), torch.from_numpy(targets)

    def train_ours(batch_list):
        for idx in batch_list:
            model.zero_grad()  # backward adds into the grads
            loss, dlogits = cross_entropy(model.forward(images[idx]), targets[idx])
            model.backward_params(dlogits)  # no gradient of the images, as in torch
            opt.step()
        return loss

    def train_theirs(batch_list):
        for idx in batch_list:
            idx_t = torch.from_numpy(idx)
            topt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(tmodel(timages[idx_t]), ttargets[idx_t])
            loss.backward()
            topt.step()
        return loss.item()

    return train_ours, train_theirs


def _epoch_pair(model, tmodel, quick):
    """One shuffled epoch of SGD with momentum on Fashion-MNIST, in cnnbook and in torch,
    on the same batches (12,800 images in quick mode)."""
    images, labels, _ = load_images(12_800 if quick else None)
    order = np.random.default_rng(1).permutation(len(images))  # one shuffled epoch, shared
    batches = [order[i:i + LENET_BATCH] for i in range(0, len(order), LENET_BATCH)]
    opt = SGD(model.parameters(), lr=LENET_LR, momentum=LENET_MOMENTUM)
    topt = torch.optim.SGD(tmodel.parameters(), lr=LENET_LR, momentum=LENET_MOMENTUM)
    train_ours, train_theirs = _train_pair(model, opt, tmodel, topt, images, labels)
    train_ours(batches[:3]), train_theirs(batches[:3])  # warm-up: a few batches, not an epoch
    return lambda: train_ours(batches), lambda: train_theirs(batches)


def make_w7(quick=False):
    return _epoch_pair(lenet_cnnbook(), lenet_torch(), quick)


def lenet_bn_torch():
    """cnnbook.models.lenet_bn() (chapter 7) written with torch.nn: batch norm before
    every ReLU, training mode."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.BatchNorm1d(120), nn.ReLU(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU(), nn.Linear(84, 10))


def make_w11(quick=False):
    from cnnbook.models import lenet_bn
    return _epoch_pair(lenet_bn(rng=0), lenet_bn_torch(), quick)


def w7_samples(quick=False):
    return 12_800 if quick else 60_000


WORKLOADS = [
    Workload("W1", "conv2d forward, x (64,3,32,32), w (32,3,3,3), pad 1", make_w1,
             conv_flops(64, 3, 32, 3, 3, 32, 32), 1.5),
    Workload("W2", "conv2d forward + backward (dx, dw, db), W1 shapes", make_w2,
             3 * conv_flops(64, 3, 32, 3, 3, 32, 32), 1.2),
    Workload("W3", "conv2d forward, x (128,1,28,28), w (32,1,5,5), pad 2", make_w3,
             conv_flops(128, 1, 32, 5, 5, 28, 28), 1.5),
    Workload("W4", "max pool 2x2/2 forward + backward, x (64,32,32,32)", make_w4, None, 1.2),
    Workload("W5", "batch norm 2-D train forward + backward, x (64,32,32,32)", make_w5, None, 1.2),
    Workload("W6", "self-attention fwd + bwd, (32,64,64), 4 heads", make_w6,
             attention_flops(), 1.2),
    Workload("W7", "LeNet-style CNN, one epoch of 60,000 28x28, batch 128", make_w7,
             lenet_flops(60_000), 1.5, repeats=3),
]


# -- W9: chapter 9's recurrent convolutional layer, forward + backward -----------------------
def make_w9(quick=False):
    """The RCNN's RCL (16 -> 16 channels, 3x3, T = 3, LRN) on a batch of 64 14x14 maps:
    forward and backprop through time, cnnbook's RecurrentConv2d against the same layer
    written in PyTorch (one weight tensor per kernel, autograd summing the steps)."""
    from cnnbook.recurrent import RecurrentConv2d
    layer = RecurrentConv2d(16, 16, 3, steps=3, rng=0)
    x, dout = randn(64, 16, 14, 14), randn(64, 16, 14, 14)
    wf, bf, wr = (torch.from_numpy(p.copy()).requires_grad_() for _, p in layer.named_parameters())
    xt, dout_t = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

    def ours():
        layer.zero_grad()
        layer.forward(x)
        return layer.backward(dout)

    def theirs():
        ff = F.conv2d(xt, wf, bf, padding=1)
        state = F.local_response_norm(F.relu(ff), 3, alpha=0.001, beta=0.75, k=1.0)
        for _ in range(3):
            state = F.local_response_norm(F.relu(ff + F.conv2d(state, wr, padding=1)), 3,
                                          alpha=0.001, beta=0.75, k=1.0)
        return torch.autograd.grad(state, (xt, wf, bf, wr), dout_t)
    return ours, theirs


WORKLOADS.append(Workload("W9", "RCL (ch. 9) fwd + bwd, x (64,16,14,14), 3x3, T = 3, LRN", make_w9,
                          3 * 4 * conv_flops(64, 16, 16, 3, 3, 14, 14), 1.5))

# -- W8: the small U-Net of chapter 12, training steps ---------------------------------------
UNET_BATCH, UNET_STEPS, UNET_LR = 16, 20, 0.01


class _TorchSkip(torch.nn.Module):
    def __init__(self, block, add):
        super().__init__()
        self.block, self.add = block, add

    def forward(self, x):
        return x + self.block(x) if self.add else torch.cat([x, self.block(x)], dim=1)


def unet_torch(width=8, depth=2, n_classes=2, skip="concat"):
    """cnnbook.models.unet's network written with torch.nn (same layers, same order)."""
    nn = torch.nn

    def double(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU()]
    chans = [width * 2 ** i for i in range(depth + 1)]
    inner = nn.Sequential(*double(chans[depth - 1], chans[depth]))
    for i in reversed(range(depth)):
        down_up = nn.Sequential(nn.MaxPool2d(2), inner,
                                nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2))
        middle = list(down_up) if skip == "none" else [_TorchSkip(down_up, skip == "add")]
        inner = nn.Sequential(*double(1 if i == 0 else chans[i - 1], chans[i]), *middle,
                              *double(2 * chans[i] if skip == "concat" else chans[i], chans[i]))
    return nn.Sequential(*inner, nn.Conv2d(chans[0], n_classes, 1))


def unet_flops(n=UNET_BATCH * UNET_STEPS, width=8):
    c = width
    forward = (conv_flops(1, 1, c, 3, 3, 32, 32) + conv_flops(1, c, c, 3, 3, 32, 32)
               + conv_flops(1, c, 2 * c, 3, 3, 16, 16) + conv_flops(1, 2 * c, 2 * c, 3, 3, 16, 16)
               + conv_flops(1, 2 * c, 4 * c, 3, 3, 8, 8) + conv_flops(1, 4 * c, 4 * c, 3, 3, 8, 8)
               + conv_flops(1, 4 * c, 2 * c, 2, 2, 8, 8) + conv_flops(1, 4 * c, 2 * c, 3, 3, 16, 16)
               + conv_flops(1, 2 * c, 2 * c, 3, 3, 16, 16) + conv_flops(1, 2 * c, c, 2, 2, 16, 16)
               + conv_flops(1, 2 * c, c, 3, 3, 32, 32) + conv_flops(1, c, c, 3, 3, 32, 32)
               + conv_flops(1, c, 2, 1, 1, 32, 32))
    return 3 * forward * n


def make_w8(quick=False):
    from cnnbook.data import make_lines_and_disks
    from cnnbook.models import unet
    from cnnbook.optim import Adam
    images, masks = make_lines_and_disks(UNET_BATCH * UNET_STEPS, rng=0)
    batches = [np.arange(i, i + UNET_BATCH) for i in range(0, len(images), UNET_BATCH)]
    model, tmodel = unet(rng=0), unet_torch()
    opt, topt = Adam(model, lr=UNET_LR), torch.optim.Adam(tmodel.parameters(), lr=UNET_LR)
    train_ours, train_theirs = _train_pair(model, opt, tmodel, topt, images, masks)
    return lambda: train_ours(batches), lambda: train_theirs(batches)


WORKLOADS.append(
    Workload("W8", "U-Net (ch. 12) 20 Adam steps, batch 16 of 32x32, concat skips", make_w8,
             unet_flops(), 1.5, repeats=5))


# -- W10: the tiny vision transformer of chapter 11, a slice of an epoch --------------------
VIT_BATCH, VIT_BATCHES, VIT_LR = 128, 10, 1e-3


def vit_torch(model):
    """PyTorch's twin of ``cnnbook.models.vit.ViT(pool="cls", positions="learned")``."""
    nn = torch.nn

    class TorchViT(nn.Module):
        def __init__(self):
            super().__init__()
            pe = model.patch_embed
            self.conv = nn.Conv2d(pe.in_channels, pe.dim, pe.patch, stride=pe.patch)
            self.cls = nn.Parameter(torch.zeros(1, 1, pe.dim))
            self.pos = nn.Parameter(torch.zeros(1, model.num_patches + 1, pe.dim))
            self.blocks = nn.ModuleList(
                nn.TransformerEncoderLayer(pe.dim, b.num_heads, b.mlp_dim, dropout=0.0,
                                           activation=nn.GELU(approximate="tanh"),
                                           batch_first=True, norm_first=True)
                for b in model.blocks)
            self.norm = nn.LayerNorm(pe.dim)
            self.head = nn.Linear(pe.dim, model.head.out_features)

        def forward(self, x):
            t = self.conv(x).flatten(2).transpose(1, 2)
            t = torch.cat([self.cls.expand(len(x), -1, -1), t], dim=1) + self.pos
            for block in self.blocks:
                t = block(t)
            return self.head(self.norm(t)[:, 0])

    return TorchViT()


def vit_flops(n, dim=32, depth=4, mlp=64, tokens=17, patch_values=49, classes=10):
    per_token = 2.0 * (4 * dim * dim + 2 * dim * mlp) + 2.0 * 2 * tokens * dim  # + attention
    forward = 2.0 * 16 * patch_values * dim + depth * tokens * per_token + 2.0 * dim * classes
    return 3 * forward * n


def make_w10(quick=False):
    from cnnbook.models.vit import ViT
    from cnnbook.optim import Adam
    images, labels, _ = load_images(VIT_BATCH * VIT_BATCHES)
    batches = [np.arange(i, i + VIT_BATCH) for i in range(0, len(images), VIT_BATCH)]
    model = ViT(approximate="tanh", rng=0)  # patch 7, width 32, 4 blocks, 4 heads, MLP 64
    opt = Adam(model.parameters(), lr=VIT_LR)
    tmodel = vit_torch(model)
    topt = torch.optim.Adam(tmodel.parameters(), lr=VIT_LR)
    train_ours, train_theirs = _train_pair(model, opt, tmodel, topt, images, labels)
    return lambda: train_ours(batches), lambda: train_theirs(batches)


WORKLOADS.append(Workload("W10", "tiny ViT (chapter 11), 10 training steps of batch 128, Adam",
                          make_w10, vit_flops(VIT_BATCH * VIT_BATCHES), 1.5, repeats=5))

WORKLOADS.append(Workload("W11", "LeNet with batch norm (ch. 7), one epoch of 60,000, batch 128",
                          make_w11, lenet_flops(60_000), 1.5, repeats=3))



class _TorchRCNN(torch.nn.Module):
    """cnnbook.models.rcnn() (chapter 9: 16 channels, T = 3) written with torch.nn: the
    recurrent convolution unrolled, its two kernels shared by the steps."""

    def __init__(self, c=16, steps=3, n_classes=10):
        super().__init__()
        nn = torch.nn
        self.stem = nn.Conv2d(1, c, 5, padding=2)
        self.ff, self.rec = nn.Conv2d(c, c, 3, padding=1), nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.head = nn.Linear(c * 7 * 7, n_classes)
        self.steps, self.lrn = steps, dict(size=c // 8 + 1, alpha=0.001, beta=0.75, k=1.0)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem(x)), 2)
        ff = self.ff(x)
        state = F.local_response_norm(F.relu(ff), **self.lrn)
        for _ in range(self.steps):
            state = F.local_response_norm(F.relu(ff + self.rec(state)), **self.lrn)
        return self.head(F.max_pool2d(state, 2).flatten(1))


def make_w12(quick=False):
    from cnnbook.models import rcnn
    return _epoch_pair(rcnn(10, rng=0), _TorchRCNN(), quick)


def rcnn_flops(n, c=16, steps=3):
    convs = conv_flops(1, 1, c, 5, 5, 28, 28) + (1 + steps) * conv_flops(1, c, c, 3, 3, 14, 14)
    return 3 * (convs + 2.0 * c * 49 * 10) * n


WORKLOADS.append(Workload("W12", "RCNN (ch. 9, T = 3), one epoch of 60,000, batch 128",
                          make_w12, rcnn_flops(60_000), 1.5, repeats=3))

# in the order of their names, whichever chapter added them
WORKLOADS.sort(key=lambda w: int(w.key[1:]))
