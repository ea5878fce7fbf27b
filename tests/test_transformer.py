"""The pre-norm transformer encoder block (chapter 10): forward, input gradient and every
parameter gradient against torch.nn.TransformerEncoderLayer(norm_first=True) holding the
same weights (float64), with and without a causal mask, and finite differences."""
import numpy as np
import pytest
import torch

from cnnbook.gradcheck import check_gradients
from cnnbook.module import Sequential
from cnnbook.transformer import EncoderBlock
from helpers import module_as_kernel

torch.set_num_threads(1)
RENAME = {"out_proj_weight": "out_proj.weight", "out_proj_bias": "out_proj.bias"}


def torch_twin(block, approximate="none"):
    """torch's pre-norm encoder layer with our block's weights (names are PyTorch's)."""
    act = "gelu" if approximate == "none" else torch.nn.GELU(approximate="tanh")
    layer = torch.nn.TransformerEncoderLayer(block.dim, block.num_heads, block.mlp_dim,
                                             dropout=0.0, activation=act, batch_first=True,
                                             norm_first=True).double()
    state = {}
    for name, value in block.state_dict().items():
        head, _, last = name.rpartition(".")
        state[f"{head}.{RENAME.get(last, last)}"] = torch.tensor(value)
    layer.load_state_dict(state, strict=True)
    return layer


def randomize(block, rng):
    for _, value in block.named_parameters():
        value[...] = rng.standard_normal(value.shape) * 0.5


@pytest.mark.parametrize("causal, approximate", [(False, "none"), (True, "none"), (False, "tanh")])
def test_block_matches_torch(causal, approximate):
    rng = np.random.default_rng(0)
    N, T, D = 3, 5, 8
    block = EncoderBlock(D, 2, 12, approximate=approximate, rng=1, dtype=np.float64)
    randomize(block, rng)  # weights away from the init (LayerNorm's too)
    twin = torch_twin(block, approximate)
    mask = np.triu(np.ones((T, T), bool), k=1) if causal else None
    x, dout = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))
    xt = torch.tensor(x, requires_grad=True)
    yt = twin(xt, src_mask=None if mask is None else torch.tensor(mask))
    yt.backward(torch.tensor(dout))
    y = block(x, mask)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(block.backward(dout), xt.grad.numpy(), rtol=1e-10, atol=1e-11)
    theirs = dict(twin.named_parameters())
    for name, grad in ((f"{m}.{k}", g) for m, mod in block.named_modules() for k, g in mod.grads.items()):
        head, _, last = name.rpartition(".")
        np.testing.assert_allclose(grad, theirs[f"{head}.{RENAME.get(last, last)}"].grad.numpy(),
                                   rtol=1e-10, atol=1e-10, err_msg=name)
    if causal:  # token 0 sees only itself: changing later tokens leaves its output alone
        x2 = x.copy()
        x2[:, 1:] += 1.0
        np.testing.assert_allclose(block(x2, mask)[:, 0], y[:, 0], atol=1e-12)


def test_block_finite_differences_for_x_and_every_parameter():
    rng = np.random.default_rng(3)
    block = EncoderBlock(4, 2, 6, rng=2, dtype=np.float64)
    randomize(block, rng)
    x = rng.standard_normal((2, 3, 4))
    forward, backward, params = module_as_kernel(block)
    errors = check_gradients(forward, backward, [x] + params, rng=0)
    assert len(errors) == 1 + len(params) == 13


def test_blocks_stack_in_sequential_and_shapes():
    model = Sequential(EncoderBlock(8, 4, 16, rng=0), EncoderBlock(8, 4, 16, rng=1))
    x = np.random.default_rng(0).standard_normal((2, 7, 8)).astype(np.float32)
    y = model(x)
    assert y.shape == x.shape and y.dtype == np.float32
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == np.float32
    # 2 x (LN 16 + MHA 4*64 + 4*8 + linear1 8*16 + 16 + linear2 16*8 + 8 + LN 16)
    assert model.num_parameters() == 2 * (16 + 256 + 32 + 144 + 136 + 16)


def test_errors():
    with pytest.raises(ValueError, match="EncoderBlock: dim=6 must be divisible by num_heads=4"):
        EncoderBlock(6, 4, 8)
    block = EncoderBlock(8, 2, 8, rng=0)
    with pytest.raises(ValueError, match=r"EncoderBlock: x must have 3 dimensions \(N, T, dim\)"):
        block(np.zeros((5, 8)))
    with pytest.raises(ValueError, match=r"EncoderBlock: x must have dim=8 features"):
        block(np.zeros((2, 5, 4)))
    with pytest.raises(TypeError, match="EncoderBlock: mlp_dim must be an integer"):
        EncoderBlock(8, 2, 8.0)
