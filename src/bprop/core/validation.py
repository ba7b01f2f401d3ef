"""Argument and data checks, in one place: each failure is a ValueError that names the
owner (a rule, a schedule, a criterion, the trainer), the argument and the value.

Numbers: :func:`check_positive` (x > 0, or x >= 0), :func:`check_in_range`
(low <= x < high, with open or closed ends), :func:`check_interval` (scikit-learn's
parameter form, "must be a number in [low, high)"), :func:`positive_int` (an integer >= 1,
or >= a given lower bound). Data: :func:`check_targets` and :func:`check_sample_weight`, the
checks the trainer runs once on what a user hands it (the numeric core trusts its inputs).
"""

from __future__ import annotations

import numbers

import numpy as np

from bprop.core.data import one_hot

__all__ = [
    "check_in_range",
    "check_interval",
    "check_positive",
    "check_sample_weight",
    "check_targets",
    "is_int",
    "positive_int",
]


def _who(owner: str | None) -> str:
    return f"{owner}: " if owner else ""


def is_int(value: object) -> bool:
    """True for Python and NumPy integers (not bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _number(owner: str | None, name: str, value: object) -> float:
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{_who(owner)}{name} must be a number, got {value!r}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{_who(owner)}{name} must be a number, got {value!r}") from None


def check_positive(
    owner: str | None, name: str, value: object, *, allow_zero: bool = False
) -> float:
    """value as a float if finite and > 0 (>= 0 with allow_zero), else a ValueError."""
    v = _number(owner, name, value)
    ok = v >= 0 if allow_zero else v > 0
    if not ok or not np.isfinite(v):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{_who(owner)}{name} must be finite and {bound}, got {value!r}")
    return v


def check_in_range(
    owner: str | None,
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    open_low: bool = False,
    closed_high: bool = False,
) -> float:
    """value as a float if it lies in [low, high) (open or closed ends as asked)."""
    v = _number(owner, name, value)
    above = v > low if open_low else v >= low
    below = v <= high if closed_high else v < high
    if not (above and below):
        lo, hi = "(" if open_low else "[", "]" if closed_high else ")"
        raise ValueError(f"{_who(owner)}{name} must be in {lo}{low}, {high}{hi}, got {value!r}")
    return v


def check_interval(
    name: str,
    value: object,
    *,
    low: float,
    high: float = np.inf,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """scikit-learn's parameter check: a real number (not bool, not NaN) in the interval."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and not np.isnan(value)
    if ok:
        ok = (value > low if open_low else value >= low) and (
            value < high if open_high else value <= high
        )
    if not ok:
        lo, hi = "(" if open_low else "[", ")" if open_high else "]"
        raise ValueError(f"{name} must be a number in {lo}{low}, {high}{hi}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def positive_int(owner: str | None, name: str, value: object, *, low: int = 1) -> int:
    """value as an int if it is an integer >= low (1 by default), else a ValueError."""
    if not is_int(value) or value < low:  # type: ignore[operator]
        what = "a positive integer" if low == 1 else f"an integer >= {low}"
        raise ValueError(f"{_who(owner)}{name} must be {what}, got {value!r}")
    return int(value)  # type: ignore[call-overload]


def check_targets(T: object, n: int, n_outputs: int, dtype: np.dtype, name: str = "y"):
    """T as an (n, n_outputs) array of ``dtype``.

    Accepts a 1-D array for a single output, and 1-D integer class labels 0..K-1 for a
    network with K > 1 outputs (coded one-hot).
    """
    T = np.asarray(T)
    if T.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must be numeric, got dtype {T.dtype}; code class labels as integers "
            "(np.unique(y, return_inverse=True)) or use bprop.MLPClassifier"
        )
    if T.ndim == 1:
        if n_outputs == 1:
            T = T[:, None]
        elif T.dtype.kind in "biu" or np.all(np.mod(T, 1) == 0):
            T = one_hot(T, n_outputs, dtype)
        else:
            raise ValueError(
                f"{name} is 1-D but the network has {n_outputs} outputs; give an "
                f"(n, {n_outputs}) array or integer class labels 0..{n_outputs - 1}"
            )
    if T.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {T.shape}")
    if T.shape[0] != n:
        raise ValueError(f"{name} has {T.shape[0]} rows but X has {n}")
    if T.shape[1] != n_outputs:
        raise ValueError(f"{name} has {T.shape[1]} columns but the network has {n_outputs} outputs")
    T = np.ascontiguousarray(T, dtype=dtype)
    if not np.all(np.isfinite(T)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return T


def check_sample_weight(sample_weight: object, n: int, dtype: np.dtype) -> np.ndarray | None:
    """Sample weights as a 1-D array of n finite, non-negative values with a positive sum."""
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight, dtype=dtype)
    if sw.ndim == 0:
        sw = np.full(n, sw, dtype)
    if sw.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
    if not np.all(np.isfinite(sw)) or np.any(sw < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if sw.sum() <= 0:
        raise ValueError("sample_weight must have a positive sum")
    return sw


def check_rows(rows: object, n: int) -> np.ndarray:
    """Row indices as a non-empty 1-D int64 array of values in [0, n)."""
    idx = np.asarray(rows)
    if idx.ndim != 1 or idx.shape[0] == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"rows must be a non-empty 1-D array of row indices, got {idx!r:.80}")
    if idx.min() < 0 or idx.max() >= n:
        raise ValueError(f"rows must be indices in [0, {n}), got values in "
                         f"[{idx.min()}, {idx.max()}]")  # fmt: skip
    return idx.astype(np.int64, copy=False)
