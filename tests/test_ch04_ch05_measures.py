"""Tests for the measures of chapters 4 and 5 (aelib.chapters.ch04_denoising, ch05_contractive) against direct computations."""
import math

import pytest
import torch
from torch import nn

from aelib import corrupt
from aelib.metrics import psnr
from aelib.models import MLPAutoencoder
from aelib.chapters import ch04_denoising as ch04  # noqa: E402
from aelib.chapters import ch05_contractive as ch05  # noqa: E402


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gaussian_blur_matches_dense_convolution():
    x = torch.rand(3, 100, generator=gen(1), dtype=torch.float64)
    sigma, radius = 0.8, 3
    out = ch04.gaussian_blur(x, (1, 10, 10), sigma)
    # Reference: explicit double sum with reflected indices.
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-t**2 / (2 * sigma**2))
    k = k / k.sum()

    def reflect(i):
        return -i if i < 0 else (2 * 9 - i if i > 9 else i)

    img = x.reshape(3, 10, 10)
    ref = torch.zeros_like(img)
    for r in range(10):
        for c in range(10):
            for a in range(-radius, radius + 1):
                for b in range(-radius, radius + 1):
                    ref[:, r, c] += k[a + radius] * k[b + radius] * img[:, reflect(r + a), reflect(c + b)]
    torch.testing.assert_close(out, ref.reshape(3, 100))


def test_gaussian_blur_keeps_constants_and_mean_and_multichannel():
    flat = torch.full((2, 3 * 64), 0.3)
    torch.testing.assert_close(ch04.gaussian_blur(flat, (3, 8, 8), 2.0), flat)
    x = torch.rand(2, 3 * 64, generator=gen(2))
    out = ch04.gaussian_blur(x, (3, 8, 8), 1.0)
    assert out.shape == x.shape
    # Channels are blurred independently: blurring channel 0 alone gives the same channel 0.
    torch.testing.assert_close(out[:, :64], ch04.gaussian_blur(x[:, :64], (1, 8, 8), 1.0))
    torch.testing.assert_close(ch04.gaussian_blur(x, (3, 8, 8), 0.0), x)
    with pytest.raises(ValueError, match="image_shape"):
        ch04.gaussian_blur(x, (1, 8, 8), 1.0)
    with pytest.raises(ValueError, match="sigma"):
        ch04.gaussian_blur(x, (3, 8, 8), -1.0)


def test_blur_denoises_smooth_images_and_tuning_picks_the_best():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 16), torch.linspace(0, 1, 16), indexing="ij")
    clean = (0.5 + 0.4 * torch.sin(3 * xx + 2 * yy)).reshape(1, -1).repeat(20, 1)
    noisy = corrupt.gaussian(0.3)(clean, generator=gen())
    sigmas = (0.5, 1.0, 2.0)
    best = ch04.tune_blur(noisy, clean, (1, 16, 16), sigmas)
    scores = {s: psnr(ch04.gaussian_blur(noisy, (1, 16, 16), s), clean) for s in sigmas}
    assert best == max(scores, key=scores.get)
    assert scores[best] > psnr(noisy, clean) + 5


def test_psnr_table_same_noisy_images_for_every_denoiser():
    x = torch.rand(10, 16, generator=gen(3))
    seen = []

    def identity(x_noisy, level):
        seen.append(x_noisy.clone())
        return x_noisy

    table = ch04.psnr_table(x, [0.1, 0.2], {"identity": identity, "again": identity}, corrupt.gaussian, seed=4)
    assert list(table) == ["noisy input", "identity", "again"]
    assert table["identity"] == table["noisy input"] == table["again"]
    assert torch.equal(seen[0], seen[1]) and not torch.equal(seen[0], seen[2])
    assert table["noisy input"][0] > table["noisy input"][1]  # more noise, lower PSNR
    assert abs(table["noisy input"][0] - 20.0) < 1.5  # 10·log10(1/0.1²) = 20 dB
    text = ch04.format_table(table, ["σ=0.1", "σ=0.2"], header="method")
    assert text.splitlines()[0].startswith("method") and len(text.splitlines()) == 4


def test_filter_spread_localised_vs_global():
    point = torch.zeros(1, 784)
    point[0, 14 * 28 + 14] = 1.0
    assert ch04.filter_spread(point, (1, 28, 28)).item() == pytest.approx(0.0, abs=1e-6)
    two = torch.zeros(1, 784)
    two[0, 0], two[0, 4] = 1.0, -1.0  # two pixels 4 apart: spread = 2
    assert ch04.filter_spread(two, (1, 28, 28)).item() == pytest.approx(2.0, abs=1e-5)
    flat = torch.ones(1, 784)  # uniform on 28×28: sqrt(2 · (28² − 1) / 12)
    expected = math.sqrt(2 * (28**2 - 1) / 12)
    assert ch04.filter_spread(flat, (1, 28, 28)).item() == pytest.approx(expected, rel=1e-5)
    noise = torch.randn(200, 784, generator=gen(5))
    assert ch04.filter_spread(noise, (1, 28, 28)).median() == pytest.approx(expected, rel=0.05)


def test_filter_roughness_reference_values():
    constant = torch.ones(1, 784)
    assert ch04.filter_roughness(constant, (1, 28, 28)).item() == pytest.approx(0.0, abs=1e-7)
    checker = ((torch.arange(28)[:, None] + torch.arange(28)[None, :]) % 2 * 2 - 1).float().reshape(1, 784)
    # Every neighbouring pair differs by 2: 2·28·27 pairs · 4 / 784.
    assert ch04.filter_roughness(checker, (1, 28, 28)).item() == pytest.approx(2 * 28 * 27 * 4 / 784)
    noise = torch.randn(300, 784, generator=gen(11))
    assert ch04.filter_roughness(noise, (1, 28, 28)).mean() == pytest.approx(4 * 27 / 28, rel=0.02)
    smooth = ch04.gaussian_blur(noise, (1, 28, 28), 2.0)
    assert ch04.filter_roughness(smooth, (1, 28, 28)).max() < 0.5
    # Sign and scale do not matter.
    torch.testing.assert_close(ch04.filter_roughness(-3 * noise[:5], (1, 28, 28)),
                               ch04.filter_roughness(noise[:5], (1, 28, 28)))


def test_masked_mse_and_mean_fill():
    x = torch.rand(4, 9, generator=gen(6))
    mask = torch.zeros(4, 9, dtype=torch.bool)
    mask[:, :3] = True
    x_hat = x.clone()
    x_hat[:, 0] += 0.3  # error only inside the mask: (0.3² + 0 + 0) / 3 per image
    x_hat[:, 8] += 5.0  # outside the mask: ignored
    assert ch04.masked_mse(x_hat, x, mask) == pytest.approx(0.03, rel=1e-5)
    mean = torch.full((9,), 0.5)
    filled = ch04.mean_fill(x, mask, mean)
    assert torch.equal(filled[:, :3], torch.full((4, 3), 0.5)) and torch.equal(filled[:, 3:], x[:, 3:])
    with pytest.raises(ValueError, match="mask"):
        ch04.masked_mse(x_hat, x, mask.float())


def test_jacobian_singular_values_and_tangents_of_a_linear_encoder():
    torch.manual_seed(0)
    enc = nn.Linear(6, 3)
    x = torch.randn(2, 6, generator=gen(7))
    s_ref = torch.linalg.svdvals(enc.weight.detach().double()).float()
    s = ch05.jacobian_singular_values(enc, x)
    assert s.shape == (2, 3)
    torch.testing.assert_close(s[0], s_ref)
    torch.testing.assert_close(s[1], s_ref)
    directions, values = ch05.tangent_directions(enc, x, 2)
    assert directions.shape == (2, 2, 6)
    torch.testing.assert_close(values[0], s_ref[:2])
    # Each direction v satisfies ‖W v‖ = its singular value, and directions are orthonormal.
    w = enc.weight.detach()
    torch.testing.assert_close((directions[0] @ w.T).norm(dim=1), s_ref[:2], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(directions[0] @ directions[0].T, torch.eye(2), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="n_directions"):
        ch05.tangent_directions(enc, x, 4)


@pytest.mark.parametrize("shape", [(3, 5, 9), (2, 9, 5)])
def test_svd_through_gram_matches_torch_svd(shape):
    jac = torch.randn(*shape, generator=gen(14), dtype=torch.float64)
    values, vh = ch05._svd_through_gram(jac, 3)
    _, s_ref, vh_ref = torch.linalg.svd(jac, full_matrices=False)
    torch.testing.assert_close(values, s_ref)
    # Singular vectors are defined up to sign.
    torch.testing.assert_close((vh * vh_ref[:, :3]).sum(-1).abs(), torch.ones(shape[0], 3, dtype=torch.float64))


def test_tangent_directions_of_a_nonlinear_encoder_match_svd():
    torch.manual_seed(0)
    enc = nn.Sequential(nn.Linear(12, 6), nn.Sigmoid())
    x = torch.randn(3, 12, generator=gen(15))
    directions, values = ch05.tangent_directions(enc, x, 3)
    for i in range(3):
        jac = torch.autograd.functional.jacobian(lambda r: enc(r[None])[0], x[i]).double()
        _, s_ref, vh_ref = torch.linalg.svd(jac, full_matrices=False)
        torch.testing.assert_close(values[i], s_ref[:3].float())
        torch.testing.assert_close((directions[i].double() * vh_ref[:3]).sum(1).abs(), torch.ones(3, dtype=torch.float64),
                                   atol=1e-5, rtol=0)


def test_code_sensitivity_linear_encoder_closed_form():
    torch.manual_seed(0)
    enc = nn.Linear(50, 5, bias=True)
    x = torch.randn(4, 50, generator=gen(8))
    # For a linear map, ‖Wε‖/‖ε‖ concentrates near ‖W‖_F/√d; exact in expectation of the squares.
    sens = ch05.code_sensitivity(enc, x, 0.1, n_draws=400)
    expected = enc.weight.detach().norm() / math.sqrt(50)
    assert sens.shape == (4,)
    assert ((sens - expected).abs() < 0.1 * expected).all()
    # Scaling the weights scales the sensitivity.
    with torch.no_grad():
        enc.weight.mul_(3)
    torch.testing.assert_close(ch05.code_sensitivity(enc, x, 0.1, n_draws=400), 3 * sens, rtol=1e-4, atol=1e-6)


def test_pair_sensitivity_linear_encoder():
    enc = nn.Linear(5, 3, bias=True)
    a, b = torch.randn(7, 5, generator=gen(12)), torch.randn(7, 5, generator=gen(13))
    expected = ((a - b) @ enc.weight.detach().T).norm(dim=1) / (a - b).norm(dim=1)
    torch.testing.assert_close(ch05.pair_sensitivity(enc, a, b), expected)
    with pytest.raises(ValueError, match="identical"):
        ch05.pair_sensitivity(enc, a, a)
    with pytest.raises(ValueError, match="same number"):
        ch05.pair_sensitivity(enc, a, b[:3])


def test_noise_expansion_matches_brute_force_jacobian_and_taylor():
    torch.manual_seed(0)
    model = MLPAutoencoder(20, (12,), 4, activation="tanh").double()
    x = torch.rand(5, 20, generator=gen(9), dtype=torch.float64)
    out = ch05.noise_expansion(model, x, 1e-3, n_draws=300)
    ref = torch.stack([torch.autograd.functional.jacobian(lambda r: model(r[None])[0], xi).pow(2).sum()
                       for xi in x]).mean()
    assert out["jacobian_sq"] == pytest.approx(ref.item(), rel=1e-6)
    # Small σ: the output change per σ² is ‖J_r‖²_F within Monte Carlo error.
    assert abs(out["output_change"] - out["jacobian_sq"]) < 4 * out["output_change_se"] + 1e-3 * out["jacobian_sq"]
    assert out["output_change_se"] > 0 and out["extra_loss_se"] > 0
