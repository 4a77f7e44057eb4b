"""One device rule: a function computes where its model lives and returns results on the device of
its input; nothing creates a helper tensor on the CPU and mixes it with device data.

The meta device stands in for a GPU on a CPU-only machine: a meta tensor has a shape and a device
but no data, and any arithmetic that mixes it with a (non-scalar) CPU tensor raises. So running a
computation with the model and the data on "meta" proves that no step silently falls back to the
CPU, and the result's device shows where it was left.
"""
import pytest
import torch

from aelib import corrupt, models, penalties, vae
from aelib import jacobian  # noqa: E402

META = torch.device("meta")
D, H, K = 12, 8, 3


def test_meta_mixing_is_caught_so_the_stand_in_works():
    with pytest.raises(RuntimeError, match="device"):
        torch.ones(3, device=META) + torch.ones(3)


MODELS = {
    "mlp": lambda: models.MLPAutoencoder(D, hidden_dims=(H,), latent_dim=K),
    "mlp-sigmoid": lambda: models.MLPAutoencoder(D, hidden_dims=(), latent_dim=K,
                                                 latent_activation="sigmoid"),
    "linear": lambda: models.LinearAutoencoder(D, K),
    "conv": lambda: models.ConvAutoencoder((1, 8, 8), channels=(2, 4), latent_dim=K),
    "vae": lambda: vae.VAE(D, hidden_dims=(H,), latent_dim=K),
}


def _width(model):
    return model.input_dim


@pytest.mark.parametrize("name", MODELS)
def test_models_encode_decode_and_reconstruct_on_the_device_of_their_input(name):
    model = MODELS[name]().to(META)
    x = torch.empty(5, _width(model), device=META)
    z = model.encode(x)
    assert z.device == META and model.decode(z).device == META and model(x).device == META


def test_vae_objective_and_sampling_stay_on_the_device():
    model = vae.VAE(D, hidden_dims=(H,), latent_dim=K).to(META)
    x = torch.empty(4, D, device=META)
    assert model.training_loss(x, x).device == META
    mu, logvar = model.encode_distribution(x)
    assert model.reparameterize(mu, logvar).device == META


@pytest.mark.parametrize("make", [
    lambda: corrupt.gaussian(0.1), lambda: corrupt.masking(0.3),
    lambda: corrupt.salt_and_pepper(0.2), lambda: corrupt.block(2, (1, 4, 3)),
], ids=["gaussian", "masking", "salt_and_pepper", "block"])
def test_corruptions_draw_on_the_device_of_the_data(make):
    x = torch.empty(4, D, device=META)
    assert make()(x).device == META


@pytest.mark.parametrize("method", ["exact", "closed_form", "estimator"])
def test_contractive_penalty_stays_on_the_model_device(method):
    model = models.MLPAutoencoder(D, hidden_dims=(), latent_dim=K,
                                  latent_activation="sigmoid").to(META)
    x = torch.empty(4, D, device=META)
    value = penalties.contractive(0.1, method=method)(model, x, model.encode(x))
    assert value.device == META and value.dim() == 0


def test_activity_and_weight_penalties_stay_on_the_model_device():
    model = MODELS["mlp"]().to(META)
    z = torch.empty(4, K, device=META)
    assert penalties.l1_activity(0.1)(model, None, z).device == META
    assert penalties.weight_penalty(0.1)(model, None, z).device == META


def test_batch_jacobian_moves_the_input_to_the_model_and_back():
    model = models.MLPAutoencoder(D, hidden_dims=(H,), latent_dim=K)
    x = torch.rand(3, D, device=META)
    assert jacobian.batch_jacobian(model.to(META).encode, x).shape == (3, K, D)
    assert jacobian.batch_jacobian(model.to(META).encode, x).device == META


def test_predict_returns_on_the_device_of_its_input():
    model = MODELS["mlp"]()
    x = torch.rand(5, D)
    assert models.predict(model, x).device == x.device
    assert models.predict(model, x.numpy()).device.type == "cpu"


def test_float64_moves_a_tensor_from_a_device_without_float64_to_the_cpu():
    """Apple's MPS has no float64 (``.double()`` raises there): PCA, PSNR, principal angles and
    the Lipschitz constant compute in float64 on the CPU for such tensors."""
    from aelib.device import _float64

    class OnMPS:  # stands in for an MPS tensor on machines without one
        device = torch.device("mps")

        def double(self):
            raise TypeError("Cannot convert a MPS Tensor to float64 dtype")

        def detach(self):
            return self

        def cpu(self):
            return torch.ones(3)

    moved = _float64(OnMPS())
    assert moved.dtype == torch.float64 and moved.device.type == "cpu"
    here = _float64(torch.ones(3))
    assert here.dtype == torch.float64 and here.device.type == "cpu"
