import os
import random

import numpy as np
import pytest
import torch

from aelib import device as dev


def test_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("AELIB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert dev.pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.pick_device().type == "mps"
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert dev.pick_device().type == "cpu"


def test_environment_variable_forces_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("AELIB_DEVICE", "cpu")
    assert dev.pick_device() == torch.device("cpu")


def test_unavailable_or_unknown_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    monkeypatch.setenv("AELIB_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="AELIB_DEVICE.*CUDA is not available"):
        dev.pick_device()
    monkeypatch.delenv("AELIB_DEVICE")
    with pytest.raises(RuntimeError, match="mps"):
        dev.pick_device("mps")
    with pytest.raises(ValueError, match="not a device name"):
        dev.pick_device("gpu-please")


def test_scaled_picks_budget_by_device(monkeypatch):
    monkeypatch.delenv("AELIB_BUDGET", raising=False)
    assert dev.scaled(3, 30, "cpu") == 3
    assert dev.scaled(3, 30, torch.device("meta")) == 30


def test_budget_switch_overrides_the_device(monkeypatch):
    monkeypatch.setenv("AELIB_BUDGET", "gpu")
    assert dev.scaled(3, 30, "cpu") == 30
    monkeypatch.setenv("AELIB_BUDGET", "CPU")
    assert dev.scaled(3, 30, torch.device("meta")) == 3
    monkeypatch.setenv("AELIB_BUDGET", "big")
    with pytest.raises(ValueError, match="AELIB_BUDGET='big'.*'gpu'"):
        dev.scaled(3, 30, "cpu")


def test_seed_everything_makes_all_generators_repeat():
    dev.seed_everything(7, num_threads=1)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    dev.seed_everything(7, num_threads=1)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    assert torch.get_num_threads() == 1
    dev.seed_everything(0)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_seed_must_be_non_negative_int(seed):
    with pytest.raises(ValueError, match="seed"):
        dev.seed_everything(seed)


def test_thread_count_from_environment(monkeypatch):
    monkeypatch.setenv("AELIB_NUM_THREADS", "1")
    dev.seed_everything(0)
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("AELIB_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="AELIB_NUM_THREADS"):
        dev.seed_everything(0)


def test_thread_count_is_left_alone_unless_asked(monkeypatch):
    monkeypatch.delenv("AELIB_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        dev.seed_everything(0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_deterministic_sets_the_cuda_flags_and_checks_its_type():
    saved = (torch.backends.cudnn.deterministic, torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    try:
        dev.seed_everything(0, deterministic=True)
        assert torch.backends.cudnn.deterministic
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        with pytest.raises(TypeError, match="deterministic"):
            dev.seed_everything(0, deterministic="yes")
    finally:
        (torch.backends.cudnn.deterministic, torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = saved


def test_importing_aelib_changes_no_environment_variable():
    import subprocess
    import sys

    code = ("import os; before = dict(os.environ); import torch; n = torch.get_num_threads(); "
            "import aelib; assert dict(os.environ) == before, 'environment changed'; "
            "assert torch.get_num_threads() == n, 'thread count changed'")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
