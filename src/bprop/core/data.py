"""Targets and inputs at the edge: one-hot coding, and the checks the trainer runs once.

The numeric core trusts its inputs; everything a user hands to the trainer passes
through here first, and a problem is a ValueError that says what was wrong.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_sample_weight", "check_targets", "one_hot", "standardize"]


def one_hot(labels: object, n_classes: int | None = None, dtype: object = np.float64):
    """Targets t with t[p, c] = 1 if pattern p has class c, else 0.

    ``labels`` are integers 0..K-1 (K = ``n_classes``, or max(labels) + 1). To code
    arbitrary labels, take ``classes, codes = np.unique(y, return_inverse=True)`` first.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if y.size and (y.dtype.kind not in "iub" and not np.all(np.mod(y, 1) == 0)):
        raise ValueError("labels must be integers 0..K-1; map other labels with np.unique first")
    y = y.astype(np.int64)
    k = int(y.max()) + 1 if n_classes is None and y.size else int(n_classes or 0)
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}, got values in {y.min()}..{y.max()}")
    T = np.zeros((y.size, k), dtype)
    T[np.arange(y.size), y] = 1
    return T


def standardize(X: np.ndarray, mean=None, scale=None):
    """(X - mean) / scale per column; returns (Z, mean, scale). Constant columns keep scale 1.

    Pass the training set's ``mean`` and ``scale`` to transform new data the same way.
    """
    X = np.asarray(X, dtype=float)
    if mean is None:
        mean = X.mean(axis=0)
    if scale is None:
        scale = X.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
    return (X - mean) / scale, mean, scale


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
