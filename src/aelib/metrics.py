"""How good is a reconstruction, a code, a subspace.

See chapter *Autoencoders*. ``reconstruction_error`` is the measure of Hinton & Salakhutdinov
(2006): the per-image *sum* of squared pixel errors, averaged over images.
"""
from __future__ import annotations

import numpy as np
import torch

from ._checks import as_data_tensor, one_per_row, positive_float, positive_int, same_shape
from .device import _float64
from .models import _predict

__all__ = [
    "reconstruction_error",
    "per_example_error",
    "pca",
    "pca_reconstruct",
    "pca_reconstruction_error",
    "principal_angles",
    "psnr",
    "linear_probe_accuracy",
    "knn_accuracy",
]


def per_example_error(x_hat, x) -> torch.Tensor:
    """``‖x̂_i − x_i‖²`` for every row ``i``."""
    x = as_data_tensor("x", x)
    x_hat = same_shape("x_hat", as_data_tensor("x_hat", x_hat), x.shape, " (the same shape as x)")
    return _per_example_error(x_hat, x)


def _per_example_error(x_hat, x):
    return (x_hat - x).pow(2).sum(dim=1)


def reconstruction_error(model, x, *, batch_size: int = 4096) -> float:
    """Mean over examples of the per-example sum of squared errors, ``(1/N) Σ_i ‖x_i − g(f(x_i))‖²``."""
    x = as_data_tensor("x", x, width=getattr(model, "input_dim", None))
    return float(_per_example_error(_predict(model, x, batch_size), x).mean())


def pca(x_train, k: int):
    """The top-``k`` principal directions of ``x_train``.

    Returns
    -------
    mean : torch.Tensor, shape (d,)
    components : torch.Tensor, shape (k, d)
        Orthonormal rows, ordered by explained variance.
    explained_variance : torch.Tensor, shape (k,)
    """
    x = as_data_tensor("x_train", x_train)
    return _pca(x, positive_int("k", k, maximum=min(x.shape)))  # at most min(n_examples, n_features)


def _pca(x, k):
    device, x = x.device, _float64(x)
    mean = x.mean(0)
    _, s, vh = torch.linalg.svd(x - mean, full_matrices=False)
    # Fix the sign of each direction (largest |entry| positive) so results are reproducible.
    signs = torch.sign(vh[:k].gather(1, vh[:k].abs().argmax(1, keepdim=True))).squeeze(1)
    comps = vh[:k] * signs[:, None]
    return mean.float().to(device), comps.float().to(device), (s[:k] ** 2 / max(len(x) - 1, 1)).float().to(device)


def pca_reconstruct(x_train, x, k: int) -> torch.Tensor:
    """Project ``x`` onto the top-``k`` principal subspace of ``x_train`` and back."""
    mean, comps, _ = pca(x_train, k)
    return _pca_reconstruct(mean, comps, as_data_tensor("x", x, width=mean.shape[0]))


def _pca_reconstruct(mean, comps, x):
    return (x - mean) @ comps.T @ comps + mean


def pca_reconstruction_error(x_train, x_test, k: int) -> float:
    """:func:`reconstruction_error` of a rank-``k`` PCA fitted on ``x_train``, evaluated on ``x_test``."""
    x_train = as_data_tensor("x_train", x_train)
    x_test = as_data_tensor("x_test", x_test, width=x_train.shape[1])
    mean, comps, _ = _pca(x_train, positive_int("k", k, maximum=min(x_train.shape)))
    return float(_per_example_error(_pca_reconstruct(mean, comps, x_test), x_test).mean())


def principal_angles(a, b) -> torch.Tensor:
    """Principal angles (degrees, ascending) between the column spaces of ``a`` and ``b`` (d × k).

    0° everywhere means the same subspace. Computed from the singular values of ``Q_aᵀ Q_b``.
    """
    a = as_data_tensor("a", a, allow_int=True)
    device, a = a.device, _float64(a)
    b = _float64(as_data_tensor("b", b, allow_int=True))
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must be d × k matrices with the same d, got {tuple(a.shape)} and {tuple(b.shape)}.")
    qa, _ = torch.linalg.qr(a)
    qb, _ = torch.linalg.qr(b)
    cos = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cos)).float().to(device)


def psnr(x_hat, x, max_value: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(max² / MSE)`` per image, averaged over images."""
    max_value = positive_float("max_value", max_value)
    x_hat = _float64(as_data_tensor("x_hat", x_hat, allow_int=True))
    x = _float64(as_data_tensor("x", x, allow_int=True))
    same_shape("x_hat", x_hat, x.shape, " (the same shape as x)")
    mse = (x_hat - x).pow(2).reshape(len(x), -1).mean(1).clamp_min(1e-12)
    return float((10 * torch.log10(max_value**2 / mse)).mean())


def linear_probe_accuracy(z_train, y_train, z_test, y_test, *, max_iter: int = 1000, C: float = 1.0) -> float:
    """Test accuracy of a logistic regression trained on frozen codes (standardised first)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    _check_codes(z_train, y_train, z_test, y_test)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, C=C))
    clf.fit(np.asarray(z_train), np.asarray(y_train))
    return float(clf.score(np.asarray(z_test), np.asarray(y_test)))


def _check_codes(z_train, y_train, z_test, y_test):
    """Codes: finite 2-D rows of equal width; labels: one per row (the arrays pass on unchanged)."""
    width = as_data_tensor("z_train", _detached(z_train), allow_int=True).shape[1]
    as_data_tensor("z_test", _detached(z_test), width=width, allow_int=True)
    for name, y, z in (("y_train", y_train, z_train), ("y_test", y_test, z_test)):
        one_per_row(name, y, len(z))


def _detached(z):
    return z.detach() if isinstance(z, torch.Tensor) and z.device.type != "meta" else z


def knn_accuracy(z_train, y_train, z_test, y_test, *, n_neighbors: int = 10) -> float:
    """Test accuracy of a k-nearest-neighbour classifier in code space: how well a code keeps
    classes apart without any training on labels beyond the neighbours' votes."""
    from sklearn.neighbors import KNeighborsClassifier

    n_neighbors = positive_int("n_neighbors", n_neighbors)
    _check_codes(z_train, y_train, z_test, y_test)
    clf = KNeighborsClassifier(n_neighbors=n_neighbors).fit(np.asarray(z_train), np.asarray(y_train))
    return float(clf.score(np.asarray(z_test), np.asarray(y_test)))


def reconstruction_r2(model, x, reference_mean) -> float:
    """How much of ``x`` the model reproduces: ``R² = 1 − Σ_i ‖x_i − x̂_i‖² / Σ_i ‖x_i − x̄‖²``.

    ``x̄`` is ``reference_mean``, the average *training* image: ``R² = 1`` is a perfect copy,
    ``R² = 0`` is no better than answering every input with the average training image, and
    ``R² < 0`` is worse than that. On test images it is the fraction of variance explained.
    """
    x = as_data_tensor("x", x, width=getattr(model, "input_dim", None))
    reference_mean = torch.as_tensor(reference_mean, dtype=x.dtype, device=x.device).reshape(1, -1)
    same_shape("reference_mean", reference_mean, (1, x.shape[1]), " = (1, n_features)")
    residual = _per_example_error(_predict(model, x), x).sum()
    spread = _per_example_error(reference_mean.expand_as(x), x).sum()
    return float(1 - residual / spread)
