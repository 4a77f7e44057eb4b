"""Validation helpers shared by the public functions (messages name the argument and the fix)."""
from __future__ import annotations

import numbers

import numpy as np
import torch


def positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}, got {value}.")
    return int(value)


def int_sequence(name: str, values, allow_empty: bool = True) -> tuple[int, ...]:
    if isinstance(values, (numbers.Integral, np.integer)) and not isinstance(values, bool):
        values = (values,)
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of positive integers, got {values!r}.") from None
    if not values and not allow_empty:
        raise ValueError(f"{name} must not be empty.")
    return tuple(positive_int(f"{name}[{i}]", v) for i, v in enumerate(values))


def nonnegative_float(name: str, value, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number ≥ 0, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must lie in [0, {maximum}], got {value}.")
    return value


def positive_float(name: str, value) -> float:
    value = nonnegative_float(name, value)
    if value == 0:
        raise ValueError(f"{name} must be > 0, got 0.")
    return value


def probability(name: str, value) -> float:
    return nonnegative_float(name, value, maximum=1.0)


def as_data_tensor(name: str, x, width: int | None = None, allow_empty: bool = False,
                   allow_int: bool = False) -> torch.Tensor:
    """Check that ``x`` is a 2-D, finite, floating batch (one example per row) and return it.

    NumPy arrays are converted (float32); integer tensors are refused because images are
    expected scaled to floats (``allow_int=True`` converts them to float32 instead).
    """
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}.")
        x = torch.from_numpy(np.asarray(x, dtype=np.float32))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}.")
    if x.device.type == "meta":
        raise ValueError(f"{name} is a 'meta' tensor (a shape without data); create it on 'cpu' or a real device.")
    if allow_int and not torch.is_floating_point(x) and not x.is_complex() and x.dtype != torch.bool:
        x = x.float()
    if not torch.is_floating_point(x):
        raise TypeError(
            f"{name} has dtype {x.dtype}; pass floats (e.g. {name}.float() / 255 for raw pixels)."
        )
    if x.dim() != 2:
        raise ValueError(
            f"{name} must be 2-D (examples × features), got shape {tuple(x.shape)}; "
            f"flatten images with {name}.reshape(len({name}), -1)."
        )
    if x.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (0 rows); pass at least one example.")
    if width is not None and x.shape[1] != width:
        raise ValueError(
            f"{name} has {x.shape[1]} features per row but the model expects {width}; "
            "build the model with input_dim matching the data."
        )
    # One reduction finds any NaN or inf (they propagate through a sum) without allocating a mask;
    # only a non-finite sum (which finite values can also produce, by overflow) is looked into.
    if not torch.isfinite(x.sum()):
        bad = int((~torch.isfinite(x)).sum())
        if bad:
            raise ValueError(f"{name} contains {bad} NaN or infinite value(s); clean or impute them first.")
    return x
