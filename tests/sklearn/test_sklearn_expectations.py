"""Behaviours scikit-learn's MLPClassifier / MLPRegressor have, checked against it live.

Each test runs scikit-learn's estimator and bprop's on the same input and compares what a
user sees: the labels' dtype, error messages, resuming after pickling, the error on
non-finite weights, and where ``partial_fit`` exists.
"""

from __future__ import annotations

import io
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

import bprop
from bprop import DivergenceWarning, MLPAutoencoder, MLPClassifier, MLPRegressor

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning"),  # diverging runs
]

X20 = np.random.default_rng(0).normal(size=(20, 3))
SMALL = dict(hidden_layer_sizes=(3,), max_iter=5, random_state=0)


def _error(call) -> str:
    with pytest.raises(ValueError) as info:
        call()
    return str(info.value)


# ---------------------------------------------------------------------- classes_ dtype
LABELS = {
    "bool": np.array([True, False] * 10),
    "bool list": [True, False] * 10,
    "bool Series": pd.Series([True, False] * 10),
    "str": np.array(["cat", "dog"] * 10),
    "object str": pd.Series(["cat", "dog", "emu", "cat"] * 5, dtype=object),
    "int": np.array([3, 1, 2, 7] * 5),
    "int8": np.array([1, 0] * 10, dtype=np.int8),
    "uint16": np.array([5, 9] * 10, dtype=np.uint16),
    "uint64": np.array([1, 2, 3, 4] * 5, dtype=np.uint64),
    "float16": np.array([0.0, 1.0] * 10, dtype=np.float16),
    "float": np.array([0.0, 1.0, 2.0, 0.0] * 5),
}


@pytest.mark.parametrize("kind", LABELS)
def test_classes_keep_the_labels_dtype_as_in_scikit_learn(kind):
    y = LABELS[kind]
    ours = MLPClassifier(**SMALL).fit(X20, y)
    theirs = SkClassifier(**SMALL).fit(X20, y)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.classes_.dtype == theirs.classes_.dtype
    assert ours.predict(X20).dtype == theirs.predict(X20).dtype
    assert set(ours.predict(X20)) <= set(theirs.classes_)


@pytest.mark.parametrize("kind", LABELS)
def test_model_files_round_trip_the_labels_dtype(kind, tmp_path):
    est = MLPClassifier(**SMALL).fit(X20, LABELS[kind])
    est.save(tmp_path / "m.bprop")
    back = bprop.load(tmp_path / "m.bprop")
    np.testing.assert_array_equal(back.classes_, est.classes_)
    assert back.classes_.dtype == est.classes_.dtype
    np.testing.assert_array_equal(back.predict(X20), est.predict(X20))
    assert back.predict(X20).dtype == est.predict(X20).dtype


@pytest.mark.parametrize("kind", ["bool", "str", "int"])
def test_label_errors_quote_the_labels_as_scikit_learn_does(kind):
    y = np.asarray(LABELS[kind])
    first, other = np.unique(y)[:2]
    messages = []
    for cls in (MLPClassifier, SkClassifier):
        est = cls(**SMALL)
        est.partial_fit(X20, np.full(20, first), classes=[first])
        messages.append(_error(lambda est=est: est.partial_fit(X20, np.full(20, other))))
    assert messages[0] == messages[1]
    assert str(other) in messages[0]  # 'False', not '0.0'


# ---------------------------------------------------------------------- pickling
@pytest.mark.parametrize("dump", ["joblib", "pickle"])
def test_a_pickled_estimator_continues_with_partial_fit(dump):
    """The fitted state (weights and the solver's moments) survives a dump and load."""
    results = []
    for cls in (MLPRegressor, SkRegressor):
        est = cls(hidden_layer_sizes=(42,), random_state=42, learning_rate_init=0.01, max_iter=200)
        est.fit([[2]], [4])
        if dump == "joblib":
            buf = io.BytesIO()
            joblib.dump(est, buf)
            buf.seek(0)
            est = joblib.load(buf)
        else:
            est = pickle.loads(pickle.dumps(est))
        for _ in range(200):
            est.partial_fit([[2]], [1])
        results.append(est.predict([[2]]))
    np.testing.assert_allclose(results[0], 1.0, rtol=1e-4)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-9)


def test_a_model_file_keeps_the_weights_not_the_solver_state(tmp_path):
    """Documented: partial_fit after bprop.load starts the solver afresh (Adam's t = 0)."""
    est = MLPRegressor(hidden_layer_sizes=(8,), random_state=0, max_iter=20).fit(X20, X20[:, 0])
    est.save(tmp_path / "m.bprop")
    back = bprop.load(tmp_path / "m.bprop")
    np.testing.assert_array_equal(back.predict(X20), est.predict(X20))
    back.partial_fit(X20, X20[:, 0])
    assert back._trainer.state.rule_state.t == 1  # one mini-batch: a fresh Adam state
    assert est._trainer.state.rule_state.t == 20


# ---------------------------------------------------------------------- non-finite weights
REG_X = np.random.default_rng(1).normal(size=(40, 3))
REG_Y = REG_X @ np.array([1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("solver", "scale", "extra"),
    [("sgd", 1.0, dict(learning_rate_init=1e6, momentum=0.0)), ("adam", 1e200, {})],
)
def test_diverging_sklearn_solvers_raise_as_scikit_learn_does(solver, scale, extra):
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=20, random_state=0, **extra)
    theirs = _error(lambda: SkRegressor(**params).fit(REG_X * scale, REG_Y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)  # the error, not a warning
        ours = _error(lambda: MLPRegressor(**params).fit(REG_X * scale, REG_Y))
    assert ours == theirs
    assert ours.startswith("Solver produced non-finite parameter weights.")


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_non_finite_weights_after_fit_raise_for_every_sklearn_solver(solver):
    """Weights the user made non-finite stay so through warm_start fits: scikit-learn raises."""
    messages = []
    for cls in (MLPRegressor, SkRegressor):
        est = cls(hidden_layer_sizes=(5,), solver=solver, max_iter=3, random_state=0)
        est.set_params(warm_start=True).fit(REG_X, REG_Y)
        est.coefs_[0][0, 0] = np.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            messages.append(_error(lambda est=est: est.fit(REG_X, REG_Y)))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("solver", ["gd", "momentum", "adagrad", "rprop", "quickprop"])
def test_bprops_own_solvers_warn_and_restore(solver):
    est = MLPRegressor(hidden_layer_sizes=(5,), solver=solver, max_iter=20, random_state=0)
    with pytest.warns(DivergenceWarning):
        est.fit(REG_X * 1e200, REG_Y)
    assert est.history_.stop_reason.startswith("diverged")
    assert np.all(np.isfinite(est.network_.params))


# ---------------------------------------------------------------------- partial_fit
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_partial_fit_exists_where_scikit_learn_has_it(solver):
    ours, theirs = MLPClassifier(solver=solver), SkClassifier(solver=solver)
    assert hasattr(ours, "partial_fit") == hasattr(theirs, "partial_fit") == (solver != "lbfgs")
    if solver == "lbfgs":
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
            ours.partial_fit  # noqa: B018
        # scikit-learn 1.9's MLPRegressor forgets to call its check (``available_if(lambda
        # est: est._check_solver)``) and runs L-BFGS to the end in partial_fit; bprop
        # follows the classifier and scikit-learn's documentation instead.
        assert not hasattr(MLPRegressor(solver=solver), "partial_fit")


@pytest.mark.parametrize(
    ("solver", "available"),
    [
        ("gd", True),
        ("momentum", True),
        ("nesterov", True),
        ("adagrad", True),
        ("rmsprop", True),
        (bprop.Adam(), True),
        ("rprop", False),
        ("irprop-", False),
        ("quickprop", False),
        ("lm", False),
        (bprop.optim.LBFGS(), False),
    ],
)
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor, MLPAutoencoder])
def test_bprops_full_batch_solvers_have_no_partial_fit(cls, solver, available):
    est = cls(solver=solver)
    assert hasattr(est, "partial_fit") == available
    if not available:
        with pytest.raises(AttributeError) as info:
            est.partial_fit  # noqa: B018
        assert "not stochastic" in str(info.value.__cause__)
    assert hasattr(cls(solver="no-such-rule"), "partial_fit")  # the call names the bad solver
