"""The kernel contract (DESIGN.md, "Kernels"), checked for every forward/backward pair at once.

REGISTRY lists every pair with a builder of small valid inputs. For each pair:
- the backward refuses a dout of the wrong shape (same size, or one that would broadcast)
  and a dout that is integer, boolean, complex, object or None, with an error naming it;
- float32 in gives float32 out and gradients, float64 likewise; a float16 or float32
  dout does not lower float64 gradients; with mixed inputs each gradient takes the dtype
  of what it is the gradient of;
- the forward refuses complex input and None with a TypeError naming it;
- every number argument is checked: TypeError for a wrong type, ValueError for a wrong value.
A last test makes sure the registry lists every public ``*_forward`` of the package, so
a new kernel cannot be forgotten.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import cnnbook
from cnnbook import activations as A
from cnnbook import attention as att
from cnnbook import batchnorm as bn
from cnnbook import conv, conv_transpose, dense, dropout, flatten, layernorm, pool, radial, skip


@dataclass
class Pair:
    forward: Callable
    backward: Callable
    build: Callable  # (rng) -> (args, kwargs), arrays in float64
    grad_of: tuple = (0,)  # the argument each returned gradient belongs to, in order
    numbers: list = field(default_factory=list)  # (keyword, value of a wrong type, wrong value)

    @property
    def name(self):
        return self.forward.__name__


def x_only(shape=(3, 4), **kwargs):
    return lambda rng: ([rng.standard_normal(shape)], kwargs)


def randn(rng, *shapes):
    return [rng.standard_normal(s) for s in shapes]


NAN = float("nan")
CONV_NUMBERS = [("stride", 1.0, 0), ("dilation", "1", 0), ("padding", 0.5, -1)]
POOL_NUMBERS = [("stride", "2", 0), ("padding", 1.0, -1)]
SDPA_NUMBERS = [("scale", "0.5", NAN)]

def concat_two(*arrays, axis=1):
    """concat_forward with its arrays spread out, so that it fits the registry's calls."""
    return skip.concat_forward(list(arrays), axis=axis)


concat_two.__name__, concat_two.__wrapped__ = "concat_forward", skip.concat_forward

REGISTRY = [
    Pair(A.identity_forward, A.identity_backward, x_only()),
    Pair(A.binary_step_forward, A.binary_step_backward, x_only()),
    Pair(A.sigmoid_forward, A.sigmoid_backward, x_only()),
    Pair(A.tanh_forward, A.tanh_backward, x_only()),
    Pair(A.arctan_forward, A.arctan_backward, x_only()),
    Pair(A.relu_forward, A.relu_backward, x_only()),
    Pair(A.leaky_relu_forward, A.leaky_relu_backward, x_only(negative_slope=0.1),
         numbers=[("negative_slope", "0.1", NAN)]),
    Pair(A.prelu_forward, A.prelu_backward, lambda rng: (randn(rng, (3, 4), (4,)), {}),
         grad_of=(0, 1)),
    Pair(A.elu_forward, A.elu_backward, x_only(alpha=0.5), numbers=[("alpha", None, np.inf)]),
    Pair(A.softplus_forward, A.softplus_backward, x_only(beta=2.0),
         numbers=[("beta", "2", 0), ("threshold", [20], NAN)]),
    Pair(A.softmax_forward, A.softmax_backward, x_only(dim=0), numbers=[("dim", 1.0, 2)]),
    Pair(A.log_softmax_forward, A.log_softmax_backward, x_only(dim=1),
         numbers=[("dim", "1", -3)]),
    Pair(radial.ridge_forward, radial.ridge_backward,
         lambda rng: (randn(rng, (3, 2), (2,), (1,)), {"fn": "logistic"}), grad_of=(0, 1, 2)),
    Pair(radial.gaussian_rbf_forward, radial.gaussian_rbf_backward,
         lambda rng: (randn(rng, (3, 2), (4, 2)), {}), grad_of=(0, 1),
         numbers=[("sigma", "1", 0)]),
    Pair(radial.multiquadric_forward, radial.multiquadric_backward,
         lambda rng: (randn(rng, (3, 2), (4, 2)), {}), grad_of=(0, 1), numbers=[("a", None, -1)]),
    Pair(radial.inverse_multiquadric_forward, radial.inverse_multiquadric_backward,
         lambda rng: (randn(rng, (3, 2), (2,)), {}), grad_of=(0, 1), numbers=[("a", True, 0)]),
    Pair(dense.dense_forward, dense.dense_backward,
         lambda rng: (randn(rng, (3, 4), (5, 4), (5,)), {}), grad_of=(0, 1, 2)),
    Pair(conv.conv2d_forward, conv.conv2d_backward,
         lambda rng: (randn(rng, (2, 2, 5, 5), (3, 2, 3, 3), (3,)), {"padding": 1}),
         grad_of=(0, 1, 2), numbers=CONV_NUMBERS),
    Pair(conv.conv2d_forward_naive, conv.conv2d_backward_naive,
         lambda rng: (randn(rng, (2, 2, 5, 5), (3, 2, 3, 3), (3,)), {"stride": 2}),
         grad_of=(0, 1, 2), numbers=CONV_NUMBERS),
    Pair(conv.conv1d_forward, conv.conv1d_backward,
         lambda rng: (randn(rng, (2, 2, 6), (3, 2, 3), (3,)), {"dilation": 2}),
         grad_of=(0, 1, 2), numbers=CONV_NUMBERS),
    Pair(conv_transpose.conv_transpose2d_forward, conv_transpose.conv_transpose2d_backward,
         lambda rng: (randn(rng, (2, 2, 3, 3), (2, 3, 2, 2), (3,)), {"stride": 2}),
         grad_of=(0, 1, 2), numbers=CONV_NUMBERS + [("output_padding", 0.0, -1)]),
    Pair(pool.max_pool2d_forward, pool.max_pool2d_backward,
         lambda rng: (randn(rng, (2, 3, 4, 4)) + [2], {"padding": 1}), numbers=POOL_NUMBERS),
    Pair(pool.max_pool2d_forward_naive, pool.max_pool2d_backward_naive,
         lambda rng: (randn(rng, (2, 3, 4, 4)) + [(2, 3)], {"stride": 1}), numbers=POOL_NUMBERS),
    Pair(pool.avg_pool2d_forward, pool.avg_pool2d_backward,
         lambda rng: (randn(rng, (2, 3, 5, 4)) + [3], {"stride": 2}), numbers=POOL_NUMBERS),
    Pair(pool.global_avg_pool2d_forward, pool.global_avg_pool2d_backward, x_only((2, 3, 4, 4))),
    Pair(flatten.flatten_forward, flatten.flatten_backward, x_only((2, 3, 2, 2))),
    Pair(bn.batch_norm_forward, bn.batch_norm_backward,
         lambda rng: (randn(rng, (4, 3, 2, 2), (3,), (3,), (3,), (3,)), {"training": True}),
         grad_of=(0, 3, 4), numbers=[("momentum", "0.1", 1.5), ("eps", None, -1e-5)]),
    Pair(bn.batch_norm_forward_naive, bn.batch_norm_backward_naive,
         lambda rng: (randn(rng, (4, 3)) + [np.zeros(3), np.ones(3)] + randn(rng, (3,), (3,)), {}),
         grad_of=(0, 3, 4), numbers=[("momentum", [0.1], -0.1), ("eps", "0", NAN)]),
    Pair(layernorm.layer_norm_forward, layernorm.layer_norm_backward,
         lambda rng: (randn(rng, (2, 3, 4)) + [4] + randn(rng, (4,), (4,)), {}),
         grad_of=(0, 2, 3), numbers=[("eps", "1e-5", -1.0)]),
    Pair(dropout.dropout_forward, dropout.dropout_backward,
         lambda rng: (randn(rng, (3, 4)), {"p": 0.5, "rng": 0}), numbers=[("p", "0.5", 1.5)]),
    Pair(dropout.dropout2d_forward, dropout.dropout2d_backward,
         lambda rng: (randn(rng, (2, 3, 2, 2)), {"p": 0.5, "rng": 0}), numbers=[("p", "0.5", 1.5)]),
    Pair(att.scaled_dot_product_attention_forward, att.scaled_dot_product_attention_backward,
         lambda rng: (randn(rng, (2, 3, 4), (2, 5, 4), (2, 5, 2)), {"is_causal": True}),
         grad_of=(0, 1, 2), numbers=SDPA_NUMBERS),
    Pair(att.scaled_dot_product_attention_forward_naive,
         att.scaled_dot_product_attention_backward_naive,
         lambda rng: (randn(rng, (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 2)), {}),
         grad_of=(0, 1, 2), numbers=SDPA_NUMBERS),
    Pair(att.multi_head_attention_forward, att.multi_head_attention_backward,
         lambda rng: (randn(rng, (2, 3, 4), (12, 4), (12,), (4, 4), (4,)), {"num_heads": 2}),
         grad_of=(0, 1, 2, 3, 4), numbers=[("num_heads", 2.0, 0)]),
    Pair(concat_two, skip.concat_backward,
         lambda rng: (randn(rng, (2, 3, 4, 4), (2, 1, 4, 4)), {"axis": 1}), grad_of=(0, 1),
         numbers=[("axis", 1.0, 4)]),
    # chapter 10
    Pair(A.gelu_forward, A.gelu_backward, x_only((2, 3, 4), approximate="none")),
]
# chapter 9: local response normalization (the RCL's g)
from cnnbook import lrn  # noqa: E402

REGISTRY += [
    Pair(lrn.local_response_norm_forward, lrn.local_response_norm_backward,
         lambda rng: (randn(rng, (2, 5, 3, 3)) + [3], {"alpha": 0.5}),
         numbers=[("alpha", "0.5", -1.0), ("beta", None, NAN), ("k", [1.0], 0.0)]),
]
IDS = [p.name for p in REGISTRY]
NUMBER_CASES = [(p, kw, bad_type, bad_value) for p in REGISTRY for kw, bad_type, bad_value in p.numbers]


def run(pair, dtypes=np.float64, seed=0):
    """Build the inputs (arrays cast to ``dtypes``: one dtype, or one per argument), run the
    forward; returns (args, out, cache)."""
    args, kwargs = pair.build(np.random.default_rng(seed))
    if not isinstance(dtypes, (list, tuple)):
        dtypes = [dtypes] * len(args)
    args = [a.astype(t) if isinstance(a, np.ndarray) else a for a, t in zip(args, dtypes)]
    out, cache = pair.forward(*args, **kwargs)
    return args, out, cache


def grads_of(pair, dout, cache):
    grads = pair.backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert len(grads) == len(pair.grad_of), f"{pair.backward.__name__} returned {len(grads)} gradients"
    return grads


def other_shape_same_size(shape):
    return (int(np.prod(shape)),) if len(shape) != 1 else (1, shape[0])


# -- the registry covers the package ------------------------------------------------------
def package_forwards():
    """Every public ``*_forward`` / ``*_forward_naive`` function defined in cnnbook, except
    the exercise references (a reader's answer, not a kernel pair)."""
    found = {}
    for info in pkgutil.walk_packages(cnnbook.__path__, "cnnbook."):
        if ".exercises" in info.name or ".course" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (re.fullmatch(r"[a-z][a-z0-9_]*_forward(_naive)?", name) and callable(obj)
                    and obj.__module__ == module.__name__):
                found[name] = obj
    return found


def test_registry_covers_every_forward_kernel():
    forwards = package_forwards()
    assert len(forwards) >= 30
    missing = sorted(set(forwards) - set(IDS))
    assert not missing, f"add these kernels to REGISTRY in {__file__}: {missing}"
    for pair in REGISTRY:
        kernel = getattr(pair.forward, "__wrapped__", pair.forward)
        assert forwards[pair.name] is kernel
        twin = pair.name.replace("_forward", "_backward")
        assert pair.backward.__name__ == twin, f"{pair.name} is paired with {pair.backward.__name__}"
        assert getattr(cnnbook, pair.name) is kernel, f"cnnbook.{pair.name} is not exported"
        assert getattr(cnnbook, twin) is pair.backward, f"cnnbook.{twin} is not exported"


# -- dout ----------------------------------------------------------------------------------
@pytest.mark.parametrize("pair", REGISTRY, ids=IDS)
def test_backward_refuses_a_dout_of_another_shape(pair):
    _, out, cache = run(pair)
    name = pair.backward.__name__
    assert out.shape[0] > 1, "build a batch of 2 or more so that a broadcastable dout exists"
    broadcastable = [(1,) + out.shape[1:]]
    if out.ndim >= 2:
        broadcastable.append(out.shape[1:])  # relu_backward(np.ones(4), cache) after (3, 4)
    for shape in [other_shape_same_size(out.shape), *broadcastable]:
        with pytest.raises(ValueError, match=rf"^{name}: dout must have shape {re.escape(str(out.shape))}"):
            pair.backward(np.ones(shape), cache)


@pytest.mark.parametrize("bad", ["int64", "bool", "complex128", "object", "None", "list of ints"])
@pytest.mark.parametrize("pair", REGISTRY, ids=IDS)
def test_backward_refuses_a_dout_that_is_not_floating(pair, bad):
    _, out, cache = run(pair)
    dout = {"None": None, "list of ints": np.ones(out.shape, int).tolist()}.get(bad)
    if dout is None and bad != "None":
        dout = np.ones(out.shape, dtype=bad)
    with pytest.raises(TypeError, match=rf"^{pair.backward.__name__}: dout must be"):
        pair.backward(dout, cache)


# -- dtypes --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pair", REGISTRY, ids=IDS)
def test_dtype_is_kept(pair, dtype):
    _, out, cache = run(pair, dtype)
    assert out.dtype == dtype
    dout = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    for g in grads_of(pair, dout, cache):
        assert g is None or g.dtype == dtype


@pytest.mark.parametrize("dout_dtype", [np.float16, np.float32])
@pytest.mark.parametrize("pair", REGISTRY, ids=IDS)
def test_a_lower_precision_dout_does_not_lower_the_gradients(pair, dout_dtype):
    _, out, cache = run(pair, np.float64)
    expected = grads_of(pair, np.ones(out.shape), cache)
    for g, e in zip(grads_of(pair, np.ones(out.shape, dout_dtype), cache), expected):
        if g is not None:
            assert g.dtype == np.float64
            np.testing.assert_array_equal(g, e)  # dout = 1 is exact in every float type


@pytest.mark.parametrize("pair", [p for p in REGISTRY if len(p.grad_of) > 1],
                         ids=[p.name for p in REGISTRY if len(p.grad_of) > 1])
def test_each_gradient_takes_the_dtype_of_its_input(pair):
    """x float32 with float64 parameters: dx float32, the parameters' gradients float64
    (and the other way round)."""
    for first, rest in ((np.float32, np.float64), (np.float64, np.float32)):
        n_args = len(pair.build(np.random.default_rng(0))[0])
        args, out, cache = run(pair, [first] + [rest] * (n_args - 1))
        grads = grads_of(pair, np.ones(out.shape, out.dtype), cache)
        for i, g in zip(pair.grad_of, grads):
            assert g.dtype == args[i].dtype, f"gradient of argument {i}"
            assert g.shape == args[i].shape, f"gradient of argument {i}"


# -- bad input to the forward --------------------------------------------------------------
@pytest.mark.parametrize("bad", ["complex", "None"])
@pytest.mark.parametrize("pair", REGISTRY, ids=IDS)
def test_forward_refuses_complex_input_and_none(pair, bad):
    args, kwargs = pair.build(np.random.default_rng(0))
    args[0] = None if bad == "None" else args[0] + 1j
    with pytest.raises(TypeError, match=rf"^{pair.name}: [\w\[\]]+ must .*(None|complex)"):
        pair.forward(*args, **kwargs)


@pytest.mark.parametrize("pair, keyword, bad_type, bad_value", NUMBER_CASES,
                         ids=[f"{p.name}-{kw}" for p, kw, _, _ in NUMBER_CASES])
def test_number_arguments_are_checked(pair, keyword, bad_type, bad_value):
    args, kwargs = pair.build(np.random.default_rng(0))
    with pytest.raises(TypeError, match=rf"^{pair.name}: {keyword} must be "):
        pair.forward(*args, **{**kwargs, keyword: bad_type})
    args, kwargs = pair.build(np.random.default_rng(0))
    with pytest.raises(ValueError, match=rf"^{pair.name}: {keyword} must be "):
        pair.forward(*args, **{**kwargs, keyword: bad_value})


def test_every_pair_with_a_number_argument_is_checked():
    """The registry names a wrong type and a wrong value for every number keyword."""
    import inspect
    hyper = {"stride", "padding", "dilation", "output_padding", "negative_slope", "alpha",
             "beta", "threshold", "dim", "sigma", "a", "momentum", "eps", "p", "scale",
             "num_heads"}
    for pair in REGISTRY:
        params = set(inspect.signature(pair.forward).parameters) & hyper
        assert params <= {kw for kw, _, _ in pair.numbers}, f"{pair.name}: {params}"


ZERO_SIZE = [
    (conv.conv2d_forward, lambda: (np.ones((1, 1, 0, 5)), np.ones((2, 1, 1, 1)))),
    (conv.conv2d_forward, lambda: (np.ones((1, 1, 5, 5)), np.ones((2, 1, 0, 3)))),
    (conv.conv2d_forward, lambda: (np.ones((1, 1, 5, 5)), np.ones((0, 1, 3, 3)))),
    (conv.conv2d_forward_naive, lambda: (np.ones((1, 1, 5, 0)), np.ones((2, 1, 1, 1)))),
    (conv.conv1d_forward, lambda: (np.ones((1, 1, 0)), np.ones((2, 1, 1)))),
    (conv.conv1d_forward, lambda: (np.ones((1, 1, 4)), np.ones((2, 1, 0)))),
    (conv_transpose.conv_transpose2d_forward, lambda: (np.ones((1, 1, 0, 5)), np.ones((1, 2, 1, 1)))),
    (conv_transpose.conv_transpose2d_forward, lambda: (np.ones((1, 1, 3, 3)), np.ones((1, 2, 0, 2)))),
    (conv_transpose.conv_transpose2d_forward, lambda: (np.ones((1, 1, 3, 3)), np.ones((1, 0, 2, 2)))),
    (pool.max_pool2d_forward, lambda: (np.ones((1, 1, 0, 4)), 1)),
    (pool.max_pool2d_forward, lambda: (np.ones((1, 0, 4, 4)), 2)),
    (pool.max_pool2d_forward, lambda: (np.ones((1, 1, 4, 4)), 0)),
    (pool.max_pool2d_forward_naive, lambda: (np.ones((1, 1, 4, 0)), 1)),
    (pool.avg_pool2d_forward, lambda: (np.ones((1, 1, 0, 4)), 1)),
    (pool.avg_pool2d_forward, lambda: (np.ones((1, 1, 4, 4)), (2, 0))),
    (pool.global_avg_pool2d_forward, lambda: (np.ones((1, 1, 0, 4)),)),
    (conv.correlate2d, lambda: (np.ones((0, 3)), np.ones((1, 1)))),
    (conv.convolve2d, lambda: (np.ones((3, 3)), np.ones((0, 1)))),
]


@pytest.mark.parametrize("fn, make", ZERO_SIZE, ids=[f"{f.__name__}-{i}" for i, (f, _) in enumerate(ZERO_SIZE)])
def test_empty_images_and_zero_size_kernels_are_refused(fn, make):
    """As PyTorch refuses them: an image with no rows or columns, a kernel of size 0."""
    with pytest.raises(ValueError, match=rf"^{fn.__name__}: \w+ must "):
        fn(*make())


@pytest.mark.parametrize("fn, args", [
    (conv.conv2d_forward, (np.ones((0, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.ones(3))),
    (conv_transpose.conv_transpose2d_forward, (np.ones((0, 2, 3, 3)), np.ones((2, 3, 2, 2)))),
    (pool.max_pool2d_forward, (np.ones((0, 2, 4, 4)), 2)),
    (pool.avg_pool2d_forward, (np.ones((0, 2, 4, 4)), 2)),
], ids=lambda a: getattr(a, "__name__", ""))
def test_an_empty_batch_gives_an_empty_result(fn, args):
    """PyTorch accepts a batch of 0 images, and so do we: forward and backward."""
    out, cache = fn(*args)
    assert out.shape[0] == 0
    backward = getattr(cnnbook, fn.__name__.replace("_forward", "_backward"))
    grads = backward(np.ones(out.shape), cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert grads[0].shape == args[0].shape
