"""The diagrams and the basis plot of chapter *Autoencoders* (aelib.chapters.ch01_autoencoders)."""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from aelib.chapters import ch01_autoencoders as ch01


def _texts(fig) -> str:
    return " | ".join(t.get_text() for ax in fig.axes for t in ax.texts)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


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
                 "next mini-batch", "next epoch", r"\tilde{x}", r"\lambda\,\Omega"):
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
    assert "6,272 bits" in text and r"$20\,b$ bits" in text and r"g(\bar{z})" in text


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
