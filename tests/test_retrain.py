"""Live retraining for the sliders: progress, notes, the sweep's curve, and warm starts that land
near it (issue 13: a retrained model lies within 1.25× of the sweep's curve)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import ipywidgets as widgets  # noqa: E402
import torch  # noqa: E402

import aelib  # noqa: E402
from aelib import metrics, sparse, vae  # noqa: E402
from aelib import widgets as aew  # noqa: E402
from aelib.chapters import ch02_capacity as ch02  # noqa: E402
from aelib.chapters import ch03_sparse as ch03  # noqa: E402
from aelib.chapters import ch05_contractive as ch05  # noqa: E402
from aelib.chapters import ch06_vae as ch06  # noqa: E402
from aelib.models import MLPAutoencoder  # noqa: E402
from aelib.penalties import contractive  # noqa: E402
from aelib.train import fit  # noqa: E402

BOUND = 1.25  # the bound, read both ways: between 1/1.25 and 1.25 times the curve


def within_bound(error, curve):
    return 1 / BOUND <= error / curve <= BOUND


def draw(value):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, float(value)])
    return fig


def low_rank_data(n=600, d=24, rank=10, seed=0):  # for checks of the mechanics only
    """Data near a ``rank``-dimensional subspace with decaying variances, values in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(d, rank, generator=g))[0].T
    scales = torch.logspace(0, -1.2, rank)
    x = (torch.randn(n, rank, generator=g) * scales) @ basis
    return (0.5 + 0.25 * x / x.abs().max()).float()


# ---------------------------------------------------------------- the explorer's controls
def test_a_retrain_with_a_progress_parameter_gets_a_reporter_that_moves_bar_and_status():
    seen = []

    def retrain(value, progress=None):
        assert box.retrain_button.disabled  # no second click while it trains
        for epoch in (1, 2, 3):
            progress(epoch, 3)
            seen.append((box.progress_bar.value, box.progress_bar.layout.display, box.status.value))
        return draw(value)

    box = aew.explorer(aew.sweep([2, 8], draw), description="latent size", retrain=retrain)
    assert box.progress_bar.layout.display == "none"  # hidden until something trains
    assert box.retrain_at("5") is True
    assert [round(v, 3) for v, _, _ in seen] == [0.333, 0.667, 1.0]
    assert all(display is None for _, display, _ in seen)  # shown while training
    assert "epoch 2 of 3" in seen[1][2] and "latent size = 5" in seen[1][2]
    assert box.progress_bar.layout.display == "none"  # hidden again afterwards
    assert box.status.value.startswith("Retrained at latent size = 5 in ")


def test_a_retrain_without_progress_is_called_with_the_value_alone():
    got = []
    box = aew.explorer(aew.sweep([2, 8], draw), description="k",
                       retrain=lambda value: got.append(value) or draw(value))
    assert box.retrain_at("3") is True and got == [3]
    assert box.status.value.endswith(" s.")


def test_a_note_returned_with_the_figure_follows_the_time_in_the_status_line():
    def retrain(value):
        return draw(value), aew.compare_to_curve(10.5, 10.0)

    box = aew.explorer(aew.sweep([2, 8], draw), description="k", retrain=retrain)
    assert box.retrain_at("4") is True
    assert "test error 10.5" in box.status.value and "(ratio 1.05)" in box.status.value
    assert len(box.output.outputs) == 1

    box = aew.explorer(aew.sweep([2, 8], draw), description="k",
                       retrain=lambda value: (draw(value), 3.0))
    assert box.retrain_at("4") is False and "(figure, note)" in box.status.value
    assert not plt.get_fignums()  # the refused figure is closed, not left open


def test_a_failing_retrain_hides_the_progress_bar_and_re_enables_the_button():
    def retrain(value, progress):
        progress(1, 2)
        raise ValueError("diverged")

    box = aew.explorer(aew.sweep([2, 8], draw), description="k", retrain=retrain)
    assert box.retrain_at("4") is False
    assert "diverged" in box.status.value
    assert box.progress_bar.layout.display == "none" and not box.retrain_button.disabled


def test_a_retrain_that_raises_something_else_or_fails_inside_a_kernel_says_so():
    box = aew.explorer(aew.sweep([2, 8], draw), description="k", retrain=lambda value: {}["model"])
    assert box.retrain_at("4") is False
    assert box.status.value == "⚠ retraining failed: KeyError: 'model'"

    class KernelOutput(widgets.Output):
        """In a kernel the output area shows the traceback and swallows the exception."""

        def __exit__(self, *exc_info):
            super().__exit__(*exc_info)
            return True

    box.output = KernelOutput()
    assert box.retrain_at("4") is False
    assert box.status.value == "⚠ retraining failed; see the message below."
    assert not box.retrain_button.disabled and box.output.outputs == ()


# ---------------------------------------------------------------- fit_with_progress
def test_fit_with_progress_reports_every_epoch_and_trains_like_fit():
    x = low_rank_data()
    calls = []
    torch.manual_seed(0)
    model = MLPAutoencoder(x.shape[1], (), 6, output=None)
    history = aew.fit_with_progress(model, x, epochs=4, lr=5e-3, batch_size=32, device="cpu",
                                    progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert history.epochs == 4 and len(history.seconds) == 4
    # It is one call of fit with Adam: the same losses, epoch by epoch, and the same weights.
    torch.manual_seed(0)
    reference = MLPAutoencoder(x.shape[1], (), 6, output=None)
    one_call = fit(reference, x, epochs=4, lr=5e-3, batch_size=32, device="cpu", progress=False)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.train_loss == one_call.train_loss
    for mine, theirs in zip(model.parameters(), reference.parameters()):
        assert torch.equal(mine, theirs)


def test_fit_with_progress_refuses_options_it_sets_itself_and_bad_arguments():
    model = MLPAutoencoder(24, (), 4)
    x = low_rank_data()
    with pytest.raises(TypeError, match="optimizer"):
        aew.fit_with_progress(model, x, epochs=1, optimizer="sgd")
    with pytest.raises(TypeError, match="on_epoch"):
        aew.fit_with_progress(model, x, epochs=1, on_epoch=print)
    with pytest.raises(ValueError, match="epochs"):
        aew.fit_with_progress(model, x, epochs=0)
    with pytest.raises(ValueError, match="lr"):
        aew.fit_with_progress(model, x, epochs=1, lr=-1)
    with pytest.raises(TypeError, match="progress"):
        aew.fit_with_progress(model, x, epochs=1, progress="yes")


# ---------------------------------------------------------------- the sweep's curve
def test_curve_at_interpolates_on_log_or_linear_axes_and_only_inside_the_sweep():
    assert aew.curve_at([1, 4], [8.0, 2.0], 2) == pytest.approx(4.0)
    assert aew.curve_at([4, 1], [2.0, 8.0], 2) == pytest.approx(4.0)  # any order
    assert aew.curve_at([1, 4], [8.0, 2.0], 4) == pytest.approx(2.0)  # the ends themselves
    assert aew.curve_at([0, 1, 3], [10, 20, 40], 2, log_x=False, log_y=False) == pytest.approx(30)
    with pytest.raises(ValueError, match="outside the swept range"):
        aew.curve_at([1, 4], [8.0, 2.0], 5)
    with pytest.raises(ValueError, match="log_x=False"):
        aew.curve_at([0, 1], [1.0, 2.0], 0.5)
    with pytest.raises(ValueError, match="same length"):
        aew.curve_at([1, 2, 3], [1.0, 2.0], 2)
    with pytest.raises(ValueError, match="twice"):
        aew.curve_at([1, 1, 2], [1.0, 2.0, 3.0], 1.5)


def test_compare_to_curve_names_both_numbers_and_the_ratio():
    note = aew.compare_to_curve(0.0553, 0.05, name="relative error")
    assert note == "relative error 0.0553, the sweep's curve there 0.05 (ratio 1.11)"
    with pytest.raises(ValueError, match=r"curve must be a finite number > 0"):
        aew.compare_to_curve(1.0, 0.0)
    with pytest.raises(ValueError, match="error must be a finite number"):
        aew.compare_to_curve(float("nan"), 1.0)
    # What a model's error often is: a 0-d tensor or a NumPy scalar.
    assert aew.compare_to_curve(torch.tensor(1.0), np.float32(2.0)) == (
        "test error 1, the sweep's curve there 2 (ratio 0.50)")


# ---------------------------------------------------------------- chapter 2: code size
def test_resize_code_keeps_the_function_when_widening_and_the_first_units_when_narrowing():
    torch.manual_seed(0)
    small = ch02.shallow_autoencoder(24, 4)
    before = [p.clone() for p in small.parameters()]
    x = low_rank_data(n=5)
    wide = ch02.resize_code(small, 9)
    assert wide.latent_dim == 9 and wide.encoder[0].weight.shape == (9, 24)
    assert torch.allclose(wide(x), small(x), atol=1e-6)
    assert wide.encoder[0].weight[4:].abs().sum() > 0  # new units are not dead
    assert torch.equal(wide.decoder[0].weight[:, 4:], torch.zeros(24, 5))
    narrow = ch02.resize_code(small, 2)
    assert torch.equal(narrow.encoder[0].weight, small.encoder[0].weight[:2])
    assert torch.equal(narrow.decoder[0].weight, small.decoder[0].weight[:, :2])
    assert all(torch.equal(a, b) for a, b in zip(before, small.parameters()))  # untouched
    with pytest.raises(TypeError, match="shallow_autoencoder"):
        ch02.resize_code(MLPAutoencoder(24, (8,), 4), 6)


def test_chapter_2_retrain_lands_near_the_sweeps_curve_between_swept_sizes():
    digits = aelib.load_digits(seed=0)  # small real images: the curve has the book's shape
    x_train, x_test = digits.x_train, digits.x_test
    sweep = ch02.latent_size_sweep(x_train, x_test, (2, 4, 8, 16), epochs=10, batch_size=32,
                                   lr=5e-3, device="cpu")
    swept = {k: m.encoder[0].weight.clone() for k, m in sweep.models.items()}
    calls = []
    for k in (3, 6, 12):
        model = ch02.retrain_from_sweep(sweep, k, x_train, epochs=4, batch_size=32, lr=1.5e-3,
                                        device="cpu", progress=lambda *a: calls.append(a))
        error, curve = metrics.reconstruction_error(model, x_test), ch02.sweep_error_at(sweep, k)
        assert model.latent_dim == k
        assert within_bound(error, curve), (k, error, curve)
    assert calls == [(e, 4) for e in range(1, 5)] * 3
    # The same four epochs from scratch stay far above the curve: the warm start matters.
    torch.manual_seed(0)
    scratch = ch02.shallow_autoencoder(x_train.shape[1], 12)
    fit(scratch, x_train, epochs=4, batch_size=32, lr=5e-3, device="cpu", progress=False)
    assert metrics.reconstruction_error(scratch, x_test) > BOUND * ch02.sweep_error_at(sweep, 12)
    assert all(torch.equal(swept[k], m.encoder[0].weight) for k, m in sweep.models.items())


# ---------------------------------------------------------------- chapter 3: λ of sparse coding
def test_recode_with_progress_reports_parts_and_agrees_with_one_call():
    g = torch.Generator().manual_seed(0)
    atoms = torch.randn(30, 16, generator=g)
    atoms = atoms / atoms.norm(dim=1, keepdim=True)
    x = torch.randn(103, 16, generator=g)
    calls = []
    codes = ch03.recode_with_progress(x, atoms, 0.3, n_parts=4,
                                      progress=lambda *a: calls.append(a))
    assert calls == [(26, 103, "patches"), (52, 103, "patches"), (78, 103, "patches"),
                     (103, 103, "patches")]
    whole = sparse.sparse_encode(x, atoms, 0.3)
    error, reference = ch03.relative_error(x, codes, atoms), ch03.relative_error(x, whole, atoms)
    assert error == pytest.approx(reference, rel=1e-3)
    assert ch03.relative_error(x, torch.zeros(103, 30), atoms) == pytest.approx(1.0)


# ---------------------------------------------------------------- chapter 5: contraction weight λ
def one_layer_sigmoid_fit(x, weight, epochs):
    torch.manual_seed(0)
    model = MLPAutoencoder(x.shape[1], (), 32, latent_activation="sigmoid")
    fit(model, x, epochs=epochs, lr=5e-3, loss="sse", batch_size=32, device="cpu", progress=False,
        penalty=contractive(weight, method="closed_form") if weight else None)
    return model


def test_chapter_5_retrain_warm_starts_from_the_nearest_weight_and_lands_near_the_curve():
    digits = aelib.load_digits(seed=0)
    x_train, x_test = digits.x_train[:600], digits.x_test
    weights = [0.0, 0.1, 0.3]
    models = {weight: one_layer_sigmoid_fit(x_train, weight, epochs=15) for weight in weights}
    errors = [metrics.reconstruction_error(models[w], x_test) for w in weights]
    assert errors[0] < errors[-1]  # contraction costs accuracy, so the curve is not flat
    before = models[0.3].encoder[0].weight.clone()
    for weight in (0.05, 0.2):
        model = ch05.retrain_from_sweep(models, weight, x_train, epochs=3, lr=2.5e-3,
                                        device="cpu")
        error = metrics.reconstruction_error(model, x_test)
        curve = aew.curve_at(weights, errors, weight, log_x=False, log_y=False)
        assert within_bound(error, curve), (weight, error, curve)
        # The same three epochs from scratch stay far above the curve: the warm start matters.
        scratch = one_layer_sigmoid_fit(x_train, weight, epochs=3)
        assert metrics.reconstruction_error(scratch, x_test) > BOUND * curve
    assert torch.equal(before, models[0.3].encoder[0].weight)
    with pytest.raises(ValueError, match="contraction_weight"):
        ch05.retrain_from_sweep(models, -1.0, x_train)


# ---------------------------------------------------------------- chapter 6: β and code size
def test_chapter_6_small_vae_follows_the_sweep_recipe_and_leaves_the_global_rng_alone():
    x = low_rank_data(n=700)
    x_train, x_test = x[:500], x[500:]
    state = torch.get_rng_state()
    calls = []
    models = {beta: ch06.train_small_vae(x_train, beta=beta, latent_dim=4, hidden_dim=16,
                                         epochs=6, device="cpu",
                                         progress=lambda *a: calls.append(a))
              for beta in (0.5, 2.0, 8.0)}
    assert torch.equal(state, torch.get_rng_state())
    assert calls == [(e, 6) for e in range(1, 7)] * 3
    losses = [-vae.elbo(m, x_test).reconstruction for m in models.values()]
    retrained = ch06.train_small_vae(x_train, beta=1.0, latent_dim=4, hidden_dim=16, epochs=6,
                                     device="cpu")
    curve = aew.curve_at([0.5, 2.0, 8.0], losses, 1.0)
    assert within_bound(-vae.elbo(retrained, x_test).reconstruction, curve)
    again = ch06.train_small_vae(x_train, beta=1.0, latent_dim=4, hidden_dim=16, epochs=6,
                                 device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(retrained.parameters(), again.parameters()))
    assert np.isfinite(losses).all()
