r"""Chapter helpers for *Denoising autoencoders* (book/04_denoising).

Two schematic diagrams (the denoising path and the manifold picture), the patch masking of the
masked-autoencoder demo, and what the chapter measures: the Gaussian-blur baseline, PSNR tables,
filter locality and roughness, and inpainting scores. The training itself is
:func:`aelib.train.fit` with a ``corruption`` from :mod:`aelib.corrupt`.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np
import torch
from scipy import ndimage

from .._checks import as_data_tensor, nonnegative_float, positive_float, positive_int, probability
from ..metrics import psnr
from ._diagram import COLORS, arrow, box, canvas, label, trapezoid

__all__ = ["denoising_diagram", "manifold_diagram", "patch_mask", "patch_masking"]


def denoising_diagram():
    """The denoising autoencoder as a picture: ``x → C(x̃|x) → x̃ → f → z → g → x̂``, and the
    loss ``L(x, x̂)`` taken against the *clean* ``x`` (the path below), not against ``x̃``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(12.2, 4.3, scale=0.72)
    mid = 2.6
    clean = box(ax, 0.2, mid - 0.45, 0.9, 0.9, "$x$", color=COLORS["data"], fontsize=13)
    noise = box(ax, 1.65, mid - 0.55, 1.7, 1.1, "corrupt\n$C(\\tilde x \\mid x)$",
                color=COLORS["noise"], fontsize=10, alpha=0.55)
    noisy = box(ax, 3.9, mid - 0.45, 0.9, 0.9, "$\\tilde x$", color=COLORS["data"],
                fontsize=13, dashed=True)
    enc = trapezoid(ax, 5.3, mid, 1.3, 1.9, 0.8, "$f$", color=COLORS["encoder"], fontsize=13)
    code = box(ax, 7.0, mid - 0.35, 0.7, 0.7, "$z$", color=COLORS["code"], fontsize=13)
    dec = trapezoid(ax, 8.1, mid, 1.3, 0.8, 1.9, "$g$", color=COLORS["decoder"], fontsize=13)
    recon = box(ax, 9.8, mid - 0.45, 0.9, 0.9, "$\\hat x$", color=COLORS["data"], fontsize=13)
    loss = box(ax, 9.55, 0.35, 2.4, 0.8, "loss $L(x, \\hat x)$", color=COLORS["loss"],
               fontsize=10, alpha=0.35)
    for start, end in [(clean, noise), (noise, noisy), (noisy, enc), (enc, code),
                       (code, dec), (dec, recon)]:
        arrow(ax, start.east, end.west)
    arrow(ax, recon.south, (recon.center[0], loss.top))
    # The target path: the clean x goes around the corruption, straight to the loss.
    x0, y_path = clean.center[0], loss.center[1]
    ax.plot([x0, x0], [clean.bottom, y_path], color=COLORS["loss"], lw=1.6)
    arrow(ax, (x0, y_path), loss.west, color=COLORS["loss"])
    label(ax, (x0 + loss.left) / 2, y_path + 0.22,
          "target: the clean $x$, not $\\tilde x$", color=COLORS["loss"], fontsize=10)
    label(ax, noise.center[0], noise.top + 0.35, "fresh draw at every step", fontsize=9,
          color=COLORS["noise"])
    label(ax, enc.center[0], enc.bottom - 0.25, "encoder", fontsize=9)
    label(ax, dec.center[0], dec.bottom - 0.25, "decoder", fontsize=9)
    label(ax, (enc.left + dec.right) / 2, enc.top + 0.35,
          "$\\hat x = g(f(\\tilde x))$", fontsize=11)
    return fig


def manifold_diagram(n_points: int = 5, seed: int = 3):
    """Denoising seen from the data manifold (the view of Alain & Bengio 2014): clean points
    ``x`` on a curve, corrupted copies ``x̃`` pushed off it, and the reconstruction
    ``r(x̃) = g(f(x̃))`` pulling each one back *towards* the curve.

    The arrows end at the best reconstruction ``E[x | x̃]``, an average of the clean points
    that could have produced ``x̃``. Averaging points of a *curved* manifold lands a little off
    it, on the inner side of the bend (where the curve is straight, on it); the diagram marks
    these end points with diamonds.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_points = positive_int("n_points", n_points)
    fig, ax = canvas(8.0, 5.2, scale=0.72)
    t = np.linspace(0.4, 7.6, 300)
    curve = lambda s: 3.3 + 0.8 * np.sin(0.8 * s)  # noqa: E731
    slope = lambda s: 0.64 * np.cos(0.8 * s)  # noqa: E731
    bend = lambda s: -0.512 * np.sin(0.8 * s)  # noqa: E731  (second derivative)
    ax.plot(t, curve(t), color=COLORS["ink"], lw=2)
    label(ax, 0.3, 4.9, "data manifold", ha="left", fontsize=10)
    rng = np.random.default_rng(seed)
    for k, s in enumerate(np.linspace(1.0, 7.0, n_points)):
        normal = np.array([-slope(s), 1.0]) / math.hypot(slope(s), 1.0)
        tangent = np.array([1.0, slope(s)]) / math.hypot(slope(s), 1.0)
        x = np.array([s, curve(s)])
        side = -1 if k % 2 == 0 else 1
        shift = rng.choice([-1, 1]) * rng.uniform(0.4, 0.6) * tangent
        x_tilde = x + side * rng.uniform(0.7, 0.9) * normal + shift
        # E[x | x̃] lands near the closest point of the manifold, not back on x itself,
        # and (an average of points on a bend) slightly on the bend's inner side.
        s_back = s + float(np.dot(x_tilde - x, tangent))
        inward = np.array([-slope(s_back), 1.0]) / math.hypot(slope(s_back), 1.0)
        back = np.array([s_back, curve(s_back)]) + 0.35 * bend(s_back) * inward
        arrow(ax, tuple(x), tuple(x_tilde), color=COLORS["noise"], dashed=True)
        arrow(ax, tuple(x_tilde), tuple(back), color=COLORS["decoder"])
        ax.plot(*x, "o", color=COLORS["data"], ms=7, mec=COLORS["ink"], zorder=3)
        ax.plot(*x_tilde, "o", color="white", ms=7, mec=COLORS["noise"], zorder=3)
        ax.plot(*back, "D", color=COLORS["decoder"], ms=4.5, zorder=3)
    legend = [("o", COLORS["data"], COLORS["ink"], "clean $x$"),
              ("o", "white", COLORS["noise"], "corrupted $\\tilde x \\sim C(\\tilde x \\mid x)$"),
              ("D", COLORS["decoder"], COLORS["decoder"],
               "$\\mathbb{E}[x \\mid \\tilde x]$, inside a bend")]
    for row, (marker, face, edge, text) in enumerate(legend):
        y = 1.15 - 0.45 * row
        ax.plot(0.45, y, marker, color=face, mec=edge, ms=7 if marker == "o" else 4.5)
        label(ax, 0.7, y, text, ha="left", fontsize=9)
    arrow(ax, (4.1, 1.15), (4.7, 1.15), color=COLORS["noise"], dashed=True)
    label(ax, 4.8, 1.15, "corruption", ha="left", fontsize=9)
    arrow(ax, (4.1, 0.7), (4.7, 0.7), color=COLORS["decoder"])
    label(ax, 4.8, 0.7, "reconstruction $r(\\tilde x) = g(f(\\tilde x))$", ha="left",
          fontsize=9)
    return fig


def _patch_grid(image_shape, patch_size: int):
    c, h, w = (int(s) for s in image_shape)
    patch_size = positive_int("patch_size", patch_size)
    if h % patch_size or w % patch_size:
        raise ValueError(f"patch_size={patch_size} must divide the image height and width "
                         f"({h}×{w}); for 28×28 images use 2, 4, 7 or 14.")
    return c, h, w, patch_size


def patch_mask(n: int, patch_size: int, mask_ratio: float, image_shape=(1, 28, 28), *,
               generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """Which pixels masked-patch training hides: ``(n, c·h·w)`` booleans, ``True`` inside the
    hidden patches.

    The image is cut into a grid of ``patch_size × patch_size`` squares and, as in a masked
    autoencoder (He et al. 2022), a *fixed number* ``round(mask_ratio · n_patches)`` of them,
    chosen uniformly at random for every image, is hidden (all channels alike).

    Examples
    --------
    >>> m = patch_mask(3, 7, 0.5, generator=torch.Generator().manual_seed(0))
    >>> m.shape, m.sum(dim=1).tolist()   # 8 of 16 patches of 7 × 7 = 49 pixels
    (torch.Size([3, 784]), [392, 392, 392])
    """
    n = positive_int("n", n)
    mask_ratio = probability("mask_ratio", mask_ratio)
    c, h, w, p = _patch_grid(image_shape, patch_size)
    rows, cols = h // p, w // p
    n_hidden = round(mask_ratio * rows * cols)
    where = torch.device("cpu") if generator is None else generator.device
    scores = torch.rand(n, rows * cols, generator=generator, device=where)
    hidden = torch.zeros(n, rows * cols, dtype=torch.bool, device=where)
    hidden.scatter_(1, scores.argsort(dim=1)[:, :n_hidden], True)
    pixels = hidden.reshape(n, 1, rows, 1, cols, 1).expand(n, c, rows, p, cols, p)
    return pixels.reshape(n, c * h * w).to(device if device is not None else where)


def patch_masking(patch_size: int, mask_ratio: float, image_shape=(1, 28, 28)):
    """A corruption for :func:`aelib.train.fit`: hide random patches (set them to 0).

    Returns ``corruption(x, generator=None) -> x̃`` that hides the patches
    :func:`patch_mask` draws with the same generator state.
    """
    _patch_grid(image_shape, patch_size)
    mask_ratio = probability("mask_ratio", mask_ratio)

    def corruption(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        mask = patch_mask(len(x), patch_size, mask_ratio, image_shape, generator=generator,
                          device=x.device)
        return x.masked_fill(mask, 0.0)

    return corruption


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
