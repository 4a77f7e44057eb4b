"""Chapter helpers for *Contractive autoencoders* (book/05_contractive): Jacobian spectra,
tangent directions and how far codes move under small input changes. The penalty itself is
:func:`aelib.penalties.contractive`; the Jacobians come from :mod:`aelib.jacobian`.
"""
from __future__ import annotations

import math

import torch

from .._checks import as_data_tensor, positive_float, positive_int
from ..jacobian import _encoder_parts, batch_jacobian
from ..models import eval_mode


def _jacobians(encoder, x) -> torch.Tensor:
    fn, _ = _encoder_parts(encoder)
    x = as_data_tensor("x", x, width=getattr(encoder, "input_dim", None))
    device = next(encoder.parameters()).device if isinstance(encoder, torch.nn.Module) else x.device
    if not isinstance(encoder, torch.nn.Module):
        return batch_jacobian(fn, x.to(device), create_graph=False).double().cpu()
    with eval_mode(encoder):
        return batch_jacobian(fn, x.to(device), create_graph=False).double().cpu()


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
    with eval_mode(model):
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
    change, extra = torch.stack(change).double().cpu(), torch.stack(extra).double().cpu()
    root = math.sqrt(n_draws)
    return {"jacobian_sq": jacobian_sq,
            "output_change": float(change.mean()), "output_change_se": float(change.std() / root),
            "extra_loss": float(extra.mean()), "extra_loss_se": float(extra.std() / root)}
