"""Run the notebooks under nbval several times in a row: every run must pass.

The stored outputs are the reference nbval compares against; a chapter whose printed numbers
depend on anything but its seeds (thread count, time, leftover state, files a previous run
wrote) passes once and then fails. Running nbval ``--repeat`` times in a row (default 3) in
fresh kernels, with the environment of ``make nbval``, catches that.

    python benchmarks/nbval_repeat.py [--repeat N] [NOTEBOOK ...]    (default: every book/*.ipynb)

Prints one line per run and exits with 1 if any run failed. It does not use the Makefile.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {"OMP_WAIT_POLICY": "PASSIVE", "AELIB_DEVICE": "cpu", "AELIB_NUM_THREADS": "2", "AELIB_PROGRESS": "0",
       "MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0"}


def nbval_once(notebooks: list[str]) -> tuple[int, float, str]:
    command = [sys.executable, "-m", "pytest", "-q", "--nbval", "--nbval-current-env", "--nbval-sanitize-with",
               ".ci/nbval_sanitize.cfg", "-p", "no:cacheprovider", *notebooks]
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env={**os.environ, **ENV}, capture_output=True, text=True)
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    return proc.returncode, time.perf_counter() - start, summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="default: every book/*.ipynb")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    notebooks = args.notebooks or [str(p.relative_to(ROOT)) for p in sorted((ROOT / "book").glob("*.ipynb"))]
    failures = 0
    for run in range(1, args.repeat + 1):
        code, seconds, summary = nbval_once(notebooks)
        failures += code != 0
        print(f"run {run}/{args.repeat}: {'pass' if code == 0 else 'FAIL'} in {seconds:.0f} s — {summary}", flush=True)
    print(f"{args.repeat - failures} of {args.repeat} runs passed ({', '.join(notebooks)})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
