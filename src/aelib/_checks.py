"""Validators shared by the public functions.

Each checks one kind of argument and returns it converted (an ``int``, a ``float``, a tensor),
or raises with a message that names the argument and says what to pass instead. Public
functions call them once, at their entry; the private functions they call trust their input.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch


def _is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)


def positive_int(name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer in ``minimum … maximum`` (bools are refused: ``True`` is not a size)."""
    if not _is_int(value) or value < minimum or (maximum is not None and value > maximum):
        limits = f"≥ {minimum}" if maximum is None else f"in {minimum} … {maximum}"
        raise ValueError(f"{name} must be an integer {limits}, got {value!r} ({type(value).__name__}).")
    return int(value)


def int_sequence(name: str, values, allow_empty: bool = True) -> tuple[int, ...]:
    """A tuple of positive integers (a single integer counts as a sequence of one)."""
    if _is_int(values):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive integers, got {values!r}.") from None
    if not values and not allow_empty:
        raise ValueError(f"{name} must not be empty.")
    return tuple(positive_int(f"{name}[{i}]", v) for i, v in enumerate(values))


def image_dims(value, name: str = "image_shape") -> tuple[int, int, int]:
    """``(channels, height, width)``, three positive integers."""
    shape = int_sequence(name, value)
    if len(shape) != 3:
        raise ValueError(f"{name} must be (channels, height, width) of positive ints, got {value!r}.")
    return shape


def real(name: str, value, low: float = -math.inf, high: float = math.inf, *,
         open_low: bool = False, open_high: bool = False) -> float:
    """A finite number between ``low`` and ``high`` (each end included unless it is open)."""
    number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    inside = (low < number if open_low else low <= number) and (number < high if open_high else number <= high)
    if not (math.isfinite(number) and inside):
        if math.isinf(high):
            limits = "" if math.isinf(low) else f" {'>' if open_low else '≥'} {low:g}"
        else:
            limits = f" in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
        raise ValueError(f"{name} must be a finite number{limits}, got {value!r}.")
    return number


def nonnegative_float(name: str, value, maximum: float | None = None) -> float:
    return real(name, value, 0.0, math.inf if maximum is None else maximum)


def positive_float(name: str, value) -> float:
    return real(name, value, 0.0, open_low=True)


def probability(name: str, value) -> float:
    return real(name, value, 0.0, 1.0)


def one_of(name: str, value, options):
    """One of ``options``; a string is compared in lower case (``"FISTA"`` is ``"fista"``)."""
    key = value.lower() if isinstance(value, str) else value
    if key not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}.")
    return key


def interval(name: str, value, optional: bool = False):
    """``(low, high)`` from a pair with ``low ≤ high`` (or ``None`` when ``optional``)."""
    if optional and value is None:
        return None
    try:
        low, high = value
        ordered = bool(low <= high)
    except (TypeError, ValueError):  # not a pair, or ends that cannot be compared
        ordered = False
    if not ordered:
        raise ValueError(f"{name} must be a pair (low, high) with low ≤ high, got {value!r}.")
    return low, high


def instance_of(name: str, value, kind, description: str | None = None, optional: bool = False):
    """``value`` itself, if it is a ``kind`` (or ``None`` when ``optional``)."""
    if not (isinstance(value, kind) or (optional and value is None)):
        wanted = (description or f"a {kind.__qualname__}") + (" or None" if optional else "")
        raise TypeError(f"{name} must be {wanted}, got {type(value).__name__}.")
    return value


def callable_arg(name: str, value, signature: str, optional: bool = False):
    """``value`` itself, if it can be called (or is ``None`` when ``optional``)."""
    if not (callable(value) or (optional and value is None)):
        raise TypeError(f"{name} must be a callable{signature}{' or None' if optional else ''}, "
                        f"got {type(value).__name__}.")
    return value


def same_shape(name: str, value: torch.Tensor, shape, meaning: str = "") -> torch.Tensor:
    """``value``, if its shape is ``shape`` (``meaning`` names the dimensions in the message)."""
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}{meaning}, got {tuple(value.shape)}.")
    return value


def one_per_row(name: str, y, n: int):
    """``y`` itself, if it is 1-D with one entry (a label) for each of ``n`` examples."""
    if np.ndim(y) != 1 or len(y) != n:
        raise ValueError(f"{name} must hold one label per example ({n}), got shape {np.shape(y)}.")
    return y


def as_data_tensor(name: str, x, width: int | None = None, allow_empty: bool = False,
                   allow_int: bool = False, scan: bool = True) -> torch.Tensor:
    """Check that ``x`` is a 2-D, finite, floating batch (one example per row) and return it.

    NumPy arrays are converted (float32); integer tensors are refused because images are
    expected scaled to floats (``allow_int=True`` converts them to float32 instead).
    ``scan=False`` skips the NaN/inf scan, which waits for the device: for functions that run
    on every mini-batch (and then also accepts shape-only 'meta' tensors).
    """
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}.")
        x = torch.from_numpy(np.asarray(x, dtype=np.float32))
    instance_of(name, x, torch.Tensor, "a torch.Tensor or numpy array")
    if x.device.type == "meta" and scan:
        raise ValueError(f"{name} is a 'meta' tensor (a shape without data); create it on 'cpu' or a real device.")
    if allow_int and not torch.is_floating_point(x) and not x.is_complex() and x.dtype != torch.bool:
        x = x.float()
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} has dtype {x.dtype}; pass floats (e.g. {name}.float() / 255 for raw pixels).")
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D (examples × features), got shape {tuple(x.shape)}; "
                         f"flatten images with {name}.reshape(len({name}), -1).")
    if x.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (0 rows); pass at least one example.")
    if width is not None and x.shape[1] != width:
        raise ValueError(f"{name} has {x.shape[1]} features per row but the model expects input_dim={width}; "
                         "build the model with input_dim matching the data.")
    # One reduction finds any NaN or inf (they propagate through a sum) without allocating a mask;
    # only a non-finite sum (which finite values can also produce, by overflow) is looked into.
    if scan and not torch.isfinite(x.sum()):
        bad = int((~torch.isfinite(x)).sum())
        if bad:
            raise ValueError(f"{name} contains {bad} NaN or infinite value(s); clean or impute them first.")
    return x
