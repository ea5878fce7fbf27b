"""Convolution kernels: finite differences, PyTorch, naive == fast, fan-out, float32,
Modules against torch.nn, and error messages. Sizes stay tiny so gradchecks are quick."""
import contextlib
import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnnbook.conv import (Conv1d, Conv2d, conv1d_backward, conv1d_forward, conv2d_backward,
                          conv2d_backward_naive, conv2d_forward, conv2d_forward_naive,
                          conv_output_size, convolve2d, correlate2d)
from cnnbook.conv_transpose import (ConvTranspose2d, conv_transpose2d_backward,
                                    conv_transpose2d_forward)
from cnnbook import col2im, im2col
from helpers import check_fan_out, check_op

SETTINGS = settings(max_examples=20, deadline=None)
# torch notes that padding="same" with an even kernel copies the input: not our concern
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _randn(rng, *shape):
    return rng.standard_normal(shape)


# the module, not the function of the same name that cnnbook/__init__.py exports
im2col_module = importlib.import_module("cnnbook._im2col")


@contextlib.contextmanager
def block_bytes(nbytes):
    """Shrink ``cnnbook._im2col.BLOCK_BYTES`` so that every image is its own block."""
    old = im2col_module.BLOCK_BYTES
    im2col_module.BLOCK_BYTES = nbytes
    assert im2col_module.block_size(10, 100) == min(10, max(1, nbytes // 100))
    try:
        yield
    finally:
        im2col_module.BLOCK_BYTES = old


@st.composite
def conv2d_cases(draw):
    """A random small conv2d: (x, weight, bias or None, kwargs, torch kwargs)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 3)))  # stride may exceed kernel
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    eh, ew = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
    kind = draw(st.sampled_from(["int", "pair", "valid", "full"] + (["same"] if stride == (1, 1) else [])))
    pad = {"int": (p := draw(st.integers(0, 2)), p), "pair": (draw(st.integers(0, 2)), draw(st.integers(0, 2))),
           "valid": (0, 0), "full": (eh, ew), "same": (0, 0)}[kind]
    h = draw(st.integers(max(1, eh + 1 - 2 * pad[0]), eh + 5))  # odd and even, never too small
    w = draw(st.integers(max(1, ew + 1 - 2 * pad[1]), ew + 5))
    padding = {"int": pad[0], "pair": pad, "valid": "valid", "full": "full", "same": "same"}[kind]
    x, weight = _randn(rng, n, c, h, w), _randn(rng, o, c, kh, kw)
    bias = _randn(rng, o) if draw(st.booleans()) else None
    kwargs = dict(stride=stride, padding=padding, dilation=dilation)
    torch_kwargs = dict(kwargs, padding=pad if kind == "full" else padding)
    return x, weight, bias, kwargs, torch_kwargs


@SETTINGS
@given(conv2d_cases())
def test_conv2d_gradcheck_and_torch(case):
    x, weight, bias, kwargs, torch_kwargs = case
    check_op(conv2d_forward, conv2d_backward, F.conv2d, [x, weight, bias],
             kwargs=kwargs, torch_kwargs=torch_kwargs)


@SETTINGS
@given(conv2d_cases())
def test_conv2d_naive_equals_fast(case):
    x, weight, bias, kwargs, _ = case
    out, cache = conv2d_forward(x, weight, bias, **kwargs)
    out_naive, cache_naive = conv2d_forward_naive(x, weight, bias, **kwargs)
    np.testing.assert_allclose(out_naive, out, rtol=1e-10, atol=1e-12)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    for fast, naive in zip(conv2d_backward(dout, cache), conv2d_backward_naive(dout, cache_naive)):
        if fast is None:
            assert naive is None
        else:
            np.testing.assert_allclose(naive, fast, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(conv2d_cases())
def test_conv2d_blocked_equals_one_block(case):
    """Big batches are processed in blocks of images; blocks of one image give the same."""
    x, weight, bias, kwargs, _ = case
    x = np.concatenate([x, x[::-1] * 0.5, x + 1])  # 3 to 6 images
    out, cache = conv2d_forward(x, weight, bias, **kwargs)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    grads = conv2d_backward(dout, cache)
    with block_bytes(1):  # one image per block
        out_b, cache_b = conv2d_forward(x, weight, bias, **kwargs)
        grads_b = conv2d_backward(dout, cache_b)
    np.testing.assert_allclose(out_b, out, rtol=1e-12, atol=1e-12)
    for g, g_b in zip(grads, grads_b):
        if g is not None:
            np.testing.assert_allclose(g_b, g, rtol=1e-12, atol=1e-12)


def test_conv1d_padding_on_either_side_matches_torch():
    """padding=1 and causal=True pad 2 zeros in all, on both sides or on the left: the flat
    rows of the kernel (one long row per channel) must put them where they belong."""
    rng = np.random.default_rng(4)
    x, weight = _randn(rng, 3, 2, 9), _randn(rng, 4, 2, 3)
    for kwargs in ({"padding": 1}, {"causal": True}, {"padding": 1}):
        out, cache = conv1d_forward(x, weight, **kwargs)
        xt = torch.from_numpy(x)
        pad = (2, 0) if kwargs.get("causal") else (1, 1)
        expected = F.conv1d(F.pad(xt, pad), torch.from_numpy(weight)).numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
        dout = _randn(rng, *out.shape)
        dx, dweight, _ = conv1d_backward(dout, cache)
        xg, wg = xt.clone().requires_grad_(), torch.from_numpy(weight).requires_grad_()
        F.conv1d(F.pad(xg, pad), wg).backward(torch.from_numpy(dout))
        np.testing.assert_allclose(dx, xg.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dweight, wg.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv_backward_without_input_grad():
    """input_grad=False: dx is None, dweight and dbias are the same numbers."""
    rng = np.random.default_rng(5)
    x, weight, bias = _randn(rng, 3, 2, 6, 5), _randn(rng, 4, 2, 3, 3), _randn(rng, 4)
    out, cache = conv2d_forward(x, weight, bias, padding=1)
    dout = _randn(rng, *out.shape)
    dx, dweight, dbias = conv2d_backward(dout, cache)
    none, dweight2, dbias2 = conv2d_backward(dout, cache, input_grad=False)
    assert dx is not None and none is None
    np.testing.assert_array_equal(dweight2, dweight)
    np.testing.assert_array_equal(dbias2, dbias)
    out1, cache1 = conv1d_forward(x[:, :, 0], weight[:, :, 0], bias)
    assert conv1d_backward(out1, cache1, input_grad=False)[0] is None
    with pytest.raises(TypeError, match="input_grad"):
        conv2d_backward(dout, cache, input_grad="no")


def test_conv2d_fan_out():
    rng = np.random.default_rng(3)
    x, weight, bias = _randn(rng, 2, 2, 5, 4), _randn(rng, 3, 2, 2, 3), _randn(rng, 3)
    check_fan_out(conv2d_forward, conv2d_backward, x,
                  kwargs=dict(weight=weight, bias=bias, stride=(2, 1), padding=1))


@pytest.mark.parametrize("padding", [0, 1, "same", "full"])
def test_conv2d_float32_follows_float64(padding):
    rng = np.random.default_rng(4)
    x, weight, bias = _randn(rng, 3, 3, 9, 8), _randn(rng, 4, 3, 3, 2), _randn(rng, 4)
    out64, cache64 = conv2d_forward(x, weight, bias, padding=padding)
    out32, cache32 = conv2d_forward(*(a.astype(np.float32) for a in (x, weight, bias)), padding=padding)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)
    dout = rng.standard_normal(out64.shape)
    for g32, g64 in zip(conv2d_backward(dout.astype(np.float32), cache32), conv2d_backward(dout, cache64)):
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)


def test_conv_output_size_formula():
    assert conv_output_size(28, 5) == 24
    assert conv_output_size(28, 5, padding=2) == 28
    assert conv_output_size(7, 3, stride=2) == 3
    assert conv_output_size(32, 3, stride=1, padding=2, dilation=2) == 32
    assert conv_output_size(4, 3, stride=5) == 1
    for n, k, s, p, d in [(9, 2, 3, 1, 2), (5, 5, 1, 0, 1), (12, 3, 2, 2, 3)]:
        out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
        assert out.shape[-1] == conv_output_size(n, k, s, p, d)
    with pytest.raises(ValueError, match="kernel extent 5"):
        conv_output_size(3, 3, dilation=2)


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
                                    dict(stride=3, padding=2)])
def test_im2col_col2im_match_torch_unfold_fold(kwargs):
    rng = np.random.default_rng(5)
    x = _randn(rng, 2, 3, 7, 6)
    cols = im2col(x, (3, 2), **kwargs)
    np.testing.assert_array_equal(cols, F.unfold(torch.tensor(x), (3, 2), **kwargs).numpy())
    c = rng.standard_normal(cols.shape)
    folded = col2im(c, (7, 6), (3, 2), **kwargs)
    np.testing.assert_allclose(folded, F.fold(torch.tensor(c), (7, 6), (3, 2), **kwargs).numpy(),
                               rtol=1e-12, atol=1e-12)
    # col2im is the transpose of im2col: <im2col(x), c> == <x, col2im(c)>
    assert np.isclose(np.sum(cols * c), np.sum(x * folded))


# -- 1-D ---------------------------------------------------------------------------------
@st.composite
def conv1d_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c, o, k = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
                  draw(st.integers(1, 4)))
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    extent = dilation * (k - 1)
    causal = draw(st.booleans())
    kind = "causal" if causal else draw(st.sampled_from(["int", "valid", "full"] + (["same"] if stride == 1 else [])))
    pad = {"int": draw(st.integers(0, 2)), "valid": 0, "full": extent, "same": 0, "causal": 0}[kind]
    length = draw(st.integers(max(1, extent + 1 - 2 * pad - (extent if causal else 0)), extent + 6))
    x, weight = _randn(rng, n, c, length), _randn(rng, o, c, k)
    bias = _randn(rng, o) if draw(st.booleans()) else None
    padding = {"int": pad, "valid": "valid", "full": "full", "same": "same", "causal": 0}[kind]
    return x, weight, bias, dict(stride=stride, padding=padding, dilation=dilation, causal=causal), pad


@SETTINGS
@given(conv1d_cases())
def test_conv1d_gradcheck_and_torch(case):
    x, weight, bias, kwargs, pad = case
    causal = kwargs["causal"]
    extent = kwargs["dilation"] * (weight.shape[2] - 1)

    def torch_conv1d(x, weight, bias, *, stride, padding, dilation, causal):
        if causal:  # WaveNet: pad the past only
            return F.conv1d(F.pad(x, (extent, 0)), weight, bias, stride=stride, dilation=dilation)
        return F.conv1d(x, weight, bias, stride=stride, dilation=dilation,
                        padding=pad if padding == "full" else padding)

    check_op(conv1d_forward, conv1d_backward, torch_conv1d, [x, weight, bias], kwargs=kwargs)


def test_conv1d_causal_output_ignores_the_future():
    rng = np.random.default_rng(6)
    x, weight = _randn(rng, 1, 2, 12), _randn(rng, 3, 2, 3)
    out, _ = conv1d_forward(x, weight, causal=True, dilation=2)
    assert out.shape == (1, 3, 12)
    x_future = x.copy()
    x_future[..., 7:] = 100.0
    out_future, _ = conv1d_forward(x_future, weight, causal=True, dilation=2)
    np.testing.assert_array_equal(out_future[..., :7], out[..., :7])
    assert not np.allclose(out_future[..., 7], out[..., 7])


# -- transposed ---------------------------------------------------------------------------
@st.composite
def conv_transpose2d_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    padding = []
    for n_in, k, s, d, op in zip((h, w), (kh, kw), stride, dilation, output_padding):
        full = (n_in - 1) * s + d * (k - 1) + op + 1  # output size with no padding
        padding.append(draw(st.integers(0, (full - 1) // 2)))
    x, weight = _randn(rng, n, c_in, h, w), _randn(rng, c_in, c_out, kh, kw)
    bias = _randn(rng, c_out) if draw(st.booleans()) else None
    return x, weight, bias, dict(stride=stride, padding=tuple(padding),
                                 output_padding=output_padding, dilation=dilation)


@SETTINGS
@given(conv_transpose2d_cases())
def test_conv_transpose2d_gradcheck_and_torch(case):
    x, weight, bias, kwargs = case
    check_op(conv_transpose2d_forward, conv_transpose2d_backward, F.conv_transpose2d,
             [x, weight, bias], kwargs=kwargs)


def test_conv_transpose2d_blocked_equals_one_block():
    rng = np.random.default_rng(13)
    x, weight, bias = _randn(rng, 5, 3, 4, 3), _randn(rng, 3, 2, 3, 2), _randn(rng, 2)
    kwargs = dict(stride=2, padding=1, output_padding=1)
    out, cache = conv_transpose2d_forward(x, weight, bias, **kwargs)
    dout = rng.standard_normal(out.shape)
    grads = conv_transpose2d_backward(dout, cache)
    with block_bytes(1):
        out_b, cache_b = conv_transpose2d_forward(x, weight, bias, **kwargs)
        grads_b = conv_transpose2d_backward(dout, cache_b)
    np.testing.assert_allclose(out_b, out, rtol=1e-12, atol=1e-12)
    for g, g_b in zip(grads, grads_b):
        np.testing.assert_allclose(g_b, g, rtol=1e-12, atol=1e-12)


def test_conv_transpose2d_is_the_input_gradient_of_conv2d():
    rng = np.random.default_rng(7)
    x, weight = _randn(rng, 2, 3, 9, 8), _randn(rng, 4, 3, 3, 3)
    out, cache = conv2d_forward(x, weight, stride=2, padding=1)
    dout = rng.standard_normal(out.shape)
    dx, _, _ = conv2d_backward(dout, cache)
    up, _ = conv_transpose2d_forward(dout, weight, stride=2, padding=1, output_padding=(0, 1))
    np.testing.assert_allclose(up, dx, rtol=1e-12, atol=1e-12)


def test_conv_transpose2d_fan_out_and_float32():
    rng = np.random.default_rng(8)
    x, weight = _randn(rng, 2, 2, 3, 4), _randn(rng, 2, 3, 3, 2)
    kwargs = dict(stride=2, padding=1, output_padding=1)
    check_fan_out(conv_transpose2d_forward, conv_transpose2d_backward, x, kwargs=dict(kwargs, weight=weight))
    out64, _ = conv_transpose2d_forward(x, weight, **kwargs)
    out32, _ = conv_transpose2d_forward(x.astype(np.float32), weight.astype(np.float32), **kwargs)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)


# -- single 2-D arrays --------------------------------------------------------------------
def _correlate_full_loop(a, k):
    """Full cross-correlation by its definition, on a zero-padded copy."""
    kh, kw = k.shape
    ap = np.pad(a, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    out = np.zeros((a.shape[0] + kh - 1, a.shape[1] + kw - 1))
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            out[y, x] = np.sum(ap[y:y + kh, x:x + kw] * k)
    return out


@pytest.mark.parametrize("a_shape,k_shape", [((5, 6), (3, 3)), ((6, 5), (2, 4)), ((4, 4), (4, 1)),
                                             ((3, 3), (5, 2))])
def test_correlate2d_and_convolve2d_modes(a_shape, k_shape):
    rng = np.random.default_rng(9)
    a, k = rng.standard_normal(a_shape), rng.standard_normal(k_shape)
    (h, w), (kh, kw) = a_shape, k_shape
    full_corr = _correlate_full_loop(a, k)
    full_conv = _correlate_full_loop(a, k[::-1, ::-1])
    # scipy.signal semantics: correlate2d 'same' starts kh // 2 into 'full', convolve2d
    # 'same' is the centred part of 'full' and starts (kh - 1) // 2 into it
    expected = {
        ("correlate2d", "full"): full_corr,
        ("correlate2d", "same"): full_corr[kh // 2:kh // 2 + h, kw // 2:kw // 2 + w],
        ("correlate2d", "valid"): full_corr[kh - 1:h, kw - 1:w],
        ("convolve2d", "full"): full_conv,
        ("convolve2d", "same"): full_conv[(kh - 1) // 2:(kh - 1) // 2 + h, (kw - 1) // 2:(kw - 1) // 2 + w],
        ("convolve2d", "valid"): full_conv[kh - 1:h, kw - 1:w],
    }
    for (name, mode), want in expected.items():
        fn = correlate2d if name == "correlate2d" else convolve2d
        if mode == "valid" and (kh > h or kw > w):
            with pytest.raises(ValueError, match="kernel must fit"):
                fn(a, k, mode)
            continue
        np.testing.assert_allclose(fn(a, k, mode), want, rtol=1e-12, atol=1e-12, err_msg=f"{name} {mode}")


def test_correlate2d_same_matches_scipy_known_output():
    # scipy.signal.correlate2d(ones(4, 4), ones(4, 4), 'same'), from scipy issue #1968
    expected = np.array([[9, 12, 9, 6], [12, 16, 12, 8], [9, 12, 9, 6], [6, 8, 6, 4]], float)
    np.testing.assert_array_equal(correlate2d(np.ones((4, 4)), np.ones((4, 4)), "same"), expected)


def test_correlate2d_and_convolve2d_match_scipy_if_installed():
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(10)
    a, k = rng.standard_normal((7, 6)), rng.standard_normal((4, 3))
    for mode in ("valid", "same", "full"):
        np.testing.assert_allclose(correlate2d(a, k, mode), signal.correlate2d(a, k, mode), atol=1e-12)
        np.testing.assert_allclose(convolve2d(a, k, mode), signal.convolve2d(a, k, mode), atol=1e-12)


def test_convolve2d_flips_the_kernel():
    a = np.zeros((5, 5))
    a[2, 2] = 1.0  # an impulse
    k = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(convolve2d(a, k, "same"), np.pad(k, 1))  # convolution copies k
    np.testing.assert_array_equal(correlate2d(a, k, "same"), np.pad(k[::-1, ::-1], 1))


# -- Modules ------------------------------------------------------------------------------
def _copy_into_torch(module, torch_module):
    with torch.no_grad():
        torch_module.weight.copy_(torch.tensor(module.params["weight"]))
        torch_module.bias.copy_(torch.tensor(module.params["bias"]))


@pytest.mark.parametrize("make", [
    lambda: (Conv2d(3, 4, (3, 2), stride=2, padding=1, rng=0),
             torch.nn.Conv2d(3, 4, (3, 2), stride=2, padding=1), (2, 3, 8, 7)),
    lambda: (Conv2d(2, 3, 3, padding="same", dilation=2, rng=1),
             torch.nn.Conv2d(2, 3, 3, padding="same", dilation=2), (2, 2, 6, 6)),
    lambda: (Conv1d(2, 3, 3, stride=2, padding=1, rng=2),
             torch.nn.Conv1d(2, 3, 3, stride=2, padding=1), (2, 2, 9)),
    lambda: (ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1, rng=3),
             torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1), (2, 3, 4, 5)),
], ids=["Conv2d", "Conv2d-same", "Conv1d", "ConvTranspose2d"])
def test_modules_match_torch(make):
    module, torch_module, x_shape = make()
    torch_module = torch_module.double()
    _copy_into_torch(module, torch_module)
    x = np.random.default_rng(11).standard_normal(x_shape)
    out = module.forward(x)
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch_module(xt)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    dout = np.random.default_rng(12).standard_normal(out.shape)
    out_t.backward(torch.tensor(dout))
    dx = module.backward(dout)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    for key in ("weight", "bias"):
        grad_t = getattr(torch_module, key).grad.numpy()
        np.testing.assert_allclose(module.grads[key], grad_t, rtol=1e-5, atol=1e-6)
        assert module.params[key].dtype == np.float32


@pytest.mark.parametrize("module,torch_module,fan_in", [
    (Conv2d(6, 16, 5, rng=0), torch.nn.Conv2d(6, 16, 5), 6 * 25),
    (Conv1d(4, 8, 3, rng=0), torch.nn.Conv1d(4, 8, 3), 4 * 3),
    (ConvTranspose2d(16, 6, 4, rng=0), torch.nn.ConvTranspose2d(16, 6, 4), 6 * 16),  # weight.size(1)*kh*kw
], ids=["Conv2d", "Conv1d", "ConvTranspose2d"])
def test_modules_initialise_like_torch(module, torch_module, fan_in):
    """Both draw weight and bias from U(-b, b), b = 1/sqrt(fan_in), with torch's fan_in."""
    bound = 1 / np.sqrt(fan_in)
    for key in ("weight", "bias"):
        ours, theirs = module.params[key], getattr(torch_module, key).detach().numpy()
        assert ours.shape == theirs.shape and ours.dtype == np.float32
        assert np.abs(ours).max() <= bound and np.abs(theirs).max() <= bound
    # hundreds of weights: both nearly reach the bound, so the bound is the same one
    assert np.abs(module.params["weight"]).max() > 0.95 * bound
    assert np.abs(torch_module.weight.detach().numpy()).max() > 0.95 * bound


def test_module_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(1, 1, 3).backward(np.zeros((1, 1, 1, 1)))


# -- errors a learner can act on ----------------------------------------------------------
X = np.zeros((2, 3, 8, 8))
W = np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize("call,error,words", [
    (lambda: conv2d_forward(X[0], W), ValueError, ["x must have 4 dimensions", "(N, C, H, W)"]),
    (lambda: conv2d_forward(X, W[:, :1]), ValueError, ["weight has 1 input channels", "x has 3"]),
    (lambda: conv2d_forward(X, W, np.zeros(3)), ValueError, ["bias must have 4 entries"]),
    (lambda: conv2d_forward(X, np.zeros((4, 3, 9, 3))), ValueError, ["kernel extent 9", "padded input height 8"]),
    (lambda: conv2d_forward(X, W, dilation=4), ValueError, ["kernel extent 9", "dilation=4"]),
    (lambda: conv2d_forward(X, W, stride=0), ValueError, ["stride must be an integer >= 1", "got 0"]),
    (lambda: conv2d_forward(X, W, stride=1.5), TypeError, ["stride must be an integer", "1.5"]),
    (lambda: conv2d_forward(X, W, dilation=(1, 0)), ValueError, ["dilation must be an integer >= 1"]),
    (lambda: conv2d_forward(X, W, padding=-1), ValueError, ["padding must be an integer >= 0"]),
    (lambda: conv2d_forward(X, W, padding="half"), ValueError, ["padding must be", "'half'"]),
    (lambda: conv2d_forward(X, W, stride=2, padding="same"), ValueError, ["padding='same' needs stride 1"]),
    (lambda: conv2d_forward(X.astype(str), W), TypeError, ["x must have a numeric dtype"]),
    (lambda: conv2d_forward("x", W), TypeError, ["x must be a NumPy array"]),
    (lambda: conv2d_forward_naive(X, W[:, :2]), ValueError, ["conv2d_forward_naive", "weight has 2 input"]),
    (lambda: conv1d_forward(X, W), ValueError, ["conv1d_forward", "x must have 3 dimensions"]),
    (lambda: conv1d_forward(X[:, :, 0], W[:, :, 0]), ValueError, []),  # valid: must NOT raise
    (lambda: conv1d_forward(X[:, :, 0, :2], W[:, :, 0]), ValueError, ["kernel extent 3", "padded input length 2"]),
    (lambda: conv1d_forward(X[:, :, 0], W[:, :, 0], causal=True, padding=1), ValueError, ["causal=True", "padding must be 0"]),
    (lambda: conv_transpose2d_forward(X, np.zeros((4, 2, 3, 3))), ValueError, ["weight has 4 input channels", "x has 3"]),
    (lambda: conv_transpose2d_forward(X, np.zeros((3, 2, 3, 3)), stride=2, output_padding=2), ValueError,
     ["output_padding must be smaller than stride or dilation"]),
    (lambda: conv_transpose2d_forward(X[:, :, :1, :1], np.zeros((3, 2, 1, 1)), padding=1), ValueError,
     ["padding=1 leaves no output"]),
    (lambda: correlate2d(np.zeros((2, 2)), np.zeros((3, 3))), ValueError, ["kernel must fit inside a"]),
    (lambda: correlate2d(np.zeros((4, 4)), np.zeros((3, 3)), "middle"), ValueError, ["mode must be"]),
    (lambda: convolve2d(np.zeros((2, 4, 4)), np.zeros((3, 3))), ValueError, ["a must have 2 dimensions"]),
    (lambda: Conv2d(0, 4, 3), ValueError, ["Conv2d: in_channels must be an integer >= 1"]),
    (lambda: col2im(np.zeros((2, 10, 4)), (3, 3), 3), ValueError, ["cols.shape[1] = 10", "multiple of"]),
    (lambda: col2im(np.zeros((2, 8, 5)), (3, 3), 2), ValueError, ["cols.shape[2] must be H' * W' = 2 * 2"]),
    (lambda: conv2d_backward(np.zeros((2, 4, 7, 8)), conv2d_forward(X, W)[1]), ValueError,
     ["dout must have shape (2, 4, 6, 6)", "(2, 4, 7, 8)"]),
])
def test_bad_input_messages(call, error, words):
    if not words:
        call()  # a control case: well-formed input passes
        return
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize("channels, filters, kernel, kwargs", [
    (4, 4, 3, {"padding": 1}),  # dx as a forward convolution with the rotated kernel
    (4, 8, 3, {"padding": 0}),
    (3, 2, (2, 3), {"padding": "same"}),  # uneven padding: one more zero at the bottom
    (4, 4, 3, {"padding": 2, "dilation": 2}),
    (4, 4, 3, {"padding": 2}),  # padding wider than the kernel's reach: col2im
    (2, 8, 3, {"padding": 1}),  # many more filters than channels: col2im
    (4, 4, 3, {"padding": 1, "stride": 2}),  # stride 2: col2im
])
def test_conv2d_input_gradient_on_each_path_matches_torch(channels, filters, kernel, kwargs):
    rng = np.random.default_rng(6)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x, weight = _randn(rng, 3, channels, 7, 6), _randn(rng, filters, channels, kh, kw)
    out, cache = conv2d_forward(x, weight, **kwargs)
    dout = _randn(rng, *out.shape)
    dx, dweight, _ = conv2d_backward(dout, cache)
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(weight).requires_grad_()
    F.conv2d(xt, wt, **kwargs).backward(torch.from_numpy(dout))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dweight, wt.grad.numpy(), rtol=1e-10, atol=1e-12)
