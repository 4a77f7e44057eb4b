"""Tests for the chapter helper of *Undercomplete vs overcomplete autoencoders*."""
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from aelib.chapters import ch02_capacity as ch02  # noqa: E402


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _inside_figure(fig):
    """Every text's bounding box lies inside the figure (nothing is cut off)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    for ax in fig.axes:
        for text in ax.texts:
            box = text.get_window_extent(renderer)
            assert box.x0 >= -1 and box.y0 >= -1, text.get_text()
            assert box.x1 <= width + 1 and box.y1 <= height + 1, text.get_text()


def test_capacity_diagram_labels_both_cases_and_the_copy():
    fig = ch02.capacity_diagram()
    try:
        assert isinstance(fig, Figure)
        texts = _texts(fig)
        assert r"undercomplete: $d_z < d_x$" in texts
        assert r"overcomplete: $d_z \geq d_x$" in texts
        assert texts.count("$f$") == 2 and texts.count("$g$") == 2
        assert texts.count("$d_z$") == 2 and texts.count("$d_x$") == 2
        assert any("copy" in t and "[x;" in t for t in texts)
        assert "$0$" in texts  # the zero half of the code z = [x; 0]
        _inside_figure(fig)
        face = fig.get_facecolor()
        assert face[:3] == (1.0, 1.0, 1.0) and face[3] == 1.0  # opaque white background
    finally:
        plt.close(fig)


def test_memorisation_diagram_indexes_examples():
    fig = ch02.memorisation_diagram(n_shown=4)
    try:
        texts = _texts(fig)
        for name in ("$x_{1}$", "$x_{2}$", "$x_{3}$", "$x_N$"):
            assert texts.count(name) == 2  # the input and its reconstruction
        assert {"$1$", "$2$", "$3$", "$N$"} <= set(texts)
        assert "encoder $f(x_i) = i$" in texts and "decoder $g(i) = x_i$" in texts
        _inside_figure(fig)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="n_shown"):
        ch02.memorisation_diagram(n_shown=1)


def test_arc_points_lie_near_a_three_quarter_circle():
    points = ch02.arc_points(2000, noise_std=0.0, seed=3)
    assert points.shape == (2000, 2) and points.dtype == torch.float32
    assert torch.allclose(points.norm(dim=1), torch.ones(2000), atol=1e-5)
    angle = torch.atan2(points[:, 1], points[:, 0])
    angle = torch.where(angle < -math.pi / 4 - 1e-4, angle + 2 * math.pi, angle)
    assert angle.min() >= -math.pi / 4 - 1e-4 and angle.max() <= 5 * math.pi / 4 + 1e-4
    noisy = ch02.arc_points(2000, noise_std=0.05, seed=3)
    assert 0.03 < float((noisy - points).std()) < 0.07
    assert torch.equal(ch02.arc_points(10, seed=1), ch02.arc_points(10, seed=1))
    assert not torch.equal(ch02.arc_points(10, seed=1), ch02.arc_points(10, seed=2))


@pytest.mark.parametrize("bad", [{"n": 0}, {"n": 2.5}, {"n": 5, "noise_std": -1.0},
                                 {"n": 5, "noise_std": float("nan")}])
def test_arc_points_rejects_bad_arguments(bad):
    with pytest.raises(ValueError):
        ch02.arc_points(**bad)


def test_plot_curve_fits_draws_one_panel_per_model():
    points = ch02.arc_points(50)
    fig = ch02.plot_curve_fits(points, {"linear": points * 0.5, "non-linear": points})
    try:
        assert isinstance(fig, Figure) and len(fig.axes) == 2
        assert [ax.get_title() for ax in fig.axes] == ["linear", "non-linear"]
        assert fig.axes[0].get_legend() is not None
        lines = fig.axes[0].get_lines()
        assert np.allclose(lines[-1].get_xdata(), points[:, 0].numpy() * 0.5)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="shape"):
        ch02.plot_curve_fits(points, {"bad": points[:10]})
    with pytest.raises(ValueError, match="empty"):
        ch02.plot_curve_fits(points, {})
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        ch02.plot_curve_fits(torch.zeros(5, 3), {"x": torch.zeros(5, 3)})


def test_separate_labels_moves_only_colliding_annotations():
    fig, ax = plt.subplots(figsize=(3, 3))
    try:
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        points = {"64": (0.50, 0.50), "128": (0.51, 0.50), "2": (0.1, 0.1)}
        for name, xy in points.items():
            ax.annotate(name, xy, textcoords="offset points", xytext=(-4, 5), ha="right")
        assert ch02.separate_labels(ax) == 1
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        assert not boxes[0].overlaps(boxes[1])
        assert ax.texts[2].xyann == (-4, 5)  # the free label stays where it was
    finally:
        plt.close(fig)


def test_separate_labels_avoids_lone_markers():
    fig, ax = plt.subplots(figsize=(3, 3))
    try:
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.annotate("32", (0.5, 0.5), textcoords="offset points", xytext=(-4, 5), ha="right")
        ax.plot([0.47], [0.53], "D", ms=10)  # a marker on top of the label
        assert ch02.separate_labels(ax) == 1
        assert ax.texts[0].xyann != (-4, 5)
    finally:
        plt.close(fig)
