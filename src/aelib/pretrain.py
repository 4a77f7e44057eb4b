"""Pretraining deep networks with autoencoders, then fine-tuning them on labels.

See chapter *Pretraining deep networks with autoencoders*. The recipe of Hinton & Salakhutdinov
(2006), Bengio et al. (2007) and Vincent et al. (2010):

1. **Greedy layer-wise pretraining** (:func:`greedy_pretrain`): train a shallow (optionally
   denoising) autoencoder ``x → z₁ → x̂``; compute the codes ``z₁ = f₁(x)`` and train the next
   shallow autoencoder on them, ``z₁ → z₂ → ẑ₁``; and so on. Stacking the encoders
   ``f_K ∘ … ∘ f₁`` gives a deep network that was never trained end to end.
2. **Fine-tuning** (:func:`fine_tune`): put a new output layer on top (:class:`Classifier`);
   step 1 trains only that layer on the labels, step 2 back-propagates through everything.

The alternative, **end-to-end pretraining** (:func:`end_to_end_pretrain`), trains one deep
autoencoder at once and reuses its encoder. Every training step runs through
:func:`aelib.train.fit` / :func:`aelib.train.fit_classifier`; this module only composes them.
"""
from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ._checks import as_data_tensor, int_sequence, positive_int
from .data import stratified_indices
from .metrics import linear_probe_accuracy
from .models import Autoencoder, MLPAutoencoder, make_activation
from .train import History, _labels, fit, fit_classifier, predict

__all__ = [
    "make_encoder", "Pretrained", "greedy_pretrain", "end_to_end_pretrain", "stack_encoders",
    "Classifier", "FineTuneHistory", "fine_tune", "accuracy", "layer_gradient_norms",
    "labelled_subset", "few_label_comparison", "summarize",
]


@contextlib.contextmanager
def _seeded(seed: int | None):
    """Initialise weights from ``seed`` without disturbing the global RNG (``None``: use it as is)."""
    if seed is None:
        yield
        return
    # torch.manual_seed also seeds every CUDA generator: fork (and so restore) those too.
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


def make_encoder(input_dim: int, hidden_dims, activation="sigmoid", *, seed: int | None = None) -> nn.Sequential:
    """A randomly initialised deep encoder ``Linear → activation`` for each width in ``hidden_dims``.

    It has the same layout as the stacks built by :func:`greedy_pretrain` and
    :func:`end_to_end_pretrain`, so it is the *random initialisation* baseline of the chapter.

    Examples
    --------
    >>> make_encoder(784, (256, 64))
    Sequential(
      (0): Linear(in_features=784, out_features=256, bias=True)
      (1): Sigmoid()
      (2): Linear(in_features=256, out_features=64, bias=True)
      (3): Sigmoid()
    )
    """
    input_dim = positive_int("input_dim", input_dim)
    hidden_dims = int_sequence("hidden_dims", hidden_dims, allow_empty=False)
    make_activation(activation)  # validate the name early
    layers: list[nn.Module] = []
    with _seeded(seed):
        for n_in, n_out in zip((input_dim, *hidden_dims[:-1]), hidden_dims):
            layers += [nn.Linear(n_in, n_out), make_activation(activation)]
    return nn.Sequential(*layers)


@dataclass
class Pretrained:
    """The outcome of a pretraining run.

    Attributes
    ----------
    encoder : nn.Sequential
        The deep encoder ``x → z_K`` (a copy: fine-tuning it leaves the autoencoders intact).
    autoencoders : list of Autoencoder
        The trained autoencoder(s): one shallow model per layer (greedy) or one deep model.
    histories : list of History
        One per autoencoder.
    """

    encoder: nn.Sequential
    autoencoders: list = field(default_factory=list)
    histories: list = field(default_factory=list)


def stack_encoders(autoencoders) -> nn.Sequential:
    """``f_K ∘ … ∘ f₁``: the encoders of ``autoencoders`` (in order) flattened into one ``nn.Sequential``.

    The modules are deep copies, so training the stack does not change the autoencoders.
    """
    layers: list[nn.Module] = []
    previous_width = None
    for i, ae in enumerate(autoencoders):
        if not isinstance(ae, Autoencoder):
            raise TypeError(f"autoencoders[{i}] must be an aelib Autoencoder, got {type(ae).__name__}.")
        if previous_width is not None and ae.input_dim != previous_width:
            raise ValueError(
                f"autoencoders[{i}] expects input_dim={ae.input_dim} but the layer below outputs {previous_width}; "
                "each autoencoder must be trained on the codes of the previous one."
            )
        encoder = copy.deepcopy(ae.encoder)
        layers += list(encoder) if isinstance(encoder, nn.Sequential) else [encoder]
        previous_width = ae.latent_dim
    if not layers:
        raise ValueError("autoencoders is empty; pass at least one.")
    return nn.Sequential(*layers)


def _output_for(x: torch.Tensor):
    # A sigmoid decoder can only reconstruct targets in [0, 1]; anything else gets a linear output.
    return "sigmoid" if float(x.min()) >= 0.0 and float(x.max()) <= 1.0 else None


def _code_output(activation):
    # Codes of a sigmoid layer live in (0, 1); ReLU or tanh codes do not, whatever this batch shows.
    return "sigmoid" if isinstance(activation, str) and activation.lower() == "sigmoid" else None


def greedy_pretrain(x, hidden_dims, *, activation="sigmoid", epochs: int = 5, batch_size: int = 128,
                    lr: float = 1e-3, loss="mse", corruption=None, seed: int = 0, device=None,
                    progress: bool = True) -> Pretrained:
    """Greedy layer-wise pretraining with shallow (denoising) autoencoders.

    Layer ``k`` is the autoencoder ``z_{k−1} → z_k = s(W_k z_{k−1} + b_k) → ẑ_{k−1}`` trained with
    :func:`aelib.train.fit` on the codes ``z_{k−1}`` of the layers below (``z₀ = x``), which are
    frozen from then on.

    Parameters
    ----------
    x : tensor, shape (n, input_dim)
        Unlabelled training data.
    hidden_dims : sequence of int
        Width of each layer, bottom to top, e.g. ``(256, 128)``.
    activation : str
        Non-linearity ``s`` of the codes (``"sigmoid"`` as in the 2006–2010 papers, or ``"relu"``).
    epochs, batch_size, lr, loss :
        Passed to :func:`aelib.train.fit` for every layer. A decoder ends in a sigmoid when its
        target lies in ``[0, 1]`` (pixels; codes of sigmoid layers), otherwise it is linear.
    corruption : callable, optional
        A corruption from :mod:`aelib.corrupt` (e.g. ``masking(0.25)``): each layer is then a
        denoising autoencoder (stacked denoising autoencoders, Vincent et al. 2010).
    seed : int
        Layer ``k`` (from 0) is initialised and trained with seed ``seed + k``.
    device, progress :
        As in :func:`aelib.train.fit`.

    Returns
    -------
    Pretrained
        ``encoder`` is the stack of the layers' encoders.

    Examples
    --------
    >>> result = greedy_pretrain(torch.rand(64, 20), (8, 4), epochs=1, progress=False, device="cpu")
    >>> result.encoder(torch.rand(2, 20)).shape
    torch.Size([2, 4])
    """
    codes = as_data_tensor("x", x)
    hidden_dims = int_sequence("hidden_dims", hidden_dims, allow_empty=False)
    autoencoders, histories = [], []
    for k, width in enumerate(hidden_dims):
        with _seeded(seed + k):
            ae = MLPAutoencoder(codes.shape[1], (), width, activation=activation, latent_activation=activation,
                                output=_output_for(codes) if k == 0 else _code_output(activation))
        histories.append(fit(ae, codes, epochs=epochs, batch_size=batch_size, lr=lr, loss=loss,
                             corruption=corruption, seed=seed + k, device=device, progress=progress))
        autoencoders.append(ae)
        codes = predict(ae, codes, fn=ae.encode)  # the next layer's training data
    return Pretrained(stack_encoders(autoencoders), autoencoders, histories)


def end_to_end_pretrain(x, hidden_dims, *, activation="sigmoid", epochs: int = 5, batch_size: int = 128,
                        lr: float = 1e-3, loss="mse", corruption=None, seed: int = 0, device=None,
                        progress: bool = True) -> Pretrained:
    """Train one deep autoencoder ``x → hidden_dims → reversed → x̂`` and keep its encoder.

    The encoder has the same layout as :func:`greedy_pretrain`'s stack (every layer, the code
    included, uses ``activation``); the arguments mean the same.
    """
    x = as_data_tensor("x", x)
    hidden_dims = int_sequence("hidden_dims", hidden_dims, allow_empty=False)
    with _seeded(seed):
        ae = MLPAutoencoder(x.shape[1], hidden_dims[:-1], hidden_dims[-1], activation=activation,
                            latent_activation=activation, output=_output_for(x))
    history = fit(ae, x, epochs=epochs, batch_size=batch_size, lr=lr, loss=loss, corruption=corruption,
                  seed=seed, device=device, progress=progress)
    return Pretrained(copy.deepcopy(ae.encoder), [ae], [history])


def _input_width(model) -> int | None:
    """Input features of ``model`` when it starts with an ``nn.Linear`` (as every encoder built
    here does), else ``None`` (unknown: not checked)."""
    first = getattr(model, "body", model)
    while isinstance(first, nn.Sequential) and len(first):
        first = first[0]
    return first.in_features if isinstance(first, nn.Linear) else getattr(model, "input_dim", None)


def _width(body: nn.Module) -> int:
    linears = [m for m in body.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("encoder has no nn.Linear layer; pass width= explicitly.")
    return linears[-1].out_features


class Classifier(nn.Module):
    """A (pretrained) encoder ``body`` with a new linear output layer ``head`` giving class logits.

    Parameters
    ----------
    body : nn.Module
        Maps ``(batch, input_dim)`` to features; it is used as given (copy it to keep the original).
    n_classes : int
    width : int, optional
        Features out of ``body``; default: ``out_features`` of its last ``nn.Linear``.
    seed : int, optional
        Seeds the head's initialisation.
    """

    def __init__(self, body: nn.Module, n_classes: int, *, width: int | None = None, seed: int | None = None):
        super().__init__()
        if not isinstance(body, nn.Module):
            raise TypeError(f"body must be a torch.nn.Module, got {type(body).__name__}.")
        n_classes = positive_int("n_classes", n_classes, minimum=2)
        width = _width(body) if width is None else positive_int("width", width)
        self.body = body
        with _seeded(seed):
            self.head = nn.Linear(width, n_classes)
        anchor = next(body.parameters(), None)
        if anchor is not None:  # live where the (possibly pretrained, possibly GPU) body lives
            self.head.to(device=anchor.device, dtype=anchor.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass
class FineTuneHistory:
    """Histories of the two fine-tuning steps (``None`` for a step that was skipped)."""

    head: History | None
    full: History | None


def fine_tune(model: Classifier, x, y, *, head_epochs: int = 5, full_epochs: int = 20, batch_size: int = 64,
              lr: float = 1e-3, head_lr: float | None = None, x_val=None, y_val=None, seed: int = 0, device=None,
              progress: bool = True) -> FineTuneHistory:
    """Fine-tune a :class:`Classifier` in two steps with :func:`aelib.train.fit_classifier`.

    Step 1 (``head_epochs``): only the output layer learns; the body is frozen
    (``parameters=model.head.parameters()``, and the body's ``requires_grad`` is switched off
    meanwhile so no time is spent on its gradients). Step 2 (``full_epochs``): every parameter
    learns. Either step is skipped when its epoch count is 0.

    Returns
    -------
    FineTuneHistory
    """
    if not isinstance(model, Classifier):
        raise TypeError(f"model must be an aelib.pretrain.Classifier, got {type(model).__name__}.")
    head_epochs = positive_int("head_epochs", head_epochs, minimum=0)
    full_epochs = positive_int("full_epochs", full_epochs, minimum=0)
    x = as_data_tensor("x", x, width=_input_width(model))
    common = dict(x_val=x_val, y_val=y_val, batch_size=batch_size, seed=seed, device=device, progress=progress)
    head_history = full_history = None
    if head_epochs:
        flags = [p.requires_grad for p in model.body.parameters()]
        for p in model.body.parameters():
            p.requires_grad_(False)
        try:
            head_history = fit_classifier(model, x, y, epochs=head_epochs, lr=lr if head_lr is None else head_lr,
                                          parameters=model.head.parameters(), **common)
        finally:
            for p, flag in zip(model.body.parameters(), flags):
                p.requires_grad_(flag)
    if full_epochs:
        full_history = fit_classifier(model, x, y, epochs=full_epochs, lr=lr, **{**common, "seed": seed + 1})
    return FineTuneHistory(head_history, full_history)


def accuracy(model: nn.Module, x, y) -> float:
    """Fraction of rows of ``x`` whose arg-max logit is the label in ``y``."""
    x = as_data_tensor("x", x, width=_input_width(model))
    y = _labels("y", y, len(x))
    return float((predict(model, x).argmax(1) == y.to(x.device)).float().mean())


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
                # pool only adds synchronisation (measured: ~9x more CPU time on 2 busy cores).
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
