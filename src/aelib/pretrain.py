"""Pretraining deep networks with autoencoders, then fine-tuning them on labels.

See chapter *Pretraining deep networks with autoencoders*. The recipe of Bengio et al. (2007) and
Vincent et al. (2010), who stacked autoencoders where Hinton & Salakhutdinov (2006) had stacked
restricted Boltzmann machines:

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

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from ._checks import as_data_tensor, instance_of, int_sequence, positive_int
from .device import seeded
from .models import Autoencoder, Classifier, MLPAutoencoder, _predict, make_activation, mlp
from .train import History, _labels, fit, fit_classifier

__all__ = [
    "make_encoder", "Pretrained", "greedy_pretrain", "end_to_end_pretrain", "stack_encoders",
    "FineTuneHistory", "fine_tune", "accuracy",
]


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
    with seeded(seed):
        return mlp((input_dim, *hidden_dims), activation)


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
        instance_of(f"autoencoders[{i}]", ae, Autoencoder, "an aelib Autoencoder")
        if previous_width is not None and ae.input_dim != previous_width:
            raise ValueError(f"autoencoders[{i}] expects input_dim={ae.input_dim} but the layer below outputs "
                             f"{previous_width}; train each autoencoder on the codes of the previous one.")
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
        with seeded(seed + k):
            ae = MLPAutoencoder(codes.shape[1], (), width, activation=activation, latent_activation=activation,
                                output=_output_for(codes) if k == 0 else _code_output(activation))
        histories.append(fit(ae, codes, epochs=epochs, batch_size=batch_size, lr=lr, loss=loss,
                             corruption=corruption, seed=seed + k, device=device, progress=progress))
        autoencoders.append(ae)
        codes = _predict(ae, codes, fn=ae.encode)  # the next layer's training data
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
    with seeded(seed):
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
    instance_of("model", model, Classifier, "an aelib.pretrain.Classifier")
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
    return float((_predict(model, x).argmax(1) == y.to(x.device)).float().mean())


