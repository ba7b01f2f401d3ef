"""The Dask estimators: the local estimators' results from dask arrays, DataFrames and
Parquet files; lazy predictions; to_local, pickling without the client, save/load."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from threadpoolctl import threadpool_limits

import bprop
import bprop.dask

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")


def _classification(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "up", "down")
    return X, y


def test_full_batch_classifier_equals_the_local_one_on_the_same_blocks(client):
    X, y = _classification()
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=30, random_state=0)
    remote = bprop.dask.MLPClassifier(client=client, **params).fit(
        da.from_array(X, chunks=(240, 3)), da.from_array(y, chunks=240)
    )
    with threadpool_limits(1):
        local = bprop.MLPClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(remote.network_.params, local.network_.params)
    assert list(remote.classes_) == ["down", "up"]
    pred = remote.predict(da.from_array(X, chunks=(60, 3)))
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), local.predict(X))
    proba = remote.predict_proba(da.from_array(X, chunks=(60, 3))).compute()
    np.testing.assert_allclose(proba, local.predict_proba(X), rtol=0, atol=0)


def test_regressor_from_a_dataframe_with_a_categorical_column_and_a_parquet_file(client, tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "a": rng.standard_normal(200),
            "b": rng.standard_normal(200),
            "kind": rng.choice(["x", "y", "z"], 200),
        }
    )
    frame["target"] = frame.a - 2 * frame.b + (frame.kind == "z")
    ddf = dd.from_pandas(frame, npartitions=3)
    reg = bprop.dask.MLPRegressor(
        hidden_layer_sizes=(5,), solver="irprop-", max_iter=20, random_state=0, client=client
    ).fit(ddf, "target")
    model = reg.to_local()
    assert [name for name, _ in model.steps] == ["columns", "mlp"]
    lazy = reg.predict(ddf.drop(columns=["target"])).compute()
    np.testing.assert_allclose(lazy, model.predict(frame.drop(columns=["target"])), rtol=1e-12)
    frame.to_parquet(tmp_path / "d.parquet")
    again = clone(reg).fit(str(tmp_path / "d.parquet"), "target")
    assert np.all(np.isfinite(again.network_.params))


def test_to_local_pickle_and_model_file(client, tmp_path):
    X, y = _classification()
    est = bprop.dask.MLPClassifier(
        hidden_layer_sizes=(4,), solver="rprop", max_iter=5, random_state=0, client=client
    )
    est.fit(da.from_array(X, chunks=(80, 3)), da.from_array(y, chunks=80))
    local = est.to_local()
    assert type(local) is bprop.MLPClassifier
    np.testing.assert_array_equal(local.predict(X), est.predict(da.from_array(X)).compute())
    clone_ = pickle.loads(pickle.dumps(est))
    assert clone_.client is None
    np.testing.assert_array_equal(clone_.network_.params, est.network_.params)
    est.save(tmp_path / "m.bprop")
    loaded = bprop.load(tmp_path / "m.bprop")
    assert type(loaded) is bprop.MLPClassifier
    np.testing.assert_array_equal(loaded.predict(X), local.predict(X))


def test_parameters_are_those_of_the_local_estimator_plus_client():
    local = set(bprop.MLPClassifier().get_params())
    assert set(bprop.dask.MLPClassifier().get_params()) == local | {"client"}
    assert bprop.dask.MLPRegressor(alpha=0.5).get_params()["alpha"] == 0.5
