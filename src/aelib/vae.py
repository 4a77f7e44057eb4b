"""The variational autoencoder: a stochastic encoder, a decoder that is a density, and the ELBO.

See chapter *Stochastic autoencoders and the VAE*. Notation (as in the book):

* prior ``p(z) = N(z; 0, I)`` over the code ``z`` (``latent_dim`` numbers);
* encoder ``q_φ(z | x) = N(z; μ(x), diag σ²(x))``; the network outputs ``μ`` and ``log σ²``;
* decoder ``p_θ(x | z)``: independent Bernoulli pixels with means ``g(z)`` (``likelihood="bernoulli"``)
  or ``N(x; g(z), s² I)`` with one scalar standard deviation ``s`` (``likelihood="gaussian"``;
  ``s`` is learned unless ``gaussian_std`` fixes it);
* the evidence lower bound, per example,

  ``L(x) = E_q[log p_θ(x | z)] − KL(q_φ(z | x) ‖ p(z)) ≤ log p_θ(x)``,

  whose first term we call the *reconstruction* term and whose second has the closed form
  ``KL = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)``.

Training minimises ``−E_q[log p_θ(x | z)] + β · KL`` averaged over the mini-batch
(:meth:`VAE.training_loss`), with ``z = μ + σ ⊙ ε``, ``ε ~ N(0, I)`` (the reparameterisation
trick), so :func:`aelib.train.fit` trains it. :func:`log_likelihood` is the importance-weighted
estimate of ``log p_θ(x)`` of Burda et al. (2016). All log-densities are in nats, constants included.

A note on grey-level images: with ``likelihood="bernoulli"`` and pixels in ``[0, 1]`` (not just
0/1), ``log p_θ(x | z)`` is the negative binary cross-entropy. That is what most VAE code trains,
but it is not a normalised density over grey levels, so its "nats" compare only with other
numbers computed the same way.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import (as_data_tensor, instance_of, int_sequence, nonnegative_float, one_of, positive_float,
                      positive_int, same_shape)
from .models import Autoencoder, eval_mode, mlp

__all__ = ["VAE", "ELBO", "elbo", "log_likelihood", "gaussian_kl", "LIKELIHOODS"]

#: Decoder distributions :class:`VAE` supports.
LIKELIHOODS = ("bernoulli", "gaussian")

_LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)``, one value per row (nats).

    Shapes and types are checked; values are not (no NaN scan: this runs on every mini-batch).
    """
    for name, value in (("mu", mu), ("logvar", logvar)):
        if not isinstance(value, torch.Tensor) or not torch.is_floating_point(value):
            raise TypeError(f"{name} must be a floating torch.Tensor, got {getattr(value, 'dtype', type(value).__name__)}.")
    same_shape("logvar", logvar, mu.shape, " (the shape of mu)")
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


class VAE(Autoencoder):
    """A variational autoencoder with fully connected encoder and decoder.

    See chapter *Stochastic autoencoders and the VAE*.

    ``input_dim → hidden_dims → (μ, log σ²) ∈ R^latent_dim × R^latent_dim`` for the encoder and
    ``latent_dim → reversed(hidden_dims) → input_dim`` for the decoder.

    Parameters
    ----------
    input_dim : int
    hidden_dims : sequence of int
        Hidden widths of the encoder (the decoder mirrors them); ``()`` makes both maps affine.
    latent_dim : int
        Size of the code ``z``.
    likelihood : {"bernoulli", "gaussian"}
        The decoder's distribution ``p_θ(x | z)``. Bernoulli: pixel means ``sigmoid(logits)``.
        Gaussian: means are the decoder's (unbounded) outputs and every pixel has the same
        standard deviation ``s``.
    gaussian_std : float, optional
        Fix ``s`` (Gaussian likelihood only). By default ``s`` is a learned scalar,
        parameterised as ``log_std`` and initialised at ``s = 1``.
    activation : str
        Hidden non-linearity (default ``"relu"``).
    beta : float
        Weight of the KL term in :meth:`training_loss` (``β = 1``: the ELBO; β-VAE otherwise).

    Examples
    --------
    >>> model = VAE(784, (400,), 20)
    >>> mu, logvar = model.encode_distribution(torch.zeros(3, 784))
    >>> mu.shape, model.decode(mu).shape
    (torch.Size([3, 20]), torch.Size([3, 784]))
    """

    def __init__(self, input_dim: int, hidden_dims=(400,), latent_dim: int = 20, likelihood: str = "bernoulli",
                 *, gaussian_std: float | None = None, activation="relu", beta: float = 1.0):
        super().__init__(None, None, input_dim, latent_dim)
        input_dim, latent_dim = self.input_dim, self.latent_dim
        hidden_dims = int_sequence("hidden_dims", hidden_dims)
        likelihood = one_of("likelihood", likelihood, LIKELIHOODS)
        if gaussian_std is not None and likelihood != "gaussian":
            raise ValueError("gaussian_std applies to likelihood='gaussian' only; leave it None.")
        width = hidden_dims[-1] if hidden_dims else input_dim
        # One head for both moments: its first latent_dim outputs are μ, the rest log σ².
        self.encoder = nn.Sequential(*mlp((input_dim, *hidden_dims), activation), nn.Linear(width, 2 * latent_dim))
        # The decoder outputs the *parameters* of p_θ(x | z): logits (Bernoulli) or means (Gaussian).
        self.decoder = nn.Sequential(*mlp((latent_dim, *reversed(hidden_dims)), activation),
                                     nn.Linear(hidden_dims[0] if hidden_dims else latent_dim, input_dim))
        self.hidden_dims = hidden_dims
        self.likelihood = likelihood
        self.beta = beta  # validated by the property setter
        if gaussian_std is not None:
            gaussian_std = positive_float("gaussian_std", gaussian_std)
        elif likelihood == "gaussian":
            self.log_std = nn.Parameter(torch.zeros(()))  # learned: s = exp(log_std), starts at 1
        self.gaussian_std = gaussian_std

    # -- β ------------------------------------------------------------------------------------
    @property
    def beta(self) -> float:
        """Weight of the KL term in :meth:`training_loss`; must be ≥ 0."""
        return self._beta

    @beta.setter
    def beta(self, value) -> None:
        self._beta = nonnegative_float("beta", value)

    # -- the two maps -------------------------------------------------------------------------
    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters ``(μ(x), log σ²(x))`` of ``q_φ(z | x)``, each ``(batch, latent_dim)``."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean ``μ(x)``: the deterministic code used for plots and latent maps."""
        return self.encode_distribution(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of ``p_θ(x | z)``: pixel probabilities (Bernoulli) or means (Gaussian)."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor, generator=None) -> torch.Tensor:
        """``z = μ + σ ⊙ ε`` with ``ε ~ N(0, I)``: a sample of ``q_φ(z | x)`` that gradients flow through."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``log p_θ(x | z)`` in nats, summed over pixels; ``z`` may carry extra leading sample axes."""
        out = self.decoder(z)
        if self.likelihood == "bernoulli":
            # Written with logits: stable where sigmoid saturates.
            return -F.binary_cross_entropy_with_logits(out, x.expand_as(out), reduction="none").sum(-1)
        if self.gaussian_std is None:
            log_std, var = self.log_std, torch.exp(2 * self.log_std)
        else:  # a fixed s stays a Python float, exact in any dtype
            log_std, var = math.log(self.gaussian_std), self.gaussian_std**2
        return -0.5 * (((x - out).pow(2) / var).sum(-1) + self.input_dim * (_LOG_2PI + 2 * log_std))

    @property
    def decoder_std(self) -> float | None:
        """The Gaussian decoder's standard deviation ``s`` (learned or fixed); ``None`` for Bernoulli."""
        if self.likelihood != "gaussian":
            return None
        return float(self.gaussian_std if self.gaussian_std is not None else self.log_std.detach().exp())

    def training_loss(self, x_input: torch.Tensor, x_target: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of ``−E_q[log p_θ(x_target | z)] + β · KL(q_φ(z | x_input) ‖ p(z))``.

        One reparameterised sample per example (as Kingma & Welling 2014). At ``β = 1`` and
        ``x_input = x_target`` this is the mean negative ELBO; :func:`aelib.train.fit` calls it.
        """
        mu, logvar = self.encode_distribution(x_input)
        z = self.reparameterize(mu, logvar)
        reconstruction = self.log_px_given_z(x_target, z)
        kl = gaussian_kl(mu, logvar)
        return (-reconstruction + self.beta * kl).mean()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic reconstruction ``g(μ(x))`` (mean of p_θ(x | z) at the posterior mean)."""
        return self.decode(self.encode(x))

    # -- generating -----------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, *, seed: int | None = None) -> torch.Tensor:
        """Decode ``n`` draws ``z ~ N(0, I)`` of the prior; returns the means of ``p_θ(x | z)`` on the CPU.

        Pixel means (not pixel draws) are what the book shows: they are the images the decoder
        "believes in"; Bernoulli draws of them would only add salt-and-pepper noise.
        """
        n = positive_int("n", n)
        device = self.device
        gen = _generator(seed, device)
        z = torch.randn(n, self.latent_dim, generator=gen, device=device)
        return _eval(self, lambda: self.decode(z)).cpu()

    @torch.no_grad()
    def interpolate(self, a, b, steps: int = 8) -> torch.Tensor:
        """Decode ``steps`` evenly spaced codes on the segment from ``μ(a)`` to ``μ(b)`` (ends included).

        Parameters
        ----------
        a, b : tensor, shape (input_dim,) or (1, input_dim)
            Two examples.
        steps : int
            Number of images, at least 2.

        Returns
        -------
        torch.Tensor, shape (steps, input_dim), on the CPU.
        """
        steps = positive_int("steps", steps, minimum=2)
        ends = []
        for name, x in (("a", a), ("b", b)):
            x = torch.as_tensor(x)
            x = as_data_tensor(name, x[None] if x.dim() == 1 else x, width=self.input_dim)
            ends.append(same_shape(name, x, (1, self.input_dim), " (one example)").to(self.device))
        weights = torch.linspace(0, 1, steps, device=self.device)[:, None]
        return _eval(self, lambda: self.decode((1 - weights) * self.encode(ends[0]) + weights * self.encode(ends[1]))).cpu()


class ELBO(NamedTuple):
    """The two terms of the evidence lower bound, in nats per example (means over the data).

    Attributes
    ----------
    reconstruction : float
        ``E_q[log p_θ(x | z)]`` (≤ 0 for Bernoulli pixels).
    kl : float
        ``KL(q_φ(z | x) ‖ p(z))`` (≥ 0), analytic.
    elbo : float
        ``reconstruction − β · kl`` (the ELBO itself at ``β = 1``).
    """

    reconstruction: float
    kl: float
    elbo: float


def _generator(seed, device):
    if seed is None or torch.device(device).type == "mps":
        return None
    return torch.Generator(device=device).manual_seed(positive_int("seed", seed, minimum=0))


def _eval(model, fn):
    with eval_mode(model):
        return fn()


def _check_vae(model, x, n_samples):
    """The checks :func:`elbo` and :func:`log_likelihood` share; returns ``x`` and ``n_samples`` checked."""
    instance_of("model", model, VAE, "an aelib.vae.VAE")
    return as_data_tensor("x", x, width=model.input_dim), positive_int("n_samples", n_samples)


@torch.no_grad()
def elbo(model: VAE, x, beta: float = 1.0, *, n_samples: int = 1, seed: int = 0, batch_size: int = 4096) -> ELBO:
    """The ELBO of ``model`` on ``x`` and its two terms, in nats per example.

    ``E_q[log p_θ(x | z)]`` is estimated with ``n_samples`` reparameterised draws per example
    (seeded, so the result is repeatable); the KL term is exact. See chapter *Stochastic
    autoencoders and the VAE*, section *The evidence lower bound*.

    Parameters
    ----------
    model : VAE
    x : tensor, shape (n, input_dim)
    beta : float
        Weight of the KL term in ``.elbo`` (default 1: the evidence lower bound).
    n_samples : int
        Draws of ``z`` per example for the reconstruction term.
    seed : int
        Seeds the draws.
    batch_size : int
        Examples per forward pass.

    Returns
    -------
    ELBO
        ``(reconstruction, kl, elbo)``, each averaged over the rows of ``x``.

    Examples
    --------
    >>> model = VAE(4, (), 2)
    >>> terms = elbo(model, torch.full((5, 4), 0.5))
    >>> round(terms.reconstruction - terms.kl - terms.elbo, 6)
    0.0
    """
    x, n_samples = _check_vae(model, x, n_samples)
    beta = nonnegative_float("beta", beta)
    batch_size = positive_int("batch_size", batch_size)
    device, dtype = model.device, next(model.parameters()).dtype
    gen = _generator(seed, device)

    def run():
        rec_total, kl_total = 0.0, 0.0
        for lo in range(0, len(x), batch_size):
            xb = x[lo:lo + batch_size].to(device, dtype)
            mu, logvar = model.encode_distribution(xb)
            std = torch.exp(0.5 * logvar)
            eps = torch.randn((n_samples, *mu.shape), generator=gen, device=device, dtype=dtype)
            rec_total += float(model.log_px_given_z(xb, mu + std * eps).mean(0).sum())
            kl_total += float(gaussian_kl(mu, logvar).sum())
        return rec_total / len(x), kl_total / len(x)

    reconstruction, kl = _eval(model, run)
    return ELBO(reconstruction, kl, reconstruction - beta * kl)


@torch.no_grad()
def log_likelihood(model: VAE, x, n_samples: int = 100, *, seed: int = 0, per_example: bool = False,
                   max_rows: int = 65536):
    """The importance-weighted estimate of ``log p_θ(x)`` (Burda et al. 2016), in nats.

    ``log p̂_K(x) = log (1/K) Σ_k p_θ(x | z_k) p(z_k) / q_φ(z_k | x)`` with ``z_k ~ q_φ(z | x)``,
    computed with ``logsumexp``. Its expectation is a lower bound on ``log p_θ(x)`` that equals the
    ELBO's at ``K = 1``, never decreases with ``K``, and tends to ``log p_θ(x)`` as ``K → ∞``.
    See chapter *Stochastic autoencoders and the VAE*.

    Parameters
    ----------
    model : VAE
    x : tensor, shape (n, input_dim)
    n_samples : int
        ``K``, importance samples per example.
    seed : int
        Seeds the draws (repeatable estimates).
    per_example : bool
        Return the ``n`` estimates instead of their mean.
    max_rows : int
        At most this many decoded rows per forward pass (examples × samples), to bound memory.

    Returns
    -------
    float, or torch.Tensor of shape (n,) on the CPU when ``per_example``.
    """
    x, n_samples = _check_vae(model, x, n_samples)
    max_rows = positive_int("max_rows", max_rows)
    device, dtype = model.device, next(model.parameters()).dtype
    gen = _generator(seed, device)
    examples_per_pass = max(1, min(len(x), max_rows // n_samples))
    samples_per_pass = max(1, min(n_samples, max_rows // examples_per_pass))

    def run():
        out = []
        for lo in range(0, len(x), examples_per_pass):
            xb = x[lo:lo + examples_per_pass].to(device, dtype)
            mu, logvar = model.encode_distribution(xb)
            std = torch.exp(0.5 * logvar)
            log_weights = []
            for k in range(0, n_samples, samples_per_pass):
                eps = torch.randn((min(samples_per_pass, n_samples - k), *mu.shape), generator=gen, device=device,
                                  dtype=dtype)
                z = mu + std * eps
                log_prior = -0.5 * (z.pow(2) + _LOG_2PI).sum(-1)
                log_q = -0.5 * (eps.pow(2) + _LOG_2PI + logvar).sum(-1)
                log_weights.append(model.log_px_given_z(xb, z) + log_prior - log_q)
            out.append((torch.logsumexp(torch.cat(log_weights), dim=0) - math.log(n_samples)).cpu())
        return torch.cat(out)

    estimates = _eval(model, run)
    return estimates if per_example else float(estimates.mean())
