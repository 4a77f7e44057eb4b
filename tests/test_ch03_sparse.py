"""The figures of chapter 3 (aelib.chapters.ch03_sparse): they draw, and carry the right labels."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from aelib.chapters import ch03_sparse  # noqa: E402


def _texts(fig) -> str:
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    texts += [ax.get_title() for ax in fig.axes]
    return "\n".join(texts)


def test_diagrams_are_the_figures_without_data():
    assert set(ch03_sparse.DIAGRAMS) <= set(ch03_sparse.__all__)
    assert "code_value_histograms" not in ch03_sparse.DIAGRAMS


@pytest.mark.parametrize("name", ch03_sparse.DIAGRAMS)
def test_every_figure_draws_and_is_opaque(name):
    fig = getattr(ch03_sparse, name)()
    assert isinstance(fig, Figure)
    fig.canvas.draw()   # every label must parse as mathtext
    assert fig.get_facecolor()[3] == 1.0


def test_sparse_coding_diagram_labels_and_storage():
    text = _texts(ch03_sparse.sparse_coding_diagram())
    for needed in ["$x$", "$s$", "$w_0$", "$w_4$", r"\mathbb{R}^{d_x", r"\mathbb{R}^{d_z}",
                   "stored: {0: 12, 2: 7}", r"$x \approx 12\,w_0 + 7\,w_2$"]:
        assert needed in text, needed
    text = _texts(ch03_sparse.sparse_coding_diagram((0, 3, 0)))
    assert "stored: {1: 3}" in text and "1 of $d_z = 3$ atoms used" in text
    with pytest.raises(ValueError):
        ch03_sparse.sparse_coding_diagram(())


def test_unit_balls_boundary_has_unit_norm():
    for p in (0.5, 1, 2, math.inf):
        ring = ch03_sparse._lp_unit_circle(p)
        norms = np.linalg.norm(ring, ord=p, axis=1) if p >= 1 else \
            (np.abs(ring) ** p).sum(axis=1) ** (1 / p)
        assert np.allclose(norms, 1.0)
    fig = ch03_sparse.unit_balls_figure()
    assert len(fig.axes) == 5
    titles = _texts(fig)
    assert r"\Vert s\Vert_0" in titles and r"\infty" in titles and "not convex" in titles
    with pytest.raises(ValueError):
        ch03_sparse.unit_balls_figure([-1])


def test_penalty_targets_diagram_names_both_targets():
    text = _texts(ch03_sparse.penalty_targets_diagram())
    for needed in ["L1 on the weights", "L2 on the weights", "L1 on the code",
                   "sparse connections", "weaker connections", r"\lambda\Vert z\Vert_1",
                   r"\eta\Vert V\Vert_F^2", r"|V_{jk}|"]:
        assert needed in text, needed
    assert "W" not in text   # the drawn weights are the encoder's, V; W is the decoder


def test_algorithm_diagrams_use_the_chapter_notation():
    ista = _texts(ch03_sparse.ista_diagram())
    assert "$s^k$" in ista and "$s^{k+1}$" in ista and r"S_{\lambda/L}" in ista
    dl = _texts(ch03_sparse.dictionary_learning_diagram())
    assert "code step" in dl and "dictionary step" in dl and r"A = S^\top S" in dl
    ae = _texts(ch03_sparse.sparse_autoencoder_diagram(n_units=6, active=(0, 2)))
    assert r"\lambda\Vert z\Vert_1" in ae and r"\eta\Vert W\Vert_F^2" in ae
    assert "2 of 6 units on" in ae
    with pytest.raises(ValueError):
        ch03_sparse.sparse_autoencoder_diagram(n_units=1)


def _bar_heights(ax):
    return {round(p.get_x() + p.get_width() / 2, 6): p.get_height() for p in ax.patches
            if type(p).__name__ == "Rectangle" and p.get_height() > 0}


def test_code_value_histograms_give_zeros_and_overflow_their_own_bars():
    rng = np.random.default_rng(0)
    relu = np.concatenate([np.zeros(600), rng.uniform(0, 4, 300), np.full(100, 9.0)])
    codes = {"a": relu, "b": np.zeros(1000), "s": rng.uniform(0.01, 1, 1000),
             "t": rng.uniform(0.01, 0.2, 1000)}
    fig = ch03_sparse.code_value_histograms(codes, panels=(("a", "b"), ("s", "t")),
                                            tops=(4.0, 1.0), n_bins=40)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    left, right = fig.axes
    labels = [t.get_text() for t in left.get_xticklabels()]
    assert labels[0] == "= 0" and labels[-1] == "> 4"
    heights = sorted(_bar_heights(left).values())
    assert heights == [100, 600, 1000]          # a's overflow, a's zeros, b's zeros
    assert not _bar_heights(right)              # no zeros, nothing above 1 …
    labels = [t.get_text() for t in right.get_xticklabels()]
    assert labels[0] == "0" and labels[-1] == "1"   # … so no slots for them
    assert left.get_yscale() == "log"
    with pytest.raises(ValueError):
        ch03_sparse.code_value_histograms(codes, panels=(("a",),), tops=(1.0, 2.0))


def test_unit_usage_figure_counts_dead_units_and_marks_the_target():
    firing = {"plain": np.array([0.9, 0.5, 0.0, 0.0]), "L1": np.array([0.2, 0.0, 0.0, 0.0])}
    means = {"KL": np.array([0.05, 0.06, 0.04, 0.2])}
    fig = ch03_sparse.unit_usage_figure(firing, means, rho=0.05)
    left, right = fig.axes
    legend = [t.get_text() for t in left.get_legend().get_texts()]
    assert legend == ["plain (2 of 4 never on)", "L1 (3 of 4 never on)"]
    first = left.get_lines()[0].get_ydata()
    assert list(first) == [0.9, 0.5, 0.0, 0.0]  # sorted, most used first
    right_legend = " ".join(t.get_text() for t in right.get_legend().get_texts())
    assert r"\rho = 0.05" in right_legend and r"< 0.2\rho" in right_legend
    fig.canvas.draw()
    with pytest.raises(ValueError):
        ch03_sparse.unit_usage_figure({}, means, rho=0.05)
