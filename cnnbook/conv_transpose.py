"""Transposed convolution ("deconvolution"): upsampling with a learned kernel.
See chapters 5 and 12.

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

from ._checks import (as_float_array, bias_vector, check_dout, fits_in_memory, flag, float_dtype,
                      int_pair, nan_in_nan_out, nonempty, positive_int)
from ._im2col import ConvCache, conv_core, conv_grads
from ._init import uniform_fan_in
from .module import Module

__all__ = ["conv_transpose2d_forward", "conv_transpose2d_backward", "ConvTranspose2d"]


@nan_in_nan_out
def conv_transpose2d_forward(x, weight, bias=None, *, stride=1, padding=0, output_padding=0,
                             dilation=1):
    """Transposed 2-D convolution, as ``torch.nn.functional.conv_transpose2d``.

    x: (N, C_in, H, W), weight: (C_in, C_out, kh, kw), bias: (C_out,) or None.
    stride, padding, output_padding, dilation: int or pair; output_padding (< stride or
    < dilation) adds rows/columns at the bottom/right to pick one of the input sizes a
    strided conv2d maps to the same H. Returns ``(out, cache)``, out: (N, C_out, H_out, W_out)
    with H_out = (H - 1) s - 2 p + d (kh - 1) + output_padding + 1. See chapters 5 and 12.
    """
    func = "conv_transpose2d_forward"
    x = as_float_array(x, "x", func, ndim=4, layout="(N, C_in, H, W)")
    weight = as_float_array(weight, "weight", func, ndim=4,
                            layout="(in_channels, out_channels, kh, kw)")
    nonempty(x, (2, 3), "x", func, "height and width")
    nonempty(weight, (0, 1, 2, 3), "weight", func, "in_channels, out_channels and kernel size")
    if weight.shape[0] != x.shape[1]:
        raise ValueError(
            f"{func}: weight has {weight.shape[0]} input channels (weight.shape[0]) but x has "
            f"{x.shape[1]} (x.shape={x.shape}, weight.shape={weight.shape})"
        )
    dtypes = [x.dtype, weight.dtype]
    if bias is not None:
        bias = bias_vector(bias, weight.shape[1], func, weight.shape)
        dtypes.append(bias.dtype)
    dtype = np.result_type(*dtypes)
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
    fits_in_memory(out_shape, "the output", func,
                   f"stride={stride}, dilation={dilation}, output_padding={output_padding}, "
                   f"x.shape={x.shape}, weight.shape={weight.shape}")
    cache = ConvCache(x.astype(dtype, copy=False), weight.astype(dtype, copy=False),
                      tuple((p, p) for p in padding), stride, dilation, out_shape, x.dtype,
                      weight.dtype, None if bias is None else bias.dtype)
    # conv2d's input gradient, with x in the role of dout; the output_padding rows at
    # the bottom/right are where no stamp lands (they get the bias only)
    out, _ = conv_grads(cache.x, cache.pads, stride, dilation, weight=cache.weight,
                        x_shape=out_shape)  # (N, C_out, H_out, W_out)
    if bias is not None:
        out += bias.astype(dtype, copy=False)[:, None, None]
    return out, cache


@nan_in_nan_out
def conv_transpose2d_backward(dout, cache):
    """Gradients of ``conv_transpose2d_forward``: ``(dx, dweight, dbias)``.

    dx = conv2d(dout, weight) (same stride, padding, dilation): the forward was conv2d's
    input gradient, so its own input gradient is conv2d itself. dweight is conv2d's
    weight gradient with the roles of input and dout exchanged. dout: (N, C_out, H_out,
    W_out); the gradients are shaped and typed like x, weight and bias (dbias is None
    when the forward had no bias). See chapters 5 and 12.
    """
    x, weight = cache.x, cache.weight
    dout = check_dout(dout, cache.out_shape, x.dtype, "conv_transpose2d_backward")
    dx = conv_core(dout, weight, cache.pads, cache.stride, cache.dilation,
                   x.shape[2:])  # (N, C_in, H, W)
    _, dweight = conv_grads(x, cache.pads, cache.stride, cache.dilation, x=dout,
                            weight_shape=weight.shape)  # (C_in, C_out, kh, kw)
    dbias = None if cache.bias_dtype is None else dout.sum(axis=(0, 2, 3))
    return (dx.astype(cache.x_dtype, copy=False), dweight.astype(cache.weight_dtype, copy=False),
            None if dbias is None else dbias.astype(cache.bias_dtype, copy=False))


class ConvTranspose2d(Module):
    """Transposed convolution layer, ``torch.nn.ConvTranspose2d``'s twin.

    Weight (in_channels, out_channels, kh, kw); PyTorch's default init with
    fan_in = weight.shape[1] * kh * kw = out_channels * kh * kw.
    x: (N, in_channels, H, W) -> (N, out_channels, H_out, W_out). See chapters 5 and 12.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
                 output_padding=0, dilation=1, bias: bool = True, rng=None, dtype=np.float32):
        super().__init__()
        func = "ConvTranspose2d"
        self.in_channels = positive_int(in_channels, "in_channels", func)
        self.out_channels = positive_int(out_channels, "out_channels", func)
        self.kernel_size = int_pair(kernel_size, "kernel_size", func)
        # checked here, so that a bad one is refused when the layer is built
        strides, dilations = int_pair(stride, "stride", func), int_pair(dilation, "dilation", func)
        int_pair(padding, "padding", func, minimum=0)
        for op, s, d in zip(int_pair(output_padding, "output_padding", func, minimum=0), strides,
                            dilations):
            if op >= max(s, d):
                raise ValueError(f"{func}: output_padding must be smaller than stride or dilation, "
                                 f"got output_padding={output_padding} with stride={stride}, "
                                 f"dilation={dilation}")
        self.stride, self.padding = stride, padding
        self.output_padding, self.dilation = output_padding, dilation
        bias, dtype = flag(bias, "bias", func), float_dtype(dtype, func)
        kh, kw = self.kernel_size
        fits_in_memory((in_channels, out_channels, kh, kw), "weight", func,
                       f"in_channels={in_channels}, out_channels={out_channels}, "
                       f"kernel_size={kernel_size}")
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
