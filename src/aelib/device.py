"""Where computations run, and how to make them repeatable.

See the preface, section *Running the book*: every chapter calls :func:`pick_device`
once and :func:`seed_everything` before it builds a model.
"""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

from ._checks import instance_of, positive_int

__all__ = ["pick_device", "seed_everything", "seeded", "scaled", "describe_device"]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU.

    Parameters
    ----------
    prefer : str or torch.device, optional
        Force a device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``). When omitted, the
        environment variable ``AELIB_DEVICE`` is consulted, then the hardware.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the requested name is not a device torch knows.
    RuntimeError
        If the requested device is not available on this machine.

    Examples
    --------
    >>> pick_device("cpu")
    device(type='cpu')
    """
    source = "argument prefer"
    if prefer is None and os.environ.get("AELIB_DEVICE", "").strip():
        prefer, source = os.environ["AELIB_DEVICE"].strip(), "environment variable AELIB_DEVICE"
    if prefer is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = _as_device(prefer, source)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"{source} asks for {prefer!r} but CUDA is not available here; unset it or use 'cpu'.")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(f"{source} asks for {prefer!r} but only {torch.cuda.device_count()} CUDA "
                               "device(s) exist.")
    elif device.type == "mps" and not _mps_available():
        raise RuntimeError(f"{source} asks for 'mps' but Apple's MPS backend is not available; use 'cpu'.")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{source}={prefer!r}: aelib supports 'cpu', 'cuda' and 'mps' only.")
    return device


def _as_device(device, source: str = "device") -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{source}={device!r} is not a device name; use 'cpu', 'cuda', 'cuda:N' or 'mps'.") from err


def _float64(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float64 for an accurate SVD or sum, on the CPU if its device has no float64 (MPS)."""
    return x.detach().cpu().double() if x.device.type == "mps" else x.double()


def scaled(cpu, accelerated, device: torch.device | str | None = None):
    """Pick a training budget: ``cpu`` on the CPU, ``accelerated`` on CUDA/MPS.

    The chapters use this to train longer, on more data, when a GPU is present while keeping
    each notebook under a minute on a two-core laptop. The environment variable
    ``AELIB_BUDGET`` overrides the choice: ``gpu`` picks ``accelerated`` on any device (so the
    large budget can be checked on a CPU), ``cpu`` picks ``cpu`` on any device.

    >>> scaled(5, 50, "cpu")
    5
    """
    budget = os.environ.get("AELIB_BUDGET", "").strip().lower()
    if budget == "gpu":
        return accelerated
    if budget == "cpu":
        return cpu
    if budget:
        raise ValueError(f"environment variable AELIB_BUDGET={budget!r}: use 'cpu', 'gpu' or leave it unset.")
    device = pick_device() if device is None else _as_device(device)
    return cpu if device.type == "cpu" else accelerated


def describe_device(device: torch.device | str | None = None) -> str:
    """A one-line human description of ``device`` (e.g. ``"cpu (2 threads)"``)."""
    device = pick_device() if device is None else _as_device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def seed_everything(seed: int = 0, num_threads: int | None = None, *,
                    deterministic: bool = False) -> int:
    """Seed Python, NumPy and torch; fix torch's CPU thread count when asked.

    This is the one aelib function whose *purpose* is to set process-wide state; no other aelib
    call changes the global RNG, the thread count or a backend flag.

    Parameters
    ----------
    seed : int
        Non-negative integer seed.
    num_threads : int, optional
        CPU threads for torch. When omitted, ``AELIB_NUM_THREADS`` is used if set, and otherwise
        the thread count is left as it is. Floating-point sums depend on how work is split
        between threads, so results are bit-identical only at a fixed count: the Makefile runs
        the notebooks with ``AELIB_NUM_THREADS=2``.
    deterministic : bool
        Also ask CUDA for repeatable results: cuDNN picks deterministic convolution algorithms
        and TF32 is switched off for matrix products and convolutions. By default aelib keeps
        torch's defaults (``cudnn.benchmark`` off, TF32 off for matrix products but on for cuDNN
        convolutions), under which an MLP repeats on one GPU but a convolutional autoencoder may
        differ in its last digits from run to run.

    Returns
    -------
    int
        The seed, for logging.
    """
    seed = positive_int("seed", seed, minimum=0)
    if num_threads is None:
        env = os.environ.get("AELIB_NUM_THREADS", "").strip()
        try:
            num_threads = int(env) if env else None
        except ValueError:
            raise ValueError(f"environment variable AELIB_NUM_THREADS={env!r} is not an integer.") from None
    if num_threads is not None:
        num_threads = positive_int("num_threads", num_threads)
    instance_of("deterministic", deterministic, bool, "True or False")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return seed


@contextlib.contextmanager
def seeded(seed: int | None):
    """Draw from torch's global RNG seeded with ``seed`` inside the block, and restore the
    caller's RNG state (CPU and CUDA) afterwards. ``None`` leaves the global RNG as it is.

    Used to initialise weights reproducibly without disturbing anything else:

    >>> with seeded(0):
    ...     a = torch.rand(2)
    >>> with seeded(0):
    ...     b = torch.rand(2)
    >>> bool(torch.equal(a, b))
    True
    """
    if seed is None:
        yield
        return
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield
