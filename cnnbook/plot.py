"""Plots used across the chapters: training curves, image grids, decision boundaries
and convolution filters.

Every function draws with matplotlib's object API on a new ``matplotlib.figure.Figure``
(or on the ``ax`` given) and returns the Figure. It never calls ``plt.show()`` and
never touches pyplot's global state, so it works under any backend (Agg included).
In a notebook, a Figure that is the last expression of a cell is displayed once.
"""
from __future__ import annotations

import html
import re
from collections.abc import Mapping

import numpy as np
from matplotlib.colors import ListedColormap

from ._checks import as_float_array, fits_in_memory, function, positive_int, real_number
from ._figure import check_axes, check_cmap, check_figsize, new_figure

__all__ = ["BOOK_COLORS", "use_book_style", "plot_history", "show_images",
           "plot_decision_boundary", "plot_filters", "animation_html"]

# The book's one palette: Okabe & Ito's eight colours (Color Universal Design, 2008),
# told apart under the common colour-vision deficiencies; black last. Every chapter's
# setup cell calls use_book_style(), so plt.plot's default cycle is this palette.
BOOK_COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9",
               "#CC79A7", "#F0E442", "#000000")
_CLASS_COLORS = BOOK_COLORS + ("#999999", "#882255")


def use_book_style():
    """Set matplotlib's defaults to the book's: the colour-blind-safe palette
    ``BOOK_COLORS`` as the line colour cycle, ``viridis`` (perceptually uniform, readable
    in grey) as the default colour map, and a readable font size. Chapters call it once in
    their setup cell; it changes only ``matplotlib.rcParams``.
    """
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams["axes.prop_cycle"] = cycler(color=list(BOOK_COLORS))
    mpl.rcParams["image.cmap"] = "viridis"
    mpl.rcParams["font.size"] = 11


def _history_dict(history):
    func = "plot_history"
    if hasattr(history, "as_dict"):
        h = history.as_dict()
    elif isinstance(history, Mapping):
        h = dict(history)
    else:
        raise TypeError(f"{func}: history must be a History (or its as_dict()), "
                        f"got {type(history).__name__} {history!r:.40}")
    if "train_loss" not in h:
        raise ValueError(f"{func}: history must be a History (or its as_dict()) "
                         f"with a 'train_loss' entry, got keys {sorted(h)}")
    for key in ("train_loss", "val_loss", "train_acc", "val_acc", "epoch"):
        values = h.get(key, [])
        if not (isinstance(values, (list, tuple)) and all(
                v is None or (isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
                for v in values)):
            raise TypeError(f"{func}: history[{key!r}] must be a list of numbers (None where "
                            f"there is none), got {values!r:.40}")
    epochs = h.get("epoch") or list(range(1, len(h["train_loss"]) + 1))
    return h, epochs


def _series(values):
    """A list with None entries -> float array with NaN (matplotlib leaves gaps)."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def plot_history(history, ax=None):
    """Loss (left) and accuracy (right, when recorded) per epoch, training vs validation.

    ``history``: a ``cnnbook.train.History`` or its ``as_dict()``. ``ax``: None (new
    figure), one Axes (loss only) or a pair of Axes (loss, accuracy).
    """
    h, epochs = _history_dict(history)
    check_axes(ax, "plot_history", several=True)
    has_acc = any(v is not None for v in h.get("train_acc", []) + h.get("val_acc", []))
    if ax is None:
        fig = new_figure(figsize=(10 if has_acc else 5, 3.5), layout="constrained")
        axes = list(fig.subplots(1, 2 if has_acc else 1, squeeze=False)[0])
    else:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    panels = [("loss", "train_loss", "val_loss")]
    if has_acc and len(axes) > 1:
        panels.append(("accuracy", "train_acc", "val_acc"))
    for a, (title, train_key, val_key) in zip(axes, panels):
        a.plot(epochs, _series(h[train_key]), "o-", label="train", markersize=3)
        val = h.get(val_key, [])
        if any(v is not None for v in val):
            a.plot(epochs, _series(val), "s--", label="validation", markersize=3)
        a.set_xlabel("epoch")
        a.set_ylabel(title)
        a.set_title(title)
        a.grid(alpha=0.3)
        a.legend()
    return axes[0].figure


def _to_hw_or_hwc(images, func):
    """(N, H, W), (N, 1, H, W), (N, 3, H, W) or (N, H, W, 3) -> (N, H, W) or (N, H, W, 3)."""
    images = as_float_array(images, "images", func, ndim=(2, 3, 4),
                            layout="(N, H, W), (N, C, H, W) or (N, H, W, C)")
    if images.ndim == 2:  # a single image
        images = images[None]  # (1, H, W)
    if images.size == 0:
        raise ValueError(f"{func}: images is empty (images.shape={images.shape})")
    if images.ndim == 4:
        if images.shape[1] in (1, 3):
            images = images.transpose(0, 2, 3, 1)  # (N, H, W, C)
        elif images.shape[-1] not in (1, 3):
            raise ValueError(f"{func}: images must have 1 or 3 channels, got "
                             f"images.shape={images.shape}")
        if images.shape[-1] == 1:
            images = images[..., 0]  # (N, H, W)
    return images


def show_images(images, labels=None, class_names=None, *, predictions=None, ncols=8,
                cmap="gray", vmin=None, vmax=None, size=1.4):
    """A grid of images, titled with their labels (class names if given).

    With ``predictions``, each title reads "prediction (label)", green when right and
    red when wrong. images: (N, H, W), (N, 1 or 3, H, W) or (N, H, W, 3).
    """
    func = "show_images"
    images = _to_hw_or_hwc(images, func)
    n = len(images)
    ncols = min(positive_int(ncols, "ncols", func), n)
    nrows = -(-n // ncols)
    check_cmap(cmap, func)
    vmin, vmax = (None if v is None else real_number(v, name, func)
                  for v, name in ((vmin, "vmin"), (vmax, "vmax")))
    size = real_number(size, "size", func, minimum=0, open_min=True)
    if vmin is not None and vmax is not None and vmin > vmax:
        raise ValueError(f"{func}: vmin must be <= vmax, got vmin={vmin} and vmax={vmax}")
    figsize = (size * ncols, size * nrows * (1.2 if labels is not None else 1.0))
    check_figsize(figsize, func, name=f"size={size} (for {nrows} x {ncols} images)")
    if class_names is not None and (isinstance(class_names, (str, bytes))
                                    or not hasattr(class_names, "__len__")):
        raise TypeError(f"{func}: class_names must be a list of names, got {class_names!r:.40}")
    for name, arr in (("labels", labels), ("predictions", predictions)):
        if arr is None:
            continue
        if np.ndim(arr) != 1:
            raise ValueError(f"{func}: {name} must have one entry per image, shape ({n},), "
                             f"got {name}.shape={np.shape(arr)}")
        if len(arr) != n:
            raise ValueError(f"{func}: {name} has {len(arr)} entries but there are {n} images")
        if class_names is not None:
            arr = np.asarray(arr)
            if not np.issubdtype(arr.dtype, np.integer):
                raise TypeError(f"{func}: with class_names, {name} must be integer class "
                                f"indices, got dtype {arr.dtype}")
            if ((arr < 0) | (arr >= len(class_names))).any():
                raise ValueError(f"{func}: {name} must be indices into class_names, from 0 to "
                                 f"{len(class_names) - 1}, got {arr.tolist()!r:.60}")

    def name_of(k):
        k = k.item() if hasattr(k, "item") else k
        return str(class_names[int(k)]) if class_names is not None else str(k)

    fig = new_figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, a in enumerate(axes.flat):
        a.axis("off")
        if i >= n:
            continue
        a.imshow(images[i], cmap=None if images[i].ndim == 3 else cmap, vmin=vmin, vmax=vmax)
        if predictions is not None:
            right = labels is None or predictions[i] == labels[i]
            title = name_of(predictions[i]) + ("" if labels is None else f"\n({name_of(labels[i])})")
            a.set_title(title, fontsize=8, color="green" if right else "red")
        elif labels is not None:
            a.set_title(name_of(labels[i]), fontsize=8)
    return fig


_MAX_CLASSES = 100


def plot_decision_boundary(predict_fn, X, y, ax=None, *, resolution=200, padding=0.5,
                           threshold=0.5):
    """Regions of the plane that ``predict_fn`` assigns to each class, with the points.

    predict_fn(points (M, 2)) returns class labels (M,), or scores (M, C) (argmax), or a
    single score per point (class 1 where it exceeds ``threshold``). X: (N, 2), y: (N,).
    """
    func = "plot_decision_boundary"
    function(predict_fn, "predict_fn", func, "a function of points (M, 2)")
    X = as_float_array(X, "X", func, ndim=2, layout="(N, 2)")
    if X.shape[1] != 2:
        raise ValueError(f"{func}: X must have 2 columns (2-D points), got X.shape={X.shape}")
    if len(X) == 0 or not np.isfinite(X).all():
        raise ValueError(f"{func}: X must hold at least one point, all finite, got "
                         f"X.shape={X.shape}" + ("" if len(X) == 0 else " with NaN or inf"))
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{func}: y must hold one class label per point, shape ({len(X)},), "
                         f"got y.shape={y.shape}")
    if len(y) != len(X):
        raise ValueError(f"{func}: X has {len(X)} points but y has {len(y)} labels")
    if not (y.dtype.kind in "biu" or (y.dtype.kind == "f" and np.isfinite(y).all()
                                      and (y == np.round(y)).all())):
        raise TypeError(f"{func}: y must hold whole-number class labels, got dtype {y.dtype}")
    if (y < 0).any():
        raise ValueError(f"{func}: y must hold class labels >= 0, got {y.min()}")
    if (y >= _MAX_CLASSES).any():  # one filled contour level per class
        raise ValueError(f"{func}: y must hold class labels below {_MAX_CLASSES} (one colour "
                         f"each), got {y.max()}")
    check_axes(ax, func)
    resolution = positive_int(resolution, "resolution", func, minimum=2)
    fits_in_memory((resolution * resolution, 2), "the grid of points", func,
                   f"resolution={resolution}")
    padding = real_number(padding, "padding", func)
    threshold = real_number(threshold, "threshold", func)
    (x0, y0), (x1, y1) = X.min(axis=0) - padding, X.max(axis=0) + padding
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])  # (resolution^2, 2)
    scores = np.asarray(predict_fn(grid))
    if scores.ndim == 2 and scores.shape[1] > 1:
        classes = scores.argmax(axis=1)
    elif np.issubdtype(scores.dtype, np.integer) or scores.dtype == bool:
        classes = scores.reshape(-1).astype(int)  # (M,)
    else:
        classes = (scores.reshape(-1) > threshold).astype(int)  # (M,)
    if classes.size != grid.shape[0]:
        raise ValueError(f"{func}: predict_fn returned {scores.shape} for {grid.shape[0]} points")
    k = int(max(classes.max(), y.max())) + 1
    if k > _MAX_CLASSES:  # one filled contour level per class: a label of 10**9 is a mistake
        raise ValueError(f"{func}: predict_fn must return class labels below {_MAX_CLASSES} "
                         f"(one colour each), got labels up to {classes.max()}")
    cmap = ListedColormap([_CLASS_COLORS[i % 10] for i in range(k)])
    if ax is None:
        fig = new_figure(figsize=(5, 4.5), layout="constrained")
        ax = fig.add_subplot()
    regions = classes.reshape(gx.shape)  # (resolution, resolution)
    ax.contourf(gx, gy, regions, levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=k - 0.5,
               edgecolors="k", linewidths=0.5, s=18)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax.figure


def plot_filters(weight, *, ncols=8, cmap="RdBu_r", size=1.0):
    """Convolution filters, weight (O, I, kH, kW) as in PyTorch, one tile per filter.

    I = 3: each filter as an RGB image (scaled to [0, 1] per filter); I = 1: one tile
    per filter; otherwise one row per filter, one tile per input channel. Signed tiles
    use a diverging colour map centred on 0 (red positive, blue negative).
    """
    func = "plot_filters"
    w = as_float_array(weight, "weight", func, ndim=4, layout="(O, I, kH, kW)")
    if w.size == 0:
        raise ValueError(f"{func}: weight is empty (weight.shape={w.shape})")
    if not np.isfinite(w).all():  # no colour scale fits them
        raise ValueError(f"{func}: weight holds NaN or inf (did the training diverge?)")
    O, I = w.shape[:2]
    ncols = positive_int(ncols, "ncols", func)
    check_cmap(cmap, func)
    size = real_number(size, "size", func, minimum=0, open_min=True)
    if I == 3:
        lo = w.min(axis=(1, 2, 3), keepdims=True)
        span = np.maximum(w.max(axis=(1, 2, 3), keepdims=True) - lo, 1e-12)
        tiles = ((w - lo) / span).transpose(0, 2, 3, 1)  # (O, kH, kW, 3)
        rows, cols = -(-O // min(ncols, O)), min(ncols, O)
    elif I == 1:
        tiles = w[:, 0]  # (O, kH, kW)
        rows, cols = -(-O // min(ncols, O)), min(ncols, O)
    else:
        tiles = w.reshape(O * I, *w.shape[2:])  # (O * I, kH, kW)
        rows, cols = O, I
    check_figsize((size * cols, size * rows), func, name=f"size={size} (for {rows} x {cols} tiles)")
    fig = new_figure(figsize=(size * cols, size * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, a in enumerate(axes.flat):
        a.set_xticks([])
        a.set_yticks([])
        if i >= len(tiles):
            a.axis("off")
            continue
        if I == 3:
            a.imshow(tiles[i])
        else:
            m = max(float(np.abs(tiles[i]).max()), 1e-12)
            a.imshow(tiles[i], cmap=cmap, vmin=-m, vmax=m)
    return fig


_PLAYER_SYMBOLS = {"minus": "\u2013", "fast-backward": "|\u25c0\u25c0", "step-backward": "|\u25c0",
                   "play fa-flip-horizontal": "\u25c0", "pause": "\u275a\u275a", "play": "\u25b6",
                   "step-forward": "\u25b6|", "fast-forward": "\u25b6\u25b6|", "plus": "+"}


def animation_html(anim, alt, *, default_mode="loop"):
    """A matplotlib animation as a self-contained, accessible HTML player.

    ``anim.to_jshtml()`` fetches its button icons from a CDN and gives its frame image
    no text alternative and its frame slider no name. Here the icons become plain symbols
    (the page loads nothing from another host), the frame image gets ``alt``, and the
    slider a name (matplotlib names the buttons). Returns a str of HTML (wrap it
    in ``IPython.display.HTML`` to show it).
    """
    func = "animation_html"
    if not hasattr(anim, "to_jshtml"):
        raise TypeError(f"{func}: anim must be a matplotlib animation (with to_jshtml), "
                        f"got {type(anim).__name__}")
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError(f"{func}: alt must be a non-empty str saying what the animation "
                         f"shows, got {alt!r}")
    if default_mode not in ("loop", "once", "reflect"):
        raise ValueError(f"{func}: default_mode must be 'loop', 'once' or 'reflect', "
                         f"got {default_mode!r}")
    player = anim.to_jshtml(default_mode=default_mode)
    player = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]+">', "", player)

    # matplotlib names each button (aria-label); its icon is decoration
    player = re.sub(r'<i class="fa fa-([a-z -]+)"></i>',
                    lambda m: f'<span aria-hidden="true">{_PLAYER_SYMBOLS.get(m[1], m[1])}</span>',
                    player)
    player = re.sub(r"<img id=", f'<img alt="{html.escape(alt, quote=True)}" id=', player, count=1)
    player = re.sub(r'<input([^>]*type="range")', r'<input aria-label="frame"\1', player, count=1)
    return player
