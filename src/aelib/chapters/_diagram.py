"""Drawing primitives for the book's schematic diagrams (boxes, trapezoids, arrows).

Every chapter draws its diagrams with these few functions, so the pictures share one look:
a white, opaque background (readable in a dark-mode page), the Okabe–Ito colour-blind-safe
palette, and coordinates in arbitrary "diagram units" with the origin at the bottom left.
Only the chapter helpers in :mod:`aelib.chapters` import this module.
"""
from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Polygon

__all__ = ["COLORS", "Shape", "canvas", "box", "trapezoid", "arrow", "label"]

#: Okabe–Ito colours, named by the role they play in every diagram of the book.
COLORS = {
    "data": "#56B4E9",      # inputs and reconstructions (sky blue)
    "encoder": "#E69F00",   # encoder layers (orange)
    "decoder": "#009E73",   # decoder layers (green)
    "code": "#CC79A7",      # codes / latent variables (reddish purple)
    "noise": "#D55E00",     # corruption, sampling noise (vermillion)
    "loss": "#0072B2",      # losses and targets (blue)
    "frozen": "#BBBBBB",    # frozen / fixed parts (grey)
    "ink": "#222222",       # text and arrows
}


@dataclass(frozen=True)
class Shape:
    """Where a drawn shape sits: its bounding box, for attaching arrows."""

    left: float
    right: float
    bottom: float
    top: float

    @property
    def center(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.bottom + self.top) / 2

    @property
    def east(self) -> tuple[float, float]:
        return self.right, (self.bottom + self.top) / 2

    @property
    def west(self) -> tuple[float, float]:
        return self.left, (self.bottom + self.top) / 2

    @property
    def north(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, self.top

    @property
    def south(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, self.bottom


def canvas(width: float, height: float, *, scale: float = 0.9):
    """A blank figure whose axes span ``[0, width] × [0, height]`` diagram units.

    ``scale`` inches per unit. Returns ``(fig, ax)``; the axes are hidden and the background
    is opaque white.
    """
    fig, ax = plt.subplots(figsize=(width * scale, height * scale))
    fig.patch.set_facecolor("white")
    fig.patch.set_alpha(1.0)
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.subplots_adjust(0, 0, 1, 1)
    return fig, ax


def box(ax, x: float, y: float, w: float, h: float, text: str = "", *, color: str = "white",
        fontsize: float = 10, alpha: float = 0.85, dashed: bool = False) -> Shape:
    """A rounded box with its bottom-left corner at ``(x, y)`` and ``text`` in the middle."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=color, edgecolor=COLORS["ink"], alpha=alpha,
                                linewidth=1.2, linestyle="--" if dashed else "-"))
    if text:
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize,
                color=COLORS["ink"])
    return Shape(x, x + w, y, y + h)


def trapezoid(ax, x: float, y_center: float, w: float, h_left: float, h_right: float,
              text: str = "", *, color: str = "white", fontsize: float = 10,
              alpha: float = 0.85) -> Shape:
    """A trapezoid from ``x`` to ``x + w``, ``h_left`` tall on the left and ``h_right`` on the
    right: the usual picture of a layer stack that narrows (encoder) or widens (decoder)."""
    corners = [(x, y_center - h_left / 2), (x + w, y_center - h_right / 2),
               (x + w, y_center + h_right / 2), (x, y_center + h_left / 2)]
    ax.add_patch(Polygon(corners, closed=True, facecolor=color, edgecolor=COLORS["ink"],
                         alpha=alpha, linewidth=1.2))
    if text:
        ax.text(x + w / 2, y_center, text, ha="center", va="center", fontsize=fontsize,
                color=COLORS["ink"])
    tallest = max(h_left, h_right) / 2
    return Shape(x, x + w, y_center - tallest, y_center + tallest)


def arrow(ax, start, end, text: str = "", *, color: str = COLORS["ink"], dashed: bool = False,
          curve: float = 0.0, fontsize: float = 9, text_offset=(0.0, 0.15)):
    """An arrow from ``start`` to ``end`` (points in diagram units), optionally labelled at its
    midpoint (shifted by ``text_offset``) and bent by ``curve`` (an arc's ``rad``)."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14,
                                 color=color, linewidth=1.4,
                                 linestyle="--" if dashed else "-",
                                 connectionstyle=f"arc3,rad={curve}", shrinkA=2, shrinkB=2))
    if text:
        mid_x = (start[0] + end[0]) / 2 + text_offset[0]
        mid_y = (start[1] + end[1]) / 2 + text_offset[1]
        ax.text(mid_x, mid_y, text, ha="center", va="bottom", fontsize=fontsize, color=color)


def label(ax, x: float, y: float, text: str, *, fontsize: float = 9, color: str = COLORS["ink"],
          ha: str = "center", va: str = "center", **kwargs):
    """Free text at ``(x, y)``; math in ``$…$`` is rendered by matplotlib."""
    ax.text(x, y, text, ha=ha, va=va, fontsize=fontsize, color=color, **kwargs)
