"""The recurrent convolutional layer (RCL) of Liang & Hu (2015). See chapter 9.

A feed-forward input u (N, C, H, W) is convolved once by the feed-forward kernel w_f;
the state x(t) (N, K, H, W) is then refined ``steps`` times by the recurrent kernel w_r:

    x(0) = g(f(w_f * u + b)),
    x(t) = g(f(w_f * u + w_r * x(t-1) + b)),   t = 1, ..., T,

with f = ReLU and g = local response normalization (``cnnbook.lrn``; ``lrn=False``
leaves it out). w_f and w_r are each ONE array shared by every step: the unrolled
layer is a stack of T + 1 convolutions with identical weights, and its parameter count
does not depend on T (for T >= 1; T = 0 has no w_r). Convolutions keep the size ("same"
padding), so that x(t-1) and w_f * u line up.

Backward (backprop through time) reads the unrolled stack from the top down. The
recurrent ``Conv2d`` is called T times; each call keeps its cache, each backward call
adds its gradient into ``grads``: dL/dw_r is the sum of the T per-step gradients (the
fan-out rule of chapter 4). w_f * u is computed once and used at every step, so its
gradient is the sum of the T + 1 per-step gradients of the pre-activations.
"""
from __future__ import annotations

import numpy as np

from ._checks import flag, float_dtype, int_pair, positive_int
from ._init import make_rng
from .activations import ReLU
from .conv import Conv2d
from .lrn import LocalResponseNorm
from .module import Module

__all__ = ["RecurrentConv2d"]

_MAX_STEPS = 1000  # a refusal, not hours of unrolling (Liang & Hu use T = 3)


class RecurrentConv2d(Module):
    """Recurrent convolutional layer (Liang & Hu): x(t) = g(f(w_f * u + w_r * x(t-1) + b)).

    u: (N, in_channels, H, W) -> x(T): (N, out_channels, H, W). Sub-modules:
    ``feedforward`` (Conv2d in_channels -> out_channels, weight w_f and the bias b),
    ``recurrent`` (Conv2d out_channels -> out_channels, weight w_r, no bias; None when
    steps = 0, which never uses it), both with "same" padding, and ``norm``
    (``LocalResponseNorm`` of size out_channels // 8 + 1, alpha 0.001, beta 0.75, k 1,
    the constants of Liang & Hu's experiments; None when ``lrn=False``).
    ``steps`` = T in [0, 1000]; T = 0 is a plain convolution, ReLU and LRN.
    See chapter 9.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, *, steps: int = 3,
                 lrn: bool = True, rng=None, dtype=np.float32):
        super().__init__()
        func = "RecurrentConv2d"
        self.in_channels = positive_int(in_channels, "in_channels", func)
        self.out_channels = positive_int(out_channels, "out_channels", func)
        self.kernel_size = int_pair(kernel_size, "kernel_size", func)
        self.steps = positive_int(steps, "steps", func, minimum=0, maximum=_MAX_STEPS)
        flag(lrn, "lrn", func)
        float_dtype(dtype, func)
        rng = make_rng(rng)  # one generator: w_f and w_r are drawn one after the other
        self.feedforward = Conv2d(in_channels, out_channels, kernel_size, padding="same",
                                  rng=rng, dtype=dtype)
        # steps = 0 never uses w_r: no such weight, so that num_parameters() is honest
        self.recurrent = (Conv2d(out_channels, out_channels, kernel_size, padding="same",
                                 bias=False, rng=rng, dtype=dtype) if self.steps else None)
        self.relu = ReLU()
        self.norm = (LocalResponseNorm(out_channels // 8 + 1, alpha=0.001, beta=0.75, k=1.0)
                     if lrn else None)

    def _g_f(self, z):
        """x = g(f(z)): ReLU, then LRN (if any)."""
        x = self.relu.forward(z)
        return x if self.norm is None else self.norm.forward(x)

    def _g_f_backward(self, dx):
        dx = dx if self.norm is None else self.norm.backward(dx)
        return self.relu.backward(dx)

    def forward(self, u):
        ff = self.feedforward.forward(u)  # w_f * u + b: (N, K, H, W), the same at every step
        x = self._g_f(ff)  # x(0)
        for _ in range(self.steps):
            x = self._g_f(ff + self.recurrent.forward(x))  # x(t)
        return x

    def backward(self, dout):
        dx = dout
        dff = np.zeros_like(dout)
        for _ in range(self.steps):  # t = T, ..., 1: the unrolled stack read top down
            dz = self._g_f_backward(dx)  # gradient of the pre-activation z(t)
            dff = dff + dz  # w_f * u + b feeds every step: its gradients add up
            dx = self.recurrent.backward(dz)  # adds this step's dL/dw_r into recurrent.grads
        dff = dff + self._g_f_backward(dx)  # step 0
        return self.feedforward.backward(dff)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"steps={self.steps}, lrn={self.norm is not None}")
