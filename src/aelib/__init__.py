"""aelib — the library behind the open textbook *Autoencoders*.

Modules, one per concept (each chapter is "the book page" of one of them):

==================  =====================================================
``aelib.device``    pick_device, seed_everything, scaled
``aelib.data``      Fashion-MNIST / MNIST / digits loaders, image patches
``aelib.models``    Autoencoder, MLP, convolutional and linear autoencoders
``aelib.train``     fit, fit_classifier → History
``aelib.metrics``   reconstruction error, PCA, principal angles, PSNR
``aelib.plot``      image grids, reconstructions, filters, latent maps
``aelib.sklearn``   AutoencoderTransformer (scikit-learn estimator)
==================  =====================================================
"""
import os as _os

# OpenMP threads that spin while waiting make PyTorch many times slower on a small machine that is
# doing anything else at the same time (measured: 13× on 2 cores). Only effective when aelib is
# imported before torch; the Makefile sets it for notebooks.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .data import Dataset, image_patches, load_digits, load_fashion_mnist, load_mnist
from .device import pick_device, scaled, seed_everything
from .metrics import pca_reconstruction_error, reconstruction_error
from .models import Autoencoder, ConvAutoencoder, LinearAutoencoder, MLPAutoencoder
from .train import History, fit, fit_classifier

__version__ = "0.1.0"

__all__ = [
    "Dataset", "load_fashion_mnist", "load_mnist", "load_digits", "image_patches",
    "pick_device", "seed_everything", "scaled",
    "Autoencoder", "MLPAutoencoder", "ConvAutoencoder", "LinearAutoencoder",
    "fit", "fit_classifier", "History",
    "reconstruction_error", "pca_reconstruction_error",
]
