"""Jacobians of encoders and decoders, row by row.

``batch_jacobian`` gives ``∂f(x_i)/∂x_i`` for every row; ``jacobian_frobenius_sq`` gives
``‖J_f(x_i)‖²_F`` exactly, in closed form for a one-layer encoder, or as an unbiased
random-projection estimate. :func:`aelib.penalties.contractive` trains with the latter; chapter
*Contractive autoencoders* derives all three and checks them against each other.

Device rule: both compute where the model's parameters live and return results on the device
of ``x``.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn

from ._checks import as_data_tensor, instance_of, one_of, positive_int

__all__ = ["batch_jacobian", "jacobian_frobenius_sq", "METHODS"]

#: The ways :func:`jacobian_frobenius_sq` computes ``‖J‖²_F``.
METHODS = ("exact", "closed_form", "estimator")

# Derivative of the code non-linearity written in terms of its *output* h, so that the closed
# form can reuse the codes the forward pass already computed instead of recomputing W x + b.
_DERIVATIVE_FROM_OUTPUT = {
    nn.Sigmoid: lambda h: h * (1 - h),
    nn.Tanh: lambda h: 1 - h * h,
    nn.ReLU: lambda h: (h > 0).to(h.dtype),
    nn.Identity: lambda h: torch.ones_like(h),
}


def _encoder_parts(encoder):
    """``(function x ↦ z, module describing it or None)`` for an autoencoder, module or callable."""
    if isinstance(encoder, nn.Module) and callable(getattr(encoder, "encode", None)):
        return encoder.encode, getattr(encoder, "encoder", None)
    if isinstance(encoder, nn.Module):
        return encoder, encoder
    if callable(encoder):
        return encoder, None
    raise TypeError(f"encoder must be an autoencoder, an nn.Module or a callable, got {type(encoder).__name__}.")


def _one_layer_structure(module):
    """``(linear, activation_type)`` if ``module`` is ``Linear`` followed by at most one supported
    element-wise non-linearity, else ``None``."""
    if isinstance(module, nn.Linear):
        return module, nn.Identity
    if isinstance(module, nn.Sequential):
        layers = [m for m in module if not isinstance(m, nn.Identity)]
        if len(layers) == 1 and isinstance(layers[0], nn.Linear):
            return layers[0], nn.Identity
        if len(layers) == 2 and isinstance(layers[0], nn.Linear) and type(layers[1]) in _DERIVATIVE_FROM_OUTPUT:
            return layers[0], type(layers[1])
    return None


def batch_jacobian(fn, x: torch.Tensor, *, create_graph: bool = True) -> torch.Tensor:
    """The Jacobian ``∂fn(x_i)/∂x_i`` at every row of ``x``: shape ``(batch, out_dim, in_dim)``.

    ``fn`` must treat rows independently (an encoder, a decoder, a whole autoencoder; not a
    network with batch normalisation in training mode). Computed with ``torch.func``: ``vmap``
    over ``jacrev`` (one backward pass per output) when there are at most as many outputs as
    inputs, as for an encoder, else over ``jacfwd`` (one forward-mode pass per input), as for a
    decoder. With ``create_graph=True`` the result is differentiable with respect to the
    parameters of ``fn``, so it can be trained through.

    See chapter *Contractive autoencoders*.

    Examples
    --------
    >>> lin = nn.Linear(3, 2)
    >>> torch.allclose(batch_jacobian(lin, torch.randn(4, 3))[0], lin.weight)
    True
    """
    # Cheap checks only (no NaN scan): this runs on every mini-batch of a contractive fit.
    x = as_data_tensor("x", x, width=getattr(fn, "input_dim", None), scan=False)
    return _batch_jacobian(fn, x, create_graph)


def _batch_jacobian(fn, x, create_graph=True):
    from torch.func import jacfwd, jacrev, vmap

    home, where = x.device, _module_device(fn)
    if where is not None and where != home:
        x = x.to(where)  # compute where the model lives; the result goes back to x's device

    def one_row(row):
        return fn(row.unsqueeze(0)).squeeze(0)

    try:
        with torch.no_grad():
            out_dim = one_row(x[0]).numel() if len(x) else 0
        # Reverse mode costs one pass per output, forward mode one per input: take the cheaper.
        transform = jacfwd if out_dim > x.shape[1] else jacrev
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated", category=DeprecationWarning)
            jac = vmap(transform(one_row), randomness="different")(x)
    except (RuntimeError, ValueError) as err:
        if "device" in str(err):
            raise
        raise ValueError("could not differentiate the function row by row; it must map (batch, d) to (batch, k) "
                         f"treating rows independently (no batch norm in training). Original error: {err}") from err
    jac = jac.to(home)
    return jac if create_graph else jac.detach()


def _module_device(fn):
    """The device of ``fn``'s parameters (the module behind a bound method too), or None."""
    module = fn if isinstance(fn, nn.Module) else getattr(fn, "__self__", None)
    if isinstance(module, nn.Module):
        first = next(module.parameters(), None)
        if first is not None:
            return first.device
    return None


def _describe(module, encoder) -> str:
    """A one-line description of an encoder's layers, e.g. ``Linear → ReLU → Linear``."""
    if module is None:
        return f"a {type(encoder).__name__} (not an nn.Module)"
    if isinstance(module, nn.Sequential):
        return " → ".join(type(m).__name__ for m in module) or "an empty Sequential"
    return type(module).__name__


def _draw_normal(shape, like: torch.Tensor, generator) -> torch.Tensor:
    where = like.device if generator is None else generator.device
    return torch.randn(shape, generator=generator, device=where, dtype=like.dtype).to(like.device)


def jacobian_frobenius_sq(encoder, x: torch.Tensor, *, method: str = "exact", n_projections: int = 1,
                          generator: torch.Generator | None = None, codes: torch.Tensor | None = None
                          ) -> torch.Tensor:
    """``‖J_f(x_i)‖²_F = Σ_j ‖∇_x z_j(x_i)‖²`` for every row ``x_i``: a tensor of shape ``(batch,)``.

    Parameters
    ----------
    encoder : Autoencoder, nn.Module or callable
        The map ``f`` (for an autoencoder, its ``encode``).
    x : torch.Tensor, shape (batch, input_dim)
    method : {"exact", "closed_form", "estimator"}
        ``"exact"``: the full Jacobian with ``torch.func`` (any encoder; costs ``latent_dim``
        backward passes). ``"closed_form"``: for a one-layer encoder ``h = s(W x + b)``,
        ``‖J‖²_F = Σ_j s'(a_j)² ‖W_j‖²`` (``s' = h(1−h)`` for a sigmoid); raises ``ValueError``
        for other encoders. ``"estimator"``: the unbiased random-projection estimate
        ``(1/P) Σ_p ‖Jᵀ u_p‖²`` with ``u_p ~ N(0, I)`` in code space — one vector-Jacobian
        product (a backward pass) per projection — or, when the output is wider than the input,
        ``(1/P) Σ_p ‖J v_p‖²`` with ``v_p ~ N(0, I)`` in input space by forward mode. Both have
        mean ``‖J‖²_F`` and variance ``2 Σ_k s_k⁴ / P`` (``s_k`` the singular values of ``J``).
    n_projections : int
        ``P`` for the estimator; its variance falls as ``1/P``.
    generator : torch.Generator, optional
        Source of the projections (the estimator only).
    codes : torch.Tensor, optional
        ``f(x)`` if already computed; the closed form then reuses it instead of recomputing.

    Returns
    -------
    torch.Tensor, shape (batch,)
        Differentiable with respect to the encoder's parameters.

    See chapter *Contractive autoencoders*.

    Examples
    --------
    >>> enc = nn.Sequential(nn.Linear(5, 3), nn.Sigmoid())
    >>> x = torch.randn(4, 5)
    >>> torch.allclose(jacobian_frobenius_sq(enc, x), jacobian_frobenius_sq(enc, x, method="closed_form"))
    True
    """
    method = one_of("method", method, METHODS)
    n_projections = positive_int("n_projections", n_projections)
    instance_of("generator", generator, torch.Generator, optional=True)
    _encoder_parts(encoder)  # a TypeError unless it is an autoencoder, a module or a callable
    # Cheap checks only (no NaN scan): this runs on every mini-batch of a contractive fit.
    x = as_data_tensor("x", x, width=getattr(encoder, "input_dim", None), scan=False)
    return _frobenius_sq(encoder, x, method, n_projections, generator, codes)


def _frobenius_sq(encoder, x, method, n_projections=1, generator=None, codes=None):
    """:func:`jacobian_frobenius_sq` on checked arguments (the contractive penalty calls it)."""
    fn, module = _encoder_parts(encoder)
    home, where = x.device, _module_device(module if module is not None else fn)
    if where is not None and where != home:
        # Compute where the encoder lives; the per-row result goes back to x's device.
        codes = None if codes is None else codes.to(where)
        return _frobenius_sq(encoder, x.to(where), method, n_projections, generator, codes).to(home)

    if method == "closed_form":
        structure = _one_layer_structure(module) if module is not None else None
        if structure is None:
            raise ValueError("method='closed_form' needs a one-layer encoder: Linear followed by Sigmoid, Tanh, "
                             f"ReLU or none; got {_describe(module, encoder)}. Use 'exact' or 'estimator' otherwise.")
        linear, activation = structure
        h = codes if codes is not None else fn(x)
        slope = _DERIVATIVE_FROM_OUTPUT[activation](h)
        return slope.pow(2) @ linear.weight.pow(2).sum(dim=1)

    if method == "exact":
        return _batch_jacobian(fn, x).pow(2).sum(dim=(1, 2))

    # Estimator. For a standard normal vector, E‖J v‖² = tr(JᵀJ) and E‖Jᵀu‖² = tr(JJᵀ), both
    # ‖J‖²_F with the same variance 2 Σ s_k⁴. Project on the smaller side: for an encoder
    # (k ≤ d) a vector-Jacobian product Jᵀu is one ordinary backward pass, cheaper in torch than
    # forward mode; for a wide output, a Jacobian-vector product J v in forward mode.
    x_rep = x.repeat(n_projections, 1) if n_projections > 1 else x
    with torch.enable_grad():
        inputs = x_rep if x_rep.requires_grad else x_rep.detach().requires_grad_(True)
        codes = fn(inputs)
        if codes.shape[1] <= x.shape[1]:
            directions = _draw_normal(codes.shape, codes, generator)
            projected = None
            if codes.requires_grad:  # otherwise the codes do not depend on x at all
                # create_graph: the result must itself be differentiable (double backward).
                (projected,) = torch.autograd.grad(codes, inputs, directions, create_graph=True, allow_unused=True)
            if projected is None:
                projected = torch.zeros_like(x_rep)
    if codes.shape[1] > x.shape[1]:
        from torch.func import jvp

        directions = _draw_normal(x_rep.shape, x, generator)
        with warnings.catch_warnings():
            # torch loads its forward-mode rules on first use through the deprecated
            # torch.jit.script; the warning is about torch's internals, not about this call.
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated", category=DeprecationWarning)
            _, projected = jvp(fn, (x_rep,), (directions,))
    return projected.pow(2).sum(dim=1).reshape(n_projections, x.shape[0]).mean(dim=0)
