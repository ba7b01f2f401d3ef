"""The estimators fit a streamed ParquetData as they fit the same rows in memory."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from bprop import EarlyStopping, MLPClassifier, MLPRegressor, ParquetData  # noqa: E402


def _write(path, X, y, row_group_size):
    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    pq.write_table(pa.table({**cols, "y": y}), path, row_group_size=row_group_size)


# fitted on named Parquet columns, predicting on a plain array: scikit-learn says so
NAMES = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


@NAMES
@pytest.mark.parametrize("solver", ["lbfgs", "irprop+"])
def test_regressor_full_batch_solver_streamed_equals_in_memory(tmp_path, solver):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X @ rng.normal(size=4) + 0.1 * rng.normal(size=200)
    _write(tmp_path / "r.parquet", X, y, 37)
    kw = {"hidden_layer_sizes": (6,), "solver": solver, "max_iter": 15, "random_state": 1}
    with pytest.warns(ConvergenceWarning) as wa:
        a = MLPRegressor(**kw).fit(X, y)
    with pytest.warns(ConvergenceWarning) as wb:
        b = MLPRegressor(**kw).fit(ParquetData(tmp_path / "r.parquet", batch_rows=200))
    assert str(wa[0].message) == str(wb[0].message)
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert list(b.feature_names_in_) == ["x0", "x1", "x2", "x3"]


@NAMES
def test_classifier_with_string_labels_adam_one_row_group_equals_in_memory(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 3))
    y = np.array(["cat", "dog", "eel"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    _write(tmp_path / "c.parquet", X, y, 1000)
    kw = {"hidden_layer_sizes": (5,), "solver": "adam", "max_iter": 8, "random_state": 3,
          "batch_size": 20}  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        a = MLPClassifier(**kw).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        b = MLPClassifier(**kw).fit(ParquetData(tmp_path / "c.parquet"))
    assert list(b.classes_) == ["cat", "dog", "eel"]
    np.testing.assert_array_equal(a.network_.params, b.network_.params)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_streamed_fit_refuses_what_it_cannot_do(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 2))
    _write(tmp_path / "d.parquet", X, X[:, 0], 10)
    data = ParquetData(tmp_path / "d.parquet")
    with pytest.raises(ValueError, match="hold their own targets"):
        MLPRegressor().fit(data, X[:, 0])
    with pytest.raises(ValueError, match="validation_fraction"):
        MLPRegressor(early_stopping=True).fit(data)
    with pytest.raises(ValueError, match="need validation rows"):
        MLPRegressor(stopping=EarlyStopping(patience=2), max_iter=3).fit(data)
    held = ParquetData(tmp_path / "d.parquet", validation_fraction=0.3)
    # patience beyond max_iter: the run ends at max_iter, whatever the validation loss does
    est = MLPRegressor(
        stopping=EarlyStopping(patience=5), max_iter=3, solver="lbfgs", random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        est.fit(held)
    assert est.history_.records[0].val_loss is not None


def test_streamed_poisson_regressor_refuses_negative_targets(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 2))
    y = rng.poisson(2.0, size=60).astype(float)
    y[41] = -1.0
    _write(tmp_path / "p.parquet", X, y, 20)
    est = MLPRegressor(loss="poisson", hidden_layer_sizes=(3,), max_iter=2)
    with pytest.raises(
        ValueError, match=r"p\.parquet: rows 40\.\.59 .*needs targets y >= 0.*-1\.0"
    ):
        est.fit(ParquetData(tmp_path / "p.parquet", batch_rows=20))
    y[41] = 0.0
    _write(tmp_path / "p.parquet", X, y, 20)
    with pytest.warns(ConvergenceWarning):
        est.fit(ParquetData(tmp_path / "p.parquet", batch_rows=20))
    assert est.out_activation_ == "exp" and np.all(est.predict(X) > 0)
