"""One place that makes matplotlib Figures for the package (plots and graph drawings)."""
from __future__ import annotations

import sys

from matplotlib.figure import Figure

__all__ = ["new_figure"]


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
