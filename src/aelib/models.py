"""Autoencoder architectures: an encoder f, a decoder g, and a bottleneck z = f(x).

See chapter *Autoencoders*. Every model here is an :class:`Autoencoder`: ``encode(x)`` gives the
code ``z = f(x)``, ``decode(z)`` the reconstruction ``x̂ = g(z)``, ``forward(x) = g(f(x))``.
Inputs are flattened rows (``batch × input_dim``), also for the convolutional model, so every
model plugs into the same :func:`aelib.train.fit`.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable

import torch
from torch import nn

from ._checks import as_data_tensor, image_dims, instance_of, int_sequence, positive_int
from .device import seeded

__all__ = ["Autoencoder", "MLPAutoencoder", "ConvAutoencoder", "LinearAutoencoder", "Classifier", "mlp",
           "make_activation", "eval_mode", "predict"]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
    "linear": nn.Identity,
}


def make_activation(name) -> nn.Module:
    """An activation module from its name (``"relu"``, ``"sigmoid"``, …), ``None`` for identity,
    or a module instance/class passed through."""
    if name is None:
        return nn.Identity()
    if isinstance(name, nn.Module):
        return name
    if isinstance(name, type) and issubclass(name, nn.Module):
        return name()
    if isinstance(name, str) and name.lower() in _ACTIVATIONS:
        return _ACTIVATIONS[name.lower()]()
    raise ValueError(f"unknown activation {name!r}; choose one of {sorted(_ACTIVATIONS)} or pass an nn.Module.")


class Autoencoder(nn.Module):
    """An encoder/decoder pair.

    Parameters
    ----------
    encoder : nn.Module
        Maps ``(batch, input_dim)`` to codes ``(batch, latent_dim)``.
    decoder : nn.Module
        Maps codes back to ``(batch, input_dim)``.
    input_dim, latent_dim : int
        Recorded for checks and for the book's tables. Subclasses call this first, with
        ``encoder=decoder=None``, so that the sizes are checked here once, then build the maps.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, input_dim: int, latent_dim: int):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.input_dim = positive_int("input_dim", input_dim)
        self.latent_dim = positive_int("latent_dim", latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``z = f(x)``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``x̂ = g(z)``."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def mlp(sizes, activation="relu", last_activation="same") -> nn.Sequential:
    """``Linear → activation`` for every consecutive pair of ``sizes``; the last layer gets
    ``last_activation`` (``"same"``: ``activation``; ``None``: none). The one MLP builder of the
    library: autoencoders, the VAE and the pretraining stacks all use it.

    >>> mlp((4, 3, 2), "relu", None)
    Sequential(
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): ReLU()
      (2): Linear(in_features=3, out_features=2, bias=True)
    )
    """
    last_activation = activation if last_activation == "same" else last_activation
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        is_last = i == len(sizes) - 2
        layers.append(make_activation(last_activation if is_last else activation))
    return nn.Sequential(*[m for m in layers if not isinstance(m, nn.Identity)])


class MLPAutoencoder(Autoencoder):
    """A fully connected autoencoder ``input_dim → hidden_dims → latent_dim → reversed(hidden_dims) → input_dim``.

    Parameters
    ----------
    input_dim : int
    hidden_dims : sequence of int
        Widths of the encoder's hidden layers; the decoder mirrors them. ``()`` gives a shallow
        autoencoder (one layer each way).
    latent_dim : int
        Size of the code z.
    activation : str or nn.Module
        Hidden non-linearity (default ``"relu"``).
    latent_activation : str, optional
        Non-linearity on the code (``None``: linear code, as in Hinton & Salakhutdinov 2006;
        ``"sigmoid"`` for the sparse and contractive chapters).
    output : str, optional
        Output non-linearity: ``"sigmoid"`` (default, pixels in [0, 1]) or ``None``.

    Examples
    --------
    >>> model = MLPAutoencoder(784, (256,), 20)
    >>> model(torch.zeros(3, 784)).shape
    torch.Size([3, 784])
    """

    def __init__(self, input_dim: int, hidden_dims=(256,), latent_dim: int = 32, activation="relu",
                 latent_activation=None, output="sigmoid"):
        super().__init__(None, None, input_dim, latent_dim)
        input_dim, latent_dim = self.input_dim, self.latent_dim
        hidden_dims = int_sequence("hidden_dims", hidden_dims)
        self.encoder = mlp((input_dim, *hidden_dims, latent_dim), activation, latent_activation)
        self.decoder = mlp((latent_dim, *reversed(hidden_dims), input_dim), activation, output)
        self.hidden_dims = hidden_dims


class LinearAutoencoder(Autoencoder):
    """``x̂ = W_dec (W_enc x + b_enc) + b_dec`` with no non-linearity.

    Trained with squared error it spans the same subspace as the top ``latent_dim`` principal
    components, without orthonormal weights (chapter *Autoencoders*, section *Linear AE vs PCA*).
    """

    def __init__(self, input_dim: int, latent_dim: int, bias: bool = True):
        super().__init__(None, None, input_dim, latent_dim)
        self.encoder = nn.Linear(self.input_dim, self.latent_dim, bias=bias)
        self.decoder = nn.Linear(self.latent_dim, self.input_dim, bias=bias)


class ConvAutoencoder(Autoencoder):
    """A convolutional autoencoder on flattened images.

    Encoder: ``len(channels)`` stride-2 3×3 convolutions (ReLU), then a linear layer to the code.
    Decoder: the mirror image with transposed convolutions, ending in a sigmoid. Spatial sizes
    are tracked exactly, so any ``image_shape`` works (28×28, 8×8, …).

    Parameters
    ----------
    image_shape : (channels, height, width)
    channels : sequence of int
        Feature maps after each down-sampling step, e.g. ``(16, 32)``.
    latent_dim : int
    """

    def __init__(self, image_shape=(1, 28, 28), channels=(16, 32), latent_dim: int = 20):
        image_shape = image_dims(image_shape)
        channels = int_sequence("channels", channels, allow_empty=False)
        super().__init__(None, None, math.prod(image_shape), latent_dim)
        latent_dim = self.latent_dim
        c, h, w = image_shape
        sizes = [(h, w)]
        for _ in channels:
            h, w = (h + 1) // 2, (w + 1) // 2  # 3×3 kernel, stride 2, padding 1: never below 1
            sizes.append((h, w))
        flat = channels[-1] * h * w
        enc: list[nn.Module] = [nn.Unflatten(1, image_shape)]
        in_ch = c
        for out_ch in channels:
            enc += [nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1), nn.ReLU()]
            in_ch = out_ch
        enc += [nn.Flatten(), nn.Linear(flat, latent_dim)]
        dec: list[nn.Module] = [nn.Linear(latent_dim, flat), nn.ReLU(), nn.Unflatten(1, (channels[-1], h, w))]
        outs = list(reversed(channels[:-1])) + [c]
        for i, out_ch in enumerate(outs):
            target_h, target_w = sizes[-2 - i]
            cur_h, cur_w = sizes[-1 - i]
            pad = (target_h - (2 * cur_h - 1), target_w - (2 * cur_w - 1))  # output_padding to hit size
            dec.append(nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=pad))
            dec.append(nn.ReLU() if i < len(outs) - 1 else nn.Sigmoid())
            in_ch = out_ch
        dec.append(nn.Flatten())
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)
        self.image_shape = image_shape
        self.channels = channels


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
        instance_of("body", body, nn.Module, "a torch.nn.Module")
        n_classes = positive_int("n_classes", n_classes, minimum=2)
        width = _width(body) if width is None else positive_int("width", width)
        self.body = body
        with seeded(seed):
            self.head = nn.Linear(width, n_classes)
        anchor = next(body.parameters(), None)
        if anchor is not None:  # live where the (possibly pretrained, possibly GPU) body lives
            self.head.to(device=anchor.device, dtype=anchor.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Switch ``model`` to evaluation mode inside the block and back to its previous mode after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def predict(model: nn.Module, x, *, batch_size: int = 4096, device=None, fn=None) -> torch.Tensor:
    """Apply ``fn`` (default: ``model`` itself) to ``x`` in batches, in eval mode, without gradients.

    Runs where the model's parameters live (or on ``device``); the result is on the device of
    ``x`` (a NumPy array counts as the CPU), so it can be compared with ``x`` directly.
    """
    return _predict(model, as_data_tensor("x", x), batch_size, device, fn)


@torch.no_grad()
def _predict(model, x, batch_size=4096, device=None, fn=None):
    """:func:`predict` on a checked tensor ``x`` (what the other aelib functions call)."""
    home = x.device
    fn = model if fn is None else fn
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    with eval_mode(model):
        outs = [fn(x[lo:lo + batch_size].to(device)).to(home) for lo in range(0, len(x), batch_size)]
    return torch.cat(outs)
