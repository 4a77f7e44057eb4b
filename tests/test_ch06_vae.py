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
        assert looser < elbo < iw < log_p, heights
        assert "p_\\theta(z \\mid x)" in _texts(fig)  # the gap is the KL to the true posterior
    finally:
        plt.close(fig)


def test_bounds_diagram_draws_beta_below_one_as_a_band_straddling_log_p():
    fig = ch06_vae.bounds_diagram()
    try:
        ax = fig.axes[0]
        heights = {t.get_text(): t.get_position()[1] for t in ax.texts}
        log_p = heights["$\\log p_\\theta(x)$"]
        elbo = next(y for text, y in heights.items() if "(ELBO)" in text)
        band = next(p for p in ax.patches if p.get_gid() == "beta-below-one")
        bottom, top = band.get_y(), band.get_y() + band.get_height()
        assert elbo < bottom < log_p < top  # above the ELBO, below or above log p
        assert band.get_linestyle() not in ("-", "solid")
        assert "not guaranteed" in _texts(fig)
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


def _decode_stub(codes):
    # a fake decoder: image brightness encodes z_1, so the mosaic's layout can be checked
    codes = torch.as_tensor(codes, dtype=torch.float32)
    return ((codes[:, :1] + 3) / 6).clamp(0, 1).expand(len(codes), 16).clone()


def test_manifold_figure_puts_tiles_at_their_codes_and_shows_every_code():
    codes = torch.tensor([[-5.0, 0.0], [0.0, 0.0], [4.5, -4.0]])
    fig = ch06_vae.manifold_figure(_decode_stub, codes, torch.tensor([0, 1, 2]),
                                   ["a", "b", "c"], (1, 4, 4), half_width=3.0, n=4)
    try:
        left, right = fig.axes[:2]
        image = left.images[0]
        edge = 3.0 + 3.0 / 3  # half a tile beyond the outermost codes
        assert np.allclose(image.get_extent(), [-edge, edge, -edge, edge])
        mosaic = image.get_array()
        assert mosaic.shape == (16, 16)
        assert mosaic[0, 0] < mosaic[0, -1]  # z_1 grows to the right
        xlim, ylim = right.get_xlim(), right.get_ylim()
        assert xlim[0] < -5 and xlim[1] > 4.5 and ylim[0] < -4  # no code is cut off
        assert sum(len(c.get_offsets()) for c in right.collections) == 3
        window = next(p for p in right.patches if p.get_gid() == "grid-window")
        assert np.isclose(window.get_width(), 2 * edge)
        assert left.get_xlabel() == "$z_1$" and left.get_ylabel() == "$z_2$"
    finally:
        plt.close(fig)


def test_manifold_figure_rejects_codes_that_are_not_two_dimensional():
    with pytest.raises(ValueError, match="codes"):
        ch06_vae.manifold_figure(_decode_stub, torch.zeros(5, 3), torch.zeros(5), ["a"],
                                 (1, 4, 4))


def test_extremes_figure_has_one_labelled_row_per_model():
    g = torch.Generator().manual_seed(0)
    rows = {"β = 0.25": (torch.rand(6, 16, generator=g), torch.rand(6, 16, generator=g)),
            "$d_z$ = 2": (torch.rand(8, 16, generator=g), torch.rand(7, 16, generator=g))}
    fig = ch06_vae.extremes_figure(torch.rand(6, 16, generator=g), rows, (1, 4, 4), n=5)
    try:
        left, right = fig.axes[:2]
        labels = [t.get_text() for t in left.get_yticklabels()]
        assert labels == ["test images", "β = 0.25", "$d_z$ = 2"]
        assert left.images[0].get_array().shape == (3 * 4 + 2 * 2, 5 * 4 + 4 * 2)
        assert right.images[0].get_array().shape == left.images[0].get_array().shape
        assert "prior" in right.get_title() and _white(fig)
    finally:
        plt.close(fig)


def test_extremes_figure_rejects_too_few_images():
    with pytest.raises(ValueError, match="samples"):
        ch06_vae.extremes_figure(torch.rand(6, 16), {"m": (torch.rand(6, 16), torch.rand(2, 16))},
                                 (1, 4, 4), n=6)
