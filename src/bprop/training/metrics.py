"""Classification accuracy counted straight from network outputs and targets.

How a pattern counts as correct depends on the output layer:

- one output: o and t fall on the same side of the threshold (the middle of the output
  activation's range: 0.5 for logistic, 0 for tanh and unbounded outputs);
- several outputs with softmax, or one-hot targets: argmax o = argmax t;
- several outputs otherwise (multi-label): every output on the same side as its target.

:meth:`AccuracyCounter.compiled_form` gives the same test for one pattern as a plain
function ``row(o, t, r, threshold) -> 1.0 or 0.0`` for the compiled kernel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bprop.core.activations import Activation, Softmax

__all__ = ["AccuracyCounter"]


def _argmax_row(o: np.ndarray, t: np.ndarray, r: int, threshold: float) -> float:
    """1.0 if argmax o[r] = argmax t[r] (first maximum, as np.argmax), else 0.0."""
    io = 0
    it = 0
    for k in range(1, o.shape[1]):
        if o[r, k] > o[r, io]:
            io = k
        if t[r, k] > t[r, it]:
            it = k
    return 1.0 if io == it else 0.0


def _threshold_row(o: np.ndarray, t: np.ndarray, r: int, threshold: float) -> float:
    """1.0 if every o[r, k] is on the same side of the threshold as t[r, k], else 0.0."""
    for k in range(o.shape[1]):
        if (o[r, k] > threshold) != (t[r, k] > threshold):
            return 0.0
    return 1.0


class AccuracyCounter:
    """Counts correctly classified patterns; built once per training run."""

    def __init__(self, output_activation: Activation, T: np.ndarray) -> None:
        low, high = output_activation.output_range
        self.threshold = (low + high) / 2 if np.isfinite(low) and np.isfinite(high) else 0.0
        if np.isfinite(low) and not np.isfinite(high):
            self.threshold = 0.5  # relu, softplus: 0/1 targets
        k = T.shape[1]
        one_hot = bool(np.all((T == 0) | (T == 1)) and np.all(T.sum(axis=1) == 1))
        if k == 1:
            self.kind = "threshold"
        elif isinstance(output_activation, Softmax) or one_hot:
            self.kind = "argmax"
        else:
            self.kind = "multilabel"

    def compiled_form(self) -> Callable[[np.ndarray, np.ndarray, int, float], float]:
        """:meth:`count` for pattern r as a plain function of (o, t, r, threshold)."""
        return _argmax_row if self.kind == "argmax" else _threshold_row

    def count(self, o: np.ndarray, t: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """The number (or the sample-weight total) of correctly classified patterns."""
        if self.kind == "argmax":
            ok = o.argmax(axis=1) == t.argmax(axis=1)
        else:
            ok = ((o > self.threshold) == (t > self.threshold)).all(axis=1)
        return float(ok.sum() if sample_weight is None else sample_weight @ ok)
