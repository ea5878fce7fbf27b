"""Sweep entries for the kernel pairs: the valid calls are the kernel contract's registry
builders (tests/test_kernel_contract.py), the twins ``torch.nn.functional``."""
from __future__ import annotations

import inspect

import numpy as np
import torch
import torch.nn.functional as F

from sweep_core import Entry, same
from test_kernel_contract import REGISTRY

import cnnbook


def T(a):
    """A NumPy array as a torch tensor (its own dtype); anything else as it is, for torch
    to accept or refuse."""
    if isinstance(a, (np.ndarray, np.generic)):
        return torch.from_numpy(np.array(a))
    return a


def need(condition, what="outside the kernel's documented shapes"):
    """The documented contract, where torch would broadcast or guess: raise instead."""
    if not condition:
        raise ValueError(what)


def flag(value):
    need(isinstance(value, (bool, np.bool_)), "a flag must be True or False")
    return bool(value)


def heaviside(z, at_zero):
    return torch.heaviside(z, torch.tensor(at_zero, dtype=z.dtype))


def ridge(x, weight, bias, *, fn="logistic"):
    x, weight, bias = T(x), T(weight), T(bias)
    need(x.dim() == 2 and weight.dim() == 1 and bias.numel() == 1)
    z = x @ weight + bias.reshape(())
    return {"linear": lambda: z, "relu": lambda: F.relu(z), "heaviside": lambda: heaviside(z, 0.0),
            "logistic": lambda: torch.sigmoid(z)}[fn]()


def radial(phi):
    def twin(x, center, **hyper):
        x, center = T(x), T(center)
        need(x.dim() == 2 and center.dim() in (1, 2) and center.shape[-1] == x.shape[1])
        diff = x[:, None, :] - center.reshape(-1, x.shape[1])[None]  # (N, K, D)
        out = phi((diff * diff).sum(-1), **hyper)  # (N, K)
        return out[:, 0] if center.dim() == 1 else out
    return twin


def _sigma(sigma=1.0):
    need(isinstance(sigma, (int, float)) and not isinstance(sigma, bool) and sigma > 0)
    return sigma


def _a(a=1.0):
    need(isinstance(a, (int, float)) and not isinstance(a, bool) and a > 0)
    return a


def _t(value):
    """A Python number as a float64 tensor, so that its square overflows to inf as in NumPy
    (Python's ``**`` raises OverflowError instead)."""
    return torch.tensor(float(value), dtype=torch.float64)


def conv1d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, causal=False):
    x = T(x)
    if flag(causal):
        need(padding == 0 and isinstance(dilation, int) and dilation >= 1)
        x = F.pad(x, (dilation * (T(weight).shape[-1] - 1), 0))
    return F.conv1d(x, T(weight), T(bias), stride=stride, padding=padding, dilation=dilation)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, *, training=False,
               momentum=0.1, eps=1e-5):
    need(isinstance(running_mean, np.ndarray) or running_mean is None)
    return F.batch_norm(T(x), T(running_mean), T(running_var), T(weight), T(bias),
                        training=flag(training), momentum=momentum, eps=eps)


def layer_norm(x, normalized_shape, weight=None, bias=None, *, eps=1e-5):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    return F.layer_norm(T(x), shape, T(weight), T(bias), eps=eps)


def sdpa(q, k, v, *, attn_mask=None, is_causal=False, scale=None):
    q, k, v = T(q), T(k), T(v)
    need(q.dim() in (3, 4) and q.dim() == k.dim() == v.dim())
    return F.scaled_dot_product_attention(q, k, v, attn_mask=T(attn_mask), is_causal=flag(is_causal),
                                          scale=scale)


def mha(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, *, num_heads,
        attn_mask=None):
    x = T(x)
    need(x.dim() == 3)
    xt = x.transpose(0, 1)  # (T, N, D): torch's functional form is sequence first
    mask = T(attn_mask)
    out, _ = F.multi_head_attention_forward(
        xt, xt, xt, x.shape[2], num_heads, T(in_proj_weight), T(in_proj_bias), None, None, False,
        0.0, T(out_proj_weight), T(out_proj_bias), training=False, need_weights=False,
        attn_mask=mask)
    return out.transpose(0, 1)


def global_avg_pool(x):
    x = T(x)
    need(x.dim() == 4)
    return F.adaptive_avg_pool2d(x, 1).flatten(1)


def dropout_rule_of(kernel):
    """The same seed draws the same mask: dropout(x) = x * dropout(ones) (NaN where x is);
    for dropout_forward and dropout2d_forward alike."""
    def rule(result, args):
        x = np.asarray(args["x"], dtype=np.float64)
        mask, _ = kernel(np.ones(x.shape), args["p"], training=args["training"], rng=args["rng"])
        with np.errstate(invalid="ignore"):  # inf * 0 = NaN, as in the kernel
            return same(result, x * mask)
    return rule


# name -> (kinds of its arguments, twin with our signature, extra keyword arguments)
ARR, INT, FLT, BOOL = "array", "int", "float", "bool"
SINGLE = {"x": ARR}
CONV = {"x": ARR, "weight": ARR, "bias": ARR, "stride": INT, "padding": (INT, "str"),
        "dilation": INT}
POOL = {"x": ARR, "kernel_size": INT, "stride": INT, "padding": INT}
BN = {"x": ARR, "running_mean": ARR, "running_var": ARR, "weight": ARR, "bias": ARR,
      "training": BOOL, "momentum": FLT, "eps": FLT}
SDPA = {"q": ARR, "k": ARR, "v": ARR, "attn_mask": ARR, "is_causal": BOOL, "scale": FLT}
FORWARD = {
    "identity_forward": (SINGLE, lambda x: T(x).clone()),
    "binary_step_forward": (SINGLE, lambda x: heaviside(T(x), 1.0)),
    "sigmoid_forward": (SINGLE, lambda x: torch.sigmoid(T(x))),
    "tanh_forward": (SINGLE, lambda x: torch.tanh(T(x))),
    "arctan_forward": (SINGLE, lambda x: torch.atan(T(x))),
    "relu_forward": (SINGLE, lambda x: F.relu(T(x))),
    "leaky_relu_forward": ({"x": ARR, "negative_slope": FLT},
                           lambda x, *, negative_slope=0.01: F.leaky_relu(T(x), negative_slope)),
    "prelu_forward": ({"x": ARR, "weight": ARR}, lambda x, weight: F.prelu(T(x), T(weight))),
    "elu_forward": ({"x": ARR, "alpha": FLT}, lambda x, *, alpha=1.0: F.elu(T(x), alpha)),
    "softplus_forward": ({"x": ARR, "beta": FLT, "threshold": FLT},
                         lambda x, *, beta=1.0, threshold=20.0: F.softplus(T(x), beta, threshold)),
    "softmax_forward": ({"x": ARR, "dim": INT}, lambda x, *, dim=-1: F.softmax(T(x), dim)),
    "log_softmax_forward": ({"x": ARR, "dim": INT}, lambda x, *, dim=-1: F.log_softmax(T(x), dim)),
    "ridge_forward": ({"x": ARR, "weight": ARR, "bias": ARR, "fn": "str"}, ridge),
    "gaussian_rbf_forward": ({"x": ARR, "center": ARR, "sigma": FLT},
                             radial(lambda r2, sigma=1.0: torch.exp(-r2 / (2 * _t(_sigma(sigma)) ** 2)))),
    "multiquadric_forward": ({"x": ARR, "center": ARR, "a": FLT},
                             radial(lambda r2, a=1.0: torch.hypot(torch.sqrt(r2), _t(_a(a))))),
    "inverse_multiquadric_forward": ({"x": ARR, "center": ARR, "a": FLT},
                                     radial(lambda r2, a=1.0: 1 / torch.hypot(torch.sqrt(r2), _t(_a(a))))),
    "dense_forward": ({"x": ARR, "weight": ARR, "bias": ARR},
                      lambda x, weight, bias=None: F.linear(T(x), T(weight), T(bias))),
    "conv2d_forward": (CONV, lambda x, weight, bias=None, *, stride=1, padding=0, dilation=1:
                       F.conv2d(T(x), T(weight), T(bias), stride, padding, dilation)),
    "conv1d_forward": ({**CONV, "causal": BOOL}, conv1d),
    "conv_transpose2d_forward": (
        {**CONV, "padding": INT, "output_padding": INT},
        lambda x, weight, bias=None, *, stride=1, padding=0, output_padding=0, dilation=1:
        F.conv_transpose2d(T(x), T(weight), T(bias), stride, padding, output_padding, 1, dilation)),
    "max_pool2d_forward": (POOL, lambda x, kernel_size, *, stride=None, padding=0:
                           F.max_pool2d(T(x), kernel_size, stride, padding)),
    "avg_pool2d_forward": (POOL, lambda x, kernel_size, *, stride=None, padding=0:
                           F.avg_pool2d(T(x), kernel_size, stride, padding)),
    "global_avg_pool2d_forward": (SINGLE, global_avg_pool),
    "flatten_forward": (SINGLE, lambda x: torch.flatten(T(x), 1)),
    "batch_norm_forward": (BN, batch_norm),
    "layer_norm_forward": ({"x": ARR, "normalized_shape": INT, "weight": ARR, "bias": ARR,
                            "eps": FLT}, layer_norm),
    "dropout_forward": ({"x": ARR, "p": FLT, "training": BOOL, "rng": "rng"}, None),
    "dropout2d_forward": ({"x": ARR, "p": FLT, "training": BOOL, "rng": "rng"}, None),
    "scaled_dot_product_attention_forward": (SDPA, sdpa),
    "multi_head_attention_forward": (
        {"x": ARR, "in_proj_weight": ARR, "in_proj_bias": ARR, "out_proj_weight": ARR,
         "out_proj_bias": ARR, "num_heads": INT, "attn_mask": ARR}, mha),
    "concat_forward": ({"arrays[0]": ARR, "arrays[1]": ARR, "axis": INT},
                       lambda a0, a1, *, axis=1: torch.cat([T(a0), T(a1)], dim=axis)),
    # chapter 10
    "gelu_forward": ({"x": ARR, "approximate": "str"},
                     lambda x, *, approximate="none": F.gelu(T(x), approximate=approximate)),
}
# chapter 9
FORWARD["local_response_norm_forward"] = (
    {"x": ARR, "size": INT, "alpha": FLT, "beta": FLT, "k": FLT},
    lambda x, size, *, alpha=1e-4, beta=0.75, k=1.0: F.local_response_norm(T(x), size, alpha,
                                                                           beta, k))
for _naive, _fast in (("conv2d_forward_naive", "conv2d_forward"),
                      ("max_pool2d_forward_naive", "max_pool2d_forward"),
                      ("batch_norm_forward_naive", "batch_norm_forward"),
                      ("scaled_dot_product_attention_forward_naive",
                       "scaled_dot_product_attention_forward")):
    FORWARD[_naive] = FORWARD[_fast]

# Valid calls that vary more than the registry's: every keyword is given, so that it is swept.
MORE = {
    "conv2d_forward": {"stride": 1, "dilation": 1},
    "conv2d_forward_naive": {"padding": 1, "dilation": 1},
    "conv1d_forward": {"stride": 1, "padding": 0, "causal": False},
    "conv_transpose2d_forward": {"padding": 0, "output_padding": 1, "dilation": 1},
    "max_pool2d_forward": {"stride": 2},
    "max_pool2d_forward_naive": {"padding": 1},
    "avg_pool2d_forward": {"padding": 1},
    "leaky_relu_forward": {},
    "softplus_forward": {"threshold": 20.0},
    "ridge_forward": {},
    "gaussian_rbf_forward": {"sigma": 1.5},
    "multiquadric_forward": {"a": 0.5},
    "inverse_multiquadric_forward": {"a": 2.0},
    "batch_norm_forward": {"momentum": 0.1, "eps": 1e-5},
    "batch_norm_forward_naive": {"training": True, "momentum": 0.1, "eps": 1e-5},
    "layer_norm_forward": {"eps": 1e-5},
    "dropout_forward": {"training": True},
    "dropout2d_forward": {"training": True},
    "scaled_dot_product_attention_forward": {"is_causal": False, "scale": 0.5,
                                             "attn_mask": np.tri(3, 5, dtype=bool)},
    "scaled_dot_product_attention_forward_naive": {"is_causal": False, "scale": 0.5,
                                                   "attn_mask": np.tri(3, 5, dtype=bool)},
    "multi_head_attention_forward": {"attn_mask": ~np.tri(3, 3, dtype=bool)},
}


def _forward_args(pair):
    """The registry's valid call as {argument: value}, every keyword of MORE added."""
    def build():
        args, kwargs = pair.build(np.random.default_rng(0))
        if pair.name == "concat_forward":
            names = ["arrays[0]", "arrays[1]"]
        else:
            names = list(inspect.signature(pair.forward).parameters)[:len(args)]
        out = dict(zip(names, args))
        out.update(kwargs)
        for key, value in MORE.get(pair.name, {}).items():
            out[key] = value.copy() if isinstance(value, np.ndarray) else value
        return out
    return build


def _concat(a0, a1, *, axis=1):
    return cnnbook.concat_forward([a0, a1], axis=axis)


def forward_entry(pair) -> Entry:
    kinds, twin = FORWARD[pair.name]
    build = _forward_args(pair)
    npos = len(pair.build(np.random.default_rng(0))[0])
    fn = _concat if pair.name == "concat_forward" else pair.forward
    return Entry(pair.name, lambda *a, **k: fn(*a, **k)[0], build, kinds, npos=npos,
                 twin=twin, rule=dropout_rule_of(pair.forward) if twin is None else None,
                 equiv=EQUIV.get(pair.name, {}), accept=ACCEPT.get(pair.name, {}),
                 nocast=NOCAST.get(pair.name, ()))


# Twins for autograd where the forward's twin has no derivative: torch.sign's backward is
# zeros whatever dout holds, as the step's (its derivative is 0 wherever it exists).
BACKWARD_TWIN = {"binary_step_forward": lambda x: torch.sign(T(x))}

# Bad values whose right result torch cannot compute, and the equivalent value it can.
BIG_STRIDE = "a stride beyond the input leaves one window, as with stride 100 here; torch " \
             "keeps strides as 32-bit ints and refuses 10**12"
EQUIV = {
    "max_pool2d_forward": {("stride", "10**12"): (100, BIG_STRIDE)},
    "max_pool2d_forward_naive": {("stride", "10**12"): (100, BIG_STRIDE)},
    "avg_pool2d_forward": {("stride", "10**12"): (100, BIG_STRIDE)},
}
ACCEPT = {
    "batch_norm_forward_naive": {
        ("weight", "inf"): "weight = inf: the naive formula weight * xhat + bias gives +-inf; "
                           "torch's fused scale * x + shift (and the fast kernel's) gives "
                           "inf - inf = NaN: both are the formula evaluated in floats"},
}
# chapter 9
MORE["local_response_norm_forward"] = {"beta": 0.75, "k": 1.0}
NOCAST = {"scaled_dot_product_attention_forward": ("attn_mask",),
          "scaled_dot_product_attention_forward_naive": ("attn_mask",),
          "multi_head_attention_forward": ("attn_mask",)}


def backward_entry(pair) -> Entry:
    """backward(dout, cache) with dout varied; the twin is torch's autograd through the
    forward's twin on the same valid inputs."""
    build_forward = _forward_args(pair)
    npos = len(pair.build(np.random.default_rng(0))[0])
    fn = _concat if pair.name == "concat_forward" else pair.forward
    kinds, twin = FORWARD[pair.name]
    twin = BACKWARD_TWIN.get(pair.name, twin)

    def build():
        args = build_forward()
        values = list(args.values())
        out, cache = fn(*values[:npos], **dict(list(args.items())[npos:]))
        dout = np.random.default_rng(1).standard_normal(out.shape)
        return {"dout": dout, "cache": cache}

    def torch_backward(dout, cache):
        args = build_forward()
        leaves = {}
        for i in pair.grad_of:
            key = list(args)[i]
            leaves[key] = T(args[key]).requires_grad_(True)
            args[key] = leaves[key]
        values = list(args.values())
        out = twin(*values[:npos], **dict(list(args.items())[npos:]))
        grads = torch.autograd.grad(out, list(leaves.values()), T(dout), allow_unused=True)
        grads = [torch.zeros_like(leaf) if g is None else g for g, leaf in zip(grads, leaves.values())]
        return grads[0] if len(grads) == 1 else tuple(grads)

    def dropout_backward_rule(result, args):
        """dx = dout * mask, the mask the forward kept (NaN where dout is)."""
        mask = args["cache"][0]
        dout = np.asarray(args["dout"], dtype=np.float64)
        with np.errstate(invalid="ignore"):  # inf * 0 = NaN, as in the kernel
            return same(result, dout.copy() if mask is None else dout * mask)

    return Entry(pair.backward.__name__, pair.backward, build, {"dout": "array"}, npos=2,
                 twin=None if twin is None else torch_backward,
                 rule=dropout_backward_rule if twin is None else None,
                 fixed="cache: what the forward returned (not varied)")


KERNEL_ENTRIES = [forward_entry(p) for p in REGISTRY] + [backward_entry(p) for p in REGISTRY]
