"""Cost of the contractive penalty: one training step with each way of computing ‖J_f(x)‖²_F,
relative to one step of the same autoencoder without a penalty.

Two encoders: the one-layer sigmoid encoder of Rifai et al. (2011), where all three methods
apply, and a deeper encoder, where the closed form does not. Steps of the different methods
are interleaved round by round, so that load from other processes hits them all alike, and
the median CPU time (process time, all threads) per step is reported.

    python benchmarks/bench_contractive.py [--quick]
"""
from __future__ import annotations

import platform
import statistics
import sys
import time

import torch

from aelib.models import MLPAutoencoder
from aelib.penalties import contractive
from aelib.train import reconstruction_loss

BATCH_SIZE = 128


def _step_fn(model, penalty, x):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = reconstruction_loss("sse")

    def step():
        z = model.encode(x)
        loss = loss_fn(model.decode(z), x)
        if penalty is not None:
            loss = loss + penalty(model, x, z)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _time_steps(steps: dict, rounds: int, repeats: int) -> dict:
    for step in steps.values():  # warm-up (first forward-mode call loads torch's jvp rules)
        step()
        step()
    samples = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            n = 1 if name == "exact" else repeats  # the exact Jacobian is slow enough to time once
            start = time.process_time()
            for _ in range(n):
                step()
            samples[name].append((time.process_time() - start) / n)
    return {name: statistics.median(values) for name, values in samples.items()}


def run(quick: bool = False) -> list[dict]:
    # One thread: CPU time then counts only real work (idle OpenMP workers spin and would be
    # billed too when the machine is shared), so the ratios are stable under load.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(quick)
    finally:
        torch.set_num_threads(threads)


def _run(quick: bool) -> list[dict]:
    torch.manual_seed(0)
    x = torch.rand(BATCH_SIZE, 784)
    rounds, repeats = (5, 5) if quick else (21, 10)
    setups = {
        "one-layer sigmoid encoder 784→256": dict(hidden_dims=(), latent_dim=256,
                                                  methods=("closed_form", "estimator", "exact")),
        "deep encoder 784→256→32": dict(hidden_dims=(256,), latent_dim=32, methods=("estimator", "exact")),
    }
    rows = []
    for label, setup in setups.items():
        steps = {}
        for method in ("plain",) + setup["methods"]:
            torch.manual_seed(0)
            model = MLPAutoencoder(784, setup["hidden_dims"], setup["latent_dim"], latent_activation="sigmoid")
            penalty = None if method == "plain" else contractive(0.1, method=method)
            steps[method] = _step_fn(model, penalty, x)
        seconds = _time_steps(steps, rounds, repeats)
        plain = seconds["plain"]
        rows.append({"benchmark": f"contractive step, {label}", "metric": "plain AE step (CPU time)",
                     "value": plain * 1e3, "unit": "ms", "note": f"batch {BATCH_SIZE}, no penalty, 1 thread"})
        for method in setup["methods"]:
            rows.append({"benchmark": f"contractive step, {label}", "metric": f"{method} / plain",
                         "value": seconds[method] / plain, "unit": "×",
                         "note": f"{seconds[method] * 1e3:.2f} ms per step"
                                 + (", 1 projection" if method == "estimator" else "")})
    return rows


def _print_table(rows):
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          "timed on 1 torch thread (CPU time)")
    width = max(len(r["benchmark"]) for r in rows)
    for r in rows:
        print(f"{r['benchmark']:<{width}}  {r['metric']:<26} {r['value']:>8.2f} {r['unit']:<3} {r['note']}")


if __name__ == "__main__":
    _print_table(run(quick="--quick" in sys.argv))
