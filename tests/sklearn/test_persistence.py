"""The scikit-learn estimators save and load through the model format."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import bprop
from bprop import ModelFileError
from bprop.files.tensors import read_safetensors, write_safetensors


def _X() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(40, 3))


def _fitted(kind: str):
    X = _X()
    est = {
        "binary": lambda: bprop.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
        "multiclass": lambda: bprop.MLPClassifier(
            hidden_layer_sizes=(4,), max_iter=5, random_state=0, early_stopping=True
        ),
        "multilabel": lambda: bprop.MLPClassifier(
            hidden_layer_sizes=(4,), max_iter=5, random_state=0
        ),
        "regressor": lambda: bprop.MLPRegressor(
            hidden_layer_sizes=(4, 3), max_iter=5, random_state=0
        ),
        "autoencoder": lambda: bprop.MLPAutoencoder(
            hidden_layer_sizes=(2,), max_iter=5, random_state=0
        ),
    }[kind]()
    y = {
        "binary": np.where(X[:, 0] > 0, "yes", "no"),
        "multiclass": np.digitize(X[:, 0], [-0.5, 0.5]),
        "multilabel": (X[:, :2] > 0).astype(int),
        "regressor": 2 * X[:, 0] - X[:, 1],
        "autoencoder": None,
    }[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after 5 iterations
        est.fit(X) if y is None else est.fit(X, y)
    return est


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regressor", "autoencoder"])
def test_estimator_round_trip(tmp_path, kind):
    est = _fitted(kind)
    path = tmp_path / "est.bprop"
    est.save(path)
    loaded = bprop.load(path)
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    X = _X()
    if kind == "autoencoder":
        np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
        np.testing.assert_array_equal(
            loaded.inverse_transform(est.transform(X)), est.inverse_transform(est.transform(X))
        )
    else:
        np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    if hasattr(est, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
        np.testing.assert_array_equal(loaded.classes_, est.classes_)
    for name, value in vars(est).items():
        if (
            name.endswith("_")
            and not name.startswith("_")
            and name not in ("network_", "history_", "coefs_", "intercepts_")
        ):
            got = getattr(loaded, name)
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(got, value)
                assert got.dtype.kind == value.dtype.kind or value.dtype.kind == "O"
            else:
                assert got == value or (value != value and got != got), name
    np.testing.assert_array_equal(loaded.coefs_[0], est.coefs_[0])
    assert loaded.coefs_[0].base is not None  # a view of the network again
    assert np.array_equal(loaded.history_.loss, est.history_.loss)


def test_bprop_save_function_and_continued_training(tmp_path):
    est = _fitted("binary")
    bprop.save(est, tmp_path / "e.bprop")
    loaded = bprop.load(tmp_path / "e.bprop")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded.partial_fit(_X(), np.where(_X()[:, 0] > 0, "yes", "no"))
    assert loaded.n_iter_ >= 1


def test_unfitted_estimator_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        bprop.MLPRegressor().save(tmp_path / "x.bprop")
    assert not (tmp_path / "x.bprop").exists()


def test_unsaveable_parameter_is_named(tmp_path):
    est = _fitted("regressor")
    est.set_params(random_state=np.random.RandomState(0))
    with pytest.raises(ValueError, match="random_state"):
        est.save(tmp_path / "x.bprop")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda e: e.update({"class": "os.system"}), "not allowed"),
        (lambda e: e["params"].update({"no_such_param": 1}), "bad estimator metadata"),
        (lambda e: e["attributes"].update({"__class___": 1}), "not allowed"),
        (lambda e: e["attributes"].update({"n_iter_": {"eval": "x"}}), "unrecognised"),
        (lambda e: e.update({"label_binarizer": "sparse"}), "unknown target kind"),
    ],
)
def test_hostile_estimator_metadata(tmp_path, change, message):
    path = tmp_path / "e.bprop"
    _fitted("binary").save(path)
    tensors, meta = read_safetensors(path)
    change(meta["estimator"])
    write_safetensors(path, tensors, meta)
    with pytest.raises(ModelFileError, match=message):
        bprop.load(path)
    json.dumps(meta)  # the file stayed strict JSON


def test_feature_names_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_X(), columns=["a", "b", "c"])
    est = bprop.MLPRegressor(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, X["a"] * 2)
    est.save(tmp_path / "r.bprop")
    loaded = bprop.load(tmp_path / "r.bprop")
    np.testing.assert_array_equal(loaded.feature_names_in_, ["a", "b", "c"])
    assert loaded.feature_names_in_.dtype == object
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
