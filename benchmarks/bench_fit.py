"""`aelib.train.fit` against a minimal hand-written PyTorch loop on the same tensors.

Both train the same 784-256-32 MLP autoencoder from the same initial weights on the same
Fashion-MNIST subset (20,000 images, 2 epochs, batch 128) with Adam; the hand-written loop is
the simplest correct loop (a random permutation, per-batch ``x[perm[i:i + 128]]``,
``F.mse_loss``, zero_grad/backward/step) without any of fit's checks, progress or history.
Seven interleaved rounds; the overhead is reported on the median and on the best time.
Also reports the machine's dense matmul rate (GFLOP/s) and what fraction of it `fit` reaches.
Goal: fit's overhead ≤ 5 %.

Run: ``python benchmarks/bench_fit.py`` (``--quick`` for a short run).
"""
from __future__ import annotations

import copy
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

import aelib
from aelib.train import fit


def _data(n):
    try:
        return aelib.load_fashion_mnist(n_train=n, n_test=100).x_train
    except FileNotFoundError:  # no Fashion-MNIST on this machine: same shape, random pixels
        return torch.rand(n, 784)


def hand_written_loop(model, x, epochs, batch_size, lr, seed):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for lo in range(0, len(x), batch_size):
            xb = x[perm[lo:lo + batch_size]]
            loss = F.mse_loss(model(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return float(loss.detach())


def matmul_gflops(n=1024, repeats=10):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def model_flops_per_example(model):
    """Multiply-adds of the linear layers ×2 (FLOPs) ×3 (forward + backward ≈ 3× forward)."""
    macs = sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))
    return 2 * macs * 3


def run(quick: bool = False) -> list[dict]:
    aelib.seed_everything(0)
    n, epochs, rounds = (5_000, 2, 3) if quick else (20_000, 2, 7)
    x = _data(n)
    aelib.seed_everything(0)
    template = aelib.MLPAutoencoder(784, (256,), 32)
    times = {"fit": [], "hand-written loop": []}
    for _ in range(rounds):  # interleave the two so that machine noise hits both alike
        model = copy.deepcopy(template)
        start = time.perf_counter()
        fit(model, x, epochs=epochs, batch_size=128, lr=1e-3, device="cpu", progress=False)
        times["fit"].append(time.perf_counter() - start)
        model = copy.deepcopy(template)
        start = time.perf_counter()
        hand_written_loop(model, x, epochs, 128, 1e-3, 0)
        times["hand-written loop"].append(time.perf_counter() - start)
    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    throughput = {k: n * epochs / v for k, v in best.items()}
    overhead = best["fit"] / best["hand-written loop"] - 1
    overhead_median = median["fit"] / median["hand-written loop"] - 1
    peak = matmul_gflops()
    achieved = throughput["fit"] * model_flops_per_example(template) / 1e9
    note = f"784-256-32 MLP AE, {n} examples × {epochs} epochs, batch 128, best of {rounds}"
    return [
        {"benchmark": "fit throughput", "metric": "fit", "value": throughput["fit"], "unit": "examples/s", "note": note},
        {"benchmark": "fit throughput", "metric": "hand-written loop", "value": throughput["hand-written loop"],
         "unit": "examples/s", "note": note},
        {"benchmark": "fit throughput", "metric": "fit overhead vs loop (best)", "value": 100 * overhead,
         "unit": "%", "note": "goal ≤ 5 %"},
        {"benchmark": "fit throughput", "metric": "fit overhead vs loop (median)", "value": 100 * overhead_median,
         "unit": "%", "note": f"goal ≤ 5 %; {rounds} interleaved rounds"},
        {"benchmark": "fit throughput", "metric": "matmul peak (1024², fp32)", "value": peak, "unit": "GFLOP/s",
         "note": f"{torch.get_num_threads()} threads"},
        {"benchmark": "fit throughput", "metric": "fit achieved", "value": achieved, "unit": "GFLOP/s",
         "note": f"{100 * achieved / peak:.0f} % of matmul peak"},
    ]


def machine() -> str:
    return f"{platform.machine()} {platform.processor() or ''} · torch {torch.__version__} · {torch.get_num_threads()} threads"


def print_table(rows):
    print(f"machine: {machine()}")
    for r in rows:
        print(f"{r['benchmark']:<22} {r['metric']:<28} {r['value']:>12.2f} {r['unit']:<12} {r['note']}")


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
