"""The figures of chapter *Stochastic autoencoders and the VAE* (aelib.chapters.ch06_vae)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from aelib.chapters import ch06_vae  # noqa: E402
from aelib.chapters._diagram import COLORS  # noqa: E402


def _texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def _white(fig) -> bool:
    return fig.patch.get_alpha() in (None, 1.0) and matplotlib.colors.to_hex(
        fig.patch.get_facecolor()) == "#ffffff"


def test_reparameterisation_diagram_names_every_part():
    fig = ch06_vae.reparameterisation_diagram()
    try:
        assert isinstance(fig, Figure) and _white(fig)
        text = _texts(fig)
        for part in ("$x$", "encoder", "\\mu_\\phi(x)", "\\log \\sigma^2_\\phi(x)",
                     "z = \\mu + \\sigma \\odot \\varepsilon",
                     "\\varepsilon \\sim \\mathcal{N}(0, I)", "decoder",
                     "p_\\theta(x \\mid z)", "-\\log p_\\theta(x \\mid z)", "\\mathrm{KL}",
                     "\\partial z / \\partial \\mu = 1", "no gradient"):
            assert part in text, part
    finally:
        plt.close(fig)


def test_reparameterisation_diagram_draws_gradients_dashed():
    fig = ch06_vae.reparameterisation_diagram()
    try:
        dashed = [p for p in fig.axes[0].patches
                  if p.get_linestyle() not in ("-", "solid") and
                  matplotlib.colors.to_hex(p.get_edgecolor()) == COLORS["loss"].lower()]
        assert len(dashed) >= 2  # back into μ and into log σ²
    finally:
        plt.close(fig)


def test_bounds_diagram_orders_the_levels():
    fig = ch06_vae.bounds_diagram()
    try:
        assert isinstance(fig, Figure) and _white(fig)
        ax = fig.axes[0]
        heights = {}
        for t in ax.texts:
            heights.setdefault(t.get_text(), t.get_position()[1])
        log_p = heights["$\\log p_\\theta(x)$"]
        elbo = next(y for text, y in heights.items() if "(ELBO)" in text)
        iw = next(y for text, y in heights.items() if "importance" in text)
        looser = next(y for text, y in heights.items() if "looser" in text)
        unbounded = next(y for text, y in heights.items() if "not guaranteed" in text)
        assert looser < elbo < iw < log_p < unbounded, heights
        assert "p_\\theta(z \\mid x)" in _texts(fig)  # the gap is the KL to the true posterior
    finally:
        plt.close(fig)


def test_codes_versus_prior_draws_two_panels_with_circles():
    g = torch.Generator().manual_seed(0)
    fig = ch06_vae.codes_versus_prior(3 * torch.randn(300, 5, generator=g),
                                      np.random.default_rng(0).normal(size=(300, 5)),
                                      max_points=200)
    try:
        assert isinstance(fig, Figure) and len(fig.axes) == 2
        for ax in fig.axes:
            assert len(ax.collections[0].get_offsets()) == 200
            assert len(ax.lines) == 2  # radius 1 and 2
            assert ax.get_xlabel() == "$z_1$"
        assert fig.axes[0].get_ylabel() == "$z_2$"
    finally:
        plt.close(fig)


@pytest.mark.parametrize("bad", [torch.zeros(10), torch.zeros(10, 1)])
def test_codes_versus_prior_rejects_codes_without_two_coordinates(bad):
    with pytest.raises(ValueError, match="plain_codes"):
        ch06_vae.codes_versus_prior(bad, torch.zeros(10, 2))
