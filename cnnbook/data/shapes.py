"""A seeded synthetic segmentation set: thin lines among disks of the same brightness.

Every image holds a few filled disks and a few straight lines one pixel wide, all at
the same brightness, plus Gaussian noise. The task is to mark the line pixels: the
brightness does not tell a line from a disk, only the shape does (a line pixel has
bright neighbours along one direction only), and the answer must be right to the
pixel. That is the fine structure U-Net's skips are for. See chapter 12.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checks import fits_in_memory, flag, positive_int
from .._init import make_rng

__all__ = ["make_lines_and_disks"]


def make_lines_and_disks(n: int = 1000, *, size: int = 32, disks: int = 4, lines: int = 3,
                         noise: float = 0.1, disk_class: bool = False, rng=None):
    """``n`` images (n, 1, size, size) float32 and their masks (n, size, size) int64.

    Each image: ``disks`` (<= 64) filled disks (radius 3 to size/6, centres anywhere) and
    ``lines`` (<= 64) straight lines one pixel wide (end points anywhere, at least size/3 long
    unless the border cuts them),
    all of brightness 1 on a background of 0, plus N(0, noise^2) noise. Mask value 1
    marks the line pixels that are visible (not inside a disk), 0 everything else; with
    ``disk_class`` the disk pixels get 2, so there are three classes. The same ``rng``
    seed gives the same set. See chapter 12.
    """
    func = "make_lines_and_disks"
    n = positive_int(n, "n", func)
    size = positive_int(size, "size", func, minimum=16)
    disks = positive_int(disks, "disks", func, minimum=0, maximum=64)
    lines = positive_int(lines, "lines", func, minimum=0, maximum=64)
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not np.isfinite(noise) \
            or not 0 <= noise <= 1000:
        raise ValueError(f"{func}: noise must be a number in [0, 1000], got {noise!r}")
    disk_class = flag(disk_class, "disk_class", func)
    fits_in_memory((n, max(disks, 1), size, size), "the disk distances", func,
                   f"n={n}, disks={disks}, size={size}")
    rng = make_rng(rng)
    yy, xx = np.mgrid[:size, :size]  # (size, size) pixel coordinates
    # disks: centres and radii for all images at once, painted by one broadcast
    centres = rng.uniform(0, size, (n, disks, 2))  # (n, disks, 2)
    radii = rng.uniform(3.0, max(3.0, size / 6), (n, disks))  # (n, disks)
    dist2 = ((yy - centres[..., 0, None, None]) ** 2
             + (xx - centres[..., 1, None, None]) ** 2)  # (n, disks, size, size)
    in_disk = (dist2 <= radii[..., None, None] ** 2).any(axis=1)  # (n, size, size)
    on_line = np.zeros((n, size, size), dtype=bool)
    ends = rng.uniform(0, size - 1, (n, lines, 4))  # (n, lines, [y0, x0, y1, x1])
    for k in range(lines):  # a few lines per image; each drawn for every image at once
        y0, x0, y1, x1 = (ends[:, k, j] for j in range(4))
        length = np.hypot(y1 - y0, x1 - x0)
        short = length < size / 3  # stretch short lines to size / 3 along their direction
        angle = np.arctan2(y1 - y0, x1 - x0)
        y1 = np.where(short, np.clip(y0 + size / 3 * np.sin(angle), 0, size - 1), y1)
        x1 = np.where(short, np.clip(x0 + size / 3 * np.cos(angle), 0, size - 1), x1)
        # one sample per step along the longer axis: a line exactly one pixel wide
        steps = size
        longer = np.maximum(np.maximum(np.abs(y1 - y0), np.abs(x1 - x0)), 1.0)  # (n,)
        t = np.minimum(np.arange(steps) / longer[:, None], 1.0)  # (n, steps)
        py = np.rint(y0[:, None] + t * (y1 - y0)[:, None]).astype(np.int64)  # (n, steps)
        px = np.rint(x0[:, None] + t * (x1 - x0)[:, None]).astype(np.int64)
        on_line[np.repeat(np.arange(n), steps), py.ravel(), px.ravel()] = True
    images = (in_disk | on_line).astype(np.float32)
    images += np.float32(noise) * rng.standard_normal(images.shape, dtype=np.float32)
    masks = (on_line & ~in_disk).astype(np.int64)
    if disk_class:
        masks[in_disk] = 2
    return images[:, None], masks
