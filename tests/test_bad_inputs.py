"""Bad-input sweep: every public function of aelib meets NaN/inf, wrong dtypes, wrong shapes, wrong
devices, empty data, non-positive sizes, negative weights and probabilities outside [0, 1].

Each must fail at its boundary with a ``ValueError``/``TypeError`` (or a subclass such as
``FileNotFoundError``) whose message names the offending argument, instead of crashing deep inside
torch, returning NaN, hanging, or leaving a half-written file. Data files get the same treatment:
truncated or corrupt IDX files, checksum mismatches, a download whose connection dies mid-stream,
and no network at all. Finally, the state dict of every model class must load with
``torch.load(weights_only=True)``.

The tables are the specification: one row per (function, bad argument). Inputs are tiny, and an
alarm fails any case that runs longer than a few seconds (a hang is a failure, not a wait).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import re
import signal
import struct

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import aelib  # noqa: E402
from aelib import (  # noqa: E402
    corrupt, data, device, jacobian, metrics, models, penalties, plot, pretrain, sparse, train, vae, widgets,
)
from aelib.sklearn import AutoencoderTransformer  # noqa: E402
from aelib.chapters import ch02_capacity as ch02  # noqa: E402
from aelib.chapters import ch03_sparse as ch03  # noqa: E402
from aelib.chapters import ch04_denoising as ch04  # noqa: E402
from aelib.chapters import ch05_contractive as ch05  # noqa: E402
from aelib.chapters import ch07_pretraining as ch07  # noqa: E402

SECONDS_PER_CASE = 20  # generous for a loaded 2-core machine; every case should take milliseconds


@pytest.fixture(autouse=True)
def _no_hang():
    """Fail a case that hangs instead of waiting for it (SIGALRM; POSIX only)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def on_alarm(signum, frame):
        raise TimeoutError(f"case ran longer than {SECONDS_PER_CASE} s: it hangs instead of failing fast")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(SECONDS_PER_CASE)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------------------------
# Small, valid objects the cases perturb one argument at a time
# --------------------------------------------------------------------------------------------

WIDTH = 4  # features per row; images are 1 × 2 × 2
SHAPE = (1, 2, 2)


def x_ok(n=6):
    return torch.rand(n, WIDTH, generator=torch.Generator().manual_seed(0))


def y_ok(n=6):
    return torch.arange(n) % 2


def ae():
    torch.manual_seed(0)
    return models.MLPAutoencoder(WIDTH, (3,), 2)


def a_vae():
    torch.manual_seed(0)
    return vae.VAE(WIDTH, (3,), 2)


def classifier():
    return models.Classifier(pretrain.make_encoder(WIDTH, (3,), seed=0), 2, seed=0)


def name_pattern(name):
    """The argument's name as a whole word (``x`` must not match inside ``x_train``)."""
    return rf"(?<![\w.]){re.escape(name)}(?!\w)"


# Bad versions of a valid (n × WIDTH) float batch. "meta" tensors have a shape but no data.
def _with(value):
    x = x_ok()
    x[1, 2] = value
    return x


BAD_DATA = {
    "nan": (lambda: _with(float("nan")), ValueError),
    "inf": (lambda: _with(float("inf")), ValueError),
    "int dtype": (lambda: torch.ones(6, WIDTH, dtype=torch.int64), TypeError),
    "1-D": (lambda: torch.rand(WIDTH), ValueError),
    "3-D": (lambda: torch.rand(6, 1, WIDTH), ValueError),
    "empty": (lambda: torch.rand(0, WIDTH), ValueError),
    "meta device": (lambda: torch.empty(6, WIDTH, device="meta"), ValueError),
    "not an array": (lambda: "pixels", TypeError),
    "wrong width": (lambda: torch.rand(6, WIDTH + 1), ValueError),
}

# (case id, the function applied to the bad value, the argument's name, kinds not applicable).
# "wrong width" only applies where the expected width is known (a model, another argument).
_ONLY_VALUES = {"wrong width"}
DATA_TAKERS = [
    ("train.fit x_train", lambda b: train.fit(ae(), b, epochs=1, progress=False, device="cpu"), "x_train", set()),
    ("train.fit x_val", lambda b: train.fit(ae(), x_ok(), x_val=b, epochs=1, progress=False, device="cpu"),
     "x_val", set()),
    ("train.fit_classifier x_train", lambda b: train.fit_classifier(classifier(), b, y_ok(), epochs=1,
                                                                    progress=False, device="cpu"),
     "x_train", _ONLY_VALUES),
    ("models.predict", lambda b: models.predict(ae(), b), "x", _ONLY_VALUES),
    ("metrics.reconstruction_error", lambda b: metrics.reconstruction_error(ae(), b), "x", set()),
    ("metrics.per_example_error x_hat", lambda b: metrics.per_example_error(b, x_ok()), "x_hat", set()),
    ("metrics.pca", lambda b: metrics.pca(b, 1), "x_train", _ONLY_VALUES),
    ("metrics.pca_reconstruct", lambda b: metrics.pca_reconstruct(x_ok(), b, 1), "x", set()),
    ("metrics.pca_reconstruction_error", lambda b: metrics.pca_reconstruction_error(x_ok(), b, 1), "x_test",
     set()),
    # integer matrices and images are fine for these two (cast to float); any k is fine for angles
    ("metrics.principal_angles", lambda b: metrics.principal_angles(b, x_ok()), "a", {"int dtype", "wrong width"}),
    ("metrics.psnr", lambda b: metrics.psnr(b, x_ok()), "x_hat", {"int dtype"}),
    ("metrics.linear_probe_accuracy", lambda b: metrics.linear_probe_accuracy(b, y_ok(), x_ok(), y_ok()),
     "z_train", _ONLY_VALUES | {"int dtype"}),
    ("metrics.knn_accuracy", lambda b: metrics.knn_accuracy(x_ok(), y_ok(), b, y_ok(), n_neighbors=1),
     "z_test", {"int dtype"}),
    ("plot.image_grid", lambda b: plot.image_grid(b, SHAPE), "images", {"nan", "inf", "int dtype"}),
    ("plot.show_filters", lambda b: plot.show_filters(b, SHAPE), "weights", {"nan", "inf", "int dtype"}),
    ("plot.show_reconstructions", lambda b: plot.show_reconstructions(x_ok(), {"AE": b}, SHAPE, n=2),
     "AE", {"nan", "inf", "int dtype"}),
    ("plot.latent_map", lambda b: plot.latent_map(b, y_ok()), "codes", {"int dtype", "wrong width"}),
    # These two run on every mini-batch of a contractive fit: no NaN scan (it would synchronise the
    # device each batch); a NaN makes the loss NaN and fit then stops with FloatingPointError.
    # They accept meta tensors (shape and device propagation, see test_devices.py).
    ("jacobian.jacobian_frobenius_sq", lambda b: jacobian.jacobian_frobenius_sq(ae(), b), "x",
     {"nan", "inf", "meta device"}),
    ("jacobian.batch_jacobian", lambda b: jacobian.batch_jacobian(ae().encode, b), "x",
     _ONLY_VALUES | {"nan", "inf", "meta device"}),
    ("sparse.sparse_encode", lambda b: sparse.sparse_encode(b, x_ok(3), 0.1), "x", set()),
    ("sparse.sparse_encode dictionary", lambda b: sparse.sparse_encode(x_ok(), b, 0.1), "dictionary", set()),
    ("sparse.learn_dictionary", lambda b: sparse.learn_dictionary(b, 2, 0.1, n_iter=1), "x", _ONLY_VALUES),
    ("sparse.lipschitz_constant", lambda b: sparse.lipschitz_constant(b), "dictionary", _ONLY_VALUES),
    ("sparse.coding_objective", lambda b: sparse.coding_objective(b, torch.zeros(6, 3), x_ok(3), 0.1), "x",
     set()),
    ("sparse.update_dictionary", lambda b: sparse.update_dictionary(b, torch.zeros(6, 3), x_ok(3)), "x", set()),
    ("sparse.dictionary_objective", lambda b: sparse.dictionary_objective(b, torch.zeros(6, 3), x_ok(3), 0.1),
     "x", set()),
    ("ch03.energy_support", lambda b: ch03.energy_support(b), "atoms", _ONLY_VALUES),
    ("ch03.orientation_coherence", lambda b: ch03.orientation_coherence(b, (2, 2)), "atoms", set()),
    ("vae.elbo", lambda b: vae.elbo(a_vae(), b), "x", set()),
    ("vae.log_likelihood", lambda b: vae.log_likelihood(a_vae(), b, n_samples=2), "x", set()),
    ("pretrain.greedy_pretrain", lambda b: pretrain.greedy_pretrain(b, (3,), epochs=1, progress=False,
                                                                    device="cpu"), "x", _ONLY_VALUES),
    ("pretrain.end_to_end_pretrain", lambda b: pretrain.end_to_end_pretrain(b, (3,), epochs=1, progress=False,
                                                                            device="cpu"), "x", _ONLY_VALUES),
    ("pretrain.accuracy", lambda b: pretrain.accuracy(classifier(), b, y_ok()), "x", set()),
    ("ch07.layer_gradient_norms", lambda b: ch07.layer_gradient_norms(classifier(), b, y_ok()), "x",
     set()),
    ("pretrain.fine_tune", lambda b: pretrain.fine_tune(classifier(), b, y_ok(), head_epochs=1, full_epochs=0,
                                                        progress=False, device="cpu"), "x", set()),
    ("ch07.few_label_comparison", lambda b: ch07.few_label_comparison(
        b, y_ok(), x_ok(), y_ok(), encoders={"raw": torch.nn.Identity()}, labels_per_class=(1,), seeds=(0,)),
     "x_labelled_pool", _ONLY_VALUES),
    ("ch04.gaussian_blur", lambda b: ch04.gaussian_blur(b, SHAPE, 1.0), "x", set()),
    ("ch04.tune_blur", lambda b: ch04.tune_blur(b, x_ok(), SHAPE), "x_noisy", set()),
    ("ch04.psnr_table", lambda b: ch04.psnr_table(b, [0.1], {}, corrupt.gaussian), "x_clean", _ONLY_VALUES),
    ("ch04.filter_spread", lambda b: ch04.filter_spread(b, SHAPE), "weights", {"int dtype"}),
    ("ch04.filter_roughness", lambda b: ch04.filter_roughness(b, SHAPE), "weights", {"int dtype"}),
    ("ch04.masked_mse", lambda b: ch04.masked_mse(b, x_ok(), x_ok() > 0.5), "x_hat", set()),
    ("ch04.mean_fill", lambda b: ch04.mean_fill(b, x_ok() > 0.5, torch.zeros(WIDTH)), "x_masked",
     _ONLY_VALUES),
    ("ch05.jacobian_singular_values", lambda b: ch05.jacobian_singular_values(ae(), b), "x", set()),
    ("ch05.tangent_directions", lambda b: ch05.tangent_directions(ae(), b, 1), "x", set()),
    ("ch05.code_sensitivity", lambda b: ch05.code_sensitivity(ae(), b, 0.1), "x", set()),
    ("ch05.pair_sensitivity", lambda b: ch05.pair_sensitivity(ae(), b, x_ok()), "x_a", set()),
    ("ch05.noise_expansion", lambda b: ch05.noise_expansion(ae(), b, 0.1, n_draws=2), "x", set()),
    ("ch02.latent_size_sweep", lambda b: ch02.latent_size_sweep(b, x_ok(), (1,), epochs=1),
     "x_train", _ONLY_VALUES),
    ("ch02.latent_size_sweep x_test", lambda b: ch02.latent_size_sweep(x_ok(), b, (1,), epochs=1),
     "x_test", set()),
    ("ch02.off_data_probes", lambda b: ch02.off_data_probes(b), "x", _ONLY_VALUES),
    ("metrics.reconstruction_r2", lambda b: metrics.reconstruction_r2(ae(), b, torch.zeros(WIDTH)), "x", set()),
    ("data.resize_images", lambda b: data.resize_images(b, SHAPE, (3, 3)), "x", set()),
    # scikit-learn's own messages for shapes (check_estimator expects them); NaN/inf must name X
    ("AutoencoderTransformer.fit", lambda b: AutoencoderTransformer(epochs=1).fit(b), "X",
     _ONLY_VALUES | {"int dtype", "meta device", "1-D", "3-D", "empty", "not an array"}),
]

DATA_CASES = [
    pytest.param(fn, kind, name, id=f"{case}-{kind}")
    for case, fn, name, skip in DATA_TAKERS
    for kind in BAD_DATA
    if kind not in skip
]


@pytest.mark.parametrize("fn, kind, name", DATA_CASES)
def test_bad_data_is_refused_with_the_argument_named(fn, kind, name):
    make_bad, error = BAD_DATA[kind]
    with pytest.raises((ValueError, TypeError)) as info:
        fn(make_bad())
    assert isinstance(info.value, error) or kind in ("not an array", "meta device"), (
        f"{kind}: expected {error.__name__}, got {type(info.value).__name__}: {info.value}")
    # A width mismatch may be reported from the other side (the model, the image shape).
    names = [name] + (["image_shape", "input_dim", "model"] if kind == "wrong width" else [])
    assert any(re.search(name_pattern(n), str(info.value)) for n in names), \
        f"message does not name {name!r}: {info.value}"
    plt.close("all")


# --------------------------------------------------------------------------------------------
# Sizes, weights, probabilities, choices: (case id, call, argument name [, error type])
# --------------------------------------------------------------------------------------------

NAN = float("nan")
BAD_VALUES = [
    # models: latent_dim ≤ 0, bad widths, unknown names
    ("MLPAutoencoder latent_dim=0", lambda: models.MLPAutoencoder(WIDTH, (3,), 0), "latent_dim"),
    ("MLPAutoencoder latent_dim=-2", lambda: models.MLPAutoencoder(WIDTH, (3,), -2), "latent_dim"),
    ("MLPAutoencoder latent_dim=2.5", lambda: models.MLPAutoencoder(WIDTH, (3,), 2.5), "latent_dim"),
    ("MLPAutoencoder latent_dim=True", lambda: models.MLPAutoencoder(WIDTH, (3,), True), "latent_dim"),
    ("MLPAutoencoder input_dim=0", lambda: models.MLPAutoencoder(0, (3,), 2), "input_dim"),
    ("MLPAutoencoder hidden_dims=(0,)", lambda: models.MLPAutoencoder(WIDTH, (0,), 2), r"hidden_dims[0]"),
    ("MLPAutoencoder hidden_dims='big'", lambda: models.MLPAutoencoder(WIDTH, "big", 2), r"hidden_dims[0]"),
    ("MLPAutoencoder activation", lambda: models.MLPAutoencoder(WIDTH, (3,), 2, activation="swish!"),
     "activation"),
    ("make_activation", lambda: models.make_activation(3), "activation"),
    ("ConvAutoencoder latent_dim=0", lambda: models.ConvAutoencoder(latent_dim=0), "latent_dim"),
    ("ConvAutoencoder channels=()", lambda: models.ConvAutoencoder(channels=()), "channels"),
    ("ConvAutoencoder image_shape", lambda: models.ConvAutoencoder(image_shape=(28, 28)), "image_shape"),
    ("LinearAutoencoder latent_dim=0", lambda: models.LinearAutoencoder(WIDTH, 0), "latent_dim"),
    ("Autoencoder latent_dim=-1", lambda: models.Autoencoder(torch.nn.Identity(), torch.nn.Identity(), 4, -1),
     "latent_dim"),
    ("VAE latent_dim=0", lambda: vae.VAE(WIDTH, (3,), 0), "latent_dim"),
    ("VAE likelihood", lambda: vae.VAE(WIDTH, (3,), 2, likelihood="poisson"), "likelihood"),
    ("VAE beta<0", lambda: vae.VAE(WIDTH, (3,), 2, beta=-1.0), "beta"),
    ("VAE gaussian_std=0", lambda: vae.VAE(WIDTH, (3,), 2, likelihood="gaussian", gaussian_std=0.0),
     "gaussian_std"),
    ("VAE.sample n=0", lambda: a_vae().sample(0), "n"),
    ("VAE.interpolate steps=1", lambda: a_vae().interpolate(x_ok()[0], x_ok()[1], steps=1), "steps"),
    ("ch02.shallow_autoencoder latent_dim=0", lambda: ch02.shallow_autoencoder(WIDTH, 0), "latent_dim"),
    ("ch02.identity_autoencoder latent_dim=0", lambda: ch02.identity_autoencoder(WIDTH, 0), "latent_dim"),
    ("ch02.identity_autoencoder undercomplete", lambda: ch02.identity_autoencoder(WIDTH, 2), "latent_dim"),
    ("pretrain.make_encoder hidden_dims=(0,)", lambda: pretrain.make_encoder(WIDTH, (0,)), "hidden_dims[0]"),
    ("models.Classifier n_classes=1", lambda: models.Classifier(torch.nn.Linear(4, 3), 1), "n_classes"),
    ("AutoencoderTransformer latent_dim=0", lambda: AutoencoderTransformer(latent_dim=0).fit(x_ok().numpy()),
     "latent_dim"),
    # training: sizes, rates, choices, hooks
    ("fit epochs=0", lambda: train.fit(ae(), x_ok(), epochs=0), "epochs"),
    ("fit batch_size=0", lambda: train.fit(ae(), x_ok(), batch_size=0), "batch_size"),
    ("fit lr<0", lambda: train.fit(ae(), x_ok(), lr=-1e-3), "lr"),
    ("fit lr=nan", lambda: train.fit(ae(), x_ok(), lr=NAN), "lr"),
    ("fit weight_decay<0", lambda: train.fit(ae(), x_ok(), weight_decay=-1.0), "weight_decay"),
    ("fit loss", lambda: train.fit(ae(), x_ok(), loss="l3"), "loss"),
    ("fit optimizer", lambda: train.fit(ae(), x_ok(), epochs=1, optimizer="rmsprop", device="cpu"), "optimizer"),
    ("fit penalty", lambda: train.fit(ae(), x_ok(), penalty=3), "penalty"),
    ("fit corruption", lambda: train.fit(ae(), x_ok(), corruption="noise"), "corruption"),
    ("fit model", lambda: train.fit("model", x_ok()), "model"),
    ("fit_classifier y_train float", lambda: train.fit_classifier(classifier(), x_ok(), torch.rand(6)), "y_train"),
    ("fit_classifier y_train length", lambda: train.fit_classifier(classifier(), x_ok(), y_ok(5)), "y_train"),
    ("fit_classifier y_train<0", lambda: train.fit_classifier(classifier(), x_ok(), -y_ok()), "y_train"),
    ("reconstruction_loss", lambda: train.reconstruction_loss("l3"), "loss"),
    # penalties: negative / NaN weights, probabilities outside [0, 1]
    ("l1_activity weight<0", lambda: penalties.l1_activity(-0.1), "weight"),
    ("l1_activity weight=nan", lambda: penalties.l1_activity(NAN), "weight"),
    ("kl_sparsity weight<0", lambda: penalties.kl_sparsity(-0.1), "weight"),
    ("kl_sparsity target>1", lambda: penalties.kl_sparsity(0.1, target=1.5), "target"),
    ("kl_sparsity target<0", lambda: penalties.kl_sparsity(0.1, target=-0.1), "target"),
    ("kl_sparsity codes outside [0, 1]", lambda: penalties.kl_sparsity(0.1)(None, x_ok(), x_ok() - 2), "codes"),
    ("kl_bernoulli rho>1", lambda: penalties.kl_bernoulli(1.5, torch.rand(3)), "rho"),
    ("kl_bernoulli rho<0", lambda: penalties.kl_bernoulli(-0.5, torch.rand(3)), "rho"),
    ("kl_bernoulli rho_hat list", lambda: penalties.kl_bernoulli(0.1, "0.5"), "rho_hat"),
    ("weight_penalty weight<0", lambda: penalties.weight_penalty(-1.0), "weight"),
    ("weight_penalty p=3", lambda: penalties.weight_penalty(0.1, p=3), "p"),
    ("weight_penalty modules", lambda: penalties.weight_penalty(0.1, modules="middle"), "modules"),
    ("combine", lambda: penalties.combine(penalties.l1_activity(0.1), 3), r"penalties[1]"),
    ("contractive weight<0", lambda: penalties.contractive(-1.0), "weight"),
    ("contractive method", lambda: penalties.contractive(0.1, method="guess"), "method"),
    ("contractive n_projections=0", lambda: penalties.contractive(0.1, method="estimator", n_projections=0),
     "n_projections"),
    ("jacobian_frobenius_sq encoder", lambda: jacobian.jacobian_frobenius_sq(3, x_ok()), "encoder"),
    # corruptions: negative noise, probabilities outside [0, 1]
    ("gaussian std<0", lambda: corrupt.gaussian(-0.1), "std"),
    ("gaussian std=nan", lambda: corrupt.gaussian(NAN), "std"),
    ("gaussian mean=inf", lambda: corrupt.gaussian(0.1, mean=float("inf")), "mean"),
    ("masking p>1", lambda: corrupt.masking(1.5), "p"),
    ("masking p<0", lambda: corrupt.masking(-0.1), "p"),
    ("salt_and_pepper p>1", lambda: corrupt.salt_and_pepper(2.0), "p"),
    ("salt_and_pepper low>high", lambda: corrupt.salt_and_pepper(0.1, low=1.0, high=0.0), "low"),
    ("block size=0", lambda: corrupt.block(0), "size"),
    ("block size too big", lambda: corrupt.block(30), "size"),
    ("block image_shape", lambda: corrupt.block(2, image_shape=(28, 28)), "image_shape"),
    ("block applied to wrong width", lambda: corrupt.block(1, SHAPE)(torch.rand(3, 9)), "x"),
    ("block_mask n=0", lambda: corrupt.block_mask(0, 2), "n"),
    ("corruption int x", lambda: corrupt.gaussian(0.1)(torch.ones(2, 4, dtype=torch.int64)), "x"),
    ("corruption list x", lambda: corrupt.masking(0.1)([[0.5]]), "x"),
    ("corruption generator", lambda: corrupt.masking(0.1)(x_ok(), generator=3), "generator"),
    # sparse coding
    ("soft_threshold threshold<0", lambda: sparse.soft_threshold(x_ok(), -0.1), "threshold"),
    ("soft_threshold threshold=nan", lambda: sparse.soft_threshold(x_ok(), NAN), "threshold"),
    ("hard_threshold threshold<0", lambda: sparse.hard_threshold(x_ok(), -0.1), "threshold"),
    ("sparse_encode sparsity_weight<0", lambda: sparse.sparse_encode(x_ok(), x_ok(3), -0.1), "sparsity_weight"),
    ("sparse_encode method", lambda: sparse.sparse_encode(x_ok(), x_ok(3), 0.1, method="lars"), "method"),
    ("sparse_encode max_iter=0", lambda: sparse.sparse_encode(x_ok(), x_ok(3), 0.1, max_iter=0), "max_iter"),
    ("sparse_encode zero dictionary", lambda: sparse.sparse_encode(x_ok(), torch.zeros(3, WIDTH), 0.1),
     "dictionary"),
    ("sparse_encode dictionary width", lambda: sparse.sparse_encode(x_ok(), torch.rand(3, 5), 0.1),
     "dictionary"),
    ("learn_dictionary n_atoms=0", lambda: sparse.learn_dictionary(x_ok(), 0, 0.1), "n_atoms"),
    ("learn_dictionary sparsity_weight<0", lambda: sparse.learn_dictionary(x_ok(), 2, -1.0), "sparsity_weight"),
    ("learn_dictionary atom_norm", lambda: sparse.learn_dictionary(x_ok(), 2, 0.1, atom_norm="max"), "atom_norm"),
    ("update_dictionary frobenius_weight<0",
     lambda: sparse.update_dictionary(x_ok(), torch.zeros(6, 3), x_ok(3), atom_norm="frobenius",
                                      frobenius_weight=-1.0), "frobenius_weight"),
    ("coding_objective codes width", lambda: sparse.coding_objective(x_ok(), torch.zeros(6, 5), x_ok(3), 0.1),
     "codes"),
    ("energy_support energy>1", lambda: ch03.energy_support(x_ok(), 1.5), "energy"),
    # VAE evaluation
    ("elbo model", lambda: vae.elbo(ae(), x_ok()), "model"),
    ("elbo beta<0", lambda: vae.elbo(a_vae(), x_ok(), beta=-1.0), "beta"),
    ("elbo n_samples=0", lambda: vae.elbo(a_vae(), x_ok(), n_samples=0), "n_samples"),
    ("elbo seed<0", lambda: vae.elbo(a_vae(), x_ok(), seed=-1), "seed"),
    ("log_likelihood n_samples=0", lambda: vae.log_likelihood(a_vae(), x_ok(), n_samples=0), "n_samples"),
    ("gaussian_kl shapes", lambda: vae.gaussian_kl(torch.zeros(3, 2), torch.zeros(3, 5)), "logvar"),
    ("gaussian_kl list", lambda: vae.gaussian_kl("mu", torch.zeros(3, 2)), "mu"),
    # metrics
    ("pca k=0", lambda: metrics.pca(x_ok(), 0), "k"),
    ("pca k too large", lambda: metrics.pca(x_ok(), 50), "k"),
    ("pca_reconstruction_error k<0", lambda: metrics.pca_reconstruction_error(x_ok(), x_ok(), -1), "k"),
    ("per_example_error shapes", lambda: metrics.per_example_error(x_ok(5), x_ok()), "x_hat"),
    ("principal_angles d mismatch", lambda: metrics.principal_angles(torch.rand(4, 2), torch.rand(5, 2)), "a"),
    ("psnr shapes", lambda: metrics.psnr(x_ok(5), x_ok()), "x_hat"),
    ("psnr max_value=0", lambda: metrics.psnr(x_ok(), x_ok(), max_value=0.0), "max_value"),
    ("psnr max_value<0", lambda: metrics.psnr(x_ok(), x_ok(), max_value=-1.0), "max_value"),
    ("linear_probe_accuracy labels length", lambda: metrics.linear_probe_accuracy(x_ok(), y_ok(5), x_ok(),
                                                                                  y_ok()), "y_train"),
    ("knn_accuracy n_neighbors=0", lambda: metrics.knn_accuracy(x_ok(), y_ok(), x_ok(), y_ok(), n_neighbors=0),
     "n_neighbors"),
    # device
    ("pick_device unknown name", lambda: device.pick_device("tpu"), "tpu"),
    ("pick_device meta", lambda: device.pick_device("meta"), "meta"),
    ("pick_device not a name", lambda: device.pick_device(3.5), "3.5"),
    ("seed_everything seed<0", lambda: device.seed_everything(-1), "seed"),
    ("seed_everything num_threads=0", lambda: device.seed_everything(0, num_threads=0), "num_threads"),
    ("scaled unknown device", lambda: device.scaled(1, 2, "tpu"), "device"),
    ("describe_device unknown device", lambda: device.describe_device("tpu"), "device"),
    ("fit device unknown", lambda: train.fit(ae(), x_ok(), device="tpu"), "tpu"),
    ("fit device meta", lambda: train.fit(ae(), x_ok(), device="meta"), "meta"),
    # data
    ("load_fashion_mnist n_train=0", lambda: data.load_fashion_mnist(n_train=0), "n_train"),
    ("load_fashion_mnist n_test too big", lambda: data.load_fashion_mnist(n_test=10**9), "n_test"),
    ("load_fashion_mnist n_train=2.5", lambda: data.load_fashion_mnist(n_train=2.5), "n_train"),
    ("load_digits test_fraction>1", lambda: data.load_digits(test_fraction=1.5), "test_fraction"),
    ("load_digits n_train=-1", lambda: data.load_digits(n_train=-1), "n_train"),
    ("image_patches size=1", lambda: data.image_patches(size=1), "size"),
    ("image_patches n=0", lambda: data.image_patches(n=0), "n"),
    ("stratified_indices n=0", lambda: data.stratified_indices(np.arange(6) % 2, 0), "n"),
    ("download_file retries=0", lambda: data.download_file("file:///nonexistent", "/tmp/x", retries=0),
     "retries"),
    ("resize_images image_shape", lambda: data.resize_images(x_ok(), (1, 3, 3), (2, 2)), "x"),
    # plots
    ("image_grid image_shape", lambda: plot.image_grid(x_ok(), (1, 3, 3)), "image_shape"),
    ("image_grid image_shape 2-D", lambda: plot.image_grid(x_ok(), (2, 2)), "image_shape"),
    ("as_images image_shape", lambda: plot.as_images(x_ok(), (1, 3, 3)), "image_shape"),
    ("latent_map codes 3 columns", lambda: plot.latent_map(torch.rand(6, 3), y_ok()), "codes"),
    ("latent_map labels length", lambda: plot.latent_map(torch.rand(6, 2), y_ok(5)), "labels"),
    ("loss_curves histories", lambda: plot.loss_curves([1, 2]), "histories"),
    ("book_style dpi=0", lambda: plot.book_style(dpi=0), "dpi"),
    ("book_style dpi<0", lambda: plot.book_style(dpi=-80), "dpi"),
    # widgets
    ("figure_to_png not a figure", lambda: widgets.figure_to_png("figure"), "fig"),
    ("figure_to_png dpi<0", lambda: widgets.figure_to_png(plt.figure(), dpi=-1), "dpi"),
    ("explorer empty", lambda: widgets.explorer({}, description="latent size"), "frames"),
    ("explorer bytes not PNG", lambda: widgets.explorer({1: b"GIF89a"}, description="latent size"), r"frames[1]"),
    ("explorer description", lambda: widgets.explorer({1: plt.figure()}, description=""), "description"),
    ("explorer value", lambda: widgets.explorer({1: plt.figure()}, description="d", value=2), "value"),
    ("sweep empty", lambda: widgets.sweep([], lambda v: plt.figure()), "values"),
    ("sweep make_figure", lambda: widgets.sweep([1], "figure"), "make_figure"),
    # denoise
    ("gaussian_blur sigma<0", lambda: ch04.gaussian_blur(x_ok(), SHAPE, -1.0), "sigma"),
    ("gaussian_blur image_shape", lambda: ch04.gaussian_blur(x_ok(), (1, 3, 3), 1.0), "image_shape"),
    ("tune_blur sigmas empty", lambda: ch04.tune_blur(x_ok(), x_ok(), SHAPE, sigmas=()), "sigmas"),
    ("tune_blur sigmas<0", lambda: ch04.tune_blur(x_ok(), x_ok(), SHAPE, sigmas=(-1.0,)), r"sigmas[0]"),
    ("psnr_table noise_levels empty", lambda: ch04.psnr_table(x_ok(), [], {}, corrupt.gaussian), "noise_levels"),
    ("psnr_table denoiser", lambda: ch04.psnr_table(x_ok(), [0.1], {"blur": 3}, corrupt.gaussian), "blur"),
    ("format_table row length", lambda: ch04.format_table({"a": [1.0]}, ["p", "q"]), "a"),
    ("masked_mse mask dtype", lambda: ch04.masked_mse(x_ok(), x_ok(), x_ok()), "mask"),
    ("mean_fill mask shape", lambda: ch04.mean_fill(x_ok(), torch.ones(6, 5, dtype=torch.bool),
                                                       torch.zeros(WIDTH)), "mask"),
    ("tangent_directions n_directions=0", lambda: ch05.tangent_directions(ae(), x_ok(), 0), "n_directions"),
    ("code_sensitivity noise_std=0", lambda: ch05.code_sensitivity(ae(), x_ok(), 0.0), "noise_std"),
    ("code_sensitivity n_draws=0", lambda: ch05.code_sensitivity(ae(), x_ok(), 0.1, n_draws=0), "n_draws"),
    ("pair_sensitivity rows", lambda: ch05.pair_sensitivity(ae(), x_ok(5), x_ok()), "x_a"),
    ("noise_expansion noise_std<0", lambda: ch05.noise_expansion(ae(), x_ok(), -0.1), "noise_std"),
    ("noise_expansion n_draws=1", lambda: ch05.noise_expansion(ae(), x_ok(), 0.1, n_draws=1), "n_draws"),
    # capacity
    ("latent_size_sweep latent_dims=(0,)", lambda: ch02.latent_size_sweep(x_ok(), x_ok(), (0,)),
     r"latent_dims[0]"),
    ("latent_size_sweep latent_dims empty", lambda: ch02.latent_size_sweep(x_ok(), x_ok(), ()), "latent_dims"),
    ("latent_size_sweep repeated", lambda: ch02.latent_size_sweep(x_ok(), x_ok(), (1, 1)), "latent_dims"),
    ("latent_size_sweep lr<0", lambda: ch02.latent_size_sweep(x_ok(), x_ok(), (1,), lr=-1.0), "lr"),
    ("off_data_probes n=0", lambda: ch02.off_data_probes(x_ok(), n=0), "n"),
    ("off_data_probes n too big", lambda: ch02.off_data_probes(x_ok(), n=100), "n"),
    ("reconstruction_r2 reference_mean", lambda: metrics.reconstruction_r2(ae(), x_ok(), torch.zeros(5)),
     "reference_mean"),
    ("probe_r2 models empty", lambda: ch02.probe_r2({}, {"x": x_ok()}, torch.zeros(WIDTH)), "models"),
    ("plot_error_curve sweep", lambda: ch02.plot_error_curve("sweep"), "sweep"),
    ("plot_copy_tradeoff empty", lambda: ch02.plot_copy_tradeoff({}), "sweep_r2"),
    # pretraining
    ("greedy_pretrain hidden_dims=(0,)", lambda: pretrain.greedy_pretrain(x_ok(), (0,)), r"hidden_dims[0]"),
    ("stack_encoders empty", lambda: pretrain.stack_encoders([]), "autoencoders"),
    ("stack_encoders not autoencoders", lambda: pretrain.stack_encoders([3]), r"autoencoders[0]"),
    ("fine_tune model", lambda: pretrain.fine_tune(ae(), x_ok(), y_ok()), "model"),
    ("fine_tune head_epochs<0", lambda: pretrain.fine_tune(classifier(), x_ok(), y_ok(), head_epochs=-1),
     "head_epochs"),
    ("labelled_subset n_per_class=0", lambda: ch07.labelled_subset(y_ok(), 0), "n_per_class"),
    ("labelled_subset too many", lambda: ch07.labelled_subset(y_ok(), 10), "n_per_class"),
    ("layer_gradient_norms model", lambda: ch07.layer_gradient_norms("net", x_ok(), y_ok()), "model"),
    ("accuracy labels length", lambda: pretrain.accuracy(classifier(), x_ok(), y_ok(5)), "y"),
]


@pytest.mark.parametrize("fn, name", [pytest.param(fn, name, id=case) for case, fn, name in BAD_VALUES])
def test_bad_value_is_refused_with_the_argument_named(fn, name):
    with pytest.raises((ValueError, TypeError)) as info:
        fn()
    assert re.search(name_pattern(name), str(info.value)), f"message does not name {name!r}: {info.value}"
    plt.close("all")


def test_unavailable_cuda_device_says_what_to_use():
    """A CUDA device that does not exist here (index 99) fails at pick_device, naming the fix."""
    with pytest.raises(RuntimeError, match="cpu|CUDA device"):
        train.fit(ae(), x_ok(), epochs=1, device="cuda:99")


# --------------------------------------------------------------------------------------------
# Data files: corrupt/truncated IDX, checksum mismatch, dying connection, no network
# --------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


CORRUPT_IDX = {
    "truncated payload": (lambda raw: raw[:-5], "truncated"),
    "trailing bytes": (lambda raw: raw + b"\x00\x00", "trailing"),
    "bad magic": (lambda raw: b"\x01\x02" + raw[2:], "magic"),
    "cut inside the header": (lambda raw: raw[:6], "header"),
    "empty file": (lambda raw: b"", "too short"),
    "broken gzip": (lambda raw: gzip.compress(raw)[:25], "decompress|truncated|corrupt"),
}


@pytest.mark.parametrize("how", CORRUPT_IDX)
def test_corrupt_idx_file_is_named_with_the_fix(tmp_path, how):
    damage, what = CORRUPT_IDX[how]
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(damage(idx_bytes(np.zeros((3, 2, 2)))))
    with pytest.raises(data.CorruptFileError, match=what) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_idx_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        data.read_idx(tmp_path / "nothing-here")


def _fake_fashion_dir(tmp_path, damage_labels=False):
    """A folder with the four Fashion-MNIST file names holding tiny IDX arrays."""
    folder = tmp_path / "fm"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 20), ("t10k", 10)):
        (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes(rng.integers(0, 256, (n, 28, 28)))))
        labels = idx_bytes(np.arange(n) % 10)
        if damage_labels and split == "train":
            labels = labels[:-3]
        (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    return folder


def test_loader_names_a_truncated_local_file(tmp_path, monkeypatch):
    monkeypatch.setitem(data._FASHION, "system_dirs", [])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = _fake_fashion_dir(tmp_path, damage_labels=True)
    with pytest.raises(data.CorruptFileError, match="train-labels-idx1-ubyte.gz.*truncated"):
        data.load_fashion_mnist(data_dir=folder, download=False)


def test_download_checksum_mismatch_saves_nothing(tmp_path, server):
    url, handler = server
    handler.payload = b"not the file you wanted"
    dest = tmp_path / "cache" / "train.gz"
    with pytest.raises(data.CorruptFileError, match="SHA-256"):
        data.download_file(url + "train.gz", dest, sha256="0" * 64, retries=1)
    assert list(dest.parent.iterdir()) == []


def test_interrupted_download_leaves_no_partial_file(tmp_path, server, monkeypatch):
    url, handler = server
    payload = gzip.compress(np.random.default_rng(0).integers(0, 256, 300_000).astype(np.uint8).tobytes())
    handler.payload, handler.die_after = payload, len(payload) // 3
    monkeypatch.setattr(data.time, "sleep", lambda s: None)  # no back-off between the retries
    dest = tmp_path / "cache" / "train.gz"
    with pytest.raises(ConnectionError, match="could not download") as info:
        data.download_file(url + "train.gz", dest, sha256=hashlib.sha256(payload).hexdigest(), retries=2)
    assert "train.gz" in str(info.value)
    assert list(dest.parent.iterdir()) == [], "a partial download was left behind"
    handler.die_after = None  # the connection recovers: the same call now succeeds
    assert data.download_file(url + "train.gz", dest, sha256=hashlib.sha256(payload).hexdigest()).read_bytes() \
        == payload


def test_interrupted_download_falls_back_to_the_next_mirror(tmp_path, server, monkeypatch):
    """A mirror whose connection dies is skipped; the loader then reports how to get the data."""
    url, handler = server
    handler.payload, handler.die_after = b"\x1f\x8b" + b"x" * 5000, 100
    monkeypatch.setattr(data.time, "sleep", lambda s: None)
    monkeypatch.setitem(data._FASHION, "system_dirs", [])
    monkeypatch.setitem(data._FASHION, "mirrors", [url])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AELIB_DATA_DIR", raising=False)
    with pytest.raises(data.DataNotFoundError, match="AELIB_DATA_DIR"):
        data.load_fashion_mnist(data_dir=tmp_path / "empty")
    assert not any((tmp_path / "cache").rglob("*")) or all(p.is_dir() for p in (tmp_path / "cache").rglob("*"))


def test_no_network_message_says_how_to_get_the_data(tmp_path, monkeypatch):
    import requests

    def offline(*args, **kwargs):
        raise requests.ConnectionError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(requests, "get", offline)
    monkeypatch.setattr(data.time, "sleep", lambda s: None)
    monkeypatch.setitem(data._FASHION, "system_dirs", [])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("AELIB_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        data.load_fashion_mnist(n_train=10)
    message = str(info.value)
    for hint in ("AELIB_DATA_DIR", "apt-get install dataset-fashion-mnist", "download", "data_dir"):
        assert hint in message, f"the offline message lacks {hint!r}:\n{message}"
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))


# --------------------------------------------------------------------------------------------
# Saved models load with torch.load(weights_only=True)
# --------------------------------------------------------------------------------------------

MODEL_FACTORIES = {
    "MLPAutoencoder": lambda: models.MLPAutoencoder(WIDTH, (3,), 2, latent_activation="sigmoid"),
    "ConvAutoencoder": lambda: models.ConvAutoencoder((1, 8, 8), (2, 3), 2),
    "LinearAutoencoder": lambda: models.LinearAutoencoder(WIDTH, 2),
    "VAE bernoulli": lambda: vae.VAE(WIDTH, (3,), 2),
    "VAE gaussian": lambda: vae.VAE(WIDTH, (3,), 2, likelihood="gaussian"),
    "VAE gaussian fixed std": lambda: vae.VAE(WIDTH, (3,), 2, likelihood="gaussian", gaussian_std=0.3, beta=2.0),
    "shallow_autoencoder": lambda: ch02.shallow_autoencoder(WIDTH, 2),
    "identity_autoencoder": lambda: ch02.identity_autoencoder(WIDTH, WIDTH + 1),
    "Classifier": lambda: models.Classifier(pretrain.make_encoder(WIDTH, (3, 2)), 3),
}


@pytest.mark.parametrize("name", MODEL_FACTORIES)
def test_state_dict_loads_with_weights_only(name):
    make = MODEL_FACTORIES[name]
    torch.manual_seed(1)
    trained = make()
    width = 64 if name == "ConvAutoencoder" else WIDTH
    x = torch.rand(3, width)
    buffer = io.BytesIO()
    torch.save(trained.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    torch.manual_seed(2)  # a differently initialised copy, so that loading has to change it
    fresh = make()
    fresh.load_state_dict(state)
    trained.eval()
    fresh.eval()
    with torch.no_grad():
        out_trained = trained.encode(x) if hasattr(trained, "encode") else trained(x)
        out_fresh = fresh.encode(x) if hasattr(fresh, "encode") else fresh(x)
    assert torch.equal(out_trained, out_fresh)


def test_sklearn_transformer_round_trips_through_its_state_dict():
    est = AutoencoderTransformer(latent_dim=2, hidden_dims=(3,), epochs=1).fit(x_ok().numpy())
    buffer = io.BytesIO()
    torch.save(est.model_.state_dict(), buffer)
    buffer.seek(0)
    copy = models.MLPAutoencoder(WIDTH, (3,), 2)
    copy.load_state_dict(torch.load(buffer, weights_only=True))
    with torch.no_grad():
        assert np.allclose(copy.encode(x_ok()).numpy(), est.transform(x_ok().numpy()), atol=1e-6)


def test_cases_cover_every_public_module():
    """The tables above touch every module the library exports (a new module needs new rows)."""
    covered = {m.__name__ for m in (corrupt, data, device, jacobian, metrics, models, penalties, plot,
                                    pretrain, sparse, train, vae, widgets)} | {"aelib.sklearn"}
    import pkgutil

    # aelib.chapters holds chapter helpers: they need only the checks a reader would hit.
    public = {f"aelib.{m.name}" for m in pkgutil.iter_modules(aelib.__path__)
              if not m.name.startswith("_") and m.name != "chapters"}
    assert public <= covered, f"modules without bad-input rows: {sorted(public - covered)}"
