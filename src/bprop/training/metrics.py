"""Classification accuracy counted straight from network outputs and targets.

How a pattern counts as correct depends on the output layer:

- one output: o and t fall on the same side of the threshold (the middle of the output
  activation's range: 0.5 for logistic, 0 for tanh and unbounded outputs);
- several outputs with softmax, or one-hot targets: argmax o = argmax t;
- several outputs otherwise (multi-label): every output on the same side as its target.
"""

from __future__ import annotations

import numpy as np

from bprop.core.activations import Activation, Softmax

__all__ = ["AccuracyCounter"]


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

    def count(self, o: np.ndarray, t: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """The number (or the sample-weight total) of correctly classified patterns."""
        if self.kind == "argmax":
            ok = o.argmax(axis=1) == t.argmax(axis=1)
        else:
            ok = ((o > self.threshold) == (t > self.threshold)).all(axis=1)
        return float(ok.sum() if sample_weight is None else sample_weight @ ok)
