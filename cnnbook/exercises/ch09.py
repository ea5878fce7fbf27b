"""Chapter 9 exercises: the recurrent convolutional layer's forward for T steps, the
gradient of its shared recurrent kernel (backprop through time), its receptive field
after t iterations, and its parameter count against an unshared stack.

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch09.py checks this).
"""
from __future__ import annotations

import numpy as np

from ..conv import conv2d_backward as _conv2d_backward
from ..conv import conv2d_forward as _conv2d_forward
from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(909)  # draws the fixed cases once, the same on every run


def _conv(x, w, b=None):
    return _conv2d_forward(x, w, b, padding="same")[0]


def _relu(z):
    return np.maximum(z, 0)


def _rcl_inputs(rng, n, c, k, h, w, ksize=3, steps=2, dtype=np.float64):
    u = rng.standard_normal((n, c, h, w)).astype(dtype)
    wf = (rng.standard_normal((k, c, ksize, ksize)) / np.sqrt(c * ksize * ksize)).astype(dtype)
    b = (0.1 * rng.standard_normal(k)).astype(dtype)
    wr = (rng.standard_normal((k, k, ksize, ksize)) / np.sqrt(k * ksize * ksize)).astype(dtype)
    return u, wf, b, wr, steps


# -- ch09.rcl_forward: the recurrence for T steps -------------------------------------------
def rcl_forward(u, weight_f, bias, weight_r, steps):
    """x(T) of the recurrent convolutional layer without LRN (g the identity):
    x(0) = ReLU(w_f * u + b), x(t) = ReLU(w_f * u + w_r * x(t-1) + b), convolutions with
    "same" padding (stride 1). u: (N, C, H, W), weight_f: (K, C, k, k), bias: (K,),
    weight_r: (K, K, k, k) -> (N, K, H, W)."""
    ff = _conv(u, weight_f, bias)
    x = _relu(ff)
    for _ in range(steps):
        x = _relu(ff + _conv(x, weight_r))
    return x


def _fwd_wrong(*, term="ff", extra=0, bias_twice=False, relu_after_sum=True):
    def wrong(u, weight_f, bias, weight_r, steps):
        ff = _conv(u, weight_f, bias)
        x = x0 = _relu(ff)
        for _ in range(max(steps + extra, 0)):
            r = _conv(x, weight_r, bias if bias_twice else None)
            base = {"ff": ff, "x0": x0, "none": 0.0}[term]
            x = _relu(base + r) if relu_after_sum else base + _relu(r)
        return x
    return wrong


def _fwd_random(rng):
    c, k = (int(v) for v in rng.integers(1, 4, size=2))
    return case(*_rcl_inputs(rng, int(rng.integers(1, 3)), c, k, int(rng.integers(3, 7)),
                             int(rng.integers(3, 7)), ksize=int(rng.choice([1, 3])),
                             steps=int(rng.integers(0, 5))))


def _fwd_diagnose(c, got, expected):
    shape = getattr(got, "shape", None)
    if shape is None or shape == expected.shape:
        return None
    if len(shape) == 4 and shape[:2] == expected.shape[:2] and shape[2] < expected.shape[2]:
        return ("The maps shrink: the convolutions have no padding. Which padding keeps "
                "x(t-1) the size of w_f * u, so that the two can be added?")
    return None


RCL_FORWARD = Exercise(
    name="ch09.rcl_forward",
    title="The recurrent convolutional layer, T steps",
    reference=rcl_forward,
    cases=[
        case(*_rcl_inputs(_rng, 2, 2, 3, 5, 5, steps=0), note="T = 0: a plain convolution and ReLU"),
        case(*_rcl_inputs(_rng, 2, 2, 3, 5, 5, steps=1), note="one recurrent step"),
        case(*_rcl_inputs(_rng, 1, 3, 3, 6, 4, steps=3), note="three steps, as Liang & Hu"),
        case(*_rcl_inputs(_rng, 2, 1, 4, 4, 5, steps=4), note="one input channel, four steps"),
        case(*_rcl_inputs(_rng, 1, 2, 2, 5, 5, ksize=1, steps=2), note="1x1 kernels"),
        case(*_rcl_inputs(_rng, 2, 3, 2, 4, 4, steps=2, dtype=np.float32), note="float32"),
    ],
    random_case=_fwd_random,
    mistakes=[
        Mistake(_fwd_wrong(term="x0"),
                "Each step adds x(0), the first step's OUTPUT, to the recurrent term, as a "
                "literal reading of Chen's sentence suggests. What does Liang & Hu's equation "
                "add to w_r * x(t-1) inside the ReLU: an output, or the feed-forward input's "
                "convolution?"),
        Mistake(_fwd_wrong(term="none"),
                "After step 0 the feed-forward term is gone: x(t) depends on x(t-1) only. "
                "Which input does the layer see again at every step?"),
        Mistake(_fwd_wrong(bias_twice=True),
                "The bias is added twice from step 1 on. How many b are there in the "
                "pre-activation w_f * u + w_r * x(t-1) + b?"),
        Mistake(_fwd_wrong(extra=1),
                "One recurrent step too many. With T steps, how many times is w_r applied "
                "(T = 0 applies it never)?"),
        Mistake(_fwd_wrong(extra=-1),
                "One recurrent step too few. With T steps, how many times is w_r applied?"),
        Mistake(_fwd_wrong(relu_after_sum=False),
                "The ReLU is applied to the recurrent term alone, before the sum. Where does "
                "f sit in x(t) = f(w_f * u + w_r * x(t-1) + b)?"),
    ],
    diagnose=_fwd_diagnose,
    hints={
        "values": "Check T = 0 first (a plain convolution with bias, then ReLU), then "
                  "T = 1: which two convolutions are added before the ReLU?",
        "shape": "x(T) has the shape of w_f * u: (N, K, H, W), with 'same' padding.",
        "exception": "w_r has K input channels: it is applied to x(t-1), never to u. And the "
                     "two convolutions must give maps of the same size.",
        "mutated": "Your function changed one of its inputs: build new arrays instead.",
    },
    hint_steps=(
        "Write down x(0) and x(1) from the equations of section 9.2. Which convolution is "
        "the same at every step, and can you compute it once?",
        "Each step: the convolution of the previous state with the recurrent kernel (no "
        "bias), plus the feed-forward term (which holds the bias), then the ReLU.",
        "Use cnnbook's conv2d_forward with padding 'same' for both convolutions; start from "
        "x(0) and repeat the step exactly `steps` times.",
    ),
)


# -- ch09.shared_weight_grad: backprop through time for w_r -----------------------------------
def shared_weight_grad(u, weight_f, bias, weight_r, steps, dout):
    """dL/dw_r of ``rcl_forward(u, weight_f, bias, weight_r, steps)`` for the upstream
    gradient ``dout`` = dL/dx(T): the sum over the steps t = 1..T of each step's gradient,
    with dL/dx(t-1) passed down through w_r and the ReLUs. Shape of weight_r. The inputs
    are float64 arrays."""
    ff = _conv(u, weight_f, bias)
    xs, caches, zs = [_relu(ff)], [], []
    for _ in range(steps):
        r, cache = _conv2d_forward(xs[-1], weight_r, None, padding="same")
        caches.append(cache)
        zs.append(ff + r)
        xs.append(_relu(zs[-1]))
    grad = np.zeros_like(weight_r)
    dx = dout
    for t in range(steps, 0, -1):
        dz = dx * (zs[t - 1] > 0)
        dx, dw, _ = _conv2d_backward(dz, caches[t - 1])
        grad = grad + dw
    return grad


def _bptt_wrong(*, keep="sum", through=True, mask=True, scale=1.0):
    def wrong(u, weight_f, bias, weight_r, steps, dout):
        ff = _conv(u, weight_f, bias)
        xs, caches, zs = [_relu(ff)], [], []
        for _ in range(steps):
            r, cache = _conv2d_forward(xs[-1], weight_r, None, padding="same")
            caches.append(cache)
            zs.append(ff + r)
            xs.append(_relu(zs[-1]))
        grads, dx = [], dout
        for t in range(steps, 0, -1):
            dz = dx * (zs[t - 1] > 0) if mask else dx
            dx_new, dw, _ = _conv2d_backward(dz, caches[t - 1])
            grads.append(dw)
            dx = dx_new if through else dout
        if not grads:
            return np.zeros_like(weight_r)
        chosen = {"sum": sum(grads), "last": grads[-1], "first": grads[0],
                  "mean": sum(grads) / len(grads)}[keep]
        return chosen * scale
    return wrong


def _bptt_case(rng, n, c, k, h, w, ksize=3, steps=2, dtype=np.float64, note=""):
    args = _rcl_inputs(rng, n, c, k, h, w, ksize, steps, dtype)
    dout = rng.standard_normal((n, k, h, w)).astype(dtype)
    return case(*args, dout, note=note)


def _bptt_random(rng):
    c, k = (int(v) for v in rng.integers(1, 4, size=2))
    return _bptt_case(rng, int(rng.integers(1, 3)), c, k, int(rng.integers(3, 6)),
                      int(rng.integers(3, 6)), ksize=int(rng.choice([1, 3])),
                      steps=int(rng.integers(1, 5)))


def _bptt_diagnose(c, got, expected):
    shape = getattr(got, "shape", None)
    if shape is not None and shape != expected.shape and len(shape) == 5 and shape[1:] == expected.shape:
        return ("One gradient per step, stacked. The layer has one w_r: what do the steps' "
                "gradients of a weight used T times combine into?")
    return None


SHARED_WEIGHT_GRAD = Exercise(
    name="ch09.shared_weight_grad",
    title="The gradient of the shared recurrent kernel",
    reference=shared_weight_grad,
    cases=[
        _bptt_case(_rng, 2, 2, 3, 5, 5, steps=1, note="one step: a single convolution's gradient"),
        _bptt_case(_rng, 2, 2, 3, 5, 5, steps=2, note="two steps"),
        _bptt_case(_rng, 1, 3, 3, 6, 4, steps=3, note="three steps, as Liang & Hu"),
        _bptt_case(_rng, 2, 1, 2, 4, 4, steps=4, note="four steps"),
        _bptt_case(_rng, 1, 2, 2, 5, 5, steps=0, note="T = 0: w_r is never used"),
        _bptt_case(_rng, 1, 2, 2, 4, 4, ksize=1, steps=3, note="1x1 kernels"),
        _bptt_case(_rng, 3, 2, 2, 6, 6, steps=5, note="five steps, a batch of three"),
    ],
    random_case=_bptt_random,
    mistakes=[
        Mistake(_bptt_wrong(keep="first"),
                "Only the gradient of the last step, t = T, is kept: the others are "
                "overwritten. w_r was used at every step: how do the gradients of a weight "
                "used several times combine (the fan-out rule of chapter 4)?"),
        Mistake(_bptt_wrong(keep="last"),
                "Only the gradient of step 1 is kept: each step overwrote the one before. "
                "How do the gradients of a weight used several times combine?"),
        Mistake(_bptt_wrong(keep="mean"),
                "The steps' gradients are averaged. If w_r changes by a little, every step "
                "changes: do their effects on the loss average, or add up?"),
        Mistake(_bptt_wrong(through=False),
                "Every step gets dout itself as the gradient of its output. Only x(T) meets "
                "the loss directly: how does dL/dx(t-1) reach step t - 1?"),
        Mistake(_bptt_wrong(mask=False),
                "The ReLU is left out of the backward pass. What is the derivative of "
                "ReLU(z) where z < 0?"),
    ],
    diagnose=_bptt_diagnose,
    hints={
        "values": "Check T = 1 first (one convolution's weight gradient). Then T = 2: "
                  "is step 1's gradient computed with the dL/dx(1) that step 2 sends back?",
        "shape": "dL/dw_r has the shape of weight_r, (K, K, k, k): one array for all steps.",
        "exception": "With T = 0, w_r is never used: what is its gradient then? Keep one "
                     "cache per step, for the backward of each convolution.",
        "mutated": "Your function changed one of its inputs: build new arrays instead.",
    },
    hint_steps=(
        "Unroll the layer: T convolutions with the same w_r, one per step. Which of them "
        "does dL/dw_r depend on?",
        "Run the forward keeping every step's pre-activation and convolution cache. Then go "
        "down from t = T: the ReLU's mask, then the convolution's backward, which gives this "
        "step's dL/dw_r and dL/dx(t-1) for the step below.",
        "The feed-forward term does not depend on w_r; the answer is the sum of the T "
        "per-step gradients (zeros when T = 0).",
    ),
)


# -- ch09.rcl_receptive_field: the RF after t iterations ---------------------------------------
def rcl_receptive_field(kernel_f, kernel_r, steps):
    """Side of the receptive field, on u, of one unit of x(steps) in an RCL with a
    kernel_f x kernel_f feed-forward kernel and a kernel_r x kernel_r recurrent kernel,
    stride 1 and no dilation: an int."""
    return int(kernel_f + (kernel_r - 1) * steps)


def _rf_random(rng):
    return case(int(rng.choice([1, 3, 5, 7])), int(rng.choice([1, 3, 5])), int(rng.integers(0, 9)))


RCL_RECEPTIVE_FIELD = Exercise(
    name="ch09.rcl_receptive_field",
    title="The receptive field after t iterations",
    reference=rcl_receptive_field,
    cases=[
        case(3, 3, 0, note="T = 0: one 3x3 convolution"),
        case(3, 3, 1, note="3x3 kernels, one step"),
        case(3, 3, 3, note="3x3 kernels, three steps (Liang & Hu)"),
        case(5, 3, 2, note="a 5x5 feed-forward kernel, 3x3 recurrent"),
        case(3, 5, 2, note="a 3x3 feed-forward kernel, 5x5 recurrent"),
        case(1, 3, 4, note="a 1x1 feed-forward kernel"),
        case(3, 1, 5, note="1x1 recurrent kernels: no growth"),
    ],
    random_case=_rf_random,
    n_random=20,
    mistakes=[
        Mistake(lambda kernel_f, kernel_r, steps: kernel_f + kernel_r * steps,
                "Each step adds a whole kernel width. A stride-1 k x k convolution on a map "
                "that sees r pixels: how many does it see then (chapter 8)?"),
        Mistake(lambda kernel_f, kernel_r, steps: kernel_f + (kernel_f - 1) * steps,
                "The growth per step uses the feed-forward kernel. Which kernel is applied at "
                "each step, after the first?"),
        Mistake(lambda kernel_f, kernel_r, steps: 1 + (kernel_r - 1) * steps,
                "The feed-forward convolution is left out. What does one unit of x(0) "
                "see of u?"),
        Mistake(lambda kernel_f, kernel_r, steps: kernel_f + (kernel_r - 1) * (steps + 1),
                "One recurrent step too many. With T = 0, how many recurrent "
                "convolutions stand between u and the output?"),
        Mistake(lambda kernel_f, kernel_r, steps: kernel_f * kernel_r ** steps,
                "The field grows multiplicatively. Does a stride-1 convolution multiply the "
                "field, or add to it?"),
    ],
    hints={
        "values": "Check the 3x3 cases against 3 + 2t first. Then: which kernel sets the "
                  "starting field, and which the growth per step?",
        "type": "Return one int, the side of the square field.",
        "exception": "The arguments are plain ints: kernel_f, kernel_r and steps.",
    },
    hint_steps=(
        "Unroll the layer: from u to x(T), how many convolutions, and of which sizes, does "
        "the longest path go through?",
        "Chapter 8's rule for stride-1 layers: each k x k convolution adds k - 1 to the "
        "field. What is the field of the first convolution alone?",
    ),
)


# -- ch09.rcl_parameter_counts: shared vs unshared ---------------------------------------------
def rcl_parameter_counts(in_channels, out_channels, kernel_size, steps):
    """(shared, unshared): learnable scalars of an RCL with ``steps`` = T >= 0 (w_f, b and
    ONE w_r, which T = 0 does not have), and of its unrolled stack with its own w_r at
    every step (w_f, b and T recurrent kernels). No bias in the recurrent convolutions."""
    ff = in_channels * out_channels * kernel_size ** 2 + out_channels
    wr = out_channels ** 2 * kernel_size ** 2
    return int(ff + (wr if steps else 0)), int(ff + wr * steps)


def _count_wrong(*, shared_wr=lambda t: 1 if t else 0, unshared_wr=lambda t: t, bias=1,
                 rec_bias=0, wr_in=None, square=True):
    def wrong(in_channels, out_channels, kernel_size, steps):
        k2 = kernel_size ** 2 if square else kernel_size
        ff = in_channels * out_channels * k2 + bias * out_channels
        wr = (wr_in or out_channels) * out_channels * k2 + rec_bias * out_channels
        return ff + wr * shared_wr(steps), ff + wr * unshared_wr(steps)
    return wrong


def _count_random(rng):
    return case(*(int(v) for v in rng.integers(1, 65, size=2)), int(rng.choice([1, 3, 5])),
                int(rng.integers(0, 6)))


RCL_PARAMETER_COUNTS = Exercise(
    name="ch09.rcl_parameter_counts",
    title="Parameters: a shared kernel against an unshared stack",
    reference=rcl_parameter_counts,
    cases=[
        case(16, 16, 3, 3, note="the chapter's RCL, T = 3"),
        case(3, 96, 3, 3, note="three colour channels in, 96 maps"),
        case(16, 32, 3, 1, note="one step"),
        case(8, 8, 5, 4, note="5x5 kernels"),
        case(4, 6, 1, 2, note="1x1 kernels"),
        case(16, 16, 3, 0, note="T = 0: no recurrent kernel"),
    ],
    random_case=_count_random,
    n_random=15,
    outputs=("shared", "unshared"),
    mistakes=[
        Mistake(_count_wrong(shared_wr=lambda t: t),
                "The shared layer counts w_r once per step. How many arrays does the layer "
                "hold for w_r, whatever T?"),
        Mistake(_count_wrong(unshared_wr=lambda t: t + 1),
                "The unshared stack has one recurrent kernel too many. With T = 0, how many "
                "recurrent convolutions are there?"),
        Mistake(_count_wrong(shared_wr=lambda t: 1),
                "With T = 0 the shared layer still counts w_r. Is a kernel that is never "
                "applied part of the layer (section 9.4)?"),
        Mistake(_count_wrong(bias=0),
                "The bias b is not counted. How many biases does the feed-forward "
                "convolution have?"),
        Mistake(_count_wrong(rec_bias=1),
                "The recurrent convolutions get biases too. How many b are there in "
                "Liang & Hu's equation?"),
        Mistake(_count_wrong(wr_in=None, square=False),
                "A k x k kernel is counted as k weights. How many weights does a k x k "
                "kernel from one channel to another have?"),
    ],
    diagnose=None,
    hints={
        "values": "Check the chapter's RCL (16 -> 16, 3x3, T = 3) against the count printed "
                  "in section 9.4. Which part is off: w_f, b, or w_r?",
        "type": "Return a tuple of two ints: (shared, unshared).",
        "exception": "The arguments are plain ints.",
    },
    hint_steps=(
        "List the arrays of each layer and their shapes: w_f (K, C, k, k), b (K,), and w_r "
        "(K, K, k, k) once (shared) or once per step (unshared).",
        "The feed-forward part is the same in both; only the number of recurrent kernels "
        "differs, and with T = 0 there are none.",
    ),
)

EXERCISES = [RCL_FORWARD, SHARED_WEIGHT_GRAD, RCL_RECEPTIVE_FIELD, RCL_PARAMETER_COUNTS]
