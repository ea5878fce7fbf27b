"""Plots return Figures holding what they claim to draw, and render with Agg."""
import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnbook import plot
from cnnbook.train import History


def history(n=4, acc=True, val=True):
    h = History()
    for e in range(1, n + 1):
        h.epoch.append(e)
        h.train_loss.append(1.0 / e)
        h.train_acc.append(1 - 0.5 / e if acc else None)
        h.val_loss.append(1.2 / e if val else None)
        h.val_acc.append(1 - 0.6 / e if (val and acc) else None)
        h.time.append(0.1)
    return h


def renders(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_history_classification_and_regression():
    fig = plot.plot_history(history())
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), [1, 0.5, 1 / 3, 0.25])
    assert acc_ax.get_title() == "accuracy" and loss_ax.get_legend() is not None
    assert renders(fig)
    fig = plot.plot_history(history(acc=False, val=False).as_dict())
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1
    with pytest.raises(ValueError, match="train_loss"):
        plot.plot_history({"loss": [1.0]})


def test_plot_history_on_given_axes():
    fig = Figure()
    a, b = fig.subplots(1, 2)
    assert plot.plot_history(history(), ax=(a, b)) is fig
    assert len(a.lines) == 2 and len(b.lines) == 2


@pytest.mark.parametrize("shape", [(5, 8, 8), (5, 1, 8, 8), (5, 3, 8, 8), (5, 8, 8, 3)])
def test_show_images_shapes(shape):
    rng = np.random.default_rng(0)
    images = rng.uniform(size=shape)
    fig = plot.show_images(images, labels=np.array([0, 1, 2, 1, 0]),
                           class_names=["cat", "dog", "owl"], ncols=3)
    assert len(fig.axes) == 6
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 5 and drawn[1].get_title() == "dog"
    if shape == (5, 3, 8, 8):  # rendering is slow: once is enough
        assert renders(fig)


def test_show_images_with_predictions_colours_titles():
    images = np.zeros((2, 4, 4))
    fig = plot.show_images(images, labels=[0, 1], predictions=[0, 0], class_names=["a", "b"])
    t0, t1 = fig.axes[0].title, fig.axes[1].title
    assert t0.get_text() == "a\n(a)" and t0.get_color() == "green"
    assert t1.get_text() == "a\n(b)" and t1.get_color() == "red"
    with pytest.raises(ValueError, match="labels has 3 entries"):
        plot.show_images(images, labels=[0, 1, 2])
    with pytest.raises(ValueError, match="images"):
        plot.show_images(np.zeros((2, 5, 4, 4)))


@pytest.mark.parametrize("kind", ["labels", "scores", "single"])
def test_plot_decision_boundary(kind):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 2))
    y = (X[:, 0] > 0).astype(int)
    fns = {"labels": lambda P: (P[:, 0] > 0).astype(int),
           "scores": lambda P: np.column_stack([-P[:, 0], P[:, 0]]),
           "single": lambda P: 1 / (1 + np.exp(-5 * P[:, 0]))}
    fig = plot.plot_decision_boundary(fns[kind], X, y, resolution=50)
    ax = fig.axes[0]
    assert len(ax.collections) >= 2  # filled regions and the points
    if kind == "scores":
        assert renders(fig)


def test_plot_decision_boundary_bad_input():
    with pytest.raises(ValueError, match="X must have 2 columns"):
        plot.plot_decision_boundary(lambda P: P[:, 0] > 0, np.ones((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="y has 3"):
        plot.plot_decision_boundary(lambda P: P[:, 0] > 0, np.ones((4, 2)), np.zeros(3))


@pytest.mark.parametrize("shape, ntiles", [((6, 1, 5, 5), 6), ((4, 3, 5, 5), 4), ((2, 4, 3, 3), 8)])
def test_plot_filters(shape, ntiles):
    rng = np.random.default_rng(2)
    fig = plot.plot_filters(rng.standard_normal(shape), ncols=4)
    assert sum(1 for ax in fig.axes if ax.images) == ntiles
    if shape[1] == 3:
        assert renders(fig)
    with pytest.raises(ValueError, match="weight"):
        plot.plot_filters(np.ones((3, 3)))


def test_use_book_style_sets_the_colour_blind_safe_palette():
    import matplotlib as mpl

    from cnnbook.plot import BOOK_COLORS, use_book_style

    with mpl.rc_context():
        use_book_style()
        assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == list(BOOK_COLORS)
        assert mpl.rcParams["image.cmap"] == "viridis"
    assert len(set(BOOK_COLORS)) == len(BOOK_COLORS) == 8


def test_animation_html_is_offline_and_accessible():
    import re

    from matplotlib import animation
    from matplotlib.figure import Figure

    from cnnbook.plot import animation_html

    fig = Figure()
    ax = fig.add_subplot()
    anim = animation.FuncAnimation(fig, lambda k: ax.plot([k]), frames=3)
    player = animation_html(anim, "a dot moving right")
    assert "https://" not in player and "http://" not in player and "fa fa-" not in player
    assert re.search(r'<img alt="a dot moving right" id="_anim_img', player)
    assert re.search(r'<input aria-label="frame" id="_anim_slider', player)
    for bad in ("", "  ", None):
        with pytest.raises(ValueError, match="alt must be a non-empty str"):
            animation_html(anim, bad)
    with pytest.raises(TypeError, match="anim must be a matplotlib animation"):
        animation_html(fig, "x")
