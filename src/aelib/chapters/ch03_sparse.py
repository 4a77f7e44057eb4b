"""Chapter helpers for *Sparse coding and sparse autoencoders* (book/03_sparse): measures of how
localised and oriented dictionary atoms are, and the frame of the λ slider. The solvers are
:mod:`aelib.sparse`.
"""
from __future__ import annotations

import math

import torch

from .._checks import as_data_tensor, nonnegative_float, positive_float, positive_int


def _atom_images(atoms, patch_shape):
    atoms = as_data_tensor("atoms", atoms)
    if isinstance(patch_shape, int):
        patch_shape = (patch_shape, patch_shape)
    patch_shape = tuple(patch_shape)
    if len(patch_shape) == 3 and patch_shape[0] == 1:
        patch_shape = patch_shape[1:]
    if len(patch_shape) != 2 or math.prod(patch_shape) != atoms.shape[1]:
        raise ValueError(
            f"patch_shape {patch_shape} does not match atoms with {atoms.shape[1]} pixels; pass "
            "(height, width) with height·width equal to the row length."
        )
    return atoms.double().reshape(atoms.shape[0], *patch_shape)


def energy_support(atoms, energy: float = 0.8) -> torch.Tensor:
    """How localised each atom is: the fraction of its pixels that hold ``energy`` of ``‖d‖²``.

    Sort the squared entries of an atom in decreasing order and count how many are needed to
    reach ``energy`` (e.g. 80 %) of its squared norm; divide by the number of pixels. A single
    bright pixel gives ``1/n``; an atom spread evenly over all pixels gives about ``energy``;
    random Gaussian atoms give about 1/3 at ``energy=0.8`` (their largest entries dominate).
    See chapter *Sparse coding and sparse autoencoders*, section *A dictionary for natural images*.

    Parameters
    ----------
    atoms : torch.Tensor, shape (n_atoms, n_pixels)
    energy : float in (0, 1]

    Returns
    -------
    torch.Tensor, shape (n_atoms,)
        Values in ``(0, 1]``; smaller means more localised.
    """
    atoms = as_data_tensor("atoms", atoms).double()
    energy = nonnegative_float("energy", energy, maximum=1.0)
    if energy == 0:
        raise ValueError("energy must lie in (0, 1], e.g. 0.8 for 80 % of the squared norm.")
    power = atoms.pow(2).sort(dim=1, descending=True).values
    total = power.sum(dim=1, keepdim=True)
    if (total == 0).any():
        raise ValueError("atoms contains an all-zero row; its energy support is undefined.")
    cumulative = power.cumsum(dim=1) / total
    # Count the entries strictly below the target, plus the one that reaches it (round-off guard).
    needed = (cumulative < energy * (1 - 1e-12)).sum(dim=1) + 1
    return needed.double() / atoms.shape[1]


def orientation_coherence(atoms, patch_shape) -> torch.Tensor:
    """How oriented each atom is: the coherence of its structure tensor, in ``[0, 1]``.

    With image gradients ``(g_x, g_y)`` (2×2 finite differences at the pixel corners), the
    structure tensor ``T = Σ [[g_x², g_x g_y], [g_x g_y, g_y²]]`` has eigenvalues
    ``μ₁ ≥ μ₂ ≥ 0``; the coherence ``(μ₁ − μ₂)/(μ₁ + μ₂)`` is 1 when all gradients are parallel
    (an edge or a grating) and 0 when no direction is preferred (a round blob, white noise on
    average). See chapter *Sparse coding and sparse autoencoders*.

    Parameters
    ----------
    atoms : torch.Tensor, shape (n_atoms, height·width)
    patch_shape : (height, width) or int

    Returns
    -------
    torch.Tensor, shape (n_atoms,)
    """
    images = _atom_images(atoms, patch_shape)
    dx = images[:, :, 1:] - images[:, :, :-1]
    dy = images[:, 1:, :] - images[:, :-1, :]
    gx = 0.5 * (dx[:, 1:, :] + dx[:, :-1, :])
    gy = 0.5 * (dy[:, :, 1:] + dy[:, :, :-1])
    txx, tyy, txy = gx.pow(2).sum((1, 2)), gy.pow(2).sum((1, 2)), (gx * gy).sum((1, 2))
    trace = txx + tyy
    if (trace == 0).any():
        raise ValueError("atoms contains a constant patch (no gradient); its orientation is undefined.")
    return torch.sqrt((txx - tyy).pow(2) + 4 * txy.pow(2)) / trace


def sparsity_frame(x, codes, dictionary, sweep: dict, sparsity_weight: float, patch_shape, *, n_show: int = 6):
    """One picture of sparse coding at one ``λ``: the error/sparsity trade-off, patches, one code.

    The code drawn on the right is that of the shown patch with the largest norm (framed in red).

    Used for the ``λ`` slider of chapter *Sparse coding and sparse autoencoders*.

    Parameters
    ----------
    x : torch.Tensor, shape (n, h·w)
        Patches; the first ``n_show`` are drawn.
    codes : torch.Tensor, shape (n, n_atoms)
        Their codes at ``sparsity_weight``.
    dictionary : torch.Tensor, shape (n_atoms, h·w)
    sweep : dict
        ``{"sparsity_weight": [...], "active": [...], "error": [...]}``: mean number of non-zero
        coefficients per patch and relative squared error for every ``λ`` of a sweep (the curve).
    sparsity_weight : float
        The ``λ`` of ``codes`` (circled on the curve).
    patch_shape : (h, w)

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    x = as_data_tensor("x", x).detach().cpu()
    codes = codes.detach().cpu()
    reconstruction = (codes @ dictionary.detach().cpu().to(codes.dtype)).float()
    active = float((codes != 0).sum(dim=1).float().mean())
    error = float((x - reconstruction).pow(2).sum() / x.pow(2).sum())
    fig = plt.figure(figsize=(10, 2.8), layout="constrained")
    left, middle, right = fig.subfigures(1, 3, width_ratios=[1.3, 1.5, 1.2])
    ax = left.subplots()
    ax.plot(sweep["active"], sweep["error"], "o-", color="0.6", markersize=3)
    ax.plot([active], [error], "o", markersize=10, markerfacecolor="none", markeredgecolor="C3", markeredgewidth=2)
    ax.set_xlabel("non-zero coefficients per patch")
    ax.set_ylabel("relative squared error")
    ax.set_title(f"λ = {sparsity_weight:g}: {active:.1f} atoms, error {error:.3f}", fontsize=9)
    lim = float(x[:n_show].abs().max())
    axes = middle.subplots(2, n_show)
    for i in range(n_show):
        for row, image in enumerate((x[i], reconstruction[i])):
            axes[row, i].imshow(image.reshape(patch_shape), cmap="gray", vmin=-lim, vmax=lim)
            axes[row, i].set_xticks([])
            axes[row, i].set_yticks([])
    axes[0, 0].set_ylabel("patch", fontsize=8)
    axes[1, 0].set_ylabel("rebuilt", fontsize=8)
    middle.suptitle("patches and reconstructions", fontsize=9)
    # The code of the shown patch with the most contrast (a fixed choice, the same in every frame),
    # framed in red: flat patches may have an all-zero code at moderate λ.
    which = int(x[:n_show].norm(dim=1).argmax())
    for spine in axes[0, which].spines.values():
        spine.set_edgecolor("C3")
        spine.set_linewidth(2)
    ax = right.subplots()
    used = codes[which].nonzero().flatten()
    ax.axhline(0, color="0.6", linewidth=0.8)  # every atom off the stems has a code of exactly 0
    if len(used):
        ax.stem(used.numpy(), codes[which, used].numpy(), markerfmt=".", basefmt=" ")
    ax.set_xlim(-1, codes.shape[1])
    ax.set_xlabel("atom k")
    ax.set_ylabel("$s_k$ (framed patch)")
    ax.set_title(f"{len(used)} non-zero coefficients", fontsize=9)
    return fig
