"""Transposed convolution ("deconvolution"): upsampling with a learned kernel (U-Net chapter).

conv_transpose2d is the gradient of conv2d with respect to its input, used as a layer:
every input pixel stamps a copy of the kernel, scaled by its value, onto the output,
s pixels apart, and overlapping stamps add up:

    out[n, o, y s + i d - p, x s + j d - p] += x[n, c, y, x] * weight[c, o, i, j]

Weight layout (in_channels, out_channels, kh, kw) as in ``torch.nn.ConvTranspose2d``.
Output size H_out = (H - 1) s - 2 p + d (kh - 1) + output_padding + 1. The forward pass
is conv2d's col2im path and the backward pass is a conv2d, so this reuses ``im2col``.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, bias_vector, int_pair, positive_int
from ._im2col import conv_core, conv_grads
from ._init import uniform_fan_in
from .module import Module

__all__ = ["conv_transpose2d_forward", "conv_transpose2d_backward", "ConvTranspose2d"]


def conv_transpose2d_forward(x, weight, bias=None, *, stride=1, padding=0, output_padding=0,
                             dilation=1):
    """Transposed 2-D convolution, as ``torch.nn.functional.conv_transpose2d``.

    x: (N, C_in, H, W), weight: (C_in, C_out, kh, kw), bias: (C_out,) or None.
    stride, padding, output_padding, dilation: int or pair; output_padding (< stride or
    < dilation) adds rows/columns at the bottom/right to pick one of the input sizes a
    strided conv2d maps to the same H. Returns ``(out, cache)``, out: (N, C_out, H_out, W_out).
    """
    func = "conv_transpose2d_forward"
    x = as_float_array(x, "x", func, ndim=4, layout="(N, C_in, H, W)")
    weight = as_float_array(weight, "weight", func, ndim=4,
                            layout="(in_channels, out_channels, kh, kw)")
    if weight.shape[0] != x.shape[1]:
        raise ValueError(
            f"{func}: weight has {weight.shape[0]} input channels (weight.shape[0]) but x has "
            f"{x.shape[1]} (x.shape={x.shape}, weight.shape={weight.shape})"
        )
    dtype = np.result_type(x.dtype, weight.dtype)
    x, weight = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
    if bias is not None:
        bias = bias_vector(bias, weight.shape[1], func, dtype)
    stride = int_pair(stride, "stride", func)
    dilation = int_pair(dilation, "dilation", func)
    padding = int_pair(padding, "padding", func, minimum=0)
    output_padding = int_pair(output_padding, "output_padding", func, minimum=0)
    out_size = []
    for axis, n, k, s, p, op, d in zip(("height", "width"), x.shape[2:], weight.shape[2:], stride,
                                       padding, output_padding, dilation):
        if op >= max(s, d):
            raise ValueError(
                f"{func}: output_padding must be smaller than stride or dilation, "
                f"got output_padding={op} with stride={s}, dilation={d} ({axis})"
            )
        size = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if size < 1:
            raise ValueError(
                f"{func}: padding={p} leaves no output {axis}: (H - 1) s - 2 p + d (k - 1) + "
                f"output_padding + 1 = {size} (x.shape={x.shape}, kernel_size={k})"
            )
        out_size.append(size)
    out_shape = (x.shape[0], weight.shape[1], *out_size)
    # conv2d's input gradient, with x in the role of dout; the output_padding rows at
    # the bottom/right are where no stamp lands (they get the bias only)
    pads = tuple((p, p) for p in padding)
    out, _ = conv_grads(x, pads, stride, dilation, weight=weight, x_shape=out_shape)
    # out: (N, C_out, H_out, W_out)
    if bias is not None:
        out += bias[:, None, None]
    return out, (x, weight, bias is not None, pads, stride, dilation, out.shape)


def conv_transpose2d_backward(dout, cache):
    """Gradients of ``conv_transpose2d_forward``: ``(dx, dweight, dbias)``.

    dx = conv2d(dout, weight) (same stride, padding, dilation): the forward was conv2d's
    input gradient, so its own input gradient is conv2d itself. dweight is conv2d's
    weight gradient with the roles of input and dout exchanged.
    """
    x, weight, has_bias, pads, stride, dilation, out_shape = cache
    dout = np.asarray(dout, dtype=x.dtype)
    if dout.shape != out_shape:
        raise ValueError(f"conv_transpose2d_backward: dout must have shape {out_shape}, the "
                         f"shape of the forward output, got dout.shape={dout.shape}")
    dx = conv_core(dout, weight, pads, stride, dilation, x.shape[2:])  # (N, C_in, H, W)
    _, dweight = conv_grads(x, pads, stride, dilation, x=dout, weight_shape=weight.shape)
    # dweight: (C_in, C_out, kh, kw)
    dbias = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, dweight, dbias


class ConvTranspose2d(Module):
    """Transposed convolution layer, ``torch.nn.ConvTranspose2d``'s twin.

    Weight (in_channels, out_channels, kh, kw); PyTorch's default init with
    fan_in = weight.shape[1] * kh * kw = out_channels * kh * kw.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
                 output_padding=0, dilation=1, bias: bool = True, rng=None, dtype=np.float32):
        super().__init__()
        func = "ConvTranspose2d"
        self.in_channels = positive_int(in_channels, "in_channels", func)
        self.out_channels = positive_int(out_channels, "out_channels", func)
        self.kernel_size = int_pair(kernel_size, "kernel_size", func)
        self.stride, self.padding = stride, padding
        self.output_padding, self.dilation = output_padding, dilation
        kh, kw = self.kernel_size
        fan_in = out_channels * kh * kw  # torch: weight.size(1) * receptive field
        self.params["weight"] = uniform_fan_in((in_channels, out_channels, kh, kw), fan_in, rng,
                                               dtype)
        if bias:
            self.params["bias"] = uniform_fan_in((out_channels,), fan_in, rng, dtype)
        self.zero_grad()

    def forward(self, x):
        out, cache = conv_transpose2d_forward(
            x, self.params["weight"], self.params.get("bias"), stride=self.stride,
            padding=self.padding, output_padding=self.output_padding, dilation=self.dilation)
        self._push_cache(cache)
        return out

    def backward(self, dout):
        dx, dweight, dbias = conv_transpose2d_backward(dout, self._pop_cache())
        self._store_grads(weight=dweight, bias=dbias)
        return dx

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, "
                f"output_padding={self.output_padding}, dilation={self.dilation}, "
                f"bias={'bias' in self.params}")
