"""Chapter 8 exercises: the receptive field, jump and start of every layer of a stack, the
depth a stack of equal layers needs for a target field, the path counts of a stride-1 stack
with unit weights (the effective receptive field's shape), and the half-width of the
square that holds a share of a gradient map.

Verdicts and hints name the kind of mistake and ask a question; none holds the code of
the answer (tests/test_exercises_ch08.py checks this).
"""
from __future__ import annotations

import numpy as np

from ._spec import Exercise, Mistake, case

__all__ = ["EXERCISES"]

_rng = np.random.default_rng(808)  # draws the fixed cases once, the same on every run


# -- ch08.rf_table: (size, jump, start) after every layer ---------------------------------
def rf_table(layers):
    """For layers given as (kernel, stride, dilation, padding), an int array (L, 3): one
    row (receptive field, jump, start) after each layer."""
    size, jump, start, rows = 1, 1, 0, []
    for k, s, d, p in layers:
        size += d * (k - 1) * jump
        start -= p * jump
        jump *= s
        rows.append((size, jump, start))
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def _table_wrong(size_rule=None, start_rule=None, jump_first=False):
    def wrong(layers):
        size, jump, start, rows = 1, 1, 0, []
        for k, s, d, p in layers:
            if jump_first:
                jump *= s
            size = size_rule(size, k, s, d, jump) if size_rule else size + d * (k - 1) * jump
            start = start_rule(start, p, jump) if start_rule else start - p * jump
            if not jump_first:
                jump *= s
            rows.append((size, jump, start))
        return np.array(rows, dtype=np.int64).reshape(-1, 3)
    return wrong


def _table_random(rng):
    layers = []
    for _ in range(int(rng.integers(1, 6))):
        k = int(rng.integers(1, 6))
        layers.append((k, int(rng.integers(1, 4)), int(rng.integers(1, 3)),
                       int(rng.integers(0, 3))))
    return case(layers)


_LENET = [(5, 1, 1, 2), (2, 2, 1, 0), (5, 1, 1, 0), (2, 2, 1, 0)]

RF_TABLE = Exercise(
    name="ch08.rf_table",
    title="Receptive field, jump and start of every layer",
    reference=rf_table,
    cases=[
        case([(3, 1, 1, 0)], note="one 3x3 convolution"),
        case([(3, 2, 1, 0), (3, 1, 1, 0)], note="3x3 stride 2, then 3x3: eq. 17 fails"),
        case([(3, 1, 1, 1), (3, 1, 2, 2)], note="a dilated layer, with padding"),
        case(_LENET, note="chapter 6's LeNet"),
        case([(3, 2, 1, 1), (3, 2, 1, 1), (3, 2, 1, 1)], note="three strided layers, padded"),
        case([], note="no layers: an empty table"),
    ],
    random_case=_table_random,
    mistakes=[
        Mistake(_table_wrong(size_rule=lambda r, k, s, d, j: r + d * (k - 1)),
                "The field grows by the kernel alone, as in Chen's eq. 17. After a layer with "
                "stride 2, how far apart are the inputs of neighbouring units of the next layer?"),
        Mistake(_table_wrong(jump_first=True),
                "The layer's own stride already multiplies its kernel. Which units does a "
                "layer's kernel reach: those of its input, whose jump is the one before it?"),
        Mistake(_table_wrong(size_rule=lambda r, k, s, d, j: r + (k - 1) * j),
                "The dilation is left out. How many inputs of its input does a kernel of k taps "
                "with dilation d span?"),
        Mistake(_table_wrong(start_rule=lambda a, p, j: a - p),
                "The start moves by the padding alone. Padding p of a later layer adds p "
                "positions of its input: how many inputs of the image is each?"),
        Mistake(_table_wrong(start_rule=lambda a, p, j: a + p * j),
                "The start moves the wrong way. Does padding add positions before the first "
                "input (negative indices) or after it?"),
    ],
    hints={
        "values": "Check the single 3x3 layer, then the stride-2 pair (section 8.2 gives 7): "
                  "which of the three numbers is off first?",
        "type": "Return a list with one tuple (size, jump, start) of ints per layer.",
        "exception": "Each layer is a tuple of four ints: kernel, stride, dilation, padding.",
        "mutated": "Your function changed the list it was given: read it, do not modify it.",
    },
    hint_steps=(
        "Keep three numbers as you walk the layers: the field, the jump (inputs between "
        "neighbouring units) and the start (first input seen by unit 0). What are they "
        "before any layer?",
        "A layer's kernel reaches units of its input, which sit one jump of the previous "
        "layer apart. Update the field and the start with that jump, and only then the jump.",
        "Compare your LeNet row by row with the table of section 8.3.",
    ),
)


# -- ch08.depth_needed: how many equal layers reach a target field -------------------------
def depth_needed(target, kernel_size, stride=1):
    """The fewest layers of kernel k and stride s (stacked, all equal) whose receptive
    field is at least ``target`` (0 if target <= 1)."""
    size, jump, depth = 1, 1, 0
    while size < target:
        size += (kernel_size - 1) * jump
        jump *= stride
        depth += 1
    return depth


def _depth_wrong(strict=False, eq17=False, jump_first=False, start=0):
    def wrong(target, kernel_size, stride=1):
        size, jump, depth = 1, 1, start
        while (size <= target) if strict else (size < target):
            if jump_first:
                jump *= stride
            size += (kernel_size - 1) * (1 if eq17 else jump)
            if not jump_first:
                jump *= stride
            depth += 1
        return depth
    return wrong


def _depth_random(rng):
    return case(int(rng.integers(1, 400)), int(rng.integers(2, 8)), int(rng.integers(1, 4)))


DEPTH_NEEDED = Exercise(
    name="ch08.depth_needed",
    title="The depth a stack needs for a target receptive field",
    reference=depth_needed,
    cases=[
        case(8, 3, note="one more than three 3x3 layers reach"),
        case(7, 3, note="3x3 layers, stride 1: eq. 17"),
        case(1, 3, note="a single input: no layer needed"),
        case(224, 3, 1, note="stride 1 up to 224"),
        case(224, 3, 2, note="stride 2 up to 224"),
        case(16, 2, 2, note="2x2 layers with stride 2"),
    ],
    random_case=_depth_random,
    mistakes=[
        Mistake(_depth_wrong(eq17=True),
                "The field grows by k - 1 per layer whatever the stride. After a strided layer, "
                "how far apart are the inputs that the next kernel's taps reach?"),
        Mistake(_depth_wrong(strict=True),
                "One layer too many when a stack reaches the target exactly. Is a field equal "
                "to the target enough?"),
        Mistake(_depth_wrong(jump_first=True),
                "The stride multiplies the jump before the layer's own kernel uses it. Whose "
                "spacing do a layer's taps follow: its input's or its output's?"),
        Mistake(_depth_wrong(start=1),
                "One layer too many: what is the field of zero layers, and how many layers "
                "does a target of 1 need?"),
    ],
    hints={
        "values": "Try 3x3 layers and stride 1 by hand (eq. 17): 3, 5, 7 ... Then stride 2.",
        "type": "Return a whole number of layers, an int.",
        "exception": "target, kernel_size and stride are ints; stride defaults to 1.",
    },
    hint_steps=(
        "Add layers one at a time and track the field as section 8.2 does: when do you stop?",
        "Each layer adds (k - 1) times the jump of its input; then the jump is multiplied "
        "by the stride.",
    ),
)


# -- ch08.path_counts: paths from each input to the centre unit ---------------------------
def path_counts(kernel_size, depth):
    """The number of paths from each input pixel to one unit after ``depth`` stride-1
    layers of k x k kernels of ones: an (r, r) array of ints, r = 1 + depth (k - 1)."""
    line = np.ones(1, dtype=np.int64)
    for _ in range(depth):
        line = np.convolve(line, np.ones(kernel_size, dtype=np.int64))
    return np.outer(line, line)


def _line(k, depth):
    line = np.ones(1, dtype=np.int64)
    for _ in range(depth):
        line = np.convolve(line, np.ones(k, dtype=np.int64))
    return line


PATH_COUNTS = Exercise(
    name="ch08.path_counts",
    title="Path counts of a stride-1 stack",
    reference=path_counts,
    cases=[
        case(3, 1, note="one layer: every input by one path"),
        case(3, 2, note="two 3x3 layers"),
        case(2, 4, note="2x2 kernels, four layers (chapter 5's 1, 4, 6, 4, 1 in 2-D)"),
        case(3, 0, note="no layer: the unit is its input"),
        case(5, 3, note="5x5 kernels"),
    ],
    random_case=lambda rng: case(int(rng.integers(1, 6)), int(rng.integers(0, 6))),
    mistakes=[
        Mistake(lambda k, depth: _line(k, depth),
                "A single line of counts: the field is two-dimensional. How does a path in 2-D "
                "split into a path along the rows and one along the columns?"),
        Mistake(lambda k, depth: np.add.outer(_line(k, depth), _line(k, depth)),
                "The counts along rows and columns are added. Each vertical path combines with "
                "each horizontal one: how many combined paths are there?"),
        Mistake(lambda k, depth: np.outer(_line(k, max(depth - 1, 0)), _line(k, max(depth - 1, 0))),
                "One layer too few. How many kernels does a path cross in a stack of L layers?"),
        Mistake(lambda k, depth: (np.outer(_line(k, depth), _line(k, depth))
                                  / np.outer(_line(k, depth), _line(k, depth)).sum()),
                "The counts are normalized. The exercise asks for the number of paths, an "
                "integer for each input."),
        Mistake(lambda k, depth: np.ones((1 + depth * (k - 1),) * 2, dtype=np.int64),
                "Every input gets one path: that is the theoretical field. Through how many "
                "chains of units can the centre input reach the unit after two layers?"),
    ],
    hints={
        "values": "Take two 3x3 layers: the corner input reaches the unit by one path, the "
                  "centre by how many? Compare with chapter 5's binomial numbers.",
        "shape": "The map covers the receptive field: r x r with r = 1 + L (k - 1).",
        "exception": "kernel_size and depth are ints; depth may be 0.",
    },
    hint_steps=(
        "In one dimension, with kernels of ones, the counts after L layers are the counts "
        "after L - 1 layers, spread by one more kernel: what operation is that?",
        "In two dimensions a path is a row path and a column path taken together. Build the "
        "1-D counts once and combine them for every (row, column) pair.",
    ),
)


# -- ch08.erf_half_width: the square that holds a share of the gradient -------------------
def erf_half_width(grad, mass=0.9):
    """The smallest h >= 0 such that the square of side 2h + 1 centred at the largest
    |grad| (the first, on ties), clipped to the map, holds at least ``mass`` of the sum
    of |grad|."""
    g = np.abs(np.asarray(grad, dtype=np.float64))
    total = g.sum()
    i, j = np.unravel_index(np.argmax(g), g.shape)
    h = 0
    while g[max(i - h, 0):i + h + 1, max(j - h, 0):j + h + 1].sum() < mass * total * (1 - 1e-12):
        h += 1
    return h


def _hw_wrong(signed=False, centre=False, side=False, strict=False):
    def wrong(grad, mass=0.9):
        g = np.asarray(grad, dtype=np.float64)
        g = g if signed else np.abs(g)
        total = g.sum()
        if centre:
            i, j = g.shape[0] // 2, g.shape[1] // 2
        else:
            i, j = np.unravel_index(np.argmax(g), g.shape)
        h = 0
        while True:
            s = g[max(i - h, 0):i + h + 1, max(j - h, 0):j + h + 1].sum()
            if (s > mass * total) if strict else (s >= mass * total * (1 - 1e-12)):
                break
            h += 1
            if h > max(g.shape):
                break
        return 2 * h + 1 if side else h
    return wrong


def _gauss(n, sigma, centre, sign=False):
    idx = np.arange(n)
    g = np.exp(-((idx[:, None] - centre[0]) ** 2 + (idx[None, :] - centre[1]) ** 2)
               / (2 * sigma ** 2))
    if sign:
        g = g * np.where(_rng.random((n, n)) < 0.3, -1.0, 1.0)
    return g


def _hw_random(rng):
    n = int(rng.integers(5, 25))
    g = rng.standard_normal((n, n)) * _gauss(n, rng.uniform(1, 4), rng.integers(0, n, 2))
    return case(g, float(rng.choice([0.5, 0.8, 0.9, 0.95])))


ERF_HALF_WIDTH = Exercise(
    name="ch08.erf_half_width",
    title="The half-width that holds a share of a gradient map",
    reference=erf_half_width,
    cases=[
        case(_gauss(15, 2.0, (7, 7)), note="a Gaussian map in the middle"),
        case(_gauss(15, 2.0, (7, 7)), 0.5, note="half the mass"),
        case(_gauss(15, 2.0, (7, 7), sign=True), note="negative entries count by their size"),
        case(_gauss(16, 1.5, (3, 10)), note="off centre"),
        case(np.eye(1), note="a single pixel"),
        case(np.pad(np.ones((5, 5)), 3), 0.36, note="a flat 5x5 block: the inner 3x3 holds 36% exactly"),
        case(_gauss(9, 1.0, (4, 4)), 1.0, note="all of it"),
    ],
    random_case=_hw_random,
    mistakes=[
        Mistake(_hw_wrong(signed=True),
                "Negative gradients cancel positive ones. Does an input with gradient -1 "
                "matter less than one with +1?"),
        Mistake(_hw_wrong(centre=True),
                "The square is centred on the middle of the map. Where does the exercise put "
                "its centre?"),
        Mistake(_hw_wrong(strict=True),
                "One too many when a square holds the share exactly. Is 'at least' met by "
                "equality?"),
        Mistake(_hw_wrong(side=True),
                "That is the side of the square. The exercise asks for h, the half-width."),
    ],
    hints={
        "values": "Try the flat 5x5 block: which h holds 36% of it?",
        "type": "Return a whole number h, an int.",
        "exception": "grad is a 2-D array; mass is a number in (0, 1].",
        "mutated": "Your function changed grad: work on a copy of it, or on new arrays.",
    },
    hint_steps=(
        "Find the centre first, then grow the square one ring at a time. When does it stop?",
        "The sums are of |grad|; near a border the square is cut off by the map's edge.",
    ),
)

EXERCISES = [RF_TABLE, DEPTH_NEEDED, PATH_COUNTS, ERF_HALF_WIDTH]
