"""Positional embeddings (chapter 10): the sinusoidal table (Chen's eq. 19, corrected),
its rotation property (eq. 20), and the two layers, with finite differences and PyTorch
twins; adding along the batch axis is refused."""
import numpy as np
import pytest
import torch

from cnnbook.gradcheck import check_gradients
from cnnbook.positional import (LearnedPositionalEmbedding, SinusoidalPositionalEmbedding,
                                sinusoidal_embedding)


def test_table_entries_written_out():
    T, d = 50, 128
    P = sinusoidal_embedding(T, d)
    assert P.shape == (T, d) and P.dtype == np.float64
    for t in (0, 1, 7, 49):
        for i in (0, 1, 31, 63):
            w = 1 / 10000 ** (2 * i / d)
            assert P[t, 2 * i] == pytest.approx(np.sin(w * t), abs=1e-15)
            assert P[t, 2 * i + 1] == pytest.approx(np.cos(w * t), abs=1e-15)
    np.testing.assert_array_equal(P[0, 0::2], 0.0)  # p_0 = (0, 1, 0, 1, ...)
    np.testing.assert_array_equal(P[0, 1::2], 1.0)
    assert np.abs(P).max() <= 1.0
    np.testing.assert_allclose(sinusoidal_embedding(5, 4, base=100.0)[3, 2], np.sin(3 / 10.0))


def test_rotation_and_toeplitz_gram():
    """Eq. 20: [sin, cos](w (t + phi)) = M(w phi) [sin, cos](w t), so p_t . p_{t+phi}
    depends on phi only (the Gram matrix is Toeplitz, = sum_i cos(w_i phi))."""
    T, d = 60, 128
    P = sinusoidal_embedding(T, d)
    w = 1 / 10000 ** (np.arange(0, d, 2) / d)
    for phi in range(0, 10):
        c, s = np.cos(w * phi), np.sin(w * phi)
        sin_t, cos_t = P[:T - phi, 0::2], P[:T - phi, 1::2]
        np.testing.assert_allclose(P[phi:, 0::2], c * sin_t + s * cos_t, atol=1e-12)
        np.testing.assert_allclose(P[phi:, 1::2], -s * sin_t + c * cos_t, atol=1e-12)
    G = P @ P.T
    for k in range(-T + 1, T):
        np.testing.assert_allclose(np.diagonal(G, k), np.cos(w * k).sum(), atol=1e-11)


def test_layers_add_one_row_per_token_and_gradients():
    rng = np.random.default_rng(0)
    N, T, d, tmax = 3, 5, 6, 8
    x = rng.standard_normal((N, T, d))
    fixed = SinusoidalPositionalEmbedding(tmax, d, dtype=np.float64)
    np.testing.assert_array_equal(fixed(x), x + sinusoidal_embedding(tmax, d)[:T])
    dout = rng.standard_normal((N, T, d))
    np.testing.assert_array_equal(fixed.backward(dout), dout)
    assert fixed.params == {} and set(fixed.state_dict()) == {"table"}

    learned = LearnedPositionalEmbedding(tmax, d, rng=1, dtype=np.float64)
    table = learned.params["weight"]
    assert table.shape == (tmax, d) and 0.01 < table.std() < 0.03  # N(0, 0.02^2)
    np.testing.assert_array_equal(learned(x), x + table[:T])
    dx = learned.backward(dout)
    np.testing.assert_array_equal(dx, dout)
    np.testing.assert_allclose(learned.grads["weight"][:T], dout.sum(axis=0))  # over the batch
    np.testing.assert_array_equal(learned.grads["weight"][T:], 0.0)

    def forward(x, weight):
        learned.params["weight"] = weight
        return learned.forward(x), None

    def backward(dout, _):
        learned.grads["weight"] = np.zeros_like(learned.params["weight"])
        return learned.backward(dout), learned.grads["weight"]

    check_gradients(forward, backward, [x, table.copy()])


def test_learned_layer_matches_a_torch_parameter():
    rng = np.random.default_rng(2)
    layer = LearnedPositionalEmbedding(7, 4, rng=3, dtype=np.float64)
    x, dout = rng.standard_normal((2, 6, 4)), rng.standard_normal((2, 6, 4))
    xt = torch.tensor(x, requires_grad=True)
    pt = torch.tensor(layer.params["weight"], requires_grad=True)
    yt = xt + pt[:6]
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(layer(x), yt.detach().numpy(), atol=1e-15)
    np.testing.assert_allclose(layer.backward(dout), xt.grad.numpy(), atol=1e-15)
    np.testing.assert_allclose(layer.grads["weight"], pt.grad.numpy(), atol=1e-14)


def test_batch_axis_bugs_are_refused():
    """A (T, d) input without its batch axis, a sequence longer than the table (often x laid
    out (T, N, d)), a wrong width: clear errors, never a broadcast along the batch."""
    layer = LearnedPositionalEmbedding(10, 4, rng=0)
    with pytest.raises(ValueError, match=r"LearnedPositionalEmbedding: x must have 3 dimensions"):
        layer(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"x has T=12 tokens .*is the batch axis first"):
        layer(np.zeros((2, 12, 4)))
    with pytest.raises(ValueError, match=r"dim=4 features in its last axis, got x.shape=\(2, 3, 5\)"):
        SinusoidalPositionalEmbedding(10, 4)(np.zeros((2, 3, 5)))
    layer(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"LearnedPositionalEmbedding.backward: dout must have shape \(2, 3, 4\)"):
        layer.backward(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="sinusoidal_embedding: dim must be even"):
        sinusoidal_embedding(4, 5)
    with pytest.raises(ValueError, match="sinusoidal_embedding: base must be a number > 1"):
        sinusoidal_embedding(4, 6, base=1.0)
    with pytest.raises(TypeError, match="sinusoidal_embedding: num_positions must be an integer"):
        sinusoidal_embedding(4.0, 6)
