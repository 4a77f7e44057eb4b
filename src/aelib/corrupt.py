"""Corruption processes ``C(x̃ | x)`` for denoising autoencoders.

See chapter *Denoising autoencoders*. A denoising autoencoder minimises

.. math:: \\mathbb{E}_{x}\\, \\mathbb{E}_{\\tilde x \\sim C(\\tilde x \\mid x)} L\\big(x, g(f(\\tilde x))\\big),

i.e. it reconstructs the *clean* ``x`` from a corrupted copy ``x̃``. Each factory below returns a
callable ``corruption(x, generator=None) -> x̃`` that :func:`aelib.train.fit` applies afresh to
every mini-batch (it passes a seeded ``torch.Generator`` as ``generator``, so training is
reproducible). The callables keep the input's device, dtype and shape, and never modify ``x``
in place.

==========================  ==============================================================
``gaussian(std, mean=0)``   ``x̃ = x + ε``, ``ε ~ N(mean, std² I)`` (additive isotropic noise)
``masking(p)``              each pixel set to 0 with probability ``p`` (Vincent et al. 2008)
``salt_and_pepper(p)``      each pixel set to its minimum or maximum value with probability ``p``
``block(size, ...)``        one random ``size × size`` square per image set to 0 (inpainting)
==========================  ==============================================================
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import ClassVar

import torch

from ._checks import image_dims, instance_of, nonnegative_float, positive_int, probability, real, same_shape

__all__ = ["Corruption", "gaussian", "masking", "salt_and_pepper", "block", "block_mask"]


def _uniform(x: torch.Tensor, generator, shape=None) -> torch.Tensor:
    """``U(0, 1)`` draws shaped like ``x`` (or ``shape``) on ``x``'s device.

    A generator on another device than ``x`` (e.g. a CPU generator for CUDA data) draws where it
    lives and the result is moved, so any generator works on any data.
    """
    shape = x.shape if shape is None else shape
    where = x.device if generator is None else generator.device
    draw = torch.rand(shape, generator=generator, device=where, dtype=torch.float32)
    return draw.to(device=x.device)


def _normal(x: torch.Tensor, generator) -> torch.Tensor:
    where = x.device if generator is None else generator.device
    # Draw in the data's precision where torch can (float32/64); half precision draws in float32.
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    draw = torch.randn(x.shape, generator=generator, device=where, dtype=dtype)
    return draw.to(device=x.device, dtype=x.dtype)


@dataclass(frozen=True)
class Corruption:
    """A corruption ``C(x̃ | x)``: call it as ``corruption(x, generator=None)``.

    Subclasses are frozen dataclasses (so equality and hashing come from their fields) that
    implement :meth:`_apply`; the ``repr`` shows the non-default fields, e.g.
    ``gaussian(std=0.3)``, for tables and figure titles.
    """

    name: ClassVar[str] = "corruption"

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        instance_of("generator", generator, torch.Generator, optional=True)
        if not torch.is_floating_point(instance_of("x", x, torch.Tensor, "a torch.Tensor")):
            raise TypeError(f"x has dtype {x.dtype}; corrupt float images (e.g. x.float() / 255).")
        return self._apply(x, generator)

    def _apply(self, x, generator):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        shown = [(f.name, getattr(self, f.name)) for f in fields(self)
                 if f.repr and getattr(self, f.name) != f.default]
        args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in shown)
        return f"{self.name}({args})"


@dataclass(frozen=True, repr=False)
class _Gaussian(Corruption):
    std: float
    mean: float = 0.0
    clip: bool = False
    name: ClassVar[str] = "gaussian"

    def _apply(self, x, generator):
        if self.std == 0 and self.mean == 0:
            x_tilde = x.clone()
        else:
            x_tilde = x + self.mean + self.std * _normal(x, generator)
        return x_tilde.clamp(0.0, 1.0) if self.clip else x_tilde


@dataclass(frozen=True, repr=False)
class _Masking(Corruption):
    p: float
    value: float = 0.0
    name: ClassVar[str] = "masking"

    def _apply(self, x, generator):
        # `u < p` rather than `u <= p`: p=0 never masks, and U(0,1) < 1 always, so p=1 masks all.
        hit = _uniform(x, generator) < self.p
        return x.masked_fill(hit, self.value)


@dataclass(frozen=True, repr=False)
class _SaltAndPepper(Corruption):
    p: float
    low: float = 0.0
    high: float = 1.0
    name: ClassVar[str] = "salt_and_pepper"

    def _apply(self, x, generator):
        # One uniform draw decides both whether a pixel is hit (u < p) and, within the hit
        # pixels, which extreme it gets (lower half → low, upper half → high): a fair coin.
        u = _uniform(x, generator)
        hit = u < self.p
        salt = u < self.p / 2
        x_tilde = x.masked_fill(hit, self.low)
        return x_tilde.masked_fill(salt, self.high)


@dataclass(frozen=True, repr=False)
class _Block(Corruption):
    size: int
    image_shape: tuple = field(default=(1, 28, 28), repr=False)
    value: float = 0.0
    name: ClassVar[str] = "block"

    def _apply(self, x, generator):
        width = math.prod(self.image_shape)
        same_shape("x", x, (*x.shape[:1], width), f" = (batch, c·h·w) for image_shape={self.image_shape}")
        return x.masked_fill(_block_mask(x, self.size, self.image_shape, generator), self.value)


def _block_mask(like: torch.Tensor, size: int, image_shape, generator) -> torch.Tensor:
    c, h, w = image_shape
    n = like.shape[0]
    corners = _uniform(like, generator, shape=(n, 2))
    top = (corners[:, 0] * (h - size + 1)).long().clamp_max(h - size)
    left = (corners[:, 1] * (w - size + 1)).long().clamp_max(w - size)
    rows = torch.arange(h, device=like.device)
    cols = torch.arange(w, device=like.device)
    in_rows = (rows[None, :] >= top[:, None]) & (rows[None, :] < top[:, None] + size)
    in_cols = (cols[None, :] >= left[:, None]) & (cols[None, :] < left[:, None] + size)
    return (in_rows[:, :, None] & in_cols[:, None, :])[:, None].expand(n, c, h, w).reshape(n, -1)


def block_mask(n: int, size: int, image_shape=(1, 28, 28), *, generator: torch.Generator | None = None,
               device=None) -> torch.Tensor:
    """The boolean masks :func:`block` draws: ``(n, c·h·w)``, ``True`` inside one random
    ``size × size`` square per row. With the same generator state, ``block(size)`` masks
    exactly these pixels, so an inpainting experiment can score the filled-in region.

    See chapter *Denoising autoencoders*, section *Inpainting*.

    Examples
    --------
    >>> block_mask(2, 3, (1, 5, 5), generator=torch.Generator().manual_seed(0)).sum(dim=1)
    tensor([9, 9])
    """
    n = positive_int("n", n)
    corruption = block(size, image_shape)  # validates size and image_shape
    like = torch.empty(n, 0, device=device)
    generator = instance_of("generator", generator, torch.Generator, optional=True)
    return _block_mask(like, corruption.size, corruption.image_shape, generator)


def gaussian(std: float, mean: float = 0.0, clip: bool = False) -> Corruption:
    """Additive isotropic Gaussian noise, ``x̃ = x + ε`` with ``ε ~ N(μ, σ² I)``.

    Parameters
    ----------
    std : float
        Noise standard deviation ``σ ≥ 0``.
    mean : float
        Noise mean ``μ`` (default 0).
    clip : bool
        Clamp ``x̃`` to ``[0, 1]`` (keeps corrupted pixels in the image range).

    Returns
    -------
    Corruption
        ``corruption(x, generator=None) -> x̃``.

    See chapter *Denoising autoencoders*.

    Examples
    --------
    >>> noise = gaussian(0.3)
    >>> noise
    gaussian(std=0.3)
    >>> noise(torch.zeros(2, 4), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 4])
    """
    std = nonnegative_float("std", std)
    return _Gaussian(std, real("mean", mean), bool(clip))


def masking(p: float, value: float = 0.0) -> Corruption:
    """Masking noise: every pixel is independently set to ``value`` (0) with probability ``p``.

    The corruption of Vincent et al. (2008): the network must fill in the missing pixels from
    the ones it still sees. See chapter *Denoising autoencoders*.

    Parameters
    ----------
    p : float in [0, 1]
        Fraction of pixels knocked out (on average).
    value : float
        What a knocked-out pixel becomes.

    Returns
    -------
    Corruption

    Examples
    --------
    >>> masking(0.25)(torch.ones(1, 8), generator=torch.Generator().manual_seed(0))
    tensor([[1., 1., 0., 0., 1., 1., 1., 1.]])
    """
    p = probability("p", p)
    return _Masking(p, real("value", value))


def salt_and_pepper(p: float, low: float = 0.0, high: float = 1.0) -> Corruption:
    """Salt-and-pepper noise: with probability ``p`` a pixel is set to ``low`` or ``high``
    (a fair coin decides which); otherwise it is kept.

    See chapter *Denoising autoencoders* (Vincent et al. 2010 use it for binary-ish images).

    Parameters
    ----------
    p : float in [0, 1]
        Fraction of pixels hit (on average); half of them become ``low``, half ``high``.
    low, high : float
        The two extreme values (default 0 and 1).

    Returns
    -------
    Corruption

    Examples
    --------
    >>> salt_and_pepper(0.1)
    salt_and_pepper(p=0.1)
    """
    p = probability("p", p)
    low, high = real("low", low), real("high", high)
    if low > high:
        raise ValueError(f"low must not exceed high, got low={low}, high={high}.")
    return _SaltAndPepper(p, low, high)


def block(size: int, image_shape=(1, 28, 28), value: float = 0.0) -> Corruption:
    """Block masking: one ``size × size`` square per image, at a uniformly random position,
    is set to ``value`` (0). Trains a network to *inpaint* missing regions.

    See chapter *Denoising autoencoders*, section *Inpainting*.

    Parameters
    ----------
    size : int
        Side of the square in pixels (at most the image height and width).
    image_shape : (channels, height, width)
        How the flattened rows are laid out; every channel is masked at the same place.
    value : float
        What the masked pixels become.

    Returns
    -------
    Corruption

    Examples
    --------
    >>> x_tilde = block(4, (1, 8, 8))(torch.ones(3, 64), generator=torch.Generator().manual_seed(0))
    >>> (x_tilde == 0).sum(dim=1)
    tensor([16, 16, 16])
    """
    shape = image_dims(image_shape)
    size = positive_int("size", size, maximum=min(shape[1:]))  # the square must fit in the image
    return _Block(size, shape, real("value", value))
