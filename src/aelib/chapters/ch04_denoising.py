"""Chapter helpers for *Denoising autoencoders* (book/04_denoising): the blur baseline, PSNR
tables, filter locality measures and inpainting scores. The training itself is
:func:`aelib.train.fit` with a ``corruption`` from :mod:`aelib.corrupt`.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import torch
from scipy import ndimage

from .._checks import as_data_tensor, nonnegative_float, positive_float
from ..metrics import psnr


def _image_shape(image_shape, width: int):
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or math.prod(shape) != width:
        raise ValueError(f"image_shape {tuple(image_shape)} does not match rows of {width} pixels; "
                         "pass (channels, height, width) with channels·height·width = row width.")
    return shape


def gaussian_blur(x, image_shape, sigma: float) -> torch.Tensor:
    """Blur flattened images with an isotropic Gaussian of standard deviation ``sigma`` pixels.

    The classical denoiser that knows nothing about the data: it averages each pixel with its
    neighbours, removing noise and detail alike. Borders are mirrored; the kernel
    is cut at ``±3σ`` (``scipy.ndimage.gaussian_filter``). ``sigma=0`` returns a
    copy. See chapter *Denoising autoencoders*.

    Parameters
    ----------
    x : torch.Tensor, shape (n, c·h·w)
    image_shape : (c, h, w)
    sigma : float
        Blur width in pixels (the kernel spans ``±3σ``).

    Returns
    -------
    torch.Tensor, same shape as ``x``

    Examples
    --------
    >>> flat = torch.full((1, 64), 0.5)
    >>> torch.allclose(gaussian_blur(flat, (1, 8, 8), 1.0), flat)
    True
    """
    x = as_data_tensor("x", x)
    c, h, w = _image_shape(image_shape, x.shape[1])
    sigma = nonnegative_float("sigma", sigma)
    if sigma == 0:
        return x.clone()
    # scipy's "mirror" mode reflects about the edge pixel (d c b | a b c d), as torch's "reflect".
    images = x.reshape(-1, c, h, w).detach().cpu().double().numpy()
    radius = (0, 0, min(math.ceil(3 * sigma), h - 1), min(math.ceil(3 * sigma), w - 1))
    blurred = ndimage.gaussian_filter(images, sigma=(0, 0, sigma, sigma), mode="mirror", radius=radius)
    return torch.from_numpy(blurred).to(dtype=x.dtype, device=x.device).reshape(x.shape)


def tune_blur(x_noisy, x_clean, image_shape, sigmas=(0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)) -> float:
    """The blur width (from ``sigmas``) with the best PSNR on these validation pairs.

    Tuning the baseline on held-out images keeps the comparison fair: the blur gets the best
    setting for each noise level, as the learned denoisers do through training.
    """
    sigmas = [positive_float(f"sigmas[{i}]", s) for i, s in enumerate(sigmas)]
    if not sigmas:
        raise ValueError("sigmas must not be empty.")
    x_clean = as_data_tensor("x_clean", x_clean)
    x_noisy = as_data_tensor("x_noisy", x_noisy, width=x_clean.shape[1])
    scores = [psnr(gaussian_blur(x_noisy, image_shape, s), x_clean) for s in sigmas]
    return sigmas[max(range(len(sigmas)), key=scores.__getitem__)]


def psnr_table(x_clean, noise_levels, denoisers: Mapping[str, Callable], make_corruption: Callable,
               *, seed: int = 0) -> dict:
    """PSNR (dB) of every denoiser at every noise level, on the same corrupted images.

    Parameters
    ----------
    x_clean : torch.Tensor, shape (n, d)
        Test images.
    noise_levels : sequence of float
        Passed one at a time to ``make_corruption`` (e.g. ``aelib.corrupt.gaussian``).
    denoisers : dict
        ``{name: callable(x_noisy, level) -> x_hat}``; the level lets baselines be tuned per level.
    make_corruption : callable(level) -> corruption
    seed : int
        Seeds the corruption, so every denoiser sees the same noisy images.

    Returns
    -------
    dict
        ``{name: [psnr at each level]}`` in the order of ``denoisers``, plus ``"noisy input"``
        first (the PSNR of the corrupted images themselves).

    See chapter *Denoising autoencoders*.
    """
    x_clean = as_data_tensor("x_clean", x_clean)
    levels = list(noise_levels)
    if not levels:
        raise ValueError("noise_levels must not be empty.")
    for name, fn in denoisers.items():
        if not callable(fn):
            raise TypeError(f"denoisers[{name!r}] must be a callable(x_noisy, level) -> x_hat.")
    table = {"noisy input": [], **{name: [] for name in denoisers}}
    for i, level in enumerate(levels):
        generator = torch.Generator().manual_seed(seed + i)
        x_noisy = make_corruption(level)(x_clean, generator=generator)
        table["noisy input"].append(psnr(x_noisy, x_clean))
        for name, fn in denoisers.items():
            table[name].append(psnr(torch.as_tensor(fn(x_noisy, level)).cpu(), x_clean))
    return table


def format_table(table: Mapping[str, list], columns, *, header: str = "", digits: int = 1) -> str:
    """A fixed-width text table: one row per key of ``table``, one column per entry of ``columns``."""
    columns = [str(c) for c in columns]
    width = max(len(str(k)) for k in table) + 2
    lines = [f"{header:<{width}}" + "".join(f"{c:>9}" for c in columns)]
    for name, values in table.items():
        if len(values) != len(columns):
            raise ValueError(f"row {name!r} has {len(values)} values for {len(columns)} columns.")
        lines.append(f"{name:<{width}}" + "".join(f"{v:>9.{digits}f}" for v in values))
    return "\n".join(lines)


def _weights(weights) -> torch.Tensor:
    """A weight matrix (tensor, array or nested list) as a float32 CPU tensor, checked."""
    if isinstance(weights, torch.Tensor) and weights.device.type != "meta":
        weights = weights.detach().float().cpu()
    elif isinstance(weights, (list, tuple)):
        weights = torch.as_tensor(weights, dtype=torch.float32)
    return as_data_tensor("weights", weights, allow_int=True)


def filter_spread(weights, image_shape) -> torch.Tensor:
    """How spread out each filter is, in pixels: the energy-weighted spatial standard deviation

    .. math:: s(w) = \\Big(\\sum_p \\frac{w_p^2}{\\lVert w\\rVert^2}\\, \\lVert r_p - \\bar r\\rVert^2\\Big)^{1/2},
              \\qquad \\bar r = \\sum_p \\frac{w_p^2}{\\lVert w\\rVert^2} r_p,

    where ``r_p`` is the (row, column) position of pixel ``p``. A filter that looks at one small
    region (a stroke detector) has a small spread; one spread over the whole image (or pure
    noise) is large: about 11.4 for white noise on a 28 × 28 image. See chapter *Denoising
    autoencoders*.

    Parameters
    ----------
    weights : torch.Tensor, shape (n_filters, c·h·w)
        E.g. the first encoder layer's weight matrix.
    image_shape : (c, h, w)

    Returns
    -------
    torch.Tensor, shape (n_filters,)
    """
    w = _weights(weights)
    c, h, wd = _image_shape(image_shape, w.shape[1])
    energy = w.reshape(len(w), c, h, wd).pow(2).sum(1)
    energy = energy / energy.sum(dim=(1, 2), keepdim=True).clamp_min(1e-30)
    rows = torch.arange(h, dtype=energy.dtype)[None, :, None]
    cols = torch.arange(wd, dtype=energy.dtype)[None, None, :]
    row_mean = (energy * rows).sum(dim=(1, 2), keepdim=True)
    col_mean = (energy * cols).sum(dim=(1, 2), keepdim=True)
    variance = (energy * ((rows - row_mean) ** 2 + (cols - col_mean) ** 2)).sum(dim=(1, 2))
    return variance.sqrt()


def filter_roughness(weights, image_shape) -> torch.Tensor:
    """How rough each filter is: the energy of its differences between neighbouring pixels
    relative to its own energy,

    .. math:: \\rho(w) = \\frac{\\sum_{p \\sim q} (w_p - w_q)^2}{\\sum_p w_p^2},

    summed over horizontally and vertically adjacent pixel pairs ``p ~ q`` (channels
    separately). A smooth filter, which pools neighbouring pixels, has a small ``ρ``; pixel-wise
    noise has ``ρ ≈ 4`` (each difference has twice the variance, and there are about two pairs
    per pixel). See chapter *Denoising autoencoders*.

    Returns
    -------
    torch.Tensor, shape (n_filters,)
    """
    w = _weights(weights)
    c, h, wd = _image_shape(image_shape, w.shape[1])
    images = w.reshape(len(w), c, h, wd)
    across = (images[..., :, 1:] - images[..., :, :-1]).pow(2).sum(dim=(1, 2, 3))
    down = (images[..., 1:, :] - images[..., :-1, :]).pow(2).sum(dim=(1, 2, 3))
    return (across + down) / images.pow(2).sum(dim=(1, 2, 3)).clamp_min(1e-30)


def _mask(name, mask, like) -> torch.Tensor:
    mask = torch.as_tensor(mask)
    if mask.dtype != torch.bool or mask.shape != like.shape:
        raise ValueError(f"{name} must be a boolean tensor of shape {tuple(like.shape)}, "
                         f"got {mask.dtype} {tuple(mask.shape)}.")
    return mask


def masked_mse(x_hat, x, mask) -> float:
    """Mean squared error over the masked pixels only (``mask`` True), averaged over images:
    how well a model *inpaints* a hidden region. See chapter *Denoising autoencoders*."""
    x = as_data_tensor("x", x)
    if isinstance(x_hat, torch.Tensor) and x_hat.device.type != "meta":
        x_hat = x_hat.to(x.device)
    x_hat = as_data_tensor("x_hat", x_hat, width=x.shape[1])
    mask = _mask("mask", mask, x).to(x.device)
    per_image = ((x_hat - x).pow(2) * mask).sum(1) / mask.sum(1).clamp_min(1)
    return float(per_image[mask.any(1)].mean())


def mean_fill(x_masked, mask, mean_image) -> torch.Tensor:
    """The inpainting baseline: hidden pixels (``mask`` True) replaced by the mean training image."""
    x_masked = as_data_tensor("x_masked", x_masked)
    mask = _mask("mask", mask, x_masked)
    mean_image = torch.as_tensor(mean_image, dtype=x_masked.dtype, device=x_masked.device
                                 ).reshape(1, -1).expand_as(x_masked)
    return torch.where(mask, mean_image, x_masked)
