r"""Chapter helpers for *Undercomplete vs overcomplete autoencoders* (book/02_undercomplete_overcomplete).

Only that chapter and its tests import this module.

- Diagrams (drawn with the shared primitives of :mod:`aelib.chapters._diagram`):
  :func:`capacity_diagram` (narrow and wide codes, with the copy shortcut ``z = [x; 0]``) and
  :func:`memorisation_diagram` (a one-number code that indexes the training examples).
- The toy curve: :func:`arc_points`, :func:`plot_curve_fits`.
- The code-size sweep: :func:`shallow_autoencoder`, :func:`latent_size_sweep` (the same shallow
  autoencoder, :math:`\hat x = W_d (W_e x + b_e) + b_d`, at many code sizes :math:`d_z`, beside PCA
  of the same rank), :func:`plot_error_curve`, :func:`bottleneck_frame` (the slider's frame).
- Live retraining for the slider: :func:`resize_code` (a model of another code size that starts
  where a swept one is), :func:`retrain_from_sweep`, :func:`sweep_error_at` (the sweep's curve
  between its sizes).
- Copy or learn: :func:`identity_autoencoder` (the perfect copier an overcomplete code allows),
  :func:`affine_autoencoder`, :func:`off_data_probes`, :func:`probe_r2`,
  :func:`probe_r2_own_mean`, :func:`plot_copy_tradeoff`, :func:`add_reference_curve`,
  :func:`plot_direction_gains`, :func:`plot_rescaling`, :func:`label_column_groups`,
  :func:`separate_labels`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox
from torch import nn

from .._checks import as_data_tensor, int_sequence, positive_float, positive_int
from ..device import pick_device, seeded
from ..metrics import pca, per_example_error, reconstruction_r2
from ..models import Autoencoder, MLPAutoencoder, predict
from ..train import fit
from ..widgets import curve_at, fit_with_progress
from ._diagram import COLORS, arrow, box, canvas, label, trapezoid

__all__ = ["capacity_diagram", "memorisation_diagram", "arc_points", "plot_curve_fits", "separate_labels", "affine_autoencoder", "probe_r2_own_mean", "label_column_groups", "plot_direction_gains", "plot_rescaling", "add_reference_curve", "resize_code", "retrain_from_sweep", "sweep_error_at"]


def _autoencoder_sketch(ax, left: float, code_height: float, *, input_height: float = 2.4,
                        y: float = 2.75, split_code: bool = False):
    """x → f → z → g → x̂ starting at ``left``; returns the shapes of x, z and x̂."""
    x = box(ax, left, y - input_height / 2, 0.5, input_height, "$x$", color=COLORS["data"])
    trapezoid(ax, left + 0.65, y, 1.0, input_height * 0.92, code_height * 0.92, "$f$",
              color=COLORS["encoder"])
    if split_code:  # z = [x; 0]: the first d_x units hold the input, the others are zero
        bottom = y - code_height / 2
        z_zero = box(ax, left + 1.8, bottom, 0.5, code_height - input_height, "$0$",
                     color=COLORS["code"], alpha=0.45)
        z_copy = box(ax, left + 1.8, bottom + code_height - input_height, 0.5, input_height,
                     "$x$", color=COLORS["code"])
        z = type(z_copy)(z_copy.left, z_copy.right, z_zero.bottom, z_copy.top)
    else:
        z = box(ax, left + 1.8, y - code_height / 2, 0.5, code_height, "$z$", color=COLORS["code"])
    trapezoid(ax, left + 2.45, y, 1.0, code_height * 0.92, input_height * 0.92, "$g$",
              color=COLORS["decoder"])
    x_hat = box(ax, left + 3.6, y - input_height / 2, 0.5, input_height, r"$\hat x$",
                color=COLORS["data"])
    label(ax, x.center[0], x.bottom - 0.22, "$d_x$", fontsize=9)
    label(ax, z.center[0], z.bottom - 0.22, "$d_z$", fontsize=9)
    return x, z, x_hat


def capacity_diagram():
    """Undercomplete (``d_z < d_x``) and overcomplete (``d_z ≥ d_x``) autoencoders side by side.

    The narrow code must drop information; the wide one can hold a copy of the input,
    ``z = [x; 0]``, which the decoder reads back (the dashed arrow): ``g(f(x)) = x`` for every
    ``x``. See chapter *Undercomplete vs overcomplete autoencoders*.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(10.4, 5.4, scale=0.72)
    _autoencoder_sketch(ax, 0.5, 0.7)
    label(ax, 2.55, 5.1, r"undercomplete: $d_z < d_x$", fontsize=11)
    label(ax, 2.55, 0.45, "the code must choose\nwhat to keep", fontsize=9)

    x, _, x_hat = _autoencoder_sketch(ax, 5.9, 3.2, split_code=True)
    label(ax, 7.95, 5.1, r"overcomplete: $d_z \geq d_x$", fontsize=11)
    arrow(ax, (x.center[0], x.top), (x_hat.center[0], x_hat.top), color=COLORS["noise"],
          dashed=True, curve=-0.33)
    label(ax, 7.95, 0.3, r"copy: $z = [x;\,0]$, $g(f(x)) = x$" "\nfor every $x$",
          fontsize=9, color=COLORS["noise"])
    return fig


def memorisation_diagram(n_shown: int = 4):
    """A one-number code that indexes the training set: ``f(x_i) = i`` and ``g(i) = x_i``.

    A powerful encoder and decoder can reach zero training error through the smallest possible
    code by memorising the examples; the code then says nothing about what they have in common.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if n_shown < 2:
        raise ValueError(f"n_shown must be at least 2, got {n_shown}.")
    fig, ax = canvas(8.0, 4.6, scale=0.72)
    names = [f"$x_{{{i}}}$" for i in range(1, n_shown)] + ["$x_N$"]
    codes = [f"${i}$" for i in range(1, n_shown)] + ["$N$"]
    top, step, gap = 3.75, 2.4 / (n_shown - 1), 0.45  # gap: room for the dots before x_N
    rows = [top - k * step for k in range(n_shown - 1)] + [top - (n_shown - 1) * step - gap]
    ax.plot([4.0, 4.0], [top + 0.4, rows[-1] - 0.4], color=COLORS["ink"], lw=1.2)
    for name, code, y in zip(names, codes, rows):
        left = box(ax, 0.6, y - 0.25, 0.9, 0.5, name, color=COLORS["data"])
        right = box(ax, 6.5, y - 0.25, 0.9, 0.5, name, color=COLORS["data"])
        ax.plot([4.0], [y], "o", color=COLORS["code"], ms=8, zorder=3)
        label(ax, 3.85, y + 0.08, code, fontsize=9, ha="right", va="bottom")
        arrow(ax, left.east, (3.9, y), color=COLORS["encoder"])
        arrow(ax, (4.1, y), right.west, color=COLORS["decoder"])
    dots_y = (rows[-2] + rows[-1]) / 2
    for x in (1.05, 6.95):
        label(ax, x, dots_y, r"$\vdots$", fontsize=11)
    label(ax, 2.7, 4.4, "encoder $f(x_i) = i$", fontsize=10, color=COLORS["encoder"])
    label(ax, 5.3, 4.4, "decoder $g(i) = x_i$", fontsize=10, color=COLORS["decoder"])
    label(ax, 4.0, 0.2, "code: one number, $d_z = 1$", fontsize=9, color=COLORS["code"])
    return fig


def arc_points(n: int, *, noise_std: float = 0.03, seed: int = 0) -> torch.Tensor:
    """``n`` points near a three-quarter circle of radius 1 in the plane, shape ``(n, 2)``.

    The angle is uniform on ``[-π/4, 5π/4]``; Gaussian noise of standard deviation
    ``noise_std`` is added to both coordinates. A one-dimensional curved manifold: one number
    (the angle) describes each point, but no straight line does.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    if not (noise_std >= 0 and math.isfinite(noise_std)):
        raise ValueError(f"noise_std must be a finite number ≥ 0, got {noise_std!r}.")
    generator = torch.Generator().manual_seed(int(seed))
    angle = math.pi * (-0.25 + 1.5 * torch.rand(int(n), generator=generator))
    circle = torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return circle + noise_std * torch.randn(int(n), 2, generator=generator)


def plot_curve_fits(points, reconstructions: dict, *, n_links: int = 60):
    """Points in the plane and their reconstructions, one panel per model.

    Parameters
    ----------
    points : tensor or array (n, 2)
    reconstructions : dict
        Panel title → reconstructions ``(n, 2)`` of ``points``.
    n_links : int
        Draw a thin line from each of the first ``n_links`` points to its reconstruction.

    Returns
    -------
    matplotlib.figure.Figure
    """
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {points.shape}.")
    if not reconstructions:
        raise ValueError("reconstructions is empty; pass {title: (n, 2) array}.")
    fig, axes = plt.subplots(1, len(reconstructions), figsize=(3.2 * len(reconstructions), 3.1),
                             sharex=True, sharey=True, squeeze=False)
    for ax, (title, recon) in zip(axes[0], reconstructions.items()):
        recon = np.asarray(recon, dtype=float)
        if recon.shape != points.shape:
            raise ValueError(f"reconstructions[{title!r}] has shape {recon.shape}, "
                             f"points {points.shape}.")
        for p, r in zip(points[:n_links], recon[:n_links]):
            ax.plot([p[0], r[0]], [p[1], r[1]], color="grey", lw=0.5)
        ax.plot(points[:, 0], points[:, 1], ".", color=COLORS["data"], ms=3, label="data $x$")
        ax.plot(recon[:, 0], recon[:, 1], ".", color=COLORS["noise"], ms=3,
                label=r"reconstruction $\hat x$")
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
    axes[0, 0].set_ylabel("$x_2$")
    axes[0, 0].legend(fontsize=7, loc="lower center", markerscale=3)
    fig.tight_layout()
    return fig


_OFFSETS = ((4, -11), (6, 3), (-4, -13), (8, -4))  # points: below right, right, below left, …


def separate_labels(ax):
    """Move annotations of ``ax`` that overlap an earlier one, or a lone marker, to a free spot.

    Point labels placed at a fixed offset (e.g. the code sizes along the line of
    :func:`plot_copy_tradeoff`) collide where two points lie close together, or
    hide under a marker drawn later (a line with a single point). Each annotation, in drawing
    order, keeps its place if it is free; otherwise it tries a few offsets (in points) around
    its point. Returns the number of labels moved.
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    placed = []
    for line in ax.lines:  # lone markers (single points) are obstacles too
        if len(line.get_xdata()) == 1 and line.get_marker() not in (None, "", "None"):
            x, y = ax.transData.transform((line.get_xdata()[0], line.get_ydata()[0]))
            half = 0.75 * line.get_markersize() * fig.dpi / 72  # a diamond reaches ms/√2
            placed.append(Bbox.from_extents(x - half, y - half, x + half, y + half))
    moved = 0
    for text in [t for t in ax.texts if isinstance(t, Annotation)]:
        box = text.get_window_extent(renderer)
        if any(box.overlaps(other) for other in placed):
            for dx, dy in _OFFSETS:
                text.set_position((dx, dy))
                text.set_horizontalalignment("left" if dx > 0 else "right")
                text.set_verticalalignment("top" if dy < 0 else "bottom")
                box = text.get_window_extent(renderer)
                if not any(box.overlaps(other) for other in placed):
                    break
            moved += 1
        placed.append(box)
    return moved


def affine_autoencoder(matrix, mean) -> Autoencoder:
    """The fixed linear map ``x̂ = x̄ + P (x − x̄)`` wrapped as an autoencoder.

    ``matrix`` is ``P`` (``d × d``), ``mean`` is ``x̄`` (``d``). With ``P = U_k U_kᵀ`` (the top
    ``k`` principal directions as columns of ``U_k``) it is PCA of rank ``k``; with
    ``P = S (S + σ² I)⁻¹`` the optimum of a linear autoencoder trained on inputs with Gaussian
    noise of standard deviation σ. The encoder is one ``d → d`` linear layer with weight ``P``
    and bias ``x̄ − P x̄``; the decoder is the identity. Weights are stored in float32.
    """
    matrix = torch.as_tensor(matrix)
    mean = torch.as_tensor(mean)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square (d, d), got shape {tuple(matrix.shape)}.")
    if mean.shape != (matrix.shape[0],):
        raise ValueError(f"mean must have shape ({matrix.shape[0]},), got {tuple(mean.shape)}.")
    if not (torch.isfinite(matrix).all() and torch.isfinite(mean).all()):
        raise ValueError("matrix and mean must be finite.")
    dim = matrix.shape[0]
    layer = nn.Linear(dim, dim)
    with torch.no_grad():
        layer.weight.copy_(matrix.float())
        layer.bias.copy_((mean.double() - matrix.double() @ mean.double()).float())
    return Autoencoder(layer, nn.Identity(), dim, dim)


def probe_r2_own_mean(models: dict, probes: dict) -> dict:
    """``table[label][probe]`` = R² of each model on each probe set, against the set's own mean.

    The usual fraction of variance explained: ``R² = 1 − Σ‖x_i − x̂_i‖² / Σ‖x_i − m‖²`` with
    ``m`` the average image *of that probe set* (not of the training data), so that ``R² = 0`` is
    what answering every input with the set's flat average image scores. Compare
    :func:`probe_r2`, which measures against the average training image.
    """
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict (label → model).")
    if not isinstance(probes, dict) or not probes:
        raise ValueError("probes must be a non-empty dict (name → inputs).")
    return {label: {name: reconstruction_r2(model, x, torch.as_tensor(x).mean(0))
                    for name, x in probes.items()}
            for label, model in models.items()}


def label_column_groups(fig, labels, *, group_size: int = 2, fontsize: float = 8):
    """Write ``labels[g]`` centred above columns ``g·group_size … (g+1)·group_size − 1``.

    For an image grid whose top row (the first axes of ``fig``, left to right) shows several
    kinds of input side by side, e.g. :func:`aelib.plot.show_reconstructions`. Makes room at
    the top of the figure. Returns the text objects.
    """
    group_size = int(group_size)
    if group_size < 1:
        raise ValueError(f"group_size must be at least 1, got {group_size}.")
    labels = list(labels)
    top_row = fig.axes[:len(labels) * group_size]
    if len(top_row) < len(labels) * group_size:
        raise ValueError(f"{len(labels)} labels of {group_size} columns need "
                         f"{len(labels) * group_size} axes; the figure has {len(fig.axes)}.")
    height = fig.get_figheight()
    room = 0.2 / height  # 0.2 inch for one line of small text
    top = max(ax.get_position().y1 for ax in top_row)
    if top > 1 - room:
        fig.subplots_adjust(top=1 - room)
    texts = []
    for g, text in enumerate(labels):
        group = top_row[g * group_size:(g + 1) * group_size]
        boxes = [ax.get_position() for ax in group]
        x = (min(b.x0 for b in boxes) + max(b.x1 for b in boxes)) / 2
        y = max(b.y1 for b in boxes) + 0.03 / height
        texts.append(fig.text(x, y, text, ha="center", va="bottom", fontsize=fontsize))
    return texts


def plot_direction_gains(gains: dict, *, pca_ranks=()):
    """How much of each principal direction ``u_j`` linear maps pass on: ``u_jᵀ P u_j``.

    Parameters
    ----------
    gains : dict
        Label → gains, one per principal direction, in order of decreasing variance.
    pca_ranks : sequence of int
        Also draw PCA of these ranks, whose gain is 1 up to the rank and 0 after it (dashed, in
        the colour of the model at the same position in ``gains``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not gains:
        raise ValueError("gains is empty; pass {label: gains per direction}.")
    curves = {label: np.asarray(torch.as_tensor(g).detach().cpu(), dtype=float)
              for label, g in gains.items()}
    lengths = {len(g) for g in curves.values()}
    if len(lengths) != 1:
        raise ValueError(f"every gains array must have the same length; got {sorted(lengths)}.")
    n = lengths.pop()
    fig, ax = plt.subplots(figsize=(6.6, 3.2))
    index = np.arange(1, n + 1)
    for i, (name, g) in enumerate(curves.items()):
        ax.plot(index, g, color=f"C{i}", lw=1.2, label=name)
    for i, rank in enumerate(pca_ranks):
        if not 1 <= int(rank) < n:
            raise ValueError(f"pca rank {rank} is outside 1 … {n - 1}.")
        ax.step([1, rank + 0.5, n], [1, 0, 0], where="post", color=f"C{i}", lw=0.9, ls="--",
                label=f"PCA, rank {rank}")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xscale("log")
    ax.set_xlim(1, n)
    ax.set_xlabel("principal direction $j$ (decreasing variance $v_j$)")
    ax.set_ylabel(r"gain $u_j^\top W_d W_e\, u_j$")
    ax.set_title("How much of each principal direction is passed on")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))  # beside: hides no curve
    fig.tight_layout()
    return fig


def plot_rescaling(reconstruction: float, l1_term: float, decoder_term: float, *,
                   scales=None):
    """The sparse model's objective along the rescaling path ``J(c) = R + cA + B/c²``.

    ``reconstruction`` (R), ``l1_term`` (A = λ‖z‖₁) and ``decoder_term`` (B = η‖W_d‖²_F) are
    the three terms at ``c = 1``. Draws the terms and their sum against ``c`` (log axis), the
    trained model at ``c = 1`` and the minimum at ``c* = (2B/A)^{1/3}``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    terms = np.array([reconstruction, l1_term, decoder_term], dtype=float)
    if not (np.all(np.isfinite(terms)) and terms[0] >= 0 and terms[1] > 0 and terms[2] > 0):
        raise ValueError("need reconstruction ≥ 0 and l1_term, decoder_term > 0, all finite.")
    c = np.geomspace(0.25, 4, 200) if scales is None else np.asarray(scales, dtype=float)
    R, A, B = terms
    c_star = (2 * B / A) ** (1 / 3)
    total = R + c * A + B / c**2
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    ax.plot(c, np.full_like(c, R), color=COLORS["data"], lw=1.2, label="reconstruction $R$")
    ax.plot(c, c * A, color=COLORS["code"], lw=1.2, label=r"L1 term $cA$")
    ax.plot(c, B / c**2, color=COLORS["decoder"], lw=1.2, label="decoder term $B/c^2$")
    ax.plot(c, total, color=COLORS["ink"], lw=2, label="objective $J(c)$")
    ax.plot([1], [R + A + B], "o", color=COLORS["noise"], ms=6, label="trained model, $c = 1$")
    ax.plot([c_star], [R + c_star * A + B / c_star**2], "v", color=COLORS["loss"], ms=7,
            label=f"minimum, $c^* = {c_star:.2f}$")
    ax.set_xscale("log")
    ticks = [t for t in (0.25, 0.5, 1, 2, 4) if c.min() <= t <= c.max()]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_ylim(0, 1.55 * total.max())
    ax.set_xlabel("rescaling factor $c$ (encoder × $c$, decoder weights × $1/c$)")
    ax.set_ylabel("objective (mean over pixels)")
    ax.set_title("The sparse model along the rescaling path")
    ax.legend(fontsize=7, loc="upper center", ncol=2)
    fig.tight_layout()
    return fig


def add_reference_curve(ax, r2_by_rank: dict, *, flat_level=None, real="real images",
                        probe="uniform noise", label="PCA of rank $k$"):
    """Add PCA's curve (``{rank: {probe: R²}}``) and a flat-image level to a trade-off plot.

    For :func:`plot_copy_tradeoff`: the curve is drawn dashed through the points
    of every rank; ``flat_level``, if given, is the probe R² of answering every probe input with
    the probe set's flat average image, drawn as a horizontal dotted line. The legend is redrawn.
    """
    if not r2_by_rank:
        raise ValueError("r2_by_rank is empty; pass {rank: {probe: R²}}.")
    ranks = sorted(r2_by_rank)
    xs = [r2_by_rank[k][real] for k in ranks]
    ys = [r2_by_rank[k][probe] for k in ranks]
    ax.plot(xs, ys, "^--", color="grey", ms=3, lw=1, label=label)
    if flat_level is not None:
        ax.axhline(float(flat_level), color=COLORS["noise"], lw=0.8, ls=":",
                   label="flat average image of the probe")
    ax.legend(fontsize=7, loc="upper left")
    return ax


def shallow_autoencoder(input_dim: int, latent_dim: int, *, latent_activation=None, output=None) -> MLPAutoencoder:
    """The chapter's model: one encoder layer and one decoder layer, nothing else.

    ``z = W_e x + b_e`` (or ``relu(·)`` with ``latent_activation="relu"``), ``x̂ = W_d z + b_d``
    (or ``σ(·)`` with ``output="sigmoid"``). With no hidden layer, ``latent_dim`` alone sets the
    capacity: undercomplete for ``latent_dim < input_dim``, overcomplete otherwise. With the
    defaults the model is linear, so PCA of rank ``latent_dim`` is the best it can possibly do
    (Baldi & Hornik, 1989), and for ``latent_dim ≥ input_dim`` the identity is within reach.
    A sigmoid output would hide that: it cannot copy pixels that are always 0 in the data.
    """
    return MLPAutoencoder(input_dim, (), latent_dim, latent_activation=latent_activation, output=output)


def identity_autoencoder(input_dim: int, latent_dim: int) -> Autoencoder:
    """A hand-built autoencoder that copies its input exactly: ``x̂ = x`` for every ``x``.

    The encoder writes ``x`` into the first ``input_dim`` code units, ``z = [x; 0]``, and the
    decoder reads them back, ``x̂ = [I 0] z``; no non-linearities. It reaches the smallest
    possible reconstruction error on *any* data set while learning nothing about it — the
    trivial solution that only an overcomplete code (``latent_dim ≥ input_dim``) allows.

    Raises
    ------
    ValueError
        If ``latent_dim < input_dim``: an undercomplete code cannot hold a copy.

    Examples
    --------
    >>> copier = identity_autoencoder(4, 6)
    >>> x = torch.rand(3, 4)
    >>> bool(torch.equal(copier(x), x))
    True
    """
    input_dim = positive_int("input_dim", input_dim)
    latent_dim = positive_int("latent_dim", latent_dim)
    if latent_dim < input_dim:
        raise ValueError(
            f"latent_dim={latent_dim} < input_dim={input_dim}: an undercomplete code cannot copy its "
            "input; use latent_dim ≥ input_dim."
        )
    encoder = nn.Linear(input_dim, latent_dim)
    decoder = nn.Linear(latent_dim, input_dim)
    with torch.no_grad():
        encoder.weight.copy_(torch.eye(latent_dim, input_dim))
        decoder.weight.copy_(torch.eye(input_dim, latent_dim))
        encoder.bias.zero_()
        decoder.bias.zero_()
    return Autoencoder(encoder, decoder, input_dim, latent_dim)


@dataclass
class LatentSweep:
    """Reconstruction errors of autoencoders and PCA at several code sizes.

    Errors are :func:`aelib.metrics.reconstruction_error` values: mean over images of the
    per-image sum of squared pixel errors. PCA entries are ``nan`` where the rank would exceed
    ``min(n_train, input_dim)``.
    """

    latent_dims: list = field(default_factory=list)
    ae_train_error: list = field(default_factory=list)
    ae_test_error: list = field(default_factory=list)
    pca_train_error: list = field(default_factory=list)
    pca_test_error: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    input_dim: int = 0
    models: dict = field(default_factory=dict, repr=False)
    pca_reconstructions: dict = field(default_factory=dict, repr=False)

    def row(self, latent_dim: int) -> dict:
        """The entries for one code size, as a dict."""
        if latent_dim not in self.latent_dims:
            raise ValueError(f"latent_dim={latent_dim!r} was not swept; choose one of {self.latent_dims}.")
        i = self.latent_dims.index(latent_dim)
        return {"latent_dim": latent_dim, "ae_train_error": self.ae_train_error[i],
                "ae_test_error": self.ae_test_error[i], "pca_train_error": self.pca_train_error[i],
                "pca_test_error": self.pca_test_error[i], "seconds": self.seconds[i]}

    def rows(self) -> list:
        return [self.row(k) for k in self.latent_dims]

    def table(self, digits: int = 2) -> str:
        """A plain-text table (no timings, so that it is reproducible)."""
        head = f"{'latent size':>11}  {'AE train':>9}  {'AE test':>9}  {'PCA train':>9}  {'PCA test':>9}"
        lines = [head, "-" * len(head)]
        for r in self.rows():
            cells = [r["ae_train_error"], r["ae_test_error"], r["pca_train_error"], r["pca_test_error"]]
            text = ["—" if math.isnan(c) else f"{c:.{digits}f}" for c in cells]
            lines.append(f"{r['latent_dim']:>11}  " + "  ".join(f"{t:>9}" for t in text))
        return "\n".join(lines)


def latent_size_sweep(x_train, x_test, latent_dims, *, make_model: Callable | None = None, epochs: int = 5,
                      batch_size=64, lr=2e-3, seed: int = 0, device=None, progress: bool = False,
                      n_show: int = 6) -> LatentSweep:
    """Train one autoencoder per code size and measure train/test error beside PCA of that rank.

    Parameters
    ----------
    x_train, x_test : tensor (n, d_x)
    latent_dims : sequence of int
        Code sizes ``d_z`` to try, e.g. ``(2, 8, 32, 128, 512, 1024)``.
    make_model : callable(input_dim, latent_dim) -> Autoencoder, optional
        Default :func:`shallow_autoencoder`. The seed is reset before each model is built.
    lr : float or callable(latent_dim) -> float
        Adam's learning rate, the same for every size or chosen per size.
    batch_size : int or callable(latent_dim) -> int
        Mini-batch size, the same for every size or chosen per size.
    epochs, seed, device, progress
        Passed to :func:`aelib.train.fit`.
    n_show : int
        Also keep the PCA reconstructions of the first ``n_show`` test images (for figures).

    Returns
    -------
    LatentSweep
        The errors, the trained models (``.models[d_z]``) and PCA reconstructions.

    Notes
    -----
    PCA of every rank comes from one SVD of ``x_train``: the top-``k`` principal directions
    are the first ``k`` of the top-``K`` ones, so the sweep factorises the data only once.
    """
    x_train = as_data_tensor("x_train", x_train)
    x_test = as_data_tensor("x_test", x_test, width=x_train.shape[1])
    latent_dims = int_sequence("latent_dims", latent_dims, allow_empty=False)
    if len(set(latent_dims)) != len(latent_dims):
        raise ValueError(f"latent_dims has repeated sizes {latent_dims}; give each size once.")
    make_model = shallow_autoencoder if make_model is None else make_model
    if not callable(make_model):
        raise TypeError("make_model must be a callable(input_dim, latent_dim) -> Autoencoder.")
    n_show = positive_int("n_show", n_show)
    learning_rate = lr if callable(lr) else (lambda _, value=positive_float("lr", lr): value)
    batch = batch_size if callable(batch_size) else (lambda _, value=positive_int("batch_size", batch_size): value)
    device = pick_device(device) if device is not None else pick_device()
    input_dim = x_train.shape[1]

    max_rank = min(x_train.shape)
    pca_ranks = [k for k in latent_dims if k <= max_rank]
    mean, components, _ = pca(x_train, max(pca_ranks)) if pca_ranks else (None, None, None)

    def pca_errors(k):
        if k > max_rank:
            return float("nan"), float("nan"), None
        basis = components[:k]
        recon = [(x - mean) @ basis.T @ basis + mean for x in (x_train, x_test)]
        errs = [float(per_example_error(r, x).mean()) for r, x in zip(recon, (x_train, x_test))]
        return errs[0], errs[1], recon[1][:n_show]

    sweep = LatentSweep(input_dim=input_dim)
    for k in latent_dims:
        with torch.random.fork_rng(devices=[]):  # the same initial weights for every run
            torch.manual_seed(seed)
            model = make_model(input_dim, k)
        start = time.perf_counter()
        fit(model, x_train, epochs=epochs, batch_size=batch(k), lr=learning_rate(k), seed=seed, device=device,
            progress=progress)
        sweep.seconds.append(time.perf_counter() - start)
        sweep.latent_dims.append(k)
        sweep.ae_train_error.append(_error(model, x_train))
        sweep.ae_test_error.append(_error(model, x_test))
        pca_train, pca_test, pca_show = pca_errors(k)
        sweep.pca_train_error.append(pca_train)
        sweep.pca_test_error.append(pca_test)
        sweep.models[k] = model
        if pca_show is not None:
            sweep.pca_reconstructions[k] = pca_show
    return sweep


def _error(model, x) -> float:
    return float(per_example_error(predict(model, x), x).mean())


def _linear_layers(model) -> tuple[nn.Linear, nn.Linear]:
    """The encoder's and the decoder's single linear layer of a :func:`shallow_autoencoder`."""
    layers = [m for m in (*model.encoder.modules(), *model.decoder.modules()) if isinstance(m, nn.Linear)]
    if not isinstance(model, MLPAutoencoder) or model.hidden_dims or len(layers) != 2:
        raise TypeError("model must be a shallow_autoencoder (one linear layer each way), got "
                        f"{type(model).__name__}.")
    return layers[0], layers[1]


def resize_code(model: MLPAutoencoder, latent_dim: int, *, seed: int = 0) -> MLPAutoencoder:
    """A :func:`shallow_autoencoder` with ``latent_dim`` code units that starts where ``model`` is.

    The first ``m = min(d_z, latent_dim)`` code units are copies of ``model``'s: those rows of
    ``W_e`` and ``b_e``, those columns of ``W_d``, and all of ``b_d``. A wider code gets new units
    with random encoder rows (PyTorch's default initialisation, seeded by ``seed``) and **zero**
    decoder columns: the new model computes exactly what ``model`` did, and training only has to
    teach the new units something useful. (Small rows in *both* layers would stall: each layer's
    gradient is proportional to the other's weights.) A narrower code keeps the first units.
    ``model`` is left unchanged.

    Examples
    --------
    >>> small = shallow_autoencoder(6, 2)
    >>> wide = resize_code(small, 4)
    >>> x = torch.rand(3, 6)
    >>> bool(torch.allclose(wide(x), small(x)))
    True
    """
    old_encoder, old_decoder = _linear_layers(model)
    latent_dim = positive_int("latent_dim", latent_dim)
    kept = min(latent_dim, old_encoder.out_features)
    with seeded(seed):
        resized = shallow_autoencoder(model.input_dim, latent_dim)
    encoder, decoder = _linear_layers(resized)
    resized.to(old_encoder.weight.device)
    with torch.no_grad():
        encoder.weight[:kept] = old_encoder.weight[:kept]
        encoder.bias[:kept] = old_encoder.bias[:kept]
        decoder.weight.zero_()
        decoder.weight[:, :kept] = old_decoder.weight[:, :kept]
        decoder.bias.copy_(old_decoder.bias)
    return resized


def sweep_error_at(sweep: LatentSweep, latent_dim: int) -> float:
    """The sweep's test-error curve at ``latent_dim``: straight between swept sizes on log–log axes.

    The curve :func:`plot_error_curve` draws; a retrained model's star should lie near it.
    """
    if not isinstance(sweep, LatentSweep):
        raise TypeError(f"sweep must be a LatentSweep, got {type(sweep).__name__}.")
    return curve_at(sweep.latent_dims, sweep.ae_test_error, latent_dim)


def retrain_from_sweep(sweep: LatentSweep, latent_dim: int, x_train, *, epochs: int = 2, batch_size: int = 64,
                       lr: float = 2e-3, progress=None, device=None, seed: int = 0) -> MLPAutoencoder:
    """A model of code size ``latent_dim``, warm-started from the sweep and trained a little.

    It starts from the largest swept model no wider than ``latent_dim`` (the smallest one if
    all are wider), resized with :func:`resize_code`, so it begins at that model's error, and
    then trains ``epochs`` epochs on ``x_train`` (Adam, ``lr``, ``batch_size``; ``progress(done,
    total)`` after each). Starting from scratch, the same model would need the sweep's whole
    schedule to reach the curve; from the warm start a couple of epochs bring it there. The
    sweep's models are left unchanged.

    Used by the *Retrain* button of the code-size slider in chapter *Undercomplete vs
    overcomplete autoencoders*.
    """
    if not isinstance(sweep, LatentSweep):
        raise TypeError(f"sweep must be a LatentSweep, got {type(sweep).__name__}.")
    if not sweep.models:
        raise ValueError("the sweep keeps no models to start from; build it with latent_size_sweep.")
    latent_dim = positive_int("latent_dim", latent_dim)
    below = [k for k in sweep.models if k <= latent_dim]
    start = max(below) if below else min(sweep.models)
    model = resize_code(sweep.models[start], latent_dim, seed=seed)
    fit_with_progress(model, x_train, epochs=epochs, lr=lr, batch_size=batch_size, progress=progress,
                      device=device, seed=seed)
    return model


def off_data_probes(x, n: int | None = None, seed: int = 0) -> dict:
    """Images that do not come from the data, to test whether a model copies or has learned.

    Returns ``{"real images": x[:n], "uniform noise": U(0, 1) pixels, "shuffled pixels": each
    image of x[:n] with its pixels in a random order}``. Shuffled images have exactly the
    pixel values (and brightness) of real ones, but none of their spatial structure.
    """
    x = as_data_tensor("x", x)
    n = len(x) if n is None else positive_int("n", n)
    if n > len(x):
        raise ValueError(f"n={n} exceeds the {len(x)} rows of x.")
    generator = torch.Generator().manual_seed(positive_int("seed", seed, minimum=0))
    real = x[:n].cpu()
    noise = torch.rand(real.shape, generator=generator)
    order = torch.argsort(torch.rand(real.shape, generator=generator), dim=1)
    return {"real images": real, "uniform noise": noise, "shuffled pixels": torch.gather(real, 1, order)}


def plot_error_curve(sweep: LatentSweep, *, ax=None, marker_at: int | None = None, title=None):
    """Reconstruction error against code size (log-log): AE train/test and PCA test.

    A dotted vertical line marks ``d_z = d_x`` (undercomplete to its left, overcomplete to its
    right); ``marker_at`` circles one code size (the slider's choice).
    """
    if not isinstance(sweep, LatentSweep):
        raise TypeError(f"sweep must be a LatentSweep, got {type(sweep).__name__}.")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.6, 3.2))
    dims = np.asarray(sweep.latent_dims)
    ax.plot(dims, sweep.ae_train_error, "o-", color="C0", ms=3, label="AE train")
    ax.plot(dims, sweep.ae_test_error, "s--", color="C0", ms=3, label="AE test")
    ax.plot(dims, sweep.pca_test_error, "^-", color="C1", ms=3, label="PCA test")
    ax.axvline(sweep.input_dim, color="grey", ls=":", lw=1)
    ax.text(sweep.input_dim, 0.97, " $d_z = d_x$", transform=ax.get_xaxis_transform(), fontsize=7,
            color="grey", va="top")
    if marker_at is not None:
        k = marker_at
        if k in sweep.latent_dims:
            y = sweep.ae_test_error[sweep.latent_dims.index(k)]
        else:
            raise ValueError(f"marker_at={k!r} is not a swept size {sweep.latent_dims}.")
        ax.plot([k], [y], "o", ms=11, mfc="none", mec="C3", mew=2, label=f"$d_z$ = {k}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("latent size $d_z$")
    ax.set_ylabel("reconstruction error (SSE per image)")
    ax.set_title(title or "Error against code size")
    ax.legend(fontsize=7, loc="lower left")
    if fig is not None:
        fig.tight_layout()
    return fig if fig is not None else ax.figure


def bottleneck_frame(sweep: LatentSweep, latent_dim: int, x_show, image_shape, *, model=None, n: int = 5,
                     error: float | None = None, figsize=(7.2, 2.5)):
    """One slider frame: test images and their reconstructions at ``latent_dim``, beside the error curve.

    ``model`` defaults to the swept model of that size; pass a freshly trained one to show a size
    that was not swept: a star marks its ``error`` (default: its error on the shown images).
    The default ``figsize`` keeps a frame near 40 kB as PNG, so a ten-frame slider stays small.
    """
    if not isinstance(sweep, LatentSweep):
        raise TypeError(f"sweep must be a LatentSweep, got {type(sweep).__name__}.")
    latent_dim = positive_int("latent_dim", latent_dim)
    if model is None:
        if latent_dim not in sweep.models:
            raise ValueError(f"no model of latent size {latent_dim} in the sweep; pass model=... or one of "
                             f"{sweep.latent_dims}.")
        model = sweep.models[latent_dim]
    x_show = as_data_tensor("x_show", x_show, width=sweep.input_dim)[:n]
    n = len(x_show)
    recon = predict(model, x_show)
    rows = [("original", x_show), (f"AE, $d_z$={latent_dim}", recon)]
    if latent_dim in sweep.pca_reconstructions:
        rows.append((f"PCA, k={latent_dim}", sweep.pca_reconstructions[latent_dim][:n]))
    c, h, w = image_shape
    fig = plt.figure(figsize=figsize)
    grid = fig.add_gridspec(len(rows), n + 1, width_ratios=[1] * n + [n * 0.95], wspace=0.05, hspace=0.08)
    for r, (row_name, images) in enumerate(rows):
        images = images.detach().cpu().numpy().reshape(len(images), c, h, w)
        for j in range(n):
            ax = fig.add_subplot(grid[r, j])
            ax.imshow(np.clip(images[j, 0], 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(row_name, fontsize=7, rotation=0, ha="right", va="center")
    curve = fig.add_subplot(grid[:, n])
    swept = latent_dim in sweep.latent_dims
    plot_error_curve(sweep, ax=curve, marker_at=latent_dim if swept else None, title=f"$d_z$ = {latent_dim}")
    if not swept:
        if error is None:
            error = float(per_example_error(recon, x_show).mean())
        curve.plot([latent_dim], [error], "*", ms=12, color="C3", label=f"retrained, $d_z$={latent_dim}")
        curve.legend(fontsize=7, loc="lower left")
    curve.yaxis.set_label_position("right")
    curve.yaxis.tick_right()
    fig.subplots_adjust(left=0.1, right=0.92, top=0.9, bottom=0.16)
    return fig


def probe_r2(models: dict, probes: dict, reference_mean) -> dict:
    """:func:`reconstruction_r2` of every model on every probe set.

    Parameters
    ----------
    models : dict
        Label → model, e.g. ``{"d_z = 32": narrow, "d_z = 1024": wide}``.
    probes : dict
        Name → inputs, e.g. from :func:`off_data_probes`.
    reference_mean : tensor (d_x,)
        The average training image.

    Returns
    -------
    dict
        ``table[label][probe_name]`` = R².
    """
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict (label → model).")
    if not isinstance(probes, dict) or not probes:
        raise ValueError("probes must be a non-empty dict (name → inputs), e.g. off_data_probes(x_test).")
    return {label: {name: reconstruction_r2(model, x, reference_mean) for name, x in probes.items()}
            for label, model in models.items()}


def plot_copy_tradeoff(sweep_r2: dict, others: dict | None = None, *, real="real images", probe="uniform noise",
                       ax=None):
    """How much of real images versus of off-data inputs each model reproduces.

    ``sweep_r2`` maps code sizes to R² dicts (from :func:`probe_r2`) and is drawn as a line
    labelled with ``d_z``; ``others`` (label → R² dict) are single points, e.g. the hand-built
    copier and regularised models. The diagonal is where a model treats both alike: a copier
    sits at (1, 1); a model that has learned the data lies far below the diagonal.
    """
    if not sweep_r2:
        raise ValueError("sweep_r2 is empty; pass {latent_dim: {probe: R²}} from probe_r2.")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.8, 3.8))
    sizes = sorted(sweep_r2)
    xs = [sweep_r2[k][real] for k in sizes]
    ys = [sweep_r2[k][probe] for k in sizes]
    ax.plot(xs, ys, "o-", color="C0", ms=4, label="no regulariser, $d_z$ as marked")
    for k, x, y in zip(sizes, xs, ys):
        ax.annotate(str(k), (x, y), textcoords="offset points", xytext=(-4, 5), fontsize=7, ha="right")
    markers = "*PDXv^<>"
    for i, (name, r2) in enumerate((others or {}).items()):
        ax.plot([r2[real]], [r2[probe]], markers[i % len(markers)], ms=10, color=f"C{i + 1}", label=name)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel(f"$R^2$ on {real}")
    ax.set_ylabel(f"$R^2$ on {probe}")
    ax.set_title("Reconstructing the data vs copying anything")
    ax.legend(fontsize=7, loc="upper left")
    if fig is not None:
        fig.tight_layout()
    return fig if fig is not None else ax.figure
