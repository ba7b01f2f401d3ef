"""The estimators run fit, partial_fit and predict under the BLAS limit they choose."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import bprop
from bprop import MLPAutoencoder, MLPClassifier, MLPRegressor
from bprop.training.threads import choose_threads

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _blas_threads() -> set[int]:
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def _recorder(seen: list):
    def callback(trainer, record):
        seen.append(_blas_threads())

    return callback


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_fit_runs_with_the_requested_threads(data, n_threads):
    X, y = data
    seen: list = []
    before = _blas_threads()
    MLPClassifier(
        (5,), max_iter=3, random_state=0, n_threads=n_threads, callbacks=[_recorder(seen)]
    ).fit(X, y)
    assert seen and all(s == {n_threads} for s in seen)
    assert _blas_threads() == before  # restored


def test_automatic_choice_is_one_thread_for_a_small_network(data):
    X, y = data
    assert choose_threads(120, (6, 5, 1), cores=64) == 1
    seen: list = []
    with threadpool_limits(2, user_api="blas"):
        MLPRegressor(
            hidden_layer_sizes=(5,), max_iter=2, random_state=0, callbacks=[_recorder(seen)]
        ).fit(X, X[:, 1])
        assert _blas_threads() == {2}
    assert seen and all(s == {1} for s in seen)


def test_partial_fit_runs_under_the_limit(data):
    X, y = data
    seen: list = []
    clf = MLPClassifier((5,), random_state=0, n_threads=1, callbacks=[_recorder(seen)])
    with threadpool_limits(2, user_api="blas"):
        clf.partial_fit(X, y, classes=[0, 1])
        clf.partial_fit(X, y)
    assert len(seen) == 2 and all(s == {1} for s in seen)


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_predict_runs_under_the_limit(data, method, monkeypatch):
    X, y = data
    clf = MLPClassifier((5,), max_iter=2, random_state=0, n_threads=1).fit(X, y)
    seen: list = []
    original = clf.network_.predict

    def spy(A, *args, **kw):
        seen.append(_blas_threads())
        return original(A, *args, **kw)

    monkeypatch.setattr(clf.network_, "predict", spy)
    with threadpool_limits(2, user_api="blas"):
        getattr(clf, method)(X)
    assert seen == [{1}]


def test_autoencoder_transform_runs_under_the_limit(data, monkeypatch):
    X, _ = data
    ae = MLPAutoencoder((4,), max_iter=2, random_state=0, n_threads=1).fit(X)
    seen: list = []
    first, *rest = ae.network_.activations
    spy = copy.copy(first)  # an Activation whose forward pass records the BLAS threads

    def forward(net, out):
        seen.append(_blas_threads())
        return first.forward(net, out)

    spy.forward = forward
    monkeypatch.setattr(ae.network_, "activations", (spy, *rest))
    with threadpool_limits(2, user_api="blas"):
        ae.transform(X)
    assert seen == [{1}]


@pytest.mark.parametrize("bad", [0, -3, 1.5, "auto"])
def test_bad_n_threads_is_refused_at_fit(data, bad):
    X, y = data
    with pytest.raises(ValueError, match="n_threads"):
        MLPClassifier((3,), max_iter=1, n_threads=bad).fit(X, y)


def test_n_threads_survives_the_model_file(data, tmp_path):
    X, y = data
    clf = MLPClassifier((3,), max_iter=2, random_state=0, n_threads=2).fit(X, y)
    path = tmp_path / "m.bprop"
    clf.save(path)
    loaded = bprop.load(path)
    assert loaded.n_threads == 2
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
