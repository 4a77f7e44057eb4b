import os

import pytest

os.environ.setdefault("AELIB_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _seed_and_threads():
    import aelib

    aelib.seed_everything(0)
    yield
