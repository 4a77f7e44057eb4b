"""Tests for aelib.vae against closed forms (linear-Gaussian model, hand-set weights) and Monte Carlo."""
import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from aelib import train, vae
from aelib.vae import VAE


def _set_linear(layer, weight, bias):
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=layer.weight.dtype))
        layer.bias.copy_(torch.as_tensor(bias, dtype=layer.bias.dtype))


# -- the KL term -------------------------------------------------------------------------------

def test_analytic_kl_matches_torch_distributions_and_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    analytic = vae.gaussian_kl(mu, logvar)
    std = torch.exp(0.5 * logvar)
    reference = kl_divergence(Normal(mu, std), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(analytic, reference)
    # Monte Carlo: KL = E_q[log q(z) − log p(z)], with a CLT error bar.
    n = 50_000
    h = mu + std * torch.randn(n, 4, 3, generator=gen, dtype=torch.float64)
    log_ratio = (Normal(mu, std).log_prob(h) - Normal(0.0, 1.0).log_prob(h)).sum(-1)
    estimate, stderr = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n)
    assert torch.all((estimate - analytic).abs() < 4 * stderr + 1e-12)


# -- a hand-set model whose ELBO is known exactly ------------------------------------------------

def _constant_decoder_model(mu0, logvar0, logits):
    """A 2-D Bernoulli VAE with a 1-D code whose decoder ignores h: E_q[log p(x|z)] is exact."""
    model = VAE(2, (), 1, "bernoulli").double()
    _set_linear(model.encoder[-1], [[0.0, 0.0], [0.0, 0.0]], [mu0, logvar0])
    _set_linear(model.decoder[-1], [[0.0], [0.0]], logits)
    return model


def test_elbo_of_hand_set_model_equals_hand_computation():
    mu0, logvar0, logits = 0.7, -0.4, [0.3, -1.2]
    model = _constant_decoder_model(mu0, logvar0, logits)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.25, 0.5]])
    p = [1 / (1 + math.exp(-b)) for b in logits]
    log_px = [sum(xi * math.log(pi) + (1 - xi) * math.log(1 - pi) for xi, pi in zip(row, p)) for row in x.tolist()]
    kl = 0.5 * (mu0**2 + math.exp(logvar0) - 1 - logvar0)
    terms = vae.elbo(model, x, n_samples=3)
    assert terms.reconstruction == pytest.approx(sum(log_px) / 3, abs=1e-9)
    assert terms.kl == pytest.approx(kl, abs=1e-12)
    assert terms.elbo == pytest.approx(sum(log_px) / 3 - kl, abs=1e-9)
    assert vae.elbo(model, x, beta=2.5).elbo == pytest.approx(sum(log_px) / 3 - 2.5 * kl, abs=1e-9)
    # training_loss is the batch mean of −(reconstruction − β KL)
    model.beta = 3.0
    loss = model.training_loss(x.double(), x.double())
    assert float(loss.detach()) == pytest.approx(-(sum(log_px) / 3 - 3.0 * kl), abs=1e-9)


def test_encoder_equal_to_prior_gives_exact_log_likelihood():
    # q(z|x) = p(z) and p(x|z) = p(x): every importance weight equals p(x), for any K.
    model = _constant_decoder_model(0.0, 0.0, [0.3, -1.2])
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = torch.sigmoid(torch.tensor([0.3, -1.2], dtype=torch.float64))
    truth = (x * p.log() + (1 - x) * (1 - p).log()).sum(1)
    for k in (1, 7):
        torch.testing.assert_close(vae.log_likelihood(model, x, k, per_example=True), truth)


# -- a linear-Gaussian VAE: p(x) = N(b, W Wᵀ + s² I) in closed form -----------------------------

W = torch.tensor([[1.0, 1.0], [2.0, 0.0], [-1.0, 1.0]], dtype=torch.float64)  # orthogonal columns
B = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64)
S = 0.7


def _linear_gaussian(encoder_weight, encoder_bias):
    model = VAE(3, (), 2, "gaussian", gaussian_std=S).double()
    _set_linear(model.decoder[-1], W, B)
    _set_linear(model.encoder[-1], encoder_weight, encoder_bias)
    return model


def _exact_posterior():
    """q(h|x) = N(M⁻¹Wᵀ(x − b), s² M⁻¹), M = WᵀW + s²I (diagonal because Wᵀ W is)."""
    m = W.T @ W + S**2 * torch.eye(2, dtype=torch.float64)
    assert torch.count_nonzero(m - torch.diag(torch.diag(m))) == 0
    mean_weight = torch.linalg.solve(m, W.T)
    logvar = torch.log(S**2 / torch.diag(m))
    weight = torch.cat([mean_weight, torch.zeros(2, 3, dtype=torch.float64)])
    bias = torch.cat([-mean_weight @ B, logvar])
    return weight, bias


def _true_log_px(x):
    cov = W @ W.T + S**2 * torch.eye(3, dtype=torch.float64)
    return MultivariateNormal(B, covariance_matrix=cov).log_prob(x.double())


X = torch.tensor([[0.5, 1.0, -1.0], [2.0, 0.0, 1.0], [-1.0, -2.0, 0.5], [0.0, 0.0, 0.0]])


def test_elbo_of_linear_gaussian_matches_closed_form():
    weight, bias = _exact_posterior()
    bias = bias + torch.tensor([0.3, -0.2, 0.5, 0.8], dtype=torch.float64)  # a deliberately imperfect q
    model = _linear_gaussian(weight, bias)
    with torch.no_grad():
        mu, logvar = model.encode_distribution(X.double())
    resid = X.double() - mu @ W.T - B
    trace = (logvar.exp() * (W**2).sum(0)).sum(1)  # E‖W(h − μ)‖² = Σ_j σ_j² ‖W_j‖²
    expected_rec = -1.5 * math.log(2 * math.pi * S**2) - (resid.pow(2).sum(1) + trace) / (2 * S**2)
    expected_kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
    terms = vae.elbo(model, X, n_samples=20_000)
    assert terms.kl == pytest.approx(float(expected_kl.mean()), abs=1e-9)
    assert terms.reconstruction == pytest.approx(float(expected_rec.mean()), abs=0.03)
    assert float(trace.mean()) / (2 * S**2) > 1.0  # the trace term matters, so the check has teeth
    # ELBO ≤ log p(x), with a gap here because q is not the posterior
    assert terms.elbo < float(_true_log_px(X).mean()) - 0.1


def test_importance_weighted_estimate_is_exact_with_the_true_posterior():
    model = _linear_gaussian(*_exact_posterior())
    truth = _true_log_px(X)
    for k in (1, 5, 50):
        torch.testing.assert_close(vae.log_likelihood(model, X, k, per_example=True), truth, rtol=0, atol=1e-9)
    assert vae.elbo(model, X, n_samples=20_000).elbo == pytest.approx(float(truth.mean()), abs=0.03)


def test_importance_weighted_estimate_tightens_with_more_samples():
    weight, bias = _exact_posterior()
    model = _linear_gaussian(weight * 0.6, bias + torch.tensor([0.5, -0.5, 1.0, 0.5], dtype=torch.float64))
    truth = float(_true_log_px(X).mean())
    seeds = range(20)
    gap = {k: truth - sum(vae.log_likelihood(model, X, k, seed=s) for s in seeds) / len(seeds)
           for k in (1, 10, 100, 1000)}
    elbo_value = sum(vae.elbo(model, X, seed=s).elbo for s in seeds) / len(seeds)
    assert gap[1] == pytest.approx(truth - elbo_value, abs=0.1)  # K = 1 is the ELBO (in expectation)
    assert gap[1] > gap[10] > gap[100] > gap[1000] > -0.01  # grows with K, stays a lower bound
    assert truth - gap[10] > elbo_value  # IW ≥ ELBO on average
    assert gap[1] > 0.5 and gap[1000] < 0.1 * gap[1]  # approaches log p(x)


def test_iw_bound_exceeds_elbo_on_a_small_trained_bernoulli_vae():
    torch.manual_seed(0)
    x = (torch.rand(256, 20) < torch.linspace(0.1, 0.9, 20)).float()
    model = VAE(20, (16,), 3)
    train.fit(model, x, epochs=3, batch_size=64, lr=3e-3, progress=False, device="cpu")
    e = vae.elbo(model, x, n_samples=5).elbo
    iw = [vae.log_likelihood(model, x, k) for k in (1, 5, 50)]
    assert iw[0] < iw[1] < iw[2]
    assert iw[2] > e
    assert iw[0] == pytest.approx(e, abs=0.5)


# -- shapes, decoding, training ------------------------------------------------------------------

def test_shapes_and_ranges():
    torch.manual_seed(0)
    model = VAE(12, (8, 6), 3)
    x = torch.rand(5, 12)
    mu, logvar = model.encode_distribution(x)
    assert mu.shape == logvar.shape == (5, 3)
    torch.testing.assert_close(model.encode(x), mu)
    out = model(x)
    assert out.shape == (5, 12) and 0 < out.min() and out.max() < 1
    torch.testing.assert_close(out, model.decode(mu))
    samples = model.sample(7, seed=1)
    assert samples.shape == (7, 12) and samples.device.type == "cpu"
    path = model.interpolate(x[0], x[1:2], steps=4)
    assert path.shape == (4, 12)
    torch.testing.assert_close(path[0], model(x[:1])[0].detach())
    torch.testing.assert_close(path[-1], model(x[1:2])[0].detach())
    assert vae.log_likelihood(model, x, 3, per_example=True).shape == (5,)
    assert [m.out_features for m in model.encoder if isinstance(m, torch.nn.Linear)] == [8, 6, 6]
    gaussian = VAE(12, (8,), 3, "gaussian")
    assert gaussian.decode(torch.zeros(2, 3)).shape == (2, 12)
    assert "log_std" in dict(gaussian.named_parameters())
    assert gaussian.decoder_std == pytest.approx(1.0) and model.decoder_std is None
    fixed = VAE(12, (8,), 3, "gaussian", gaussian_std=0.5)
    assert "log_std" not in dict(fixed.named_parameters())
    assert fixed.decoder_std == 0.5


def test_gaussian_log_density_includes_the_constant():
    model = VAE(4, (), 2, "gaussian", gaussian_std=0.3).double()
    x = torch.rand(3, 4, dtype=torch.float64)
    h = torch.randn(3, 2, dtype=torch.float64)
    mean = model.decoder(h)
    reference = Normal(mean, 0.3).log_prob(x).sum(1)
    torch.testing.assert_close(model.log_px_given_z(x, h), reference.detach())


def test_per_example_mean_and_batching_limits():
    torch.manual_seed(0)
    model = VAE(10, (8,), 2)
    x = torch.rand(9, 10)
    per = vae.log_likelihood(model, x, 20, per_example=True, seed=3)
    assert float(per.mean()) == pytest.approx(vae.log_likelihood(model, x, 20, seed=3), abs=1e-5)
    tiny = vae.log_likelihood(model, x, 20, per_example=True, seed=3, max_rows=7)  # forces sample chunks
    assert tiny.shape == (9,) and torch.isfinite(tiny).all()
    assert float((tiny - per).abs().mean()) < 1.0  # same quantity, different draws


def test_reparameterisation_passes_gradients_to_the_encoder_variance():
    torch.manual_seed(0)
    model = VAE(6, (), 2)
    model.training_loss(torch.rand(4, 6), torch.rand(4, 6)).backward()
    head = model.encoder[-1]
    assert head.weight.grad[2:].abs().sum() > 0  # rows producing log σ²


def test_determinism():
    x = torch.rand(30, 10, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = VAE(10, (8,), 2)
    assert vae.elbo(model, x, seed=4) == vae.elbo(model, x, seed=4)
    assert vae.elbo(model, x, seed=4) != vae.elbo(model, x, seed=5)
    assert vae.log_likelihood(model, x, 10, seed=1) == vae.log_likelihood(model, x, 10, seed=1)
    torch.testing.assert_close(model.sample(3, seed=2), model.sample(3, seed=2))
    weights = []
    for _ in range(2):
        torch.manual_seed(1)
        m = VAE(10, (8,), 2)
        train.fit(m, x, epochs=2, batch_size=8, seed=3, progress=False, device="cpu")
        weights.append(torch.cat([p.detach().flatten() for p in m.parameters()]))
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)


def test_fit_trains_the_vae_with_its_own_objective():
    torch.manual_seed(0)
    x = (torch.rand(512, 16) < torch.linspace(0.05, 0.95, 16)).float()
    model = VAE(16, (12,), 2)
    before = vae.elbo(model, x, n_samples=10).elbo
    history = train.fit(model, x, x_val=x[:64], epochs=4, batch_size=64, lr=1e-2, progress=False, device="cpu")
    after = vae.elbo(model, x, n_samples=10).elbo
    assert after > before + 1.0
    assert history.train_loss[-1] < history.train_loss[0]
    with pytest.raises(ValueError, match="training_loss"):
        train.fit(model, x, loss="bce", epochs=1, progress=False, device="cpu")


# -- validation -------------------------------------------------------------------------------------

def test_validation_errors():
    model = VAE(4, (3,), 2)
    x = torch.rand(5, 4)
    with pytest.raises(ValueError, match="beta"):
        VAE(4, (3,), 2, beta=-1.0)
    with pytest.raises(ValueError, match="beta"):
        model.beta = -0.1
    with pytest.raises(ValueError, match="beta"):
        vae.elbo(model, x, beta=-1)
    with pytest.raises(ValueError, match="n_samples"):
        vae.log_likelihood(model, x, 0)
    with pytest.raises(ValueError, match="n_samples"):
        vae.elbo(model, x, n_samples=0)
    with pytest.raises(ValueError, match="expects input_dim=4"):
        vae.elbo(model, torch.rand(5, 3))
    with pytest.raises(ValueError, match="2-D"):
        vae.log_likelihood(model, torch.rand(4), 2)
    with pytest.raises(ValueError, match="NaN"):
        vae.elbo(model, torch.full((2, 4), float("nan")))
    with pytest.raises(ValueError, match="likelihood"):
        VAE(4, (3,), 2, likelihood="poisson")
    with pytest.raises(ValueError, match="gaussian_std"):
        VAE(4, (3,), 2, gaussian_std=0.5)
    with pytest.raises(ValueError, match="gaussian_std"):
        VAE(4, (3,), 2, "gaussian", gaussian_std=0.0)
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(4, (3,), 0)
    with pytest.raises(ValueError, match="steps"):
        model.interpolate(x[0], x[1], steps=1)
    with pytest.raises(ValueError, match="one example"):
        model.interpolate(x[:2], x[1], steps=3)
    with pytest.raises(ValueError, match="n"):
        model.sample(0)
    with pytest.raises(TypeError, match="VAE"):
        vae.elbo(torch.nn.Linear(4, 4), x)
