"""Live retraining of the sliders: seconds per *Retrain* and how close it lands to the sweep.

For every explorer that offers *Retrain* (chapters 2, 3, 5 and 6 — code size, sparse coding's
λ, the contraction weight λ, the VAE's β and code size) this builds the sweep as the notebook
does, then retrains at values between the slider's, the way the notebook's callback does now
("new") and the way it did before issue 13 ("before"), and reports

* the seconds the callback's work takes (training, the test error, the picture where a chapter
  helper draws it; with torch on 2 threads), and
* the ratio of the retrained model's test error to the sweep's curve interpolated at that value
  (:func:`aelib.widgets.curve_at`; log–log axes except chapter 5's λ, which includes 0).

The target (issue 13): ratio within 1.25 (either way) and at most 5 s on a 2-core CPU.

    python benchmarks/bench_retrain.py [--quick] [--only ch02,ch03,ch05,ch06] [--no-before]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import torch  # noqa: E402

import aelib  # noqa: E402
from aelib import metrics, penalties, sparse, vae, widgets  # noqa: E402
from aelib.chapters import ch02_capacity as ch02  # noqa: E402
from aelib.chapters import ch03_sparse as ch03  # noqa: E402
from aelib.chapters import ch05_contractive as ch05  # noqa: E402
from aelib.chapters import ch06_vae as ch06  # noqa: E402
from aelib.models import MLPAutoencoder  # noqa: E402
from aelib.train import fit  # noqa: E402

THREADS = 2
BOUND, LIMIT_S = 1.25, 5.0


def timed(work, repeat: int):
    """``(result, median seconds)`` of ``repeat`` runs of ``work()`` (deterministic work)."""
    seconds, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    return result, statistics.median(seconds)


def row(explorer, how, value, seconds, error, curve):
    ratio = error / curve
    ok = 1 / BOUND <= ratio <= BOUND and seconds <= LIMIT_S
    return {"benchmark": explorer, "metric": f"{how} at {value:g}", "value": ratio,
            "unit": "× curve", "seconds": seconds, "error": error, "curve": curve,
            "note": f"{seconds:.2f} s, error {error:.4g} vs curve {curve:.4g}"
                    f"{'' if ok else '  ← misses the target'}"}


def measure(explorer, cases, new, old, repeat, before):
    """Rows for every ``(value, curve)`` in ``cases``: ``new(value)`` and, with ``before``, ``old(value)``
    (each returns the retrained model's test error)."""
    rows = []
    for value, curve in cases:
        for how, work in (("new", new), ("before", old))[:2 if before else 1]:
            error, seconds = timed(lambda: work(value), repeat)
            rows.append(row(explorer, how, value, seconds, error, curve))
    return rows


# ---------------------------------------------------------------- chapter 2: code size
def bench_ch02(repeat, before, quick):
    data = aelib.load_fashion_mnist(n_train=5_000, n_test=1_000, seed=0)
    x_train, x_test = data.x_train, data.x_test
    sizes = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

    def learning_rate(k):
        return min(5e-3, 0.05 / k**0.5)

    def batch_size(k):
        return 32 if k <= 64 else 64

    sweep = ch02.latent_size_sweep(x_train, x_test, sizes, epochs=5, batch_size=batch_size,
                                   lr=learning_rate, seed=0, device="cpu")

    def picture(k, model, error):
        widgets.figure_to_png(ch02.bottleneck_frame(sweep, k, x_test[:5], data.image_shape,
                                                    model=model, error=error))

    def new(k):
        model = ch02.retrain_from_sweep(sweep, k, x_train, epochs=2, batch_size=batch_size(k),
                                        lr=0.3 * learning_rate(k), device="cpu")
        error = metrics.reconstruction_error(model, x_test)
        picture(k, model, error)
        return error

    def old(k):  # 1,000 images, three epochs, from scratch
        aelib.seed_everything(0)
        model = ch02.shallow_autoencoder(data.input_dim, k)
        fit(model, x_train[:1000], epochs=3, batch_size=32, lr=learning_rate(k), device="cpu",
            progress=False)
        error = metrics.reconstruction_error(model, x_test)
        picture(k, model, error)
        return error

    cases = [(k, ch02.sweep_error_at(sweep, k)) for k in ((24,) if quick else (24, 200, 1000))]
    return measure("ch02 latent size", cases, new, old, repeat, before)


# ---------------------------------------------------------------- chapter 3: λ of sparse coding
def bench_ch03(repeat, before, quick):
    n_patches = 10_000
    big = aelib.image_patches(16, n_patches + 2_000, seed=0)
    half = torch.nn.functional.avg_pool2d(big.reshape(-1, 1, 16, 16), 2)
    patches = half.reshape(len(big), 64) / half.std()
    x_patches, x_held = patches[:n_patches], patches[n_patches:]
    x_held = x_held[x_held.norm(dim=1).argsort(descending=True)]
    learned = sparse.learn_dictionary(x_patches, 100, 0.5, n_iter=50 if quick else 200,
                                      batch_size=256, seed=0, max_iter=30, tol=1e-3)
    atoms = learned.dictionary
    swept = [0.05, 0.1, 0.2, 0.5, 1.0, 1.5, 2.5]
    codes = {v: sparse.sparse_encode(x_held, atoms, v) for v in swept}
    sweep = {"sparsity_weight": swept,
             "active": [float((c != 0).sum(1).float().mean()) for c in codes.values()],
             "error": [ch03.relative_error(x_held, c, atoms) for c in codes.values()]}

    def new(value):
        recoded = ch03.recode_with_progress(x_held, atoms, value)
        widgets.figure_to_png(ch03.sparsity_frame(x_held, recoded, atoms, sweep, value, (8, 8)))
        return ch03.relative_error(x_held, recoded, atoms)

    def old(value):  # one call of sparse_encode
        recoded = sparse.sparse_encode(x_held, atoms, value)
        widgets.figure_to_png(ch03.sparsity_frame(x_held, recoded, atoms, sweep, value, (8, 8)))
        return ch03.relative_error(x_held, recoded, atoms)

    cases = [(v, widgets.curve_at(swept, sweep["error"], v)) for v in ((0.3,) if quick else (0.07, 0.3, 2.0))]
    return measure("ch03 sparse coding λ", cases, new, old, repeat, before)


# ---------------------------------------------------------------- chapter 5: contraction weight
def bench_ch05(repeat, before, quick):
    data = aelib.load_fashion_mnist(n_train=5_000, n_test=1_000, seed=0)
    x_train, x_test = data.x_train, data.x_test
    x_probe = x_test[:50]
    weights = [0.0, 0.1, 0.3, 1.0]

    def train(weight, epochs=15):
        aelib.seed_everything(0)
        model = MLPAutoencoder(data.input_dim, (), 256, latent_activation="sigmoid")
        penalty = penalties.contractive(weight, "closed_form") if weight else None
        fit(model, x_train, epochs=epochs, lr=2e-3, loss="sse", penalty=penalty, device="cpu",
            progress=False)
        return model

    models = {weight: train(weight) for weight in weights}
    errors = [metrics.reconstruction_error(models[w], x_test) for w in weights]

    def new(weight):
        model = ch05.retrain_from_sweep(models, weight, x_train, epochs=3, lr=1e-3, device="cpu")
        ch05.jacobian_singular_values(model, x_probe)  # the frame's spectrum
        return metrics.reconstruction_error(model, x_test)

    def old(weight):  # the sweep's whole schedule from scratch
        model = train(weight)
        ch05.jacobian_singular_values(model, x_probe)
        return metrics.reconstruction_error(model, x_test)

    cases = [(w, widgets.curve_at(weights, errors, w, log_x=False, log_y=False))
             for w in ((0.2,) if quick else (0.05, 0.2, 0.6))]
    return measure("ch05 contraction λ", cases, new, old, repeat, before)


# ---------------------------------------------------------------- chapter 6: β and code size
def bench_ch06(repeat, before, quick):
    data = aelib.load_fashion_mnist(n_train=6_000, n_test=2_000, seed=0)
    x_sweep, x_test = data.x_train[:2_000], data.x_test

    def old(beta=1.0, latent_dim=10):  # the notebook's train_small: one call of fit
        aelib.seed_everything(0)
        small = vae.VAE(data.input_dim, (128,), latent_dim, beta=beta)
        fit(small, x_sweep, epochs=8, device="cpu", progress=False)
        small.sample(8, seed=0)
        return -vae.elbo(small, x_test).reconstruction

    def new(**setting):
        small = ch06.train_small_vae(x_sweep, hidden_dim=128, epochs=8, device="cpu", **setting)
        small.sample(8, seed=0)
        return -vae.elbo(small, x_test).reconstruction

    betas, sizes = [0.25, 1.0, 4.0, 16.0], [2, 5, 10, 20, 50]
    by_beta = [old(beta=b) for b in betas]
    by_size = [by_beta[1] if k == 10 else old(latent_dim=k) for k in sizes]
    rows = []
    for name, key, values, swept, losses in (
            ("ch06 VAE β", "beta", (3.0,) if quick else (0.5, 3.0, 12.0), betas, by_beta),
            ("ch06 VAE latent size", "latent_dim", (15,) if quick else (3, 15, 35), sizes, by_size)):
        cases = [(v, widgets.curve_at(swept, losses, v)) for v in values]
        rows += measure(name, cases, lambda v: new(**{key: v}), lambda v: old(**{key: v}), repeat, before)
    return rows


CHAPTERS = {"ch02": bench_ch02, "ch03": bench_ch03, "ch05": bench_ch05, "ch06": bench_ch06}


def run(quick: bool = False, *, only=None, repeat: int = 1, before: bool = True) -> list:
    """Rows ``benchmark, metric, value, unit, note`` (and seconds, error, curve) per retrain."""
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        rows = []
        for name, bench in CHAPTERS.items():
            if only is None or name in only:
                rows += bench(repeat, before, quick)
        return rows
    finally:
        torch.set_num_threads(threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one value per explorer")
    parser.add_argument("--only", help="comma-separated chapters, e.g. ch02,ch05")
    parser.add_argument("--repeat", type=int, default=1, help="median of this many timings")
    parser.add_argument("--no-before", action="store_true", help="skip the old callbacks")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if only and not only <= set(CHAPTERS):
        parser.error(f"--only takes {', '.join(CHAPTERS)}, got {args.only}")
    print(f"{'explorer':<22} {'retrain':<18} {'seconds':>8} {'error':>9} {'curve':>9} {'ratio':>6}")
    rows = run(args.quick, only=only, repeat=args.repeat, before=not args.no_before)
    for r in rows:
        flag = "" if 1 / BOUND <= r["value"] <= BOUND and r["seconds"] <= LIMIT_S else "  ✗"
        print(f"{r['benchmark']:<22} {r['metric']:<18} {r['seconds']:8.2f} {r['error']:9.4g} "
              f"{r['curve']:9.4g} {r['value']:6.2f}{flag}")
    new = [r for r in rows if r["metric"].startswith("new")]
    worst = max(new, key=lambda r: abs(r["value"] - 1), default=None)
    if worst is not None:
        print(f"new: slowest {max(r['seconds'] for r in new):.2f} s, ratios "
              f"{min(r['value'] for r in new):.2f}–{max(r['value'] for r in new):.2f} "
              f"(target: ≤ {LIMIT_S:g} s, within {BOUND}×)")


if __name__ == "__main__":
    main()
