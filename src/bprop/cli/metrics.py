"""Validation metrics added up block by block, for held-out rows that are never in memory
together (a streamed run's validation rows).

:class:`MetricSums` keeps what the metrics of ``bprop.cli.common.validation_metrics``
need, and nothing per row:

- classification: the confusion matrix C (C_ij = rows of class i predicted as j), summed
  over blocks; accuracy = trace(C) / sum(C); macro F1 = mean_k 2 C_kk / (2 C_kk + FP_k +
  FN_k) (0 where a class has no rows and no predictions, as scikit-learn's
  ``zero_division=0``);
- regression: n, sum |e|, sum e^2 (e = y - prediction) and the target's mean and sum of
  squared deviations M2, merged across blocks by Chan et al.'s update
  (M2 = M2_a + M2_b + delta^2 n_a n_b / n); R^2 = 1 - sum e^2 / M2 (1 if both are 0, 0 if
  only M2 is, as scikit-learn's ``force_finite``), MAE = sum |e| / n,
  RMSE = sqrt(sum e^2 / n).

The result equals ``validation_metrics`` of the concatenated blocks: exactly for the
counts, to rounding for the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

__all__ = ["MetricSums"]


class MetricSums:
    """Validation metrics of a task over blocks of (targets, predictions) (see above)."""

    def __init__(self, task: str, classes: list | None = None) -> None:
        if task == "classification" and not classes:
            raise ValueError("classification metrics by blocks need the classes")
        self.task, self.labels = task, list(classes or [])
        self.confusion = np.zeros((len(self.labels),) * 2, np.int64)
        self.n = 0
        self.abs_error = self.squared_error = self.mean = self.m2 = 0.0

    def add(self, y_true: Any, y_pred: Any) -> None:
        """Add one block of targets and predictions."""
        if len(y_true) == 0:
            return
        if self.task == "classification":
            self.confusion += confusion_matrix(y_true, y_pred, labels=self.labels)
            return
        y = np.asarray(y_true, dtype=float)
        e = y - np.asarray(y_pred, dtype=float)
        self.abs_error += float(np.abs(e).sum())
        self.squared_error += float(e @ e)
        n_b, mean_b = y.size, float(y.mean())
        d = y - mean_b
        m2_b = float(d @ d)
        n = self.n + n_b
        delta = mean_b - self.mean
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.mean += delta * n_b / n
        self.n = n

    @property
    def rows(self) -> int:
        """The rows added so far."""
        return int(self.confusion.sum()) if self.task == "classification" else self.n

    def result(self) -> dict[str, Any]:
        """The metrics, with the keys of ``validation_metrics``."""
        if self.task == "classification":
            C = self.confusion
            tp = np.diag(C).astype(float)
            denominator = 2 * tp + (C.sum(axis=0) - tp) + (C.sum(axis=1) - tp)
            f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
            return {
                "accuracy": float(tp.sum() / C.sum()),
                "f1_macro": float(f1.mean()),
                "confusion_matrix": C.tolist(),
                "labels": self.labels,
            }
        if self.m2 > 0:
            r2: float | None = 1.0 - self.squared_error / self.m2
        else:
            r2 = 1.0 if self.squared_error == 0 else 0.0
        return {
            "r2": r2 if self.n > 1 else None,
            "mae": self.abs_error / self.n,
            "rmse": float(np.sqrt(self.squared_error / self.n)),
        }
