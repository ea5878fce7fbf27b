"""One place that makes matplotlib Figures for the package (plots and graph drawings)."""
from __future__ import annotations

import numbers
import sys

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["new_figure", "check_axes", "check_figsize", "check_cmap", "MAX_INCHES"]

# Agg draws at most 65536 pixels a side: 600 inches at the 100 dpi of a notebook's PNG
MAX_INCHES = 600


def new_figure(**kwargs) -> Figure:
    """A Figure outside pyplot's registry: no global state, any backend (Agg included),
    no "too many open figures" warning. Returned as the last expression of a notebook
    cell, it is displayed once, as a PNG (see ``_png_display_in_jupyter``)."""
    _png_display_in_jupyter()
    return Figure(**kwargs)


def _png_display_in_jupyter() -> None:
    """Inside a Jupyter kernel, make sure a Figure displays as a PNG.

    matplotlib's inline backend registers that display only once pyplot has made a
    figure; a notebook that only calls cnnbook's plots would otherwise show the text
    ``<Figure size 1000x350 with 2 Axes>``. Registered with IPython's own function and
    the inline backend's default (bbox_inches="tight"); never replaces a registration.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if getattr(shell, "kernel", None) is None:
        return
    png = shell.display_formatter.formatters.get("image/png")
    if png is not None and Figure not in png.type_printers:
        from IPython.core.pylabtools import select_figure_formats
        select_figure_formats(shell, {"png"}, bbox_inches="tight")


def check_axes(ax, func: str, *, several: bool = False) -> None:
    """``ax`` is None or a matplotlib Axes (or, with ``several``, a list of Axes)."""
    items = list(ax) if several and isinstance(ax, (list, tuple, np.ndarray)) else [ax]
    if ax is None or (items and all(isinstance(a, Axes) for a in items)):
        return
    want = "a matplotlib Axes" + (" or a list of them" if several else "")
    raise TypeError(f"{func}: ax must be None or {want}, got {type(ax).__name__} {ax!r:.40}")


def check_figsize(figsize, func: str, name: str = "figsize") -> None:
    """(width, height) in inches, two numbers > 0 and at most ``MAX_INCHES`` (larger ones
    build a Figure that cannot be drawn); ``name`` is the argument that set it."""
    if not (isinstance(figsize, (tuple, list)) and len(figsize) == 2
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in figsize)):
        raise TypeError(f"{func}: {name} must be a pair (width, height) of numbers of inches, "
                        f"got {figsize!r:.40}")
    if not all(np.isfinite(v) and 0 < v <= MAX_INCHES for v in figsize):
        raise ValueError(f"{func}: {name} must give a figure of (width, height) inches, each "
                         f"> 0 and <= {MAX_INCHES}, got {tuple(figsize)!r:.60}")


def check_cmap(cmap, func: str) -> None:
    """A colour map: a matplotlib Colormap, or the name of one ("gray", "RdBu_r", ...)."""
    from matplotlib import colormaps
    from matplotlib.colors import Colormap
    if isinstance(cmap, Colormap) or (isinstance(cmap, str) and cmap in colormaps):
        return
    raise ValueError(f"{func}: cmap must be a matplotlib colour map or its name, such as "
                     f"'gray' or 'RdBu_r', got {cmap!r:.40}")
