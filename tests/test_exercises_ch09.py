"""Chapter 9's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, the references agree with cnnbook's
RecurrentConv2d and with PyTorch, and no feedback holds the code of an answer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cnnbook import RecurrentConv2d, conv2d_backward, conv2d_forward
from cnnbook.exercises import evaluate, get
from cnnbook.exercises.ch09 import (rcl_forward, rcl_parameter_counts, rcl_receptive_field,
                                    shared_weight_grad)

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "09_recurrent_conv.ipynb"


def same_conv(x, w, b=None):
    k = w.shape[-1]
    return conv2d_forward(x, w, b, padding=k // 2)[0]


# -- right answers, written as different readers would -----------------------------------
def forward_loop(u, weight_f, bias, weight_r, steps):
    ff = same_conv(u, weight_f, bias)
    x = np.maximum(ff, 0)
    for _ in range(steps):
        x = np.maximum(ff + same_conv(x, weight_r), 0)
    return x


def forward_recomputing(u, weight_f, bias, weight_r, steps):
    # recomputes w_f * u at every step, as in the unrolled picture
    x = np.maximum(conv2d_forward(u, weight_f, bias, padding="same")[0], 0)
    t = 0
    while t < steps:
        z = conv2d_forward(u, weight_f, bias, padding="same")[0]
        z = z + conv2d_forward(x, weight_r, None, padding="same")[0]
        x = z * (z > 0)
        t += 1
    return x


def forward_torch(u, weight_f, bias, weight_r, steps):
    ut, wf, b, wr = (torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in (u, weight_f, bias, weight_r))
    ff = F.conv2d(ut, wf, b, padding="same")
    x = F.relu(ff)
    for _ in range(steps):
        x = F.relu(ff + F.conv2d(x, wr, padding="same"))
    return x.numpy()


def unroll(u, weight_f, bias, weight_r, steps):
    """The RCL's forward steps: the recurrent convolutions' caches and the ReLU masks."""
    ff = same_conv(u, weight_f, bias)
    states, caches, masks = [np.maximum(ff, 0)], [], []
    for _ in range(steps):
        r, cache = conv2d_forward(states[-1], weight_r, padding="same")
        caches.append(cache)
        masks.append(ff + r > 0)
        states.append(np.maximum(ff + r, 0))
    return caches, masks


def bptt_sum(u, weight_f, bias, weight_r, steps, dout):
    caches, masks = unroll(u, weight_f, bias, weight_r, steps)
    total = np.zeros(weight_r.shape)
    grad_x = dout
    for t in reversed(range(steps)):
        grad_x, dw, _ = conv2d_backward(grad_x * masks[t], caches[t])
        total += dw
    return total


def bptt_torch(u, weight_f, bias, weight_r, steps, dout):
    wr = torch.tensor(np.asarray(weight_r, dtype=np.float64), requires_grad=True)
    ut, wf, b = (torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in (u, weight_f, bias))
    ff = F.conv2d(ut, wf, b, padding="same")
    x = F.relu(ff)
    for _ in range(steps):
        x = F.relu(ff + F.conv2d(x, wr, padding="same"))
    if steps == 0:
        return np.zeros(weight_r.shape)
    x.backward(torch.from_numpy(np.asarray(dout, dtype=np.float64)))
    return wr.grad.numpy()


def bptt_with_the_layer(u, weight_f, bias, weight_r, steps, dout):
    k, c = weight_f.shape[:2]
    layer = RecurrentConv2d(c, k, weight_f.shape[-1], steps=steps, lrn=False, dtype=np.float64)
    layer.feedforward.params["weight"][...] = weight_f
    layer.feedforward.params["bias"][...] = bias
    if steps == 0:
        return np.zeros_like(weight_r)
    layer.recurrent.params["weight"][...] = weight_r
    layer.zero_grad()
    layer.forward(u)
    layer.backward(dout)
    return layer.recurrent.grads["weight"]


def rf_formula(kernel_f, kernel_r, steps):
    return kernel_f + steps * (kernel_r - 1)


def rf_walk(kernel_f, kernel_r, steps):
    field = kernel_f
    for _ in range(steps):
        field = field + kernel_r - 1
    return field


def rf_measured(kernel_f, kernel_r, steps):
    # backpropagate a unit gradient through positive weights, as section 9.4
    size = kernel_f + 2 * kernel_r * steps + 3
    layer = RecurrentConv2d(1, 1, 3, steps=0, lrn=False, dtype=np.float64)
    wf = np.ones((1, 1, kernel_f, kernel_f))
    wr = np.ones((1, 1, kernel_r, kernel_r))
    u = np.ones((1, 1, size, size))
    ff, ff_cache = conv2d_forward(u, wf, padding="same")
    xs, caches = [ff], []
    for _ in range(steps):
        r, cache = conv2d_forward(xs[-1], wr, padding="same")
        caches.append(cache)
        xs.append(ff + r)
    d = np.zeros_like(ff)
    d[0, 0, size // 2, size // 2] = 1.0
    dff = np.zeros_like(ff)
    for cache in reversed(caches):
        dff += d
        d = conv2d_backward(d, cache)[0]
    du = conv2d_backward(dff + d, ff_cache)[0]
    del layer
    return int(np.count_nonzero(du[0, 0, size // 2]))


def counts_by_formula(in_channels, out_channels, kernel_size, steps):
    base = in_channels * out_channels * kernel_size * kernel_size + out_channels
    rec = out_channels * out_channels * kernel_size * kernel_size
    return base + (rec if steps > 0 else 0), base + steps * rec


def counts_with_layers(in_channels, out_channels, kernel_size, steps):
    shared = RecurrentConv2d(in_channels, out_channels, kernel_size, steps=steps, rng=0).num_parameters()
    one_rec = 0 if steps == 0 else RecurrentConv2d(out_channels, out_channels, kernel_size, steps=1,
                                                   rng=0).recurrent.num_parameters()
    ff = RecurrentConv2d(in_channels, out_channels, kernel_size, steps=0, rng=0).num_parameters()
    return shared, ff + steps * one_rec


RIGHT = [
    ("ch09.rcl_forward", forward_loop),
    ("ch09.rcl_forward", forward_recomputing),
    ("ch09.rcl_forward", forward_torch),
    ("ch09.shared_weight_grad", bptt_sum),
    ("ch09.shared_weight_grad", bptt_torch),
    ("ch09.shared_weight_grad", bptt_with_the_layer),
    ("ch09.rcl_receptive_field", rf_formula),
    ("ch09.rcl_receptive_field", rf_walk),
    ("ch09.rcl_receptive_field", rf_measured),
    ("ch09.rcl_parameter_counts", counts_by_formula),
    ("ch09.rcl_parameter_counts", counts_with_layers),
]


# -- wrong answers ---------------------------------------------------------------------------
def forward_adds_first_output(u, weight_f, bias, weight_r, steps):
    x0 = np.maximum(same_conv(u, weight_f, bias), 0)
    x = x0
    for _ in range(steps):
        x = np.maximum(x0 + same_conv(x, weight_r), 0)
    return x


def forward_forgets_input(u, weight_f, bias, weight_r, steps):
    x = np.maximum(same_conv(u, weight_f, bias), 0)
    for _ in range(steps):
        x = np.maximum(same_conv(x, weight_r), 0)
    return x


def forward_bias_twice(u, weight_f, bias, weight_r, steps):
    ff = same_conv(u, weight_f, bias)
    x = np.maximum(ff, 0)
    for _ in range(steps):
        x = np.maximum(ff + same_conv(x, weight_r, bias), 0)
    return x


def forward_one_step_more(u, weight_f, bias, weight_r, steps):
    ff = same_conv(u, weight_f, bias)
    x = np.maximum(ff, 0)
    for _ in range(steps + 1):
        x = np.maximum(ff + same_conv(x, weight_r), 0)
    return x


def forward_relu_inside(u, weight_f, bias, weight_r, steps):
    ff = same_conv(u, weight_f, bias)
    x = np.maximum(ff, 0)
    for _ in range(steps):
        x = ff + np.maximum(same_conv(x, weight_r), 0)
    return x


def forward_valid_padding(u, weight_f, bias, weight_r, steps):
    ff = conv2d_forward(u, weight_f, bias)[0]
    return np.maximum(ff, 0)


def bptt_keeps_last_computed(u, weight_f, bias, weight_r, steps, dout):
    caches, masks = unroll(u, weight_f, bias, weight_r, steps)
    grad = np.zeros(weight_r.shape)
    grad_x = dout
    for t in reversed(range(steps)):
        grad_x, grad, _ = conv2d_backward(grad_x * masks[t], caches[t])  # overwrites
    return grad


def bptt_top_step_only(u, weight_f, bias, weight_r, steps, dout):
    ff = same_conv(u, weight_f, bias)
    x = np.maximum(ff, 0)
    cache = mask = None
    for _ in range(steps):
        r, cache = conv2d_forward(x, weight_r, padding="same")
        mask = ff + r > 0
        x = np.maximum(ff + r, 0)
    if cache is None:
        return np.zeros(weight_r.shape)
    return conv2d_backward(dout * mask, cache)[1]


def bptt_mean(u, weight_f, bias, weight_r, steps, dout):
    total = bptt_sum(u, weight_f, bias, weight_r, steps, dout)
    return total / max(steps, 1)


def bptt_dout_everywhere(u, weight_f, bias, weight_r, steps, dout):
    ff = same_conv(u, weight_f, bias)
    x = np.maximum(ff, 0)
    total = np.zeros(weight_r.shape)
    for _ in range(steps):
        r, cache = conv2d_forward(x, weight_r, padding="same")
        total += conv2d_backward(dout * (ff + r > 0), cache)[1]
        x = np.maximum(ff + r, 0)
    return total


def bptt_no_relu(u, weight_f, bias, weight_r, steps, dout):
    caches, _ = unroll(u, weight_f, bias, weight_r, steps)  # the masks left unused
    total, grad_x = np.zeros(weight_r.shape), dout
    for t in reversed(range(steps)):
        grad_x, dw, _ = conv2d_backward(grad_x, caches[t])
        total += dw
    return total


def bptt_stacked(u, weight_f, bias, weight_r, steps, dout):
    caches, masks = unroll(u, weight_f, bias, weight_r, steps)
    per_step, grad_x = [np.zeros(weight_r.shape)], dout
    for t in reversed(range(steps)):
        grad_x, dw, _ = conv2d_backward(grad_x * masks[t], caches[t])
        per_step.append(dw)
    return np.stack(per_step[1:] or per_step)


def rf_whole_kernel(kernel_f, kernel_r, steps):
    return kernel_f + kernel_r * steps


def rf_feedforward_growth(kernel_f, kernel_r, steps):
    return kernel_f + (kernel_f - 1) * steps


def rf_no_feedforward(kernel_f, kernel_r, steps):
    return 1 + (kernel_r - 1) * steps


def rf_one_more(kernel_f, kernel_r, steps):
    return kernel_f + (kernel_r - 1) * (steps + 1)


def rf_multiplies(kernel_f, kernel_r, steps):
    return kernel_f * kernel_r ** steps


def rf_three_plus_two_t(kernel_f, kernel_r, steps):
    return 3 + 2 * steps


def counts_per_step(in_channels, out_channels, kernel_size, steps):
    base = in_channels * out_channels * kernel_size ** 2 + out_channels
    rec = out_channels ** 2 * kernel_size ** 2
    return base + steps * rec, base + steps * rec


def counts_stack_one_more(in_channels, out_channels, kernel_size, steps):
    base = in_channels * out_channels * kernel_size ** 2 + out_channels
    rec = out_channels ** 2 * kernel_size ** 2
    return base + (rec if steps else 0), base + (steps + 1) * rec


def counts_unused_kernel(in_channels, out_channels, kernel_size, steps):
    base = in_channels * out_channels * kernel_size ** 2 + out_channels
    rec = out_channels ** 2 * kernel_size ** 2
    return base + rec, base + steps * rec


def counts_no_bias(in_channels, out_channels, kernel_size, steps):
    base = in_channels * out_channels * kernel_size ** 2
    rec = out_channels ** 2 * kernel_size ** 2
    return base + (rec if steps else 0), base + steps * rec


def counts_recurrent_bias(in_channels, out_channels, kernel_size, steps):
    base = in_channels * out_channels * kernel_size ** 2 + out_channels
    rec = out_channels ** 2 * kernel_size ** 2 + out_channels
    return base + (rec if steps else 0), base + steps * rec


def counts_swapped(in_channels, out_channels, kernel_size, steps):
    return tuple(reversed(counts_by_formula(in_channels, out_channels, kernel_size, steps)))


def counts_shared_only(in_channels, out_channels, kernel_size, steps):
    return counts_by_formula(in_channels, out_channels, kernel_size, steps)[0]


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch09.rcl_forward", forward_adds_first_output, "mistake", "literal reading of Chen"),
    ("ch09.rcl_forward", forward_forgets_input, "mistake", "feed-forward term is gone"),
    ("ch09.rcl_forward", forward_bias_twice, "mistake", "bias is added twice"),
    ("ch09.rcl_forward", forward_one_step_more, "mistake", "One recurrent step too many"),
    ("ch09.rcl_forward", forward_relu_inside, "mistake", "before the sum"),
    ("ch09.rcl_forward", forward_valid_padding, "mistake", "no padding"),
    ("ch09.shared_weight_grad", bptt_keeps_last_computed, "mistake", "Only the gradient of step 1"),
    ("ch09.shared_weight_grad", bptt_top_step_only, "mistake", "Only the gradient of the last step"),
    ("ch09.shared_weight_grad", bptt_mean, "mistake", "averaged"),
    ("ch09.shared_weight_grad", bptt_dout_everywhere, "mistake", "dout itself"),
    ("ch09.shared_weight_grad", bptt_no_relu, "mistake", "ReLU is left out"),
    ("ch09.shared_weight_grad", bptt_stacked, "mistake", "stacked"),
    ("ch09.rcl_receptive_field", rf_whole_kernel, "mistake", "whole kernel width"),
    ("ch09.rcl_receptive_field", rf_feedforward_growth, "mistake", "feed-forward kernel"),
    ("ch09.rcl_receptive_field", rf_no_feedforward, "mistake", "left out"),
    ("ch09.rcl_receptive_field", rf_one_more, "mistake", "One recurrent step too many"),
    ("ch09.rcl_receptive_field", rf_multiplies, "mistake", "multiplicatively"),
    ("ch09.rcl_receptive_field", rf_three_plus_two_t, "values", "which kernel sets"),
    ("ch09.rcl_parameter_counts", counts_per_step, "mistake", "once per step"),
    ("ch09.rcl_parameter_counts", counts_stack_one_more, "mistake", "one recurrent kernel too many"),
    ("ch09.rcl_parameter_counts", counts_unused_kernel, "mistake", "never applied"),
    ("ch09.rcl_parameter_counts", counts_no_bias, "mistake", "bias b is not counted"),
    ("ch09.rcl_parameter_counts", counts_recurrent_bias, "mistake", "biases too"),
    ("ch09.rcl_parameter_counts", counts_swapped, "values", "Which part is off"),
    ("ch09.rcl_parameter_counts", counts_shared_only, "type", "2 items"),
]


# -- the references agree with the package and PyTorch ----------------------------------------
def test_rcl_forward_reference_is_the_layer_without_lrn():
    ex = get("ch09.rcl_forward")
    for c in ex.cases[:4]:
        u, wf, b, wr, steps = c.args
        layer = RecurrentConv2d(wf.shape[1], wf.shape[0], 3, steps=steps, lrn=False, dtype=np.float64)
        layer.feedforward.params["weight"][...] = wf
        layer.feedforward.params["bias"][...] = b
        if steps:
            layer.recurrent.params["weight"][...] = wr
        np.testing.assert_allclose(rcl_forward(*c.args), layer(u), rtol=1e-12, atol=1e-14)


def test_shared_weight_grad_reference_matches_torch_autograd():
    ex = get("ch09.shared_weight_grad")
    for c in ex.all_cases():
        np.testing.assert_allclose(shared_weight_grad(*c.args), bptt_torch(*c.args),
                                   rtol=1e-5, atol=1e-6)


def test_receptive_field_reference_is_measured_and_counts_match_the_layer():
    for kf, kr, t in [(3, 3, 0), (3, 3, 3), (5, 3, 2), (3, 5, 2), (1, 3, 4)]:
        assert rcl_receptive_field(kf, kr, t) == rf_measured(kf, kr, t)
    assert rcl_parameter_counts(16, 16, 3, 3) == counts_with_layers(16, 16, 3, 3) == (4624, 9232)


def test_every_right_answer_passes_quickly():
    for name, fn in RIGHT:
        assert evaluate(name, fn).passed, name
