"""The vision transformer (ViT, Dosovitskiy et al. 2021) for small images. See chapter 11.

An image (N, C, H, W) is cut into P x P patches, each flattened to P*P*C values
(``patchify``) and mapped linearly to ``dim`` features (``PatchEmbedding``, the same as a
convolution with kernel = stride = P). A learned class token is prepended
(``ClassToken``), position embeddings are added, a stack of pre-norm encoder blocks
(chapter 10) mixes the tokens, a final LayerNorm follows, and a linear head reads the
class token's final state (or the mean of the patch tokens) to give the logits.
"""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_dout, fits_in_memory, flag, float_dtype, positive_int
from .._init import make_rng
from ..dense import Dense
from ..layernorm import LayerNorm
from ..module import Module
from ..positional import LearnedPositionalEmbedding, SinusoidalPositionalEmbedding
from ..transformer import EncoderBlock

__all__ = ["patchify", "unpatchify", "PatchEmbedding", "ClassToken", "ViT",
           "vit_parameter_count"]


def _patch_grid(shape, patch, func):
    """(rows, cols) of patches for an (N, C, H, W) shape, or a clear error."""
    _, _, height, width = shape
    if height % patch or width % patch:
        raise ValueError(f"{func}: the image height and width must be multiples of "
                         f"patch={patch}, got H={height}, W={width}")
    return height // patch, width // patch


def patchify(images, patch):
    """Cut images (N, C, H, W) into P x P patches: returns (N, HW/P^2, P*P*C).

    Patches are numbered row by row (left to right, then top to bottom); each is
    flattened channel first, then row, then column, the order of a convolution weight
    (D, C, P, P) reshaped to (D, C*P*P). H and W must be multiples of P. See chapter 11.
    """
    func = "patchify"
    x = as_float_array(images, "images", func, ndim=4, layout="(N, C, H, W)")
    patch = positive_int(patch, "patch", func)
    rows, cols = _patch_grid(x.shape, patch, func)
    n, c = x.shape[:2]
    x = x.reshape(n, c, rows, patch, cols, patch)  # (N, C, rows, P, cols, P)
    return x.transpose(0, 2, 4, 1, 3, 5).reshape(n, rows * cols, c * patch * patch)


def unpatchify(patches, patch, channels, height, width):
    """The inverse of ``patchify``: (N, HW/P^2, P*P*C) -> images (N, C, H, W).

    Also the backward of ``patchify`` (it only moves values). See chapter 11.
    """
    func = "unpatchify"
    p = as_float_array(patches, "patches", func, ndim=3, layout="(N, num_patches, P*P*C)")
    patch = positive_int(patch, "patch", func)
    channels = positive_int(channels, "channels", func)
    rows, cols = _patch_grid((0, channels, positive_int(height, "height", func),
                              positive_int(width, "width", func)), patch, func)
    want = (rows * cols, channels * patch * patch)
    if p.shape[1:] != want:
        raise ValueError(f"{func}: patches must have shape (N, {want[0]}, {want[1]}) for "
                         f"{channels}x{height}x{width} images and patch={patch}, got {p.shape}")
    n = p.shape[0]
    x = p.reshape(n, rows, cols, channels, patch, patch).transpose(0, 3, 1, 4, 2, 5)
    return x.reshape(n, channels, height, width)


class PatchEmbedding(Module):
    """Patchify, then a linear map of each patch: (N, C, H, W) -> (N, HW/P^2, dim).

    out[n, t] = W_flat patch[n, t] + b, with ``params["weight"]`` stored as a convolution
    weight (dim, C, P, P) (W_flat is its (dim, C*P*P) reshape) and ``params["bias"]``
    (dim,): the same numbers as ``conv2d_forward(x, weight, bias, stride=P)`` with its
    (N, dim, H/P, W/P) output flattened to tokens. Initialised like a Dense layer of
    fan-in C*P*P. See chapter 11.
    """

    def __init__(self, in_channels: int, patch: int, dim: int, *, rng=None, dtype=np.float32):
        super().__init__()
        func = "PatchEmbedding"
        self.in_channels = positive_int(in_channels, "in_channels", func)
        self.patch = positive_int(patch, "patch", func)
        self.dim = positive_int(dim, "dim", func)
        dtype = float_dtype(dtype, func)
        fan_in = in_channels * patch * patch
        fits_in_memory((dim, fan_in), "the weight", func, f"dim={dim}, patch={patch}")
        dense = Dense(fan_in, dim, rng=make_rng(rng), dtype=dtype)  # the same init as Dense
        self.params["weight"] = dense.params["weight"].reshape(dim, in_channels, patch, patch)
        self.params["bias"] = dense.params["bias"]
        self.zero_grad()

    def forward(self, x):
        func = "PatchEmbedding"
        x = as_float_array(x, "x", func, ndim=4, layout="(N, C, H, W)")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{func}: x must have in_channels={self.in_channels} channels, "
                             f"got x.shape={x.shape}")
        patches = patchify(x, self.patch)  # (N, T, C*P*P)
        weight = self.params["weight"].reshape(self.dim, -1)  # (dim, C*P*P)
        self._push_cache((patches, x.shape, x.dtype))
        return patches @ weight.T + self.params["bias"]  # (N, T, dim)

    def backward(self, dout):
        return self._backward(dout, input_grad=True)

    def backward_params(self, dout):
        self._backward(dout, input_grad=False)

    def _backward(self, dout, input_grad):
        patches, shape, dtype = self._pop_cache()
        weight = self.params["weight"]
        n_tokens = patches.shape[1]
        dout = check_dout(dout, (shape[0], n_tokens, self.dim),
                          np.result_type(dtype, weight.dtype), "PatchEmbedding.backward")
        flat = dout.reshape(-1, self.dim)  # (N*T, dim)
        dweight = flat.T @ patches.reshape(flat.shape[0], -1)  # (dim, C*P*P)
        self._store_grads(weight=dweight.reshape(weight.shape).astype(weight.dtype),
                          bias=flat.sum(axis=0).astype(weight.dtype))
        if not input_grad:
            return None
        dpatches = dout @ weight.reshape(self.dim, -1)  # (N, T, C*P*P)
        return unpatchify(dpatches, self.patch, *shape[1:]).astype(dtype, copy=False)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, patch={self.patch}, dim={self.dim}"


class ClassToken(Module):
    """Prepend a learned token to every sequence: (N, T, dim) -> (N, T + 1, dim).

    ``params["weight"]`` is the token (1, 1, dim), initialised N(0, 0.02^2). Backward:
    dx = dout[:, 1:], and the token's gradient is dout[:, 0] summed over the batch (every
    image used the same token). See chapter 11.
    """

    def __init__(self, dim: int, *, rng=None, dtype=np.float32):
        super().__init__()
        func = "ClassToken"
        self.dim = positive_int(dim, "dim", func)
        dtype = float_dtype(dtype, func)
        self.params["weight"] = (0.02 * make_rng(rng).standard_normal((1, 1, dim))).astype(dtype)
        self.zero_grad()

    def forward(self, x):
        x = as_float_array(x, "x", "ClassToken", ndim=3, layout="(N, T, dim)")
        if x.shape[-1] != self.dim:
            raise ValueError(f"ClassToken: x must have dim={self.dim} features in its last "
                             f"axis, got x.shape={x.shape}")
        token = self.params["weight"]
        self._push_cache((x.shape, x.dtype))
        dtype = np.result_type(x.dtype, token.dtype)
        tokens = np.broadcast_to(token, (x.shape[0], 1, self.dim)).astype(dtype)
        return np.concatenate([tokens, x.astype(dtype, copy=False)], axis=1)

    def backward(self, dout):
        shape, dtype = self._pop_cache()
        token = self.params["weight"]
        dout = check_dout(dout, (shape[0], shape[1] + 1, self.dim),
                          np.result_type(dtype, token.dtype), "ClassToken.backward")
        self._store_grads(weight=dout[:, :1].sum(axis=0, keepdims=True).astype(token.dtype))
        return dout[:, 1:].astype(dtype, copy=True)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


_POOLS = ("cls", "mean")
_POSITIONS = ("learned", "sinusoidal", "none")


def _choice(value, name, allowed, func):
    if value not in allowed:
        raise ValueError(f"{func}: {name} must be one of {', '.join(map(repr, allowed))}, "
                         f"got {value!r:.40}")
    return value


class ViT(Module):
    """A vision transformer: images (N, C, H, W) -> logits (N, num_classes).

    patch_embed (PatchEmbedding) -> cls_token (ClassToken, only with pool="cls") ->
    pos_embed (learned, sinusoidal, or none) -> blocks (``depth`` EncoderBlocks) -> norm
    (LayerNorm) -> the class token's state (pool="cls") or the mean over the tokens
    (pool="mean") -> head (Dense(dim, num_classes)). No dropout. See chapter 11.
    """

    def __init__(self, image_size: int = 28, patch: int = 7, in_channels: int = 1,
                 dim: int = 32, depth: int = 4, num_heads: int = 4, mlp_dim: int = 64,
                 num_classes: int = 10, *, pool: str = "cls", positions: str = "learned",
                 approximate: str = "none", rng=None, dtype=np.float32):
        super().__init__()
        func = "ViT"
        self.image_size = positive_int(image_size, "image_size", func)
        patch = positive_int(patch, "patch", func)
        if image_size % patch:
            raise ValueError(f"{func}: image_size={image_size} must be a multiple of "
                             f"patch={patch}")
        self.depth = positive_int(depth, "depth", func)
        self.pool = _choice(pool, "pool", _POOLS, func)
        self.positions = _choice(positions, "positions", _POSITIONS, func)
        dtype = float_dtype(dtype, func)
        dim = positive_int(dim, "dim", func)
        mlp_dim = positive_int(mlp_dim, "mlp_dim", func)
        fits_in_memory((depth, 4 * dim + 2 * mlp_dim, dim), "the weights of the blocks", func,
                       f"depth={depth}, dim={dim}, mlp_dim={mlp_dim}")
        rng = make_rng(rng)
        self.num_patches = (image_size // patch) ** 2
        n_tokens = self.num_patches + (pool == "cls")
        self.patch_embed = PatchEmbedding(in_channels, patch, dim, rng=rng, dtype=dtype)
        if pool == "cls":
            self.cls_token = ClassToken(dim, rng=rng, dtype=dtype)
        if positions == "learned":
            self.pos_embed = LearnedPositionalEmbedding(n_tokens, dim, rng=rng, dtype=dtype)
        elif positions == "sinusoidal":
            self.pos_embed = SinusoidalPositionalEmbedding(n_tokens, dim, dtype=dtype)
        self.blocks = [EncoderBlock(dim, num_heads, mlp_dim, approximate=approximate,
                                    rng=rng, dtype=dtype) for _ in range(depth)]
        self.norm = LayerNorm(dim, dtype=dtype)
        self.head = Dense(dim, num_classes, rng=rng, dtype=dtype)

    def _stages(self):
        """The token-to-token stages in order (those that exist)."""
        stages = [self.patch_embed]
        stages += [self.cls_token] if self.pool == "cls" else []
        stages += [self.pos_embed] if self.positions != "none" else []
        return stages + list(self.blocks) + [self.norm]

    def forward(self, x):
        x = as_float_array(x, "x", "ViT", ndim=4, layout="(N, C, H, W)")
        if x.shape[2:] != (self.image_size, self.image_size):
            raise ValueError(f"ViT: x must be {self.image_size}x{self.image_size} images, "
                             f"got x.shape={x.shape}")
        for stage in self._stages():
            x = stage.forward(x)  # (N, T, dim)
        self._push_cache(x.shape)
        pooled = x[:, 0] if self.pool == "cls" else x.mean(axis=1)  # (N, dim)
        return self.head.forward(pooled)

    def backward(self, dout):
        return self._backward(dout, input_grad=True)

    def backward_params(self, dout):
        """``backward`` without the gradient of the images (``Module.backward_params``)."""
        self._backward(dout, input_grad=False)

    def _backward(self, dout, input_grad):
        shape = self._pop_cache()
        dpooled = self.head.backward(dout)  # (N, dim)
        dx = np.zeros(shape, dtype=dpooled.dtype)
        if self.pool == "cls":
            dx[:, 0] = dpooled  # only the class token's state reached the head
        else:
            dx[...] = dpooled[:, None, :] / shape[1]  # the mean: 1/T to every token
        first, *rest = self._stages()  # the patch embedding, then the rest
        for stage in reversed(rest):
            dx = stage.backward(dx)
        return first.backward(dx) if input_grad else first.backward_params(dx)

    def attention_from_class_token(self, x):
        """The last block's attention weights of the class token over the patches,
        averaged over the heads: (N, num_patches). Needs pool="cls". See chapter 11."""
        if self.pool != "cls":
            raise ValueError("ViT.attention_from_class_token: needs pool='cls', "
                             f"got pool={self.pool!r}")
        self.forward(x)
        attention = self.blocks[-1].self_attn._caches[-1].attention.weights_t  # keys x queries
        weights = attention.swapaxes(-1, -2)[:, :, 0, 1:].mean(axis=1)  # (N, num_patches)
        self.zero_grad()  # drop the caches of this forward
        return weights

    def extra_repr(self) -> str:
        return (f"num_patches={self.num_patches}, depth={self.depth}, pool={self.pool!r}, "
                f"positions={self.positions!r}")


def vit_parameter_count(image_size=224, patch=16, in_channels=3, dim=768, depth=12,
                        mlp_dim=3072, num_classes=1000, *, class_token=True,
                        learned_positions=True):
    """The number of parameters of a ``ViT`` with these sizes, counted layer by layer.

    Patch embedding P*P*C*D + D; class token D; learned position embeddings
    (N + 1) * D; per block 4 D^2 + 4 D (attention) + 2 D * mlp + mlp + D (MLP) + 4 D (two
    LayerNorms); final LayerNorm 2 D; head D * classes + classes. The number of heads
    does not change the count. The defaults are ViT-Base/16 on ImageNet. See chapter 11.
    """
    func = "vit_parameter_count"
    image_size, patch, in_channels, dim, depth, mlp_dim, num_classes = (
        positive_int(v, name, func) for v, name in (
            (image_size, "image_size"), (patch, "patch"), (in_channels, "in_channels"),
            (dim, "dim"), (depth, "depth"), (mlp_dim, "mlp_dim"), (num_classes, "num_classes")))
    if image_size % patch:
        raise ValueError(f"{func}: image_size={image_size} must be a multiple of patch={patch}")
    class_token = flag(class_token, "class_token", func)
    learned_positions = flag(learned_positions, "learned_positions", func)
    n_tokens = (image_size // patch) ** 2 + bool(class_token)
    embed = patch * patch * in_channels * dim + dim + bool(class_token) * dim
    positions = n_tokens * dim if learned_positions else 0
    block = (4 * dim * dim + 4 * dim) + (2 * dim * mlp_dim + mlp_dim + dim) + 4 * dim
    return embed + positions + depth * block + 2 * dim + dim * num_classes + num_classes
