"""Run a chapter the way a reader outside this repository would: in Colab, and on Binder.

    python tests/anywhere/check_anywhere.py [--colab] [--binder] [--keep DIR]

* **Colab-like.** A fresh virtual environment with torch and the scientific stack but no
  ``aelib``; chapter 1 copied *alone* into an empty folder and run top to bottom with
  ``AELIB_PIP_SPEC`` pointing at this checkout, so the notebook's first cell must install
  ``aelib`` itself. Then the same notebook runs again with ``AELIB_PIP_SPEC`` pointing at a path
  that does not exist: with ``aelib`` installed, the first cell must do nothing.
* **Binder-like.** A fresh virtual environment from exactly ``binder/requirements.txt`` (this
  machine's local torch wheel stands in for PyTorch's CPU index, which CI cannot reach); a
  chapter copied alone into an empty folder runs top to bottom.

Both use the notebook environment of ``make execute`` (CPU, two threads, no progress bars).
Prints one line per check with its seconds; exits 1 if any failed.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TORCH = "torch==2.13.0"  # the CPU build on this machine's local wheel folder (see requirements.txt)
COLAB_STACK = [TORCH, "numpy", "scipy", "scikit-learn", "matplotlib", "pillow", "tqdm", "pooch",
               "ipywidgets", "ipykernel", "nbclient", "nbformat"]
NOTEBOOK_ENV = {"AELIB_DEVICE": "cpu", "AELIB_NUM_THREADS": "2", "AELIB_PROGRESS": "0",
                "MPLBACKEND": "module://matplotlib_inline.backend_inline", "OMP_WAIT_POLICY": "PASSIVE"}


def _venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    return python


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", *args], check=True)


def _run_notebook(python: Path, notebook: Path, workdir: Path, extra_env: dict) -> float:
    """Execute ``notebook`` copied alone into ``workdir`` with the venv's own kernel; seconds."""
    target = workdir / notebook.name
    shutil.copy(notebook, target)
    env = {**os.environ, **NOTEBOOK_ENV, **extra_env}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    code = (
        "import sys, nbformat\n"
        "from nbclient import NotebookClient\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "NotebookClient(nb, timeout=900, kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}}"
        ").execute()\n"
    )
    start = time.perf_counter()
    subprocess.run([str(python), "-c", code, str(target), str(workdir)], check=True, env=env, cwd=workdir)
    return time.perf_counter() - start


def _install_kernel(python: Path) -> None:
    subprocess.run([str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
                   check=True, stdout=subprocess.DEVNULL)


def check_colab(tmp: Path) -> str:
    python = _venv(tmp / "colab-venv")
    _pip(python, *COLAB_STACK)
    _install_kernel(python)
    probe = subprocess.run([str(python), "-c", "import aelib"], capture_output=True)
    assert probe.returncode != 0, "the Colab-like environment must start without aelib"
    notebook = ROOT / "book" / "01_autoencoders.ipynb"
    work = tmp / "colab-work"
    work.mkdir()
    first = _run_notebook(python, notebook, work, {"AELIB_PIP_SPEC": str(ROOT)})
    # aelib is installed now: the first cell must not try again (this spec would fail if it did).
    second = _run_notebook(python, notebook, work, {"AELIB_PIP_SPEC": str(tmp / "no-such-package")})
    version = subprocess.run([str(python), "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version.startswith("2.13.0"), f"the install cell changed torch: {version}"
    return f"colab-like: chapter 1 installed aelib and ran in {first:.0f} s; again with aelib present in {second:.0f} s"


def binder_requirements_here() -> list[str]:
    """binder/requirements.txt with this machine's local torch wheel for PyTorch's CPU index."""
    lines = []
    for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("--extra-index-url"):
            continue
        if re.match(r"torch\b", line):
            line = TORCH
        lines.append(str(ROOT) if line == "." else line)
    return lines


def check_binder(tmp: Path) -> str:
    python = _venv(tmp / "binder-venv")
    _pip(python, *binder_requirements_here())
    _pip(python, "nbclient", "nbformat")  # the runner of this check; Binder's JupyterLab brings its own
    _install_kernel(python)
    for absent in ("jupyter_book", "playwright", "pytest"):
        found = subprocess.run([str(python), "-c", f"import {absent}"], capture_output=True).returncode == 0
        assert not found, f"binder/requirements.txt must not install {absent}"
    work = tmp / "binder-work"
    work.mkdir()
    seconds = _run_notebook(python, ROOT / "book" / "02_undercomplete_overcomplete.ipynb", work, {})
    return f"binder-like: chapter 2 ran in {seconds:.0f} s from binder/requirements.txt"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--colab", action="store_true")
    parser.add_argument("--binder", action="store_true")
    parser.add_argument("--keep", type=Path, help="build the environments here and keep them")
    args = parser.parse_args(argv)
    checks = [c for c, on in ((check_colab, args.colab), (check_binder, args.binder)) if on] \
        or [check_colab, check_binder]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="aelib-anywhere-") as scratch:
        base = args.keep or Path(scratch)
        base.mkdir(parents=True, exist_ok=True)
        for check in checks:
            start = time.perf_counter()
            try:
                print(check(base), f"({time.perf_counter() - start:.0f} s with the install)", flush=True)
            except (AssertionError, subprocess.CalledProcessError) as err:
                failed += 1
                print(f"FAILED {check.__name__}: {err}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
