"""Chapter *Autoencoders*: the diagrams and the plots only this chapter draws.

Each function returns a :class:`matplotlib.figure.Figure`, labelled in the chapter's notation
(:math:`x, z, \\hat x, f, g, d_z`; see the *Notation* page). The schematic diagrams use the shared
primitives of :mod:`aelib.chapters._diagram`.
"""
from __future__ import annotations

from ._diagram import COLORS, arrow, box, canvas, label, trapezoid

__all__ = ["architecture_diagram", "training_loop_diagram", "sequence_diagram",
           "compression_diagram", "basis_comparison", "rate_distortion_plot", "latent_grid"]


def _bar_height(size: int, widest: int) -> float:
    """Drawn height of a layer of ``size`` units: grows with the size, but a 20-unit code
    stays visible beside a 784-pixel input."""
    return 0.7 + 2.5 * (size / widest) ** 0.5


def architecture_diagram(layer_sizes=(784, 256, 20)):
    """Encoder → bottleneck → decoder, with the layer widths written under each layer.

    Parameters
    ----------
    layer_sizes : sequence of int
        Widths from the input to the code, e.g. ``(784, 256, 20)`` for the chapter's deep
        autoencoder 784 → 256 → 20 → 256 → 784; the decoder mirrors them.
    """
    sizes = [int(s) for s in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes needs an input and a code width, got {layer_sizes}.")
    widths = sizes + sizes[-2::-1]
    n = len(widths)
    step, bar_w, y0 = 1.7, 0.42, 2.75
    fig, ax = canvas(step * (n - 1) + 2.6, 5.3)
    xs = [1.3 + step * k for k in range(n)]
    heights = [_bar_height(s, max(sizes)) for s in widths]
    code_at = len(sizes) - 1
    for k in range(n - 1):  # the fully connected weights between consecutive layers
        role = "encoder" if k < code_at else "decoder"
        trapezoid(ax, xs[k] + bar_w / 2, y0, step - bar_w, heights[k], heights[k + 1],
                  color=COLORS[role], alpha=0.3)
    for k, (x, h, width) in enumerate(zip(xs, heights, widths)):
        role = ("data" if k in (0, n - 1) else "code" if k == code_at
                else "encoder" if k < code_at else "decoder")
        box(ax, x - bar_w / 2, y0 - h / 2, bar_w, h, color=COLORS[role])
        size_text = f"$d_z = {width}$" if k == code_at else str(width)
        label(ax, x, y0 - h / 2 - 0.22, size_text, fontsize=9)
    top = y0 + max(heights) / 2
    label(ax, xs[0], top + 0.3, "input $x$", fontsize=10)
    label(ax, xs[-1], top + 0.3, r"reconstruction $\hat{x}$", fontsize=10)
    label(ax, xs[code_at], y0 + heights[code_at] / 2 + 0.3, "code $z$", fontsize=10)
    label(ax, xs[code_at], y0 - heights[code_at] / 2 - 0.55, "bottleneck", fontsize=8,
          style="italic")
    label(ax, (xs[0] + xs[code_at]) / 2, top + 0.75, "encoder $z = f(x)$", fontsize=10,
          color=COLORS["encoder"], weight="bold")
    label(ax, (xs[code_at] + xs[-1]) / 2, top + 0.75, r"decoder $\hat{x} = g(z)$",
          fontsize=10, color=COLORS["decoder"], weight="bold")
    loss = box(ax, xs[code_at] - 1.7, 0.12, 3.4, 0.62,
               r"loss $L(x, \hat{x}) = \|x - \hat{x}\|^2$", color=COLORS["loss"], alpha=0.25)
    bottom = y0 - max(heights) / 2 - 0.45
    arrow(ax, (xs[0], bottom), loss.west, color=COLORS["loss"], curve=0.25)
    arrow(ax, (xs[-1], bottom), loss.east, color=COLORS["loss"], curve=-0.25)
    return fig


def training_loop_diagram():
    """One epoch of mini-batch training, and where a corruption and a penalty enter it."""
    steps = [("1. shuffle\nthe $N$ rows", COLORS["frozen"], 1.5),
             ("2. mini-batch\n$x$: $B$ rows", COLORS["data"], 1.65),
             ("3. forward\n$z = f(x)$\n$\\hat{x} = g(z)$", COLORS["encoder"], 1.65),
             ("4. loss\n$L(x, \\hat{x})$", COLORS["loss"], 1.5),
             ("5. backward\nclear old grads,\nthen $\\nabla_\\theta L$", COLORS["decoder"], 1.65),
             ("6. step\nupdate $\\theta$", COLORS["code"], 1.5)]
    gap = 0.4
    fig, ax = canvas(sum(w for *_, w in steps) + gap * (len(steps) - 1) + 0.4, 5.4)
    shapes, x = [], 0.2
    for text, color, width in steps:
        shapes.append(box(ax, x, 1.7, width, 1.2, text, color=color, alpha=0.35))
        x += width + gap
    for a, b in zip(shapes[:-1], shapes[1:]):
        arrow(ax, a.east, b.west)
    arrow(ax, shapes[-1].south, shapes[1].south, "next mini-batch", curve=-0.3,
          text_offset=(0.0, -1.5))
    arrow(ax, shapes[-1].north, shapes[0].north, "next epoch, once every row was used",
          curve=0.3, text_offset=(0.0, 1.6), dashed=True)
    corrupt = box(ax, shapes[2].left - 0.6, 3.3, 2.2, 0.55, r"corruption $x \to \tilde{x}$",
                  color=COLORS["noise"], alpha=0.2, dashed=True, fontsize=9)
    penalty = box(ax, shapes[3].left - 0.15, 3.3, 1.9, 0.55, r"penalty $+\lambda\,\Omega$",
                  color=COLORS["noise"], alpha=0.2, dashed=True, fontsize=9)
    arrow(ax, corrupt.south, shapes[2].north, color=COLORS["noise"], dashed=True)
    arrow(ax, penalty.south, shapes[3].north, color=COLORS["noise"], dashed=True)
    return fig


def sequence_diagram(n_shown: int = 3, n_steps: int = 14):
    """A recurrent (GRU) autoencoder unrolled in time: the encoder reads ``x_1 … x_T`` one step
    at a time, its last state becomes the code ``z``, and the decoder writes ``x̂_1 … x̂_T``
    from ``z``. ``n_shown`` cells are drawn on each side; ``n_steps`` is the ``T`` written."""
    if n_shown < 2:
        raise ValueError(f"n_shown must be at least 2, got {n_shown}.")
    times = [str(t) for t in range(1, n_shown)]
    slots = times + [None, "T"]  # None: the "…" between the first steps and the last
    step, cell_w, cell_h, y = 1.25, 0.85, 0.7, 2.0
    fig, ax = canvas(2 * len(slots) * step + step + 0.6, 4.5)

    def unroll(x, role, io_y, io_text):
        cells = []
        for t in slots:
            if t is None:
                label(ax, x + cell_w / 2, y + cell_h / 2, "…", fontsize=14)
            else:
                cells.append(box(ax, x, y, cell_w, cell_h, "GRU", color=COLORS[role],
                                 fontsize=8))
                io = box(ax, x + 0.1, io_y, cell_w - 0.2, 0.6, io_text.format(t),
                         color=COLORS["data"], fontsize=10)
                if role == "encoder":
                    arrow(ax, io.north, cells[-1].south)
                else:
                    arrow(ax, cells[-1].north, io.south)
            x += step
        for a, b in zip(cells[:-1], cells[1:]):
            arrow(ax, a.east, b.west)
        return cells, x

    enc, x = unroll(0.3, "encoder", 0.45, "$x_{{{}}}$")
    code = box(ax, x, y, cell_w, cell_h, "$z$", color=COLORS["code"], fontsize=12)
    arrow(ax, enc[-1].east, code.west)
    dec, _ = unroll(x + step, "decoder", 3.55, r"$\hat{{x}}_{{{}}}$")
    for cell in dec:
        arrow(ax, code.south, cell.south, color=COLORS["code"], dashed=True, curve=0.3)
    arrow(ax, code.east, dec[0].west, color=COLORS["code"])
    label(ax, (enc[0].left + enc[-1].right) / 2, 3.2,
          f"encoder $f$ reads $T = {n_steps}$ steps", color=COLORS["encoder"], fontsize=9)
    label(ax, (dec[0].left + dec[-1].right) / 2, 0.9,
          "decoder $g$ starts from $z$ and gets $z$ at every step", color=COLORS["decoder"],
          fontsize=9)
    return fig


def compression_diagram(latent_dim: int = 20):
    """Lossy compression with an autoencoder: encode, round each code number ``z_j`` to one of
    ``2^{r_j}`` levels (``r_j`` bits; ``r`` on average), store ``d_z · r`` bits, then decode
    the rounded code."""
    fig, ax = canvas(12.75, 2.5)
    y, h = 0.55, 1.1
    items = [("image $x$\n784 pixels\n(6,272 bits)", COLORS["data"], 1.65),
             ("encoder\n$f$", COLORS["encoder"], 1.1),
             (f"code $z$\n{latent_dim} real\nnumbers", COLORS["code"], 1.5),
             ("quantise:\nround $z_j$ to\n$2^{r_j}$ levels", COLORS["noise"], 1.6),
             (f"${latent_dim}\\,r$ bits\nstored\nor sent", COLORS["frozen"], 1.35),
             ("decoder\n$g$", COLORS["decoder"], 1.1),
             ("reconstruction\n$\\hat{x} = g(\\bar{z})$", COLORS["data"], 2.0)]
    shapes, x = [], 0.15
    for text, color, width in items:
        shapes.append(box(ax, x, y, width, h, text, color=color, alpha=0.35, fontsize=9))
        x += width + 0.35
    for a, b in zip(shapes[:-1], shapes[1:]):
        arrow(ax, a.east, b.west)
    label(ax, shapes[3].center[0], 2.05, r"lossy: $z \to \bar{z}$", fontsize=9,
          color=COLORS["noise"])
    return fig


def basis_comparison(components, decoder_columns):
    """Two heat maps of absolute cosines: principal components against each other (the
    identity: an orthonormal basis) and principal components ``u_k`` (rows) against the
    decoder columns ``w_j`` of a linear autoencoder (a mixture: the same subspace, another basis).

    Parameters
    ----------
    components : tensor or array, shape (k, d)
        Principal components as rows (``aelib.metrics.pca``).
    decoder_columns : tensor or array, shape (d, k)
        The decoder's weight matrix ``W_d``.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    u = np.asarray(components, dtype=float)
    w = np.asarray(decoder_columns, dtype=float)
    if u.ndim != 2 or w.ndim != 2 or u.shape[1] != w.shape[0]:
        raise ValueError(f"components must be (k, d) and decoder_columns (d, k'), got {u.shape} "
                         f"and {w.shape}.")
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    w = w / np.linalg.norm(w, axis=0, keepdims=True)
    panels = [(np.abs(u @ u.T), r"PCA: $|\cos(u_k, u_j)|$", "principal component $u_j$"),
              (np.abs(u @ w), r"linear AE: $|\cos(u_k, w_j)|$", "decoder column $w_j$")]
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.3))
    fig.patch.set_facecolor("white")
    fig.patch.set_alpha(1.0)
    for ax, (values, title, xlabel) in zip(axes, panels):
        image = ax.imshow(values, vmin=0, vmax=1, cmap="Blues")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("principal component $u_k$")
        ticks = np.arange(len(values))
        ax.set_xticks(ticks[::3], [str(t + 1) for t in ticks[::3]])
        ax.set_yticks(ticks[::3], [str(t + 1) for t in ticks[::3]])
    fig.colorbar(image, ax=axes, shrink=0.85, label="|cosine|")
    return fig


def rate_distortion_plot(rates, curves, unquantised, *, latent_dim: int = 20):
    """Test error against bits per image for several codecs and bit-allocation rules.

    Parameters
    ----------
    rates : sequence of int
        Average bits per code number ``r``; the horizontal axis shows ``latent_dim * r``.
    curves : dict
        ``{codec: {rule: [error at each rate]}}``, e.g. ``{"PCA": {"equal bits": [...],
        "bits by variance": [...]}}``. Each codec gets a colour, each rule a line style.
    unquantised : dict
        ``{codec: error with unquantised codes}``, drawn as dotted horizontal lines.
    """
    import matplotlib.pyplot as plt

    rates = [int(r) for r in rates]
    for codec, rules in curves.items():
        if codec not in unquantised:
            raise ValueError(f"unquantised has no error for codec {codec!r}.")
        for rule, errors in rules.items():
            if len(errors) != len(rates):
                raise ValueError(f"curves[{codec!r}][{rule!r}] has {len(errors)} errors for "
                                 f"{len(rates)} rates.")
    colors = [COLORS["loss"], COLORS["noise"], COLORS["decoder"], COLORS["code"]]
    styles = ["o-", "s--", "^:", "v-."]
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    fig.patch.set_facecolor("white")
    fig.patch.set_alpha(1.0)
    bits = [latent_dim * r for r in rates]
    for (codec, rules), color in zip(curves.items(), colors):
        for (rule, errors), style in zip(rules.items(), styles):
            ax.plot(bits, errors, style, color=color, label=f"{codec}, {rule}",
                    markersize=4)
        ax.axhline(unquantised[codec], color=color, linestyle=":", linewidth=1,
                   label=f"{codec}, unquantised floats")
    ax.set_xticks(bits, [f"{b}\n($r = {r}$)" for b, r in zip(bits, rates)])
    ax.set_xlabel(f"bits per image, ${latent_dim}\\,r$")
    ax.set_ylabel("test reconstruction error")
    ax.set_title("Rate against distortion (the 8-bit image: 6,272 bits)")
    ax.legend(fontsize=7.5)
    fig.tight_layout()
    return fig


def latent_grid(codes, low, high, empty, decoded, image_shape=(1, 28, 28)):
    """What a decoder makes of a regular grid of 2-D codes, and where the training codes are.

    Left: the training codes (grey dots) in the box ``[low, high]``, cut into ``n × n`` cells;
    cells that hold no training code are shaded. Right: the ``n × n`` decoded grid points
    (cell centres) as a mosaic laid out like the left panel, the empty cells' images framed
    (drawn with 32 grey levels, which keeps the stored image small). At most 3,000 codes are
    drawn.

    Parameters
    ----------
    codes : tensor or array, shape (N, 2)
        Training codes.
    low, high : tensor or array, shape (2,)
        Corners of the box the grid covers.
    empty : tensor or array of bool, shape (n, n)
        ``empty[i, j]`` is true when cell ``i`` along :math:`z_1` and ``j`` along :math:`z_2`
        holds no training code.
    decoded : tensor or array, shape (n * n, d)
        The decoded cell centres, in the order of ``torch.cartesian_prod(z1_centres,
        z2_centres)`` (``z_1`` varies slowest).
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    z = np.asarray(codes, dtype=float)
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    empty = np.asarray(empty, dtype=bool)
    images = np.asarray(decoded, dtype=float)
    n = empty.shape[0] if empty.ndim == 2 else 0
    _, height, width = image_shape
    if z.ndim != 2 or z.shape[1] != 2 or low.shape != (2,) or high.shape != (2,):
        raise ValueError(f"codes must be (N, 2) and low, high (2,), got {z.shape}, "
                         f"{low.shape}, {high.shape}.")
    if n < 1 or empty.shape != (n, n) or images.shape != (n * n, height * width):
        raise ValueError(f"empty must be (n, n) and decoded (n * n, {height * width}), got "
                         f"{empty.shape} and {images.shape}.")
    step = (high - low) / n
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 3.9))
    fig.patch.set_facecolor("white")
    fig.patch.set_alpha(1.0)
    left.scatter(z[:3000, 0], z[:3000, 1], s=2, color="#555555", linewidths=0)
    for i, j in zip(*np.nonzero(empty)):
        left.add_patch(Rectangle((low[0] + i * step[0], low[1] + j * step[1]), step[0],
                                 step[1], facecolor=COLORS["noise"], alpha=0.25,
                                 linewidth=0))
    left.set_xlim(low[0], high[0])
    left.set_ylim(low[1], high[1])
    left.set_xticks(low[0] + step[0] * np.arange(n + 1), minor=True)
    left.set_yticks(low[1] + step[1] * np.arange(n + 1), minor=True)
    left.grid(True, which="minor", color="#cccccc", linewidth=0.5)
    left.set_xlabel("$z_1$")
    left.set_ylabel("$z_2$")
    left.set_title(f"training codes; shaded: cells with none ({int(empty.sum())} of {n * n})")
    mosaic = images.reshape(n, n, height, width)[:, ::-1]     # j = n-1 (top row) first
    mosaic = mosaic.transpose(1, 2, 0, 3).reshape(n * height, n * width)
    levels = 31  # 32 grey levels: invisible in thumbnails, and a much smaller PNG
    right.imshow(np.round(np.clip(mosaic, 0, 1) * levels) / levels, cmap="gray", vmin=0,
                 vmax=1)
    for i, j in zip(*np.nonzero(empty)):
        right.add_patch(Rectangle((i * width - 0.5, (n - 1 - j) * height - 0.5), width, height,
                                  fill=False, edgecolor=COLORS["noise"], linewidth=1.2))
    right.set_xticks([])
    right.set_yticks([])
    right.set_xlabel(r"$z_1$ $\rightarrow$")
    right.set_ylabel(r"$z_2$ $\rightarrow$")
    right.set_title("decoded cell centres; framed: empty cells")
    fig.tight_layout()
    return fig
