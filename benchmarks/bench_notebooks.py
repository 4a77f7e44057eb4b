"""How long every chapter takes to execute, and how long the whole book takes to build.

Each ``book/*.ipynb`` is executed with nbclient in a fresh kernel, in the same environment as
``make execute`` (CPU, 2 threads, no progress bars, passive OpenMP waiting), with ``book/`` as the
working directory. The executed copy goes to a temporary folder and is thrown away: the stored
notebooks are never rewritten. Reported per notebook: wall-clock seconds (kernel start
included) and the CPU seconds of the kernel process (user + system), which a busy machine
inflates much less than wall-clock time. Then the sum over chapters, and the time of
``jupyter-book build`` (stored outputs only, ``execute_notebooks: off``) into a temporary
output folder, so ``_build/`` is left alone.

    python benchmarks/bench_notebooks.py [--quick] [NOTEBOOK ...]

``--quick`` executes the first chapter only and skips the book build.
"""
from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
VENV_BIN = Path(sys.executable).parent

#: The environment of ``make execute`` (see the Makefile's RUN_ENV).
RUN_ENV = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "AELIB_DEVICE": "cpu",
    "AELIB_NUM_THREADS": "2",
    "AELIB_PROGRESS": "0",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "PYTHONHASHSEED": "0",
}


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute_notebook(path: Path, out_dir: Path, timeout: int = 600) -> dict:
    """Execute ``path`` into ``out_dir`` (never in place); return seconds and the kernel's CPU seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, **RUN_ENV}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    cpu_before, start = _children_cpu_seconds(), time.perf_counter()
    error = ""
    try:
        client.execute(env=env)
    except Exception as err:  # a failing chapter is reported, not fatal to the other measurements
        error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"[:160]
    seconds = time.perf_counter() - start
    # The kernel is a child process that has exited and been reaped by now: its CPU time counts.
    cpu = _children_cpu_seconds() - cpu_before
    nbformat.write(nb, out_dir / path.name)
    return {"seconds": seconds, "cpu_seconds": cpu, "error": error}


def build_book(out_dir: Path, timeout: int = 1800) -> dict:
    """``jupyter-book build`` as ``make book`` runs it, into ``out_dir``; seconds and return code."""
    command = [str(VENV_BIN / "jupyter-book"), "build", str(ROOT), "--warningiserror", "--keep-going",
               "--path-output", str(out_dir)]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **RUN_ENV})
    seconds = time.perf_counter() - start
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "WARNING" in line]
    first = re.sub(r"\x1b\[[0-9;]*m", "", lines[0]).split("WARNING:", 1)[-1].strip()[:120] if lines else ""
    return {"seconds": seconds, "returncode": proc.returncode, "warnings": len(lines), "first_warning": first}


def run(quick: bool = False, notebooks=None) -> list[dict]:
    paths = [Path(p) for p in notebooks] if notebooks else sorted(BOOK.glob("[0-9]*.ipynb"))
    if quick:
        paths = paths[:1]
    rows, total, total_cpu, failed = [], 0.0, 0.0, []
    with tempfile.TemporaryDirectory(prefix="aelib-bench-nb-") as tmp:
        for path in paths:
            result = execute_notebook(path, Path(tmp))
            total += result["seconds"]
            total_cpu += result["cpu_seconds"]
            note = f"{result['cpu_seconds']:.0f} CPU s (kernel)"
            if result["error"]:
                failed.append(path.name)
                note += f"; FAILED: {result['error']}"
            rows.append({"benchmark": "notebook execution", "metric": path.name, "value": result["seconds"],
                         "unit": "s", "note": note})
            print(f"  {path.name:<40} {result['seconds']:7.1f} s  {note}", flush=True)
        rows.append({"benchmark": "notebook execution", "metric": f"all {len(paths)} notebooks", "value": total,
                     "unit": "s", "note": f"{total_cpu:.0f} CPU s" + (f"; failed: {', '.join(failed)}" if failed else "")})
        if not quick:
            build = build_book(Path(tmp) / "book-build")
            status = "ok" if build["returncode"] == 0 else f"exit code {build['returncode']}"
            if build["first_warning"]:
                status += f" (first warning: {build['first_warning']})"
            rows.append({"benchmark": "notebook execution", "metric": "jupyter-book build (stored outputs)",
                         "value": build["seconds"], "unit": "s",
                         "note": f"{status}, {build['warnings']} warning line(s); fresh build, no execution"})
            rows.append({"benchmark": "notebook execution", "metric": "whole book: execute all + build",
                         "value": total + build["seconds"], "unit": "s", "note": "sum of the rows above"})
    return rows


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    for r in run(quick="--quick" in sys.argv, notebooks=args or None):
        print(f"{r['metric']:<42} {r['value']:>9.1f} {r['unit']:<3} {r['note']}")
