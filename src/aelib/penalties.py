"""Regularisers plugged into :func:`aelib.train.fit` through its ``penalty`` hook.

A penalty is a callable ``penalty(model, x_input, z) -> scalar tensor`` that is *added* to the
reconstruction loss of every mini-batch. The factories below return such callables with their
weight baked in, e.g. ``fit(model, x, penalty=l1_activity(1e-3))``. Penalties are averaged over
the mini-batch so that their weight does not depend on the batch size.

See chapters *Sparse coding and sparse autoencoders* (L1 activity, KL sparsity, weight decay)
and *Contractive autoencoders* (``contractive``).
"""
from __future__ import annotations

import torch
from torch import nn

from ._checks import callable_arg, instance_of, nonnegative_float, one_of, positive_int, real
from .jacobian import METHODS, _frobenius_sq

__all__ = ["l1_activity", "kl_sparsity", "kl_bernoulli", "weight_penalty", "combine", "contractive"]


def l1_activity(weight: float):
    """``λ · (1/B) Σ_i ‖z_i‖₁`` — pushes most code units to exactly zero."""
    weight = nonnegative_float("weight", weight)

    def penalty(model, x, z):
        return weight * z.abs().sum(dim=1).mean()

    penalty.weight = weight
    return penalty


def kl_bernoulli(rho: float, rho_hat: torch.Tensor) -> torch.Tensor:
    """``KL(ρ ‖ ρ̂_j) = ρ log(ρ/ρ̂_j) + (1−ρ) log((1−ρ)/(1−ρ̂_j))`` for every unit ``j``.

    ``ρ`` must lie strictly inside (0, 1); ``ρ̂`` is clamped to ``[10⁻⁶, 1 − 10⁻⁶]`` (not
    checked, since this runs on every mini-batch).
    """
    rho = real("rho", rho, 0.0, 1.0, open_low=True, open_high=True)  # the target activation ρ
    instance_of("rho_hat", rho_hat, torch.Tensor, "a torch.Tensor of mean activations")
    return _kl_bernoulli(rho, rho_hat)


def _kl_bernoulli(rho, rho_hat):
    rho_hat = rho_hat.clamp(1e-6, 1 - 1e-6)
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


def kl_sparsity(weight: float, target: float = 0.05):
    """``λ_KL · Σ_j KL(ρ ‖ ρ̂_j)`` with ``ρ̂_j`` the mean activation of unit ``j`` over the batch.

    Needs codes in ``(0, 1)`` (a sigmoid code layer, ``latent_activation="sigmoid"``). The range
    is checked on the first mini-batch only: a check on every step would make the GPU wait.
    """
    weight = nonnegative_float("weight", weight)
    target = real("target", target, 0.0, 1.0, open_low=True, open_high=True)  # ρ

    checked = False

    def penalty(model, x, z):
        nonlocal checked
        if not checked:
            if z.min() < 0 or z.max() > 1:
                raise ValueError("kl_sparsity needs codes in [0, 1]; use latent_activation='sigmoid'.")
            checked = True
        return weight * _kl_bernoulli(target, z.mean(dim=0)).sum()

    penalty.weight, penalty.target = weight, target
    return penalty


def weight_penalty(weight: float, p: int = 2, modules: str = "all"):
    """``η · Σ ‖W‖_p^p`` over the weight matrices of linear/conv layers (biases excluded).

    ``p=2`` is the Frobenius penalty ``η‖W‖²_F``; ``p=1`` the L1 weight penalty.
    ``modules``: ``"all"``, ``"encoder"`` or ``"decoder"``.
    """
    weight = nonnegative_float("weight", weight)
    p = one_of("p", p, (1, 2))
    modules = one_of("modules", modules, ("all", "encoder", "decoder"))

    def penalty(model, x, z):
        root = model if modules == "all" else getattr(model, modules)
        total = 0.0
        for m in root.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                total = total + (m.weight.abs().sum() if p == 1 else m.weight.pow(2).sum())
        return weight * total

    penalty.weight = weight
    return penalty


def combine(*penalties):
    """Sum several penalties into one callable."""
    for i, p in enumerate(penalties):
        callable_arg(f"penalties[{i}]", p, "(model, x_input, z) -> scalar tensor")

    def penalty(model, x, z):
        return sum(p(model, x, z) for p in penalties)

    return penalty


# --------------------------------------------------------------------------------------------
# Contractive penalty  λ ‖J_f(x)‖²_F  (chapter *Contractive autoencoders*)
# --------------------------------------------------------------------------------------------



def contractive(weight: float, method: str = "exact", n_projections: int = 1,
                generator: torch.Generator | None = None):
    """The contractive penalty ``λ · (1/B) Σ_i ‖J_f(x_i)‖²_F`` (Rifai et al. 2011).

    ``‖J_f(x)‖²_F = Σ_j ‖∇_x z_j‖²`` measures how much the code moves when the input moves;
    penalising it makes the encoder insensitive to every direction the reconstruction loss
    does not need — it contracts the input space except along the data.

    Parameters
    ----------
    weight : float
        ``λ ≥ 0``.
    method : {"exact", "closed_form", "estimator"}
        See :func:`jacobian_frobenius_sq`. ``"closed_form"`` needs a one-layer encoder
        (``MLPAutoencoder(d, (), k, latent_activation="sigmoid")``) and checks this on first use.
    n_projections : int
        Random projections per example for ``"estimator"``.
    generator : torch.Generator, optional
        Projections for ``"estimator"`` (default: the global RNG, which :func:`aelib.train.fit`
        seeds).

    Returns
    -------
    callable
        ``penalty(model, x_input, z) -> scalar`` for :func:`aelib.train.fit`.

    See chapter *Contractive autoencoders*.

    Examples
    --------
    >>> from aelib.models import MLPAutoencoder
    >>> model = MLPAutoencoder(784, (), 64, latent_activation="sigmoid")
    >>> penalty = contractive(0.1, method="closed_form")
    >>> x = torch.rand(8, 784)
    >>> penalty(model, x, model.encode(x)).shape
    torch.Size([])
    """
    weight = nonnegative_float("weight", weight)
    method = one_of("method", method, METHODS)
    n_projections = positive_int("n_projections", n_projections)
    instance_of("generator", generator, torch.Generator, optional=True)
    if method == "closed_form" and n_projections != 1:
        raise ValueError("n_projections only applies to method='estimator'.")

    def penalty(model, x, z):
        codes = z if method == "closed_form" else None
        return weight * _frobenius_sq(model, x, method, n_projections, generator, codes).mean()

    penalty.weight, penalty.method, penalty.n_projections = weight, method, n_projections
    return penalty
