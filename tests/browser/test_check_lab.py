"""The pure helpers of check_lab.py (the live JupyterLab check itself runs in make lab-check)."""
import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_lab  # noqa: E402


@pytest.mark.parametrize("values, expected", [
    (["1", "4"], "2"),            # whole numbers: the rounded geometric mean
    (["2", "5"], "3"),
    (["0.25", "1"], "0.5"),
    (["0", "0.1"], "0.05"),       # 0 has no geometric mean: the midpoint
])
def test_off_slider_value_lies_strictly_between(values, expected):
    assert check_lab.off_slider_value(values) == expected
    assert float(values[0]) < float(expected) < float(values[1])


def test_off_slider_value_refuses_neighbouring_whole_numbers():
    with pytest.raises(ValueError, match="no whole number"):
        check_lab.off_slider_value(["1", "2"])


def test_parse_status_reads_seconds_and_ratio():
    text = ("Retrained at β = 2.0 in 1.4 s: reconstruction loss 297, "
            "the sweep's curve there 298 (ratio 1.00)")
    assert check_lab.parse_status(text) == (1.4, 1.0)
    assert check_lab.parse_status("Training at β = 2.0: epoch 3 of 8 (0.5 s) …") == (None, None)


def test_myst_compatible_needs_enabled_and_ok():
    good = "        jupyterlab-myst v2.7.0 enabled OK (python, jupyterlab_myst)"
    bad = ('        jupyterlab-myst v2.7.0 enabled  X (python, jupyterlab_myst)\n'
           '"jupyterlab-myst@2.7.0" is not compatible with the current JupyterLab')
    assert check_lab.myst_compatible(good)
    assert not check_lab.myst_compatible(bad)
    assert not check_lab.myst_compatible("@jupyter-widgets/jupyterlab-manager v5.0.16 enabled OK")


def test_free_port_can_be_bound():
    port = check_lab.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
