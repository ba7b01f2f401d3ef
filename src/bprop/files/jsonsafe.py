"""JSON-safe data: what bprop writes into file metadata and prints with ``--json``.

Strict JSON has no NaN or infinities, no tuples and no NumPy types. :func:`to_json` maps

- NumPy scalars to Python scalars, small arrays (at most 64 entries) to nested lists;
- finite floats to themselves, non-finite ones to the strings "inf", "-inf", "nan"
  (:func:`encode_float`; :func:`decode_float` reads them back);
- tuples to lists, dict keys to strings;
- anything else to its ``repr`` (a report, not a round trip).

It is lossy by design (a tuple comes back a list): checkpoints, model metadata and the
command line's JSON output use it. The estimators' files need types to survive and use
their own tagged form on top of :data:`NON_FINITE` (see
:mod:`bprop.sklearn.estimator_file`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["NON_FINITE", "decode_float", "encode_float", "to_json"]

#: How non-finite floats are spelled in bprop's JSON.
NON_FINITE = ("inf", "-inf", "nan")


def encode_float(x: float) -> float | str:
    """x if finite, else "inf", "-inf" or "nan"."""
    x = float(x)
    return x if math.isfinite(x) else str(x)


def decode_float(x: object, what: str) -> float:
    """The inverse of :func:`encode_float`; a ValueError naming ``what`` otherwise."""
    if isinstance(x, str) and x in NON_FINITE:
        return float(x)
    if isinstance(x, int | float) and not isinstance(x, bool):
        return float(x)
    raise ValueError(f"{what}: expected a number, got {x!r}")


def to_json(x: Any) -> Any:
    """``x`` as strict-JSON data (see the module docstring)."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, bool | int | str) or x is None:
        return x
    if isinstance(x, float):
        return encode_float(x)
    if isinstance(x, dict):
        return {str(k): to_json(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [to_json(v) for v in x]
    if isinstance(x, np.ndarray) and x.size <= 64:
        return to_json(x.tolist())
    return repr(x)
