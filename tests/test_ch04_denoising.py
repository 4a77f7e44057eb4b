"""The helpers of chapter 4 (aelib.chapters.ch04_denoising): the two diagrams draw and carry the
labels the chapter's prose refers to, and the patch masking of the masked-autoencoder demo hides
exactly a fixed number of whole patches per image."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from aelib.chapters import ch04_denoising  # noqa: E402
from aelib.models import MLPAutoencoder  # noqa: E402
from aelib.train import fit  # noqa: E402

DIAGRAMS = ["denoising_diagram", "manifold_diagram"]


def _texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


@pytest.mark.parametrize("name", DIAGRAMS)
def test_every_diagram_draws_on_an_opaque_background(name):
    fig = getattr(ch04_denoising, name)()
    assert isinstance(fig, Figure)
    fig.canvas.draw()  # every label must parse as mathtext
    assert fig.get_facecolor()[3] == 1.0


def test_denoising_diagram_takes_the_loss_against_the_clean_input():
    text = _texts(ch04_denoising.denoising_diagram())
    for needed in ["$x$", r"$C(\tilde x \mid x)$", r"$\tilde x$", "$f$", "$z$", "$g$",
                   r"$\hat x$", r"$L(x, \hat x)$", r"$\hat x = g(f(\tilde x))$",
                   r"target: the clean $x$, not $\tilde x$", "fresh draw at every step"]:
        assert needed in text, needed


def test_manifold_diagram_labels_corruption_and_reconstruction():
    fig = ch04_denoising.manifold_diagram(n_points=4)
    text = _texts(fig)
    for needed in ["data manifold", "clean $x$", r"$\tilde x \sim C(\tilde x \mid x)$",
                   "corruption", r"$r(\tilde x) = g(f(\tilde x))$",
                   r"$\mathbb{E}[x \mid \tilde x]$, inside a bend"]:
        assert needed in text, needed
    # one clean and one corrupted marker per point, plus the two legend markers
    markers = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert len(markers) == 2 * 4 + 2
    # one end point E[x | x̃] per point, plus its legend marker
    diamonds = [line for line in fig.axes[0].lines if line.get_marker() == "D"]
    assert len(diamonds) == 4 + 1


def test_manifold_diagram_puts_the_posterior_mean_inside_the_bend():
    """E[x | x̃] lands off the curve on its concave side: above it where the curve bends
    upwards (positive second derivative), below it where it bends downwards."""
    fig = ch04_denoising.manifold_diagram(n_points=5)
    curve = max(fig.axes[0].lines, key=lambda line: len(line.get_xdata()))
    xs, ys = curve.get_xdata(), curve.get_ydata()
    ends = [line for line in fig.axes[0].lines
            if line.get_marker() == "D" and line.get_xdata()[0] > 0.6]  # not the legend
    assert len(ends) == 5
    for end in ends:
        x, y = end.get_xdata()[0], end.get_ydata()[0]
        k = abs(xs - x).argmin()
        bend = ys[k + 1] - 2 * ys[k] + ys[k - 1]        # sign of the second derivative
        assert (y - ys[k]) * bend >= 0


def test_manifold_diagram_rejects_a_bad_count():
    with pytest.raises(ValueError, match="n_points"):
        ch04_denoising.manifold_diagram(n_points=0)


def test_patch_mask_hides_a_fixed_number_of_whole_patches():
    mask = ch04_denoising.patch_mask(50, 4, 0.75, generator=torch.Generator().manual_seed(0))
    assert mask.shape == (50, 784) and mask.dtype == torch.bool
    assert (mask.sum(dim=1) == 37 * 16).all()  # round(0.75 · 49) patches of 4 × 4 pixels
    patches = mask.reshape(50, 7, 4, 7, 4)
    per_patch = patches.sum(dim=(2, 4))
    assert ((per_patch == 0) | (per_patch == 16)).all()  # whole patches, never parts
    assert not (mask[0] == mask[1:]).all(dim=1).any()  # a new draw for every image


def test_patch_mask_is_reproducible_and_covers_all_channels():
    draw = lambda: ch04_denoising.patch_mask(  # noqa: E731
        3, 2, 0.5, (3, 4, 6), generator=torch.Generator().manual_seed(7))
    first, second = draw(), draw()
    assert torch.equal(first, second)
    channels = first.reshape(3, 3, 4, 6)
    assert torch.equal(channels[:, 0], channels[:, 1])
    assert torch.equal(channels[:, 0], channels[:, 2])
    assert (first.sum(dim=1) == 3 * 3 * 4).all()  # 3 of 6 patches of 2 × 2, in 3 channels


@pytest.mark.parametrize("ratio, hidden", [(0.0, 0), (1.0, 784)])
def test_patch_mask_extremes(ratio, hidden):
    mask = ch04_denoising.patch_mask(2, 7, ratio)
    assert (mask.sum(dim=1) == hidden).all()


@pytest.mark.parametrize("kwargs, match", [({"patch_size": 5}, "divide"),
                                           ({"patch_size": 0}, "patch_size"),
                                           ({"mask_ratio": 1.5}, "mask_ratio")])
def test_patch_mask_rejects_bad_arguments(kwargs, match):
    args = {"n": 2, "patch_size": 4, "mask_ratio": 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        ch04_denoising.patch_mask(**args)
    with pytest.raises(ValueError, match=match):
        ch04_denoising.patch_masking(args["patch_size"], args["mask_ratio"])


def test_patch_masking_zeroes_the_pixels_patch_mask_draws():
    x = torch.rand(5, 784) + 0.1  # no zero pixels, so every zero was put there
    corruption = ch04_denoising.patch_masking(7, 0.5)
    x_tilde = corruption(x, generator=torch.Generator().manual_seed(3))
    mask = ch04_denoising.patch_mask(5, 7, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(x_tilde == 0, mask)
    assert torch.equal(x_tilde[~mask], x[~mask])
    assert (x > 0).all()  # the input is left alone


def test_patch_masking_plugs_into_fit():
    x = torch.rand(64, 784)
    model = MLPAutoencoder(784, (16,), 4)
    history = fit(model, x, epochs=2, batch_size=32, device="cpu", progress=False,
                  corruption=ch04_denoising.patch_masking(4, 0.75))
    assert history.epochs == 2 and all(torch.isfinite(torch.tensor(history.train_loss)))
