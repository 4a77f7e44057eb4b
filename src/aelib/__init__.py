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
# Importing aelib changes no environment variable and no torch setting. On a small, busy CPU,
# OMP_WAIT_POLICY=PASSIVE (set before torch is imported: the Makefile and the notebooks' first
# cell do) keeps idle OpenMP threads from spinning; see the appendix *How fast, how good*.
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
