"""The diagrams and the basis plot of chapter *Autoencoders* (aelib.chapters.ch01_autoencoders)."""
import matplotlib
import numpy as np
import pytest
import torch

from aelib.chapters import ch01_autoencoders as ch01


def _texts(fig) -> str:
    return " | ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def _check_opaque_white(fig):
    assert isinstance(fig, matplotlib.figure.Figure)
    assert fig.patch.get_facecolor()[:3] == (1.0, 1.0, 1.0) and fig.patch.get_alpha() == 1.0


def test_architecture_diagram_labels_every_layer_width():
    fig = ch01.architecture_diagram((784, 256, 20))
    _check_opaque_white(fig)
    text = _texts(fig)
    for expected in ("input $x$", r"reconstruction $\hat{x}$", "code $z$", "encoder $z = f(x)$",
                     r"decoder $\hat{x} = g(z)$", "$d_z = 20$", "bottleneck", r"L(x, \hat{x})"):
        assert expected in text, expected
    widths = [t.get_text() for t in fig.axes[0].texts]
    assert widths.count("784") == 2 and widths.count("256") == 2  # the decoder mirrors the encoder


def test_architecture_diagram_other_sizes_and_bad_input():
    text = _texts(ch01.architecture_diagram((64, 2)))
    assert "$d_z = 2$" in text and "64" in text
    with pytest.raises(ValueError, match="layer_sizes"):
        ch01.architecture_diagram((784,))


def test_training_loop_diagram_names_the_six_steps_and_the_hooks():
    fig = ch01.training_loop_diagram()
    _check_opaque_white(fig)
    text = _texts(fig)
    for step in ("1. shuffle", "2. mini-batch", "3. forward", "4. loss", "5. backward", "6. step",
                 "clear old grads", "next mini-batch", "next epoch", r"\tilde{x}",
                 r"\lambda\,\Omega"):
        assert step in text, step


def test_sequence_diagram_unrolls_encoder_and_decoder():
    fig = ch01.sequence_diagram(n_shown=3, n_steps=14)
    _check_opaque_white(fig)
    text = _texts(fig)
    assert text.count("GRU") == 6  # three cells drawn on each side
    for expected in ("$x_{1}$", "$x_{T}$", r"$\hat{x}_{T}$", "$z$", "$T = 14$"):
        assert expected in text, expected
    with pytest.raises(ValueError, match="n_shown"):
        ch01.sequence_diagram(n_shown=1)


def test_compression_diagram_counts_the_bits():
    fig = ch01.compression_diagram(latent_dim=20)
    _check_opaque_white(fig)
    text = _texts(fig)
    assert "6,272 bits" in text and r"$20\,r$ bits" in text and r"g(\bar{z})" in text
    assert "$2^{r_j}$" in text  # bits per coordinate r_j; b stays the bias


def test_basis_comparison_shows_identity_for_pca_and_a_mixture_for_a_rotation():
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.normal(size=(30, 4)))          # orthonormal columns
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    fig = ch01.basis_comparison(torch.tensor(u.T), torch.tensor(3.0 * u @ rotation))
    _check_opaque_white(fig)
    left, right = (ax.get_images()[0].get_array() for ax in fig.axes[:2])
    np.testing.assert_allclose(left, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(right, np.abs(rotation), atol=1e-12)  # scale does not matter
    assert "decoder column $w_j$" in fig.axes[1].get_xlabel()
    with pytest.raises(ValueError, match="components"):
        ch01.basis_comparison(np.zeros((4, 30)), np.zeros((29, 4)))


def test_rate_distortion_plot_draws_one_line_per_codec_and_rule():
    rates = [2, 3, 4]
    curves = {"PCA": {"bits by variance": [20.0, 16.0, 15.0],
                      "equal bits": [25.0, 17.0, 15.2]},
              "deep AE": {"bits by variance": [21.0, 14.0, 12.0],
                          "equal bits": [22.0, 14.1, 12.1]}}
    fig = ch01.rate_distortion_plot(rates, curves, {"PCA": 14.5, "deep AE": 10.9})
    _check_opaque_white(fig)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    for codec in curves:
        for rule in ("bits by variance", "equal bits", "unquantised floats"):
            assert f"{codec}, {rule}" in labels
    line = ax.get_lines()[labels.index("PCA, equal bits")]
    np.testing.assert_allclose(line.get_xdata(), [40, 60, 80])  # 20 numbers × r bits
    np.testing.assert_allclose(line.get_ydata(), curves["PCA"]["equal bits"])
    assert "20" in ax.get_xlabel() and "r" in ax.get_xlabel()
    with pytest.raises(ValueError, match="unquantised"):
        ch01.rate_distortion_plot(rates, curves, {"PCA": 14.5})
    with pytest.raises(ValueError, match="rates"):
        ch01.rate_distortion_plot([2, 3], curves, {"PCA": 14.5, "deep AE": 10.9})


def test_latent_grid_shades_and_frames_the_empty_cells():
    from matplotlib.patches import Rectangle

    n = 4
    codes = np.array([[0.1, 0.1], [0.9, 0.9], [0.6, 0.1]])  # cells (0, 0), (3, 3), (2, 0)
    empty = np.ones((n, n), dtype=bool)
    empty[0, 0] = empty[3, 3] = empty[2, 0] = False
    decoded = np.zeros((n * n, 784))
    decoded[2 * n + 0] = 1.0                         # the image of cell (2, 0) is white
    fig = ch01.latent_grid(codes, [0, 0], [1, 1], empty, decoded)
    _check_opaque_white(fig)
    left, right = fig.axes[:2]
    shaded = [p for p in left.patches if isinstance(p, Rectangle)]
    framed = [p for p in right.patches if isinstance(p, Rectangle)]
    assert len(shaded) == len(framed) == 13
    assert "13 of 16" in left.get_title()
    mosaic = right.get_images()[0].get_array()
    assert mosaic.shape == (n * 28, n * 28)
    # cell (i, j) is column i and, counted from the top, row n - 1 - j: (2, 0) is bottom, third
    assert mosaic[3 * 28:, 2 * 28:3 * 28].min() == 1.0 and mosaic[:3 * 28].max() == 0.0
    assert left.get_xlabel() == "$z_1$" and left.get_ylabel() == "$z_2$"
    with pytest.raises(ValueError, match="decoded"):
        ch01.latent_grid(codes, [0, 0], [1, 1], empty, decoded[:-1])
    with pytest.raises(ValueError, match="codes"):
        ch01.latent_grid(codes[:, :1], [0, 0], [1, 1], empty, decoded)
