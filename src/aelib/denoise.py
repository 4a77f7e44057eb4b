"""Measuring denoisers and contractive encoders: baselines, PSNR tables, filter locality,
inpainting scores, Jacobian spectra and code sensitivity.

See chapters *Denoising autoencoders* and *Contractive autoencoders*. The training itself uses
:func:`aelib.train.fit` with a ``corruption`` (:mod:`aelib.corrupt`) or a contractive
``penalty`` (:func:`aelib.penalties.contractive`); this module holds what the chapters measure.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import torch
import torch.nn.functional as F

from ._checks import as_data_tensor, nonnegative_float, positive_float, positive_int
from .metrics import psnr
from .penalties import _encoder_parts, batch_jacobian

__all__ = [
    "gaussian_blur",
    "tune_blur",
    "psnr_table",
    "format_table",
    "filter_spread",
    "filter_roughness",
    "masked_mse",
    "mean_fill",
    "jacobian_singular_values",
    "tangent_directions",
    "code_sensitivity",
    "pair_sensitivity",
    "noise_expansion",
]


def _image_shape(image_shape, width: int):
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or math.prod(shape) != width:
        raise ValueError(f"image_shape {tuple(image_shape)} does not match rows of {width} pixels; "
                         "pass (channels, height, width) with channels·height·width = row width.")
    return shape


def gaussian_blur(x, image_shape, sigma: float) -> torch.Tensor:
    """Blur flattened images with an isotropic Gaussian of standard deviation ``sigma`` pixels.

    The classical denoiser that knows nothing about the data: it averages each pixel with its
    neighbours, removing noise and detail alike. Borders are reflected. ``sigma=0`` returns a
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
    radius = min(int(math.ceil(3 * sigma)), h - 1, w - 1)  # reflect padding needs radius < size
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-offsets**2 / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).repeat(c, 1)
    images = x.reshape(-1, c, h, w)
    # Separable: blur along rows, then along columns (one channel at a time via groups=c).
    images = F.conv2d(F.pad(images, (radius, radius, 0, 0), mode="reflect"), kernel.view(c, 1, 1, -1), groups=c)
    images = F.conv2d(F.pad(images, (0, 0, radius, radius), mode="reflect"), kernel.view(c, 1, -1, 1), groups=c)
    return images.reshape(x.shape)


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


def _jacobians(encoder, x) -> torch.Tensor:
    fn, _ = _encoder_parts(encoder)
    x = as_data_tensor("x", x, width=getattr(encoder, "input_dim", None))
    device = next(encoder.parameters()).device if isinstance(encoder, torch.nn.Module) else x.device
    was_training = getattr(encoder, "training", False)
    if isinstance(encoder, torch.nn.Module):
        encoder.eval()
    try:
        return batch_jacobian(fn, x.to(device), create_graph=False).double().cpu()
    finally:
        if isinstance(encoder, torch.nn.Module):
            encoder.train(was_training)


def _svd_through_gram(jac: torch.Tensor, n_vectors: int = 0):
    """Singular values (descending) and ``n_vectors`` leading right singular vectors of a batch
    of wide matrices ``(n, k, d)``, ``k ≤ d``, from the eigen-decomposition of the small Gram
    matrix ``J Jᵀ`` (``k × k``): several times cheaper than an SVD of ``J``. Float64 keeps the
    squared singular values accurate far below what the chapters plot."""
    if jac.shape[1] > jac.shape[2]:
        values = torch.linalg.svdvals(jac)
        if not n_vectors:
            return values, None
        _, values, vh = torch.linalg.svd(jac, full_matrices=False)
        return values, vh[:, :n_vectors]
    gram = jac @ jac.transpose(1, 2)
    if not n_vectors:
        return torch.linalg.eigvalsh(gram).flip(-1).clamp_min(0).sqrt(), None
    eigenvalues, u = torch.linalg.eigh(gram)
    values = eigenvalues.flip(-1).clamp_min(0).sqrt()
    u = u.flip(-1)[:, :, :n_vectors]
    # v_i = Jᵀ u_i / s_i for the leading (well-separated from zero) singular values.
    vh = (jac.transpose(1, 2) @ u).transpose(1, 2) / values[:, :n_vectors, None].clamp_min(1e-300)
    return values, vh


def jacobian_singular_values(encoder, x) -> torch.Tensor:
    """Singular values of the encoder's Jacobian ``J_f(x_i)`` at every row, largest first:
    shape ``(n, min(latent_dim, input_dim))``.

    A contractive encoder has a few large singular values (directions along the data
    manifold, which the code must follow) and many tiny ones (directions it ignores). See
    chapter *Contractive autoencoders*.
    """
    return _svd_through_gram(_jacobians(encoder, x))[0].float()


def tangent_directions(encoder, x, n_directions: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """The input directions the code is most sensitive to at each row: the leading right
    singular vectors of ``J_f(x_i)``.

    Returns
    -------
    directions : torch.Tensor, shape (n, n_directions, input_dim)
        Unit vectors (signs fixed so that the largest entry is positive).
    singular_values : torch.Tensor, shape (n, n_directions)

    See chapter *Contractive autoencoders*.
    """
    n_directions = positive_int("n_directions", n_directions)
    jac = _jacobians(encoder, x)
    if n_directions > min(jac.shape[1:]):
        raise ValueError(f"n_directions={n_directions} exceeds min(latent_dim, input_dim)={min(jac.shape[1:])}.")
    s, vh = _svd_through_gram(jac, n_directions)
    signs = torch.sign(vh.gather(2, vh.abs().argmax(2, keepdim=True)))
    return (vh * signs).float(), s[:, :n_directions].float()


def code_sensitivity(encoder, x, noise_std: float, *, n_draws: int = 8, seed: int = 0) -> torch.Tensor:
    """``‖f(x + ε) − f(x)‖ / ‖ε‖`` with ``ε ~ N(0, σ² I)``, averaged over ``n_draws`` draws, per row.

    How far the code moves per unit of input perturbation in a *random* direction; a
    contractive encoder moves little. For small ``σ`` it tends to ``‖J_f(x)‖_F / √d``.
    See chapter *Contractive autoencoders*.
    """
    noise_std = positive_float("noise_std", noise_std)
    n_draws = positive_int("n_draws", n_draws)
    fn, _ = _encoder_parts(encoder)
    x = as_data_tensor("x", x, width=getattr(encoder, "input_dim", None))
    generator = torch.Generator().manual_seed(seed)
    device = next(encoder.parameters()).device if isinstance(encoder, torch.nn.Module) else x.device
    with torch.no_grad():
        x_dev = x.to(device)
        z = fn(x_dev)
        ratios = []
        for _ in range(n_draws):
            eps = (noise_std * torch.randn(x.shape, generator=generator, dtype=x.dtype)).to(device)
            ratios.append((fn(x_dev + eps) - z).norm(dim=1) / eps.norm(dim=1))
    return torch.stack(ratios).mean(0).cpu()


def pair_sensitivity(encoder, x_a, x_b) -> torch.Tensor:
    """``‖f(a_i) − f(b_i)‖ / ‖a_i − b_i‖`` for paired rows: how far codes move per unit of input
    distance between *different* examples. Dividing :func:`code_sensitivity` by this gives a
    scale-free measure of contraction: how much less the code reacts to noise than to a change
    of example. See chapter *Contractive autoencoders*.
    """
    fn, _ = _encoder_parts(encoder)
    x_a = as_data_tensor("x_a", x_a, width=getattr(encoder, "input_dim", None))
    x_b = as_data_tensor("x_b", x_b, width=x_a.shape[1])
    if len(x_a) != len(x_b):
        raise ValueError(f"x_a and x_b must have the same number of rows, got {len(x_a)} and {len(x_b)}.")
    distance = (x_a - x_b).norm(dim=1)
    if (distance == 0).any():
        raise ValueError("x_a and x_b contain identical pairs; pair different examples.")
    device = next(encoder.parameters()).device if isinstance(encoder, torch.nn.Module) else x_a.device
    with torch.no_grad():
        moved = (fn(x_a.to(device)) - fn(x_b.to(device))).norm(dim=1).cpu()
    return moved / distance


def noise_expansion(model, x, noise_std: float, *, n_draws: int = 200, seed: int = 0) -> dict:
    """Compare the effect of small Gaussian input noise on an autoencoder ``r = g∘f`` with the
    contraction of ``r`` (Alain & Bengio 2014).

    For ``ε ~ N(0, σ² I)`` a Taylor expansion gives, per example,

    .. math:: \\mathbb{E}\\lVert r(x+\\varepsilon) - r(x)\\rVert^2 = \\sigma^2 \\lVert J_r(x)\\rVert_F^2 + O(\\sigma^4),

    .. math:: \\mathbb{E}\\lVert x - r(x+\\varepsilon)\\rVert^2 - \\lVert x - r(x)\\rVert^2
              = \\sigma^2 \\big(\\lVert J_r(x)\\rVert_F^2 - \\textstyle\\sum_k (x - r(x))_k \\operatorname{tr} H_k(x)\\big)
              + O(\\sigma^4),

    where ``H_k`` is the Hessian of output ``k``: the denoising loss is the reconstruction loss
    plus ``σ²`` times the contractive penalty on ``r``, up to a curvature term that vanishes
    where the reconstruction is exact. All quantities are averaged over the rows of ``x``.

    Returns
    -------
    dict
        ``jacobian_sq`` (mean ``‖J_r‖²_F``, exact), ``output_change`` (Monte Carlo estimate of
        ``E‖r(x+ε) − r(x)‖² / σ²``) and its standard error ``output_change_se``, ``extra_loss``
        (Monte Carlo ``(E‖x − r(x+ε)‖² − ‖x − r(x)‖²) / σ²``) and ``extra_loss_se``. Each draw
        uses the antithetic pair ``±ε``, which removes the first-order noise from the estimates.

    See chapter *Contractive autoencoders*, section *Denoising is contraction*.
    """
    noise_std = positive_float("noise_std", noise_std)
    n_draws = positive_int("n_draws", n_draws, minimum=2)
    x = as_data_tensor("x", x, width=getattr(model, "input_dim", None))
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        x_dev = x.to(device)
        # J_r = J_g(f(x)) J_f(x): two small Jacobians instead of one input_dim × input_dim.
        j_enc = batch_jacobian(model.encode, x_dev, create_graph=False)
        with torch.no_grad():
            z = model.encode(x_dev)
        j_dec = batch_jacobian(model.decode, z, create_graph=False)
        jacobian_sq = float((j_dec @ j_enc).pow(2).sum(dim=(1, 2)).mean())
        generator = torch.Generator().manual_seed(seed)
        change, extra = [], []
        with torch.no_grad():
            r = model(x_dev)
            base = (x_dev - r).pow(2).sum(1)
            for _ in range(n_draws):
                eps = (noise_std * torch.randn(x.shape, generator=generator, dtype=x.dtype)).to(device)
                # Antithetic pair ±ε: the first-order terms (odd in ε, mean zero but of size σ)
                # cancel exactly, leaving the σ² terms we want with far less Monte Carlo noise.
                r_plus, r_minus = model(x_dev + eps), model(x_dev - eps)
                change.append((((r_plus - r).pow(2).sum(1) + (r_minus - r).pow(2).sum(1)) / (2 * noise_std**2)).mean())
                loss_pm = (x_dev - r_plus).pow(2).sum(1) + (x_dev - r_minus).pow(2).sum(1)
                extra.append(((loss_pm / 2 - base) / noise_std**2).mean())
    finally:
        model.train(was_training)
    change, extra = torch.stack(change).double().cpu(), torch.stack(extra).double().cpu()
    root = math.sqrt(n_draws)
    return {"jacobian_sq": jacobian_sq,
            "output_change": float(change.mean()), "output_change_se": float(change.std() / root),
            "extra_loss": float(extra.mean()), "extra_loss_se": float(extra.std() / root)}
