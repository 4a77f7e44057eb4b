"""Chapter helpers for *Pretraining deep networks with autoencoders* (book/07_pretraining): the
few-label experiment harness (labelled subsets, repeated fine-tuning, linear probes, summaries)
and the gradient-size diagnostic. The pretraining itself is :mod:`aelib.pretrain`.
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
