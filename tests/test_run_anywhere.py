"""Fast checks of what lets a reader run the book outside this repository (the slow, end-to-end
runs are tests/anywhere/check_anywhere.py, run by `make anywhere`)."""
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("install_cell", ROOT / "tests" / "anywhere" / "install_cell.py")
install_cell = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install_cell)
NOTEBOOKS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_installs_aelib_from_the_configured_repository(path):
    cells = json.loads(path.read_text())["cells"]
    first = next(c for c in cells if c["cell_type"] == "code")
    source = "".join(first["source"])
    assert source == install_cell.cell_source(), "run: python tests/anywhere/install_cell.py " + str(path)
    assert f"git+{install_cell.repository_url()}" in source
    assert install_cell.TAG in first["metadata"].get("tags", [])


def test_the_install_cell_does_nothing_where_aelib_is_installed(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # the cell's setdefault must not leak
    calls = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: calls.append(a))
    exec(install_cell.cell_source(), {})
    assert calls == []


def test_the_install_cell_installs_from_the_override(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    calls = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: calls.append(a[0]))
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    monkeypatch.setenv("AELIB_PIP_SPEC", "/some/checkout")
    exec(install_cell.cell_source(), {})
    assert calls and calls[0][-1] == "/some/checkout" and "pip" in calls[0]


def test_binder_requirements_hold_what_a_reader_needs_and_nothing_else():
    lines = [line.split("#")[0].strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    names = {re.split(r"[<>=!\[ ]", line)[0].lower() for line in lines if line and not line.startswith("-")}
    assert {"torch", "jupyterlab", "jupyterlab-myst", "ipywidgets", "."} <= names
    assert not names & {"jupyter-book", "playwright", "pytest", "nbval"}
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
