"""Chapter 5's exercises: right answers (written several ways) pass, each common mistake
gets its own diagnosis, and the references agree with PyTorch and with the loops."""
from __future__ import annotations


import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from cnnbook.exercises import evaluate, get
from cnnbook.exercises.ch05 import (conv2d, conv2d_backward_weight, conv_output_size,
                                    correlate2d_valid, im2col)
from cnnbook.gradcheck import numerical_gradient


# -- right answers, written as a reader might -------------------------------------------
def correlate_loops(a, k):
    kh, kw = k.shape
    out = np.zeros((a.shape[0] - kh + 1, a.shape[1] - kw + 1))
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            out[y, x] = np.sum(a[y:y + kh, x:x + kw] * k)
    return out


def correlate_windows(a, k):
    return np.einsum("yxij,ij->yx", sliding_window_view(a, k.shape), k)


def correlate_by_offsets(a, k):
    kh, kw = k.shape
    ho, wo = a.shape[0] - kh + 1, a.shape[1] - kw + 1
    return sum(k[i, j] * a[i:i + ho, j:j + wo] for i in range(kh) for j in range(kw))


def size_formula(input_size, kernel_size, stride=1, padding=0, dilation=1):
    return (input_size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def size_by_counting(n, k, s=1, p=0, d=1):
    extent = d * (k - 1) + 1
    return len(range(0, n + 2 * p - extent + 1, s))


def conv2d_loops(x, weight, bias, stride=1, padding=0):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n, o = x.shape[0], weight.shape[0]
    kh, kw = weight.shape[2:]
    ho = (xp.shape[2] - kh) // stride + 1
    wo = (xp.shape[3] - kw) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for r in range(ho):
        for q in range(wo):
            window = xp[:, :, r * stride:r * stride + kh, q * stride:q * stride + kw]  # (N, C, kh, kw)
            out[:, :, r, q] = np.tensordot(window, weight, axes=([1, 2, 3], [1, 2, 3])) + bias
    return out


def conv2d_windows(x, weight, bias, stride=1, padding=0):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, weight.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,ocij->nohw", win, weight) + bias[None, :, None, None]


def dweight_loops(x, dout):
    n, c, h, w = x.shape
    o, ho, wo = dout.shape[1:]
    kh, kw = h - ho + 1, w - wo + 1
    dw = np.zeros((o, c, kh, kw))
    for i in range(kh):
        for j in range(kw):
            dw[:, :, i, j] = np.einsum("nohw,nchw->oc", dout, x[:, :, i:i + ho, j:j + wo])
    return dw


def dweight_windows(x, dout):
    ho, wo = dout.shape[2:]
    win = sliding_window_view(x, (ho, wo), axis=(2, 3))  # (N, C, kh, kw, H', W')
    return np.einsum("ncijhw,nohw->ocij", win, dout)


def im2col_loops(x, kh, kw):
    c, h, w = x.shape
    cols = [x[:, r:r + kh, q:q + kw].ravel() for r in range(h - kh + 1) for q in range(w - kw + 1)]
    return np.stack(cols, axis=1)


def im2col_windows(x, kh, kw):
    win = sliding_window_view(x, (kh, kw), axis=(1, 2))  # (C, H', W', kh, kw)
    return win.transpose(0, 3, 4, 1, 2).reshape(x.shape[0] * kh * kw, -1)


RIGHT = [
    ("ch05.correlate2d_valid", correlate_loops),
    ("ch05.correlate2d_valid", correlate_windows),
    ("ch05.correlate2d_valid", correlate_by_offsets),
    ("ch05.conv_output_size", size_formula),
    ("ch05.conv_output_size", size_by_counting),
    ("ch05.conv2d", conv2d_loops),
    ("ch05.conv2d", conv2d_windows),
    ("ch05.conv2d_backward_weight", dweight_loops),
    ("ch05.conv2d_backward_weight", dweight_windows),
    ("ch05.im2col", im2col_loops),
    ("ch05.im2col", im2col_windows),
]


@pytest.mark.parametrize("name, fn", RIGHT, ids=[f"{n}-{f.__name__}" for n, f in RIGHT])
def test_right_answers_pass(name, fn):
    verdict = evaluate(name, fn)
    assert verdict.passed, verdict.text()


# -- wrong answers and their diagnoses ---------------------------------------------------
def correlate_flipped(a, k):
    return correlate_loops(a, k[::-1, ::-1])


def correlate_rows_flipped(a, k):
    return correlate_loops(a, k[::-1])


def correlate_off_by_one(a, k):
    kh, kw = k.shape
    out = np.zeros((a.shape[0] - kh, a.shape[1] - kw))
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            out[y, x] = np.sum(a[y:y + kh, x:x + kw] * k)
    return out


def correlate_full(a, k):
    kh, kw = k.shape
    return correlate_loops(np.pad(a, ((kh - 1, kh - 1), (kw - 1, kw - 1))), k)


def correlate_same(a, k):
    kh, kw = k.shape
    padded = np.pad(a, (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)))
    return correlate_loops(padded, k)


def size_no_plus_one(n, k, s=1, p=0, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s


def size_true_division(n, k, s=1, p=0, d=1):
    return (n + 2 * p - d * (k - 1) - 1) / s + 1


def size_padding_once(n, k, s=1, p=0, d=1):
    return (n + p - d * (k - 1) - 1) // s + 1


def size_no_dilation(n, k, s=1, p=0, d=1):
    return (n + 2 * p - k) // s + 1


def size_ceil(n, k, s=1, p=0, d=1):
    return int(np.ceil((n + 2 * p - d * (k - 1) - 1) / s)) + 1


def size_no_padding(n, k, s=1, p=0, d=1):
    return (n - d * (k - 1) - 1) // s + 1


def conv_flipped(x, weight, bias, stride=1, padding=0):
    return conv2d_loops(x, weight[:, :, ::-1, ::-1], bias, stride, padding)


def conv_no_bias(x, weight, bias, stride=1, padding=0):
    return conv2d_loops(x, weight, np.zeros_like(bias), stride, padding)


def conv_no_stride(x, weight, bias, stride=1, padding=0):
    return conv2d_loops(x, weight, bias, 1, padding)


def conv_no_padding(x, weight, bias, stride=1, padding=0):
    return conv2d_loops(x, weight, bias, stride, 0)


def conv_one_window_short(x, weight, bias, stride=1, padding=0):
    return conv2d_loops(x, weight, bias, stride, padding)[:, :, :-1, :-1]


def conv_one_side_padding(x, weight, bias, stride=1, padding=0):
    xp = np.pad(x, ((0, 0), (0, 0), (padding, 0), (padding, 0)))
    return conv2d_loops(xp, weight, bias, stride, 0)


def dweight_rotated(x, dout):
    return dweight_loops(x, dout)[:, :, ::-1, ::-1]


def dweight_mean(x, dout):
    return dweight_loops(x, dout) / x.shape[0]


def dweight_first_image(x, dout):
    return dweight_loops(x[:1], dout[:1])


def dweight_swapped_axes(x, dout):
    return dweight_loops(x, dout).transpose(1, 0, 2, 3)


def im2col_transposed(x, kh, kw):
    return im2col_loops(x, kh, kw).T


def im2col_channel_last(x, kh, kw):
    c, h, w = x.shape
    cols = [x[:, r:r + kh, q:q + kw].transpose(1, 2, 0).ravel()
            for r in range(h - kh + 1) for q in range(w - kw + 1)]
    return np.stack(cols, axis=1)


def im2col_window_by_columns(x, kh, kw):
    c, h, w = x.shape
    cols = [x[:, r:r + kh, q:q + kw].transpose(0, 2, 1).ravel()
            for r in range(h - kh + 1) for q in range(w - kw + 1)]
    return np.stack(cols, axis=1)


def im2col_down_first(x, kh, kw):
    c, h, w = x.shape
    cols = [x[:, r:r + kh, q:q + kw].ravel() for q in range(w - kw + 1) for r in range(h - kh + 1)]
    return np.stack(cols, axis=1)


def im2col_unflattened(x, kh, kw):
    return im2col_loops(x, kh, kw).reshape(x.shape[0], kh * kw, -1)


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch05.correlate2d_valid", correlate_flipped, "mistake", "true convolution"),
    ("ch05.correlate2d_valid", correlate_rows_flipped, "mistake", "upside down"),
    ("ch05.correlate2d_valid", correlate_off_by_one, "mistake", "off-by-one"),
    ("ch05.correlate2d_valid", correlate_full, "mistake", "*full*"),
    ("ch05.correlate2d_valid", correlate_same, "mistake", "'same'"),
    ("ch05.conv_output_size", size_no_plus_one, "mistake", "add 1"),
    ("ch05.conv_output_size", size_true_division, "mistake", "use `//`"),
    ("ch05.conv_output_size", size_padding_once, "mistake", "*both* sides"),
    ("ch05.conv_output_size", size_no_dilation, "mistake", "dilation is ignored"),
    ("ch05.conv_output_size", size_ceil, "mistake", "rounds up"),
    ("ch05.conv_output_size", size_no_padding, "mistake", "padding is missing"),
    ("ch05.conv2d", conv_flipped, "mistake", "flipped"),
    ("ch05.conv2d", conv_no_bias, "mistake", "bias is missing"),
    ("ch05.conv2d", conv_no_stride, "mistake", "stride is ignored"),
    ("ch05.conv2d", conv_no_padding, "mistake", "padding is ignored"),
    ("ch05.conv2d", conv_one_window_short, "mistake", "off-by-one"),
    ("ch05.conv2d", conv_one_side_padding, "mistake", "one side only"),
    ("ch05.conv2d_backward_weight", dweight_rotated, "mistake", "180 degrees"),
    ("ch05.conv2d_backward_weight", dweight_mean, "mistake", "averages"),
    ("ch05.conv2d_backward_weight", dweight_first_image, "mistake", "first image"),
    ("ch05.conv2d_backward_weight", dweight_swapped_axes, "mistake", "swapped"),
    ("ch05.im2col", im2col_transposed, "shape", "transpose"),
    ("ch05.im2col", im2col_channel_last, "mistake", "(i, j, c)"),
    ("ch05.im2col", im2col_window_by_columns, "mistake", "column by column"),
    ("ch05.im2col", im2col_down_first, "mistake", "down the image"),
    ("ch05.im2col", im2col_unflattened, "mistake", "not yet flattened"),
]


@pytest.mark.parametrize("name, fn, category, words", WRONG,
                         ids=[f"{n}-{f.__name__}" for n, f, _, _ in WRONG])
def test_wrong_answers_are_diagnosed(name, fn, category, words):
    verdict = evaluate(name, fn)
    assert verdict.category == category, verdict.text()
    assert words in verdict.text(), verdict.text()


# -- the references agree with the loops, PyTorch and finite differences ----------------
def test_references_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    ours = conv2d(x, w, b, stride=2, padding=1)
    theirs = F.conv2d(*map(torch.from_numpy, (x, w, b)), stride=2, padding=1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    a, k = rng.standard_normal((6, 7)), rng.standard_normal((3, 2))
    theirs = F.conv2d(torch.from_numpy(a[None, None]), torch.from_numpy(k[None, None])).numpy()[0, 0]
    np.testing.assert_allclose(correlate2d_valid(a, k), theirs, rtol=1e-10, atol=1e-12)
    cols = F.unfold(torch.from_numpy(x[:1]), (3, 2)).numpy()[0]
    np.testing.assert_allclose(im2col(x[0], 3, 2), cols, rtol=0, atol=0)
    for n, k, s, p, d in [(28, 5, 2, 2, 1), (13, 3, 3, 1, 2), (7, 2, 1, 0, 3)]:
        size = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s, padding=p,
                        dilation=d).shape[-1]
        assert conv_output_size(n, k, s, p, d) == size


def test_conv2d_backward_weight_matches_finite_differences():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 3, 2))
    dout = rng.standard_normal((2, 3, 3, 3))
    numeric = numerical_gradient(lambda weight: conv2d(x, weight, np.zeros(3)), [w], dout)
    np.testing.assert_allclose(conv2d_backward_weight(x, dout), numeric, atol=1e-7)


def test_im2col_times_weight_is_the_correlation():
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((3, 6, 5)), rng.standard_normal((4, 3, 2, 3))
    out = (w.reshape(4, -1) @ im2col(x, 2, 3)).reshape(4, 5, 3)  # (O, H', W')
    np.testing.assert_allclose(out, conv2d(x[None], w, np.zeros(4))[0], atol=1e-12)


def test_verdicts_never_show_expected_values():
    ex = get("ch05.correlate2d_valid")
    expected = ex.reference(*ex.cases[0].args)  # 003's worked example: [[8, 7], [4, 5]]
    for wrong in (correlate_flipped, correlate_off_by_one, correlate_rows_flipped):
        text = evaluate(ex.name, wrong).text()
        assert str(expected) not in text and "8, 7" not in text and "[[8" not in text
