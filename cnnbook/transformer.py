"""The transformer encoder block, a composite of layers with two residual connections.
See chapter 10 (and chapter 11, where the vision transformer stacks these blocks).

Pre-norm form (as in ViT and GPT-2, ``torch.nn.TransformerEncoderLayer(norm_first=True)``):

    h = x + MHA(LN1(x)),    y = h + MLP(LN2(h)),    MLP(z) = Dense2(GELU(Dense1(z))).

x, h and y are (N, T, dim); the MLP acts on each token separately (dim -> mlp_dim -> dim).
In the backward pass each residual connection copies the gradient to its branch, and
the two add up where the branches meet.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_float_array, fits_in_memory, float_dtype, positive_int, real_number
from ._init import make_rng
from .activations import GELU, _approximate
from .attention import MultiheadAttention
from .dense import Dense
from .layernorm import LayerNorm
from .module import Module

__all__ = ["EncoderBlock"]


class EncoderBlock(Module):
    """A pre-norm transformer encoder block: x (N, T, dim) -> (N, T, dim).

    h = x + self_attn(norm1(x)),  y = h + linear2(activation(linear1(norm2(h)))).

    Sub-modules, named as in ``torch.nn.TransformerEncoderLayer(dim, num_heads, mlp_dim,
    dropout=0.0, activation="gelu", batch_first=True, norm_first=True)`` so that weights
    can be copied across: ``norm1``, ``norm2`` (LayerNorm(dim, eps)), ``self_attn``
    (MultiheadAttention(dim, num_heads)), ``linear1`` (Dense(dim, mlp_dim)), ``activation``
    (GELU(approximate)), ``linear2`` (Dense(mlp_dim, dim)). No dropout. ``forward(x,
    attn_mask=None)`` passes attn_mask to the attention, as ``nn.MultiheadAttention``
    reads it: (T, T) boolean with True = may NOT attend (a causal mask is
    ``np.triu(np.ones((T, T), bool), k=1)``), or float, added to the scores.
    See chapters 10 and 11.
    """

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, *, eps: float = 1e-5,
                 approximate: str = "none", rng=None, dtype=np.float32):
        super().__init__()
        func = "EncoderBlock"
        self.dim = positive_int(dim, "dim", func)
        self.num_heads = positive_int(num_heads, "num_heads", func)
        self.mlp_dim = positive_int(mlp_dim, "mlp_dim", func)
        if dim % num_heads:
            raise ValueError(f"{func}: dim={dim} must be divisible by num_heads={num_heads} "
                             f"(each head gets dim / num_heads features)")
        eps = real_number(eps, "eps", func, minimum=0)
        approximate = _approximate(approximate, func)
        dtype = float_dtype(dtype, func)
        fits_in_memory((4 * dim + 2 * mlp_dim, dim), "the weights", func,
                       f"dim={dim}, mlp_dim={mlp_dim}")
        rng = make_rng(rng)
        self.norm1 = LayerNorm(dim, eps=eps, dtype=dtype)
        self.self_attn = MultiheadAttention(dim, num_heads, rng=rng, dtype=dtype)
        self.norm2 = LayerNorm(dim, eps=eps, dtype=dtype)
        self.linear1 = Dense(dim, mlp_dim, rng=rng, dtype=dtype)
        self.activation = GELU(approximate)
        self.linear2 = Dense(mlp_dim, dim, rng=rng, dtype=dtype)

    def forward(self, x, attn_mask=None):
        x = as_float_array(x, "x", "EncoderBlock", ndim=3, layout="(N, T, dim)")
        if x.shape[-1] != self.dim:
            raise ValueError(f"EncoderBlock: x must have dim={self.dim} features in its last "
                             f"axis, got x.shape={x.shape}")
        h = x + self.self_attn.forward(self.norm1.forward(x), attn_mask)  # (N, T, dim)
        mlp = self.linear2.forward(self.activation.forward(self.linear1.forward(
            self.norm2.forward(h))))  # (N, T, dim)
        return h + mlp

    def __call__(self, x, attn_mask=None):
        return self.forward(x, attn_mask)

    def backward(self, dout):
        # y = h + MLP(LN2(h)): dout reaches h directly and through the MLP branch
        dmlp = self.linear1.backward(self.activation.backward(self.linear2.backward(dout)))
        dh = dout + self.norm2.backward(dmlp)  # (N, T, dim)
        # h = x + MHA(LN1(x)): the same again
        return dh + self.norm1.backward(self.self_attn.backward(dh))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, mlp_dim={self.mlp_dim}"
