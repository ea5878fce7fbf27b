"""Chapter 11 exercises: cutting images into patches, the paper's embedding matrix E as a
convolution weight, the backward pass of the class token, and the parameter count of a
vision transformer.

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch11.py checks this).
"""
from __future__ import annotations

import numpy as np

from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(1111)  # draws the fixed cases once, the same on every run


def _shape_of(got):
    return getattr(got, "shape", None)


# -- ch11.to_patches: patchify -------------------------------------------------------------
def to_patches(images, patch):
    """Images (N, C, H, W) -> patches (N, HW/P^2, C*P*P): numbered row by row, each
    flattened channel first, then row, then column."""
    images = np.asarray(images)
    n, c, h, w = images.shape
    x = images.reshape(n, c, h // patch, patch, w // patch, patch)
    return x.transpose(0, 2, 4, 1, 3, 5).reshape(n, (h // patch) * (w // patch), c * patch * patch)


def _patch_wrong(order):
    def wrong(images, patch):
        images = np.asarray(images)
        n, c, h, w = images.shape
        x = images.reshape(n, c, h // patch, patch, w // patch, patch)
        return x.transpose(*order).reshape(n, (h // patch) * (w // patch), c * patch * patch)
    return wrong


def _patch_no_transpose(images, patch):
    images = np.asarray(images)
    n, c, h, w = images.shape
    return images.reshape(n, (h // patch) * (w // patch), c * patch * patch).copy()


def _patch_case(n, c, h, w, p, dtype=np.float64, note=""):
    return case(_rng.standard_normal((n, c, h, w)).astype(dtype), p, note=note)


def _patch_random(rng):
    p = int(rng.integers(1, 5))
    h, w = p * int(rng.integers(1, 4)), p * int(rng.integers(1, 4))
    return case(rng.standard_normal((int(rng.integers(1, 4)), int(rng.integers(1, 4)), h, w)), p)


def _patch_diagnose(c, got, expected):
    shape = _shape_of(got)
    if shape is None or shape == expected.shape or len(shape) < 4:
        return None
    return ("Each patch is still a small array of its own. The transformer reads a sequence "
            "of vectors: how many numbers does one patch hold, and in what shape?")


PATCHIFY = Exercise(
    name="ch11.to_patches",
    title="Cut images into patches",
    reference=to_patches,
    cases=[
        _patch_case(1, 1, 4, 4, 2, note="one 4x4 image, 2x2 patches"),
        _patch_case(2, 3, 6, 6, 3, note="three channels"),
        _patch_case(2, 1, 28, 28, 7, note="Fashion-MNIST, patch 7: 16 patches of 49"),
        _patch_case(1, 2, 4, 8, 2, note="a wide image: 2 rows of 4 patches"),
        _patch_case(3, 2, 6, 3, 3, note="a tall image: 2 rows of 1 patch"),
        _patch_case(1, 1, 5, 5, 1, note="1x1 patches: every pixel a token"),
        _patch_case(1, 2, 4, 4, 4, dtype=np.float32, note="one patch, float32"),
    ],
    random_case=_patch_random,
    mistakes=[
        Mistake(_patch_no_transpose,
                "The image is reshaped straight into (N, T, C P P) without moving any axis, "
                "so a 'patch' is a run of consecutive values of a row. Which pixels belong "
                "to the top-left patch?"),
        Mistake(_patch_wrong((0, 4, 2, 1, 3, 5)),
                "The patches are numbered column by column. Section 11.2 numbers them row "
                "by row, like reading a page: which patch comes second?"),
        Mistake(_patch_wrong((0, 2, 4, 3, 5, 1)),
                "Each patch is flattened with the channel last, (P, P, C). The chapter "
                "flattens channel first, (C, P, P), the order of a convolution weight: "
                "which value comes second in a patch of a 3-channel image?"),
        Mistake(_patch_wrong((0, 2, 4, 1, 5, 3)),
                "Inside each patch, rows and columns are swapped (the patch is transposed). "
                "Which pixel follows the top-left one in a flattened patch?"),
    ],
    diagnose=_patch_diagnose,
    hints={
        "values": "Check the first patch of a tiny image by hand: it holds the top-left "
                  "P x P block of every channel. Is yours that block, in the order channel, "
                  "row, column?",
        "shape": "The result is (N, number of patches, C P P): one row of C P P numbers per "
                 "patch.",
        "exception": "Reshape (N, C, H, W) into six axes first: image, channel, patch row, "
                     "row inside the patch, patch column, column inside the patch.",
        "mutated": "Your function changed the images it was given: return a new array.",
    },
    hint_steps=(
        "Split each spatial axis in two: H = (H / P) x P and W = (W / P) x P. Which of the "
        "four new axes say which patch a pixel is in, and which say where inside the patch?",
        "The patch index must come first (after the image), row of patches before column "
        "of patches; then the values of the patch in the order channel, row, column.",
        "After moving the axes, merge the two patch axes into one and the three value axes "
        "into one. Test with a 1 x 1 x 4 x 4 image holding 0 to 15.",
    ),
)


# -- ch11.embedding_to_conv: the paper's E as a convolution weight ----------------------------
def embedding_to_conv(E, channels, patch):
    """The paper's embedding matrix E (C*P*P, D), applied as patches @ E to patches
    flattened (C, P, P), as a convolution weight (D, C, P, P) for stride P."""
    E = np.asarray(E)
    return E.T.reshape(E.shape[1], channels, patch, patch).copy()


def _conv_case(c, p, d, dtype=np.float64, note=""):
    return case(_rng.standard_normal((c * p * p, d)).astype(dtype), c, p, note=note)


def _conv_random(rng):
    c, p, d = (int(v) for v in rng.integers(1, 5, size=3))
    return case(rng.standard_normal((c * p * p, d)), c, p)


def _conv_diagnose(c, got, expected):
    shape = _shape_of(got)
    if shape is None or shape == expected.shape:
        return None
    d, ch, p, _ = expected.shape
    if shape == (ch * p * p, d) or shape == (d, ch * p * p):
        return ("The weight is still a matrix. A convolution weight has four axes: "
                "(out channels, in channels, kernel rows, kernel columns).")
    if shape == (ch, p, p, d):
        return ("The output channels come last. Which axis of a convolution weight "
                "(chapter 5) is the number of filters?")
    return None


EMBEDDING_TO_CONV = Exercise(
    name="ch11.embedding_to_conv",
    title="The embedding matrix E as a convolution weight",
    reference=embedding_to_conv,
    cases=[
        _conv_case(1, 2, 3, note="one channel, 2x2 patches, D = 3"),
        _conv_case(3, 2, 4, note="three channels"),
        _conv_case(1, 7, 32, note="the chapter's tiny ViT"),
        _conv_case(2, 3, 2, note="C = D = 2: the shapes alone cannot tell the axes apart"),
        _conv_case(3, 3, 3, note="C = P = D = 3"),
        _conv_case(1, 1, 5, note="1x1 patches"),
        _conv_case(2, 2, 3, dtype=np.float32, note="float32"),
    ],
    random_case=_conv_random,
    mistakes=[
        Mistake(lambda E, channels, patch: np.asarray(E).reshape(
                    np.shape(E)[1], channels, patch, patch).copy(),
                "E is reshaped without transposing it. Column j of E holds the weights of "
                "output feature j: which axis of E becomes the filter axis?"),
        Mistake(lambda E, channels, patch: np.asarray(E).T.reshape(
                    np.shape(E)[1], patch, patch, channels).transpose(0, 3, 1, 2).copy(),
                "The rows of E are read as if each patch were flattened channel last, "
                "(P, P, C). In which order were the chapter's patches flattened?"),
        Mistake(lambda E, channels, patch: np.asarray(E).T.reshape(
                    np.shape(E)[1], channels, patch, patch).transpose(0, 1, 3, 2).copy(),
                "Each kernel is transposed: rows and columns inside the patch are swapped. "
                "Which pixel of the patch does row 1 of E multiply?"),
        Mistake(lambda E, channels, patch: np.asarray(E).T.reshape(
                    np.shape(E)[1], channels, patch, patch)[:, :, ::-1, ::-1].copy(),
                "The kernel is rotated by 180 degrees. The layers of this book (and "
                "PyTorch's) compute a cross-correlation (chapter 5): do they flip the "
                "kernel?"),
    ],
    diagnose=_conv_diagnose,
    hints={
        "values": "Compare on one patch: the patch times E and the convolution with your weight "
                  "and stride P must give the same D numbers. Which entry of the patch "
                  "meets which weight in each?",
        "shape": "A convolution weight is (out channels, in channels, kernel rows, kernel "
                 "columns): here (D, C, P, P).",
        "exception": "E has C P P rows and D columns. Which axis becomes the filters?",
        "mutated": "Your function changed E: return a new array.",
    },
    hint_steps=(
        "Output feature j of a patch is the patch (flattened) dotted with column j of E. "
        "For a convolution it is the patch dotted with filter j. So filter j is column j of "
        "E, put back into the shape of a patch.",
        "Bring the feature axis of E to the front, then unflatten each filter in the order "
        "the patches were flattened: channel, row, column.",
        "Check with the chapter's cells: the convolution with your weight and stride P, "
        "flattened to tokens, equals the patches times E.",
    ),
)


# -- ch11.class_token_backward ------------------------------------------------------------
def class_token_backward(dout):
    """The backward of prepending one learned token t (D,) to every sequence:
    dout (N, T + 1, D) -> (dx (N, T, D), dt (D,))."""
    dout = np.asarray(dout)
    return dout[:, 1:].copy(), dout[:, 0].sum(axis=0)


def _cls_case(n, t, d, dtype=np.float64, note=""):
    return case(_rng.standard_normal((n, t + 1, d)).astype(dtype), note=note)


def _cls_random(rng):
    n, t, d = (int(v) for v in rng.integers(1, 6, size=3))
    return case(rng.standard_normal((n, t + 1, d)))


def _cls_diagnose(c, got, expected):
    if not isinstance(got, tuple) or len(got) != 2:
        return None
    shape = _shape_of(got[1])
    n, _, d = c.args[0].shape
    if shape == (n, d) and n > 1:
        return ("dt has one row per image. There is only one token, shared by every image: "
                "what happens to the gradients of a shared parameter (chapter 4)?")
    if shape == (1, 1, d) or shape == (1, d):
        return "dt is shaped like the token itself: (D,), a plain vector."
    return None


CLASS_TOKEN_BACKWARD = Exercise(
    name="ch11.class_token_backward",
    title="The backward pass of the class token",
    reference=class_token_backward,
    cases=[
        _cls_case(2, 3, 4, note="2 images, 3 patches"),
        _cls_case(1, 4, 2, note="a single image"),
        _cls_case(5, 16, 8, note="16 patches, as the chapter's ViT"),
        _cls_case(3, 1, 3, note="a single patch"),
        _cls_case(4, 2, 1, note="D = 1"),
        _cls_case(3, 3, 3, dtype=np.float32, note="float32"),
    ],
    random_case=_cls_random,
    outputs=("dx", "dt"),
    mistakes=[
        Mistake(lambda dout: (np.asarray(dout)[:, 1:].copy(), np.asarray(dout)[:, 0].mean(axis=0)),
                "dt is the average over the batch. The loss adds up the images' terms, and "
                "the token is used once per image: sum or average?"),
        Mistake(lambda dout: (np.asarray(dout)[:, :-1].copy(), np.asarray(dout)[:, -1].sum(axis=0)),
                "The token is taken from the last position. Where does the forward pass put "
                "the class token, at the start or at the end?"),
        Mistake(lambda dout: (np.asarray(dout)[:, 1:].copy(), np.asarray(dout).sum(axis=(0, 1))),
                "dt sums the gradient of every position. Which position of the output holds "
                "the token?"),
        Mistake(lambda dout: (np.asarray(dout)[:, :-1].copy(), np.asarray(dout)[:, 0].sum(axis=0)),
                "dx is off by one: it keeps the token's position and drops the last patch. "
                "Which output positions are copies of the input patches?"),
        Mistake(lambda dout: (np.asarray(dout)[:, 1:].copy(), np.asarray(dout)[0, 0].copy()),
                "dt is the gradient of the first image only. Every image used the token: "
                "where do the others' gradients go?"),
    ],
    diagnose=_cls_diagnose,
    hints={
        "values": "In the forward pass, position 0 of every output sequence is t and the "
                  "positions after it are x. Which entries of dout belong to x, and which "
                  "to t?",
        "shape": "dx is shaped like x, (N, T, D); dt like the token, (D,).",
        "exception": "dout is (N, T + 1, D): position 0 is the token, positions 1 to T the "
                     "patches.",
        "type": "Return a tuple of two arrays: (dx, dt).",
        "mutated": "Your function changed dout: return new arrays.",
    },
    hint_steps=(
        "Prepending is copying: position 0 of each output is a copy of t, the other "
        "positions are copies of x. A copy passes its gradient back unchanged.",
        "x gets the gradient of the positions it was copied to. t was copied into every "
        "image's position 0: a parameter used N times gets the sum of the N gradients.",
    ),
)


# -- ch11.count_vit_parameters --------------------------------------------------------------
def count_vit_parameters(image_size, patch, channels, dim, depth, mlp_dim, classes):
    """Parameters of a ViT with a class token and learned 1-D position embeddings, pre-norm
    blocks (two LayerNorms, multi-head attention with biases, MLP dim -> mlp_dim -> dim),
    a final LayerNorm and a linear head."""
    n = (image_size // patch) ** 2
    embed = patch * patch * channels * dim + dim
    block = 4 * dim * dim + 4 * dim + 2 * dim * mlp_dim + mlp_dim + dim + 4 * dim
    return int(embed + dim + (n + 1) * dim + depth * block + 2 * dim + dim * classes + classes)


def _count_wrong(minus):
    def wrong(image_size, patch, channels, dim, depth, mlp_dim, classes):
        return count_vit_parameters(image_size, patch, channels, dim, depth, mlp_dim,
                                    classes) - minus(image_size, patch, channels, dim, depth,
                                                     mlp_dim, classes)
    return wrong


def _count_random(rng):
    patch = int(rng.integers(1, 5))
    image = patch * int(rng.integers(1, 6))
    return case(image, patch, int(rng.integers(1, 4)), 2 * int(rng.integers(1, 9)),
                int(rng.integers(1, 5)), int(rng.integers(2, 40)), int(rng.integers(2, 12)))


COUNT = Exercise(
    name="ch11.count_vit_parameters",
    title="The parameters of a vision transformer",
    reference=count_vit_parameters,
    cases=[
        case(224, 16, 3, 768, 12, 3072, 1000, note="ViT-Base/16 on ImageNet"),
        case(28, 7, 1, 32, 4, 64, 10, note="the chapter's tiny ViT"),
        case(224, 16, 3, 1024, 24, 4096, 1000, note="ViT-Large/16"),
        case(32, 4, 3, 64, 2, 128, 10, note="CIFAR-sized"),
        case(8, 8, 2, 4, 1, 6, 3, note="one patch: two tokens"),
        case(6, 2, 3, 6, 3, 10, 5, note="a small model with three channels"),
    ],
    random_case=_count_random,
    mistakes=[
        Mistake(_count_wrong(lambda i, p, c, d, L, m, k: 2 * d),
                "The class token is missing, both the token and its position embedding. How "
                "many tokens enter the encoder: N, or N + 1?"),
        Mistake(_count_wrong(lambda i, p, c, d, L, m, k: d),
                "One position embedding is missing: there is one per token, and the class "
                "token is a token too. How many rows has the table?"),
        Mistake(_count_wrong(lambda i, p, c, d, L, m, k: L * (d * d + d)),
                "Each block's attention counts only the query, key and value projections. "
                "What maps the concatenated heads back to D features (chapter 10)?"),
        Mistake(_count_wrong(lambda i, p, c, d, L, m, k: L * 4 * d + 2 * d),
                "The LayerNorms are missing. Each has a scale and a shift of D entries: how "
                "many LayerNorms does a pre-norm block have, and one more after the stack?"),
        Mistake(_count_wrong(lambda i, p, c, d, L, m, k: L * (d * m + d)),
                "Each block's MLP counts one linear map only. How many does the MLP have, "
                "and what are their shapes?"),
        Mistake(_count_wrong(lambda i, p, c, d, L, m, k: (c - 1) * p * p * d),
                "The patch embedding ignores the channels. How many values does one patch "
                "of a C-channel image hold?"),
        Mistake(_count_wrong(lambda i, p, c, d, L, m, k: L * (4 * d + m + d) + d + k + d),
                "The biases are missing. Which layers (the patch embedding, attention's "
                "projections, the MLP, the head) add a bias vector?"),
    ],
    hints={
        "values": "Count stage by stage and compare with the chapter's table for ViT-Base: "
                  "patch embedding, class token, positions, one block, final LayerNorm, "
                  "head. Which stage is off?",
        "type": "Return a whole number (an int).",
        "exception": "Every argument is a whole number; the number of patches is (image "
                     "size / patch) squared.",
    },
    hint_steps=(
        "List the stages of section 11.6 and count each on its own: a linear map of n "
        "inputs to m outputs has n m weights and m biases.",
        "A block has two LayerNorms (2 D each), the attention's four D x D projections with "
        "their biases, and the MLP's two linear maps. The number of heads does not change "
        "the count.",
        "Outside the blocks: the patch embedding, the class token, N + 1 position "
        "embeddings, the final LayerNorm and the head.",
    ),
)

EXERCISES = [PATCHIFY, EMBEDDING_TO_CONV, CLASS_TOKEN_BACKWARD, COUNT]
