"""MetricSums: validation metrics added up block by block equal those of all the rows."""

from __future__ import annotations

import numpy as np
import pytest

from bprop.cli.common import validation_metrics
from bprop.cli.metrics import MetricSums


def _blocks(n, sizes):
    edges = np.cumsum([0, *sizes])
    assert edges[-1] == n
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


@pytest.mark.parametrize("sizes", [[200], [1, 49, 0, 150], [70, 70, 60]])
def test_regression_sums_equal_the_metrics_of_all_rows(sizes):
    rng = np.random.default_rng(0)
    y = rng.normal(1000.0, 3.0, 200)  # a large mean: the merged M2 must stay accurate
    pred = y + rng.normal(0, 0.5, 200)
    sums = MetricSums("regression")
    for sl in _blocks(200, sizes):
        sums.add(y[sl], pred[sl])
    got, want = sums.result(), validation_metrics("regression", y, pred, None)
    assert sums.rows == 200 and got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-12)


def test_regression_edge_cases_follow_scikit_learn():
    sums = MetricSums("regression")
    sums.add(np.array([2.0, 2.0]), np.array([2.0, 2.0]))
    assert sums.result()["r2"] == 1.0  # constant target, exact predictions
    sums.add(np.array([2.0]), np.array([3.0]))
    assert sums.result() == pytest.approx(
        validation_metrics("regression", np.array([2.0, 2, 2]), np.array([2.0, 2, 3]), None)
    )
    one = MetricSums("regression")
    one.add(np.array([1.0]), np.array([0.5]))
    assert one.result()["r2"] is None


@pytest.mark.parametrize("sizes", [[300], [10, 0, 290], [100, 100, 100]])
def test_classification_sums_equal_the_metrics_of_all_rows(sizes):
    rng = np.random.default_rng(1)
    labels = ["cat", "dog", "eel", "fox"]  # 'fox' never occurs: F1 0 by zero_division
    y = rng.choice(labels[:3], 300)
    pred = np.where(rng.random(300) < 0.7, y, rng.choice(labels[:3], 300))
    sums = MetricSums("classification", labels)
    for sl in _blocks(300, sizes):
        sums.add(y[sl], pred[sl])
    got, want = sums.result(), validation_metrics("classification", y, pred, labels)
    assert got["confusion_matrix"] == want["confusion_matrix"]
    assert got["labels"] == want["labels"] and got["accuracy"] == want["accuracy"]
    assert got["f1_macro"] == pytest.approx(want["f1_macro"], rel=1e-12)


def test_classification_needs_the_classes():
    with pytest.raises(ValueError, match="need the classes"):
        MetricSums("classification", None)
