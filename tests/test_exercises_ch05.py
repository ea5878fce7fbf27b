"""Chapter 5's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, the references agree with PyTorch, the loops and
finite differences, and no feedback holds the code of an answer."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from cnnbook.conv import conv1d_forward
from cnnbook.exercises import evaluate, get
from cnnbook.exercises.ch05 import (conv1d_matrix, conv2d, conv2d_weight_grad,
                                    output_length, receptive_field)
from cnnbook.gradcheck import numerical_gradient


CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "05_convolution.ipynb"


# -- right answers, written as different readers would -----------------------------------
def length_formula(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return (input_size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def length_by_counting(input_size, kernel_size, stride=1, padding=0, dilation=1):
    span = dilation * (kernel_size - 1) + 1
    return len(range(0, input_size + 2 * padding - span + 1, stride))


def length_floor(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return int(math.floor((input_size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride)) + 1


def length_numpy(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return np.floor_divide(input_size + 2 * padding - dilation * (kernel_size - 1) - 1, stride) + 1


def conv_loops(x, weight, bias, stride=1, padding=0):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    kh, kw = weight.shape[2:]
    ho = (xp.shape[2] - kh) // stride + 1
    wo = (xp.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], weight.shape[0], ho, wo))
    for r in range(ho):
        for q in range(wo):
            window = xp[:, :, r * stride:r * stride + kh, q * stride:q * stride + kw]
            out[:, :, r, q] = np.tensordot(window, weight, axes=([1, 2, 3], [1, 2, 3])) + bias
    return out


def conv_windows(x, weight, bias, stride=1, padding=0):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, weight.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,ocij->nohw", win, weight) + bias[None, :, None, None]


def conv_stride_by_subsampling(x, weight, bias, stride=1, padding=0):
    # section 5.5: a strided convolution keeps every s-th output of the stride-1 one
    full = conv_loops(x, weight, bias, 1, padding)
    return full[:, :, ::stride, ::stride]


def conv_keeps_dtype(x, weight, bias, stride=1, padding=0):
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    xp = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    xp[:, :, padding:padding + h, padding:padding + w] = x
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    out = np.empty((n, o, ho, wo), dtype=x.dtype)
    for n_ in range(n):
        for o_ in range(o):
            for r in range(ho):
                for q in range(wo):
                    out[n_, o_, r, q] = np.sum(
                        xp[n_, :, r * stride:r * stride + kh, q * stride:q * stride + kw]
                        * weight[o_]) + bias[o_]
    return out


def matrix_loops(weight, input_length, stride=1, padding=0):
    k = len(weight)
    rows = (input_length + 2 * padding - k) // stride + 1
    m = np.zeros((rows, input_length))
    for r in range(rows):
        for tap in range(k):
            c = r * stride - padding + tap
            if 0 <= c < input_length:
                m[r, c] = weight[tap]
    return m


def matrix_from_diagonals(weight, input_length, stride=1, padding=0):
    # the stride-1 matrix of the padded signal is a sum of shifted identities; drop the
    # columns of the padding, then keep every stride-th row
    k, padded = len(weight), input_length + 2 * padding
    full = sum(w * np.eye(padded - k + 1, padded, k=j) for j, w in enumerate(weight))
    return full[::stride, padding:padding + input_length]


def matrix_by_impulses(weight, input_length, stride=1, padding=0):
    columns = []
    for c in range(input_length):
        impulse = np.zeros(input_length + 2 * padding)
        impulse[c + padding] = 1.0
        columns.append(np.correlate(impulse, weight, mode="valid")[::stride])
    return np.stack(columns, axis=1)


def matrix_float32(weight, input_length, stride=1, padding=0):
    return matrix_loops(weight, input_length, stride, padding).astype(np.float32)


def field_jump(kernel_sizes, strides=None, dilations=None):
    strides = strides or [1] * len(kernel_sizes)
    dilations = dilations or [1] * len(kernel_sizes)
    field, jump = 1, 1
    for k, s, d in zip(kernel_sizes, strides, dilations):
        field += (k - 1) * d * jump
        jump *= s
    return field


def field_top_down(kernel_sizes, strides=None, dilations=None):
    # from the unit downwards: r inputs of layer l's output need s (r - 1) + span inputs
    n = len(kernel_sizes)
    strides = [1] * n if strides is None else strides
    dilations = [1] * n if dilations is None else dilations
    r = 1
    for k, s, d in reversed(list(zip(kernel_sizes, strides, dilations))):
        r = s * (r - 1) + d * (k - 1) + 1
    return r


def field_products(kernel_sizes, strides=None, dilations=None):
    n = len(kernel_sizes)
    s = np.ones(n, dtype=int) if strides is None else np.array(strides)
    d = np.ones(n, dtype=int) if dilations is None else np.array(dilations)
    jumps = np.concatenate([[1], np.cumprod(s)[:-1]]) if n else np.array([], dtype=int)
    return int(1 + np.sum(d * (np.array(kernel_sizes) - 1) * jumps))


def dweight_loops(x, dout, kernel_size, stride=1, padding=0):
    kh, kw = kernel_size
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho, wo = dout.shape[2:]
    dw = np.zeros((dout.shape[1], x.shape[1], kh, kw))
    for i in range(kh):
        for j in range(kw):
            seen = xp[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            dw[:, :, i, j] = np.einsum("nohw,nchw->oc", dout, seen)
    return dw


def dweight_by_outputs(x, dout, kernel_size, stride=1, padding=0):
    kh, kw = kernel_size
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dw = np.zeros((dout.shape[1], x.shape[1], kh, kw))
    for y in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            window = xp[:, :, y * stride:y * stride + kh, q * stride:q * stride + kw]
            dw += np.einsum("no,ncij->ocij", dout[:, :, y, q], window)
    return dw


def dweight_dilated_dout(x, dout, kernel_size, stride=1, padding=0):
    # dout with s - 1 zeros between its entries, then a valid correlation with the padded x
    kh, kw = kernel_size
    n, o, ho, wo = dout.shape
    spread = np.zeros((n, o, stride * (ho - 1) + 1, stride * (wo - 1) + 1))
    spread[:, :, ::stride, ::stride] = dout
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, spread.shape[2:], axis=(2, 3))[:, :, :kh, :kw]
    return np.einsum("ncijyx,noyx->ocij", win, spread)


def dweight_float32(x, dout, kernel_size, stride=1, padding=0):
    return dweight_loops(x, dout, kernel_size, stride, padding).astype(np.float32)


RIGHT = [
    ("ch05.output_length", length_formula),
    ("ch05.output_length", length_by_counting),
    ("ch05.output_length", length_floor),
    ("ch05.output_length", length_numpy),
    ("ch05.conv2d", conv_loops),
    ("ch05.conv2d", conv_windows),
    ("ch05.conv2d", conv_stride_by_subsampling),
    ("ch05.conv2d", conv_keeps_dtype),
    ("ch05.conv1d_matrix", matrix_loops),
    ("ch05.conv1d_matrix", matrix_from_diagonals),
    ("ch05.conv1d_matrix", matrix_by_impulses),
    ("ch05.conv1d_matrix", matrix_float32),
    ("ch05.receptive_field", field_jump),
    ("ch05.receptive_field", field_top_down),
    ("ch05.receptive_field", field_products),
    ("ch05.conv2d_weight_grad", dweight_loops),
    ("ch05.conv2d_weight_grad", dweight_by_outputs),
    ("ch05.conv2d_weight_grad", dweight_dilated_dout),
    ("ch05.conv2d_weight_grad", dweight_float32),
]


# -- wrong answers, and the diagnosis each must get ----------------------------------------
def length_no_plus_one(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return (input_size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride


def length_true_division(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return (input_size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1


def length_padding_once(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return (input_size + padding - dilation * (kernel_size - 1) - 1) // stride + 1


def length_no_padding(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return (input_size - dilation * (kernel_size - 1) - 1) // stride + 1


def length_no_dilation(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return (input_size + 2 * padding - kernel_size) // stride + 1


def length_ceil(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return math.ceil((input_size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1


def length_one_inside(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return (input_size + 2 * padding - dilation * (kernel_size - 1)) // stride


def length_padding_default_one(input_size, kernel_size, stride=1, padding=1, dilation=1):
    return length_formula(input_size, kernel_size, stride, padding, dilation)


def length_dilation_default_zero(input_size, kernel_size, stride=1, padding=0, dilation=0):
    return length_formula(input_size, kernel_size, stride, padding, dilation)


def length_stride_default_zero(input_size, kernel_size, stride=0, padding=0, dilation=1):
    return length_formula(input_size, kernel_size, stride, padding, dilation)


def length_no_defaults(input_size, kernel_size, stride, padding, dilation):
    return length_formula(input_size, kernel_size, stride, padding, dilation)


def length_other_names(n, k, s=1, p=0, d=1):
    return length_formula(n, k, s, p, d)


def conv_flipped(x, weight, bias, stride=1, padding=0):
    return conv_loops(x, weight[:, :, ::-1, ::-1], bias, stride, padding)


def conv_no_bias(x, weight, bias, stride=1, padding=0):
    return conv_loops(x, weight, np.zeros_like(bias), stride, padding)


def conv_no_stride(x, weight, bias, stride=1, padding=0):
    return conv_loops(x, weight, bias, 1, padding)


def conv_no_padding(x, weight, bias, stride=1, padding=0):
    return conv_loops(x, weight, bias, stride, 0)


def conv_one_window_short(x, weight, bias, stride=1, padding=0):
    return conv_loops(x, weight, bias, stride, padding)[:, :, :-1, :-1]


def conv_one_side_padding(x, weight, bias, stride=1, padding=0):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, 0), (padding, 0)))
    return conv_loops(xp, weight, bias, stride, 0)


def conv_bias_per_channel(x, weight, bias, stride=1, padding=0):
    return conv_loops(x, weight, bias * weight.shape[1], stride, padding)


def conv_ceil_windows(x, weight, bias, stride=1, padding=0):
    # one window too many where the stride does not divide evenly: it sticks out, padded
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding + stride), (padding, padding + stride)))
    kh, kw = weight.shape[2:]
    ho = -(-(x.shape[2] + 2 * padding - kh) // stride) + 1
    wo = -(-(x.shape[3] + 2 * padding - kw) // stride) + 1
    return conv_loops(xp, weight, bias, stride, 0)[:, :, :ho, :wo]


def conv_per_input_channel(x, weight, bias, stride=1, padding=0):
    # each input channel through its own kernel, never summed over the channels
    out = conv_windows(x[:, :1], weight[:, :1], bias, stride, padding)
    return np.repeat(out[:, :1], x.shape[1], axis=1)


def conv_first_channel_only(x, weight, bias, stride=1, padding=0):
    return conv_loops(x[:, :1], weight[:, :1], bias, stride, padding)


def matrix_flipped(weight, input_length, stride=1, padding=0):
    return matrix_loops(weight[::-1], input_length, stride, padding)


def matrix_padded_columns(weight, input_length, stride=1, padding=0):
    k, padded = len(weight), input_length + 2 * padding
    return sum(w * np.eye(padded - k + 1, padded, k=j) for j, w in enumerate(weight))[::stride]


def matrix_no_stride(weight, input_length, stride=1, padding=0):
    return matrix_loops(weight, input_length, 1, padding)


def matrix_centred(weight, input_length, stride=1, padding=0):
    k = len(weight)
    rows = (input_length + 2 * padding - k) // stride + 1
    m = np.zeros((rows, input_length))
    for r in range(rows):
        for tap in range(k):
            c = r * stride + tap - k // 2
            if 0 <= c < input_length:
                m[r, c] = weight[tap]
    return m


def matrix_transposed(weight, input_length, stride=1, padding=0):
    return matrix_loops(weight, input_length, stride, padding).T


def matrix_valid_rows(weight, input_length, stride=1, padding=0):
    k = len(weight)
    rows = (input_length - k) // stride + 1
    return matrix_loops(weight, input_length, stride, padding)[:rows]


def matrix_one_row_short(weight, input_length, stride=1, padding=0):
    return matrix_loops(weight, input_length, stride, padding)[:-1]


def field_chen(kernel_sizes, strides=None, dilations=None):
    dilations = dilations or [1] * len(kernel_sizes)
    return 1 + sum(d * (k - 1) for k, d in zip(kernel_sizes, dilations))


def field_own_stride(kernel_sizes, strides=None, dilations=None):
    strides = strides or [1] * len(kernel_sizes)
    dilations = dilations or [1] * len(kernel_sizes)
    field, jump = 1, 1
    for k, s, d in zip(kernel_sizes, strides, dilations):
        jump *= s
        field += (k - 1) * d * jump
    return field


def field_bottom_up_recursion(kernel_sizes, strides=None, dilations=None):
    strides = strides or [1] * len(kernel_sizes)
    dilations = dilations or [1] * len(kernel_sizes)
    r = 1
    for k, s, d in zip(kernel_sizes, strides, dilations):   # the top-down rule, run upwards
        r = s * (r - 1) + d * (k - 1) + 1
    return r


def field_whole_kernels(kernel_sizes, strides=None, dilations=None):
    return field_jump([k + 1 for k in kernel_sizes], strides, dilations)


def field_no_dilation(kernel_sizes, strides=None, dilations=None):
    return field_jump(kernel_sizes, strides)


def field_first_layer(kernel_sizes, strides=None, dilations=None):
    strides = strides or [1] * len(kernel_sizes)
    field, jump = kernel_sizes[0], strides[0]                 # fails on an empty stack
    for k, s in zip(kernel_sizes[1:], strides[1:]):
        field += (k - 1) * jump
        jump *= s
    return field


def field_product(kernel_sizes, strides=None, dilations=None):
    return int(np.prod(kernel_sizes))


def field_no_plus_one(kernel_sizes, strides=None, dilations=None):
    return field_jump(kernel_sizes, strides, dilations) - 1


def dweight_rotated(x, dout, kernel_size, stride=1, padding=0):
    return dweight_loops(x, dout, kernel_size, stride, padding)[:, :, ::-1, ::-1]


def dweight_mean(x, dout, kernel_size, stride=1, padding=0):
    return dweight_loops(x, dout, kernel_size, stride, padding) / x.shape[0]


def dweight_first_image(x, dout, kernel_size, stride=1, padding=0):
    return dweight_loops(x[:1], dout[:1], kernel_size, stride, padding)


def dweight_swapped_axes(x, dout, kernel_size, stride=1, padding=0):
    return dweight_loops(x, dout, kernel_size, stride, padding).transpose(1, 0, 2, 3)


def dweight_no_stride(x, dout, kernel_size, stride=1, padding=0):
    kh, kw = kernel_size
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho, wo = dout.shape[2:]
    dw = np.zeros((dout.shape[1], x.shape[1], kh, kw))
    for i in range(kh):
        for j in range(kw):
            dw[:, :, i, j] = np.einsum("nohw,nchw->oc", dout, xp[:, :, i:i + ho, j:j + wo])
    return dw


def dweight_no_padding(x, dout, kernel_size, stride=1, padding=0):
    return dweight_loops(x, dout, kernel_size, stride, 0)


def dweight_channels_summed(x, dout, kernel_size, stride=1, padding=0):
    return dweight_loops(x, dout, kernel_size, stride, padding).sum(axis=1)


def dweight_valid_correlation(x, dout, kernel_size, stride=1, padding=0):
    # the stride-1 rule without padding: the kernel size comes out as H - H' + 1
    ho, wo = dout.shape[2:]
    win = sliding_window_view(x, (ho, wo), axis=(2, 3))
    return np.einsum("ncijhw,nohw->ocij", win, dout)


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch05.output_length", length_no_plus_one, "mistake", "How many window positions"),
    ("ch05.output_length", length_true_division, "mistake", "rounded up or down"),
    ("ch05.output_length", length_padding_once, "mistake", "counted once"),
    ("ch05.output_length", length_no_padding, "mistake", "padding is missing"),
    ("ch05.output_length", length_no_dilation, "mistake", "dilation is ignored"),
    ("ch05.output_length", length_ceil, "mistake", "rounds up"),
    ("ch05.output_length", length_one_inside, "mistake", "inside the division"),
    ("ch05.output_length", length_padding_default_one, "mistake", "which padding"),
    ("ch05.output_length", length_dilation_default_zero, "mistake", "which dilation"),
    ("ch05.output_length", length_stride_default_zero, "mistake", "division by zero"),
    ("ch05.output_length", length_no_defaults, "exception", "defaults"),
    ("ch05.output_length", length_other_names, "exception", "under those names"),
    ("ch05.conv2d", conv_flipped, "mistake", "flipped"),
    ("ch05.conv2d", conv_no_bias, "mistake", "bias is missing"),
    ("ch05.conv2d", conv_no_stride, "mistake", "stride is ignored"),
    ("ch05.conv2d", conv_no_padding, "mistake", "padding is ignored"),
    ("ch05.conv2d", conv_one_window_short, "mistake", "off-by-one"),
    ("ch05.conv2d", conv_one_side_padding, "mistake", "both sides"),
    ("ch05.conv2d", conv_bias_per_channel, "mistake", "once per input channel"),
    ("ch05.conv2d", conv_ceil_windows, "mistake", "too many"),
    ("ch05.conv2d", conv_per_input_channel, "mistake", "*input* channel"),
    ("ch05.conv2d", conv_first_channel_only, "values", "is every input channel summed"),
    ("ch05.conv1d_matrix", matrix_flipped, "mistake", "true convolution"),
    ("ch05.conv1d_matrix", matrix_padded_columns, "mistake", "*padded* signal"),
    ("ch05.conv1d_matrix", matrix_no_stride, "mistake", "at stride 1"),
    ("ch05.conv1d_matrix", matrix_centred, "mistake", "centred"),
    ("ch05.conv1d_matrix", matrix_transposed, "mistake", "reversed"),
    ("ch05.conv1d_matrix", matrix_valid_rows, "mistake", "'valid'"),
    ("ch05.conv1d_matrix", matrix_one_row_short, "mistake", "One row too few"),
    ("ch05.receptive_field", field_chen, "mistake", "Chen's eq. 17"),
    ("ch05.receptive_field", field_own_stride, "mistake", "*own* stride"),
    ("ch05.receptive_field", field_bottom_up_recursion, "mistake", "*above*"),
    ("ch05.receptive_field", field_whole_kernels, "mistake", "whole kernel size"),
    ("ch05.receptive_field", field_no_dilation, "mistake", "dilation is ignored"),
    ("ch05.receptive_field", field_first_layer, "exception", "no layers at all"),
    ("ch05.receptive_field", field_product, "values", "by hand"),
    ("ch05.receptive_field", field_no_plus_one, "values", "one too few"),
    ("ch05.conv2d_weight_grad", dweight_rotated, "mistake", "180 degrees"),
    ("ch05.conv2d_weight_grad", dweight_mean, "mistake", "averages over the batch"),
    ("ch05.conv2d_weight_grad", dweight_first_image, "mistake", "first image"),
    ("ch05.conv2d_weight_grad", dweight_swapped_axes, "mistake", "swapped"),
    ("ch05.conv2d_weight_grad", dweight_no_stride, "mistake", "stride is ignored"),
    ("ch05.conv2d_weight_grad", dweight_no_padding, "exception", "Pad x first"),
    ("ch05.conv2d_weight_grad", dweight_channels_summed, "mistake", "summed away"),
    ("ch05.conv2d_weight_grad", dweight_valid_correlation, "mistake", "wrong size"),
]


# -- the references agree with PyTorch, the loops and finite differences ----------------
def test_references_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    ours = conv2d(x, w, b, stride=2, padding=1)
    theirs = F.conv2d(*map(torch.from_numpy, (x, w, b)), stride=2, padding=1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    for n, k, s, p, d in [(28, 5, 2, 2, 1), (13, 3, 3, 1, 2), (7, 2, 1, 0, 3)]:
        size = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p,
                        dilation=d).shape[-1]
        assert output_length(n, k, s, p, d) == size
    # the weight gradient of a strided, padded layer, by autograd
    xt, wt = torch.tensor(x), torch.tensor(w, requires_grad=True)
    out = F.conv2d(xt, wt, stride=2, padding=1)
    dout = rng.standard_normal(tuple(out.shape))
    out.backward(torch.tensor(dout))
    np.testing.assert_allclose(conv2d_weight_grad(x, dout, (3, 2), stride=2, padding=1),
                               wt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k, length, stride, padding", [(3, 5, 1, 1), (4, 9, 2, 0), (2, 7, 3, 2),
                                                        (5, 3, 1, 2)])
def test_conv1d_matrix_times_x_is_the_convolution(k, length, stride, padding):
    rng = np.random.default_rng(6)
    weight, x = rng.standard_normal(k), rng.standard_normal(length)
    out, _ = conv1d_forward(x[None, None], weight[None, None], stride=stride, padding=padding)
    np.testing.assert_allclose(conv1d_matrix(weight, length, stride, padding) @ x, out[0, 0],
                               atol=1e-12)


def test_duans_banded_matrix():
    w = np.array([0.5, -1.0, 2.0])
    banded = w[0] * np.eye(5, k=-1) + w[1] * np.eye(5) + w[2] * np.eye(5, k=1)
    np.testing.assert_array_equal(conv1d_matrix(w, 5, padding=1), banded)


def test_receptive_field_counts_the_inputs_that_reach_a_unit():
    # the gradient of one output of a stack reaches exactly the receptive field's inputs
    torch = pytest.importorskip("torch")
    for kernels, strides, dilations in [([3, 3], [2, 1], [1, 1]), ([5, 2, 5, 2], [1, 2, 1, 2], [1] * 4),
                                        ([3, 3, 3], [1, 2, 1], [1, 1, 2]), ([2] * 4, [1] * 4, [1, 2, 4, 8])]:
        x = torch.ones(1, 1, 200, requires_grad=True)
        h = x
        for k, s, d in zip(kernels, strides, dilations):
            h = torch.nn.functional.conv1d(h, torch.ones(1, 1, k, dtype=h.dtype), stride=s, dilation=d)
        h[0, 0, h.shape[-1] // 2].backward()
        assert int((x.grad != 0).sum()) == receptive_field(kernels, strides, dilations)


def test_conv2d_weight_grad_matches_finite_differences():
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 2))
    dout = rng.standard_normal(conv2d(x, w, np.zeros(3), stride=2, padding=1).shape)
    numeric = numerical_gradient(lambda weight: conv2d(x, weight, np.zeros(3), 2, 1), [w], dout)
    np.testing.assert_allclose(conv2d_weight_grad(x, dout, (3, 2), 2, 1), numeric, atol=1e-7)


def test_verdicts_never_show_expected_values():
    ex = get("ch05.conv2d_weight_grad")
    expected = ex.reference(*ex.cases[0].args)   # Chidiac's numbers: [[0.5, 6.5], [2.5, 13]]
    for wrong in (dweight_rotated, dweight_swapped_axes, dweight_no_stride):
        text = evaluate(ex.name, wrong).text()
        assert "6.5" not in text and "13" not in text and str(expected) not in text
