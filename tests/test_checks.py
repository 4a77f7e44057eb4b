"""The shared validators of ``aelib._checks`` and the guard-share measure that counts them."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from aelib import _checks

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("kwargs, good, bad", [
    ({}, [-1e9, 0.0, 3], [math.inf, math.nan, "1", True, None]),
    ({"low": 0.0}, [0, 2.5, np.float32(1.0)], [-1e-9, math.inf]),
    ({"low": 0.0, "open_low": True}, [1e-12], [0.0, -1.0]),
    ({"low": 0.0, "high": 1.0, "open_high": True}, [0.0, 0.999], [1.0, 1.5]),
    ({"low": 0.0, "high": 1.0, "open_low": True, "open_high": True}, [0.5], [0.0, 1.0]),
])
def test_real_accepts_the_interval_and_names_it_when_refusing(kwargs, good, bad):
    for value in good:
        assert _checks.real("weight", value, **kwargs) == float(value)
    for value in bad:
        with pytest.raises(ValueError, match=r"^weight must be a finite number"):
            _checks.real("weight", value, **kwargs)


def test_real_messages_show_open_and_closed_ends():
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        _checks.real("rho", 1.0, 0.0, 1.0, open_low=True, open_high=True)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        _checks.real("forget", 1.0, 0.0, 1.0, open_high=True)
    with pytest.raises(ValueError, match=r"> 0"):
        _checks.positive_float("lr", 0.0)


def test_positive_int_bounds_and_types():
    assert _checks.positive_int("n", np.int64(3), maximum=3) == 3
    for value, pattern in [(4, r"in 1 … 3"), (0, r"in 1 … 3"), (2.0, "float"), (True, "bool")]:
        with pytest.raises(ValueError, match=pattern):
            _checks.positive_int("n", value, maximum=3)


def test_one_of_is_case_insensitive_for_strings_and_lists_the_options():
    assert _checks.one_of("method", "FISTA", ("greedy", "fista")) == "fista"
    assert _checks.one_of("p", 2, (1, 2)) == 2
    with pytest.raises(ValueError, match=r"method must be one of 'greedy', 'fista'; got 'lars'"):
        _checks.one_of("method", "lars", ("greedy", "fista"))


def test_instance_of_and_function_name_the_argument_and_allow_none_when_optional():
    gen = torch.Generator()
    assert _checks.instance_of("generator", gen, torch.Generator) is gen
    assert _checks.instance_of("generator", None, torch.Generator, optional=True) is None
    with pytest.raises(TypeError, match=r"generator must be a Generator or None, got int"):
        _checks.instance_of("generator", 3, torch.Generator, optional=True)
    with pytest.raises(TypeError, match=r"generator must be a Generator, got NoneType"):
        _checks.instance_of("generator", None, torch.Generator)
    assert _checks.callable_arg("penalty", None, "(model, x, z)", optional=True) is None
    with pytest.raises(TypeError, match=r"penalty must be a callable\(model, x, z\) or None, got int"):
        _checks.callable_arg("penalty", 3, "(model, x, z)", optional=True)


def test_shape_and_label_checks():
    x = torch.zeros(2, 3)
    assert _checks.same_shape("x", x, (2, 3)) is x
    with pytest.raises(ValueError, match=r"x must have shape \(2, 4\) = \(n, d\), got \(2, 3\)"):
        _checks.same_shape("x", x, (2, 4), " = (n, d)")
    assert _checks.image_dims([1, 2, 3]) == (1, 2, 3)
    with pytest.raises(ValueError, match="image_shape must be .channels, height, width."):
        _checks.image_dims((28, 28))
    with pytest.raises(ValueError, match=r"labels must hold one label per example \(3\)"):
        _checks.one_per_row("labels", np.zeros(2), 3)


def test_as_data_tensor_without_scan_skips_the_nan_search_and_accepts_meta_tensors():
    bad = torch.tensor([[float("nan"), 1.0]])
    with pytest.raises(ValueError, match="NaN"):
        _checks.as_data_tensor("x", bad)
    assert _checks.as_data_tensor("x", bad, scan=False) is bad
    meta = torch.empty(2, 3, device="meta")
    assert _checks.as_data_tensor("x", meta, width=3, scan=False) is meta
    with pytest.raises(ValueError, match="expects input_dim=4"):
        _checks.as_data_tensor("x", meta, width=4, scan=False)


def _code_measures():
    spec = importlib.util.spec_from_file_location("code_measures", ROOT / "benchmarks" / "code_measures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_code_measures_counts_a_validator_call_however_the_statement_is_written(tmp_path):
    (tmp_path / "_checks.py").write_text("def check(name, value):\n    return value\n")
    (tmp_path / "mod.py").write_text(
        "from ._checks import check\n"
        "\n"
        "\n"
        "def f(a, b, c):\n"
        "    a = check('a', a)\n"              # guard
        "    b, c = check('b', b), check('c', c)\n"  # guard
        "    if a:\n"                           # not a guard (its body does more than raise)
        "        a = a + 1\n"
        "    return g(check('c', c))\n"         # guard
    )
    module = _code_measures()
    result = module.measure_module(tmp_path / "mod.py", module._validators(tmp_path))
    assert (result["lines"], result["guards"]) == (6, 3)
