"""Sparse coding: shrinkage, ISTA/FISTA and dictionary learning.

See chapter *Sparse coding and sparse autoencoders*. Conventions follow scikit-learn: rows of
``x`` are examples, rows of ``dictionary`` are atoms, and ``x_i ≈ s_i D`` (in the book's column
notation ``x_i ≈ W s_i`` with ``W = Dᵀ``). The code of one example solves the Lasso problem
``min_s ½‖x − s D‖² + λ‖s‖₁``; dictionary learning alternates between that problem for all
examples and an update of ``D`` (unit-norm atoms, or a Frobenius penalty ``γ‖D‖²_F``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ._checks import as_data_tensor, nonnegative_float, one_of, positive_int, real, same_shape
from .device import _float64

__all__ = [
    "soft_threshold",
    "hard_threshold",
    "lipschitz_constant",
    "coding_objective",
    "sparse_encode",
    "update_dictionary",
    "learn_dictionary",
    "DictionaryLearningResult",
    "dictionary_objective",
]

_METHODS = ("greedy", "fista", "ista")
_ATOM_NORMS = ("unit", "frobenius")


def _as_tensor(name: str, x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    try:
        return torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a torch.Tensor or array-like of numbers, got {type(x).__name__}.") from err


def _threshold(threshold, like: torch.Tensor):
    """A non-negative scalar, or a tensor of non-negative thresholds broadcastable to ``like``."""
    if not isinstance(threshold, torch.Tensor) or threshold.dim() == 0:
        return nonnegative_float("threshold", float(threshold) if isinstance(threshold, torch.Tensor) else threshold)
    threshold = threshold.to(device=like.device, dtype=like.dtype)
    if not bool((threshold >= 0).all()) or len(torch.broadcast_shapes(threshold.shape, like.shape)) != like.dim():
        raise ValueError(f"threshold must be ≥ 0 everywhere and broadcast to x of shape {tuple(like.shape)}, "
                         f"got shape {tuple(threshold.shape)}; thresholds are magnitudes.")
    return threshold


def _pair(x, dictionary):
    """Validate ``x`` (n × d) and ``dictionary`` (K × d); return both on x's device in a common float dtype."""
    x = as_data_tensor("x", x)
    dictionary = as_data_tensor("dictionary", dictionary)
    if dictionary.shape[1] != x.shape[1]:
        raise ValueError(f"dictionary has {dictionary.shape[1]} features per atom but x has {x.shape[1]}; atoms are "
                         "its rows, shape (n_atoms, n_features): transpose it if it holds one atom per column.")
    dtype = torch.promote_types(x.dtype, dictionary.dtype)
    return x.to(dtype), dictionary.to(device=x.device, dtype=dtype)


# --------------------------------------------------------------------------- thresholding


def soft_threshold(x, threshold):
    """Soft thresholding (shrinkage), the proximal operator of ``τ‖·‖₁``:
    ``S_τ(x) = sign(x) max(|x| − τ, 0)``.

    Entries with ``|x| ≤ τ`` become exactly zero; the others move ``τ`` towards zero. ``threshold``
    is a number ``τ ≥ 0`` or a tensor broadcast against ``x`` (e.g. one threshold per atom).
    See chapter *Sparse coding and sparse autoencoders*, section *Hard and soft thresholding*.

    >>> soft_threshold(torch.tensor([-3.0, -0.5, 0.0, 1.0, 2.5]), 1.0).tolist()
    [-2.0, 0.0, 0.0, 0.0, 1.5]
    """
    x = _as_tensor("x", x)
    if not torch.is_floating_point(x):
        x = x.float()
    threshold = _threshold(threshold, x)
    # x − clip(x, −τ, τ) equals sign(x)·max(|x|−τ, 0) and is exactly 0 on [−τ, τ].
    if isinstance(threshold, torch.Tensor):
        return x - torch.maximum(torch.minimum(x, threshold), -threshold)
    return x - x.clamp(-threshold, threshold)


def hard_threshold(x, threshold):
    """Hard thresholding, the proximal operator of the L0 penalty: keep ``x`` where ``|x| > τ``.

    Unlike :func:`soft_threshold` it does not shrink the survivors, and it jumps at ``±τ`` (for the
    penalty ``μ‖s‖₀`` with step 1, ``τ = √(2μ)``).

    >>> hard_threshold(torch.tensor([-3.0, 0.5, 1.0, 2.5]), 1.0).tolist()
    [-3.0, 0.0, 0.0, 2.5]
    """
    x = _as_tensor("x", x)
    if not torch.is_floating_point(x):
        x = x.float()
    threshold = _threshold(threshold, x)
    return x * (x.abs() > threshold)


# --------------------------------------------------------------------------- sparse coding


def lipschitz_constant(dictionary) -> float:
    """``L = λ_max(D Dᵀ)``, the Lipschitz constant of the gradient of ``½‖x − sD‖²`` in ``s``.

    ISTA and FISTA take gradient steps of size ``1/L``.
    """
    return _lipschitz(as_data_tensor("dictionary", dictionary))


def _lipschitz(dictionary) -> float:
    # λ_max(D Dᵀ) = σ_max(D)²; the singular values of the thin K × d matrix cost a tenth of eigh(D Dᵀ).
    return float(torch.linalg.svdvals(_float64(dictionary))[0]) ** 2


def coding_objective(x, codes, dictionary, sparsity_weight) -> torch.Tensor:
    """Per-example sparse-coding objective ``½‖x_i − s_i D‖² + λ‖s_i‖₁`` (a vector of length n)."""
    x, dictionary = _pair(x, dictionary)
    codes = _codes("codes", codes, x, dictionary)
    return _coding_objective(x, codes, dictionary, nonnegative_float("sparsity_weight", sparsity_weight))


def _coding_objective(x, codes, dictionary, lam) -> torch.Tensor:
    residual = x - codes @ dictionary
    return 0.5 * residual.pow(2).sum(dim=1) + lam * codes.abs().sum(dim=1)


def _codes(name, codes, x, dictionary) -> torch.Tensor:
    codes = same_shape(name, as_data_tensor(name, codes), (len(x), len(dictionary)), " = (n_examples, n_atoms)")
    return codes.to(device=x.device, dtype=x.dtype)


def sparse_encode(x, dictionary, sparsity_weight, method: str = "greedy", *, max_iter: int = 1000,
                  tol: float = 1e-4, init=None, return_objective: bool = False):
    """Sparse codes of all rows of ``x`` at once by ISTA, FISTA or greedy FISTA.

    Every example ``x_i`` (a row) gets the code ``s_i`` that minimises
    ``½‖x_i − s_i D‖² + λ‖s_i‖₁`` (``λ = sparsity_weight``). Each iteration is a gradient step of
    size ``1/L`` on the quadratic term, ``L = λ_max(D Dᵀ)``, then :func:`soft_threshold` at ``λ/L``,
    from the point ``y = s^k + β_k (s^k − s^{k−1})``: ``"ista"`` has ``β_k = 0``; ``"fista"``
    (Beck & Teboulle 2009) ``β_k = (t_{k−1} − 1)/t_k``; ``"greedy"`` (default) ``β_k = 1``, a
    variant of the greedy FISTA of Liang, Luo & Schönlieb (2022) that keeps the step at ``1/L``
    and drops the momentum (their safeguard shrinks the step) when a step is longer than the
    first one. Both momentum
    methods restart per example when the momentum points uphill (O'Donoghue & Candès 2015).
    Examples with ``max_k |x_i · d_k| ≤ λ`` have the exact solution ``s_i = 0`` and are not
    iterated; the others stop when ``‖s_i^{k+1} − s_i^k‖ ≤ tol · ‖s_i^{k+1}‖`` or after
    ``max_iter`` iterations. scikit-learn's ``sparse_encode`` takes the same ``λ`` as ``alpha``.

    See chapter *Sparse coding and sparse autoencoders*, section *ISTA and FISTA*.

    Parameters
    ----------
    x : torch.Tensor, shape (n_examples, n_features)
    dictionary : torch.Tensor, shape (n_atoms, n_features)
        One atom per row (atoms need not have unit norm).
    sparsity_weight : float
        ``λ ≥ 0``.
    method : {"greedy", "fista", "ista"}
    max_iter : int
    tol : float
        Relative-change tolerance; ``0`` runs all ``max_iter`` iterations.
    init : torch.Tensor, shape (n_examples, n_atoms), optional
        Warm start; zeros by default.
    return_objective : bool
        Also return the per-example objective at the returned codes.

    Returns
    -------
    codes : torch.Tensor, shape (n_examples, n_atoms)
    objective : torch.Tensor, shape (n_examples,)
        Only when ``return_objective=True``.

    Examples
    --------
    >>> sparse_encode(torch.tensor([[3.0, 0.5, -1.5]]), torch.eye(3), 1.0).tolist()  # = S_1(x)
    [[2.0, 0.0, -0.5]]
    """
    x, dictionary = _pair(x, dictionary)
    lam = nonnegative_float("sparsity_weight", sparsity_weight)
    method = one_of("method", method, _METHODS)
    max_iter = positive_int("max_iter", max_iter)
    tol = nonnegative_float("tol", tol)
    init = None if init is None else _codes("init", init, x, dictionary)
    if not bool((dictionary != 0).any()):
        raise ValueError("dictionary is all zeros; sparse coding needs at least one non-zero atom.")
    codes = _sparse_encode(x, dictionary, lam, method, max_iter, tol, init)
    if return_objective:
        return codes, _coding_objective(x, codes, dictionary, lam)
    return codes


def _sparse_encode(x, dictionary, lam, method, max_iter, tol, init=None):
    """:func:`sparse_encode` on checked inputs (dictionary learning calls it every iteration)."""
    codes = torch.zeros(x.shape[0], dictionary.shape[0], dtype=x.dtype, device=x.device) if init is None \
        else init.clone()
    step = 1.0 / _lipschitz(dictionary)
    correlation = x @ dictionary.T
    # Screening: s_i = 0 is optimal exactly when every |x_i · d_k| ≤ λ; those rows need no iterations.
    active = correlation.abs().amax(dim=1) > lam
    codes[~active] = 0
    rows = torch.nonzero(active).squeeze(1)
    if len(rows):
        # One proximal-gradient step is y ↦ S_{λ/L}(y (I − G/L) + x Dᵀ/L): one matmul per iteration.
        transition = torch.eye(len(dictionary), dtype=x.dtype, device=x.device) - step * (dictionary @ dictionary.T)
        codes[rows] = _iterate(codes[rows], transition, step * correlation[rows], lam * step, method, max_iter, tol)
    return codes


#: Convergence is checked every this many iterations: the check costs about as much as the
#: iteration's element-wise work.
_CHECK_EVERY = 5


def _iterate(codes, transition, offset, threshold, method, max_iter, tol):
    """ISTA, FISTA or greedy FISTA on all rows at once (see :func:`sparse_encode`).

    One iteration is ``s^{k+1} = S_τ(y^k (I − G/L) + x Dᵀ/L)`` from the extrapolated point
    ``y^k = s^k + β_k Δ_k``, ``Δ_k = s^k − s^{k−1}``. Rows converge at different speeds, so
    every ``_CHECK_EVERY`` iterations the finished ones are stored and leave the working set
    (once they are an eighth of it; until then they keep iterating, which only refines them).
    """
    result, active = codes.clone(), torch.arange(len(codes), device=codes.device)
    point, last_change = codes.clone(), torch.zeros_like(codes)
    beta = torch.zeros(len(codes), 1, dtype=codes.dtype, device=codes.device)
    t, first = torch.ones_like(beta), None
    for k in range(1, max_iter + 1):
        start = codes if method == "ista" else point
        new = F.softshrink(torch.addmm(offset, start, transition), threshold)
        change = new - codes
        if method != "ista":
            squared = torch.linalg.vector_norm(change, dim=1, keepdim=True).square()
            # Restart (β = 0) where the momentum points uphill: ⟨y^k − s^{k+1}, Δ_{k+1}⟩ > 0.
            uphill = beta * (last_change * change).sum(1, keepdim=True) > squared
            if method == "fista":
                t_now = torch.where(uphill, 1.0, t)
                t = 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * t_now * t_now))
                beta = (t_now - 1.0) / t
            else:  # greedy: β = 1, dropped also when a step is longer than the first one
                first = squared if first is None else first
                beta = (~uphill & (squared <= first)).to(codes.dtype)
            point, last_change = torch.addcmul(new, beta, change), change
        codes = new
        if tol > 0 and k % _CHECK_EVERY == 0:
            moved = squared.squeeze(1).sqrt() if method != "ista" else change.norm(dim=1)
            done = moved <= tol * codes.norm(dim=1).clamp_min(torch.finfo(codes.dtype).tiny)
            n_done = int(done.sum())
            if n_done == len(active):
                break
            if n_done >= len(active) // 8:  # shrinking copies the working set: only worth it in bulk
                result[active[done]] = codes[done]
                keep = ~done
                active, codes, point, last_change = active[keep], codes[keep], point[keep], last_change[keep]
                offset, beta, t = offset[keep], beta[keep], t[keep]
                first = first[keep] if first is not None else None
    result[active] = codes
    return result


# --------------------------------------------------------------------------- dictionary learning


def dictionary_objective(x, codes, dictionary, sparsity_weight, frobenius_weight: float = 0.0) -> float:
    """``J(S, D) = (1/N) Σ_i (½‖x_i − s_i D‖² + λ‖s_i‖₁) + γ‖D‖²_F``, the dictionary-learning
    objective (mean over examples, plus the Frobenius term).
    """
    gamma = nonnegative_float("frobenius_weight", frobenius_weight)
    x, dictionary = _pair(x, dictionary)
    codes = _codes("codes", codes, x, dictionary)
    lam = nonnegative_float("sparsity_weight", sparsity_weight)
    return float(_dictionary_objective(x, codes, dictionary, lam, gamma))


def _dictionary_objective(x, codes, dictionary, lam, gamma) -> torch.Tensor:
    """A 0-d tensor, so that the learning loop never waits for the device to report it."""
    return _coding_objective(x, codes, dictionary, lam).mean() + gamma * dictionary.pow(2).sum()


def _update_statistics(codes, x):
    return codes.T @ codes, codes.T @ x  # A = SᵀS (K × K), B = SᵀX (K × d)


def _unit_norm_update(dictionary, gram_codes, cross, replacement):
    """One sweep of exact block-coordinate minimisation over the unit sphere, atom by atom.

    With the other atoms fixed, ``J`` depends on atom ``k`` through ``½ a_kk‖d_k‖² − ⟨d_k, r_k⟩``,
    ``r_k = b_k − Σ_{j≠k} a_kj d_j``. On the sphere the first term is constant, so the best
    unit-norm atom is ``r_k/‖r_k‖``: every step can only lower ``J``.
    """
    dictionary = dictionary.clone()
    unused = (gram_codes.diagonal() <= 0).tolist()  # one transfer, not one per atom
    for k in range(dictionary.shape[0]):
        if unused[k]:
            # An unused atom does not affect J; move it onto a data example so that it can be used.
            atom = replacement(k)
        else:
            atom = cross[k] - gram_codes[k] @ dictionary + gram_codes[k, k] * dictionary[k]
        norm = atom.norm()
        dictionary[k] = torch.where(norm > 0, atom / norm.clamp_min(torch.finfo(atom.dtype).tiny), dictionary[k])
    return dictionary


def _frobenius_update(gram_codes, cross, n_examples, frobenius_weight):
    """Closed-form ridge solution of ``min_D (1/N)·½‖X − SD‖²_F + γ‖D‖²_F``:
    ``D = (SᵀS + 2γN·I)⁻¹ SᵀX``."""
    eye = torch.eye(gram_codes.shape[0], dtype=gram_codes.dtype, device=gram_codes.device)
    return torch.linalg.solve(gram_codes + 2.0 * frobenius_weight * n_examples * eye, cross)


def update_dictionary(x, codes, dictionary, *, atom_norm: str = "unit", frobenius_weight: float = 0.0,
                      seed: int = 0) -> torch.Tensor:
    """The dictionary step: lower ``J(S, D)`` over ``D`` with the codes fixed.

    ``atom_norm="unit"``: one sweep of exact block-coordinate minimisation over unit-norm atoms
    (unused atoms are moved onto random examples). ``atom_norm="frobenius"``: the exact minimiser
    ``D = (SᵀS + 2γN·I)⁻¹ SᵀX`` of the penalised objective (``frobenius_weight = γ > 0``).
    """
    x, dictionary = _pair(x, dictionary)
    codes = _codes("codes", codes, x, dictionary)
    atom_norm, gamma = _check_norm(atom_norm, frobenius_weight)
    gram_codes, cross = _update_statistics(codes, x)
    if atom_norm == "frobenius":
        return _frobenius_update(gram_codes, cross, x.shape[0], gamma)
    generator = torch.Generator().manual_seed(seed)
    return _unit_norm_update(dictionary, gram_codes, cross, lambda k: x[int(torch.randint(len(x), (1,), generator=generator))])


def _check_norm(atom_norm, frobenius_weight):
    atom_norm = one_of("atom_norm", atom_norm, _ATOM_NORMS)
    gamma = nonnegative_float("frobenius_weight", frobenius_weight)
    if (atom_norm == "frobenius") != (gamma > 0):
        raise ValueError("atom_norm='frobenius' needs frobenius_weight > 0 (else atoms grow while codes "
                         "shrink), e.g. 1e-3" if gamma == 0 else "frobenius_weight has no effect with unit-norm "
                         "atoms (‖D‖²_F = n_atoms); use atom_norm='frobenius' or leave frobenius_weight at 0.")
    return atom_norm, gamma


@dataclass
class DictionaryLearningResult:
    """What :func:`learn_dictionary` returns: the atoms (``dictionary``, one per row: the
    columns of ``W`` in the book's notation), the training ``codes`` under them, the
    ``objective_history`` (``n_iter + 1`` values: full batch, ``J`` after the initial coding and
    every iteration; mini-batch, ``J`` of each batch before its update, then ``J`` on all
    examples), the settings, and the wall-clock ``seconds``.
    """

    dictionary: torch.Tensor
    codes: torch.Tensor
    objective_history: list = field(default_factory=list)
    sparsity_weight: float = 0.0
    atom_norm: str = "unit"
    frobenius_weight: float = 0.0
    seconds: float = 0.0

    def reconstruct(self) -> torch.Tensor:
        """``S D``: the training examples as rebuilt from their sparse codes."""
        return self.codes @ self.dictionary

    def __repr__(self) -> str:
        last = f"{self.objective_history[-1]:.4f}" if self.objective_history else "-"
        return (f"DictionaryLearningResult(n_atoms={len(self.dictionary)}, atom_norm={self.atom_norm!r}, "
                f"iterations={max(len(self.objective_history) - 1, 0)}, objective={last})")


def learn_dictionary(x, n_atoms: int, sparsity_weight: float, *, n_iter: int = 30, atom_norm: str = "unit",
                     frobenius_weight: float = 0.0, batch_size: int | None = None, seed: int = 0,
                     method: str = "greedy", max_iter: int = 200, tol: float = 1e-4, init=None,
                     forget: float = 0.7) -> DictionaryLearningResult:
    """Learn a dictionary by alternating sparse coding and dictionary updates.

    Minimises :func:`dictionary_objective`,
    ``J(S, D) = (1/N) Σ_i (½‖x_i − s_i D‖² + λ‖s_i‖₁) [+ γ‖D‖²_F]``, over unit-norm atoms
    (``atom_norm="unit"``, as Lee et al. 2007 constrain them) or with the Frobenius penalty
    (``atom_norm="frobenius"``, ``frobenius_weight = γ > 0``). Each iteration updates ``D`` with
    the codes fixed (:func:`update_dictionary`), then re-codes the examples with
    :func:`sparse_encode`, warm-started. In full-batch mode both steps lower ``J`` (a code is only
    replaced when its objective went down). With ``batch_size`` set, each iteration codes a random
    mini-batch and updates ``D`` from running statistics ``A = Σ sᵀs``, ``B = Σ sᵀx`` that decay by
    ``forget`` (online dictionary learning, Mairal et al. 2009); the history then holds mini-batch
    objectives, and finally the objective of all examples.

    See chapter *Sparse coding and sparse autoencoders*, section *Learning the dictionary*.

    ``x`` is ``(n_examples, n_features)``; ``sparsity_weight`` is ``λ ≥ 0``; ``n_iter`` counts the
    dictionary updates; ``frobenius_weight`` (``γ``) is required (> 0) for ``"frobenius"`` and
    must stay 0 for ``"unit"``; ``batch_size=None`` (default) uses all examples every
    iteration; ``seed`` draws the initial atoms (random examples, unless ``init`` gives them)
    and the mini-batches; ``method``, ``max_iter`` and ``tol`` go to every coding step;
    ``forget`` in ``[0, 1)`` decays the running statistics (0.7 remembers about three batches,
    so atoms leave their random starting examples quickly). Returns a
    :class:`DictionaryLearningResult`.

    Examples
    --------
    >>> result = learn_dictionary(torch.randn(200, 16), n_atoms=8, sparsity_weight=0.5, n_iter=5)
    >>> result.dictionary.shape, result.codes.shape
    (torch.Size([8, 16]), torch.Size([200, 8]))
    """
    start = time.perf_counter()
    x = as_data_tensor("x", x)
    n_atoms = positive_int("n_atoms", n_atoms)
    lam = nonnegative_float("sparsity_weight", sparsity_weight)
    n_iter = positive_int("n_iter", n_iter)
    atom_norm, gamma = _check_norm(atom_norm, frobenius_weight)
    if batch_size is not None:
        batch_size = min(positive_int("batch_size", batch_size), x.shape[0])
    forget = real("forget", forget, 0.0, 1.0, open_high=True)
    method = one_of("method", method, _METHODS)
    generator = torch.Generator().manual_seed(positive_int("seed", seed, minimum=0))
    dictionary = _initial_dictionary(x, n_atoms, init, generator)

    def code(rows, dictionary, previous):
        new = _sparse_encode(x[rows], dictionary, lam, method, max_iter, tol, previous)
        new_obj = _coding_objective(x[rows], new, dictionary, lam)
        old_obj = _coding_objective(x[rows], previous, dictionary, lam)
        # Keep a previous code where the solver (FISTA is not monotone) did not improve on it.
        return torch.where((new_obj <= old_obj)[:, None], new, previous)

    def objective(rows, codes, dictionary):
        return _dictionary_objective(x[rows], codes, dictionary, lam, gamma)

    def replacement(k):
        return x[int(torch.randint(x.shape[0], (1,), generator=generator))]

    everyone = torch.arange(x.shape[0], device=x.device)
    codes = torch.zeros(x.shape[0], n_atoms, dtype=x.dtype, device=x.device)
    history = []
    if batch_size is None:
        codes = code(everyone, dictionary, codes)
        history.append(objective(everyone, codes, dictionary))
    running, count = None, 0.0
    for _ in range(n_iter):
        if batch_size is None:
            stats, count = _update_statistics(codes, x), float(x.shape[0])
        else:
            rows = torch.randperm(x.shape[0], generator=generator)[:batch_size].to(x.device)
            codes[rows] = code(rows, dictionary, codes[rows])
            history.append(objective(rows, codes[rows], dictionary))  # this batch, before the update
            batch = _update_statistics(codes[rows], x[rows])
            running = batch if running is None else tuple(forget * r + b for r, b in zip(running, batch))
            count = forget * count + batch_size  # how many examples the decayed statistics stand for
            stats = running
        if atom_norm == "frobenius":
            dictionary = _frobenius_update(*stats, count, gamma)
        else:
            dictionary = _unit_norm_update(dictionary, *stats, replacement)
        if batch_size is None:
            codes = code(everyone, dictionary, codes)
            history.append(objective(everyone, codes, dictionary))
    if batch_size is not None:  # final codes of every example under the final dictionary
        codes = code(everyone, dictionary, codes)
        history.append(objective(everyone, codes, dictionary))
    history = [float(value) for value in history]
    return DictionaryLearningResult(dictionary, codes, history, lam, atom_norm, gamma, time.perf_counter() - start)


def _initial_dictionary(x, n_atoms, init, generator):
    if init is not None:
        init = same_shape("init", as_data_tensor("init", init), (n_atoms, x.shape[1]), " = (n_atoms, n_features)")
        return init.to(device=x.device, dtype=x.dtype).clone()
    rows = torch.randperm(x.shape[0], generator=generator)[:n_atoms]
    atoms = x[rows.to(x.device)].clone()
    if atoms.shape[0] < n_atoms:  # fewer examples than atoms: fill with random directions
        extra = torch.randn(n_atoms - atoms.shape[0], x.shape[1], generator=generator, dtype=x.dtype)
        atoms = torch.cat([atoms, extra.to(x.device)])
    norms = atoms.norm(dim=1, keepdim=True)
    flat = norms.squeeze(1) == 0
    if flat.any():
        atoms[flat] = torch.randn(int(flat.sum()), x.shape[1], generator=generator, dtype=x.dtype).to(x.device)
        norms = atoms.norm(dim=1, keepdim=True)
    return atoms / norms
