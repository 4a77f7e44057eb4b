"""Tests for the chapter helper of *Undercomplete vs overcomplete autoencoders*.

Tests for the chapter helper of *Undercomplete vs overcomplete autoencoders*.

Tests for aelib.chapters.ch02_capacity (chapter *Undercomplete vs overcomplete autoencoders*).
"""
from __future__ import annotations

import itertools
import math

import matplotlib
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from torch import nn  # noqa: E402

from aelib import metrics  # noqa: E402
from aelib.chapters import ch02_capacity as ch02  # noqa: E402
from aelib.models import Autoencoder  # noqa: E402

matplotlib.use("Agg")


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _inside_figure(fig):
    """Every text's bounding box lies inside the figure (nothing is cut off)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    for ax in fig.axes:
        for text in ax.texts:
            box = text.get_window_extent(renderer)
            assert box.x0 >= -1 and box.y0 >= -1, text.get_text()
            assert box.x1 <= width + 1 and box.y1 <= height + 1, text.get_text()


def test_capacity_diagram_labels_both_cases_and_the_copy():
    fig = ch02.capacity_diagram()
    try:
        assert isinstance(fig, Figure)
        texts = _texts(fig)
        assert r"undercomplete: $d_z < d_x$" in texts
        assert r"overcomplete: $d_z \geq d_x$" in texts
        assert texts.count("$f$") == 2 and texts.count("$g$") == 2
        assert texts.count("$d_z$") == 2 and texts.count("$d_x$") == 2
        assert any("copy" in t and "[x;" in t for t in texts)
        assert "$0$" in texts  # the zero half of the code z = [x; 0]
        _inside_figure(fig)
        face = fig.get_facecolor()
        assert face[:3] == (1.0, 1.0, 1.0) and face[3] == 1.0  # opaque white background
    finally:
        plt.close(fig)


def test_memorisation_diagram_indexes_examples():
    fig = ch02.memorisation_diagram(n_shown=4)
    try:
        texts = _texts(fig)
        for name in ("$x_{1}$", "$x_{2}$", "$x_{3}$", "$x_N$"):
            assert texts.count(name) == 2  # the input and its reconstruction
        assert {"$1$", "$2$", "$3$", "$N$"} <= set(texts)
        assert "encoder $f(x_i) = i$" in texts and "decoder $g(i) = x_i$" in texts
        _inside_figure(fig)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="n_shown"):
        ch02.memorisation_diagram(n_shown=1)


def test_arc_points_lie_near_a_three_quarter_circle():
    points = ch02.arc_points(2000, noise_std=0.0, seed=3)
    assert points.shape == (2000, 2) and points.dtype == torch.float32
    assert torch.allclose(points.norm(dim=1), torch.ones(2000), atol=1e-5)
    angle = torch.atan2(points[:, 1], points[:, 0])
    angle = torch.where(angle < -math.pi / 4 - 1e-4, angle + 2 * math.pi, angle)
    assert angle.min() >= -math.pi / 4 - 1e-4 and angle.max() <= 5 * math.pi / 4 + 1e-4
    noisy = ch02.arc_points(2000, noise_std=0.05, seed=3)
    assert 0.03 < float((noisy - points).std()) < 0.07
    assert torch.equal(ch02.arc_points(10, seed=1), ch02.arc_points(10, seed=1))
    assert not torch.equal(ch02.arc_points(10, seed=1), ch02.arc_points(10, seed=2))


@pytest.mark.parametrize("bad", [{"n": 0}, {"n": 2.5}, {"n": 5, "noise_std": -1.0},
                                 {"n": 5, "noise_std": float("nan")}])
def test_arc_points_rejects_bad_arguments(bad):
    with pytest.raises(ValueError):
        ch02.arc_points(**bad)


def test_plot_curve_fits_draws_one_panel_per_model():
    points = ch02.arc_points(50)
    fig = ch02.plot_curve_fits(points, {"linear": points * 0.5, "non-linear": points})
    try:
        assert isinstance(fig, Figure) and len(fig.axes) == 2
        assert [ax.get_title() for ax in fig.axes] == ["linear", "non-linear"]
        assert fig.axes[0].get_legend() is not None
        lines = fig.axes[0].get_lines()
        assert np.allclose(lines[-1].get_xdata(), points[:, 0].numpy() * 0.5)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="shape"):
        ch02.plot_curve_fits(points, {"bad": points[:10]})
    with pytest.raises(ValueError, match="empty"):
        ch02.plot_curve_fits(points, {})
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        ch02.plot_curve_fits(torch.zeros(5, 3), {"x": torch.zeros(5, 3)})


def test_separate_labels_moves_only_colliding_annotations():
    fig, ax = plt.subplots(figsize=(3, 3))
    try:
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        points = {"64": (0.50, 0.50), "128": (0.51, 0.50), "2": (0.1, 0.1)}
        for name, xy in points.items():
            ax.annotate(name, xy, textcoords="offset points", xytext=(-4, 5), ha="right")
        assert ch02.separate_labels(ax) == 1
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        assert not boxes[0].overlaps(boxes[1])
        assert ax.texts[2].xyann == (-4, 5)  # the free label stays where it was
    finally:
        plt.close(fig)


def test_separate_labels_avoids_lone_markers():
    fig, ax = plt.subplots(figsize=(3, 3))
    try:
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.annotate("32", (0.5, 0.5), textcoords="offset points", xytext=(-4, 5), ha="right")
        ax.plot([0.47], [0.53], "D", ms=10)  # a marker on top of the label
        assert ch02.separate_labels(ax) == 1
        assert ax.texts[0].xyann != (-4, 5)
    finally:
        plt.close(fig)


def test_affine_autoencoder_is_the_map_it_was_given():
    torch.manual_seed(0)
    matrix, mean = torch.randn(5, 5, dtype=torch.float64), torch.rand(5, dtype=torch.float64)
    model = ch02.affine_autoencoder(matrix, mean)
    x = torch.rand(7, 5)
    expected = mean + (x.double() - mean) @ matrix.T  # x̂ = x̄ + P (x − x̄), one row each
    assert torch.allclose(model(x).double(), expected, atol=1e-5)
    assert model.input_dim == 5 and model.latent_dim == 5
    with pytest.raises(ValueError, match="square"):
        ch02.affine_autoencoder(torch.zeros(3, 4), torch.zeros(3))
    with pytest.raises(ValueError, match="mean"):
        ch02.affine_autoencoder(torch.zeros(3, 3), torch.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        ch02.affine_autoencoder(torch.full((2, 2), float("nan")), torch.zeros(2))


def test_affine_autoencoder_with_a_projection_is_pca():
    from aelib import metrics

    x = torch.rand(200, 6) @ torch.randn(6, 6)
    mean, components, _ = metrics.pca(x, 2)
    model = ch02.affine_autoencoder(components.T @ components, mean)
    assert torch.allclose(model(x), metrics.pca_reconstruct(x, x, 2), atol=1e-4)


def test_probe_r2_own_mean_measures_against_each_probe_set():

    torch.manual_seed(0)
    probes = {"a": torch.rand(50, 4), "b": 3 + torch.rand(50, 4)}
    copier = ch02.identity_autoencoder(4, 4)
    flat = ch02.affine_autoencoder(torch.zeros(4, 4), torch.zeros(4))  # x̂ = 0 for every x
    table = ch02.probe_r2_own_mean({"copier": copier, "zero": flat}, probes)
    assert all(abs(v - 1) < 1e-6 for v in table["copier"].values())
    for name, x in probes.items():  # independent formula: 1 − Σ‖x‖² / Σ‖x − mean(x)‖²
        expected = 1 - float(x.pow(2).sum() / (x - x.mean(0)).pow(2).sum())
        assert abs(table["zero"][name] - expected) < 1e-4
    with pytest.raises(ValueError, match="models"):
        ch02.probe_r2_own_mean({}, probes)
    with pytest.raises(ValueError, match="probes"):
        ch02.probe_r2_own_mean({"copier": copier}, {})


def test_label_column_groups_centres_labels_over_pairs():
    fig, axes = plt.subplots(2, 6, figsize=(4.8, 1.6))
    try:
        fig.tight_layout(pad=0.2)  # as plot.show_reconstructions leaves its figures
        texts = ch02.label_column_groups(fig, ["real", "noise", "shuffled"])
        assert [t.get_text() for t in texts] == ["real", "noise", "shuffled"]
        for g, text in enumerate(texts):
            left, right = axes[0, 2 * g].get_position(), axes[0, 2 * g + 1].get_position()
            assert left.x0 < text.get_position()[0] < right.x1
            assert text.get_position()[1] >= left.y1
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in texts]
        assert all(b.y1 <= fig.bbox.height + 1 for b in boxes)  # inside the figure
        assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    finally:
        plt.close(fig)
    fig, _ = plt.subplots(1, 2)
    try:
        with pytest.raises(ValueError, match="axes"):
            ch02.label_column_groups(fig, ["a", "b"])
        with pytest.raises(ValueError, match="group_size"):
            ch02.label_column_groups(fig, ["a"], group_size=0)
    finally:
        plt.close(fig)


def test_plot_direction_gains_draws_models_and_pca_steps():
    gains = {"a": torch.linspace(1, 0, 10), "b": np.linspace(1, 0.5, 10)}
    fig = ch02.plot_direction_gains(gains, pca_ranks=(3,))
    try:
        ax = fig.axes[0]
        labels = [line.get_label() for line in ax.get_lines()]
        assert {"a", "b", "PCA, rank 3"} <= set(labels)
        assert ax.get_xscale() == "log"
        step = ax.get_lines()[labels.index("PCA, rank 3")]
        assert list(step.get_ydata()) == [1, 0, 0]
        assert "gain" in ax.get_ylabel()
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="empty"):
        ch02.plot_direction_gains({})
    with pytest.raises(ValueError, match="same length"):
        ch02.plot_direction_gains({"a": np.ones(3), "b": np.ones(4)})
    with pytest.raises(ValueError, match="rank"):
        ch02.plot_direction_gains({"a": np.ones(3)}, pca_ranks=(3,))


def test_plot_rescaling_marks_the_minimum_at_c_star():
    R, A, B = 0.01, 0.003, 0.0004
    fig = ch02.plot_rescaling(R, A, B)
    try:
        ax = fig.axes[0]
        lines = {line.get_label(): line for line in ax.get_lines()}
        c_star = (2 * B / A) ** (1 / 3)
        minimum = next(line for label, line in lines.items() if label.startswith("minimum"))
        assert np.isclose(minimum.get_xdata()[0], c_star)
        total = lines["objective $J(c)$"]
        c, J = total.get_xdata(), total.get_ydata()
        assert np.allclose(J, R + c * A + B / c**2)
        assert abs(np.log(c[J.argmin()] / c_star)) < 0.02  # the curve bottoms out at c*
        assert f"{c_star:.2f}" in minimum.get_label()
    finally:
        plt.close(fig)
    with pytest.raises(ValueError):
        ch02.plot_rescaling(0.01, 0.0, 0.1)


def test_add_reference_curve_draws_pca_and_the_flat_level():

    sweep_r2 = {k: {"real images": 0.1 * k, "uniform noise": 0.05 * k} for k in (1, 2, 4)}
    fig = ch02.plot_copy_tradeoff(sweep_r2)
    try:
        ax = fig.axes[0]
        pca = {k: {"real images": 0.1 * k, "uniform noise": 0.08 * k} for k in (1, 2)}
        ch02.add_reference_curve(ax, pca, flat_level=0.5)
        labels = [line.get_label() for line in ax.get_lines()]
        assert "PCA of rank $k$" in labels and "flat average image of the probe" in labels
        curve = ax.get_lines()[labels.index("PCA of rank $k$")]
        assert np.allclose(curve.get_ydata(), [0.08, 0.16])
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "PCA of rank $k$" in legend
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="empty"):
        ch02.add_reference_curve(None, {})


matplotlib.use("Agg")


matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def low_rank_data():
    """Pixels in [0, 1] that vary in a 3-D subspace of a 16-D space, plus a little noise."""
    gen = torch.Generator().manual_seed(0)
    basis = torch.randn(3, 16, generator=gen)
    codes = torch.randn(260, 3, generator=gen)
    x = torch.sigmoid(0.5 * codes @ basis + 0.02 * torch.randn(260, 16, generator=gen))
    return x[:200], x[200:]


def sklearn_pca_error(x_train, x_test, k):
    model = PCA(n_components=k, svd_solver="full").fit(x_train.double().numpy())
    recon = model.inverse_transform(model.transform(x_test.double().numpy()))
    return float(((recon - x_test.double().numpy()) ** 2).sum(1).mean())


def test_identity_autoencoder_copies_anything_and_needs_an_overcomplete_code():
    copier = ch02.identity_autoencoder(16, 20)
    x = torch.randn(7, 16) * 5  # not even image-like
    assert torch.equal(copier(x), x)
    assert copier.latent_dim == 20 and copier.input_dim == 16
    # The code holds the input in its first units and zeros after.
    z = copier.encode(x)
    assert torch.equal(z[:, :16], x) and torch.all(z[:, 16:] == 0)
    assert torch.equal(ch02.identity_autoencoder(16, 16)(x), x)
    with pytest.raises(ValueError, match="undercomplete"):
        ch02.identity_autoencoder(16, 15)


def test_shallow_autoencoder_has_one_layer_each_way_and_is_linear_by_default():
    model = ch02.shallow_autoencoder(16, 40)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(16, 40), (40, 16)]
    # Linear by default: the whole map is affine, g(f(a + b)) = g(f(a)) + g(f(b)) - g(f(0)).
    a, b, zero = torch.randn(2, 16), torch.randn(2, 16), torch.zeros(2, 16)
    assert torch.allclose(model(a + b), model(a) + model(b) - model(zero), atol=1e-5)
    squashed = ch02.shallow_autoencoder(16, 40, output="sigmoid")(torch.randn(5, 16) * 10)
    assert squashed.min() >= 0 and squashed.max() <= 1
    relu = ch02.shallow_autoencoder(16, 40, latent_activation="relu")
    assert relu.encode(torch.randn(50, 16)).min() >= 0


def test_latent_size_sweep_matches_sklearn_pca_and_keeps_models(low_rank_data):
    x_train, x_test = low_rank_data
    sweep = ch02.latent_size_sweep(x_train, x_test, [1, 3, 16, 24], epochs=3, batch_size=32, lr=1e-2,
                                       device="cpu", n_show=4)
    assert sweep.latent_dims == [1, 3, 16, 24] and sweep.input_dim == 16
    for i, k in enumerate([1, 3, 16]):
        assert sweep.pca_test_error[i] == pytest.approx(sklearn_pca_error(x_train, x_test, k), rel=1e-4, abs=1e-6)
        assert sweep.pca_train_error[i] == pytest.approx(sklearn_pca_error(x_train, x_train, k), rel=1e-4, abs=1e-6)
    # Full rank PCA is the identity; beyond the input size PCA is undefined.
    assert sweep.pca_test_error[2] < 1e-6
    assert math.isnan(sweep.pca_test_error[3]) and math.isnan(sweep.pca_train_error[3])
    # The data are (nearly) 3-D: PCA error falls sharply from rank 1 to rank 3.
    assert sweep.pca_test_error[1] < 0.2 * sweep.pca_test_error[0]
    for k in sweep.latent_dims:
        assert sweep.models[k].latent_dim == k
        assert all(np.isfinite([sweep.row(k)["ae_train_error"], sweep.row(k)["ae_test_error"]]))
    assert set(sweep.pca_reconstructions) == {1, 3, 16}
    assert sweep.pca_reconstructions[3].shape == (4, 16)
    # AE errors are the metric of the stored models.
    from aelib.metrics import reconstruction_error
    assert sweep.ae_test_error[1] == pytest.approx(reconstruction_error(sweep.models[3], x_test), rel=1e-5)
    table = sweep.table()
    assert "latent size" in table and len(table.splitlines()) == 2 + 4 and "—" in table.splitlines()[-1]


def test_latent_size_sweep_is_reproducible_and_validates(low_rank_data):
    x_train, x_test = low_rank_data
    a = ch02.latent_size_sweep(x_train, x_test, [2], epochs=2, device="cpu", seed=3)
    b = ch02.latent_size_sweep(x_train, x_test, [2], epochs=2, device="cpu", seed=3)
    assert a.ae_test_error == b.ae_test_error
    # Per-size hyper-parameters: callables receive the latent size.
    seen = []
    c = ch02.latent_size_sweep(x_train, x_test, [2], epochs=2, device="cpu", seed=3,
                                   lr=lambda k: seen.append(("lr", k)) or 2e-3,
                                   batch_size=lambda k: seen.append(("bs", k)) or 64)
    assert c.ae_test_error == a.ae_test_error and sorted(seen) == [("bs", 2), ("lr", 2)]
    with pytest.raises(ValueError, match="lr"):
        ch02.latent_size_sweep(x_train, x_test, [2], epochs=1, device="cpu", lr=0)
    with pytest.raises(ValueError, match="repeated"):
        ch02.latent_size_sweep(x_train, x_test, [2, 2], epochs=1, device="cpu")
    with pytest.raises(ValueError, match="empty"):
        ch02.latent_size_sweep(x_train, x_test, [], epochs=1, device="cpu")
    with pytest.raises(ValueError, match="features"):
        ch02.latent_size_sweep(x_train, x_test[:, :5], [2], epochs=1, device="cpu")
    with pytest.raises(TypeError, match="make_model"):
        ch02.latent_size_sweep(x_train, x_test, [2], epochs=1, device="cpu", make_model=3)
    with pytest.raises(ValueError, match="not swept"):
        a.row(5)


def test_off_data_probes_have_the_right_content(low_rank_data):
    _, x = low_rank_data
    probes = ch02.off_data_probes(x, n=40, seed=1)
    assert list(probes) == ["real images", "uniform noise", "shuffled pixels"]
    assert all(p.shape == (40, 16) for p in probes.values())
    assert torch.equal(probes["real images"], x[:40])
    noise = probes["uniform noise"]
    assert noise.min() >= 0 and noise.max() <= 1 and abs(noise.mean().item() - 0.5) < 0.05
    # Same pixel values per image, different order.
    shuffled = probes["shuffled pixels"]
    assert torch.equal(shuffled.sort(dim=1).values, x[:40].sort(dim=1).values)
    assert not torch.equal(shuffled, x[:40])
    again = ch02.off_data_probes(x, n=40, seed=1)
    assert all(torch.equal(again[k], probes[k]) for k in probes)
    with pytest.raises(ValueError, match="exceeds"):
        ch02.off_data_probes(x, n=1000)


class _Constant(nn.Module):
    input_dim = 16

    def __init__(self, value):
        super().__init__()
        self.value = nn.Parameter(torch.as_tensor(value, dtype=torch.float32), requires_grad=False)

    def forward(self, x):
        return self.value.expand_as(x)


def test_reconstruction_r2_against_the_formula(low_rank_data):
    x_train, x_test = low_rank_data
    mean = x_train.mean(0)
    assert metrics.reconstruction_r2(ch02.identity_autoencoder(16, 16), x_test, mean) == pytest.approx(1.0)
    assert metrics.reconstruction_r2(_Constant(mean), x_test, mean) == pytest.approx(0.0, abs=1e-6)
    # A model answering 0.3 everywhere: brute-force numpy reference.
    x = x_test.double().numpy()
    expected = 1 - ((x - 0.3) ** 2).sum() / ((x - mean.double().numpy()) ** 2).sum()
    assert metrics.reconstruction_r2(_Constant(torch.full((16,), 0.3)), x_test, mean) == pytest.approx(expected,
                                                                                                       rel=1e-5)
    with pytest.raises(ValueError, match="reference_mean"):
        metrics.reconstruction_r2(_Constant(mean), x_test, mean[:4])


def test_figures(low_rank_data):
    x_train, x_test = low_rank_data
    sweep = ch02.latent_size_sweep(x_train, x_test, [1, 4, 24], epochs=1, device="cpu")
    fig = ch02.plot_error_curve(sweep, marker_at=4)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "latent size" in ax.get_xlabel() and "error" in ax.get_ylabel()
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"AE train", "AE test", "PCA test"} <= set(labels) and any("4" in s for s in labels)
    with pytest.raises(ValueError, match="marker_at"):
        ch02.plot_error_curve(sweep, marker_at=7)

    frame = ch02.bottleneck_frame(sweep, 4, x_test, (1, 4, 4), n=3)
    # 3 rows (original, AE, PCA) × 3 images + the curve.
    assert len(frame.axes) == 3 * 3 + 1
    frame = ch02.bottleneck_frame(sweep, 24, x_test, (1, 4, 4), n=3)
    assert len(frame.axes) == 2 * 3 + 1  # no PCA beyond the input size
    new = Autoencoder(nn.Linear(16, 6), nn.Linear(6, 16), 16, 6)
    frame = ch02.bottleneck_frame(sweep, 6, x_test, (1, 4, 4), model=new, n=3)
    assert any("retrained" in line.get_label() for line in frame.axes[-1].get_lines())
    with pytest.raises(ValueError, match="no model of latent size"):
        ch02.bottleneck_frame(sweep, 6, x_test, (1, 4, 4))
    with pytest.raises(TypeError, match="LatentSweep"):
        ch02.plot_error_curve({"a": 1})


def test_probe_r2_table_and_tradeoff_figure(low_rank_data):
    x_train, x_test = low_rank_data
    mean = x_train.mean(0)
    probes = ch02.off_data_probes(x_test, n=30)
    copier = ch02.identity_autoencoder(16, 16)
    constant = _Constant(mean)
    table = ch02.probe_r2({"copier": copier, "mean": constant}, probes, mean)
    assert list(table) == ["copier", "mean"] and list(table["copier"]) == list(probes)
    assert all(v == pytest.approx(1.0) for v in table["copier"].values())
    assert all(v == pytest.approx(0.0, abs=1e-6) for v in table["mean"].values())
    for name, x in probes.items():
        assert table["copier"][name] == metrics.reconstruction_r2(copier, x, mean)
    with pytest.raises(ValueError, match="models"):
        ch02.probe_r2({}, probes, mean)
    with pytest.raises(ValueError, match="probes"):
        ch02.probe_r2({"c": copier}, {}, mean)

    sweep_r2 = {4: {"real images": 0.5, "uniform noise": 0.0}, 16: {"real images": 0.9, "uniform noise": 0.6}}
    fig = ch02.plot_copy_tradeoff(sweep_r2, {"copier": table["copier"]})
    ax = fig.axes[0]
    assert "real images" in ax.get_xlabel() and "uniform noise" in ax.get_ylabel()
    curve = ax.get_lines()[0]
    assert list(curve.get_xdata()) == [0.5, 0.9] and list(curve.get_ydata()) == [0.0, 0.6]
    assert any(line.get_label() == "copier" and list(line.get_xdata()) == [pytest.approx(1.0)]
               for line in ax.get_lines())
    assert {t.get_text() for t in ax.texts} >= {"4", "16"}
    with pytest.raises(ValueError, match="empty"):
        ch02.plot_copy_tradeoff({})
