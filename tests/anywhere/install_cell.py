"""The first code cell of every chapter: it installs ``aelib`` where it is missing (Colab, a
fresh machine) and does nothing where it is present. The HTML page hides it (tag
``remove-cell``); the downloadable notebook keeps it.

    python tests/anywhere/install_cell.py book/*.ipynb   # insert or refresh the cell

``tests/test_run_anywhere.py`` checks that every chapter carries exactly this cell and that its
package source is the repository ``_config.yml`` names.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
TAG = "remove-cell"
MARKER = "# Runs anywhere:"


def repository_url() -> str:
    import yaml

    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def cell_source(url: str | None = None) -> str:
    url = url or repository_url()
    return f'''{MARKER} installs aelib where this Python lacks it (Colab, a fresh machine)
# and does nothing where it is installed. AELIB_PIP_SPEC overrides the source.
import importlib.util
import os
import subprocess
import sys

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: idle threads sleep
if importlib.util.find_spec("aelib") is None:
    source = os.environ.get("AELIB_PIP_SPEC") or (
        "git+{url}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", source], check=True)
    importlib.invalidate_caches()'''


def apply(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    cell = nbformat.v4.new_code_cell(cell_source(), metadata={"tags": [TAG]})
    existing = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith(MARKER)]
    if existing:
        cell["id"] = nb.cells[existing[0]].get("id", cell.get("id"))
        nb.cells[existing[0]] = cell
    else:
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        nb.cells.insert(first_code, cell)
    nbformat.write(nb, path)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        apply(Path(name))
