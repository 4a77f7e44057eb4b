"""Tests for aelib.pretrain: stacking, what each step trains, determinism, the experiment helpers."""
import numpy as np
import pytest
import torch
from torch import nn

from aelib import corrupt, pretrain, train
from aelib.models import MLPAutoencoder
from aelib.chapters import ch07_pretraining as ch07  # noqa: E402
from aelib import models  # noqa: E402


def _data(n=96, d=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=gen)
    y = (x[:, :3].sum(1) > 1.5).long() + 2 * (x[:, 3] > 0.5).long()  # 4 learnable classes
    return x, y


def _flat(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_greedy_stack_shapes_and_layout():
    x, _ = _data()
    result = pretrain.greedy_pretrain(x, (8, 5, 3), epochs=1, progress=False, device="cpu")
    assert len(result.autoencoders) == len(result.histories) == 3
    assert [(ae.input_dim, ae.latent_dim) for ae in result.autoencoders] == [(12, 8), (8, 5), (5, 3)]
    linears = [m for m in result.encoder if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(12, 8), (8, 5), (5, 3)]
    assert result.encoder(x).shape == (96, 3)
    # same layout as the random baseline, so state dicts are interchangeable
    baseline = pretrain.make_encoder(12, (8, 5, 3), "sigmoid")
    baseline.load_state_dict(result.encoder.state_dict())
    torch.testing.assert_close(baseline(x), result.encoder(x))
    # the stack is the composition f_3 ∘ f_2 ∘ f_1 of the autoencoders' encoders
    composed = x
    for ae in result.autoencoders:
        composed = ae.encode(composed)
    torch.testing.assert_close(result.encoder(x), composed)
    # ... but a copy: training the stack leaves the autoencoders alone
    before = _flat(result.autoencoders[0])
    with torch.no_grad():
        result.encoder[0].weight.add_(1.0)
    torch.testing.assert_close(_flat(result.autoencoders[0]), before)


def test_greedy_layer_k_is_trained_on_the_codes_of_layer_k_minus_1():
    x, _ = _data()
    kwargs = dict(epochs=2, batch_size=16, lr=1e-2, progress=False, device="cpu")
    result = pretrain.greedy_pretrain(x, (8, 4), seed=5, **kwargs)
    codes_1 = result.autoencoders[0].encode(x).detach()
    # Rebuild layer 2 by hand from the documented seed (seed + k) and train it on z₁ with fit:
    torch.manual_seed(5 + 1)
    by_hand = MLPAutoencoder(8, (), 4, activation="sigmoid", latent_activation="sigmoid", output="sigmoid")
    train.fit(by_hand, codes_1, seed=5 + 1, **kwargs)
    torch.testing.assert_close(_flat(by_hand), _flat(result.autoencoders[1]), rtol=0, atol=0)
    # and training it on x (or on untrained codes) instead would give other weights
    torch.manual_seed(5 + 1)
    other = MLPAutoencoder(8, (), 4, activation="sigmoid", latent_activation="sigmoid", output="sigmoid")
    train.fit(other, torch.rand(96, 8), seed=5 + 1, **kwargs)
    assert not torch.equal(_flat(other), _flat(result.autoencoders[1]))
    # the layer has learned its input: it reconstructs z₁ better than it did at initialisation
    assert result.histories[1].train_loss[-1] < result.histories[1].train_loss[0]


def test_decoder_output_follows_the_range_of_its_target():
    x, _ = _data()
    relu = pretrain.greedy_pretrain(x, (6, 3), activation="relu", epochs=1, progress=False, device="cpu")
    assert isinstance(relu.autoencoders[0].decoder[-1], nn.Sigmoid)  # pixels in [0, 1]
    assert isinstance(relu.autoencoders[1].decoder[-1], nn.Linear)  # ReLU codes are unbounded


def test_greedy_with_corruption_and_end_to_end():
    x, _ = _data()
    noisy = pretrain.greedy_pretrain(x, (6,), epochs=2, corruption=corrupt.masking(0.5), progress=False, device="cpu")
    clean = pretrain.greedy_pretrain(x, (6,), epochs=2, progress=False, device="cpu")
    assert not torch.equal(_flat(noisy.encoder), _flat(clean.encoder))  # same seed, only the corruption differs
    e2e = pretrain.end_to_end_pretrain(x, (8, 3), epochs=2, progress=False, device="cpu")
    assert len(e2e.autoencoders) == 1 and e2e.autoencoders[0].latent_dim == 3
    assert [type(m) for m in e2e.encoder] == [type(m) for m in pretrain.make_encoder(12, (8, 3))]
    torch.testing.assert_close(e2e.encoder(x), e2e.autoencoders[0].encode(x))


def test_fine_tune_step_one_changes_only_the_output_layer():
    x, y = _data()
    body = pretrain.make_encoder(12, (8, 6), seed=0)
    model = models.Classifier(body, 4, seed=0)
    body_before, head_before = _flat(model.body), _flat(model.head)
    history = pretrain.fine_tune(model, x, y, head_epochs=3, full_epochs=0, lr=1e-2, progress=False, device="cpu")
    assert history.full is None and history.head.epochs == 3
    torch.testing.assert_close(_flat(model.body), body_before, rtol=0, atol=0)
    assert not torch.equal(_flat(model.head), head_before)
    assert all(p.requires_grad for p in model.body.parameters())  # unfrozen again for step 2
    pretrain.fine_tune(model, x, y, head_epochs=0, full_epochs=2, lr=1e-2, progress=False, device="cpu")
    assert not torch.equal(_flat(model.body), body_before)  # step 2 trains everything


def test_fine_tuning_learns_and_is_deterministic():
    x, y = _data(n=256)
    accs, weights = [], []
    for _ in range(2):
        model = models.Classifier(pretrain.make_encoder(12, (16,), "relu", seed=1), 4, seed=1)
        before = pretrain.accuracy(model, x, y)
        pretrain.fine_tune(model, x, y, head_epochs=2, full_epochs=15, lr=1e-2, seed=3, progress=False,
                           device="cpu")
        accs.append(pretrain.accuracy(model, x, y))
        weights.append(_flat(model))
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)
    assert accs[0] > before + 0.2
    result_a = pretrain.greedy_pretrain(x, (6, 4), epochs=1, seed=2, progress=False, device="cpu")
    result_b = pretrain.greedy_pretrain(x, (6, 4), epochs=1, seed=2, progress=False, device="cpu")
    torch.testing.assert_close(_flat(result_a.encoder), _flat(result_b.encoder), rtol=0, atol=0)


def test_seeded_construction_leaves_the_global_rng_alone():
    body = nn.Linear(5, 4)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    pretrain.make_encoder(5, (4,), seed=123)
    models.Classifier(body, 3, seed=7)
    torch.testing.assert_close(torch.rand(3), expected)
    torch.testing.assert_close(_flat(pretrain.make_encoder(5, (4,), seed=1)), _flat(pretrain.make_encoder(5, (4,), seed=1)))


def test_classifier_head_follows_the_body():
    body = pretrain.make_encoder(5, (4,), seed=0).double()
    model = models.Classifier(body, 3, seed=0)
    assert model.head.weight.dtype == torch.float64
    assert model(torch.rand(2, 5, dtype=torch.float64)).shape == (2, 3)


def test_layer_gradient_norms_match_autograd_by_hand():
    x, y = _data()
    model = models.Classifier(pretrain.make_encoder(12, (8, 6), seed=0), 4, seed=0)
    norms = ch07.layer_gradient_norms(model, x, y)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    expected = [model.body[0].weight.grad.norm(), model.body[2].weight.grad.norm(), model.head.weight.grad.norm()]
    assert norms == pytest.approx([float(e) for e in expected], rel=1e-5)


def test_labelled_subset_and_summary():
    y = np.repeat(np.arange(3), 10)
    idx = ch07.labelled_subset(y, 4, seed=0)
    assert len(idx) == 12 and len(set(idx)) == 12 and np.bincount(y[idx]).tolist() == [4, 4, 4]
    assert not np.array_equal(np.sort(idx), np.sort(ch07.labelled_subset(y, 4, seed=1)))
    uneven = np.array([0] * 5 + [1] * 9)
    assert np.bincount(uneven[ch07.labelled_subset(uneven, 3)]).tolist() == [3, 3]
    with pytest.raises(ValueError, match="n_per_class"):
        ch07.labelled_subset(y, 11)
    rows = [{"method": "a", "labels_per_class": 1, "seed": s, "accuracy": a} for s, a in enumerate([0.5, 0.7])]
    mean, std, n = ch07.summarize(rows)[("a", 1)]
    assert (mean, n) == (pytest.approx(0.6), 2) and std == pytest.approx(np.std([0.5, 0.7], ddof=1))


def test_few_label_comparison_rows():
    x, y = _data(n=200)
    encoder = pretrain.make_encoder(12, (6,), seed=0)
    rows = ch07.few_label_comparison(
        x[:120], y[:120], x[120:], y[120:], encoders={"random": lambda s: pretrain.make_encoder(12, (6,), seed=s)},
        probe={"probe": encoder}, labels_per_class=(3,), seeds=(0, 1), steps=5, head_steps=2, device="cpu")
    assert [(r["method"], r["seed"]) for r in rows] == [("random", 0), ("probe", 0), ("random", 1), ("probe", 1)]
    assert all(0 <= r["accuracy"] <= 1 for r in rows)


def test_validation_errors():
    x, y = _data()
    with pytest.raises(ValueError, match="hidden_dims"):
        pretrain.greedy_pretrain(x, (), progress=False)
    with pytest.raises(ValueError, match="NaN"):
        pretrain.greedy_pretrain(torch.full((4, 3), float("nan")), (2,), progress=False)
    with pytest.raises(ValueError, match="activation"):
        pretrain.make_encoder(4, (3,), activation="swishy")
    with pytest.raises(ValueError, match="codes of the previous"):
        pretrain.stack_encoders([MLPAutoencoder(4, (), 3), MLPAutoencoder(5, (), 2)])
    with pytest.raises(TypeError, match="Classifier"):
        pretrain.fine_tune(nn.Linear(12, 4), x, y)
    with pytest.raises(ValueError, match="head_epochs"):
        pretrain.fine_tune(models.Classifier(nn.Linear(12, 4), 4), x, y, head_epochs=-1)
    with pytest.raises(ValueError, match="n_classes"):
        models.Classifier(nn.Linear(12, 4), 1)
    with pytest.raises(ValueError, match="y"):
        pretrain.accuracy(nn.Linear(12, 4), x, y[:5])
