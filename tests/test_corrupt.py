"""Tests for aelib.corrupt: statistics, reproducibility, extremes, validation, device/dtype."""
import math

import pytest
import torch

from aelib import corrupt
from aelib.train import fit
from aelib.models import MLPAutoencoder

N = 200_000  # pixels for the statistical checks: standard errors ~1e-3


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gaussian_noise_has_requested_mean_and_std():
    x = torch.rand(100, N // 100, generator=gen(1))
    noise = corrupt.gaussian(0.3, mean=0.1)(x, generator=gen()) - x
    # SE of the mean is 0.3/sqrt(N) ≈ 7e-4; of the std ≈ 0.3/sqrt(2N) ≈ 5e-4.
    assert abs(noise.mean().item() - 0.1) < 5 * 0.3 / math.sqrt(N)
    assert abs(noise.std().item() - 0.3) < 5 * 0.3 / math.sqrt(2 * N)
    # Noise is independent of the image (no correlation with x).
    corr = torch.corrcoef(torch.stack([noise.flatten(), x.flatten()]))[0, 1]
    assert abs(corr.item()) < 5 / math.sqrt(N)


def test_gaussian_clip_keeps_unit_range():
    x = torch.rand(50, 784, generator=gen(2))
    x_tilde = corrupt.gaussian(1.0, clip=True)(x, generator=gen())
    assert x_tilde.min() >= 0 and x_tilde.max() <= 1
    assert (x_tilde == 0).any() and (x_tilde == 1).any()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_masking_knocks_out_fraction_p(p):
    x = torch.rand(100, N // 100, generator=gen(3)) + 0.5  # strictly positive, so 0 means masked
    x_tilde = corrupt.masking(p)(x, generator=gen())
    fraction = (x_tilde == 0).float().mean().item()
    assert abs(fraction - p) < 5 * math.sqrt(p * (1 - p) / N)
    kept = x_tilde != 0
    assert torch.equal(x_tilde[kept], x[kept])  # untouched pixels are exactly the originals


def test_salt_and_pepper_fractions_and_values():
    p = 0.3
    x = torch.full((100, N // 100), 0.5)
    x_tilde = corrupt.salt_and_pepper(p)(x, generator=gen())
    salt, pepper = (x_tilde == 1).float().mean().item(), (x_tilde == 0).float().mean().item()
    se = math.sqrt(p / 2 * (1 - p / 2) / N)
    assert abs(salt - p / 2) < 5 * se and abs(pepper - p / 2) < 5 * se
    assert set(torch.unique(x_tilde).tolist()) == {0.0, 0.5, 1.0}
    custom = corrupt.salt_and_pepper(1.0, low=-1.0, high=2.0)(x, generator=gen())
    assert set(torch.unique(custom).tolist()) == {-1.0, 2.0}


def test_block_masks_one_square_per_image():
    x = torch.rand(64, 784, generator=gen(4)) + 0.5
    x_tilde = corrupt.block(7)(x, generator=gen())
    masked = (x_tilde == 0).reshape(64, 28, 28)
    assert torch.equal(masked.sum(dim=(1, 2)), torch.full((64,), 49))
    for img in masked:  # the masked pixels form a 7×7 square
        rows, cols = img.any(1).nonzero().flatten(), img.any(0).nonzero().flatten()
        assert len(rows) == 7 and len(cols) == 7 and rows[-1] - rows[0] == 6 and cols[-1] - cols[0] == 6
    # Positions vary: many different top-left corners across the batch.
    corners = {(int(m.any(1).nonzero()[0]), int(m.any(0).nonzero()[0])) for m in masked}
    assert len(corners) > 30
    # The 4 positions of a 2×2 block in a 3×3 image are equally likely: each corner pixel is
    # covered by exactly one position, so it is hit with probability 1/4; the centre always.
    hits = (corrupt.block(2, (1, 3, 3))(torch.ones(4000, 9), generator=gen()) == 0).float().mean(0)
    se = math.sqrt(0.25 * 0.75 / 4000)
    assert all(abs(hits[i].item() - 0.25) < 5 * se for i in (0, 2, 6, 8))
    assert hits[4].item() == 1.0


@pytest.mark.parametrize("make", [lambda: corrupt.gaussian(0.5), lambda: corrupt.masking(0.4),
                                  lambda: corrupt.salt_and_pepper(0.4), lambda: corrupt.block(5)])
def test_same_generator_same_corruption(make):
    c = make()
    x = torch.rand(16, 784, generator=gen(5))
    a, b = c(x, generator=gen(7)), c(x, generator=gen(7))
    assert torch.equal(a, b)
    assert not torch.equal(a, c(x, generator=gen(8)))
    # Without a generator the global RNG is used, so torch.manual_seed makes it reproducible.
    torch.manual_seed(3)
    first = c(x)
    torch.manual_seed(3)
    assert torch.equal(first, c(x))


def test_zero_noise_is_identity_and_does_not_alias():
    x = torch.rand(8, 784, generator=gen(6))
    for c in (corrupt.gaussian(0.0), corrupt.masking(0.0), corrupt.salt_and_pepper(0.0)):
        x_tilde = c(x, generator=gen())
        assert torch.equal(x_tilde, x)
        x_tilde += 1  # a fresh tensor: the caller's data stays untouched
        assert not torch.equal(x_tilde, x)


def test_p_one_extremes():
    x = torch.rand(8, 784, generator=gen(7))
    assert torch.equal(corrupt.masking(1.0)(x, generator=gen()), torch.zeros_like(x))
    sp = corrupt.salt_and_pepper(1.0)(x, generator=gen())
    assert ((sp == 0) | (sp == 1)).all()
    assert torch.equal(corrupt.block(28)(x, generator=gen()), torch.zeros_like(x))


@pytest.mark.parametrize("call, match", [
    (lambda: corrupt.gaussian(-0.1), "std"),
    (lambda: corrupt.gaussian(float("nan")), "std"),
    (lambda: corrupt.gaussian(float("inf")), "std"),
    (lambda: corrupt.gaussian(0.1, mean=float("inf")), "mean"),
    (lambda: corrupt.masking(1.5), "p"),
    (lambda: corrupt.masking(-0.1), "p"),
    (lambda: corrupt.masking("0.5"), "p"),
    (lambda: corrupt.salt_and_pepper(float("nan")), "p"),
    (lambda: corrupt.salt_and_pepper(0.1, low=1.0, high=0.0), "low"),
    (lambda: corrupt.block(0), "size"),
    (lambda: corrupt.block(29), "size"),
    (lambda: corrupt.block(3, image_shape=(28, 28)), "image_shape"),
])
def test_bad_parameters_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_inputs_raise_type_errors():
    with pytest.raises(TypeError, match="dtype"):
        corrupt.masking(0.5)(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        corrupt.gaussian(0.1)([[0.0, 1.0]])
    with pytest.raises(TypeError, match="generator"):
        corrupt.gaussian(0.1)(torch.ones(2, 3), generator=0)
    with pytest.raises(ValueError, match="shape"):
        corrupt.block(3)(torch.ones(2, 100))


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_dtype_shape_device_preserved(dtype):
    x = torch.rand(4, 784, generator=gen(8)).to(dtype)
    for c in (corrupt.gaussian(0.2), corrupt.masking(0.3), corrupt.salt_and_pepper(0.3), corrupt.block(4)):
        out = c(x, generator=gen())
        assert out.dtype == dtype and out.shape == x.shape and out.device == x.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensors_with_cuda_or_cpu_generator():
    x = torch.rand(4, 784, device="cuda")
    for c in (corrupt.gaussian(0.2), corrupt.masking(0.3), corrupt.salt_and_pepper(0.3), corrupt.block(4)):
        g_cuda = torch.Generator(device="cuda").manual_seed(0)
        a = c(x, generator=g_cuda)
        assert a.device == x.device
        assert torch.equal(a, c(x, generator=torch.Generator(device="cuda").manual_seed(0)))
        assert c(x, generator=gen()).device == x.device


def test_repr_and_equality():
    assert repr(corrupt.gaussian(0.3)) == "gaussian(std=0.3)"
    assert repr(corrupt.gaussian(0.3, mean=-0.5, clip=True)) == "gaussian(std=0.3, mean=-0.5, clip=True)"
    assert repr(corrupt.masking(0.25)) == "masking(p=0.25)"
    assert repr(corrupt.salt_and_pepper(0.1)) == "salt_and_pepper(p=0.1)"
    assert repr(corrupt.block(7)) == "block(size=7)"
    assert corrupt.masking(0.25) == corrupt.masking(0.25) != corrupt.masking(0.3)
    assert len({corrupt.masking(0.25), corrupt.masking(0.25)}) == 1


def test_fit_uses_generator_reproducibly():
    x = torch.rand(64, 16, generator=gen(9))

    def train():
        torch.manual_seed(0)
        model = MLPAutoencoder(16, (), 4)
        return fit(model, x, epochs=2, batch_size=16, corruption=corrupt.masking(0.5), seed=3,
                   device="cpu", progress=False).train_loss

    assert train() == train()


def test_block_mask_matches_block_corruption():
    x = torch.rand(32, 784, generator=gen(10)) + 0.5
    x_tilde = corrupt.block(6)(x, generator=gen(4))
    mask = corrupt.block_mask(32, 6, generator=gen(4))
    assert mask.dtype == torch.bool and mask.shape == x.shape
    assert torch.equal(x_tilde == 0, mask)
    with pytest.raises(ValueError, match="size"):
        corrupt.block_mask(3, 30)
    with pytest.raises(ValueError, match="n"):
        corrupt.block_mask(0, 3)
