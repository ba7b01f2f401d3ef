"""The Dask estimators: the local estimators' results from dask arrays, DataFrames and
Parquet files; lazy predictions; to_local, pickling without the client, save/load."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
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


def test_autoencoder_equals_the_local_one_and_transforms_lazily(client):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((150, 4))
    params = dict(hidden_layer_sizes=(2,), solver="lbfgs", max_iter=25, random_state=0)
    remote = bprop.dask.MLPAutoencoder(client=client, **params).fit(
        da.from_array(X, chunks=(150, 4))
    )
    with threadpool_limits(1):
        local = bprop.MLPAutoencoder(**params).fit(X)
    # Rounding level, not bit for bit: with several outputs, a worker process's BLAS
    # (one thread from its start) and the driver's (limited to one at run time) round the
    # last bit differently at these shapes (measured 1e-16 after one L-BFGS iteration,
    # 3e-13 after 25); the gradient sums themselves are the local ones (tests/dask/test_source).
    np.testing.assert_allclose(remote.network_.params, local.network_.params, rtol=1e-9)
    assert remote.n_components_ == 2
    codes = remote.transform(da.from_array(X, chunks=(50, 4)))
    assert isinstance(codes, da.Array)
    np.testing.assert_array_equal(codes.compute(), remote.to_local().transform(X))
    np.testing.assert_allclose(codes.compute(), local.transform(X), rtol=1e-9)
    back = remote.inverse_transform(codes).compute()
    np.testing.assert_array_equal(back, remote.to_local().inverse_transform(codes.compute()))
    assert type(remote.to_local()) is bprop.MLPAutoencoder


def test_autoencoder_takes_a_numeric_dataframe_and_refuses_targets_and_strings(client):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.standard_normal((90, 3)), columns=["a", "b", "c"])
    est = bprop.dask.MLPAutoencoder(
        hidden_layer_sizes=(2,), solver="rprop", max_iter=5, random_state=0, client=client
    )
    est.fit(dd.from_pandas(frame, npartitions=3))
    assert est.transform(dd.from_pandas(frame, npartitions=2)).compute().shape == (90, 2)
    with pytest.raises(ValueError, match="targets are its inputs"):
        est.fit(dd.from_pandas(frame, npartitions=3), "a")
    frame["kind"] = "x"
    with pytest.raises(ValueError, match=r"\['kind'\] are not numeric"):
        est.fit(dd.from_pandas(frame, npartitions=3))


def test_local_autoencoder_refuses_data_whose_targets_are_not_its_inputs(client):
    X = da.from_array(np.random.default_rng(4).standard_normal((40, 3)), chunks=(20, 3))
    data = bprop.dask.DaskData(X, X[:, 0], client=client)
    with pytest.raises(ValueError, match="targets are its inputs"):
        bprop.MLPAutoencoder(hidden_layer_sizes=(2,), solver="rprop").fit(data)


@pytest.mark.parametrize("solver", ["rprop", "lbfgs"])
def test_a_checkpoint_taken_on_the_cluster_resumes_on_the_cluster(client, tmp_path, solver):
    from bprop.training.checkpoint import CheckpointCallback, load_checkpoint

    X, y = _classification(200, seed=5)
    params = dict(
        hidden_layer_sizes=(4,), solver=solver, max_iter=7, random_state=0, tol=0.0, client=client
    )
    Xd, yd = da.from_array(X, chunks=(70, 3)), da.from_array(y, chunks=70)
    ckpt = tmp_path / "run.ckpt"
    with pytest.warns(ConvergenceWarning):  # the iteration limit
        full = bprop.dask.MLPClassifier(**params).fit(Xd, yd)
    with pytest.warns(ConvergenceWarning):
        bprop.dask.MLPClassifier(**params, callbacks=[CheckpointCallback(ckpt, 3)]).fit(Xd, yd)
    assert load_checkpoint(ckpt).epoch == 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        resumed = bprop.dask.MLPClassifier(**params).fit(Xd, yd, checkpoint=str(ckpt))
    assert resumed.history_.epochs == full.history_.epochs == 7
    if solver == "rprop":  # L-BFGS's memory lives inside one scipy run and restarts on resume
        np.testing.assert_array_equal(resumed.network_.params, full.network_.params)
        np.testing.assert_array_equal(resumed.history_.loss, full.history_.loss)


def test_dataframe_columns_are_encoded_as_the_command_line_does(client):
    from bprop.sklearn.tabular import TableSpec, column_transformer

    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0] * 10, "kind": ["x", "y", None, "x"] * 10})
    frame["t"] = np.arange(40.0)
    reg = bprop.dask.MLPRegressor(
        hidden_layer_sizes=(2,), solver="rprop", max_iter=2, random_state=0, client=client
    ).fit(dd.from_pandas(frame, npartitions=2), "t")
    ours = column_transformer(TableSpec(None, "", ["a"], ["kind"], impute=True))
    ours.fit(frame[["a", "kind"]])
    np.testing.assert_array_equal(
        reg.preprocessor_.transform(frame[["a", "kind"]]), ours.transform(frame[["a", "kind"]])
    )
    assert [t[0] for t in reg.preprocessor_.transformers] == ["numeric", "categorical"]
