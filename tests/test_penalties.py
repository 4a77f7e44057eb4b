"""Tests for the contractive penalty in aelib.penalties, against brute-force autograd Jacobians."""
import math

import pytest
import torch
from torch import nn

from aelib import penalties
from aelib.models import ConvAutoencoder, MLPAutoencoder
from aelib.jacobian import batch_jacobian, jacobian_frobenius_sq
from aelib.penalties import contractive
from aelib.train import fit


def brute_force_frobenius_sq(fn, x, create_graph=False):
    """Σ over rows' ‖∂fn(x_i)/∂x_i‖²_F, one torch.autograd.functional.jacobian call per row."""
    rows = []
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda r: fn(r.unsqueeze(0)).squeeze(0), xi,
                                                 create_graph=create_graph)
        rows.append(jac.pow(2).sum())
    return torch.stack(rows)


def one_layer(activation, d=12, k=5, seed=0):
    torch.manual_seed(seed)
    layers = [nn.Linear(d, k)] + ([activation()] if activation is not None else [])
    return nn.Sequential(*layers).double()


def deep_encoder(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(12, 9), nn.Tanh(), nn.Linear(9, 7), nn.Softplus(), nn.Linear(7, 4),
                         nn.Sigmoid()).double()


def data(n=6, d=12, seed=1):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_batch_jacobian_matches_autograd():
    enc, x = deep_encoder(), data()
    jac = batch_jacobian(enc, x)
    assert jac.shape == (6, 4, 12)
    for i in range(len(x)):
        ref = torch.autograd.functional.jacobian(lambda r: enc(r.unsqueeze(0)).squeeze(0), x[i])
        torch.testing.assert_close(jac[i], ref, atol=1e-10, rtol=0)


def test_batch_jacobian_forward_mode_for_wide_outputs():
    torch.manual_seed(0)
    decoder = nn.Sequential(nn.Linear(3, 10), nn.Tanh(), nn.Linear(10, 15), nn.Sigmoid()).double()
    z = data(n=4, d=3)
    jac = batch_jacobian(decoder, z)  # 15 outputs > 3 inputs: forward mode
    assert jac.shape == (4, 15, 3)
    for i in range(4):
        ref = torch.autograd.functional.jacobian(lambda r: decoder(r.unsqueeze(0)).squeeze(0), z[i])
        torch.testing.assert_close(jac[i], ref, atol=1e-10, rtol=0)
    # Still differentiable with respect to the parameters.
    grads = torch.autograd.grad(jac.pow(2).sum(), list(decoder.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)


def test_exact_matches_brute_force_deep_encoder():
    enc, x = deep_encoder(), data()
    torch.testing.assert_close(jacobian_frobenius_sq(enc, x), brute_force_frobenius_sq(enc, x), atol=1e-5, rtol=0)


def test_exact_matches_brute_force_conv_autoencoder():
    torch.manual_seed(0)
    model = ConvAutoencoder((1, 8, 8), channels=(4, 6), latent_dim=3).double()
    x = torch.rand(3, 64, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    torch.testing.assert_close(jacobian_frobenius_sq(model, x), brute_force_frobenius_sq(model.encode, x),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("activation", [nn.Sigmoid, nn.Tanh, nn.ReLU, None])
def test_closed_form_matches_brute_force(activation):
    enc, x = one_layer(activation), data()
    reference = brute_force_frobenius_sq(enc, x)
    torch.testing.assert_close(jacobian_frobenius_sq(enc, x, method="closed_form"), reference, atol=1e-5, rtol=0)
    torch.testing.assert_close(jacobian_frobenius_sq(enc, x, method="exact"), reference, atol=1e-5, rtol=0)
    # Reusing precomputed codes gives the same numbers.
    torch.testing.assert_close(jacobian_frobenius_sq(enc, x, method="closed_form", codes=enc(x)), reference,
                               atol=1e-5, rtol=0)


def test_closed_form_sigmoid_formula_by_hand():
    enc, x = one_layer(nn.Sigmoid), data()
    w = enc[0].weight
    h = torch.sigmoid(x @ w.T + enc[0].bias)
    by_hand = ((h * (1 - h)) ** 2 * (w ** 2).sum(1)).sum(1)
    torch.testing.assert_close(jacobian_frobenius_sq(enc, x, method="closed_form"), by_hand)


def test_closed_form_finds_the_encoder_of_an_autoencoder():
    torch.manual_seed(0)
    model = MLPAutoencoder(12, (), 5, latent_activation="sigmoid").double()
    x = data()
    torch.testing.assert_close(jacobian_frobenius_sq(model, x, method="closed_form"),
                               brute_force_frobenius_sq(model.encode, x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("encoder", [
    lambda: deep_encoder(),
    lambda: MLPAutoencoder(12, (8,), 4, latent_activation="sigmoid"),
    lambda: nn.Sequential(nn.Linear(12, 4), nn.Softplus()),
    lambda: (lambda x: x[:, :3] ** 2),
])
def test_closed_form_refuses_other_encoders(encoder):
    enc = encoder()
    with pytest.raises(ValueError, match="closed_form.*one-layer.*got .*exact.*estimator"):
        jacobian_frobenius_sq(enc, data().to(torch.float64 if isinstance(enc, nn.Module) else torch.float32),
                              method="closed_form")


def test_estimator_is_unbiased_within_standard_error():
    enc, x = deep_encoder(), data(n=3)
    exact = jacobian_frobenius_sq(enc, x).detach()
    draws = 4000
    # One projection each for `draws` copies of every row: independent single-draw estimates.
    single = jacobian_frobenius_sq(enc, x.repeat(draws, 1), method="estimator",
                                   generator=torch.Generator().manual_seed(0)).detach().reshape(draws, 3)
    mean, se = single.mean(0), single.std(0) / math.sqrt(draws)
    assert ((mean - exact).abs() < 4 * se).all(), (mean, exact, se)
    # The estimator is genuinely random (not the exact value in disguise).
    assert (single.std(0) > 0.1 * exact).all()


def test_estimator_variance_falls_with_projections():
    enc, x = deep_encoder(), data(n=2)
    reps = 400
    one = jacobian_frobenius_sq(enc, x.repeat(reps, 1), method="estimator",
                                generator=torch.Generator().manual_seed(1)).detach().reshape(reps, 2)
    many = jacobian_frobenius_sq(enc, x.repeat(reps, 1), method="estimator", n_projections=16,
                                 generator=torch.Generator().manual_seed(2)).detach().reshape(reps, 2)
    ratio = one.var(0) / many.var(0)
    assert ((ratio > 8) & (ratio < 32)).all(), ratio  # 16 in expectation


def test_estimator_wide_output_uses_input_projections_and_is_unbiased():
    torch.manual_seed(0)
    wide = nn.Sequential(nn.Linear(4, 9), nn.Tanh()).double()   # more outputs than inputs: forward mode
    x = data(n=2, d=4)
    exact = jacobian_frobenius_sq(wide, x).detach()
    draws = 4000
    single = jacobian_frobenius_sq(wide, x.repeat(draws, 1), method="estimator",
                                   generator=torch.Generator().manual_seed(3)).detach().reshape(draws, 2)
    assert ((single.mean(0) - exact).abs() < 4 * single.std(0) / math.sqrt(draws)).all()


def test_estimator_works_under_no_grad_and_for_constant_codes():
    enc, x = deep_encoder(), data()
    with torch.no_grad():
        value = jacobian_frobenius_sq(enc, x, method="estimator", generator=torch.Generator().manual_seed(0))
    assert value.shape == (6,) and (value > 0).all()
    constant = jacobian_frobenius_sq(lambda r: torch.ones(len(r), 3, dtype=r.dtype), x, method="estimator")
    assert torch.equal(constant, torch.zeros(6, dtype=x.dtype))


def test_estimator_reproducible_with_generator():
    enc, x = deep_encoder(), data()
    a = jacobian_frobenius_sq(enc, x, method="estimator", n_projections=3, generator=torch.Generator().manual_seed(5))
    b = jacobian_frobenius_sq(enc, x, method="estimator", n_projections=3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def _grads(value, module):
    return torch.cat([g.flatten() for g in torch.autograd.grad(value, list(module.parameters()))])


def test_exact_gradient_matches_brute_force_gradient():
    enc, x = deep_encoder(), data()
    exact = _grads(jacobian_frobenius_sq(enc, x).mean(), enc)
    brute = _grads(brute_force_frobenius_sq(enc, x, create_graph=True).mean(), enc)
    torch.testing.assert_close(exact, brute, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("activation", [nn.Sigmoid, nn.Tanh])
def test_closed_form_gradient_matches_exact_gradient(activation):
    enc, x = one_layer(activation), data()
    closed = _grads(jacobian_frobenius_sq(enc, x, method="closed_form").mean(), enc)
    exact = _grads(jacobian_frobenius_sq(enc, x, method="exact").mean(), enc)
    assert closed.abs().max() > 1e-3  # a real gradient, not zeros on both sides
    torch.testing.assert_close(closed, exact, atol=1e-8, rtol=1e-6)


def test_estimator_gradient_is_unbiased():
    enc, x = deep_encoder(), data(n=4)
    exact = _grads(jacobian_frobenius_sq(enc, x).mean(), enc)
    gen = torch.Generator().manual_seed(2)
    samples = torch.stack([_grads(jacobian_frobenius_sq(enc, x, method="estimator", n_projections=200,
                                                        generator=gen).mean(), enc) for _ in range(20)])
    mean, se = samples.mean(0), samples.std(0) / math.sqrt(len(samples))
    z = (mean - exact) / (se + 1e-12)
    assert (z.abs() < 5).float().mean() > 0.99, z.abs().max()
    cosine = torch.nn.functional.cosine_similarity(mean, exact, dim=0)
    assert cosine > 0.99


@pytest.mark.parametrize("method", ["exact", "closed_form", "estimator"])
def test_penalty_callable_is_weight_times_batch_mean(method):
    torch.manual_seed(0)
    model = MLPAutoencoder(12, (), 5, latent_activation="sigmoid").double()
    x = data()
    pen = contractive(0.5, method=method, n_projections=4000 if method == "estimator" else 1,
                      generator=torch.Generator().manual_seed(0))
    value = pen(model, x, model.encode(x))
    reference = 0.5 * brute_force_frobenius_sq(model.encode, x).mean()
    assert value.dim() == 0
    tolerance = 1e-8 if method != "estimator" else 0.05 * reference.item()
    assert abs(value.item() - reference.item()) < tolerance
    assert pen.weight == 0.5 and pen.method == method


def test_contractive_training_shrinks_the_jacobian():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(256, 20, generator=gen)
    norms = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        model = MLPAutoencoder(20, (), 8, latent_activation="sigmoid")
        fit(model, x, epochs=15, batch_size=64, lr=1e-2, loss="sse", penalty=contractive(weight, "closed_form"),
            device="cpu", progress=False)
        norms[weight] = jacobian_frobenius_sq(model, x).mean().item()
    assert norms[1.0] < 0.5 * norms[0.0], norms


@pytest.mark.parametrize("call, error, match", [
    (lambda: contractive(-1.0), ValueError, "weight"),
    (lambda: contractive(0.1, method="fast"), ValueError, "method"),
    (lambda: contractive(0.1, method="estimator", n_projections=0), ValueError, "n_projections"),
    (lambda: contractive(0.1, method="closed_form", n_projections=3), ValueError, "n_projections"),
    (lambda: jacobian_frobenius_sq(deep_encoder(), torch.ones(12)), ValueError, "2-D"),
    (lambda: jacobian_frobenius_sq(deep_encoder(), data(), method="estimator", generator=1), TypeError, "generator"),
    (lambda: jacobian_frobenius_sq(3, data()), TypeError, "encoder"),
])
def test_bad_arguments_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_exact_refuses_batchnorm_in_training_mode():
    enc = nn.Sequential(nn.Linear(12, 4), nn.BatchNorm1d(4)).double().train()
    with pytest.raises(ValueError, match="rows independently"):
        jacobian_frobenius_sq(enc, data())


def test_public_names_exported():
    assert "contractive" in penalties.__all__
    from aelib import jacobian
    for name in ("jacobian_frobenius_sq", "batch_jacobian"):
        assert name in jacobian.__all__
