"""Chapter helper for *Undercomplete vs overcomplete autoencoders* (02_undercomplete_overcomplete).

Diagrams (drawn with the shared primitives of :mod:`aelib.chapters._diagram`), the toy curved
data set and its figure. Only that chapter and its tests import this module.

- :func:`capacity_diagram`: an undercomplete and an overcomplete autoencoder side by side, with
  the copy shortcut ``z = [x; 0]`` that only the wide code allows;
- :func:`memorisation_diagram`: a one-number code that indexes the training examples;
- :func:`arc_points`: points near a curved one-dimensional manifold in the plane;
- :func:`plot_curve_fits`: such points and their reconstructions by several autoencoders;
- :func:`separate_labels`: move point labels of a plot apart where they overlap;
- :func:`affine_autoencoder`: a fixed linear map ``x̂ = x̄ + P (x − x̄)`` as an autoencoder (PCA
  of rank ``k``, the optimum of a linear model trained on noisy inputs);
- :func:`probe_r2_own_mean`: R² of every model on every probe set, against the set's own mean;
- :func:`label_column_groups`: name groups of columns above an image grid;
- :func:`plot_direction_gains`: how much of each principal direction linear maps pass on;
- :func:`plot_rescaling`: the objective of the sparse model along the rescaling path;
- :func:`add_reference_curve`: PCA's curve and a flat-image level on the copy trade-off figure.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox
from torch import nn

from ..capacity import reconstruction_r2
from ..models import Autoencoder
from ._diagram import COLORS, arrow, box, canvas, label, trapezoid

__all__ = ["capacity_diagram", "memorisation_diagram", "arc_points", "plot_curve_fits",
           "separate_labels", "affine_autoencoder", "probe_r2_own_mean",
           "label_column_groups", "plot_direction_gains", "plot_rescaling",
           "add_reference_curve"]


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
    :func:`aelib.capacity.plot_copy_tradeoff`) collide where two points lie close together, or
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
    :func:`aelib.capacity.probe_r2`, which measures against the average training image.
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
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
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
    ax.legend(fontsize=7, loc="lower left", ncol=2)
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

    For :func:`aelib.capacity.plot_copy_tradeoff`: the curve is drawn dashed through the points
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
