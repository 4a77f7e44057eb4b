r"""Chapter helpers for *Pretraining deep networks with autoencoders* (book/07_pretraining).

Diagrams of greedy stacking, the two fine-tuning stages and end-to-end pretraining; the
weight-scale control of the gradient measurement (:func:`rescaled_like`); and the few-label
experiment harness (labelled subsets, repeated fine-tuning, linear probes, summaries) with the
gradient-size diagnostic. The pretraining itself is :mod:`aelib.pretrain`.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from .._checks import as_data_tensor, int_sequence, positive_int
from ..data import stratified_indices
from ..metrics import linear_probe_accuracy
from ..models import Classifier, predict
from ..pretrain import _input_width, accuracy, fine_tune
from ..train import _labels
from ._diagram import COLORS, arrow, box, canvas, label, trapezoid

__all__ = ["greedy_diagram", "fine_tune_diagram", "end_to_end_diagram", "rescaled_like"]


def rescaled_like(body: torch.nn.Module, reference: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``body`` whose every ``nn.Linear`` weight matrix is rescaled to the Frobenius
    norm of the matching ``nn.Linear`` of ``reference`` (biases untouched).

    It keeps the random *directions* of ``body`` and takes only the per-layer *scale* of
    ``reference``: a control that separates a change of weight scale from a change of structure.
    """
    mine = [m for m in body.modules() if isinstance(m, torch.nn.Linear)]
    theirs = [m for m in reference.modules() if isinstance(m, torch.nn.Linear)]
    if len(mine) != len(theirs) or any(a.weight.shape != b.weight.shape
                                       for a, b in zip(mine, theirs)):
        raise ValueError("body and reference must have nn.Linear layers of the same shapes.")
    out = copy.deepcopy(body)
    with torch.no_grad():
        for layer, ref in zip((m for m in out.modules() if isinstance(m, torch.nn.Linear)),
                              theirs):
            layer.weight.mul_(ref.weight.norm() / layer.weight.norm())
    return out


_STEP = 1.75   # width of one frozen encoder box plus its arrow, in diagram units


def _data(ax, x, y, text, *, dashed=False):
    """A small data box (input, code or reconstruction) centred vertically on ``y``."""
    color = COLORS["code"] if "z" in text else COLORS["data"]
    return box(ax, x, y - 0.35, 0.8, 0.7, text, color=color, fontsize=12, dashed=dashed)


def _frozen(ax, x, y, text):
    return box(ax, x, y - 0.4, 0.95, 0.8, text, color=COLORS["frozen"], fontsize=12)


def greedy_diagram(n_layers: int = 3):
    """Greedy layer-wise pretraining as a staircase: row ``k`` trains the shallow autoencoder
    ``z_{k-1} → f_k → z_k → g_k → ẑ_{k-1}`` on the codes of the frozen encoders
    ``f_1, …, f_{k-1}`` below it (grey), with the loss ``L(z_{k-1}, ẑ_{k-1})``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(n_layers, int) or not 1 <= n_layers <= 4:
        raise ValueError(f"n_layers must be an integer from 1 to 4, got {n_layers!r}.")
    row_height = 1.9
    width = 0.4 + (n_layers - 1) * _STEP + 8.4
    fig, ax = canvas(width, 0.5 + n_layers * row_height, scale=0.62)
    for k in range(1, n_layers + 1):
        y = 0.5 + (n_layers - k) * row_height + row_height / 2
        label(ax, 0.05, y + 0.62, f"layer {k}", ha="left", fontsize=10, fontweight="bold")
        shape = _data(ax, 0.2, y, "$x$")
        for j in range(1, k):  # the frozen encoders below layer k
            frozen = _frozen(ax, shape.right + 0.35, y, f"$f_{j}$")
            arrow(ax, shape.east, frozen.west)
            shape = frozen
        source = "x" if k == 1 else f"z_{k - 1}"
        if k > 1:
            code_in = _data(ax, shape.right + 0.35, y, f"$z_{k - 1}$")
            arrow(ax, shape.east, code_in.west)
            shape = code_in
        enc = trapezoid(ax, shape.right + 0.4, y, 1.0, 1.2, 0.7, f"$f_{k}$",
                        color=COLORS["encoder"], fontsize=12)
        arrow(ax, shape.east, enc.west)
        code = _data(ax, enc.right + 0.35, y, f"$z_{k}$")
        arrow(ax, enc.east, code.west)
        dec = trapezoid(ax, code.right + 0.35, y, 1.0, 0.7, 1.2, f"$g_{k}$",
                        color=COLORS["decoder"], fontsize=12)
        arrow(ax, code.east, dec.west)
        recon = _data(ax, dec.right + 0.35, y, f"$\\hat {source}$" if k == 1
                      else f"$\\hat z_{{{k - 1}}}$", dashed=True)
        arrow(ax, dec.east, recon.west)
        label(ax, recon.right + 0.2, y, f"$L({source}, \\hat {source})$" if k == 1 else
              f"$L(z_{{{k - 1}}}, \\hat z_{{{k - 1}}})$", ha="left", fontsize=11,
              color=COLORS["loss"])
    label(ax, width - 0.1, 0.22, "grey: frozen (trained in an earlier row)",
          ha="right", fontsize=9)
    return fig


def _classifier_row(ax, y, n_layers, trainable_body: bool, title: str):
    label(ax, 0.05, y + 0.85, title, ha="left", fontsize=10, fontweight="bold")
    shape = _data(ax, 0.2, y, "$x$")
    for j in range(1, n_layers + 1):
        if trainable_body:
            layer = box(ax, shape.right + 0.35, y - 0.4, 0.95, 0.8, f"$f_{j}$",
                        color=COLORS["encoder"], fontsize=12)
        else:
            layer = _frozen(ax, shape.right + 0.35, y, f"$f_{j}$")
        arrow(ax, shape.east, layer.west)
        shape = layer
    head = box(ax, shape.right + 0.45, y - 0.45, 1.3, 0.9, "$V, c$\n(new)",
               color=COLORS["encoder"], fontsize=10)
    arrow(ax, shape.east, head.west, "$z_{%d}$" % n_layers, fontsize=10)
    logits = box(ax, head.right + 0.45, y - 0.35, 0.9, 0.7, "$h(x)$", color=COLORS["code"],
                 fontsize=11)
    arrow(ax, head.east, logits.west)
    loss = label(ax, logits.right + 0.2, y, "cross-entropy\nwith label $y$", ha="left",
                 fontsize=10, color=COLORS["loss"])
    # Back-propagation: how far down the gradient is used to change weights.
    stop = head.left if not trainable_body else 0.2 + 0.8 + 0.35
    arrow(ax, (logits.center[0], y - 0.6), (stop, y - 0.6), color=COLORS["loss"],
          dashed=True, text="gradient updates", fontsize=9, text_offset=(0.0, -0.42))
    return loss


def fine_tune_diagram(n_layers: int = 3):
    """The two fine-tuning steps: a new output layer ``h(x) = V z_K + c`` on top of the
    pretrained encoders; step 1 trains only ``(V, c)`` with the encoders frozen (grey), step 2
    back-propagates into every layer.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(n_layers, int) or not 1 <= n_layers <= 4:
        raise ValueError(f"n_layers must be an integer from 1 to 4, got {n_layers!r}.")
    width = 0.2 + 0.8 + n_layers * 1.3 + 1.75 + 1.35 + 2.6
    fig, ax = canvas(width, 5.0, scale=0.62)
    _classifier_row(ax, 3.6, n_layers, False,
                    "step 1: only the new output layer learns, the encoders are frozen")
    _classifier_row(ax, 1.1, n_layers, True, "step 2: every layer learns (back-propagation)")
    return fig


def end_to_end_diagram(n_layers: int = 2):
    """End-to-end pretraining: one deep autoencoder ``x → f_1 → … → f_K → g_K → … → g_1 → x̂``
    trained at once with ``L(x, x̂)``; only its encoder ``f_K ∘ … ∘ f_1`` is kept.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(n_layers, int) or not 1 <= n_layers <= 4:
        raise ValueError(f"n_layers must be an integer from 1 to 4, got {n_layers!r}.")
    width = 2 * 0.8 + 2 * n_layers * 1.35 + 0.8 + 0.9 + 2.2
    fig, ax = canvas(width, 3.1, scale=0.62)
    y = 1.75
    shape = _data(ax, 0.2, y, "$x$")
    encoders = []
    for j in range(1, n_layers + 1):
        h_in, h_out = 1.5 - 0.35 * (j - 1), 1.5 - 0.35 * j
        enc = trapezoid(ax, shape.right + 0.35, y, 1.0, h_in, h_out, f"$f_{j}$",
                        color=COLORS["encoder"], fontsize=12)
        arrow(ax, shape.east, enc.west, f"$z_{j - 1}$" if j > 1 else "", fontsize=10,
              text_offset=(0.0, 0.1))
        shape = enc
        encoders.append(enc)
    code = _data(ax, shape.right + 0.35, y, f"$z_{n_layers}$")
    arrow(ax, shape.east, code.west)
    shape = code
    for j in range(n_layers, 0, -1):
        h_in, h_out = 1.5 - 0.35 * j, 1.5 - 0.35 * (j - 1)
        dec = trapezoid(ax, shape.right + 0.35, y, 1.0, h_in, h_out, f"$g_{j}$",
                        color=COLORS["decoder"], fontsize=12)
        arrow(ax, shape.east, dec.west, f"$\\hat z_{j}$" if j < n_layers else "",
              fontsize=10, text_offset=(0.0, 0.1))
        shape = dec
    recon = _data(ax, shape.right + 0.35, y, "$\\hat x$", dashed=True)
    arrow(ax, shape.east, recon.west)
    label(ax, recon.right + 0.2, y, "$L(x, \\hat x)$", ha="left", fontsize=11,
          color=COLORS["loss"])
    left, right = encoders[0].left, encoders[-1].right
    bottom = y - 1.05
    ax.plot([left, left, right, right], [bottom + 0.15, bottom, bottom, bottom + 0.15],
            color=COLORS["ink"], lw=1.2)
    stack = {1: "f_1", 2: "f_2 \\circ f_1"}.get(
        n_layers, f"f_{n_layers} \\circ \\cdots \\circ f_1")
    label(ax, (left + right) / 2, bottom - 0.3, f"kept: the encoder ${stack}$", fontsize=10)
    label(ax, width / 2, 2.95, "one deep autoencoder, all layers trained at once", fontsize=10)
    return fig


def layer_gradient_norms(model: nn.Module, x, y) -> list[float]:
    """‖∂L/∂W_l‖_F of the cross-entropy ``L`` on ``(x, y)`` for every ``nn.Linear`` of ``model``, bottom first.

    The chapter uses it at initialisation to show how the gradient reaching the lower layers of a
    deep sigmoid network shrinks, and what pretraining changes about that. The model's
    gradients are restored afterwards (left as they were).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    x = as_data_tensor("x", x, width=_input_width(model))
    y = _labels("y", y, len(x))
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("model has no nn.Linear layer.")
    device = linears[0].weight.device
    grads = torch.autograd.grad(nn.functional.cross_entropy(model(x.to(device)), y.to(device)),
                                [m.weight for m in linears])
    return [float(g.norm()) for g in grads]


def labelled_subset(y, n_per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n_per_class`` examples of every class of ``y`` (seeded, random order)."""
    y = np.asarray(y)
    n_per_class = positive_int("n_per_class", n_per_class)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < n_per_class:
        raise ValueError(f"n_per_class={n_per_class} but class {classes[counts.argmin()]} has only "
                         f"{counts.min()} examples; lower n_per_class or pass more data.")
    # Balanced classes: a stratified draw of n_per_class × n_classes rows is n_per_class per class.
    if np.all(counts == counts[0]):
        return stratified_indices(y, n_per_class * len(classes), seed)
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(y == c), n_per_class, replace=False) for c in classes])
    return chosen[rng.permutation(len(chosen))]


def few_label_comparison(x_labelled_pool, y_labelled_pool, x_test, y_test, *, encoders: dict, probe: dict = (),
                         labels_per_class=(10, 100), seeds=(0, 1, 2), n_classes: int | None = None,
                         steps: int = 300, head_steps: int = 50, batch_size: int = 64, lr: float = 1e-3,
                         device=None) -> list[dict]:
    """Accuracy on ``x_test`` of classifiers fine-tuned on a few labels, for several initialisations.

    For every ``n`` in ``labels_per_class`` and every seed, draws ``n`` labelled examples per
    class from the pool, then for each ``name, encoder`` in ``encoders`` builds
    ``Classifier(deepcopy(encoder))`` and runs :func:`fine_tune` for a fixed number of
    gradient *steps* (``head_steps`` on the head alone, then ``steps`` on everything), so small
    label sets are not short-changed. For each ``name, encoder`` in ``probe`` the encoder stays
    frozen and a logistic regression is fitted on its codes
    (:func:`aelib.metrics.linear_probe_accuracy`).

    Pass a *factory* ``seed -> encoder`` instead of an encoder for the random baseline, so each
    seed gets its own random initialisation.

    Returns
    -------
    list of dict
        Rows ``{"method", "labels_per_class", "seed", "accuracy"}``.
    """
    x_pool = as_data_tensor("x_labelled_pool", x_labelled_pool)
    y_pool = _labels("y_labelled_pool", y_labelled_pool, len(x_pool))
    x_test = as_data_tensor("x_test", x_test, width=x_pool.shape[1])
    y_test = _labels("y_test", y_test, len(x_test))
    n_classes = int(max(y_pool.max(), y_test.max())) + 1 if n_classes is None else n_classes
    steps, head_steps = positive_int("steps", steps), positive_int("head_steps", head_steps, minimum=0)
    probe = dict(probe)
    from threadpoolctl import threadpool_limits  # ships with scikit-learn, which the probes need anyway

    rows = []
    for n in int_sequence("labels_per_class", labels_per_class, allow_empty=False):
        for seed in seeds:
            idx = torch.as_tensor(labelled_subset(y_pool.numpy(), n, seed))
            x, y = x_pool[idx], y_pool[idx]
            batch = min(batch_size, len(x))
            per_epoch = math.ceil(len(x) / batch)
            for name, encoder in encoders.items():
                body = encoder(seed) if callable(encoder) and not isinstance(encoder, nn.Module) else copy.deepcopy(encoder)
                model = Classifier(body, n_classes, seed=seed)
                fine_tune(model, x, y, head_epochs=math.ceil(head_steps / per_epoch),
                          full_epochs=math.ceil(steps / per_epoch), batch_size=batch, lr=lr, seed=seed,
                          device=device, progress=False)
                rows.append({"method": name, "labels_per_class": n, "seed": seed,
                             "accuracy": accuracy(model, x_test, y_test)})
            for name, encoder in probe.items():
                z_train, z_test = predict(encoder, x), predict(encoder, x_test)
                # A probe on a few thousand rows is a chain of tiny BLAS calls: a multi-threaded BLAS
                # pool only adds synchronisation.
                with threadpool_limits(limits=1, user_api="blas"):
                    accuracy_ = linear_probe_accuracy(z_train, y, z_test, y_test)
                rows.append({"method": name, "labels_per_class": n, "seed": seed, "accuracy": accuracy_})
    return rows


def summarize(rows, key: str = "accuracy") -> dict:
    """``{(method, labels_per_class): (mean, std, n_seeds)}`` over the seeds of :func:`few_label_comparison` rows.

    ``std`` is the sample standard deviation (``ddof=1``; 0 for a single seed).
    """
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["method"], row["labels_per_class"]), []).append(row[key])
    return {k: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, len(v))
            for k, v in groups.items()}
