r"""Chapter helpers for *Sparse coding and sparse autoencoders* (book/03_sparse).

Schematic diagrams (drawn with the shared primitives of :mod:`aelib.chapters._diagram`), the
unit balls of the Lp norms, two plots of the autoencoders' codes (the distribution of the code
values, with exact zeros and overflow in bars of their own, and how often each unit is used),
measures of how localised and oriented dictionary atoms are (:func:`energy_support`,
:func:`orientation_coherence`) and the frame of the λ slider (:func:`sparsity_frame`). The
labels use the chapter's notation: an example :math:`x \in \mathbb{R}^{d_x}`, its code
:math:`s \in \mathbb{R}^{d_z}`, the dictionary :math:`W \in \mathbb{R}^{d_x \times d_z}` with
one atom :math:`w_k` per column (stored in code as ``D = Wᵀ``, one atom per row), and for the
autoencoder an encoder :math:`V`, a code :math:`z` and a decoder :math:`W`. The solvers are
:mod:`aelib.sparse`. For the slider's *Retrain* button, :func:`recode_with_progress` codes
the patches at a new λ part by part and :func:`relative_error` measures the result.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Circle

from .._checks import as_data_tensor, nonnegative_float, positive_int
from ..sparse import sparse_encode
from ._diagram import COLORS, arrow, box, canvas, label, trapezoid

__all__ = ["sparse_coding_diagram", "unit_balls_figure", "penalty_targets_diagram", "ista_diagram", "dictionary_learning_diagram", "sparse_autoencoder_diagram", "code_value_histograms", "unit_usage_figure", "recode_with_progress", "relative_error"]


#: The figures that draw without data (schematic diagrams and the unit balls).
DIAGRAMS = __all__[:6]


def _node(ax, x, y, radius=0.2, *, color="white", text="", fontsize=7):
    """A neuron: a circle, filled with ``color`` (white for an inactive unit)."""
    ax.add_patch(Circle((x, y), radius, facecolor=color, edgecolor=COLORS["ink"],
                        linewidth=1.0, zorder=3))
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4,
                color=COLORS["ink"])


def _value(v: float) -> str:
    return f"{v:g}"


def sparse_coding_diagram(code=(12, 0, 7, 0, 0)):
    """``x ≈ W s`` with a sparse ``s``: the atoms that ``s`` uses, and how ``s`` is stored.

    Parameters
    ----------
    code : sequence of float
        The code ``s`` (one entry per atom, numbered from 0 as in Python); the default is the
        chapter's example ``(12, 0, 7, 0, 0)``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    code = [float(v) for v in code]
    if not code:
        raise ValueError("code must have at least one entry.")
    n = len(code)
    used = [k for k, v in enumerate(code) if v != 0]
    width = 8.1 + 0.58 * n
    fig, ax = canvas(width, 5.2, scale=0.72)
    top, height = 4.2, 3.0
    bottom = top - height
    box(ax, 0.4, bottom, 0.55, height, color=COLORS["data"])
    label(ax, 0.675, top + 0.3, "$x$", fontsize=12)
    label(ax, 0.675, bottom - 0.35, r"$\in\mathbb{R}^{d_x}$", fontsize=10)
    label(ax, 1.45, top - height / 2, r"$\approx$", fontsize=20)
    left = 1.95
    for k in range(n):
        x0 = left + 0.58 * k
        box(ax, x0, bottom, 0.5, height, color=COLORS["decoder"] if k in used else "white",
            alpha=0.85 if k in used else 1.0)
        label(ax, x0 + 0.25, bottom - 0.35, f"$w_{k}$", fontsize=10)
    w_right = left + 0.58 * n - 0.08
    label(ax, (left + w_right) / 2, top + 0.3, r"$W\in\mathbb{R}^{d_x\times d_z}$", fontsize=11)
    s_left, cell = w_right + 0.45, height / n
    for k, v in enumerate(code):
        box(ax, s_left, top - (k + 1) * cell + 0.04, 0.6, cell - 0.08, _value(v),
            color=COLORS["code"] if v != 0 else "white", fontsize=10,
            alpha=0.85 if v != 0 else 1.0)
    label(ax, s_left + 0.3, top + 0.3, "$s$", fontsize=12)
    label(ax, s_left + 0.3, bottom - 0.35, r"$\in\mathbb{R}^{d_z}$", fontsize=10)
    terms = " + ".join(f"{_value(code[k])}\\,w_{k}" for k in used) or "0"
    text_x = s_left + 1.4
    label(ax, text_x, top - 0.5, f"$x \\approx {terms}$", fontsize=12, ha="left")
    label(ax, text_x, top - 1.05, f"{len(used)} of $d_z = {n}$ atoms used", fontsize=10,
          ha="left")
    stored = "{" + ", ".join(f"{k}: {_value(code[k])}" for k in used) + "}"
    shape = box(ax, text_x, bottom + 0.45, 3.4, 0.75, f"stored: {stored}",
                color=COLORS["code"], fontsize=11, alpha=0.35)
    arrow(ax, (s_left + 0.62, shape.center[1]), shape.west)
    return fig


def _lp_unit_circle(p: float, n_points: int = 721) -> np.ndarray:
    """Points on the boundary ``‖s‖_p = 1`` in the plane (``p > 0`` or ``inf``)."""
    angle = np.linspace(0, 2 * np.pi, n_points)
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    if math.isinf(p):
        size = np.abs(direction).max(axis=1)
    else:
        size = (np.abs(direction) ** p).sum(axis=1) ** (1 / p)
    return direction / size[:, None]


def unit_balls_figure(ps=(0, 0.5, 1, 2, math.inf)):
    """The unit balls ``{s ∈ ℝ² : ‖s‖_p ≤ 1}``, one panel per ``p``, corners marked.

    ``p = 0`` draws the L0 "ball" ``‖s‖₀ ≤ 1``: the two coordinate axes (it is unbounded).
    The corners on the axes (``p ≤ 1``) are where sparse solutions come from; the L∞ ball has
    its corners on the diagonals instead.

    Returns
    -------
    matplotlib.figure.Figure
    """
    ps = list(ps)
    if not ps or any(p < 0 for p in ps):
        raise ValueError("ps must be a non-empty list of p ≥ 0 (math.inf allowed).")
    fig, axes = plt.subplots(1, len(ps), figsize=(2.05 * len(ps), 2.35))
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, ps):
        ax.axhline(0, color="0.75", lw=0.6, zorder=0)
        ax.axvline(0, color="0.75", lw=0.6, zorder=0)
        if p == 0:
            for xs, ys in [([-1.45, 1.45], [0, 0]), ([0, 0], [-1.45, 1.45])]:
                ax.plot(xs, ys, color="C0", lw=3, solid_capstyle="butt")
            name = r"$\Vert s\Vert_0 \leq 1$" + "\n(the axes)"
        else:
            ring = _lp_unit_circle(p)
            ax.fill(ring[:, 0], ring[:, 1], color="C0", alpha=0.25)
            ax.plot(ring[:, 0], ring[:, 1], color="C0", lw=1.5)
            shown = r"\infty" if math.isinf(p) else _value(p)
            name = rf"$p = {shown}$" + ("\n(not convex)" if p < 1 else "\n(convex)")
        if p <= 1:
            ax.plot([1, 0, -1, 0], [0, 1, 0, -1], "o", color="C3", markersize=4)
        elif math.isinf(p):
            ax.plot([1, -1, -1, 1], [1, 1, -1, -1], "o", color="C3", markersize=4)
        ax.set_title(name, fontsize=9)
        ax.set_xlim(-1.5, 1.5)
        ax.set_ylim(-1.5, 1.5)
        ax.set_aspect("equal")
        ax.set_xticks([-1, 0, 1])
        ax.set_yticks([-1, 0, 1])
        ax.set_xlabel("$s_1$", labelpad=1)
    axes[0].set_ylabel("$s_2$", labelpad=1)
    fig.tight_layout(w_pad=0.6)
    return fig


def _layer(ax, x, n, y_low, y_high):
    return [(x, y_low + (y_high - y_low) * i / (n - 1)) for i in range(n)]


def penalty_targets_diagram():
    """Where a penalty acts: L1 or L2 on the **weights**, or L1 on the **activations** (code).

    Three copies of one layer, inputs ``x`` on the left, code units ``z`` on the right, joined by
    the encoder weights ``V`` (in this chapter ``W`` is the decoder, the dictionary). The weight
    penalties carry the weight ``η``, the code penalty the sparsity weight ``λ``. L1 on
    the weights removes connections; L2 on the weights keeps them all but weakens them; L1 on
    the code leaves the connections alone and switches most units off for a given input.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(12.6, 4.6, scale=0.68)
    panels = [
        ("L1 on the weights", r"$\eta\sum_{jk}|V_{jk}|$", "sparse connections"),
        ("L2 on the weights", r"$\eta\Vert V\Vert_F^2$", "weaker connections"),
        ("L1 on the code", r"$\lambda\Vert z\Vert_1$", "sparse code (for this $x$)"),
    ]
    kept = {(0, 0), (1, 2), (2, 2), (2, 3)}   # the weights that L1 leaves non-zero
    active = {1, 3}                           # the code units that are on for this x
    style = {0: (1.6, COLORS["ink"]), 1: (0.7, "0.6"), 2: (1.2, COLORS["ink"])}
    for p, (title, formula, effect) in enumerate(panels):
        left = 0.5 + 4.2 * p
        inputs = _layer(ax, left + 0.6, 3, 1.5, 3.1)
        units = _layer(ax, left + 2.9, 4, 1.2, 3.4)
        width, shade = style[p]
        for i, a in enumerate(inputs):
            for j, b in enumerate(units):
                if p != 0 or (i, j) in kept:
                    ax.plot([a[0], b[0]], [a[1], b[1]], color=shade, lw=width, zorder=1)
        for a in inputs:
            _node(ax, *a, color=COLORS["data"])
        for j, b in enumerate(units):
            on = p != 2 or j in active
            _node(ax, *b, color=COLORS["code"] if on else "white", text="" if on else "0")
        label(ax, left + 0.6, 0.75, "$x$", fontsize=11)
        label(ax, left + 2.9, 0.75, "$z$", fontsize=11)
        label(ax, left + 1.75, 4.3, title, fontsize=11, fontweight="bold")
        label(ax, left + 1.75, 3.85, formula, fontsize=11)
        label(ax, left + 1.75, 0.3, effect, fontsize=10)
    return fig


def ista_diagram():
    """One ISTA iteration as a loop: a gradient step on the squared error, then soft thresholding.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(12.4, 4.3, scale=0.72)
    s_k = box(ax, 0.3, 2.0, 1.1, 0.9, "$s^k$", color=COLORS["code"], fontsize=12)
    grad = box(ax, 2.2, 1.75, 3.7, 1.4, "gradient step\n"
               r"$s^k - \frac{1}{L}\,(s^k D - x)\,D^\top$", color=COLORS["loss"],
               fontsize=10, alpha=0.3)
    shrink = box(ax, 6.7, 1.75, 2.6, 1.4, "soft threshold\n" r"$S_{\lambda/L}(\cdot)$",
                 color=COLORS["decoder"], fontsize=10, alpha=0.45)
    s_next = box(ax, 10.1, 2.0, 1.4, 0.9, "$s^{k+1}$", color=COLORS["code"], fontsize=12)
    arrow(ax, s_k.east, grad.west)
    arrow(ax, grad.east, shrink.west)
    arrow(ax, shrink.east, s_next.west)
    data = box(ax, 3.55, 0.2, 1.0, 0.8, "$x$", color=COLORS["data"], fontsize=12)
    arrow(ax, data.north, grad.south)
    arrow(ax, s_next.north, s_k.north, r"next iteration: $k \leftarrow k + 1$", curve=0.25,
          text_offset=(0.0, 0.95), fontsize=10)
    label(ax, 8.0, 0.6, r"from $s^0 = 0$, one pass is $S_{\lambda/L}(x D^\top / L)$:"
          "\na linear map, then a shrinkage", fontsize=9.5)
    return fig


def dictionary_learning_diagram():
    """Dictionary learning alternates two steps: codes with ``D`` fixed, ``D`` with codes fixed.

    The code step is convex (one Lasso per example); the dictionary step is a ridge solve
    (Frobenius penalty) or, with unit-norm atoms, an exact closed-form minimisation atom by atom
    over the unit sphere, which is not a convex set. The joint problem is not convex.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = canvas(11.6, 4.4, scale=0.72)
    data = box(ax, 4.6, 3.3, 2.4, 0.8, "patches $X$", color=COLORS["data"], fontsize=11)
    code = box(ax, 0.3, 0.5, 4.3, 1.9, "code step ($D$ fixed)\none Lasso per example\n"
               r"$s_i \leftarrow \arg\min_s \frac{1}{2}\Vert x_i - sD\Vert^2"
               r" + \lambda\Vert s\Vert_1$", color=COLORS["code"], fontsize=10, alpha=0.4)
    dic = box(ax, 7.0, 0.5, 4.3, 1.9, "dictionary step (codes fixed)\n"
              r"$A = S^\top S,\ B = S^\top X$" "\nunit-norm atoms, or a ridge solve",
              color=COLORS["decoder"], fontsize=10, alpha=0.4)
    arrow(ax, data.west, code.north, curve=0.2)
    arrow(ax, data.east, dic.north, curve=-0.2)
    arrow(ax, (code.right, 1.8), (dic.left, 1.8), "codes $S$", fontsize=10)
    arrow(ax, (dic.left, 1.0), (code.right, 1.0), "dictionary $D$", fontsize=10,
          text_offset=(0.0, -0.45))
    return fig


def sparse_autoencoder_diagram(n_units: int = 8, active=(1, 4, 6)):
    """An overcomplete autoencoder whose code is kept sparse by ``λ‖z‖₁`` (and ``η‖W‖²_F``).

    Parameters
    ----------
    n_units : int
        Code units drawn.
    active : sequence of int
        The units drawn as active (non-zero) for this input.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if n_units < 2:
        raise ValueError("n_units must be at least 2.")
    active = set(active)
    fig, ax = canvas(12.4, 5.2, scale=0.72)
    mid = 2.55
    x_in = box(ax, 0.3, mid - 1.0, 0.7, 2.0, "$x$", color=COLORS["data"], fontsize=12)
    enc = trapezoid(ax, 1.4, mid, 2.2, 2.0, 3.4, "encoder $V$\n+ ReLU",
                    color=COLORS["encoder"], fontsize=10)
    units = _layer(ax, 4.3, n_units, mid - 1.6, mid + 1.6)
    for j, (ux, uy) in enumerate(units):
        on = j in active
        _node(ax, ux, uy, radius=0.17, color=COLORS["code"] if on else "white",
              text="" if on else "0")
    dec = trapezoid(ax, 5.0, mid, 2.2, 3.4, 2.0, "decoder $W$", color=COLORS["decoder"],
                    fontsize=10)
    x_out = box(ax, 7.6, mid - 1.0, 0.7, 2.0, r"$\hat x$", color=COLORS["data"], fontsize=12)
    arrow(ax, x_in.east, (enc.left, mid))
    arrow(ax, (dec.right, mid), x_out.west)
    label(ax, 4.3, mid + 2.05, r"$z = \mathrm{ReLU}(Vx + b)$", fontsize=10)
    label(ax, 4.3, mid - 2.05, f"{len(active)} of {n_units} units on", fontsize=9)
    terms = [(r"$\Vert x - \hat x\Vert^2$", "reconstruction", COLORS["loss"]),
             (r"$+\ \lambda\Vert z\Vert_1$", "sparse code", COLORS["code"]),
             (r"$+\ \eta\Vert W\Vert_F^2$", "bounded decoder", COLORS["decoder"])]
    label(ax, 10.4, 4.3, "loss per example", fontsize=10, fontweight="bold")
    for i, (formula, meaning, color) in enumerate(terms):
        y = 3.5 - 1.05 * i
        label(ax, 9.0, y, formula, fontsize=12, ha="left", color=COLORS["ink"])
        label(ax, 9.2, y - 0.42, meaning, fontsize=9, ha="left", color=color)
    return fig


def code_value_histograms(codes, panels=(("ReLU", "ReLU + L1"), ("sigmoid", "sigmoid + KL")),
                          tops=(4.0, 1.0), n_bins: int = 40):
    """The distribution of code values, one panel per pair of models, log-scale counts.

    Exact zeros get a bar of their own (left, ``= 0``), so that they are not mixed with small
    positive values; the positive values fill ``n_bins`` bins on ``(0, top]``; values above
    ``top`` get a bar of their own (right, ``> top``) instead of piling up in the last bin. A
    panel without exact zeros (or without values above ``top``) gets no such slot.

    Parameters
    ----------
    codes : dict
        Model name → codes (tensor or array, any shape; flattened).
    panels : sequence of sequences of str
        The model names drawn together in each panel.
    tops : sequence of float
        The largest value binned in each panel.
    n_bins : int

    Returns
    -------
    matplotlib.figure.Figure
    """
    if len(panels) != len(tops) or not panels:
        raise ValueError("panels and tops must be non-empty and of equal length.")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.3))
    axes = np.atleast_1d(axes)
    for ax, names, top in zip(axes, panels, tops):
        width = top / n_bins
        edges = np.linspace(0, top, n_bins + 1)
        values = {name: np.asarray(codes[name], dtype=float).ravel() for name in names}
        has_zeros = any(np.any(z == 0) for z in values.values())
        has_overflow = any(np.any(z > top) for z in values.values())
        zero_at, overflow_at = -2 * width, top + 2 * width
        for i, (name, z) in enumerate(values.items()):
            color = f"C{i}"
            counts, _ = np.histogram(z[(z > 0) & (z <= top)], bins=edges)
            ax.stairs(counts, edges, fill=True, alpha=0.5, color=color, label=name)
            offset = (i - (len(names) - 1) / 2) * width
            for at, n in ((zero_at, int(np.sum(z == 0))), (overflow_at, int(np.sum(z > top)))):
                if n:
                    ax.bar(at + offset, n, width=width, color=color, alpha=0.8)
        ticks = list(np.linspace(0, top, 5))
        labels = [f"{t:g}" for t in ticks]
        left, right = -0.5 * width, top + 0.5 * width
        if has_zeros:   # a slot of its own for exact zeros, left of the bins
            ax.axvline(-width, color="0.6", lw=0.6)
            ticks[0], labels[0], left = zero_at, "= 0", zero_at - 1.5 * width
        if has_overflow:   # and one for the values above ``top``, right of them
            ax.axvline(top + width, color="0.6", lw=0.6)
            ticks[-1], labels[-1], right = overflow_at, f"> {top:g}", overflow_at + 1.5 * width
        ax.set_yscale("log")
        ax.set_xticks(ticks, labels)
        ax.set_xlim(left, right)
        ax.set_xlabel("code value $z_j$")
        ax.set_ylabel("count (log scale)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def unit_usage_figure(firing, unit_means, rho: float, tolerance: float = 0.2):
    """How each code unit is used, units sorted: ReLU codes (left), sigmoid codes (right).

    Left: for every unit, the fraction of examples on which it is non-zero, units sorted from
    the most to the least used; units that are never non-zero (dead units) sit on the floor
    and are counted in the legend. Right: every unit's mean activation, sorted, with the
    target ``ρ`` and the band ``|ρ̂_j − ρ| < tolerance · ρ`` marked.

    Parameters
    ----------
    firing : dict
        Model name → per-unit fraction of examples on which the unit is non-zero.
    unit_means : dict
        Model name → per-unit mean activation.
    rho : float
        The KL target ``ρ``.
    tolerance : float
        Half-width of the band around ``ρ``, relative to ``ρ``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not firing or not unit_means:
        raise ValueError("firing and unit_means must be non-empty dicts (name → per-unit values).")
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.2, 2.9))
    for i, (name, values) in enumerate(firing.items()):
        values = np.sort(np.asarray(values, dtype=float))[::-1]
        dead = int(np.sum(values == 0))
        left.plot(np.arange(1, len(values) + 1), values, color=f"C{i}", lw=1.5,
                  label=f"{name} ({dead} of {len(values)} never on)")
    left.set_xlabel("unit $j$, most used first")
    left.set_ylabel("fraction of examples with $z_j > 0$")
    left.set_ylim(-0.03, 1.38)                 # headroom for the legend
    left.set_yticks(np.linspace(0, 1, 6))
    left.legend(fontsize=8, loc="upper right")
    for i, (name, values) in enumerate(unit_means.items()):
        values = np.sort(np.asarray(values, dtype=float))[::-1]
        right.plot(np.arange(1, len(values) + 1), values, color=f"C{i + len(firing)}",
                   lw=1.5, label=name)
    right.axhspan(rho * (1 - tolerance), rho * (1 + tolerance), color="0.85", zorder=0,
                  label=rf"$|\hat\rho_j - \rho| < {tolerance:g}\rho$")
    right.axhline(rho, color="0.3", lw=0.8, ls="--", label=rf"target $\rho = {rho:g}$")
    right.set_yscale("log")
    low = min(float(np.min(np.asarray(v, dtype=float))) for v in unit_means.values())
    right.set_ylim(min(low, rho * (1 - tolerance)) / 1.3, 8)   # headroom for the legend
    right.set_xlabel("unit $j$, largest mean first")
    right.set_ylabel(r"mean activation $\hat\rho_j$ (log scale)")
    right.legend(fontsize=8, loc="upper right", ncols=2)
    fig.tight_layout()
    return fig


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


def relative_error(x, codes, dictionary) -> float:
    """The share of the patches' energy a code loses: ``Σ_i ‖x_i − s_i D‖² / Σ_i ‖x_i‖²``.

    The error axis of the λ slider's curve (:func:`sparsity_frame`).
    """
    x = as_data_tensor("x", x)
    rebuilt = codes.to(x.dtype) @ dictionary.to(x.dtype)
    if rebuilt.shape != x.shape:
        raise ValueError(f"codes @ dictionary has shape {tuple(rebuilt.shape)}, x {tuple(x.shape)}; "
                         "pass one code per row of x and one atom per row of the dictionary.")
    return float((x - rebuilt).pow(2).sum() / x.pow(2).sum())


def recode_with_progress(x, dictionary, sparsity_weight: float, *, n_parts: int = 4, progress=None):
    """:func:`aelib.sparse.sparse_encode` of ``x`` in ``n_parts`` parts, reporting after each.

    Every row is its own Lasso problem, so the parts solve what one call solves (the codes agree
    to within the solver's tolerance: when to stop is decided for a whole batch); the
    ``progress(done, total, "patches")`` calls let the λ slider's *Retrain* button show how far
    it is.
    """
    nonnegative_float("sparsity_weight", sparsity_weight)
    n_parts = positive_int("n_parts", n_parts)
    x = as_data_tensor("x", x)
    size = max(1, math.ceil(len(x) / n_parts))
    parts = []
    for start in range(0, len(x), size):
        parts.append(sparse_encode(x[start:start + size], dictionary, sparsity_weight))
        if progress is not None:
            progress(min(start + size, len(x)), len(x), "patches")
    return torch.cat(parts)
