"""Sweep entries for the Module classes: each constructor (its arguments), ``forward`` with a
bad x and ``backward`` with a bad dout. The twins are ``torch.nn`` modules holding the same
parameters (loaded from our ``state_dict``, whose names are PyTorch's)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sweep_core import Entry, same, to_numpy
from sweep_kernels import T, flag, heaviside, need, radial, ridge

import cnnbook
from cnnbook.module import Module

RENAME = {"out_proj_weight": "out_proj.weight", "out_proj_bias": "out_proj.bias"}


def torch_name(name):
    head, _, last = name.rpartition(".")
    last = RENAME.get(last, last)
    return f"{head}.{last}" if head else last


def load(tm, m):
    """Copy our module's parameters and buffers into the torch twin (float64)."""
    tm.double()
    state = {torch_name(k): torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()}
    tm.load_state_dict(state, strict=True)
    tm.train(m.training)
    return tm


def torch_dtype(dtype):
    need(dtype in (np.float32, np.float64), "dtype must be float32 or float64")
    return torch.float64


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def step(x):
    """The Heaviside step, with torch.sign's zero gradient (heaviside has no backward)."""
    sign = torch.sign(x)
    return heaviside(x, 1.0).detach() + (sign - sign.detach())


class TorchRidge(nn.Module):
    def __init__(self, in_features, *, fn="logistic", rng=None, dtype=np.float64):
        super().__init__()
        need(isinstance(in_features, int) and not isinstance(in_features, bool) and in_features > 0)
        need(fn in cnnbook.radial.RIDGE_FUNCTIONS)
        torch_dtype(dtype)
        self.weight = nn.Parameter(torch.zeros(in_features, dtype=torch.float64))
        self.bias = nn.Parameter(torch.zeros(1, dtype=torch.float64))
        self.fn = fn

    def forward(self, x):
        return ridge(x, self.weight, self.bias, fn=self.fn)


PHI = {"gaussian": lambda r2, sigma, a: torch.exp(-r2 / (2 * torch.tensor(sigma) ** 2)),
       "multiquadric": lambda r2, sigma, a: torch.hypot(torch.sqrt(r2), torch.tensor(a)),
       "inverse_multiquadric": lambda r2, sigma, a: 1 / torch.hypot(torch.sqrt(r2), torch.tensor(a))}


class TorchRadial(nn.Module):
    def __init__(self, in_features, num_centers, *, function="gaussian", sigma=1.0, a=1.0,
                 rng=None, dtype=np.float64):
        super().__init__()
        for n in (in_features, num_centers):
            need(isinstance(n, int) and not isinstance(n, bool) and n > 0)
        need(function in PHI)
        value = sigma if function == "gaussian" else a
        need(isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < np.inf)
        torch_dtype(dtype)
        self.center = nn.Parameter(torch.zeros(num_centers, in_features, dtype=torch.float64))
        self.phi = lambda r2: PHI[function](r2, sigma, a)

    def forward(self, x):
        return radial(lambda r2: self.phi(r2))(x, self.center)


class TorchCausalConv1d(nn.Conv1d):
    def forward(self, x):
        return super().forward(nn.functional.pad(x, (self.dilation[0] * (self.kernel_size[0] - 1), 0)))


def conv1d_twin(in_channels, out_channels, kernel_size, *, stride=1, padding=0, dilation=1,
                causal=False, bias=True, rng=None, dtype=np.float64):
    torch_dtype(dtype)
    if flag(causal):
        need(padding == 0)
        return TorchCausalConv1d(in_channels, out_channels, kernel_size, stride=stride,
                                 dilation=dilation, bias=flag(bias))
    return nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                     dilation=dilation, bias=flag(bias))


class TorchMHA(nn.MultiheadAttention):
    def forward(self, x):
        return super().forward(x, x, x, need_weights=False)[0]


class TorchResidual(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = of(block)

    def forward(self, x):
        return x + self.block(x)


class TorchConcatSkip(TorchResidual):
    def forward(self, x):
        return torch.cat([x, self.block(x)], dim=1)


def torch_lenet(n_classes=10, rng=None, channels=(6, 16), kernel=5, stride=1, padding2=0):
    c1, c2 = channels
    convs = nn.Sequential(nn.Conv2d(1, c1, kernel, stride=stride, padding=kernel // 2), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(c1, c2, kernel, padding=padding2), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten())
    n_flat = convs(torch.zeros(1, 1, 28, 28)).shape[1]
    return nn.Sequential(*convs, nn.Linear(n_flat, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, n_classes))


# -- chapter 7: lenet_bn and residual_stack ------------------------------------------------
def torch_lenet_bn(n_classes=10, rng=None, *, activation="relu", batch_norm=True):
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[activation]
    norm = (lambda bn: [bn]) if flag(batch_norm) else (lambda bn: [])
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), *norm(nn.BatchNorm2d(6)), act(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), *norm(nn.BatchNorm2d(16)), act(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), *norm(nn.BatchNorm1d(120)), act(),
        nn.Linear(120, 84), *norm(nn.BatchNorm1d(84)), act(), nn.Linear(84, n_classes))


class _TorchAdd(nn.Module):
    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, x):
        return x + self.block(x)


def _float64_module_same(probe_shape):
    """module_same after our float32 model's parameters and buffers are cast to float64
    (else eval mode compares float32 running statistics with torch's float64 ones)."""
    check = module_same(probe_shape)

    def same64(got, want):
        if isinstance(got, Module):
            for _, m in got.named_modules():
                for store in (m.params, m.buffers):
                    for k, v in store.items():
                        if np.issubdtype(v.dtype, np.floating):
                            store[k] = v.astype(np.float64)
            got.zero_grad()
        return check(got, want)
    return same64


def torch_residual_stack(n_blocks, channels=16, *, batch_norm=False, rng=None):
    def block():
        norm = (lambda: [nn.BatchNorm2d(channels)]) if flag(batch_norm) else (lambda: [])
        conv = lambda: nn.Conv2d(channels, channels, 3, padding=1, bias=False)  # noqa: E731
        return _TorchAdd(nn.Sequential(conv(), *norm(), nn.ReLU(), conv(), *norm()))
    return nn.Sequential(*[block() for _ in range(n_blocks)])


def _ctor(make):
    """A torch constructor taking our arguments: rng dropped, dtype and flags checked."""
    def twin(*args, rng=None, dtype=np.float64, bias=True, **kwargs):
        torch_dtype(dtype)
        return make(*args, bias=flag(bias), **kwargs)
    return twin


# class -> (constructor's valid arguments, npos, kinds, probe shape, torch constructor,
#           torch twin of a built module)
def _bn_of(m):
    tracking = bool(m.buffers)
    return nn.BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum,
                          affine="weight" in m.params, track_running_stats=tracking)


def _bn_ctor(cls):
    def twin(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *,
             dtype=np.float64):
        torch_dtype(dtype)
        need(isinstance(eps, float) and eps >= 0 and isinstance(momentum, float) and 0 <= momentum <= 1)
        return cls(num_features, eps=eps, momentum=momentum, affine=flag(affine),
                   track_running_stats=flag(track_running_stats))
    return twin


def _ln_ctor(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *, dtype=np.float64):
    torch_dtype(dtype)
    need(isinstance(eps, float) and eps >= 0)
    return nn.LayerNorm(normalized_shape, eps=eps, elementwise_affine=flag(elementwise_affine),
                        bias=flag(bias))


def _mha_ctor(embed_dim, num_heads, *, bias=True, rng=None, dtype=np.float64):
    torch_dtype(dtype)
    return TorchMHA(embed_dim, num_heads, bias=flag(bias), batch_first=True)


def _number(value, low=-np.inf, high=np.inf, open_low=False):
    need(isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
         and (value > low if open_low else value >= low) and value <= high)
    return value


def _pool_ctor(cls):
    def twin(kernel_size, stride=None, padding=0):
        module = cls(kernel_size, stride, padding)
        module(torch.zeros(1, 1, 8, 8, dtype=torch.float64))  # torch checks at the first call
        return module
    return twin


F64 = np.float64
I, R, BL, RNG, DT = "int", "float", "bool", "rng", "dtype"
LAYERS = {
    cnnbook.Dense: (dict(in_features=2, out_features=3, bias=True, rng=0, dtype=F64), 2,
                    {"in_features": I, "out_features": I, "bias": BL, "rng": RNG, "dtype": DT},
                    (4, 2), _ctor(nn.Linear),
                    lambda m: nn.Linear(m.in_features, m.out_features, bias="bias" in m.params)),
    cnnbook.Identity: ({}, 0, {}, (3, 4), nn.Identity, lambda m: nn.Identity()),
    cnnbook.BinaryStep: ({}, 0, {}, (3, 4), lambda: Fn(step), lambda m: Fn(step)),
    cnnbook.Sigmoid: ({}, 0, {}, (3, 4), nn.Sigmoid, lambda m: nn.Sigmoid()),
    cnnbook.Tanh: ({}, 0, {}, (3, 4), nn.Tanh, lambda m: nn.Tanh()),
    cnnbook.ArcTan: ({}, 0, {}, (3, 4), lambda: Fn(torch.atan), lambda m: Fn(torch.atan)),
    cnnbook.ReLU: ({}, 0, {}, (3, 4), nn.ReLU, lambda m: nn.ReLU()),
    cnnbook.LeakyReLU: (dict(negative_slope=0.1), 1, {"negative_slope": R}, (3, 4),
                        lambda negative_slope=0.01: nn.LeakyReLU(_number(negative_slope)),
                        lambda m: nn.LeakyReLU(m.negative_slope)),
    cnnbook.PReLU: (dict(num_parameters=4, init=0.25, dtype=F64), 2,
                    {"num_parameters": I, "init": R, "dtype": DT}, (3, 4),
                    lambda num_parameters=1, init=0.25, *, dtype=F64:
                    nn.PReLU(num_parameters, _number(init), dtype=torch_dtype(dtype)),
                    lambda m: nn.PReLU(m.num_parameters)),
    cnnbook.ELU: (dict(alpha=0.5), 1, {"alpha": R}, (3, 4),
                  lambda alpha=1.0: nn.ELU(_number(alpha)), lambda m: nn.ELU(m.alpha)),
    cnnbook.Softplus: (dict(beta=2.0, threshold=20.0), 2, {"beta": R, "threshold": R}, (3, 4),
                       lambda beta=1.0, threshold=20.0: nn.Softplus(_number(beta, 0, open_low=True),
                                                                    _number(threshold)),
                       lambda m: nn.Softplus(m.beta, m.threshold)),
    cnnbook.Softmax: (dict(dim=1), 1, {"dim": I}, (3, 4), lambda dim=-1: nn.Softmax(dim),
                      lambda m: nn.Softmax(m.dim)),
    cnnbook.LogSoftmax: (dict(dim=1), 1, {"dim": I}, (3, 4), lambda dim=-1: nn.LogSoftmax(dim),
                         lambda m: nn.LogSoftmax(m.dim)),
    cnnbook.Ridge: (dict(in_features=3, fn="relu", rng=0, dtype=F64), 1,
                    {"in_features": I, "fn": "str", "rng": RNG, "dtype": DT}, (4, 3), TorchRidge,
                    lambda m: TorchRidge(m.in_features, fn=m.fn)),
    cnnbook.RadialBasis: (dict(in_features=3, num_centers=4, function="gaussian", sigma=1.5, a=1.0,
                               rng=0, dtype=F64), 2,
                          {"in_features": I, "num_centers": I, "function": "str", "sigma": R,
                           "a": R, "rng": RNG, "dtype": DT}, (5, 3), TorchRadial,
                          lambda m: TorchRadial(m.in_features, m.num_centers, function=m.function,
                                                **m.hyper)),
    cnnbook.Conv1d: (dict(in_channels=2, out_channels=3, kernel_size=3, stride=1, padding=1,
                          dilation=1, causal=False, bias=True, rng=0, dtype=F64), 3,
                     {"in_channels": I, "out_channels": I, "kernel_size": I, "stride": I,
                      "padding": (I, "str"), "dilation": I, "causal": BL, "bias": BL, "rng": RNG,
                      "dtype": DT}, (2, 2, 6), conv1d_twin,
                     lambda m: conv1d_twin(m.in_channels, m.out_channels, m.kernel_size,
                                           stride=m.stride, padding=m.padding, dilation=m.dilation,
                                           causal=m.causal, bias="bias" in m.params)),
    cnnbook.Conv2d: (dict(in_channels=2, out_channels=3, kernel_size=3, stride=1, padding=1,
                          dilation=1, bias=True, rng=0, dtype=F64), 3,
                     {"in_channels": I, "out_channels": I, "kernel_size": I, "stride": I,
                      "padding": (I, "str"), "dilation": I, "bias": BL, "rng": RNG, "dtype": DT},
                     (2, 2, 5, 5), _ctor(nn.Conv2d),
                     lambda m: nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride,
                                         m.padding, m.dilation, bias="bias" in m.params)),
    cnnbook.ConvTranspose2d: (dict(in_channels=2, out_channels=3, kernel_size=2, stride=2,
                                   padding=0, output_padding=1, dilation=1, bias=True, rng=0,
                                   dtype=F64), 3,
                              {"in_channels": I, "out_channels": I, "kernel_size": I, "stride": I,
                               "padding": I, "output_padding": I, "dilation": I, "bias": BL,
                               "rng": RNG, "dtype": DT}, (2, 2, 3, 3), _ctor(nn.ConvTranspose2d),
                              lambda m: nn.ConvTranspose2d(
                                  m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                                  m.output_padding, bias="bias" in m.params, dilation=m.dilation)),
    cnnbook.MaxPool2d: (dict(kernel_size=2, stride=2, padding=1), 3,
                        {"kernel_size": I, "stride": I, "padding": I}, (2, 3, 4, 4),
                        _pool_ctor(nn.MaxPool2d),
                        lambda m: nn.MaxPool2d(m.kernel_size, m.stride, m.padding)),
    cnnbook.AvgPool2d: (dict(kernel_size=3, stride=2, padding=1), 3,
                        {"kernel_size": I, "stride": I, "padding": I}, (2, 3, 5, 4),
                        _pool_ctor(nn.AvgPool2d),
                        lambda m: nn.AvgPool2d(m.kernel_size, m.stride, m.padding)),
    cnnbook.GlobalAvgPool2d: ({}, 0, {}, (2, 3, 4, 4),
                              lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
                              lambda m: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())),
    cnnbook.Flatten: ({}, 0, {}, (2, 3, 2, 2), nn.Flatten, lambda m: nn.Flatten()),
    cnnbook.BatchNorm1d: (dict(num_features=3, eps=1e-5, momentum=0.1, affine=True,
                               track_running_stats=True, dtype=F64), 5,
                          {"num_features": I, "eps": R, "momentum": R, "affine": BL,
                           "track_running_stats": BL, "dtype": DT}, (4, 3),
                          _bn_ctor(nn.BatchNorm1d), _bn_of),
    cnnbook.BatchNorm2d: (dict(num_features=3, eps=1e-5, momentum=0.1, affine=True,
                               track_running_stats=True, dtype=F64), 5,
                          {"num_features": I, "eps": R, "momentum": R, "affine": BL,
                           "track_running_stats": BL, "dtype": DT}, (4, 3, 2, 2),
                          _bn_ctor(nn.BatchNorm2d),
                          lambda m: nn.BatchNorm2d(m.num_features, eps=m.eps, momentum=m.momentum,
                                                   affine="weight" in m.params,
                                                   track_running_stats=bool(m.buffers))),
    cnnbook.LayerNorm: (dict(normalized_shape=4, eps=1e-5, elementwise_affine=True, bias=True,
                             dtype=F64), 4,
                        {"normalized_shape": I, "eps": R, "elementwise_affine": BL, "bias": BL,
                         "dtype": DT}, (2, 3, 4), _ln_ctor,
                        lambda m: nn.LayerNorm(m.normalized_shape, eps=m.eps,
                                               elementwise_affine="weight" in m.params,
                                               bias="bias" in m.params)),
    cnnbook.Dropout: (dict(p=0.5, rng=0), 1, {"p": R, "rng": RNG}, (3, 4),
                      lambda p=0.5, *, rng=None: nn.Dropout(p), None),
    cnnbook.Dropout2d: (dict(p=0.5, rng=0), 1, {"p": R, "rng": RNG}, (2, 3, 2, 2),
                        lambda p=0.5, *, rng=None: nn.Dropout2d(p), None),
    cnnbook.MultiheadAttention: (dict(embed_dim=4, num_heads=2, bias=True, rng=0, dtype=F64), 2,
                                 {"embed_dim": I, "num_heads": I, "bias": BL, "rng": RNG,
                                  "dtype": DT}, (2, 3, 4), _mha_ctor,
                                 lambda m: TorchMHA(m.embed_dim, m.num_heads,
                                                    bias="in_proj_bias" in m.params,
                                                    batch_first=True)),
}


# -- chapter 10: GELU, positional embeddings, the encoder block ------------------------------
def _gelu_ctor(approximate="none"):
    need(isinstance(approximate, str) and approximate in ("none", "tanh"))
    return nn.GELU(approximate=approximate)


class TorchSinusoidal(nn.Module):
    def __init__(self, num_positions, dim, *, base=10000.0, dtype=F64):
        super().__init__()
        torch_dtype(dtype)
        for n in (num_positions, dim):
            need(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 10**6)
        need(dim % 2 == 0, "dim must be even")
        _number(base, 1, open_low=True)
        t = torch.arange(num_positions, dtype=torch.float64)[:, None]
        w = torch.tensor(float(base), dtype=torch.float64) ** (
            -torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        table = torch.empty(num_positions, dim, dtype=torch.float64)
        table[:, 0::2], table[:, 1::2] = torch.sin(t * w), torch.cos(t * w)
        self.register_buffer("table", table)

    def forward(self, x):
        need(x.ndim == 3 and x.shape[1] <= self.table.shape[0] and x.shape[2] == self.table.shape[1])
        return x + self.table[:x.shape[1]]


class TorchLearnedPositions(nn.Module):
    def __init__(self, num_positions, dim, *, rng=None, dtype=F64):
        super().__init__()
        torch_dtype(dtype)
        for n in (num_positions, dim):
            need(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 10**6)
        self.weight = nn.Parameter(torch.zeros(num_positions, dim, dtype=torch.float64))

    def forward(self, x):
        need(x.ndim == 3 and x.shape[1] <= self.weight.shape[0] and x.shape[2] == self.weight.shape[1])
        return x + self.weight[:x.shape[1]]


class TorchEncoderBlock(nn.TransformerEncoderLayer):
    def __init__(self, dim, num_heads, mlp_dim, *, eps=1e-5, approximate="none", rng=None,
                 dtype=F64):
        torch_dtype(dtype)
        for n in (dim, num_heads, mlp_dim):
            need(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 10**5)
        _number(eps, 0)
        need(isinstance(approximate, str) and approximate in ("none", "tanh"))
        super().__init__(dim, num_heads, mlp_dim, dropout=0.0,
                         activation="gelu" if approximate == "none" else nn.GELU(approximate="tanh"),
                         layer_norm_eps=eps, batch_first=True, norm_first=True)

    def forward(self, x):
        return super().forward(x)


LAYERS.update({
    cnnbook.GELU: (dict(approximate="tanh"), 1, {"approximate": "str"}, (3, 4), _gelu_ctor,
                   lambda m: nn.GELU(approximate=m.approximate)),
    cnnbook.SinusoidalPositionalEmbedding: (
        dict(num_positions=5, dim=4, base=10000.0, dtype=F64), 2,
        {"num_positions": I, "dim": I, "base": R, "dtype": DT}, (2, 3, 4), TorchSinusoidal,
        lambda m: TorchSinusoidal(m.num_positions, m.dim, base=m.base)),
    cnnbook.LearnedPositionalEmbedding: (
        dict(num_positions=5, dim=4, rng=0, dtype=F64), 2,
        {"num_positions": I, "dim": I, "rng": RNG, "dtype": DT}, (2, 3, 4), TorchLearnedPositions,
        lambda m: TorchLearnedPositions(m.num_positions, m.dim)),
    cnnbook.EncoderBlock: (
        dict(dim=4, num_heads=2, mlp_dim=6, eps=1e-5, approximate="none", rng=0, dtype=F64), 3,
        {"dim": I, "num_heads": I, "mlp_dim": I, "eps": R, "approximate": "str", "rng": RNG,
         "dtype": DT}, (2, 3, 4), TorchEncoderBlock,
        lambda m: TorchEncoderBlock(m.dim, m.num_heads, m.mlp_dim, eps=m.norm1.eps,
                                    approximate=m.activation.approximate)),
})

# chapter 9: local response normalization and the recurrent convolutional layer
from test_recurrent import TorchRCL  # noqa: E402


def _rcl_ctor(in_channels, out_channels, kernel_size=3, *, steps=3, lrn=True, rng=None,
              dtype=F64):
    torch_dtype(dtype)
    need(isinstance(steps, int) and not isinstance(steps, bool) and 0 <= steps <= 1000)
    return TorchRCL(in_channels, out_channels, kernel_size, steps, flag(lrn))


LAYERS.update({
    cnnbook.LocalResponseNorm: (dict(size=3, alpha=0.5, beta=0.75, k=1.0), 4,
                                {"size": I, "alpha": R, "beta": R, "k": R}, (2, 5, 3, 3),
                                lambda size, alpha=1e-4, beta=0.75, k=1.0: nn.LocalResponseNorm(
                                    size, _number(alpha, 0), _number(beta, 0),
                                    _number(k, 0, open_low=True)),
                                lambda m: nn.LocalResponseNorm(m.size, m.alpha, m.beta, m.k)),
    cnnbook.RecurrentConv2d: (dict(in_channels=2, out_channels=3, kernel_size=3, steps=2, lrn=True,
                                   rng=0, dtype=F64), 3,
                              {"in_channels": I, "out_channels": I, "kernel_size": I, "steps": I,
                               "lrn": BL, "rng": RNG, "dtype": DT}, (2, 2, 5, 5), _rcl_ctor,
                              lambda m: TorchRCL(m.in_channels, m.out_channels, m.kernel_size,
                                                 m.steps, m.norm is not None)),
})


def _blocks():
    return cnnbook.Sequential(cnnbook.Dense(4, 4, rng=1, dtype=F64), cnnbook.Tanh())


COMPOSITES = {
    cnnbook.Residual: (lambda: dict(block=_blocks()), 1, {"block": "module"}, (3, 4),
                       TorchResidual, lambda m: TorchResidual(m.block)),
    cnnbook.ConcatSkip: (lambda: dict(block=_blocks()), 1, {"block": "module"}, (3, 4),
                         TorchConcatSkip, lambda m: TorchConcatSkip(m.block)),
    cnnbook.Sequential: (lambda: dict(layer0=cnnbook.Dense(4, 3, rng=2, dtype=F64),
                                      layer1=cnnbook.ReLU()), 2,
                         {"layer0": "module", "layer1": "module"}, (3, 4),
                         lambda *layers: nn.Sequential(*[of(l) for l in layers]),
                         lambda m: nn.Sequential(*[of(l) for l in m.layers])),
}


def of(m):
    """The torch twin of one of our modules, holding its parameters."""
    need(isinstance(m, Module), "not a cnnbook Module")
    table = {**LAYERS, **COMPOSITES}
    twin = table[type(m)][5]
    need(twin is not None)
    return load(twin(m), m)


def module_same(probe_shape):
    """Our freshly built module and the torch twin give the same output on a probe input
    (training mode, then evaluation mode: batch norm's running statistics are used)."""
    def check(got, want):
        if not isinstance(got, Module) or not isinstance(want, nn.Module):
            return False
        x = np.random.default_rng(5).standard_normal(probe_shape)
        try:
            load(want, got)
        except Exception:  # noqa: BLE001 - parameters of other shapes
            return False
        for mode in ((False,) if isinstance(got, (cnnbook.Dropout, cnnbook.Dropout2d))
                     else (True, False)):
            got.train(mode)
            want.train(mode)
            try:
                expected = want(T(x))
            except Exception:  # noqa: BLE001 - torch refuses it at the first call
                return False
            try:
                if not same(got.forward(x.copy()), expected):
                    return False
            except Exception:  # noqa: BLE001 - built, but unusable: a deferred error
                return False
        return True
    return check


def refused_at_first_use(probe_shape):
    """A layer built with a value that no input can take (padding=10**12): torch builds it
    and refuses it at the first forward; so may we, with a clear error there."""
    from sweep_core import is_clear

    def check(got, want, slot, entry):
        x = np.random.default_rng(5).standard_normal(probe_shape)
        try:
            load(want, got)
            want(T(x))
            return None  # torch can use it: ours must then give the same
        except Exception:  # noqa: BLE001
            pass
        try:
            got.forward(x)
        except Exception as exc:  # noqa: BLE001
            if is_clear(entry, slot, exc):
                return "built as torch builds it, refused with a clear error at the first forward"
        return None
    return check


def _probe(shape):
    return np.random.default_rng(3).standard_normal(shape)


def _dropout_forward_rule(result, args):
    mask = type(args["self"])(args["self"].p, rng=0).forward(np.ones(np.shape(args["x"])))
    with np.errstate(invalid="ignore"):  # inf * 0 = NaN, as in the kernel
        return same(result, np.asarray(args["x"], dtype=np.float64) * mask)


def _dropout_backward_rule(result, args):
    mask = args["self"]._caches[-1][0]
    dout = np.asarray(args["dout"], dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf * 0 = NaN, as in the kernel
        dx = dout if mask is None else dout * mask
    return same(result, (dx, {}))


def _grads(m):
    return {torch_name(f"{name}.{k}" if name else k): g
            for name, sub in m.named_modules() for k, g in sub.grads.items()}


def _forward(self, x):
    return self.forward(x)


def _backward(self, dout):
    """dx, and every parameter's gradient by name (PyTorch's names)."""
    dx = self.backward(dout)
    return dx, _grads(self)


def _torch_backward(self, dout, _x):
    tm = of(self)
    x = T(_x).requires_grad_(True)
    names = [n for n, _ in tm.named_parameters()]
    params = [p for _, p in tm.named_parameters()]
    grads = torch.autograd.grad(tm(x), [x] + params, T(dout), allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g for g, p in zip(grads, [x] + params)]
    return to_numpy(grads[0]), {n: to_numpy(g) for n, g in zip(names, grads[1:])}


BIG_STRIDE = ("a stride beyond the input leaves one window, as with stride 100 here; torch "
              "keeps strides as 32-bit ints and refuses 10**12")
CTOR_EQUIV = {cnnbook.MaxPool2d: {("stride", "10**12"): (100, BIG_STRIDE)},
              cnnbook.AvgPool2d: {("stride", "10**12"): (100, BIG_STRIDE)}}


def layer_entries(cls, spec) -> list[Entry]:
    args, npos, kinds, probe, ctor_twin, twin_of = spec
    make_args = args if callable(args) else (lambda: dict(args))
    name = cls.__name__

    def build_module():
        return cls(*list(make_args().values())[:npos], **dict(list(make_args().items())[npos:]))

    def build_backward():
        m = build_module()
        x = _probe(probe)
        out = m.forward(x)
        return {"self": m, "dout": np.random.default_rng(4).standard_normal(np.shape(out)), "_x": x}

    kernel_names = KERNELS_USED.get(cls, ())
    ctor = Entry(name, cls, make_args, kinds, npos=npos, twin=ctor_twin, same=module_same(probe),
                 fixed="" if kinds else f"{name}() takes no arguments",
                 says=KERNELS_USED.get(cls, ()), deferred=refused_at_first_use(probe),
                 equiv=CTOR_EQUIV.get(cls, {}),
                 labels={"layer0": "layer 0", "layer1": "layer 1"} if cls is cnnbook.Sequential else {})
    dropout = cls in (cnnbook.Dropout, cnnbook.Dropout2d)
    forward = Entry(f"{name}.forward", _forward, lambda: {"self": build_module(), "x": _probe(probe)},
                    {"x": "array"}, npos=2, says=kernel_names,
                    twin=None if dropout else (lambda self, x: of(self)(T(x))),
                    rule=_dropout_forward_rule if dropout else None)
    backward = Entry(f"{name}.backward", _backward, build_backward, {"dout": "array"}, npos=2,
                     says=kernel_names, twin=None if dropout else _torch_backward,
                     rule=_dropout_backward_rule if dropout else None)
    return [ctor, forward, backward]


K = {c: (f"{k}_forward", f"{k}_backward") for c, k in [
    (cnnbook.Dense, "dense"), (cnnbook.Identity, "identity"), (cnnbook.BinaryStep, "binary_step"),
    (cnnbook.Sigmoid, "sigmoid"), (cnnbook.Tanh, "tanh"), (cnnbook.ArcTan, "arctan"),
    (cnnbook.ReLU, "relu"), (cnnbook.LeakyReLU, "leaky_relu"), (cnnbook.PReLU, "prelu"),
    (cnnbook.ELU, "elu"), (cnnbook.Softplus, "softplus"), (cnnbook.Softmax, "softmax"),
    (cnnbook.LogSoftmax, "log_softmax"), (cnnbook.Ridge, "ridge"), (cnnbook.Conv1d, "conv1d"),
    (cnnbook.Conv2d, "conv2d"), (cnnbook.ConvTranspose2d, "conv_transpose2d"),
    (cnnbook.MaxPool2d, "max_pool2d"), (cnnbook.AvgPool2d, "avg_pool2d"),
    (cnnbook.GlobalAvgPool2d, "global_avg_pool2d"), (cnnbook.Flatten, "flatten"),
    (cnnbook.BatchNorm1d, "batch_norm"), (cnnbook.BatchNorm2d, "batch_norm"),
    (cnnbook.LayerNorm, "layer_norm"), (cnnbook.Dropout, "dropout"),
    (cnnbook.Dropout2d, "dropout2d"),
    (cnnbook.MultiheadAttention, "multi_head_attention"), (cnnbook.ConcatSkip, "concat")]}
KERNELS_USED = {**K, cnnbook.RadialBasis: ("gaussian_rbf_forward", "gaussian_rbf_backward"),
                cnnbook.Residual: ("dense_forward", "dense_backward", "tanh_forward",
                                   "tanh_backward"),
                cnnbook.Sequential: ("dense_forward", "dense_backward", "relu_forward",
                                     "relu_backward")}
KERNELS_USED[cnnbook.ConcatSkip] = K[cnnbook.ConcatSkip] + KERNELS_USED[cnnbook.Residual]
# chapter 10
KERNELS_USED[cnnbook.GELU] = ("gelu_forward", "gelu_backward")
KERNELS_USED[cnnbook.EncoderBlock] = ("layer_norm_forward", "layer_norm_backward",
                                      "multi_head_attention_forward",
                                      "multi_head_attention_backward", "dense_forward",
                                      "dense_backward", "gelu_forward", "gelu_backward")
# chapter 9
KERNELS_USED[cnnbook.LocalResponseNorm] = ("local_response_norm_forward",
                                           "local_response_norm_backward")
KERNELS_USED[cnnbook.RecurrentConv2d] = ("Conv2d", "conv2d_forward", "conv2d_backward",
                                         "relu_backward", "local_response_norm_backward")


def _load_state(self, state):
    self.load_state_dict(state)
    return self.state_dict()


def _train(self, mode):
    self.train(mode)
    return [m.training for _, m in self.named_modules()]


def _lenet_same(got, want):
    return module_same((2, 1, 28, 28))(got, want)


def module_entries() -> list[Entry]:
    entries = [e for cls, spec in {**LAYERS, **COMPOSITES}.items() for e in layer_entries(cls, spec)]
    entries.append(Entry("Module", Module, dict, {}, fixed="Module() takes no arguments",
                         rule=lambda result, args: isinstance(result, Module)))
    small = lambda: cnnbook.Sequential(cnnbook.Dense(2, 3, rng=0, dtype=F64),  # noqa: E731
                                       cnnbook.BatchNorm1d(3, dtype=F64))
    entries.append(Entry("Module.load_state_dict", _load_state,
                         lambda: {"self": small(), "state": small().state_dict()},
                         {"state": "state"}, npos=2, labels={"state": ("state", "state_dict")},
                         says=("load_state_dict",),
                         rule=lambda result, args: same(result, {
                             k: np.asarray(v, dtype=result[k].dtype) for k, v in args["state"].items()})))
    entries.append(Entry("Module.train", _train,
                         lambda: {"self": small(), "mode": False}, {"mode": "bool"}, npos=2,
                         says=("Sequential.train",),
                         rule=lambda result, args: result == [bool(args["mode"])] * 3))
    entries.append(Entry("lenet", cnnbook.lenet,
                         lambda: dict(n_classes=10, rng=0, channels=(6, 16), kernel=5, stride=1,
                                      padding2=0),
                         {"n_classes": "int", "rng": "rng", "channels": "int", "kernel": "int",
                          "stride": "int", "padding2": "int"}, twin=torch_lenet, same=_lenet_same))
    entries += ch09_entries()
    entries.append(Entry("lenet_bn", cnnbook.models.lenet_bn,
                         lambda: dict(n_classes=10, rng=0, activation="sigmoid", batch_norm=True),
                         {"n_classes": "int", "rng": "rng", "activation": "str", "batch_norm": "bool"},
                         npos=2, twin=torch_lenet_bn, same=_float64_module_same((2, 1, 28, 28))))
    entries.append(Entry("residual_stack", cnnbook.models.residual_stack,
                         lambda: dict(n_blocks=2, channels=3, batch_norm=True, rng=0),
                         {"n_blocks": "int", "channels": "int", "batch_norm": "bool", "rng": "rng"},
                         npos=2, twin=torch_residual_stack, same=_float64_module_same((2, 3, 5, 5))))
    return entries


# chapter 9: the RCNN and its baselines
def torch_rcnn(n_classes=10, rng=None, channels=16, steps=3, block="rcl", wide_channels=None):
    for n in (n_classes, channels, steps):
        need(isinstance(n, int) and not isinstance(n, bool) and n >= 0)
    need(1 <= n_classes and 1 <= channels and steps <= 1000 and block in ("rcl", "stack", "wide"))
    need((wide_channels is None) == (block != "wide"))
    c = channels
    norm = lambda n: nn.LocalResponseNorm(n // 8 + 1, alpha=0.001, beta=0.75, k=1.0)  # noqa: E731
    stem = [nn.Conv2d(1, c, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)]
    if block == "rcl":
        middle, width = [TorchRCL(c, c, 3, steps, True)], c
    elif block == "stack":
        middle, width = [nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), norm(c),
                         nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), norm(c)], c
    else:
        middle, width = [nn.Conv2d(c, wide_channels, 3, padding=1), nn.ReLU(),
                         norm(wide_channels)], wide_channels
    return nn.Sequential(*stem, *middle, nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(width * 7 * 7, n_classes))


def ch09_entries() -> list[Entry]:
    return [Entry("rcnn", cnnbook.models.rcnn,
                  lambda: dict(n_classes=10, rng=0, channels=4, steps=2, block="rcl",
                               wide_channels=None),
                  {"n_classes": "int", "rng": "rng", "channels": "int", "steps": "int",
                   "block": "str", "wide_channels": "int"}, twin=torch_rcnn, same=_lenet_same,
                  says=("Conv2d", "Dense"))]
