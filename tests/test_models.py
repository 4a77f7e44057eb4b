import pytest
import torch

from aelib import models


@pytest.mark.parametrize("hidden", [(), (64,), (128, 32)])
def test_mlp_shapes(hidden):
    model = models.MLPAutoencoder(784, hidden, 12)
    x = torch.rand(5, 784)
    assert model.encode(x).shape == (5, 12)
    out = model(x)
    assert out.shape == (5, 784) and 0 <= out.min() and out.max() <= 1
    assert torch.equal(model(x), model.decode(model.encode(x)))


def test_mlp_mirrors_hidden_layers():
    model = models.MLPAutoencoder(100, (50, 20), 5)
    enc = [m.out_features for m in model.encoder if isinstance(m, torch.nn.Linear)]
    dec = [m.out_features for m in model.decoder if isinstance(m, torch.nn.Linear)]
    assert enc == [50, 20, 5] and dec == [20, 50, 100]


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 13, 17)])
def test_conv_any_image_shape(shape):
    model = models.ConvAutoencoder(shape, (8, 16), 7)
    n = shape[0] * shape[1] * shape[2]
    x = torch.rand(3, n)
    assert model.encode(x).shape == (3, 7)
    assert model(x).shape == (3, n)


def test_linear_autoencoder_is_linear():
    model = models.LinearAutoencoder(20, 3, bias=False)
    a, b = torch.randn(4, 20), torch.randn(4, 20)
    assert torch.allclose(model(a + 2 * b), model(a) + 2 * model(b), atol=1e-5)


@pytest.mark.parametrize("kwargs, name", [
    (dict(input_dim=784, hidden_dims=(), latent_dim=0), "latent_dim"),
    (dict(input_dim=784, hidden_dims=(), latent_dim=2.5), "latent_dim"),
    (dict(input_dim=-1, hidden_dims=(), latent_dim=2), "input_dim"),
    (dict(input_dim=784, hidden_dims=(0,), latent_dim=2), r"hidden_dims\[0\]"),
])
def test_bad_sizes_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        models.MLPAutoencoder(**kwargs)


def test_bad_conv_arguments():
    with pytest.raises(ValueError, match="image_shape"):
        models.ConvAutoencoder((28, 28), (8,), 4)
    with pytest.raises(ValueError, match="latent_dim"):
        models.ConvAutoencoder((1, 28, 28), (8,), 0)
    with pytest.raises(ValueError, match="activation"):
        models.MLPAutoencoder(10, (5,), 2, activation="swishy")


def test_state_dict_loads_with_weights_only(tmp_path):
    model = models.MLPAutoencoder(30, (10,), 4)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    other = models.MLPAutoencoder(30, (10,), 4)
    other.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    x = torch.rand(2, 30)
    assert torch.equal(model(x), other(x))
