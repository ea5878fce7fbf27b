"""Chapter 11's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, the references agree with cnnbook's ViT pieces,
the convolution and PyTorch, and no feedback holds the code of an answer."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnbook.conv import conv2d_forward
from cnnbook.exercises.ch11 import (class_token_backward, count_vit_parameters,
                                    embedding_to_conv, to_patches)
from cnnbook.models.vit import ClassToken, ViT, patchify, vit_parameter_count

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "11_vision_transformer.ipynb"


# -- right answers, written as different readers would -----------------------------------
def patches_six_axes(images, patch):
    n, c, h, w = images.shape
    x = images.reshape(n, c, h // patch, patch, w // patch, patch)
    x = np.transpose(x, (0, 2, 4, 1, 3, 5))
    return x.reshape(n, -1, c * patch * patch)


def patches_loops(images, patch):
    n, c, h, w = images.shape
    rows = []
    for i in range(0, h, patch):
        for j in range(0, w, patch):
            rows.append(images[:, :, i:i + patch, j:j + patch].reshape(n, -1))
    return np.stack(rows, axis=1)


def patches_with_torch_unfold(images, patch):
    import torch
    t = torch.nn.functional.unfold(torch.from_numpy(np.ascontiguousarray(images)), patch,
                                   stride=patch)
    return t.transpose(1, 2).numpy().copy()


def conv_transpose_reshape(E, channels, patch):
    return np.ascontiguousarray(E.T).reshape(-1, channels, patch, patch)


def conv_by_columns(E, channels, patch):
    d = E.shape[1]
    w = np.empty((d, channels, patch, patch), dtype=E.dtype)
    for j in range(d):
        w[j] = E[:, j].reshape(channels, patch, patch)
    return w


def conv_einsum(E, channels, patch):
    return np.einsum("kd->dk", E).reshape(E.shape[1], channels, patch, patch).copy()


def cls_slices(dout):
    return dout[:, 1:].copy(), dout[:, 0, :].sum(axis=0)


def cls_loop(dout):
    dt = np.zeros(dout.shape[2], dtype=dout.dtype)
    for n in range(dout.shape[0]):
        dt += dout[n, 0]
    return np.array(dout[:, 1:]), dt


def cls_split(dout):
    first, rest = np.split(dout, [1], axis=1)
    return rest.copy(), first.sum(axis=(0, 1))


def count_stages(image_size, patch, channels, dim, depth, mlp_dim, classes):
    n = (image_size // patch) ** 2
    patch_embedding = patch * patch * channels * dim + dim
    class_token = dim
    positions = (n + 1) * dim
    attention = 3 * (dim * dim + dim) + dim * dim + dim
    mlp = (dim * mlp_dim + mlp_dim) + (mlp_dim * dim + dim)
    norms = 2 * 2 * dim
    head = 2 * dim + dim * classes + classes
    return patch_embedding + class_token + positions + depth * (attention + mlp + norms) + head


def count_by_layers(image_size, patch, channels, dim, depth, mlp_dim, classes):
    def linear(i, o):
        return i * o + o
    tokens = (image_size // patch) ** 2 + 1
    block = 2 * (2 * dim) + 4 * linear(dim, dim) + linear(dim, mlp_dim) + linear(mlp_dim, dim)
    return (linear(channels * patch ** 2, dim) + dim + tokens * dim + depth * block
            + 2 * dim + linear(dim, classes))


RIGHT = [
    ("ch11.to_patches", patches_six_axes),
    ("ch11.to_patches", patches_loops),
    ("ch11.to_patches", patches_with_torch_unfold),
    ("ch11.embedding_to_conv", conv_transpose_reshape),
    ("ch11.embedding_to_conv", conv_by_columns),
    ("ch11.embedding_to_conv", conv_einsum),
    ("ch11.class_token_backward", cls_slices),
    ("ch11.class_token_backward", cls_loop),
    ("ch11.class_token_backward", cls_split),
    ("ch11.count_vit_parameters", count_stages),
    ("ch11.count_vit_parameters", count_by_layers),
]


# -- wrong answers, and the diagnosis each must get ----------------------------------------
def patches_reshape_only(images, patch):
    n, c, h, w = images.shape
    return images.reshape(n, -1, c * patch * patch)


def patches_column_major(images, patch):
    n, c, h, w = images.shape
    return np.stack([images[:, :, i:i + patch, j:j + patch].reshape(n, -1)
                     for j in range(0, w, patch) for i in range(0, h, patch)], axis=1)


def patches_channels_last(images, patch):
    n, c, h, w = images.shape
    x = images.transpose(0, 2, 3, 1)  # (N, H, W, C), as in many tutorials
    x = x.reshape(n, h // patch, patch, w // patch, patch, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, -1, patch * patch * c)


def patches_transposed(images, patch):
    n, c, h, w = images.shape
    return np.stack([images[:, :, i:i + patch, j:j + patch].swapaxes(2, 3).reshape(n, -1)
                     for i in range(0, h, patch) for j in range(0, w, patch)], axis=1)


def patches_unflattened(images, patch):
    n, c, h, w = images.shape
    x = images.reshape(n, c, h // patch, patch, w // patch, patch).transpose(0, 2, 4, 1, 3, 5)
    return x.reshape(n, -1, c, patch, patch)


def patches_in_place(images, patch):
    images -= 0  # harmless, then a real change
    images[...] = patches_six_axes(images, patch).reshape(images.shape)
    return patches_six_axes(images, patch)


def conv_no_transpose(E, channels, patch):
    return E.reshape(E.shape[1], channels, patch, patch)


def conv_channels_last(E, channels, patch):
    return E.T.reshape(-1, patch, patch, channels).transpose(0, 3, 1, 2)


def conv_kernel_transposed(E, channels, patch):
    return E.T.reshape(-1, channels, patch, patch).swapaxes(2, 3)


def conv_flipped(E, channels, patch):
    return np.flip(E.T.reshape(-1, channels, patch, patch), axis=(2, 3))


def conv_matrix(E, channels, patch):
    return E.T.copy()


def conv_filters_last(E, channels, patch):
    return E.reshape(channels, patch, patch, -1)


def cls_mean(dout):
    return dout[:, 1:].copy(), dout[:, 0].mean(axis=0)


def cls_last(dout):
    return dout[:, :-1].copy(), dout[:, -1].sum(axis=0)


def cls_all_positions(dout):
    return dout[:, 1:].copy(), dout.sum(axis=(0, 1))


def cls_off_by_one(dout):
    return dout[:, :-1].copy(), dout[:, 0].sum(axis=0)


def cls_first_image(dout):
    return dout[:, 1:].copy(), dout[0, 0].copy()


def cls_per_image(dout):
    return dout[:, 1:].copy(), dout[:, 0].copy()


def cls_one_output(dout):
    return dout[:, 0].sum(axis=0)


def count_without_class_token(image_size, patch, channels, dim, depth, mlp_dim, classes):
    return count_stages(image_size, patch, channels, dim, depth, mlp_dim, classes) - 2 * dim


def count_positions_for_patches_only(image_size, patch, channels, dim, depth, mlp_dim, classes):
    return count_stages(image_size, patch, channels, dim, depth, mlp_dim, classes) - dim


def count_qkv_only(image_size, patch, channels, dim, depth, mlp_dim, classes):
    return (count_stages(image_size, patch, channels, dim, depth, mlp_dim, classes)
            - depth * (dim * dim + dim))


def count_without_norms(image_size, patch, channels, dim, depth, mlp_dim, classes):
    return (count_stages(image_size, patch, channels, dim, depth, mlp_dim, classes)
            - depth * 4 * dim - 2 * dim)


def count_grey_patches(image_size, patch, channels, dim, depth, mlp_dim, classes):
    return count_stages(image_size, patch, 1, dim, depth, mlp_dim, classes)


def count_one_mlp_layer(image_size, patch, channels, dim, depth, mlp_dim, classes):
    return (count_stages(image_size, patch, channels, dim, depth, mlp_dim, classes)
            - depth * (mlp_dim * dim + dim))


def count_as_float(image_size, patch, channels, dim, depth, mlp_dim, classes):
    return float(count_stages(image_size, patch, channels, dim, depth, mlp_dim, classes)) + 0.5


WRONG = [
    ("ch11.to_patches", patches_reshape_only, "mistake", "without moving any axis"),
    ("ch11.to_patches", patches_column_major, "mistake", "column by column"),
    ("ch11.to_patches", patches_channels_last, "mistake", "channel last"),
    ("ch11.to_patches", patches_transposed, "mistake", "rows and columns are swapped"),
    ("ch11.to_patches", patches_unflattened, "mistake", "small array of its own"),
    ("ch11.to_patches", patches_in_place, "mutated", "changed the images"),
    ("ch11.embedding_to_conv", conv_no_transpose, "mistake", "without transposing"),
    ("ch11.embedding_to_conv", conv_channels_last, "mistake", "channel last"),
    ("ch11.embedding_to_conv", conv_kernel_transposed, "mistake", "kernel is transposed"),
    ("ch11.embedding_to_conv", conv_flipped, "mistake", "rotated by 180 degrees"),
    ("ch11.embedding_to_conv", conv_matrix, "mistake", "still a matrix"),
    ("ch11.embedding_to_conv", conv_filters_last, "mistake", "output channels come last"),
    ("ch11.class_token_backward", cls_mean, "mistake", "average over the batch"),
    ("ch11.class_token_backward", cls_last, "mistake", "last position"),
    ("ch11.class_token_backward", cls_all_positions, "mistake", "every position"),
    ("ch11.class_token_backward", cls_off_by_one, "mistake", "off by one"),
    ("ch11.class_token_backward", cls_first_image, "mistake", "first image only"),
    ("ch11.class_token_backward", cls_per_image, "mistake", "one row per image"),
    ("ch11.class_token_backward", cls_one_output, "type", "2 items"),
    ("ch11.count_vit_parameters", count_without_class_token, "mistake", "class token is missing"),
    ("ch11.count_vit_parameters", count_positions_for_patches_only, "mistake",
     "One position embedding is missing"),
    ("ch11.count_vit_parameters", count_qkv_only, "mistake", "query, key and value"),
    ("ch11.count_vit_parameters", count_without_norms, "mistake", "LayerNorms are missing"),
    ("ch11.count_vit_parameters", count_grey_patches, "mistake", "ignores the channels"),
    ("ch11.count_vit_parameters", count_one_mlp_layer, "mistake", "one linear map only"),
    ("ch11.count_vit_parameters", count_as_float, "type", "int"),
]


# -- the references agree with cnnbook's ViT, the convolution and PyTorch ------------------
def test_to_patches_and_embedding_to_conv_agree_with_the_package():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 12))
    np.testing.assert_array_equal(to_patches(x, 4), patchify(x, 4))
    np.testing.assert_array_equal(patches_with_torch_unfold(x, 4), patchify(x, 4))
    E = rng.standard_normal((3 * 16, 5))
    out, _ = conv2d_forward(x, embedding_to_conv(E, 3, 4), stride=4)
    np.testing.assert_allclose(out.reshape(2, 5, -1).transpose(0, 2, 1), patchify(x, 4) @ E,
                               atol=1e-12)


def test_class_token_backward_matches_the_layer():
    tok = ClassToken(4, rng=0, dtype=np.float64)
    tok(np.zeros((3, 5, 4)))
    dout = np.random.default_rng(1).standard_normal((3, 6, 4))
    dx, dt = class_token_backward(dout)
    np.testing.assert_array_equal(tok.backward(dout), dx)
    np.testing.assert_allclose(tok.grads["weight"].reshape(-1), dt)


def test_count_agrees_with_the_package_and_the_model():
    assert count_vit_parameters(224, 16, 3, 768, 12, 3072, 1000) == vit_parameter_count() \
        == 86_567_656
    assert count_vit_parameters(28, 7, 1, 32, 4, 64, 10) == ViT(rng=0).num_parameters()
