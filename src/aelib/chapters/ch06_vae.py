"""Figures that only chapter *Stochastic autoencoders and the VAE* (``book/06_vae.ipynb``) draws.

* :func:`reparameterisation_diagram` — the VAE as a computation graph: encoder, the two
  moments, the noise ``ε`` entering from the side, the decoder, the two loss terms, and which
  arrows the gradients travel back along;
* :func:`bounds_diagram` — the ladder of bounds on ``log p_θ(x)``: the ELBO, the gap
  ``KL(q_φ(z | x) ‖ p_θ(z | x))``, the importance-weighted bound and the β-weighted objective;
* :func:`codes_versus_prior` — two coordinates of a plain autoencoder's codes and of a VAE's
  sampled codes, drawn over the prior's circles;
* :func:`manifold_figure` — a two-dimensional code space: images decoded on an evenly spaced
  grid of codes beside the test codes, on the same axes, with the grid's window outlined;
* :func:`extremes_figure` — reconstructions and decoded prior draws of a few VAEs side by side
  (the ends of the chapter's β and latent-size sweeps);
* :func:`train_small_vae` — one model of those sweeps, trained epoch by epoch so that the
  sliders' *Retrain* button can show its progress.

Symbols are the book's (``book/notation.md``): ``x`` (``d_x`` pixels), ``z`` (``d_z`` numbers),
encoder ``q_φ(z | x)``, decoder ``p_θ(x | z)``, prior ``p(z) = N(0, I)``.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle

from .. import plot
from .._checks import nonnegative_float, positive_int
from ..device import seeded
from ..vae import VAE
from ..widgets import fit_with_progress
from ._diagram import COLORS, arrow, box, canvas, label, trapezoid

__all__ = ["reparameterisation_diagram", "bounds_diagram", "codes_versus_prior",
           "manifold_figure", "extremes_figure", "train_small_vae"]

_GRADIENT = COLORS["loss"]


def reparameterisation_diagram():
    """The VAE with the reparameterisation trick, forward pass and gradient paths.

    Solid black arrows are the forward computation; dashed blue arrows are the gradients of the
    loss flowing back through ``z`` into ``μ`` and ``log σ²`` (hence into the encoder); the noise
    ``ε`` is an input that needs no gradient.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(13.0, 6.4, scale=0.66)
    moments = box(ax, 3.72, 1.42, 1.92, 2.96, "", color="none", alpha=1.0, dashed=True)
    x_in = box(ax, 0.2, 2.4, 0.9, 1.0, "$x$", color=COLORS["data"], fontsize=13)
    enc = trapezoid(ax, 1.5, 2.9, 1.9, 2.4, 1.3, "encoder\n$q_\\phi(z \\mid x)$",
                    color=COLORS["encoder"])
    mu = box(ax, 3.9, 3.45, 1.55, 0.75, "$\\mu_\\phi(x)$", color=COLORS["code"], fontsize=11)
    logvar = box(ax, 3.9, 1.6, 1.55, 0.75, "$\\log \\sigma^2_\\phi(x)$", color=COLORS["code"],
                 fontsize=11)
    z = box(ax, 6.3, 2.5, 2.0, 0.8, "$z = \\mu + \\sigma \\odot \\varepsilon$",
            color=COLORS["code"], fontsize=11)
    eps = box(ax, 6.45, 0.25, 1.7, 0.75, "$\\varepsilon \\sim \\mathcal{N}(0, I)$",
              color=COLORS["noise"], fontsize=10, dashed=True)
    dec = trapezoid(ax, 8.75, 2.9, 1.9, 1.3, 2.4, "decoder", color=COLORS["decoder"])
    out = box(ax, 11.05, 2.4, 1.75, 1.0, "$p_\\theta(x \\mid z)$", color=COLORS["data"],
              fontsize=11)
    rec = box(ax, 9.9, 4.95, 2.9, 0.75, "$-\\log p_\\theta(x \\mid z)$", color=COLORS["loss"],
              fontsize=11, alpha=0.35)
    kl = box(ax, 2.9, 4.95, 3.6, 0.75, "$\\mathrm{KL}(q_\\phi(z \\mid x) \\,\\Vert\\, p(z))$",
             color=COLORS["loss"], fontsize=11, alpha=0.35)
    label(ax, 8.2, 5.32, "$+$", fontsize=16)
    label(ax, 8.2, 6.12, "loss $-\\mathcal{L}(x)$ = KL term + reconstruction term", fontsize=10)

    # Forward pass.
    arrow(ax, x_in.east, enc.west)
    arrow(ax, (enc.right, 3.3), mu.west)
    arrow(ax, (enc.right, 2.5), logvar.west)
    arrow(ax, mu.east, (z.left + 0.3, z.top))
    arrow(ax, logvar.east, (z.left + 0.3, z.bottom))
    arrow(ax, eps.north, z.south, color=COLORS["noise"])
    arrow(ax, z.east, dec.west)
    arrow(ax, dec.east, out.west)
    arrow(ax, out.north, (out.center[0], rec.bottom))
    arrow(ax, moments.north, (moments.center[0], kl.bottom))

    # Backward pass: the gradients reach μ and log σ² through z, never ε.
    arrow(ax, (z.left, z.top + 0.05), (mu.right, mu.center[1] + 0.25), color=_GRADIENT,
          dashed=True, curve=-0.3)
    arrow(ax, (z.left, z.bottom - 0.05), (logvar.right, logvar.center[1] - 0.25),
          color=_GRADIENT, dashed=True, curve=0.3)
    arrow(ax, (dec.left, 2.65), (z.right, 2.65), color=_GRADIENT, dashed=True, curve=-0.6)
    label(ax, 5.8, 4.2, "$\\partial z / \\partial \\mu = 1$", color=_GRADIENT, fontsize=10,
          ha="left")
    label(ax, 3.7, 1.1, "$\\partial z / \\partial \\log\\sigma^2 = \\frac{1}{2}\\sigma\\odot"
          "\\varepsilon$", color=_GRADIENT, fontsize=10, ha="left")
    label(ax, 8.35, 0.62, "no gradient needed:\n$\\varepsilon$ does not depend on $\\phi$",
          color=COLORS["noise"], fontsize=9, ha="left")
    label(ax, 0.2, 0.95, "solid: forward pass\ndashed: gradients of the loss", fontsize=9,
          ha="left", color=COLORS["ink"])
    return fig


def bounds_diagram():
    """The ladder of objectives below (and possibly above) ``log p_θ(x)``, for one image ``x``.

    Schematic, not to scale: ``log p_θ(x) = L(x) + KL(q_φ(z | x) ‖ p_θ(z | x))``;
    ``L = L_1 ≤ L_K ≤ log p_θ(x)``; for ``β ≥ 1`` the β-weighted objective
    ``L^(β) = L − (β − 1) KL(q_φ(z | x) ‖ p(z))`` lies at or below ``L``; for ``β < 1`` it lies
    somewhere above ``L``, below or above ``log p_θ(x)``: it is drawn as a dashed band (gid
    ``"beta-below-one"``) that straddles ``log p_θ(x)``, not as a level.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(11.3, 6.6, scale=0.64)
    ax.annotate("", xy=(0.6, 6.4), xytext=(0.6, 0.2),
                arrowprops=dict(arrowstyle="-|>", color=COLORS["ink"], linewidth=1.2))
    label(ax, 0.35, 3.1, "nats (higher is better)", rotation=90, fontsize=9)
    levels = {  # height, text, colour
        "logp": (4.5, "$\\log p_\\theta(x)$", COLORS["ink"]),
        "iw": (3.7, "$\\mathcal{L}_K(x)$, $K > 1$ importance samples", COLORS["code"]),
        "elbo": (2.6, "$\\mathcal{L}(x) = \\mathcal{L}_1(x) = \\mathcal{L}^{(1)}(x)$  (ELBO)",
                 COLORS["loss"]),
        "beta_big": (0.9, "$\\mathcal{L}^{(\\beta)}(x)$, $\\beta > 1$: a looser lower bound",
                     COLORS["encoder"]),
    }
    for height, text, color in levels.values():
        ax.plot([1.0, 5.0], [height, height], color=color, linewidth=2.5)
        label(ax, 5.2, height, text, ha="left", fontsize=10)
    # β < 1: anywhere above the ELBO, below or above log p_θ(x): a band, not a level.
    low, high = levels["elbo"][0] + 0.2, 5.6
    band = Rectangle((4.45, low), 0.45, high - low, facecolor=to_rgba(COLORS["noise"], 0.15),
                     edgecolor=COLORS["noise"], linestyle="--", linewidth=1.6)
    band.set_gid("beta-below-one")
    ax.add_patch(band)
    label(ax, 5.2, high - 0.25, "$\\mathcal{L}^{(\\beta)}(x)$, $\\beta < 1$: somewhere in the "
          "dashed band,\nabove $\\mathcal{L}(x)$, not guaranteed to stay below "
          "$\\log p_\\theta(x)$", ha="left", fontsize=10, color=COLORS["noise"])
    _bracket(ax, 1.55, levels["elbo"][0], levels["logp"][0],
             "gap =\n$\\mathrm{KL}(q_\\phi(z \\mid x) \\,\\Vert\\, p_\\theta(z \\mid x)) \\geq 0$",
             text_y=3.15)
    _bracket(ax, 1.55, levels["beta_big"][0], levels["elbo"][0],
             "$(\\beta - 1)\\,\\mathrm{KL}(q_\\phi(z \\mid x) \\,\\Vert\\, p(z)) \\geq 0$")
    return fig


def _bracket(ax, x, low, high, text, text_y=None):
    """A double-headed vertical arrow from ``low`` to ``high`` with ``text`` on its right."""
    ax.annotate("", xy=(x, high - 0.04), xytext=(x, low + 0.04),
                arrowprops=dict(arrowstyle="<|-|>", color=COLORS["ink"], linewidth=1.0))
    label(ax, x + 0.15, (low + high) / 2 if text_y is None else text_y, text, ha="left",
          fontsize=9)


def codes_versus_prior(plain_codes, vae_codes, *, max_points: int = 1000):
    """The first two coordinates of two sets of codes over the prior ``N(0, I)``'s circles.

    Parameters
    ----------
    plain_codes, vae_codes : tensor or array, shape (n, d_z) with d_z ≥ 2
        Codes of a plain autoencoder and draws ``z ~ q_φ(z | x)`` of a VAE.
    max_points : int
        At most this many points per panel (the first rows).

    Returns
    -------
    matplotlib.figure.Figure
    """
    panels = []
    for name, codes in (("plain_codes", plain_codes), ("vae_codes", vae_codes)):
        codes = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] < 2:
            raise ValueError(f"{name} must have shape (n, d_z) with d_z >= 2, got {codes.shape}.")
        panels.append(codes[:max_points, :2])
    limit = max(4.0, float(np.percentile(np.abs(np.concatenate(panels)), 99)))
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.5), sharex=True, sharey=True)
    titles = ("plain autoencoder: $z = f(x)$", "VAE: $z \\sim q_\\phi(z \\mid x)$")
    angle = np.linspace(0, 2 * np.pi, 200)
    for ax, codes, title in zip(axes, panels, titles):
        ax.scatter(codes[:, 0], codes[:, 1], s=3, alpha=0.35, color=COLORS["code"],
                   rasterized=True)
        for radius, style in ((1, "-"), (2, "--")):
            ax.plot(radius * np.cos(angle), radius * np.sin(angle), color=COLORS["ink"],
                    linestyle=style, linewidth=1.2)
        ax.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal", title=title,
               xlabel="$z_1$")
    axes[0].set_ylabel("$z_2$")
    axes[1].text(0.98, 0.02, "circles: radius 1 and 2\nof the prior $\\mathcal{N}(0, I)$",
                 transform=axes[1].transAxes, ha="right", va="bottom", fontsize=8)
    fig.tight_layout()
    return fig


def _numpy(name, value, ndim):
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {array.shape}.")
    return array


def manifold_figure(decode, codes, labels, class_names, image_shape, *, half_width: float = 3.0,
                    n: int = 10, dpi: float = 70):
    """A two-dimensional code space: decoded grid (left) and test codes (right), same axes.

    The left panel decodes an evenly spaced ``n × n`` grid of codes with both coordinates in
    ``[-half_width, half_width]``; each tile is centred on its code, so the axis ticks are
    the codes' values. The right panel scatters every row of ``codes`` (coloured by
    ``labels``) on limits wide enough for all of them, with the grid's window drawn as a
    dashed square (gid ``"grid-window"``).

    Parameters
    ----------
    decode : callable
        Maps a ``(m, 2)`` float tensor of codes to ``(m, d_x)`` images (the decoder's means).
    codes : tensor or array, shape (k, 2)
    labels : tensor or array, shape (k,)
    class_names : sequence of str
    image_shape : (channels, height, width)
    half_width : float
        The grid spans ``[-half_width, half_width]`` in both coordinates.
    n : int
        Tiles per side.
    dpi : float
        Resolution of the stored picture (the mosaic is the bulk of its bytes).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not callable(decode):
        raise TypeError(f"decode must be callable (codes -> images), got {type(decode).__name__}.")
    points = _numpy("codes", codes, 2)
    if points.shape[1] != 2:
        raise ValueError(f"codes must have shape (k, 2), got {points.shape}.")
    values = torch.linspace(-half_width, half_width, n)
    grid = torch.cartesian_prod(values.flip(0), values)[:, [1, 0]]  # rows: z_2 from high to low
    tiles = plot.as_images(decode(grid), image_shape, name="decode(grid)")
    h, w = tiles.shape[1:3]
    mosaic = tiles.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    edge = half_width + half_width / (n - 1)  # tile centres sit on the codes
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.6, 3.9), dpi=dpi,
                                      width_ratios=[1, 1.25])
    left.imshow(np.clip(mosaic, 0, 1), cmap="gray", vmin=0, vmax=1,
                interpolation="nearest", extent=[-edge, edge, -edge, edge])
    left.set(xlabel="$z_1$", ylabel="$z_2$", title="decoded grid of codes")
    plot.latent_map(points, _numpy("labels", labels, 1), class_names, ax=right,
                    title="test codes $\\mu_\\phi(x)$", max_points=len(points))
    window = Rectangle((-edge, -edge), 2 * edge, 2 * edge, fill=False, linestyle="--",
                       linewidth=1.2, edgecolor=COLORS["ink"])
    window.set_gid("grid-window")
    right.add_patch(window)
    limit = 1.05 * max(edge, float(np.abs(points).max()))
    right.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal")
    right.text(-edge, edge, " grid window", ha="left", va="bottom", fontsize=7)
    fig.tight_layout()
    return fig


def extremes_figure(originals, rows: dict, image_shape, *, n: int = 6, dpi: float = 70):
    """Reconstructions and decoded prior draws of several VAEs, one row per model.

    Parameters
    ----------
    originals : tensor or array, shape (≥ n, d_x)
        Test images; the first ``n`` head the left panel.
    rows : dict
        ``{label: (reconstructions, samples)}``, each ``(≥ n, d_x)``; the first ``n`` of each
        are drawn, reconstructions on the left, samples on the right.
    image_shape : (channels, height, width)
    n : int
        Images per row.
    dpi : float
        Resolution of the stored picture.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not rows:
        raise ValueError("rows must name at least one model: {label: (reconstructions, samples)}.")

    def strip(name, images):
        tiles = plot.as_images(images[:n], image_shape, name=name)
        if len(tiles) < n:
            raise ValueError(f"{name} must hold at least n={n} images, got {len(tiles)}.")
        gap = np.ones((tiles.shape[1], 2))  # a thin white line between images
        return np.hstack([np.hstack([np.clip(t, 0, 1), gap]) for t in tiles])[:, :-2]

    def stack(strips):
        line = np.ones((2, strips[0].shape[1]))
        return np.vstack([np.vstack([s, line]) for s in strips])[:-2]

    left_strips = [strip("originals", originals)]
    left_strips += [strip(f"rows[{k!r}] reconstructions", r) for k, (r, _) in rows.items()]
    right_strips = [np.ones_like(left_strips[0])]  # no samples beside the test images
    right_strips += [strip(f"rows[{k!r}] samples", s) for k, (_, s) in rows.items()]
    height = left_strips[0].shape[0] + 2
    centres = [height * i + height / 2 - 1 for i in range(len(left_strips))]
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.6, 0.55 * len(left_strips) + 0.4),
                                      dpi=dpi)
    for ax, strips, title in ((left, left_strips, "test images and reconstructions"),
                              (right, right_strips, "decoded prior draws")):
        ax.imshow(stack(strips), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set(xticks=[], yticks=centres, title=title)
        for spine in ax.spines.values():
            spine.set_visible(False)
    left.set_yticklabels(["test images", *rows])
    right.set_yticklabels([])
    right.tick_params(left=False)
    fig.tight_layout()
    return fig


def train_small_vae(x_train, *, beta: float = 1.0, latent_dim: int = 10, hidden_dim: int = 128,
                    epochs: int = 8, progress=None, device=None, seed: int = 0) -> VAE:
    """A VAE ``d_x → hidden_dim → d_z`` (and back) trained on ``x_train`` with weight ``beta``.

    The recipe of the chapter's β and latent-size sliders: Adam at ``1e-3``, mini-batches of
    128, ``epochs`` epochs, initial weights seeded by ``seed`` (the caller's random state is
    left alone). ``progress(done, total)`` is called after every epoch. Small enough to retrain
    from scratch in about a second on a laptop CPU, so the *Retrain* button needs no warm start.
    """
    beta = nonnegative_float("beta", beta)
    latent_dim = positive_int("latent_dim", latent_dim)
    hidden_dim = positive_int("hidden_dim", hidden_dim)
    x_train = torch.as_tensor(x_train)
    if x_train.ndim != 2:
        raise ValueError(f"x_train must be a 2-D tensor (n, d_x), got shape {tuple(x_train.shape)}.")
    with seeded(seed):
        model = VAE(x_train.shape[1], (hidden_dim,), latent_dim, beta=beta)
    fit_with_progress(model, x_train, epochs=epochs, lr=1e-3, batch_size=128, progress=progress,
                      device=device, seed=seed)
    return model
