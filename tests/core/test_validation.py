"""The one validator module: values pass through, bad ones name owner, argument and value."""

from __future__ import annotations

import numpy as np
import pytest

from bprop.core.validation import (
    check_in_range,
    check_interval,
    check_positive,
    check_sample_weight,
    check_targets,
    is_int,
    positive_int,
)


def test_check_positive():
    assert check_positive("gd", "learning_rate", 1) == 1.0
    assert check_positive("gd", "x", 0, allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=r"^gd: learning_rate must be finite and > 0, got 0$"):
        check_positive("gd", "learning_rate", 0)
    with pytest.raises(ValueError, match=r"^x must be finite and >= 0, got inf$"):
        check_positive(None, "x", float("inf"), allow_zero=True)
    with pytest.raises(ValueError, match="gd: x must be a number, got 'a'"):
        check_positive("gd", "x", "a")
    with pytest.raises(ValueError, match="must be a number, got True"):
        check_positive("gd", "x", True)


def test_check_in_range():
    assert check_in_range("m", "momentum", 0.0, 0.0, 1.0) == 0.0
    with pytest.raises(ValueError, match=r"m: momentum must be in \[0.0, 1.0\), got 1.0"):
        check_in_range("m", "momentum", 1.0, 0.0, 1.0)
    assert check_in_range("s", "drop", 1.0, 0.0, 1.0, open_low=True, closed_high=True) == 1.0
    with pytest.raises(ValueError, match=r"s: drop must be in \(0.0, 1.0\], got 0.0"):
        check_in_range("s", "drop", 0.0, 0.0, 1.0, open_low=True, closed_high=True)


def test_check_interval_is_scikit_learns_form():
    assert check_interval("tol", 0.5, low=0.0) == 0.5
    for bad in (np.nan, True, "1", -1.0):
        with pytest.raises(ValueError, match=r"tol must be a number in \[0.0, inf\]"):
            check_interval("tol", bad, low=0.0)
    with pytest.raises(ValueError, match=r"beta_1 must be a number in \[0.0, 1.0\), got 1.0"):
        check_interval("beta_1", 1.0, low=0.0, high=1.0, open_high=True)


def test_positive_int():
    assert positive_int(None, "n", np.int64(3)) == 3 and type(positive_int(None, "n", 3)) is int
    assert positive_int("R", "cooldown", 0, low=0) == 0
    for bad in (0, 1.0, True, "2"):
        with pytest.raises(ValueError, match="^n must be a positive integer"):
            positive_int(None, "n", bad)
    with pytest.raises(ValueError, match="R: cooldown must be an integer >= 0, got -1"):
        positive_int("R", "cooldown", -1, low=0)
    assert is_int(np.int32(1)) and not is_int(True) and not is_int(1.0)


def test_data_checks_live_here():
    T = check_targets(np.array([0, 2, 1]), 3, 3, np.dtype(np.float64))
    np.testing.assert_array_equal(T.argmax(axis=1), [0, 2, 1])
    with pytest.raises(ValueError, match="y has 2 rows but X has 3"):
        check_targets(np.zeros(2), 3, 1, np.dtype(np.float64))
    assert check_sample_weight(None, 3, np.dtype(np.float64)) is None
    with pytest.raises(ValueError, match="positive sum"):
        check_sample_weight(np.zeros(3), 3, np.dtype(np.float64))
