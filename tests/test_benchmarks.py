"""The benchmark machinery: table formatting, skipping and failing benchmarks, the time-budgeted
training of bench_ae_vs_pca and its one-SVD PCA errors. No timing is asserted (speed lives in
the benchmarks themselves)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from aelib import metrics
from aelib.models import MLPAutoencoder

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_test_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_all = _load("run_all")
ae_vs_pca = _load("bench_ae_vs_pca")


@pytest.mark.parametrize("value, text", [(1234.5, "1,234"), (123.4, "123"), (12.34, "12.3"), (1.234, "1.23"),
                                         (0.0, "0.00"), (1.2e-4, "1.20e-04"), (float("nan"), "–"), ("n/a", "n/a")])
def test_format_value(value, text):
    assert run_all.format_value(value) == text


def test_markdown_table_escapes_pipes_and_adds_a_column_for_several_benchmarks():
    rows = [{"benchmark": "a", "metric": "x|y", "value": 1.0, "unit": "s", "note": "n"},
            {"benchmark": "b", "metric": "z", "value": 2.0, "unit": "s", "note": "line\nbreak"}]
    table = run_all.markdown_table("Title", rows, 3.0).splitlines()
    assert table[0] == "**Title** (ran in 3 s)"
    assert table[2] == "| what | measurement | value | unit | note |"
    assert table[4] == "| a | x\\|y | 1.00 | s | n |"
    assert table[5] == "| b | z | 2.00 | s | line break |"
    single = run_all.markdown_table("T", rows[:1], 0.0).splitlines()
    assert single[2] == "| measurement | value | unit | note |"


def test_missing_and_failing_benchmarks_are_noted_not_fatal(tmp_path, monkeypatch):
    (tmp_path / "bench_ok.py").write_text(
        "def run(quick=False):\n    return [dict(benchmark='ok', metric='m', value=quick, unit='u', note='n')]\n")
    (tmp_path / "bench_broken.py").write_text("def run(quick=False):\n    raise RuntimeError('boom')\n")
    monkeypatch.setattr(run_all, "HERE", tmp_path)
    monkeypatch.setattr(run_all, "BENCHMARKS", [("missing", "bench_missing.py", "Missing one"),
                                                ("broken", "bench_broken.py", "Broken one"),
                                                ("ok", "bench_ok.py", "Working one")])
    out = tmp_path / "table.md"
    status = run_all.main(["--quick", "--output", str(out)])
    text = out.read_text()
    assert status == 1  # a failure is reported through the exit status ...
    assert "**Missing one**: skipped: benchmarks/bench_missing.py does not exist yet" in text
    assert "**Broken one**: FAILED: RuntimeError: boom" in text
    assert "| m | True | u | n |" in text  # ... and the others still ran, with quick passed on
    assert text.splitlines()[2].startswith("Machine: ") and " cores · torch " in text
    assert run_all.main(["--only", "ok", "--output", str(out)]) == 0
    assert "Missing one" not in out.read_text()
    monkeypatch.setattr(run_all, "DEFAULT_OUTPUT", tmp_path / "default.md")
    assert run_all.main(["--only", "ok"]) == 0
    assert run_all.main(["--quick"]) == 1
    assert not (tmp_path / "default.md").exists()  # a partial or quick run leaves the full table alone


def test_busy_machine_is_flagged_in_the_machine_line():
    assert "busy machine" in run_all.machine_line(5.0, 1.0, 2)
    assert "busy machine" not in run_all.machine_line(0.5, 1.0, 2)
    assert "2 threads" in run_all.machine_line(None, None, 2)


def test_pca_errors_from_one_svd_match_pca_reconstruction_error():
    gen = torch.Generator().manual_seed(0)
    x_train, x_test = torch.rand(60, 12, generator=gen), torch.rand(20, 12, generator=gen)
    errors = ae_vs_pca.pca_errors(x_train, x_test, (1, 3, 7))
    for k, error in errors.items():
        assert error == pytest.approx(metrics.pca_reconstruction_error(x_train, x_test, k), rel=1e-5)
    assert errors[1] > errors[3] > errors[7]


def test_cosine_schedule_runs_from_peak_to_zero():
    assert ae_vs_pca.cosine_lr(3e-3, 0.0) == pytest.approx(3e-3)
    assert ae_vs_pca.cosine_lr(3e-3, 0.5) == pytest.approx(1.5e-3)
    assert ae_vs_pca.cosine_lr(3e-3, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert ae_vs_pca.cosine_lr(3e-3, 2.0) == pytest.approx(0.0, abs=1e-12)


def test_train_within_stops_at_the_budget_and_decays_the_rate_in_time():
    """A fake clock that advances 0.1 s per mini-batch (10 batches: 1 s an epoch): a 3.5 s budget
    runs 3 epochs (a 4th would end at 4 s), and the rate follows the cosine of the time spent."""
    now = [0.0]

    def clock():
        return now[0]

    model = MLPAutoencoder(16, (8,), 2)
    model.encoder.register_forward_pre_hook(lambda m, args: now.__setitem__(0, now[0] + 0.1))
    before = [p.detach().clone() for p in model.parameters()]
    result = ae_vs_pca.train_within(model, torch.rand(1280, 16), 3.5, clock=clock)
    assert result["epochs"] == 3 and result["seconds"] == pytest.approx(3.0)
    peak = ae_vs_pca.RECIPE["lr"]
    # The rate at the start of each epoch was set from the clock after the previous epoch's last batch.
    assert result["lr"] == pytest.approx([ae_vs_pca.cosine_lr(peak, t / 3.5) for t in (0, 1, 2)])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    now[0] = 0.0
    assert ae_vs_pca.train_within(MLPAutoencoder(16, (8,), 2), torch.rand(320, 16), 0.0,
                                  clock=clock)["epochs"] == 1  # always at least one epoch


def test_mixed_precision_is_measured_and_passed_through(monkeypatch):
    """The speed-up is a ratio of measured step times, and train_within hands the choice to fit."""
    speedup = ae_vs_pca.mixed_precision_speedup(torch.rand(256, 784), n_batches=2, rounds=1)
    assert 0.05 < speedup < 20
    seen = []
    real_fit = ae_vs_pca.fit

    def recording_fit(model, x, **kwargs):
        seen.append(kwargs["mixed_precision"])
        return real_fit(model, x, **kwargs)

    monkeypatch.setattr(ae_vs_pca, "fit", recording_fit)
    ae_vs_pca.train_within(MLPAutoencoder(16, (8,), 2), torch.rand(32, 16), 0.0, mixed_precision=True)
    assert seen == [True]


def test_notebook_benchmark_never_writes_the_stored_notebooks():
    source = (BENCH / "bench_notebooks.py").read_text()
    assert "TemporaryDirectory" in source and "--path-output" in source
    bench = _load("bench_notebooks")
    assert bench.RUN_ENV["AELIB_DEVICE"] == "cpu" and bench.RUN_ENV["AELIB_NUM_THREADS"] == "2"
    makefile = (BENCH.parent / "Makefile").read_text()
    for key, value in bench.RUN_ENV.items():  # the same environment as `make execute`
        assert f"{key}={value}" in makefile


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
