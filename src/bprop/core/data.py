"""Targets and inputs: one-hot coding and standardisation.

The checks the trainer runs once on what a user hands it (targets, sample weights) are in
:mod:`bprop.core.validation`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["one_hot", "standardize"]


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
