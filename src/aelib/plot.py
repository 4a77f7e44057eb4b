"""Figures used across the book: image grids, reconstructions, filters, latent maps, loss curves.

Every function returns the :class:`matplotlib.figure.Figure` it drew (assign it, ``fig = ...``,
so that Jupyter shows it once). Axes are labelled; images have no ticks.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from ._checks import image_dims, instance_of, one_per_row, positive_float

__all__ = ["book_style", "image_grid", "show_reconstructions", "show_filters", "latent_map", "loss_curves", "as_images"]


def as_images(x, image_shape, *, name: str = "x") -> np.ndarray:
    """Rows of flattened pixels → ``(n, h, w)`` (grey) or ``(n, h, w, c)`` (colour) NumPy array.

    ``name`` is the argument named in error messages."""
    shape = image_dims(image_shape)
    x = _numpy(name, x)
    if not np.issubdtype(x.dtype, np.number) or x.ndim != 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array of pixel rows, got {x.dtype} of shape {x.shape}.")
    c, h, w = shape
    if x.shape[1] != c * h * w:
        raise ValueError(f"{name} has rows of {x.shape[1]} pixels but image_shape {shape} needs {c * h * w}; "
                         "pass the image_shape of the data (e.g. data.image_shape).")
    imgs = x.reshape(len(x), c, h, w)
    return imgs[:, 0] if c == 1 else imgs.transpose(0, 2, 3, 1)


def _numpy(name, x) -> np.ndarray:
    """``x`` as a NumPy array (a tensor is detached and copied to the CPU)."""
    if isinstance(x, torch.Tensor) and x.device.type == "meta":
        raise ValueError(f"{name} is a 'meta' tensor (a shape without data); create it on 'cpu'.")
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def image_grid(images, image_shape, *, ncols: int | None = None, titles=None, suptitle=None, cmap="gray",
               symmetric: bool = False, size: float = 1.1, normalize_each: bool = False):
    """Show flattened images in a grid.

    Parameters
    ----------
    images : (n, prod(image_shape)) tensor or array
    image_shape : (c, h, w)
    ncols : int, optional
        Default: up to 10 per row.
    titles : list of str, optional
    symmetric : bool
        Use a diverging colour map centred on 0 (for filters and atoms).
    normalize_each : bool
        Scale each image to its own range (filters); otherwise pixels are shown in [0, 1].
    """
    imgs = as_images(images, image_shape, name="images")
    n = len(imgs)
    ncols = ncols or min(n, 10)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= n:
            continue
        img = imgs[i]
        if symmetric:
            lim = np.abs(img).max() or 1.0
            ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
        elif normalize_each:
            ax.imshow(img, cmap=cmap)
        else:
            ax.imshow(np.clip(img, 0, 1), cmap=cmap, vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout(pad=0.2)
    return fig


def show_reconstructions(originals, reconstructions: dict, image_shape, *, n: int = 8, size: float = 1.0):
    """Originals in the first row, then one row per model: ``{"PCA": x_pca, "deep AE": x_hat, ...}``.

    Row labels name each model; the caller's dict order is kept.
    """
    rows = {"original": originals, **dict(reconstructions)}
    for label, x in rows.items():  # check every row before drawing any
        as_images(x, image_shape, name="originals" if label == "original" else f"reconstructions[{label!r}]")
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n + 1.2, size * len(rows)), squeeze=False)
    for r, (label, x) in enumerate(rows.items()):
        imgs = as_images(x[:n], image_shape, name=str(label))
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(np.clip(imgs[c], 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout(pad=0.2)
    return fig


def show_filters(weights, image_shape, *, n: int = 32, ncols: int = 8, suptitle=None):
    """Rows of ``weights`` (e.g. the first encoder layer, ``(hidden, input_dim)``) as images,
    each on a diverging scale centred on zero."""
    w = weights.detach().cpu() if isinstance(weights, torch.Tensor) and weights.device.type != "meta" else weights
    as_images(w, image_shape, name="weights")  # validates, naming the argument
    return image_grid(w[:n], image_shape, ncols=ncols, symmetric=True, suptitle=suptitle, size=0.9)


def latent_map(codes, labels, class_names=None, *, ax=None, title="2-D latent space", max_points: int = 5000):
    """Scatter plot of 2-D codes coloured by class."""
    z, y = _numpy("codes", codes), _numpy("labels", labels)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"codes must have shape (n, 2), got {z.shape}.")
    one_per_row("labels", y, len(z))
    z, y = z[:max_points], y[:max_points]
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 5))
    cmap = plt.get_cmap("tab10")
    for k in np.unique(y):
        sel = y == k
        name = class_names[k] if class_names is not None else str(k)
        ax.scatter(z[sel, 0], z[sel, 1], s=4, alpha=0.6, color=cmap(int(k) % 10), label=name)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    ax.legend(markerscale=3, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    if fig is not None:
        fig.tight_layout()
    return fig if fig is not None else ax.figure


def loss_curves(histories: dict, *, ax=None, log: bool = False, title="Training curves"):
    """Train (solid) and validation (dashed) loss per epoch for several ``{label: History}``."""
    instance_of("histories", histories, dict, "a dict {label: History}")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    for i, (label, h) in enumerate(histories.items()):
        color = plt.get_cmap("tab10")(i % 10)
        epochs = np.arange(1, len(h.train_loss) + 1)
        ax.plot(epochs, h.train_loss, color=color, label=f"{label} (train)")
        if h.val_loss:
            ax.plot(epochs, h.val_loss, color=color, linestyle="--", label=f"{label} (val)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=8)
    if fig is not None:
        fig.tight_layout()
    return fig if fig is not None else ax.figure


def book_style(dpi: int = 80) -> None:
    """Matplotlib settings used by every chapter: modest resolution (small notebooks), readable fonts.

    Figures get an opaque white background (also when saved): they are drawn for white paper, and
    the book's dark theme then shows them as white cards instead of black lines on a dark page.
    """
    dpi = positive_float("dpi", dpi)
    plt.rcParams.update({
        "figure.dpi": dpi,
        "savefig.dpi": dpi,
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
        "savefig.transparent": False,
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })
