"""Activations: finite differences, PyTorch agreement, fan-out, extremes, bad input."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import check_op
from cnnbook import activations as A
from cnnbook import radial as R


def away_from(rng, shape, kinks=(0.0,), gap=0.05, scale=3.0):
    """Random float64 values at least ``gap`` from every kink (finite differences there
    would straddle the corner)."""
    x = rng.uniform(-scale, scale, size=shape)
    for k in kinks:
        close = np.abs(x - k) < gap
        x[close] = k + np.where(x[close] >= k, gap, -gap) * 2
    return x


# (name, forward, backward, torch twin, kwargs, kinks of the function)
ELEMENTWISE = [
    ("identity", A.identity_forward, A.identity_backward, lambda x: x.clone(), {}, ()),
    ("sigmoid", A.sigmoid_forward, A.sigmoid_backward, torch.sigmoid, {}, ()),
    ("tanh", A.tanh_forward, A.tanh_backward, torch.tanh, {}, ()),
    ("arctan", A.arctan_forward, A.arctan_backward, torch.atan, {}, ()),
    ("relu", A.relu_forward, A.relu_backward, F.relu, {}, (0.0,)),
    ("leaky_relu", A.leaky_relu_forward, A.leaky_relu_backward, F.leaky_relu, {}, (0.0,)),
    ("leaky_relu_0.2", A.leaky_relu_forward, A.leaky_relu_backward, F.leaky_relu,
     {"negative_slope": 0.2}, (0.0,)),
    ("elu", A.elu_forward, A.elu_backward, F.elu, {}, (0.0,)),
    ("elu_0.5", A.elu_forward, A.elu_backward, F.elu, {"alpha": 0.5}, (0.0,)),
    ("softplus", A.softplus_forward, A.softplus_backward, F.softplus, {}, ()),
    ("softplus_beta2_thr1", A.softplus_forward, A.softplus_backward, F.softplus,
     {"beta": 2.0, "threshold": 1.0}, (0.5,)),
    ("softmax", A.softmax_forward, A.softmax_backward, F.softmax, {"dim": -1}, ()),
    ("softmax_dim0", A.softmax_forward, A.softmax_backward, F.softmax, {"dim": 0}, ()),
    ("log_softmax", A.log_softmax_forward, A.log_softmax_backward, F.log_softmax, {"dim": -1}, ()),
    ("log_softmax_dim1", A.log_softmax_forward, A.log_softmax_backward, F.log_softmax,
     {"dim": 1}, ()),
]
IDS = [e[0] for e in ELEMENTWISE]


@pytest.mark.parametrize("name, fwd, bwd, torch_fn, kwargs, kinks", ELEMENTWISE, ids=IDS)
def test_gradients_and_torch(name, fwd, bwd, torch_fn, kwargs, kinks):
    rng = np.random.default_rng(0)
    x = away_from(rng, (4, 3, 5), kinks)
    check_op(fwd, bwd, torch_fn, [x], kwargs=kwargs)  # fan-out included


def test_binary_step_matches_torch_heaviside_and_has_zero_gradient():
    x = np.array([-2.0, -1e-9, 0.0, 1e-9, 3.0])
    out, cache = A.binary_step_forward(x)
    expected = torch.heaviside(torch.tensor(x), torch.tensor(1.0, dtype=torch.float64)).numpy()
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(A.binary_step_backward(np.ones(5), cache), np.zeros(5))


@pytest.mark.parametrize("xshape, wshape", [((2, 3, 4, 4), (3,)), ((2, 3, 4, 4), (1,)),
                                            ((5, 4), (4,)), ((6,), (1,)), ((2, 3, 5), (3,))])
def test_prelu(xshape, wshape):
    rng = np.random.default_rng(1)
    x = away_from(rng, xshape)
    w = rng.uniform(0.05, 0.5, size=wshape)
    check_op(A.prelu_forward, A.prelu_backward, F.prelu, [x, w])


def test_table_derivatives_of_source_000():
    """The derivative column of 000's table, in its own closed forms."""
    x = np.linspace(-4, 4, 41)
    x = x[x != 0]
    d = np.ones_like(x)
    f, c = A.tanh_forward(x)
    np.testing.assert_allclose(f, 2 / (1 + np.exp(-2 * x)) - 1, atol=1e-15)
    f, c = A.sigmoid_forward(x)
    np.testing.assert_allclose(A.sigmoid_backward(d, c), f * (1 - f))
    np.testing.assert_allclose(A.arctan_backward(d, A.arctan_forward(x)[1]), 1 / (x**2 + 1))
    f, c = A.elu_forward(x, alpha=0.7)
    np.testing.assert_allclose(A.elu_backward(d, c), np.where(x < 0, f + 0.7, 1.0))
    f, c = A.softplus_forward(x)
    np.testing.assert_allclose(f, np.log(1 + np.exp(x)))
    np.testing.assert_allclose(A.softplus_backward(d, c), 1 / (1 + np.exp(-x)))
    f, c = A.prelu_forward(x, np.array([0.25]))
    np.testing.assert_allclose(A.prelu_backward(d, c)[0], np.where(x < 0, 0.25, 1.0))
    f, c = A.leaky_relu_forward(x, negative_slope=0.1)  # 004: max(0, x) + b min(0, x)
    np.testing.assert_allclose(f, np.maximum(0, x) + 0.1 * np.minimum(0, x))


def test_kink_conventions_follow_torch():
    zero = np.zeros(1)
    one = np.ones(1)
    assert A.relu_backward(one, A.relu_forward(zero)[1])[0] == 0.0
    assert A.leaky_relu_backward(one, A.leaky_relu_forward(zero, negative_slope=0.1)[1])[0] == 0.1
    assert A.elu_backward(one, A.elu_forward(zero, alpha=2.0)[1])[0] == 2.0
    assert A.prelu_backward(one, A.prelu_forward(zero, np.array([0.25]))[1])[0][0] == 0.25


# Underflow to 0 (e^-1e4) is exact to float precision and silent by NumPy's defaults, so it
# is allowed; overflow, division by zero and invalid operations (inf - inf, 0 * inf) are not.
STRICT = dict(over="raise", divide="raise", invalid="raise")
EXTREME = np.array([-1e4, -710.0, -100.0, -1.0, 0.0, 1.0, 100.0, 710.0, 1e4])
ALL_SINGLE = [(e[1], e[2], e[4]) for e in ELEMENTWISE] + [
    (A.binary_step_forward, A.binary_step_backward, {})]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fwd, bwd, kwargs", ALL_SINGLE, ids=IDS + ["binary_step"])
def test_extreme_inputs_finite_and_warning_free(fwd, bwd, kwargs, dtype):
    x = np.stack([EXTREME, EXTREME[::-1]]).astype(dtype)  # (2, 9): dim 0 and 1 both exist
    with warnings.catch_warnings(), np.errstate(**STRICT):
        warnings.simplefilter("error")
        out, cache = fwd(x, **kwargs)
        dx = bwd(np.ones_like(out), cache)
    assert out.dtype == dtype and dx.dtype == dtype
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))


def test_stable_values_at_extremes():
    x = np.array([-1e4, 1e4])
    np.testing.assert_array_equal(A.sigmoid(x), [0.0, 1.0])
    np.testing.assert_array_equal(A.softplus_forward(x)[0], [0.0, 1e4])
    np.testing.assert_allclose(A.softmax_forward(np.array([[1e4, 0.0, -1e4]]))[0], [[1, 0, 0]])
    np.testing.assert_allclose(A.log_softmax_forward(np.array([[1e4, 0.0]]))[0], [[0.0, -1e4]])
    t = torch.tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4]))
    np.testing.assert_allclose(A.softplus_forward(t.numpy())[0], F.softplus(t).numpy())


@settings(max_examples=30, deadline=None)
@given(st.floats(-1e4, 1e4, allow_nan=False))
def test_sigmoid_and_softplus_stable_everywhere(v):
    x = np.array([v])
    with warnings.catch_warnings(), np.errstate(**STRICT):
        warnings.simplefilter("error")
        s = A.sigmoid(x)
        sp, c = A.softplus_forward(x)
        dsp = A.softplus_backward(np.ones(1), c)
    assert 0.0 <= s[0] <= 1.0 and np.isfinite(sp[0]) and sp[0] >= max(v, 0.0) - 1e-12
    np.testing.assert_allclose(s, torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(dsp, torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-12, atol=1e-300)


def test_sigmoid_helper_accepts_integers_and_lists():
    np.testing.assert_allclose(A.sigmoid([0, 2]), [0.5, 1 / (1 + np.exp(-2))])
    assert A.sigmoid(np.zeros(2, np.float32)).dtype == np.float32


def test_softmax_properties():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6))
    s = A.softmax_forward(x)[0]
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    np.testing.assert_allclose(A.softmax_forward(x + 1000.0)[0], s)  # shift invariance
    np.testing.assert_allclose(np.exp(A.log_softmax_forward(x)[0]), s)


# -- radial and ridge functions of 003 ------------------------------------------------
def _torch_r2(x, c):
    c2 = c.reshape(-1, x.shape[1])
    r2 = ((x[:, None, :] - c2[None, :, :]) ** 2).sum(-1)
    return r2[:, 0] if c.ndim == 1 else r2


RADIAL = [
    ("gaussian", R.gaussian_rbf_forward, R.gaussian_rbf_backward, {"sigma": 0.8},
     lambda x, c: torch.exp(-_torch_r2(x, c) / (2 * 0.8**2))),
    ("multiquadric", R.multiquadric_forward, R.multiquadric_backward, {"a": 0.5},
     lambda x, c: torch.sqrt(_torch_r2(x, c) + 0.25)),
    ("inverse_multiquadric", R.inverse_multiquadric_forward, R.inverse_multiquadric_backward,
     {"a": 1.5}, lambda x, c: (_torch_r2(x, c) + 2.25) ** -0.5),
]


@pytest.mark.parametrize("cshape", [(3, 2), (2,)])
@pytest.mark.parametrize("name, fwd, bwd, kwargs, torch_fn", RADIAL, ids=[r[0] for r in RADIAL])
def test_radial(name, fwd, bwd, kwargs, torch_fn, cshape):
    rng = np.random.default_rng(4)
    x, c = rng.standard_normal((5, 2)), rng.standard_normal(cshape)
    check_op(fwd, bwd, torch_fn, [x, c], kwargs=kwargs, torch_kwargs={})


def test_radial_formulas_of_source_003():
    x, c = np.array([[3.0, 4.0]]), np.zeros(2)  # r = 5
    assert R.gaussian_rbf_forward(x, c, sigma=2.0)[0][0] == pytest.approx(np.exp(-25 / 8))
    assert R.multiquadric_forward(x, c, a=1.0)[0][0] == pytest.approx(np.sqrt(26))
    assert R.inverse_multiquadric_forward(x, c, a=1.0)[0][0] == pytest.approx(1 / np.sqrt(26))
    # the eps form: exp(-(eps r)^2) with eps = 1 / (sigma sqrt 2)
    sigma = 0.7
    assert R.gaussian_rbf_forward(x, c, sigma=sigma)[0][0] == pytest.approx(
        np.exp(-(5 / (sigma * np.sqrt(2))) ** 2))


RIDGE_TORCH = {"linear": lambda z: z, "relu": F.relu, "logistic": torch.sigmoid}


@pytest.mark.parametrize("fn", ["linear", "relu", "logistic"])
@pytest.mark.parametrize("bias_shape", [(), (1,)])
def test_ridge(fn, bias_shape):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((6, 3)), rng.standard_normal(3)
    b = np.full(bias_shape, 0.3)
    if fn == "relu":  # keep a + x . w away from the kink
        z = x @ w + 0.3
        x[np.abs(z) < 0.05] *= 3
    check_op(R.ridge_forward, R.ridge_backward,
             lambda x, w, b: RIDGE_TORCH[fn](x @ w + b.reshape(())), [x, w, b],
             kwargs={"fn": fn}, torch_kwargs={})


def test_ridge_heaviside_and_constant_along_ridge():
    w = np.array([1.0, -2.0])
    out, cache = R.ridge_forward(np.array([[3.0, 1.0], [0.0, 1.0]]), w, 0.0, fn="heaviside")
    np.testing.assert_array_equal(out, [1.0, 0.0])
    assert not np.any(R.ridge_backward(np.ones(2), cache)[0])
    # a ridge function is constant along directions orthogonal to the weight
    x = np.array([[0.3, 0.7]])
    moved = x + 5.0 * np.array([[2.0, 1.0]])  # (2, 1) . (1, -2) = 0
    np.testing.assert_allclose(R.ridge_forward(x, w, 0.1)[0], R.ridge_forward(moved, w, 0.1)[0])


# -- Modules --------------------------------------------------------------------------
MODULES = [
    (A.Identity(), A.identity_forward, {}), (A.BinaryStep(), A.binary_step_forward, {}),
    (A.Sigmoid(), A.sigmoid_forward, {}), (A.Tanh(), A.tanh_forward, {}),
    (A.ArcTan(), A.arctan_forward, {}), (A.ReLU(), A.relu_forward, {}),
    (A.LeakyReLU(0.2), A.leaky_relu_forward, {"negative_slope": 0.2}),
    (A.ELU(0.5), A.elu_forward, {"alpha": 0.5}),
    (A.Softplus(2.0, 5.0), A.softplus_forward, {"beta": 2.0, "threshold": 5.0}),
    (A.Softmax(dim=0), A.softmax_forward, {"dim": 0}),
    (A.LogSoftmax(), A.log_softmax_forward, {"dim": -1}),
]


@pytest.mark.parametrize("module, fwd, kwargs", MODULES, ids=lambda m: type(m).__name__)
def test_modules_wrap_their_kernels(module, fwd, kwargs):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 4))
    with pytest.raises(RuntimeError, match="before forward"):
        type(module)().backward(x)
    out = module.forward(x)
    np.testing.assert_array_equal(out, fwd(x, **kwargs)[0])
    dout = rng.standard_normal(out.shape)
    expected = type(module)._backward(dout, fwd(x, **kwargs)[1])
    np.testing.assert_array_equal(module.backward(dout), expected)
    assert module.params == {} and type(module).__name__ in repr(module)


def test_modules_match_torch_nn():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3))
    t = torch.tensor(x)
    pairs = [(A.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), (A.ELU(0.5), torch.nn.ELU(0.5)),
             (A.Softplus(2.0, 5.0), torch.nn.Softplus(2.0, 5.0)),
             (A.Softmax(dim=1), torch.nn.Softmax(dim=1)), (A.LogSoftmax(1), torch.nn.LogSoftmax(1))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours(x), theirs(t).numpy(), rtol=1e-12, atol=1e-14)
    assert "negative_slope=0.2" in repr(pairs[0][0])


def test_prelu_module_learns_its_slope_like_torch():
    rng = np.random.default_rng(8)
    x = away_from(rng, (2, 3, 4, 4))
    ours = A.PReLU(3, dtype=np.float64)
    theirs = torch.nn.PReLU(3).double()
    np.testing.assert_array_equal(ours.params["weight"], theirs.weight.detach().numpy())
    tx = torch.tensor(x, requires_grad=True)
    out_t = theirs(tx)
    dout = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(ours(x), out_t.detach().numpy())
    dx = ours.backward(dout)
    np.testing.assert_allclose(dx, tx.grad.numpy())
    np.testing.assert_allclose(ours.grads["weight"], theirs.weight.grad.numpy())
    assert [k for _, _, k in ours.parameters()] == ["weight"]
    assert A.PReLU().params["weight"].dtype == np.float32


def test_radial_and_ridge_modules():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((5, 2))
    for function in ("gaussian", "multiquadric", "inverse_multiquadric"):
        layer = R.RadialBasis(2, 3, function=function, rng=0, dtype=np.float64)
        out = layer(x)
        assert out.shape == (5, 3)
        dx = layer.backward(np.ones((5, 3)))
        assert dx.shape == (5, 2) and layer.grads["center"].shape == (3, 2)
    ridge = R.Ridge(2, fn="relu", rng=0, dtype=np.float64)
    assert ridge(x).shape == (5,)
    ridge.backward(np.ones(5))
    assert set(ridge.grads) == {"weight", "bias"} and ridge.grads["bias"].shape == (1,)


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize("call, exc, words", [
    (lambda: A.prelu_forward(np.ones((2, 4)), np.ones(3)), ValueError, ["weight", "3", "4"]),
    (lambda: A.prelu_forward(np.ones((2, 3)), np.ones((3, 1))), ValueError, ["weight"]),
    (lambda: A.softmax_forward(np.ones((2, 3)), dim=2), ValueError, ["dim", "<= 1", "got 2"]),
    (lambda: A.softmax_forward(np.ones((2, 3)), dim=1.0), TypeError, ["dim"]),
    (lambda: A.elu_forward(np.ones(2), alpha="big"), TypeError, ["alpha"]),
    (lambda: A.softplus_forward(np.ones(2), beta=0), ValueError, ["beta"]),
    (lambda: A.leaky_relu_forward("x"), TypeError, ["x"]),
    (lambda: A.relu_forward(np.array(["a"])), TypeError, ["x", "dtype"]),
    (lambda: A.LeakyReLU(negative_slope=None), TypeError, ["negative_slope"]),
    (lambda: A.PReLU(0), ValueError, ["num_parameters"]),
    (lambda: R.gaussian_rbf_forward(np.ones((2, 3)), np.ones((4, 2))), ValueError, ["center", "x"]),
    (lambda: R.gaussian_rbf_forward(np.ones((2, 3)), np.ones(3), sigma=-1), ValueError, ["sigma"]),
    (lambda: R.multiquadric_forward(np.ones(3), np.ones(3)), ValueError, ["x", "(N, D)"]),
    (lambda: R.ridge_forward(np.ones((2, 3)), np.ones(2), 0.0), ValueError, ["weight"]),
    (lambda: R.ridge_forward(np.ones((2, 3)), np.ones(3), np.ones(2)), ValueError, ["bias"]),
    (lambda: R.ridge_forward(np.ones((2, 3)), np.ones(3), 0.0, fn="tanh"), ValueError, ["fn"]),
    (lambda: R.RadialBasis(2, 3, function="cubic"), ValueError, ["function"]),
])
def test_bad_input_messages(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value)


# -- GELU (chapter 10) ------------------------------------------------------------------
def test_erf_against_math_erf_to_one_ulp():
    """The vectorized erf behind GELU: within 2.3e-16 of math.erf everywhere, tiny
    arguments to full relative precision, +-1 far out, NaN through."""
    import math
    from cnnbook.activations import _erf
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-9, 9, 100_001), 3 * rng.standard_normal(50_000),
                        [0.0, -0.0, 1e-300, -1e-12, 5.9999, 6.0, 6.0001, 40.0, -np.inf, np.inf]])
    ref = np.array([math.erf(v) for v in x])
    got = _erf(x)
    assert np.abs(got - ref).max() <= 2.3e-16
    small = np.array([1e-300, 1e-20, 1e-8, 1e-3, -1e-5])
    np.testing.assert_allclose(_erf(small), [math.erf(v) for v in small], rtol=3e-16, atol=0)
    assert np.isnan(_erf(np.array([np.nan]))[0])
    np.testing.assert_array_equal(_erf(np.array([-0.0])), [-0.0])


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradients_and_torch(approximate):
    from cnnbook.activations import gelu_backward, gelu_forward
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(40) * 3, [0.0, -1.0, 2.5, -7.0, 9.0]]).reshape(5, 9)
    check_op(gelu_forward, gelu_backward, torch.nn.functional.gelu, [x],
             kwargs=dict(approximate=approximate), atol=1e-15, rtol=1e-14)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_float64_precision_over_a_wide_range(approximate):
    """Forward and gradient equal PyTorch's to float64 rounding on 200,001 points (erf
    within an ulp, 1.1e-16, which x / 2 scales to at most 7e-16 at |x| = 12; NumPy's and
    PyTorch's tanh may differ by an ulp where tanh rounds to -1, 5e-15 in the gradient)."""
    from cnnbook.activations import gelu_backward, gelu_forward
    x = np.linspace(-12, 12, 200_001)
    out, cache = gelu_forward(x, approximate=approximate)
    dx = gelu_backward(np.ones_like(x), cache)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate=approximate)
    yt.sum().backward()
    np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-14, atol=1e-14)


def test_gelu_module_dtypes_and_errors():
    from cnnbook.activations import GELU, gelu_forward
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    layer = GELU()
    y = layer(x)
    assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32
    np.testing.assert_allclose(y, torch.nn.GELU()(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-7)
    assert "approximate=tanh" in repr(GELU("tanh"))
    with pytest.raises(ValueError, match="gelu_forward: approximate must be 'none' or 'tanh', got 'erf'"):
        gelu_forward(x, approximate="erf")
    with pytest.raises(TypeError, match="GELU: approximate must be 'none' or 'tanh'"):
        GELU(approximate=None)
