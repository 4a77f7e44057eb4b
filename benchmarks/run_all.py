"""Run every benchmark on this machine and write the appendix table (``make bench``).

Each ``benchmarks/bench_<name>.py`` has ``run(quick=False) -> list of rows`` with the keys
``benchmark, metric, value, unit, note``. This script runs them one after another in one
process, prints each table as it is done, and writes all of them, under a line describing the
machine (CPU model, cores, torch version, threads, date, load average), to
``book/_benchmarks_table.md``, which the appendix *How fast, how good* includes. A benchmark
whose script does not exist yet, or that fails, gets a note in the table instead of stopping
the others (the exit status is then 1).

    python benchmarks/run_all.py [--quick] [--only NAME[,NAME...]] [--output PATH | --no-write]

With ``--only`` or ``--quick`` nothing is written unless ``--output`` is given, so that a partial
or quick run does not replace the full table.

Names: ae_vs_pca, fit, sparse, contractive, vae, notebooks.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported by any benchmark

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUTPUT = ROOT / "book" / "_benchmarks_table.md"

#: (name for --only, script, title in the table), in the order they run.
BENCHMARKS = [
    ("ae_vs_pca", "bench_ae_vs_pca.py", "Deep autoencoder vs PCA (Fashion-MNIST test, error per image)"),
    ("fit", "bench_fit.py", "fit vs a hand-written loop, and the matmul peak"),
    ("sparse", "bench_sparse.py", "Sparse coding vs scikit-learn at equal objective"),
    ("contractive", "bench_contractive.py", "Cost of the contractive penalty per method"),
    ("vae", "bench_vae.py", "VAE vs the pytorch/examples recipe"),
    ("retrain", "bench_retrain.py", "Live retraining under the sliders: seconds and error against the sweep's curve"),
    ("notebooks", "bench_notebooks.py", "Execution time of the chapters and of the book"),
]
#: A load average above this (on this many cores) makes timings unreliable; the table says so.
BUSY_LOAD = 3.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


def machine_line(load_start, load_end, threads: int) -> str:
    import torch

    import aelib

    loads = [x for x in (load_start, load_end) if x is not None]
    line = (f"Machine: {cpu_model()}, {os.cpu_count()} cores · torch {torch.__version__} · "
            f"{threads} threads (AELIB_NUM_THREADS) · aelib {aelib.__version__} · Python {platform.python_version()} · "
            f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    if loads:
        line += f" · load average {load_start:.1f} at start, {load_end:.1f} at end"
        if max(loads) > BUSY_LOAD:
            line += (f" — **busy machine** (load > {BUSY_LOAD:g}): other processes competed for the cores, "
                     "so wall-clock times are inflated; CPU seconds are more reliable")
    return line + "."


def load_benchmark(script: str):
    """The module of ``benchmarks/<script>``, or None when the file does not exist."""
    path = HERE / script
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"aelib_bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def format_value(value) -> str:
    if isinstance(value, bool):
        return str(value)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value != value:  # NaN
        return "–"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01 or value == 0:
        return f"{value:.2f}"
    return f"{value:.2e}"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def markdown_table(title: str, rows: list[dict], seconds: float) -> str:
    """One table per script; a "what" column when its rows belong to several benchmarks."""
    several = len({r.get("benchmark") for r in rows}) > 1
    head = ["what"] * several + ["measurement", "value", "unit", "note"]
    align = [":--"] * several + [":--", "--:", ":--", ":--"]
    lines = [f"**{_cell(title)}** (ran in {seconds:.0f} s)", "", "| " + " | ".join(head) + " |",
             "|" + "|".join(align) + "|"]
    for r in rows:
        cells = [_cell(r.get("benchmark", ""))] * several + [
            _cell(r.get("metric", "")), format_value(r.get("value")), _cell(r.get("unit", "")), _cell(r.get("note", ""))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_one(name: str, script: str, quick: bool) -> tuple[list[dict], float, str | None]:
    """Rows, seconds, and None or the reason the benchmark produced no measurements."""
    start = time.perf_counter()
    module = load_benchmark(script)
    if module is None:
        return [], 0.0, f"skipped: benchmarks/{script} does not exist yet"
    if not callable(getattr(module, "run", None)):
        return [], 0.0, f"skipped: benchmarks/{script} has no run(quick) function"
    import aelib

    aelib.seed_everything(0)  # every benchmark starts from the same seed and thread count
    try:
        rows = list(module.run(quick=quick))
    except Exception as err:  # one broken benchmark must not hide the others
        traceback.print_exc()
        return [], time.perf_counter() - start, f"FAILED: {type(err).__name__}: {err}"[:300]
    return rows, time.perf_counter() - start, None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (< ~1 min each) to check the machinery")
    parser.add_argument("--only", action="append", default=[],
                        help=f"run only these (comma-separated or repeated): {', '.join(n for n, _, _ in BENCHMARKS)}")
    parser.add_argument("--output", type=Path, default=None,
                        help="markdown file to write (default book/_benchmarks_table.md, "
                             "unless --only is given: a partial run does not replace the full table)")
    parser.add_argument("--no-write", action="store_true", help="print the tables but write no file")
    args = parser.parse_args(argv)

    known = {name for name, _, _ in BENCHMARKS}
    only = {n.strip() for item in args.only for n in item.split(",") if n.strip()}
    if only - known:
        parser.error(f"unknown benchmark(s) {sorted(only - known)}; choose from {sorted(known)}")
    selected = [b for b in BENCHMARKS if not only or b[0] in only]

    import torch

    import aelib

    aelib.seed_everything(0)
    threads = torch.get_num_threads()
    load_start = load_average()
    sections, problems = [], []
    for name, script, title in selected:
        print(f"== {name}: {title}", flush=True)
        rows, seconds, problem = run_one(name, script, args.quick)
        if problem:
            problems.append(problem)
            print(f"   {problem}", flush=True)
            sections.append(f"**{_cell(title)}**: {_cell(problem)}")
            continue
        table = markdown_table(title, rows, seconds)
        print(table + "\n", flush=True)
        sections.append(table)
    load_end = load_average()

    header = machine_line(load_start, load_end, threads)
    mode = " Quick mode (`--quick`): short runs that check the machinery, not the numbers to quote." if args.quick else ""
    document = "\n\n".join(
        ["<!-- Generated by `make bench` (benchmarks/run_all.py); do not edit by hand. -->", header + mode, *sections]
    ) + "\n"
    print(header + mode)
    output = args.output or (None if only or args.quick else DEFAULT_OUTPUT)
    if args.no_write or output is None:
        print("no file written" + (" (--only: pass --output PATH to write the partial table)" if only else ""))
    else:
        output.write_text(document, encoding="utf-8")
        print(f"wrote {output}")
    failed = [p for p in problems if p.startswith("FAILED")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
