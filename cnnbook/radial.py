"""Ridge and radial activation functions of Chidiac's notes, §1.2.2, as forward/backward pairs and
Modules. See chapter 3.

A *ridge* function acts on a projection of the input, phi(v) = f(a + v'b): it varies
only along the direction b and is constant along every direction orthogonal to it (a
ridge). Chidiac writes the offset as a and the direction as b; here they are the ``bias``
and ``weight`` of a dense unit with one output, so ridge = dense unit + a 1-D activation.

A *radial* function depends only on the distance r = ||v - c|| to a centre c, as in
radial basis function (RBF) networks. With K centres, x: (N, D) and center: (K, D)
give out: (N, K); a single centre center: (D,) gives out: (N,).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import (as_float_array, check_dout, fits_in_memory, float_dtype, nan_in_nan_out,
                      positive_int, real_number)
from .activations import sigmoid
from ._init import make_rng, uniform_fan_in
from .module import Module

__all__ = [
    "RIDGE_FUNCTIONS", "ridge_forward", "ridge_backward", "gaussian_rbf_forward",
    "gaussian_rbf_backward", "multiquadric_forward", "multiquadric_backward",
    "inverse_multiquadric_forward", "inverse_multiquadric_backward", "Ridge",
    "RadialBasis", "RidgeCache", "RadialCache",
]

RIDGE_FUNCTIONS = ("linear", "relu", "heaviside", "logistic")


class RidgeCache(NamedTuple):
    """What ``ridge_backward`` needs from the forward pass."""
    x: np.ndarray  # (N, D)
    weight: np.ndarray  # (D,)
    bias: np.ndarray  # () or (1,), as given
    slope: np.ndarray  # f'(z), (N,): also the output's shape and working dtype
    gate: bool = False  # slope is 0 or 1 (relu, heaviside): where it is 0 no gradient passes


@nan_in_nan_out
def ridge_forward(x, weight, bias, *, fn="logistic"):
    """phi(x) = f(bias + x . weight) for f in Chidiac's list of ridge functions:

    linear: f(z) = z;  relu: max(0, z);  heaviside: 1 if z > 0 else 0;
    logistic: 1 / (1 + e^-z).

    x: (N, D), weight: (D,), bias: a scalar (0-d or (1,) array). Returns ``(out, cache)``
    with out: (N,). See chapter 3.
    """
    func = "ridge_forward"
    x = as_float_array(x, "x", func, ndim=2, layout="(N, D)")
    weight = as_float_array(weight, "weight", func, ndim=1, layout="(D,)")
    bias = as_float_array(bias, "bias", func)
    if weight.shape[0] != x.shape[1]:
        raise ValueError(f"{func}: weight has {weight.shape[0]} entries but x has {x.shape[1]} "
                         f"features (x.shape={x.shape}, weight.shape={weight.shape})")
    if bias.size != 1:
        raise ValueError(f"{func}: bias must be a single number, got bias.shape={bias.shape}")
    if fn not in RIDGE_FUNCTIONS:
        raise ValueError(f"{func}: fn must be one of {RIDGE_FUNCTIONS}, got {fn!r}")
    z = x @ weight + bias.reshape(())  # (N,)
    if fn == "linear":
        out, slope = z, np.ones_like(z)
    elif fn == "relu":
        out, slope = np.maximum(z, 0), (z > 0).astype(z.dtype)
    elif fn == "heaviside":
        out, slope = (z > 0).astype(z.dtype), np.zeros_like(z)
    else:
        out = sigmoid(z)
        slope = out * (1 - out)
    return out, RidgeCache(x, weight, bias, slope, fn in ("relu", "heaviside"))


@nan_in_nan_out
def ridge_backward(dout, cache):
    """dz = dout f'(z);  dx = dz weight^T,  dweight = x^T dz,  dbias = sum dz.

    dout: (N,). Returns ``(dx (N, D), dweight (D,), dbias)``, dbias shaped like bias, each
    in the dtype of what it is the gradient of. See chapter 3.
    """
    x, weight, bias, slope, gate = cache
    dout = check_dout(dout, slope.shape, slope.dtype, "ridge_backward")
    # a gate passes dout or 0 (not 0 * dout, NaN for an inf or NaN dout), as torch's relu
    dz = np.where(slope != 0, dout, 0) if gate else dout * slope  # (N,)
    dx = np.outer(dz, weight)  # (N, D)
    dweight = x.T @ dz  # (D,)
    dbias = np.asarray(dz.sum(), dtype=bias.dtype).reshape(bias.shape)  # () or (1,), as bias
    return dx.astype(x.dtype, copy=False), dweight.astype(weight.dtype, copy=False), dbias


# -- radial functions: phi depends on x only through r^2 = ||x - center||^2 ------------
class RadialCache(NamedTuple):
    """What the radial backward kernels need from the forward pass."""
    dphi_dr2: np.ndarray  # d phi / d r^2: (N, K), or (N,) for one centre; the output's shape
    diff: np.ndarray  # x - center, (N, K, D)
    single: bool  # center was (D,), not (K, D)
    x_dtype: np.dtype
    center_dtype: np.dtype


def _squared_distance(x, center, func):
    x = as_float_array(x, "x", func, ndim=2, layout="(N, D)")
    center = as_float_array(center, "center", func, ndim=(1, 2), layout="(K, D) or (D,)")
    if center.shape[-1] != x.shape[1]:
        raise ValueError(f"{func}: center has {center.shape[-1]} features but x has {x.shape[1]} "
                         f"(x.shape={x.shape}, center.shape={center.shape})")
    single = center.ndim == 1
    diff = x[:, None, :] - center.reshape(-1, x.shape[1])[None, :, :]  # (N, K, D)
    r2 = (diff * diff).sum(axis=-1)  # (N, K)
    return (r2[:, 0] if single else r2), diff, single, x.dtype, center.dtype


@nan_in_nan_out
def _radial_backward(dout, cache, func):
    """Chain rule through r^2: d r^2 / dx = 2 (x - c), d r^2 / dc = -2 (x - c)."""
    dout = check_dout(dout, cache.dphi_dr2.shape, cache.dphi_dr2.dtype, func)
    g = dout * cache.dphi_dr2
    g = g[:, None] if cache.single else g  # (N, K)
    contrib = 2 * g[:, :, None] * cache.diff  # (N, K, D)
    dx = contrib.sum(axis=1)  # (N, D)
    dcenter = -contrib.sum(axis=0)  # (K, D)
    dcenter = dcenter[0] if cache.single else dcenter  # like center
    return dx.astype(cache.x_dtype, copy=False), dcenter.astype(cache.center_dtype, copy=False)


@nan_in_nan_out
def gaussian_rbf_forward(x, center, *, sigma=1.0):
    """phi(x) = exp(-||x - c||^2 / (2 sigma^2))  (Chidiac; = exp(-(eps r)^2), eps = 1/(sigma sqrt 2)).

    x: (N, D), center: (K, D) -> out (N, K), or center: (D,) -> out (N,).
    Returns ``(out, cache)``. See chapter 3.
    """
    func = "gaussian_rbf_forward"
    sigma = real_number(sigma, "sigma", func, minimum=0, open_min=True)
    r2, *rest = _squared_distance(x, center, func)
    two_var = 2 * sigma * sigma  # not sigma**2: a float's ** raises OverflowError for 1e300
    out = np.exp(-r2 / two_var)
    return out, RadialCache(-out / two_var, *rest)


@nan_in_nan_out
def gaussian_rbf_backward(dout, cache):
    """dphi/dr^2 = -phi / (2 sigma^2). dout shaped like the output; returns
    ``(dx (N, D), dcenter)``, dcenter shaped like center. See chapter 3."""
    return _radial_backward(dout, cache, "gaussian_rbf_backward")


@nan_in_nan_out
def multiquadric_forward(x, center, *, a=1.0):
    """phi(x) = sqrt(||x - c||^2 + a^2), the "multiquadratic" of Chidiac (usual name:
    multiquadric; = a sqrt(1 + (eps r)^2) with eps = 1/a).

    x: (N, D), center: (K, D) -> out (N, K), or center: (D,) -> out (N,).
    Returns ``(out, cache)``. See chapter 3.
    """
    func = "multiquadric_forward"
    a = real_number(a, "a", func, minimum=0, open_min=True)
    r2, *rest = _squared_distance(x, center, func)
    out = np.hypot(np.sqrt(r2), a)  # sqrt(r^2 + a^2) without squaring a: a = 1e300 is fine
    return out, RadialCache(0.5 / out, *rest)


@nan_in_nan_out
def multiquadric_backward(dout, cache):
    """dphi/dr^2 = 1 / (2 phi). dout shaped like the output; returns
    ``(dx (N, D), dcenter)``, dcenter shaped like center. See chapter 3."""
    return _radial_backward(dout, cache, "multiquadric_backward")


@nan_in_nan_out
def inverse_multiquadric_forward(x, center, *, a=1.0):
    """phi(x) = (||x - c||^2 + a^2)^(-1/2) (Chidiac's inverse multiquadratic).

    x: (N, D), center: (K, D) -> out (N, K), or center: (D,) -> out (N,).
    Returns ``(out, cache)``. See chapter 3.
    """
    func = "inverse_multiquadric_forward"
    a = real_number(a, "a", func, minimum=0, open_min=True)
    r2, *rest = _squared_distance(x, center, func)
    out = 1 / np.hypot(np.sqrt(r2), a)
    return out, RadialCache(-0.5 * out**3, *rest)


@nan_in_nan_out
def inverse_multiquadric_backward(dout, cache):
    """dphi/dr^2 = -phi^3 / 2. dout shaped like the output; returns
    ``(dx (N, D), dcenter)``, dcenter shaped like center. See chapter 3."""
    return _radial_backward(dout, cache, "inverse_multiquadric_backward")


# -- Modules --------------------------------------------------------------------------
class Ridge(Module):
    """One ridge unit, f(bias + x . weight): a dense unit with one output and a 1-D
    activation. x: (N, in_features) -> (N,). See chapter 3."""

    def __init__(self, in_features: int, *, fn: str = "logistic", rng=None, dtype=np.float32):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", "Ridge")
        if not isinstance(fn, str) or fn not in RIDGE_FUNCTIONS:
            raise ValueError(f"Ridge: fn must be one of {RIDGE_FUNCTIONS}, got {fn!r}")
        self.fn = fn
        dtype = float_dtype(dtype, "Ridge")
        fits_in_memory((in_features,), "weight", "Ridge", f"in_features={in_features}")
        rng = make_rng(rng)
        self.params["weight"] = uniform_fan_in((in_features,), in_features, rng, dtype)
        self.params["bias"] = uniform_fan_in((1,), in_features, rng, dtype)
        self.zero_grad()

    def forward(self, x):
        out, cache = ridge_forward(x, self.params["weight"], self.params["bias"], fn=self.fn)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        dx, dweight, dbias = ridge_backward(dout, self._pop_cache())
        self._store_grads(weight=dweight, bias=dbias)
        return dx

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, fn={self.fn!r}"


_RADIAL = {
    "gaussian": (gaussian_rbf_forward, gaussian_rbf_backward, "sigma"),
    "multiquadric": (multiquadric_forward, multiquadric_backward, "a"),
    "inverse_multiquadric": (inverse_multiquadric_forward, inverse_multiquadric_backward, "a"),
}


class RadialBasis(Module):
    """A layer of K radial units with learnable centres ``center`` (K, in_features):
    x: (N, in_features) -> (N, K). ``function`` is "gaussian" (width ``sigma``),
    "multiquadric" or "inverse_multiquadric" (shape parameter ``a``). See chapter 3."""

    def __init__(self, in_features: int, num_centers: int, *, function: str = "gaussian",
                 sigma: float = 1.0, a: float = 1.0, rng=None, dtype=np.float32):
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", "RadialBasis")
        self.num_centers = positive_int(num_centers, "num_centers", "RadialBasis")
        if not isinstance(function, str) or function not in _RADIAL:
            raise ValueError(f"RadialBasis: function must be one of {tuple(_RADIAL)}, got {function!r}")
        dtype = float_dtype(dtype, "RadialBasis")
        fits_in_memory((num_centers, in_features), "center", "RadialBasis",
                       f"in_features={in_features}, num_centers={num_centers}")
        self.function = function
        name = _RADIAL[function][2]
        value = sigma if name == "sigma" else a
        self.hyper = {name: real_number(value, name, "RadialBasis", minimum=0, open_min=True)}
        self.params["center"] = make_rng(rng).standard_normal((num_centers, in_features)).astype(dtype)
        self.zero_grad()

    def forward(self, x):
        fwd = _RADIAL[self.function][0]
        out, cache = fwd(x, self.params["center"], **self.hyper)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        dx, dcenter = _RADIAL[self.function][1](dout, self._pop_cache())
        self._store_grads(center=dcenter)
        return dx

    def extra_repr(self) -> str:
        hyper = ", ".join(f"{k}={v}" for k, v in self.hyper.items())
        return (f"in_features={self.in_features}, num_centers={self.num_centers}, "
                f"function={self.function!r}, {hyper}")
