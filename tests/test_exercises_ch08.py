"""Chapter 8's exercises: right answers written as different readers would pass, plausible
wrong answers each get their diagnosis, and the references agree with cnnbook."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnbook import Conv2d, Sequential, gradient_map, receptive_fields
from cnnbook.exercises.ch08 import depth_needed, path_counts, rf_table

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "08_receptive_fields.ipynb"


# -- right answers ---------------------------------------------------------------------
def table_loop(layers):
    r, j, a, out = 1, 1, 0, []
    for k, s, d, p in layers:
        r = r + d * (k - 1) * j
        a = a - p * j
        j = j * s
        out.append((r, j, a))
    return np.array(out, dtype=int).reshape(len(layers), 3)


def table_cumulative(layers):
    jumps = np.cumprod([1] + [s for _, s, _, _ in layers])
    sizes = 1 + np.cumsum([d * (k - 1) * jumps[i] for i, (k, _, d, _) in enumerate(layers)])
    starts = -np.cumsum([p * jumps[i] for i, (_, _, _, p) in enumerate(layers)])
    return np.stack([sizes, jumps[1:], starts], axis=1).reshape(-1, 3).astype(np.int64)


def depth_loop(target, kernel_size, stride=1):
    layers = 0
    while True:
        if receptive_fields([(kernel_size, stride)] * layers)[-1:] and \
                receptive_fields([(kernel_size, stride)] * layers)[-1].size >= target:
            return layers
        if layers == 0 and target <= 1:
            return 0
        layers += 1


def depth_formula(target, kernel_size, stride=1):
    if target <= 1:
        return 0
    if stride == 1:
        return int(np.ceil((target - 1) / (kernel_size - 1)))
    n, field = 0, 1
    while field < target:
        n += 1
        field = 1 + (kernel_size - 1) * (stride ** n - 1) // (stride - 1)
    return n


def counts_by_backprop(kernel_size, depth):
    r = 1 + depth * (kernel_size - 1)
    if depth == 0:
        return np.ones((1, 1), dtype=np.int64)
    layers = [Conv2d(1, 1, kernel_size, bias=False, dtype=np.float64) for _ in range(depth)]
    for layer in layers:
        layer.params["weight"][...] = 1.0
    g = gradient_map(Sequential(*layers), np.ones((1, 1, r, r)))
    return np.rint(g).astype(np.int64)


def counts_convolve2d(kernel_size, depth):
    from scipy.signal import convolve2d
    m = np.ones((1, 1))
    for _ in range(depth):
        m = convolve2d(m, np.ones((kernel_size, kernel_size)))
    return m.astype(np.int64)


def half_width_loop(grad, mass=0.9):
    g = np.abs(grad)
    i, j = divmod(int(np.argmax(g)), g.shape[1])
    for h in range(max(g.shape) + 1):
        if g[max(i - h, 0):i + h + 1, max(j - h, 0):j + h + 1].sum() >= mass * g.sum() - 1e-12:
            return h


def half_width_rings(grad, mass=0.9):
    g = np.abs(np.array(grad, dtype=float))
    i, j = np.unravel_index(g.argmax(), g.shape)
    rows, cols = np.indices(g.shape)
    ring = np.maximum(abs(rows - i), abs(cols - j))
    share = np.cumsum(np.bincount(ring.ravel(), weights=g.ravel())) / g.sum()
    return int(np.argmax(share >= mass - 1e-12))


RIGHT = [
    ("ch08.rf_table", table_loop),
    ("ch08.rf_table", table_cumulative),
    ("ch08.depth_needed", depth_loop),
    ("ch08.depth_needed", depth_formula),
    ("ch08.path_counts", counts_by_backprop),
    ("ch08.path_counts", counts_convolve2d),
    ("ch08.erf_half_width", half_width_loop),
    ("ch08.erf_half_width", half_width_rings),
]


# -- wrong answers -----------------------------------------------------------------------
def table_eq17(layers):
    rows, field = [], 1
    for i, (k, s, d, p) in enumerate(layers):
        field += d * (k - 1)                 # eq. 17, dilation included
        rows.append([field, *rf_table(layers)[i][1:]])
    return np.array(rows, dtype=int).reshape(-1, 3)


def table_jump_first(layers):
    r, j, a, out = 1, 1, 0, []
    for k, s, d, p in layers:
        j *= s
        r += d * (k - 1) * j
        a -= p * j
        out.append((r, j, a))
    return np.array(out, dtype=int).reshape(-1, 3)


def table_no_dilation(layers):
    return rf_table([(k, s, 1, p) for k, s, d, p in layers])


def table_start_plain(layers):
    table = rf_table(layers)
    table[:, 2] = -np.cumsum([p for *_, p in layers], dtype=int)
    return table


def table_start_sign(layers):
    return rf_table(layers) * np.array([1, 1, -1])


def table_sizes_only(layers):
    return rf_table(layers)[:, 0]


def depth_eq17(target, kernel_size, stride=1):
    return depth_needed(target, kernel_size, 1)


def depth_strict(target, kernel_size, stride=1):
    return depth_needed(target + 1, kernel_size, stride)


def depth_jump_first(target, kernel_size, stride=1):
    size, jump, n = 1, 1, 0
    while size < target:
        jump *= stride
        size += (kernel_size - 1) * jump
        n += 1
    return n


def depth_plus_one(target, kernel_size, stride=1):
    return depth_needed(target, kernel_size, stride) + 1


def depth_float(target, kernel_size, stride=1):
    return float(depth_needed(target, kernel_size, stride))


def counts_line(kernel_size, depth):
    return path_counts(kernel_size, depth)[0] if depth == 0 else \
        path_counts(kernel_size, depth)[(depth * (kernel_size - 1)) // 2] // \
        path_counts(kernel_size, depth)[(depth * (kernel_size - 1)) // 2].min()


def counts_added(kernel_size, depth):
    line = path_counts(kernel_size, depth)[0]
    return np.add.outer(line, line)


def counts_one_layer_short(kernel_size, depth):
    return path_counts(kernel_size, max(depth - 1, 0))


def counts_normalized(kernel_size, depth):
    m = path_counts(kernel_size, depth)
    return m / m.sum()


def counts_ones(kernel_size, depth):
    r = 1 + depth * (kernel_size - 1)
    return np.ones((r, r), dtype=int)


def half_width_signed(grad, mass=0.9):
    g = np.asarray(grad, dtype=float)
    i, j = np.unravel_index(np.abs(g).argmax(), g.shape)
    for h in range(max(g.shape) + 1):
        if g[max(i - h, 0):i + h + 1, max(j - h, 0):j + h + 1].sum() >= mass * g.sum() - 1e-12:
            return h
    return h


def half_width_centre(grad, mass=0.9):
    g = np.abs(grad)
    i, j = g.shape[0] // 2, g.shape[1] // 2
    for h in range(max(g.shape) + 1):
        if g[max(i - h, 0):i + h + 1, max(j - h, 0):j + h + 1].sum() >= mass * g.sum() - 1e-12:
            return h


def half_width_side(grad, mass=0.9):
    return 2 * half_width_loop(grad, mass) + 1


def half_width_strict(grad, mass=0.9):
    g = np.abs(grad)
    i, j = np.unravel_index(g.argmax(), g.shape)
    for h in range(max(g.shape) + 1):
        if g[max(i - h, 0):i + h + 1, max(j - h, 0):j + h + 1].sum() > mass * g.sum():
            return h
    return h


def half_width_in_place(grad, mass=0.9):
    np.abs(grad, out=grad)
    return half_width_loop(grad, mass)


WRONG = [
    # (exercise, function, expected category, words the verdict must contain)
    ("ch08.rf_table", table_eq17, "mistake", "eq. 17"),
    ("ch08.rf_table", table_jump_first, "mistake", "own stride"),
    ("ch08.rf_table", table_no_dilation, "mistake", "dilation is left out"),
    ("ch08.rf_table", table_start_plain, "mistake", "padding alone"),
    ("ch08.rf_table", table_start_sign, "mistake", "wrong way"),
    ("ch08.rf_table", table_sizes_only, "shape", ""),
    ("ch08.depth_needed", depth_eq17, "mistake", "whatever the stride"),
    ("ch08.depth_needed", depth_strict, "mistake", "reaches the target exactly"),
    ("ch08.depth_needed", depth_jump_first, "mistake", "before the layer's own kernel"),
    ("ch08.depth_needed", depth_plus_one, "mistake", "zero layers"),
    ("ch08.depth_needed", depth_float, "type", "int"),
    ("ch08.path_counts", counts_line, "mistake", "single line"),
    ("ch08.path_counts", counts_added, "mistake", "added"),
    ("ch08.path_counts", counts_one_layer_short, "mistake", "One layer too few"),
    ("ch08.path_counts", counts_normalized, "mistake", "normalized"),
    ("ch08.path_counts", counts_ones, "mistake", "one path"),
    ("ch08.erf_half_width", half_width_signed, "mistake", "cancel"),
    ("ch08.erf_half_width", half_width_centre, "mistake", "middle of the map"),
    ("ch08.erf_half_width", half_width_side, "mistake", "side of the square"),
    ("ch08.erf_half_width", half_width_strict, "mistake", "equality"),
    ("ch08.erf_half_width", half_width_in_place, "mutated", "changed"),
]


# -- the references agree with cnnbook --------------------------------------------------
def test_rf_table_agrees_with_the_package():
    stack = [(3, 2, 1, 1), (2, 2, 1, 0), (3, 1, 2, 2), (5, 1, 1, 2)]
    assert rf_table(stack).tolist() == [[r.size, r.jump, r.start] for r in receptive_fields(stack)]


def test_depth_needed_and_path_counts():
    assert depth_needed(7, 3) == 3 and depth_needed(8, 3) == 4 and depth_needed(1, 3) == 0
    assert depth_needed(15, 3, 2) == 3
    np.testing.assert_array_equal(path_counts(3, 3), counts_by_backprop(3, 3))
    assert path_counts(2, 4)[0].tolist() == [1, 4, 6, 4, 1]
