r"""Chapter helpers for *Contractive autoencoders* (book/05_contractive).

Three schematic diagrams (the objective, the manifold picture, the three ways to compute the
penalty) and what the chapter measures: Jacobian spectra, tangent directions, how far codes move
under small input changes, and the second-order expansion of the denoising loss. The penalty is
:func:`aelib.penalties.contractive`; the Jacobians come from :mod:`aelib.jacobian`.
:func:`retrain_from_sweep` serves the *Retrain* button of the chapter's λ slider.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from matplotlib.patches import Circle, Ellipse, Rectangle

from .._checks import as_data_tensor, nonnegative_float, positive_float, positive_int
from ..jacobian import _encoder_parts, batch_jacobian
from ..models import eval_mode
from ..penalties import contractive
from ..widgets import fit_with_progress
from ._diagram import COLORS, arrow, box, canvas, label, trapezoid

__all__ = ["objective_diagram", "manifold_diagram", "penalty_methods_diagram"]


def objective_diagram():
    """The contractive autoencoder as a picture: ``x → f → z → g → x̂`` with the loss
    ``L(x, x̂)``, and a second branch from the encoder to the penalty ``λ‖J_f(x)‖²_F``;
    the two are added into the training objective.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(11.6, 5.0, scale=0.72)
    mid = 3.3
    data = box(ax, 0.2, mid - 0.45, 0.9, 0.9, "$x$", color=COLORS["data"], fontsize=13)
    enc = trapezoid(ax, 1.6, mid, 1.4, 1.9, 0.8, "$f$", color=COLORS["encoder"], fontsize=13)
    code = box(ax, 3.5, mid - 0.35, 0.7, 0.7, "$z$", color=COLORS["code"], fontsize=13)
    dec = trapezoid(ax, 4.7, mid, 1.4, 0.8, 1.9, "$g$", color=COLORS["decoder"], fontsize=13)
    recon = box(ax, 6.6, mid - 0.45, 0.9, 0.9, "$\\hat x$", color=COLORS["data"], fontsize=13)
    loss = box(ax, 8.1, mid - 0.4, 2.0, 0.8, "$L(x, \\hat x)$", color=COLORS["loss"],
               fontsize=11, alpha=0.35)
    for start, end in [(data, enc), (enc, code), (code, dec), (dec, recon), (recon, loss)]:
        arrow(ax, start.east, end.west)
    label(ax, enc.center[0], enc.top + 0.3, "encoder", fontsize=9)
    label(ax, dec.center[0], dec.top + 0.3, "decoder", fontsize=9)
    label(ax, code.center[0], code.top + 0.6, "$z = f(x)$", fontsize=10)
    label(ax, recon.center[0], recon.top + 0.6, "$\\hat x = g(z)$", fontsize=10)
    # The penalty looks at how the code moves with the input: a derivative of f, not a value.
    jac = box(ax, 1.55, 0.65, 2.7, 0.85, "$J_f(x) = \\partial z / \\partial x$",
              color=COLORS["encoder"], fontsize=11, alpha=0.3, dashed=True)
    label(ax, jac.center[0], jac.bottom - 0.3, "how far $z$ moves when $x$ moves",
          fontsize=9)
    penalty = box(ax, 5.1, 0.65, 2.6, 0.85, "$\\lambda\\,\\Vert J_f(x)\\Vert_F^2$",
                  color=COLORS["noise"], fontsize=12, alpha=0.35)
    label(ax, penalty.center[0], penalty.bottom - 0.3, "contractive penalty", fontsize=9)
    arrow(ax, enc.south, jac.north, dashed=True)
    arrow(ax, jac.east, penalty.west)
    total = box(ax, 8.55, 0.65, 1.1, 0.85, "$+$", color="white", fontsize=16)
    arrow(ax, penalty.east, total.west)
    arrow(ax, loss.south, total.north)
    label(ax, total.center[0], total.bottom - 0.3, "objective", fontsize=9)
    return fig


def _curve_frame(points: np.ndarray, k: int):
    """Unit tangent and normal of a polyline at vertex ``k``."""
    step = points[k + 1] - points[k - 1]
    tangent = step / np.linalg.norm(step)
    return tangent, np.array([-tangent[1], tangent[0]])


def manifold_diagram(n_data: int = 22, seed: int = 0):
    """How a contractive encoder treats the neighbourhood of a data point ``x``.

    Left, input space: data on a curved manifold, a small ball around ``x``, a tangent
    direction ``t`` and an off-manifold direction ``n``. Right, code space: ``f`` keeps the
    step along the data (``J_f(x) t`` stays long) and squashes the step off it (``J_f(x) n``
    nearly vanishes), so the ball becomes a thin ellipse along the image of the manifold.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(11.2, 4.8, scale=0.72)
    rng = np.random.default_rng(seed)
    for left, title in [(0.15, "input space $\\mathbb{R}^{d_x}$"),
                        (6.45, "code space $\\mathbb{R}^{d_z}$")]:
        box(ax, left, 0.15, 4.6, 4.5, color="white", alpha=1.0)
        label(ax, left + 2.3, 4.35, title, fontsize=10)
    # Input space: a curve with data scattered slightly around it.
    s = np.linspace(0.55, 4.35, 200)
    manifold = np.stack([s, 2.1 + 0.75 * np.sin(1.25 * (s - 0.55))], axis=1)
    ax.plot(*manifold.T, color=COLORS["ink"], lw=2)
    label(ax, 0.45, 0.5, "data manifold", ha="left", fontsize=9)
    picks = np.sort(rng.choice(np.arange(4, 196), n_data, replace=False))
    # Code space: the image of the curve, gentler, with off-curve scatter shrunk away.
    u = np.linspace(6.85, 10.75, 200)
    image = np.stack([u, 2.0 + 0.35 * np.sin(0.9 * (u - 6.85))], axis=1)
    ax.plot(*image.T, color=COLORS["code"], lw=2)
    label(ax, 10.7, 1.35, "$f$(manifold)", ha="right", fontsize=9, color=COLORS["code"])
    for k in picks:
        off = rng.normal(0, 0.07)
        _, normal_in = _curve_frame(manifold, k)
        _, normal_out = _curve_frame(image, k)
        ax.plot(*(manifold[k] + off * normal_in), "o", ms=4, color=COLORS["data"], zorder=2)
        ax.plot(*(image[k] + 0.1 * off * normal_out), "o", ms=4, color=COLORS["code"],
                alpha=0.7, zorder=2)
    k0 = 95
    x0, (t_in, n_in) = manifold[k0], _curve_frame(manifold, k0)
    z0, (t_out, n_out) = image[k0], _curve_frame(image, k0)
    ax.add_patch(Circle(x0, 0.62, fill=False, ls="--", lw=1.2, color=COLORS["ink"]))
    angle = math.degrees(math.atan2(t_out[1], t_out[0]))
    ax.add_patch(Ellipse(z0, 2 * 0.62, 2 * 0.07, angle=angle, fill=False, ls="--", lw=1.2,
                         color=COLORS["ink"]))
    arrow(ax, tuple(x0), tuple(x0 + 1.15 * t_in), color=COLORS["decoder"])
    arrow(ax, tuple(x0), tuple(x0 + 1.15 * n_in), color=COLORS["noise"])
    arrow(ax, tuple(z0), tuple(z0 + 1.15 * t_out), color=COLORS["decoder"])
    arrow(ax, tuple(z0), tuple(z0 + 0.16 * n_out), color=COLORS["noise"])
    ax.plot(*x0, "o", ms=8, color=COLORS["data"], mec=COLORS["ink"], zorder=4)
    ax.plot(*z0, "o", ms=8, color=COLORS["code"], mec=COLORS["ink"], zorder=4)
    label(ax, x0[0] + 0.05, x0[1] - 0.3, "$x$", fontsize=12, ha="left", va="top")
    tip = x0 + 1.15 * t_in
    label(ax, tip[0] + 0.1, tip[1], "$t$: along\nthe data", ha="left", fontsize=9,
          color=COLORS["decoder"])
    tip = x0 + 1.15 * n_in
    label(ax, tip[0] - 0.1, tip[1] + 0.1, "$n$: off the data", ha="right", fontsize=9,
          color=COLORS["noise"])
    label(ax, z0[0] + 0.05, z0[1] - 0.3, "$f(x)$", fontsize=12, ha="left", va="top")
    tip = z0 + 1.15 * t_out
    label(ax, tip[0] - 0.2, tip[1] + 0.45, "$J_f(x)\\,t$: kept", ha="center", fontsize=9,
          color=COLORS["decoder"])
    label(ax, z0[0] - 0.15, z0[1] + 0.45, "$J_f(x)\\,n$: squashed", ha="right", fontsize=9,
          color=COLORS["noise"])
    label(ax, 8.75, 0.6, "$\\Vert J_f(x)\\,n\\Vert \\ll \\Vert J_f(x)\\,t\\Vert$", fontsize=10)
    arrow(ax, (4.9, 3.0), (6.3, 3.0), "$f$", fontsize=13, text_offset=(0.0, 0.08))
    label(ax, 5.6, 2.7, "encoder", fontsize=9)
    return fig


def _matrix(ax, x, y, w, h, text, color, *, rows=0, fontsize=11):
    """A matrix drawn as a box, optionally striped into ``rows`` rows."""
    shape = box(ax, x, y, w, h, text, color=color, fontsize=fontsize, alpha=0.45)
    for k in range(1, rows):
        ax.plot([x + 0.05, x + w - 0.05], [y + k * h / rows] * 2, color=COLORS["ink"],
                lw=0.5, alpha=0.5)
    return shape


def penalty_methods_diagram():
    """The three ways to compute ``‖J_f(x)‖²_F`` as matrix pictures.

    Exact: build the ``d_z × d_x`` Jacobian row by row (one backward pass per code unit) and
    sum its squares. Closed form (one sigmoid layer): ``J_f = diag(h ⊙ (1 − h)) W``, drawn as a
    diagonal matrix times ``W``, so each row ``W_j`` is scaled by its unit's slope. Estimator:
    a random code-space vector ``u ~ N(0, I)`` and one backward pass give ``J_fᵀ u``, whose
    squared length has mean ``‖J_f‖²_F``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(11.6, 7.0, scale=0.72)
    rows = [(5.05, "exact\n(any encoder)"), (2.75, "closed form\n(one layer)"),
            (0.45, "estimator\n(deep encoders)")]
    for y, name in rows:
        label(ax, 0.15, y + 0.75, name, ha="left", fontsize=10, fontweight="bold")
    # Exact: the full Jacobian, one row per code unit.
    jac = _matrix(ax, 2.3, 5.05, 3.4, 1.5, "$J_f(x)$", COLORS["encoder"], rows=6)
    label(ax, jac.center[0], jac.top + 0.2, "$d_z \\times d_x$; row $j$ is $\\nabla_x z_j$",
          fontsize=9)
    arrow(ax, jac.east, (7.0, jac.center[1]))
    label(ax, 7.1, jac.center[1] + 0.2, "$\\sum_{j,k} (\\partial z_j / \\partial x_k)^2$",
          ha="left", fontsize=11)
    label(ax, 7.1, jac.center[1] - 0.4, "$d_z$ backward passes", ha="left", fontsize=9)
    # Closed form: a diagonal matrix of slopes times the weight matrix, which scales row j
    # of W by h_j (1 - h_j).
    slope = box(ax, 2.3, 2.75, 1.5, 1.5, color="white", alpha=1.0)
    for k in range(6):
        ax.add_patch(Rectangle((2.3 + 0.25 * k + 0.03, 4.25 - 0.25 * (k + 1) + 0.03), 0.19,
                               0.19, color=COLORS["code"], alpha=0.8, lw=0))
    label(ax, slope.center[0], slope.top + 0.2, "$\\mathrm{diag}(h \\odot (1 - h))$",
          fontsize=9)
    weights = _matrix(ax, 4.05, 2.75, 1.65, 1.5, "$W$", COLORS["encoder"], rows=6)
    label(ax, weights.center[0], weights.top + 0.2, "row $j$ is $W_j$", fontsize=9)
    arrow(ax, weights.east, (7.0, weights.center[1]))
    label(ax, 7.1, weights.center[1] + 0.2,
          "$\\sum_j \\, (h_j (1 - h_j))^2 \\, \\Vert W_j \\Vert^2$", ha="left", fontsize=11)
    label(ax, 7.1, weights.center[1] - 0.4,
          "$J_f = \\mathrm{diag}(h \\odot (1 - h))\\, W$; reuses $h$", ha="left",
          fontsize=9)
    # Estimator: one random projection, one vector-Jacobian product.
    u = _matrix(ax, 2.3, 0.45, 0.5, 1.5, "$u$", COLORS["noise"], rows=6)
    label(ax, u.center[0], u.top + 0.2, "$u \\sim \\mathcal{N}(0, I)$", fontsize=9)
    arrow(ax, u.east, (3.55, u.center[1]), "$J_f^\\top$", fontsize=10)
    row = _matrix(ax, 3.6, 0.95, 2.1, 0.5, "$J_f^\\top u$", COLORS["data"], fontsize=10)
    label(ax, row.center[0], row.top + 0.2, "length $d_x$", fontsize=9)
    arrow(ax, row.east, (7.0, row.center[1]))
    label(ax, 7.1, row.center[1] + 0.2,
          "$\\Vert J_f^\\top u \\Vert^2$, mean $\\Vert J_f \\Vert_F^2$", ha="left", fontsize=11)
    label(ax, 7.1, row.center[1] - 0.4, "one backward pass, random", ha="left", fontsize=9)
    return fig


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


def retrain_from_sweep(models: dict, contraction_weight: float, x_train, *, epochs: int = 3,
                       lr: float = 1e-3, progress=None, device=None, seed: int = 0):
    """A contractive autoencoder at weight λ, warm-started from the sweep's nearest λ.

    A copy of ``models[λ']`` (``λ'`` the swept weight nearest ``contraction_weight``) trains
    ``epochs`` more epochs on ``x_train`` with the squared error and the penalty at the new λ
    (closed form; none at λ = 0), Adam at ``lr``, ``progress(done, total)`` after each epoch.
    From there it needs a few epochs where a model from scratch would need the sweep's whole
    schedule. ``models`` (λ → one-layer sigmoid autoencoder) is left unchanged.

    Used by the *Retrain* button of the λ slider in chapter *Contractive autoencoders*.

    Returns
    -------
    Autoencoder
    """
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict (λ → trained contractive autoencoder).")
    weight = nonnegative_float("contraction_weight", contraction_weight)
    nearest = min(models, key=lambda swept: (abs(swept - weight), swept))
    model = copy.deepcopy(models[nearest])
    penalty = contractive(weight, method="closed_form") if weight > 0 else None
    fit_with_progress(model, x_train, epochs=epochs, lr=lr, loss="sse", penalty=penalty,
                      progress=progress, device=device, seed=seed)
    return model
