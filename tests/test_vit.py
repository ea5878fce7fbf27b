"""The vision transformer (chapter 11): patchify, the patch embedding (= a convolution
with kernel = stride = patch), the class token, the whole ViT against a PyTorch ViT
holding the same weights (float64, every gradient), finite differences, the parameter
count of ViT-Base, and clear errors."""
import numpy as np
import pytest
import torch

from cnnbook.conv import conv2d_backward, conv2d_forward
from cnnbook.gradcheck import check_gradients
from cnnbook.models.vit import (ClassToken, PatchEmbedding, ViT, patchify, unpatchify,
                                vit_parameter_count)
from tests.helpers import check_fan_out, module_as_kernel

torch.set_num_threads(1)
RENAME = {"out_proj_weight": "out_proj.weight", "out_proj_bias": "out_proj.bias"}


@pytest.mark.parametrize("size, patch, channels, shape", [
    (224, 16, 3, (196, 768)), (28, 7, 1, (16, 49)), (28, 4, 1, (49, 16)), (6, 3, 2, (4, 18))])
def test_patchify_shapes_and_round_trip(size, patch, channels, shape):
    x = np.random.default_rng(0).standard_normal((2, channels, size, size))
    p = patchify(x, patch)
    assert p.shape == (2,) + shape
    np.testing.assert_array_equal(unpatchify(p, patch, channels, size, size), x)
    # patch t = (row r, col c) holds x[:, :, rP:(r+1)P, cP:(c+1)P] flattened (C, P, P)
    cols = size // patch
    t = min(5, p.shape[1] - 1)
    r, c = divmod(t, cols)
    block = x[:, :, r * patch:(r + 1) * patch, c * patch:(c + 1) * patch]
    np.testing.assert_array_equal(p[:, t], block.reshape(2, -1))


def test_patchify_matches_torch_unfold():
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 12))
    ref = torch.nn.functional.unfold(torch.tensor(x), 4, stride=4).transpose(1, 2).numpy()
    np.testing.assert_array_equal(patchify(x, 4), ref)


def test_patch_embedding_equals_strided_convolution_forward_and_backward():
    rng = np.random.default_rng(2)
    emb = PatchEmbedding(2, 3, 5, rng=0, dtype=np.float64)
    x = rng.standard_normal((4, 2, 9, 6))
    y = emb(x)
    ref, cache = conv2d_forward(x, emb.params["weight"], emb.params["bias"], stride=3)
    assert y.shape == (4, 6, 5)
    np.testing.assert_allclose(y, ref.reshape(4, 5, -1).transpose(0, 2, 1), atol=1e-13)
    dout = rng.standard_normal(y.shape)
    dx = emb.backward(dout)
    rdx, rdw, rdb = conv2d_backward(dout.transpose(0, 2, 1).reshape(ref.shape), cache)
    np.testing.assert_allclose(dx, rdx, atol=1e-13)
    np.testing.assert_allclose(emb.grads["weight"], rdw, atol=1e-12)
    np.testing.assert_allclose(emb.grads["bias"], rdb, atol=1e-12)


def _module_op(module):
    """forward/backward kernels over (x, *params) for check_gradients / check_fan_out."""
    keys = list(module.params)

    def forward(x, *params):
        module.params.update(zip(keys, params))
        module._caches.clear()
        return module.forward(x), None

    def backward(dout, _):
        module.grads = {k: np.zeros_like(v) for k, v in module.params.items()}
        dx = module.backward(dout)
        return (dx,) + tuple(module.grads[k] for k in keys)

    return forward, backward, [v.copy() for v in module.params.values()]


@pytest.mark.parametrize("make, shape", [
    (lambda: PatchEmbedding(2, 2, 3, rng=0, dtype=np.float64), (2, 2, 4, 6)),
    (lambda: ClassToken(4, rng=0, dtype=np.float64), (3, 5, 4))])
def test_pieces_finite_differences(make, shape):
    module = make()
    forward, backward, params = _module_op(module)
    x = np.random.default_rng(3).standard_normal(shape)
    errors = check_gradients(forward, backward, [x] + params, rng=0)
    assert len(errors) == 1 + len(params)


def test_pieces_fan_out():
    """The same module applied twice (fresh forward each time) gets twice the gradients."""
    module = PatchEmbedding(1, 2, 3, rng=0, dtype=np.float64)
    x = np.random.default_rng(4).standard_normal((2, 1, 4, 4))

    def forward(x, *params):
        module.params.update(zip(["weight", "bias"], params))
        return module.forward(x), None

    def backward(dout, _):
        module.grads = {k: np.zeros_like(v) for k, v in module.params.items()}
        dx = module.backward(dout)
        return dx, module.grads["weight"], module.grads["bias"]

    check_fan_out(forward, backward, [x, module.params["weight"].copy(),
                                      module.params["bias"].copy()])


def test_class_token_backward_is_sum_over_batch():
    tok = ClassToken(3, rng=0, dtype=np.float64)
    x = np.arange(24.0).reshape(2, 4, 3)
    y = tok(x)
    assert y.shape == (2, 5, 3)
    np.testing.assert_array_equal(y[:, 0], np.broadcast_to(tok.params["weight"][0], (2, 3)))
    np.testing.assert_array_equal(y[:, 1:], x)
    dout = np.random.default_rng(5).standard_normal(y.shape)
    np.testing.assert_array_equal(tok.backward(dout), dout[:, 1:])
    np.testing.assert_allclose(tok.grads["weight"], dout[:, :1].sum(axis=0, keepdims=True))


class TorchViT(torch.nn.Module):
    """A reference ViT in plain PyTorch: conv patch embedding, class token, learned
    positions, nn.TransformerEncoderLayer(norm_first=True) blocks, LayerNorm, linear head."""

    def __init__(self, model, pool, positions):
        super().__init__()
        pe = model.patch_embed
        dim = pe.dim
        self.pool, self.positions = pool, positions
        self.conv = torch.nn.Conv2d(pe.in_channels, dim, pe.patch, stride=pe.patch).double()
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, dim, dtype=torch.float64))
        n_tokens = model.num_patches + (pool == "cls")
        self.pos = torch.nn.Parameter(torch.zeros(1, n_tokens, dim, dtype=torch.float64))
        self.blocks = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(dim, b.num_heads, b.mlp_dim, dropout=0.0,
                                             activation="gelu", batch_first=True,
                                             norm_first=True).double() for b in model.blocks)
        self.norm = torch.nn.LayerNorm(dim).double()
        self.head = torch.nn.Linear(dim, model.head.out_features).double()
        state = {}
        for name, value in model.state_dict().items():
            head, _, last = name.rpartition(".")
            state[f"{head}.{RENAME.get(last, last)}"] = torch.tensor(value)
        with torch.no_grad():
            self.conv.weight.copy_(state.pop("patch_embed.weight"))
            self.conv.bias.copy_(state.pop("patch_embed.bias"))
            if pool == "cls":
                self.cls.copy_(state.pop("cls_token.weight"))
            if positions == "learned":
                self.pos.copy_(state.pop("pos_embed.weight")[None])
            elif positions == "sinusoidal":
                self.pos.copy_(torch.tensor(model.pos_embed.buffers["table"])[None])
                state.pop("pos_embed.table", None)
        self.load_state_dict({k: v for k, v in state.items()} | {
            "conv.weight": self.conv.weight, "conv.bias": self.conv.bias, "cls": self.cls,
            "pos": self.pos}, strict=True)

    def forward(self, x):
        t = self.conv(x).flatten(2).transpose(1, 2)  # (N, T, dim)
        if self.pool == "cls":
            t = torch.cat([self.cls.expand(len(x), -1, -1), t], dim=1)
        if self.positions != "none":
            t = t + self.pos
        for block in self.blocks:
            t = block(t)
        t = self.norm(t)
        return self.head(t[:, 0] if self.pool == "cls" else t.mean(dim=1))


TORCH_NAMES = {"patch_embed.weight": "conv.weight", "patch_embed.bias": "conv.bias",
               "cls_token.weight": "cls", "pos_embed.weight": "pos"}


@pytest.mark.parametrize("pool, positions", [("cls", "learned"), ("mean", "none"),
                                             ("cls", "sinusoidal")])
def test_vit_matches_torch_forward_and_all_gradients(pool, positions):
    rng = np.random.default_rng(6)
    model = ViT(8, 4, 2, dim=8, depth=2, num_heads=2, mlp_dim=12, num_classes=3, pool=pool,
                positions=positions, rng=1, dtype=np.float64)
    for _, value in model.named_parameters():  # away from the init (LayerNorm's too)
        value[...] = rng.standard_normal(value.shape) * 0.5
    twin = TorchViT(model, pool, positions)
    x, dout = rng.standard_normal((3, 2, 8, 8)), rng.standard_normal((3, 3))
    xt = torch.tensor(x, requires_grad=True)
    yt = twin(xt)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(model(x), yt.detach().numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(model.backward(dout), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    theirs = dict(twin.named_parameters())
    checked = 0
    for name, _ in model.named_parameters():
        head, _, last = name.rpartition(".")
        mod = dict(model.named_modules())[head]
        other = TORCH_NAMES.get(name, f"{head}.{RENAME.get(last, last)}")
        grad = theirs[other].grad.numpy().reshape(mod.grads[last].shape)
        np.testing.assert_allclose(mod.grads[last], grad, rtol=1e-9, atol=1e-10, err_msg=name)
        checked += 1
    assert checked == len(theirs) - (pool != "cls") - (positions != "learned")


def test_vit_finite_differences_input_and_every_parameter():
    rng = np.random.default_rng(7)
    model = ViT(4, 2, 1, dim=4, depth=1, num_heads=2, mlp_dim=6, num_classes=3, rng=2,
                dtype=np.float64)
    forward, backward, params = module_as_kernel(model)
    x = rng.standard_normal((2, 1, 4, 4))
    errors = check_gradients(forward, backward, [x] + params, rng=0)
    assert len(errors) == 1 + len(params) == 1 + 4 + 12 + 2 + 2


def test_parameter_counts():
    # ViT-Base/16 on ImageNet-1k: about 86 M (Dosovitskiy et al., Table 1)
    assert vit_parameter_count() == 86_567_656
    small = ViT(rng=0)  # patch 7, width 32, 4 blocks
    assert small.num_parameters() == vit_parameter_count(28, 7, 1, 32, 4, 64, 10) == 36_746
    mean = ViT(pool="mean", positions="none", rng=0)
    assert mean.num_parameters() == vit_parameter_count(
        28, 7, 1, 32, 4, 64, 10, class_token=False, learned_positions=False)
    # torch's own count of the twin agrees
    twin = TorchViT(ViT(8, 4, 2, dim=8, depth=2, num_heads=2, mlp_dim=12, num_classes=3,
                        rng=0, dtype=np.float64), "cls", "learned")
    assert sum(p.numel() for p in twin.parameters()) == vit_parameter_count(8, 4, 2, 8, 2, 12, 3)


def test_float32_shapes_and_attention_map():
    model = ViT(rng=0)
    x = np.random.default_rng(8).standard_normal((5, 1, 28, 28)).astype(np.float32)
    y = model(x)
    assert y.shape == (5, 10) and y.dtype == np.float32
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == np.float32
    att = model.attention_from_class_token(x)
    assert att.shape == (5, 16) and np.all(att > 0) and np.all(att.sum(axis=1) < 1)


def test_errors():
    with pytest.raises(ValueError, match="patchify: the image height and width must be "
                                         "multiples of patch=5, got H=28, W=28"):
        patchify(np.zeros((1, 1, 28, 28)), 5)
    with pytest.raises(ValueError, match=r"patchify: images must have 4 dimensions"):
        patchify(np.zeros((28, 28)), 7)
    with pytest.raises(ValueError, match=r"unpatchify: patches must have shape \(N, 16, 49\)"):
        unpatchify(np.zeros((1, 16, 48)), 7, 1, 28, 28)
    with pytest.raises(ValueError, match="PatchEmbedding: x must have in_channels=3"):
        PatchEmbedding(3, 4, 8, rng=0)(np.zeros((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="ClassToken: x must have dim=4"):
        ClassToken(4, rng=0)(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="ViT: pool must be one of 'cls', 'mean', got 'max'"):
        ViT(pool="max")
    with pytest.raises(ValueError, match="ViT: positions must be one of"):
        ViT(positions="2d")
    with pytest.raises(ValueError, match="ViT: image_size=28 must be a multiple of patch=5"):
        ViT(patch=5)
    with pytest.raises(ValueError, match="ViT: x must be 28x28 images"):
        ViT(rng=0)(np.zeros((1, 1, 32, 32)))
    with pytest.raises(ValueError, match="ViT: the weights of the blocks would have shape"):
        ViT(depth=10**12)
    with pytest.raises(TypeError, match="vit_parameter_count: dim must be an integer"):
        vit_parameter_count(dim=7.5)
    with pytest.raises(ValueError, match="ViT.attention_from_class_token: needs pool='cls'"):
        ViT(pool="mean", rng=0).attention_from_class_token(np.zeros((1, 1, 28, 28)))
