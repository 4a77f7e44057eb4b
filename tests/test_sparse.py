"""Tests of aelib.sparse against closed forms, scikit-learn and autograd."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import brentq, linear_sum_assignment
from scipy.stats import norm
from sklearn.decomposition import sparse_encode as sklearn_sparse_encode
from sklearn.linear_model import Lasso

from aelib import sparse
from aelib.chapters import ch03_sparse as ch03  # noqa: E402


def _problem(n=12, n_features=20, n_atoms=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_features, generator=g, dtype=torch.float64)
    dictionary = torch.randn(n_atoms, n_features, generator=g, dtype=torch.float64)
    return x, dictionary / dictionary.norm(dim=1, keepdim=True)


def _planted(seed=0, n=1500, n_features=16, n_atoms=12, active=3):
    """Examples built from ``active`` random atoms of a random unit-norm dictionary, plus a little noise."""
    g = torch.Generator().manual_seed(seed)
    atoms = torch.randn(n_atoms, n_features, generator=g, dtype=torch.float64)
    atoms /= atoms.norm(dim=1, keepdim=True)
    which = torch.rand(n, n_atoms, generator=g).argsort(dim=1)[:, :active]
    values = (1 + torch.rand(n, active, generator=g, dtype=torch.float64)) * torch.randn(
        n, active, generator=g, dtype=torch.float64).sign()
    codes = torch.zeros(n, n_atoms, dtype=torch.float64).scatter_(1, which, values)
    return codes @ atoms + 0.01 * torch.randn(n, n_features, generator=g, dtype=torch.float64), atoms


# --------------------------------------------------------------------------- thresholding


def test_soft_threshold_matches_closed_form():
    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    tau = 0.7
    expected = np.sign(x.numpy()) * np.maximum(np.abs(x.numpy()) - tau, 0)
    out = sparse.soft_threshold(x, tau)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-15)
    assert torch.all(out[x.abs() <= tau] == 0)  # exactly zero, not merely small


def test_soft_threshold_with_a_threshold_per_column():
    x = torch.tensor([[1.0, -2.0, 3.0], [-0.5, 0.5, -4.0]])
    tau = torch.tensor([0.5, 2.5, 1.0])
    expected = torch.sign(x) * torch.clamp(x.abs() - tau, min=0)
    assert torch.equal(sparse.soft_threshold(x, tau), expected)


def test_hard_threshold_keeps_survivors_unchanged():
    x = torch.tensor([-3.0, -1.0, -0.2, 0.0, 0.9, 1.0, 1.5])
    out = sparse.hard_threshold(x, 1.0)
    assert torch.equal(out, torch.tensor([-3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5]))


@pytest.mark.parametrize("fn", [sparse.soft_threshold, sparse.hard_threshold])
def test_threshold_rejects_negative_threshold(fn):
    with pytest.raises(ValueError, match="threshold"):
        fn(torch.ones(3), -0.1)
    with pytest.raises(ValueError, match="threshold"):
        fn(torch.ones(3), torch.tensor([0.1, -0.1, 0.1]))


# --------------------------------------------------------------------------- sparse coding


@pytest.mark.parametrize("method", ["greedy", "fista", "ista"])
def test_matches_sklearn_lasso_objective(method):
    x, dictionary = _problem()
    n_features = x.shape[1]
    lam = 0.3
    codes, objective = sparse.sparse_encode(x, dictionary, lam, method, max_iter=50_000, tol=1e-9,
                                            return_objective=True)
    # scikit-learn's Lasso, one example at a time: (1/(2·n_features))‖x − Dᵀs‖² + α‖s‖₁, α = λ/n_features.
    reference = []
    for row in x.numpy():
        lasso = Lasso(alpha=lam / n_features, fit_intercept=False, tol=1e-12, max_iter=100_000)
        reference.append(lasso.fit(dictionary.numpy().T, row).coef_)
    reference = torch.tensor(np.array(reference))
    ref_objective = sparse.coding_objective(x, reference, dictionary, lam)
    relative = (objective - ref_objective).abs() / ref_objective
    assert relative.max() <= 1e-4
    assert (objective <= ref_objective * (1 + 1e-4)).all()
    # …and sklearn.decomposition.sparse_encode takes λ itself as alpha.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = sklearn_sparse_encode(x.numpy(), dictionary.numpy(), algorithm="lasso_cd", alpha=lam)
    sk_objective = sparse.coding_objective(x, torch.tensor(sk), dictionary, lam)
    assert ((objective - sk_objective).abs() / sk_objective).max() <= 1e-4


@pytest.mark.parametrize("method", ["greedy", "fista"])
def test_momentum_methods_reach_the_lars_optimum_on_image_like_problems(method):
    """Many examples, an overcomplete dictionary with correlated atoms (slow, ill-conditioned rows),
    float32 as in the book: at the default tolerance the mean objective is within 1e-4 of exact
    LARS (the issue's bar), and a tighter ``tol`` gets as close as float32 allows."""
    g = torch.Generator().manual_seed(3)
    dictionary = torch.randn(96, 32, generator=g) + 0.8 * torch.randn(1, 32, generator=g)
    dictionary /= dictionary.norm(dim=1, keepdim=True)
    x = torch.randn(400, 32, generator=g) @ torch.diag(torch.linspace(2.0, 0.1, 32))
    lam = 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = sklearn_sparse_encode(x.double().numpy(), dictionary.double().numpy(), algorithm="lasso_lars",
                                      alpha=lam, max_iter=10_000)
    reference = sparse.coding_objective(x.double(), torch.tensor(exact), dictionary.double(), lam)
    for tol, mean_bound, worst_bound in ((1e-4, 1e-4, 3e-3), (1e-6, 1e-7, 1e-6)):
        codes = sparse.sparse_encode(x, dictionary, lam, method, tol=tol, max_iter=100_000)
        ours = sparse.coding_objective(x.double(), codes.double(), dictionary.double(), lam)
        assert abs(float(ours.mean() / reference.mean()) - 1) < mean_bound, tol
        assert float(((ours - reference) / reference).max()) < worst_bound, tol


def test_screened_rows_are_exactly_zero_and_the_others_unaffected():
    x, dictionary = _problem(n=40)
    correlation = (x @ dictionary.T).abs().max(dim=1).values
    lam = float(correlation.quantile(0.5))           # about half of the rows are screened out
    codes = sparse.sparse_encode(x, dictionary, lam, tol=1e-10, max_iter=20_000)
    screened = correlation <= lam
    assert 0 < int(screened.sum()) < len(x)
    assert torch.count_nonzero(codes[screened]) == 0
    # Coding the unscreened rows on their own gives the same codes (rows are independent problems).
    alone = sparse.sparse_encode(x[~screened], dictionary, lam, tol=1e-10, max_iter=20_000)
    torch.testing.assert_close(codes[~screened], alone, atol=1e-8, rtol=0)


@pytest.mark.parametrize("method", ["greedy", "fista", "ista"])
def test_inputs_are_not_modified(method):
    x, dictionary = _problem(n=30)
    init = torch.randn(30, dictionary.shape[0], dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    copies = x.clone(), dictionary.clone(), init.clone()
    sparse.sparse_encode(x, dictionary, 0.3, method, init=init)
    for before, after in zip(copies, (x, dictionary, init)):
        assert torch.equal(before, after)


@pytest.mark.parametrize("method", ["greedy", "fista", "ista"])
def test_iteration_count_is_exact(method):
    """max_iter=k with tol=0 is exactly k steps: compare with a plain loop of the textbook updates."""
    x, dictionary = _problem(n=8)
    lam, k = 0.3, 7
    lipschitz = sparse.lipschitz_constant(dictionary)
    s = torch.zeros(8, dictionary.shape[0], dtype=torch.float64)
    y, t, first = s, torch.ones(8, 1, dtype=torch.float64), None
    for i in range(k):
        new = sparse.soft_threshold(y - (y @ dictionary - x) @ dictionary.T / lipschitz, lam / lipschitz)
        change = new - s
        uphill = ((y - new) * change).sum(1, keepdim=True) > 0
        if method == "ista":
            y = new
        elif method == "fista":
            t = torch.where(uphill, 1.0, t)
            t_next = (1 + torch.sqrt(1 + 4 * t * t)) / 2
            y = new + (t - 1) / t_next * change
            t = t_next
        else:
            step = change.norm(dim=1, keepdim=True)
            first = step if first is None else first
            y = new + (~uphill & (step <= first)) * change
        s = new
    codes = sparse.sparse_encode(x, dictionary, lam, method, max_iter=k, tol=0)
    torch.testing.assert_close(codes, s, atol=1e-10, rtol=1e-10)


def test_coding_objective_is_the_formula():
    x, dictionary = _problem(n=4)
    codes = torch.randn(4, dictionary.shape[0], dtype=torch.float64)
    lam = 0.8
    expected = [0.5 * np.sum((x[i].numpy() - codes[i].numpy() @ dictionary.numpy()) ** 2)
                + lam * np.abs(codes[i].numpy()).sum() for i in range(4)]
    np.testing.assert_allclose(sparse.coding_objective(x, codes, dictionary, lam).numpy(), expected, rtol=1e-12)


def test_orthonormal_dictionary_closed_forms():
    x, _ = _problem(n_features=10)
    orthonormal, _ = torch.linalg.qr(torch.randn(10, 10, dtype=torch.float64,
                                                 generator=torch.Generator().manual_seed(1)))
    dictionary = orthonormal.T  # rows orthonormal: D Dᵀ = I
    # λ = 0: least squares, s = x Dᵀ (D is invertible).
    codes = sparse.sparse_encode(x, dictionary, 0.0, tol=1e-12)
    least_squares = torch.linalg.lstsq(dictionary.T, x.T).solution.T
    torch.testing.assert_close(codes, least_squares, atol=1e-10, rtol=0)
    # λ > 0: the problem separates per atom, s = S_λ(x Dᵀ).
    codes = sparse.sparse_encode(x, dictionary, 0.5, "ista", tol=1e-12)
    torch.testing.assert_close(codes, sparse.soft_threshold(x @ dictionary.T, 0.5), atol=1e-10, rtol=0)


def test_codes_are_exactly_zero_from_the_critical_lambda():
    x, dictionary = _problem()
    critical = (x @ dictionary.T).abs().max(dim=1).values  # per example: max_k |x_i · d_k|
    # At λ = max over the batch every code vanishes, exactly.
    codes = sparse.sparse_encode(x, dictionary, float(critical.max()))
    assert torch.count_nonzero(codes) == 0
    # Per example: s_i = 0 exactly when λ ≥ max_k |x_i · d_k|, and not below it.
    lam = float(critical.median())
    codes = sparse.sparse_encode(x, dictionary, lam, tol=1e-8, max_iter=20_000)
    zero_rows = (codes == 0).all(dim=1)
    assert torch.equal(zero_rows, critical <= lam)
    assert 0 < int(zero_rows.sum()) < len(x)


def test_shapes_dtypes_and_warm_start():
    x, dictionary = _problem(n=5, n_features=8, n_atoms=6)
    codes, objective = sparse.sparse_encode(x.float(), dictionary, 0.2, return_objective=True)
    assert codes.shape == (5, 6) and objective.shape == (5,)
    assert codes.dtype == torch.float64  # promoted to the wider of the two dtypes
    single = sparse.sparse_encode(x[:1].float(), dictionary.float(), 0.2)
    assert single.shape == (1, 6) and single.dtype == torch.float32
    # Started at the solution, the solver stays there.
    exact = sparse.sparse_encode(x, dictionary, 0.2, tol=1e-12, max_iter=20_000)
    again = sparse.sparse_encode(x, dictionary, 0.2, init=exact, max_iter=5)
    torch.testing.assert_close(again, exact, atol=1e-9, rtol=0)
    # NumPy input works.
    assert sparse.sparse_encode(x.numpy(), dictionary.numpy(), 0.2).shape == (5, 6)


def test_sparse_encode_errors():
    x, dictionary = _problem(n=3, n_features=8, n_atoms=5)
    with pytest.raises(ValueError, match="features"):
        sparse.sparse_encode(x, dictionary[:, :7], 0.1)
    with pytest.raises(ValueError, match="sparsity_weight"):
        sparse.sparse_encode(x, dictionary, -0.1)
    bad = x.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        sparse.sparse_encode(bad, dictionary, 0.1)
    with pytest.raises(ValueError, match="2-D"):
        sparse.sparse_encode(x[0], dictionary, 0.1)
    with pytest.raises(ValueError, match="method"):
        sparse.sparse_encode(x, dictionary, 0.1, "lars")
    with pytest.raises(ValueError, match="init"):
        sparse.sparse_encode(x, dictionary, 0.1, init=torch.zeros(3, 4))
    with pytest.raises(ValueError, match="all zeros"):
        sparse.sparse_encode(x, torch.zeros_like(dictionary), 0.1)
    with pytest.raises(ValueError, match="max_iter"):
        sparse.sparse_encode(x, dictionary, 0.1, max_iter=0)


def test_lipschitz_constant_is_largest_eigenvalue():
    _, dictionary = _problem()
    expected = np.linalg.eigvalsh(dictionary.numpy() @ dictionary.numpy().T).max()
    assert sparse.lipschitz_constant(dictionary) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- dictionary learning


def test_full_batch_history_non_increasing_and_unit_norms():
    x, _ = _planted(n=400)
    result = sparse.learn_dictionary(x, 10, 0.1, n_iter=15, seed=0)
    history = np.array(result.objective_history)
    assert len(history) == 16
    assert np.all(np.diff(history) <= 1e-10 * history[0])
    assert history[-1] < 0.9 * history[0]
    torch.testing.assert_close(result.dictionary.norm(dim=1), torch.ones(10, dtype=torch.float64))
    # The reported objective is the objective of the returned pair.
    assert history[-1] == pytest.approx(sparse.dictionary_objective(x, result.codes, result.dictionary, 0.1))


def test_frobenius_variant_history_non_increasing():
    x, _ = _planted(n=400)
    result = sparse.learn_dictionary(x, 10, 0.1, n_iter=15, atom_norm="frobenius", frobenius_weight=1e-2, seed=0)
    history = np.array(result.objective_history)
    assert np.all(np.diff(history) <= 1e-10 * history[0])
    assert history[-1] < history[0]


def test_recovers_a_planted_dictionary():
    x, atoms = _planted(seed=0)
    result = sparse.learn_dictionary(x, atoms.shape[0], 0.1, n_iter=200, seed=0)
    cosine = (result.dictionary @ atoms.T).abs().numpy()  # atoms match up to sign…
    rows, cols = linear_sum_assignment(-cosine)              # …and permutation
    assert cosine[rows, cols].min() > 0.99


def test_frobenius_update_is_the_exact_minimiser():
    x, dictionary = _problem(n=50, n_features=8, n_atoms=6)
    codes = sparse.sparse_encode(x, dictionary, 0.2)
    gamma = 0.05
    updated = sparse.update_dictionary(x, codes, dictionary, atom_norm="frobenius", frobenius_weight=gamma)
    d = updated.clone().requires_grad_(True)
    objective = 0.5 * (x - codes @ d).pow(2).sum(dim=1).mean() + gamma * d.pow(2).sum()
    (gradient,) = torch.autograd.grad(objective, d)
    assert gradient.abs().max() < 1e-10


def test_unit_norm_update_closed_form_for_one_atom():
    x, dictionary = _problem(n=30, n_features=8, n_atoms=1)
    codes = torch.randn(30, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    updated = sparse.update_dictionary(x, codes, dictionary)
    direction = codes.T @ x  # argmin over ‖d‖ = 1 of ½‖X − s d‖² is SᵀX/‖SᵀX‖
    torch.testing.assert_close(updated, direction / direction.norm())
    before = sparse.dictionary_objective(x, codes, dictionary, 0.0)
    assert sparse.dictionary_objective(x, codes, updated, 0.0) <= before


def test_mini_batch_learning_shapes_and_norms():
    x, _ = _planted(n=300)
    result = sparse.learn_dictionary(x.float(), 8, 0.1, n_iter=20, batch_size=64, seed=1)
    assert result.dictionary.shape == (8, 16) and result.codes.shape == (300, 8)
    assert len(result.objective_history) == 21
    torch.testing.assert_close(result.dictionary.norm(dim=1), torch.ones(8))
    assert result.reconstruct().shape == x.shape
    assert "n_atoms=8" in repr(result)


def test_learn_dictionary_errors():
    x, _ = _planted(n=50)
    with pytest.raises(ValueError, match="frobenius_weight > 0"):
        sparse.learn_dictionary(x, 4, 0.1, atom_norm="frobenius")
    with pytest.raises(ValueError, match="no effect"):
        sparse.learn_dictionary(x, 4, 0.1, frobenius_weight=0.1)
    with pytest.raises(ValueError, match="atom_norm"):
        sparse.learn_dictionary(x, 4, 0.1, atom_norm="l2")
    with pytest.raises(ValueError, match="n_atoms"):
        sparse.learn_dictionary(x, 0, 0.1)
    with pytest.raises(ValueError, match="init"):
        sparse.learn_dictionary(x, 4, 0.1, init=torch.zeros(3, 16))


# --------------------------------------------------------------------------- whitening and atom measures


def test_energy_support_known_values():
    single_pixel = torch.zeros(1, 64, dtype=torch.float64)
    single_pixel[0, 10] = -2.0
    flat = torch.ones(1, 64, dtype=torch.float64)
    two_pixels = torch.zeros(1, 64, dtype=torch.float64)
    two_pixels[0, :2] = torch.tensor([2.0, 1.0])  # energies 4 and 1: 80 % needs exactly the first pixel
    support = ch03.energy_support(torch.cat([single_pixel, flat, two_pixels]), energy=0.8)
    np.testing.assert_allclose(support.numpy(), [1 / 64, math.ceil(0.8 * 64) / 64, 1 / 64])
    # Gaussian atoms: the largest entries |z| > t hold 2(tφ(t) + 1 − Φ(t)) of the energy and are a
    # fraction 2(1 − Φ(t)) of the pixels; solve for 80 % of the energy.
    t = brentq(lambda t: 2 * (t * norm.pdf(t) + norm.sf(t)) - 0.8, 0.0, 5.0)
    random = ch03.energy_support(torch.randn(2000, 64, generator=torch.Generator().manual_seed(0)))
    assert abs(float(random.mean()) - 2 * norm.sf(t)) < 0.03
    with pytest.raises(ValueError, match="all-zero"):
        ch03.energy_support(torch.zeros(1, 4))


def test_orientation_coherence_of_gratings_blobs_and_noise():
    rows, cols = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    vertical = torch.sin(1.3 * cols)
    horizontal = torch.cos(0.9 * rows)
    diagonal = torch.sin(0.8 * (rows + cols))
    blob = torch.exp(-((rows - 3.5) ** 2 + (cols - 3.5) ** 2) / 4)  # radially symmetric about the centre
    atoms = torch.stack([vertical, horizontal, diagonal, blob]).reshape(4, 64)
    coherence = ch03.orientation_coherence(atoms, (8, 8))
    np.testing.assert_allclose(coherence[:3].numpy(), 1.0, atol=1e-12)
    assert float(coherence[3]) < 1e-12
    noise = ch03.orientation_coherence(torch.randn(500, 64, generator=torch.Generator().manual_seed(0)), 8)
    assert float(noise.median()) < 0.35
    with pytest.raises(ValueError, match="patch_shape"):
        ch03.orientation_coherence(atoms, (7, 8))


def test_thread_count_is_restored_after_a_serial_tail():
    """The slow tail of a large batch runs on one thread; the caller's setting comes back."""
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        x, dictionary = _problem(n=3000, n_features=32, n_atoms=64)
        codes = sparse.sparse_encode(x.float(), dictionary.float(), 0.1)
        assert torch.get_num_threads() == 2
        assert torch.isfinite(codes).all()
    finally:
        torch.set_num_threads(before)


def test_sparsity_frame_draws_the_code_of_the_patch_with_most_contrast():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = torch.Generator().manual_seed(0)
    dictionary = torch.randn(20, 16, generator=g)
    dictionary /= dictionary.norm(dim=1, keepdim=True)
    x = torch.randn(8, 16, generator=g) * torch.tensor([0.01, 0.01, 3.0, 0.01, 0.01, 0.01, 1, 1]).unsqueeze(1)
    codes = sparse.sparse_encode(x, dictionary, 0.2)
    assert torch.count_nonzero(codes[0]) == 0 < torch.count_nonzero(codes[2])  # the first patch is flat
    sweep = {"active": [1.0, 2.0], "error": [0.5, 0.2]}
    fig = ch03.sparsity_frame(x, codes, dictionary, sweep, 0.2, (4, 4))
    code_axes = fig.subfigs[2].axes[0]
    assert code_axes.get_title() == f"{int(torch.count_nonzero(codes[2]))} non-zero coefficients"
    plt.close(fig)
