import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

import aelib
from aelib import metrics, models
from aelib.train import fit


def test_reconstruction_error_is_mean_per_example_sse():
    model = models.LinearAutoencoder(4, 2)
    x = torch.rand(6, 4)
    with torch.no_grad():
        expected = ((model(x) - x) ** 2).sum(1).mean().item()
    assert metrics.reconstruction_error(model, x) == pytest.approx(expected, rel=1e-6)


def test_pca_matches_sklearn():
    x = torch.rand(200, 30)
    sk = PCA(5).fit(x.numpy())
    mean, comps, var = metrics.pca(x, 5)
    assert np.allclose(np.abs(comps.numpy() @ sk.components_.T), np.eye(5), atol=1e-4)
    assert np.allclose(var.numpy(), sk.explained_variance_, rtol=1e-4)
    x_test = torch.rand(50, 30)
    recon = sk.inverse_transform(sk.transform(x_test.numpy()))
    expected = ((recon - x_test.numpy()) ** 2).sum(1).mean()
    assert metrics.pca_reconstruction_error(x, x_test, 5) == pytest.approx(expected, rel=1e-4)


def test_principal_angles():
    e = torch.eye(4)
    assert torch.allclose(metrics.principal_angles(e[:, :2], e[:, :2] @ torch.tensor([[1., 2], [3, 4]])),
                          torch.zeros(2), atol=1e-3)
    assert torch.allclose(metrics.principal_angles(e[:, :1], e[:, 1:2]), torch.tensor([90.0]))
    a = torch.tensor([[1.0], [0.0]])
    b = torch.tensor([[1.0], [1.0]])
    assert metrics.principal_angles(a, b).item() == pytest.approx(45.0, abs=1e-4)


def test_linear_autoencoder_spans_pca_subspace_without_orthonormal_weights():
    """Baldi & Hornik (1989): a linear AE trained with squared error spans the top-k PCA subspace."""
    gen = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(20, 20, generator=gen))[0]
    scales = torch.tensor([3.0, 2.0, 1.5] + [0.1] * 17)
    x = (torch.randn(2000, 20, generator=gen) * scales) @ basis.T + 0.5
    aelib.seed_everything(0)
    model = models.LinearAutoencoder(20, 3)
    fit(model, x, epochs=200, lr=1e-2, batch_size=500, device="cpu")
    _, comps, _ = metrics.pca(x, 3)
    angles = metrics.principal_angles(model.decoder.weight.detach(), comps.T)
    assert angles.max() < 2.0
    gram = model.decoder.weight.detach().T @ model.decoder.weight.detach()
    assert (gram - torch.eye(3)).abs().max() > 0.1  # same subspace, but not an orthonormal basis
    ae_err = metrics.reconstruction_error(model, x)
    assert ae_err == pytest.approx(metrics.pca_reconstruction_error(x, x, 3), rel=0.02)


def test_psnr_known_value():
    x = torch.zeros(2, 4)
    assert metrics.psnr(x + 0.1, x) == pytest.approx(20.0, abs=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(x, torch.zeros(2, 5))


def test_knn_accuracy_separates_clusters():
    z = torch.cat([torch.randn(50, 2), torch.randn(50, 2) + 10])
    y = torch.cat([torch.zeros(50), torch.ones(50)]).long()
    assert metrics.knn_accuracy(z, y, z, y, n_neighbors=3) == 1.0
    assert metrics.knn_accuracy(torch.zeros(100, 2), y, z, y, n_neighbors=3) <= 0.5
