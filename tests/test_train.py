import pytest
import torch

import aelib
from aelib import metrics, models
from aelib.train import fit, fit_classifier


@pytest.fixture(scope="module")
def digits():
    return aelib.load_digits()


def _model(seed=0, latent=8):
    aelib.seed_everything(seed)
    return models.MLPAutoencoder(64, (32,), latent)


def test_fit_is_deterministic(digits):
    h1 = fit(_model(), digits.x_train, epochs=3, seed=5, device="cpu")
    h2 = fit(_model(), digits.x_train, epochs=3, seed=5, device="cpu")
    assert h1.train_loss == h2.train_loss
    h3 = fit(_model(), digits.x_train, epochs=3, seed=6, device="cpu")
    assert h3.train_loss != h1.train_loss


def test_fit_learns(digits):
    model = _model()
    before = metrics.reconstruction_error(model, digits.x_test)
    history = fit(model, digits.x_train, x_val=digits.x_test, epochs=30, lr=3e-3, device="cpu")
    after = metrics.reconstruction_error(model, digits.x_test)
    assert after < 0.5 * before
    assert history.train_loss[-1] < history.train_loss[0]
    assert len(history.val_loss) == 30 and len(history.seconds) == 30
    assert history.val_loss[-1] == pytest.approx(after / 64, rel=1e-4)  # mse = SSE / pixels


def test_corruption_is_drawn_afresh_and_seeded(digits):
    seen = []

    def corruption(x, generator=None):
        noise = torch.randn(x.shape, generator=generator, device=x.device)
        seen.append(noise[0, 0].item())
        return x + 0.1 * noise

    fit(_model(), digits.x_train[:64], epochs=2, batch_size=32, corruption=corruption, seed=1, device="cpu")
    first = list(seen)
    assert len(set(first)) == 4  # every mini-batch gets new noise
    seen.clear()
    fit(_model(), digits.x_train[:64], epochs=2, batch_size=32, corruption=corruption, seed=1, device="cpu")
    assert seen == first


def test_penalty_receives_code_and_changes_the_objective(digits):
    calls = []

    def penalty(model, x, z):
        calls.append(z.shape)
        return 10.0 * z.abs().mean()

    plain = fit(_model(), digits.x_train, epochs=2, device="cpu")
    penalised = fit(_model(), digits.x_train, epochs=2, penalty=penalty, device="cpu")
    assert calls and calls[0][1] == 8
    assert penalised.train_loss[0] > plain.train_loss[0]


def test_model_defined_objective_is_used(digits):
    class Own(models.MLPAutoencoder):
        def training_loss(self, x_in, x):
            return (self(x_in) - x).abs().mean()

    aelib.seed_everything(0)
    model = Own(64, (16,), 4)
    h = fit(model, digits.x_train, epochs=2, device="cpu")
    with torch.no_grad():
        expected = (model(digits.x_train) - digits.x_train).abs().mean().item()
    assert h.train_loss[-1] == pytest.approx(expected, rel=0.2)


def test_bad_inputs_are_clear(digits):
    model = _model()
    x = digits.x_train.clone()
    x[3, 5] = float("nan")
    with pytest.raises(ValueError, match="x_train contains 1 NaN"):
        fit(model, x, epochs=1)
    with pytest.raises(ValueError, match="expects input_dim=64"):
        fit(model, torch.rand(10, 65), epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, digits.x_train, epochs=0)
    with pytest.raises(TypeError, match="dtype"):
        fit(model, (digits.x_train * 16).long(), epochs=1)
    with pytest.raises(ValueError, match="2-D"):
        fit(model, digits.x_train.reshape(-1, 8, 8), epochs=1)
    with pytest.raises(ValueError, match="lr"):
        fit(model, digits.x_train, lr=-1.0)
    with pytest.raises(ValueError, match="loss"):
        fit(model, digits.x_train, loss="hinge")


def test_divergence_raises_and_restores_weights(digits):
    aelib.seed_everything(0)
    model = models.LinearAutoencoder(64, 8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(FloatingPointError, match="lr"):
        fit(model, digits.x_train, epochs=3, lr=1e3, loss="sse", optimizer="sgd", device="cpu")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_fit_classifier_learns_and_can_freeze(digits):
    aelib.seed_everything(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    frozen = net[0].weight.clone()
    h = fit_classifier(net, digits.x_train, digits.y_train, x_val=digits.x_test, y_val=digits.y_test,
                       epochs=15, lr=1e-2, parameters=net[2].parameters(), device="cpu")
    assert torch.equal(net[0].weight, frozen)
    assert h.val_accuracy[-1] > 0.8
    with pytest.raises(ValueError, match="y_train"):
        fit_classifier(net, digits.x_train, digits.y_train[:-1])


def test_mixed_precision_trains_like_float32_and_keeps_float32_state():
    g = torch.Generator().manual_seed(0)
    x = torch.sigmoid(torch.randn(512, 6, generator=g) @ torch.randn(6, 64, generator=g))  # 6 factors
    results = {}
    for mixed in (False, True):
        torch.manual_seed(1)
        model = models.MLPAutoencoder(64, (32,), 8)
        history = fit(model, x, epochs=8, batch_size=64, lr=3e-3, device="cpu", progress=False,
                      mixed_precision=mixed)
        assert all(p.dtype == torch.float32 for p in model.parameters())
        assert history.train_loss[-1] < 0.7 * history.train_loss[0]
        results[mixed] = history.train_loss[-1]
    # bfloat16 has 8 bits of mantissa: the trajectories differ, the outcome hardly.
    assert results[True] == pytest.approx(results[False], rel=0.1)
    assert results[True] != results[False]  # it really ran in lower precision


def test_mixed_precision_rejects_non_bool_and_unsupported_devices():
    model = models.MLPAutoencoder(16, (8,), 4)
    with pytest.raises(TypeError, match="mixed_precision"):
        fit(model, torch.rand(32, 16), epochs=1, device="cpu", progress=False, mixed_precision="yes")


def _plain_loop(model, x, *, epochs, batch_size, lr, seed):
    """The simplest correct loop, as chapter 1 writes it out: fit must give the same losses."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=order)
        total = 0.0
        for lo in range(0, len(x), batch_size):
            xb = x[perm[lo:lo + batch_size]]
            loss = torch.nn.functional.mse_loss(model(xb), xb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        losses.append(total / len(x))
    return losses


def test_fit_matches_the_plain_loop(digits):
    x = digits.x_train[:500]
    expected = _plain_loop(_model(), x, epochs=3, batch_size=64, lr=2e-3, seed=4)
    history = fit(_model(), x, epochs=3, batch_size=64, lr=2e-3, seed=4, device="cpu", progress=False)
    assert history.train_loss == pytest.approx(expected, rel=1e-6)


def test_fit_leaves_the_global_rng_alone(digits):
    model = _model()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit(model, digits.x_train[:200], epochs=2, device="cpu", progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_scheduler_steps_per_epoch_and_history_records_lr(digits):
    history = fit(_model(), digits.x_train[:256], epochs=4, batch_size=64, lr=0.01, device="cpu",
                  progress=False, scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5))
    assert history.lr == pytest.approx([0.01, 0.005, 0.0025, 0.00125])


def test_scheduler_can_step_per_batch(digits):
    history = fit(_model(), digits.x_train[:256], epochs=2, batch_size=64, lr=0.01, device="cpu",
                  progress=False, scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5),
                  scheduler_interval="batch")
    assert history.lr == pytest.approx([0.01, 0.01 * 0.5**4])  # four batches per epoch


def test_plateau_scheduler_watches_the_validation_loss(digits):
    history = fit(_model(), digits.x_train[:256], x_val=digits.x_test[:64], epochs=3, lr=1e-6,
                  device="cpu", progress=False, scheduler=lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(
                      opt, factor=0.1, patience=0, threshold=0.5))
    assert history.lr[-1] < history.lr[0]


def test_optimizer_instance_continues_and_refuses_a_second_lr(digits):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    fit(model, digits.x_train[:128], epochs=1, optimizer=optimizer, device="cpu", progress=False)
    assert optimizer.state_dict()["param_groups"][0]["lr"] == 0.05
    with pytest.raises(ValueError, match="lr would be ignored"):
        fit(model, digits.x_train[:128], epochs=1, optimizer=optimizer, lr=0.1, device="cpu")
    with pytest.raises(ValueError, match="weight_decay would be ignored"):
        fit(model, digits.x_train[:128], epochs=1, weight_decay=0.1, device="cpu",
            optimizer=lambda params: torch.optim.Adam(params))
    with pytest.raises(ValueError, match="optimizer must be one of"):
        fit(model, digits.x_train[:128], epochs=1, optimizer="adagrad", device="cpu")
    with pytest.raises(ValueError, match="scheduler_interval"):
        fit(model, digits.x_train[:128], epochs=1, device="cpu", scheduler=lambda o: None,
            scheduler_interval="step")


def test_on_epoch_sees_each_epoch_with_the_history_so_far(digits):
    seen = []
    history = fit(_model(), digits.x_train[:256], epochs=3, batch_size=64, device="cpu", progress=False,
                  on_epoch=lambda done, h: seen.append((done, list(h.train_loss))))
    assert [done for done, _ in seen] == [1, 2, 3]
    assert [losses for _, losses in seen] == [history.train_loss[:k] for k in (1, 2, 3)]
    labels = torch.zeros(256, dtype=torch.long)
    calls = []
    classifier = torch.nn.Sequential(torch.nn.Linear(64, 2))
    fit_classifier(classifier, digits.x_train[:256], labels, epochs=2, device="cpu", progress=False,
                   on_epoch=lambda done, h: calls.append(done))
    assert calls == [1, 2]
    with pytest.raises(TypeError, match="on_epoch"):
        fit(_model(), digits.x_train[:64], epochs=1, device="cpu", on_epoch="print")


def test_stop_training_in_on_epoch_ends_after_that_epoch(digits):
    from aelib.train import StopTraining

    def stop_at_two(done, history):
        if done == 2:
            raise StopTraining

    x = digits.x_train[:256]
    stopped, model = _model(), _model()
    model.load_state_dict(stopped.state_dict())
    history = fit(stopped, x, epochs=5, batch_size=64, device="cpu", progress=False, on_epoch=stop_at_two)
    two = fit(model, x, epochs=2, batch_size=64, device="cpu", progress=False)
    assert len(history.train_loss) == len(history.lr) == 2
    assert history.train_loss == two.train_loss          # the same two epochs, then nothing more
    assert all(torch.equal(a, b) for a, b in zip(stopped.parameters(), model.parameters()))
    assert not stopped.training                           # left in eval mode, as after a full run
    labels = torch.zeros(256, dtype=torch.long)
    classifier = torch.nn.Sequential(torch.nn.Linear(64, 2))
    h = fit_classifier(classifier, x, labels, epochs=4, device="cpu", progress=False, on_epoch=stop_at_two)
    assert len(h.train_loss) == 2
