"""The diagrams of chapter 5 (aelib.chapters.ch05_contractive): they draw and carry the labels the
chapter's prose refers to, in the chapter's notation."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Circle, Ellipse, Rectangle  # noqa: E402

from aelib.chapters import ch05_contractive  # noqa: E402


def _texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


@pytest.mark.parametrize("name", ch05_contractive.__all__)
def test_every_diagram_draws_on_an_opaque_background(name):
    fig = getattr(ch05_contractive, name)()
    assert isinstance(fig, Figure)
    fig.canvas.draw()  # every label must parse as mathtext
    assert fig.get_facecolor()[3] == 1.0


def test_objective_diagram_shows_loss_and_penalty():
    text = _texts(ch05_contractive.objective_diagram())
    for needed in ["$x$", "$f$", "$z$", "$g$", r"$\hat x$", r"$L(x, \hat x)$",
                   r"$\lambda\,\Vert J_f(x)\Vert_F^2$", r"$J_f(x) = \partial z / \partial x$"]:
        assert needed in text, needed


def test_manifold_diagram_keeps_the_tangent_and_squashes_the_normal():
    fig = ch05_contractive.manifold_diagram()
    text = _texts(fig)
    for needed in ["$t$: along", "$n$: off the data", r"$J_f(x)\,t$: kept",
                   r"$J_f(x)\,n$: squashed", r"\mathbb{R}^{d_x}", r"\mathbb{R}^{d_z}"]:
        assert needed in text, needed
    patches = fig.axes[0].patches
    ball = [p for p in patches if isinstance(p, Circle)]
    ellipse = [p for p in patches if isinstance(p, Ellipse) and not isinstance(p, Circle)]
    assert len(ball) == 1 and len(ellipse) == 1
    # The neighbourhood keeps its extent along the data and loses most of it across.
    assert np.isclose(ellipse[0].width, 2 * ball[0].radius)
    assert ellipse[0].height < 0.2 * ellipse[0].width


def test_curve_frame_is_orthonormal():
    s = np.linspace(0, 3, 50)
    points = np.stack([s, np.sin(s)], axis=1)
    tangent, normal = ch05_contractive._curve_frame(points, 20)
    assert np.isclose(np.linalg.norm(tangent), 1) and np.isclose(np.linalg.norm(normal), 1)
    assert np.isclose(tangent @ normal, 0)


def test_penalty_methods_diagram_names_the_three_methods():
    text = _texts(ch05_contractive.penalty_methods_diagram())
    for needed in ["exact", "closed form", "estimator", r"$\mathrm{diag}(h \odot (1 - h))$",
                   r"\Vert W_j \Vert^2", r"$u \sim \mathcal{N}(0, I)$", r"$J_f^\top u$",
                   "$d_z$ backward passes", "one backward pass"]:
        assert needed in text, needed


def test_closed_form_slopes_are_drawn_as_a_diagonal_matrix():
    fig = ch05_contractive.penalty_methods_diagram()
    cells = [p for p in fig.axes[0].patches if type(p) is Rectangle]
    assert len(cells) == 6
    xs = [c.get_x() for c in cells]
    ys = [c.get_y() for c in cells]
    # One entry per row, stepping right and down: diag(h ⊙ (1 − h)), not a column.
    assert all(b > a for a, b in zip(xs, xs[1:])) and all(b < a for a, b in zip(ys, ys[1:]))
