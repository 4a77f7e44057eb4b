"""The diagrams of chapter 7 (aelib.chapters.ch07_pretraining): they draw, and carry the right labels."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from aelib.chapters import ch07_pretraining  # noqa: E402


def _texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


@pytest.mark.parametrize("name", [n for n in ch07_pretraining.__all__ if "diagram" in n])
def test_every_diagram_draws_and_is_opaque(name):
    fig = getattr(ch07_pretraining, name)()
    assert isinstance(fig, Figure)
    fig.canvas.draw()  # every label must parse as mathtext
    assert fig.get_facecolor()[3] == 1.0


def test_greedy_diagram_trains_each_layer_on_the_codes_below():
    text = _texts(ch07_pretraining.greedy_diagram(3))
    for needed in ["layer 1", "layer 3", "$f_1$", "$f_3$", "$g_3$", "$z_3$",
                   r"$L(x, \hat x)$", r"$L(z_{2}, \hat z_{2})$", "frozen"]:
        assert needed in text, needed
    assert "$f_4$" not in text
    # f_1 is drawn once trainable (row 1) and frozen in rows 2 and 3.
    assert text.count("$f_1$") == 3


def test_fine_tune_diagram_shows_both_steps():
    text = _texts(ch07_pretraining.fine_tune_diagram(3))
    for needed in ["step 1", "step 2", "$V, c$", "$h(x)$", "$f_3$", "cross-entropy"]:
        assert needed in text, needed
    assert text.count("$f_2$") == 2


def test_end_to_end_diagram_keeps_the_encoder():
    text = _texts(ch07_pretraining.end_to_end_diagram(2))
    for needed in ["$f_1$", "$f_2$", "$g_1$", "$g_2$", r"$L(x, \hat x)$", r"f_2 \circ f_1"]:
        assert needed in text, needed
    assert r"\cdots" in _texts(ch07_pretraining.end_to_end_diagram(3))


@pytest.mark.parametrize("name", [n for n in ch07_pretraining.__all__ if "diagram" in n])
@pytest.mark.parametrize("bad", [0, 5, 2.0, "3"])
def test_bad_layer_counts_are_refused(name, bad):
    with pytest.raises(ValueError, match="n_layers"):
        getattr(ch07_pretraining, name)(bad)


def test_rescaled_like_takes_the_norms_and_keeps_the_directions():
    import torch

    torch.manual_seed(0)
    body = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 3))
    ref = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 3))
    with torch.no_grad():
        ref[0].weight.mul_(5.0)
    out = ch07_pretraining.rescaled_like(body, ref)
    for a, b, r in ((out[0], body[0], ref[0]), (out[2], body[2], ref[2])):
        assert torch.allclose(a.weight.norm(), r.weight.norm())
        cos = (a.weight * b.weight).sum() / (a.weight.norm() * b.weight.norm())
        assert torch.allclose(cos, torch.tensor(1.0))
        assert torch.equal(a.bias, b.bias)
    assert body[0].weight.norm() != out[0].weight.norm()  # the original is untouched
    with pytest.raises(ValueError, match="same shapes"):
        ch07_pretraining.rescaled_like(body, torch.nn.Linear(6, 4))
