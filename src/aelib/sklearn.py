"""A scikit-learn estimator around :class:`aelib.models.MLPAutoencoder`.

``AutoencoderTransformer`` follows scikit-learn's conventions: parameters are stored unchanged in
``__init__``, learned state ends in ``_``, ``fit`` returns ``self``; so it works inside
``Pipeline``, ``GridSearchCV`` and ``clone``. See chapter *Autoencoders*, section *Applications*.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .device import pick_device
from .models import MLPAutoencoder
from .models import predict
from .train import fit

__all__ = ["AutoencoderTransformer"]


class AutoencoderTransformer(TransformerMixin, BaseEstimator):
    """Reduce dimension with an MLP autoencoder: ``transform`` gives codes, ``inverse_transform`` decodes.

    Parameters
    ----------
    latent_dim : int, default=32
        Size of the code.
    hidden_dims : tuple of int, default=(256,)
        Encoder hidden widths (the decoder mirrors them).
    activation : str, default="relu"
    output : {"sigmoid", None}, default=None
        Output non-linearity. ``"sigmoid"`` for data in ``[0, 1]`` (pixels); ``None`` for
        unbounded features (e.g. after ``StandardScaler``).
    loss : {"mse", "bce"}, default="mse"
    epochs, batch_size : int
    lr : float
    random_state : int, default=0
        Seeds weight initialisation and shuffling.
    device : str, default="cpu"
        ``"auto"`` picks CUDA/MPS when present.
    progress : bool, default=False

    Attributes
    ----------
    model_ : MLPAutoencoder
    history_ : aelib.train.History
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> pipe = make_pipeline(AutoencoderTransformer(latent_dim=16, epochs=5), LogisticRegression())
    """

    def __init__(self, latent_dim=32, hidden_dims=(256,), activation="relu", output=None, loss="mse",
                 epochs=20, batch_size=128, lr=1e-3, random_state=0, device="cpu", progress=False):
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.output = output
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # torch computes in float32
        return tags

    def _device(self):
        return pick_device() if self.device == "auto" else pick_device(self.device)

    def _to_tensor(self, X, reset: bool) -> torch.Tensor:
        X = validate_data(self, X, dtype=[np.float32, np.float64], ensure_all_finite=True, reset=reset)
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))

    def fit(self, X, y=None):
        """Train the autoencoder on ``X`` (``y`` is ignored: the task is unsupervised)."""
        x = self._to_tensor(X, reset=True)
        seed = 0 if self.random_state is None else int(self.random_state)
        torch.manual_seed(seed)
        self.model_ = MLPAutoencoder(x.shape[1], self.hidden_dims, self.latent_dim, activation=self.activation,
                                     output=self.output)
        self.history_ = fit(self.model_, x, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                            loss=self.loss, seed=seed, device=self._device(), progress=self.progress)
        self.model_.cpu()
        return self

    def transform(self, X):
        """Codes ``z = f(x)``, shape ``(n_samples, latent_dim)``."""
        check_is_fitted(self, "model_")
        x = self._to_tensor(X, reset=False)
        return predict(self.model_, x, fn=self.model_.encode).numpy()

    def inverse_transform(self, X):
        """Reconstructions ``g(z)`` from codes, shape ``(n_samples, n_features_in_)``."""
        check_is_fitted(self, "model_")
        z = check_array(X, dtype=[np.float32, np.float64])
        if z.shape[1] != self.model_.latent_dim:
            raise ValueError(f"codes must have latent_dim={self.model_.latent_dim} columns, got {z.shape[1]}.")
        z = torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))
        with torch.no_grad():
            self.model_.eval()
            return self.model_.decode(z).numpy()

    def score(self, X, y=None):
        """Negative mean per-example squared reconstruction error (higher is better, as sklearn expects)."""
        check_is_fitted(self, "model_")
        x = self._to_tensor(X, reset=False)
        x_hat = predict(self.model_, x)
        return -float((x_hat - x).pow(2).sum(1).mean())

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "model_")
        return np.array([f"autoencoder{i}" for i in range(self.model_.latent_dim)], dtype=object)
