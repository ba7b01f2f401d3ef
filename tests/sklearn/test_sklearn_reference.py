"""bprop's estimators against scikit-learn's, live, on the same data and initial weights.

scikit-learn is the independent implementation here: both are fitted in the test, with
the same parameters and no shuffling, and bprop's loss curve and weights must match
scikit-learn's to rounding error. That checks the loss reductions (mean over patterns,
1/2 mean over outputs for the squared error), the L2 scaling (alpha / batch size, the
penalty in the reported loss), the update rules, the learning-rate schedules, the
tol / n_iter_no_change logic and early stopping, all at once.

The same ``random_state`` gives both the same initial weights (bprop draws them as
scikit-learn does); one test also copies the weights across explicitly. Every test runs
with bprop's compiled fast path allowed and forbidden, since the trainer may take either.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.preprocessing import StandardScaler

import bprop.training.fast
from bprop import MLPClassifier, MLPRegressor

TIGHT = dict(rtol=1e-9, atol=1e-12)


@pytest.fixture(params=["fast-allowed", "numpy-only"])
def fast_path(request):
    if request.param == "numpy-only":
        with bprop.training.fast.disabled():
            yield request.param
    else:
        yield request.param


def _fit_both(ours, theirs, X, y, sample_weight=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "Got `batch_size`", UserWarning)  # both warn
        ours.fit(X, y, sample_weight=sample_weight)
        theirs.fit(X, y, sample_weight=sample_weight)
    return ours, theirs


def _assert_same(ours, theirs, curve=True, loss=True):
    assert ours.n_iter_ == theirs.n_iter_
    if curve:
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, **TIGHT)
    if loss:
        np.testing.assert_allclose(ours.loss_, theirs.loss_, **TIGHT)
    for a, b in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def classification(n_classes=3, n=103, seed=0):
    X, y = make_classification(
        n_samples=n, n_features=6, n_informative=4, n_classes=n_classes, random_state=seed
    )
    return StandardScaler().fit_transform(X), y


def regression(n_targets=1, n=97, seed=0):
    X, y = make_regression(n_samples=n, n_features=5, n_targets=n_targets, random_state=seed)
    return StandardScaler().fit_transform(X), y / np.std(y)


SGD = dict(solver="sgd", shuffle=False, learning_rate_init=0.05, batch_size=20, random_state=3)


@pytest.mark.parametrize(
    "extra",
    [
        dict(momentum=0.0, alpha=0.0),
        dict(momentum=0.9, nesterovs_momentum=True, alpha=1e-2),
        dict(momentum=0.7, nesterovs_momentum=False, alpha=0.1),
        dict(learning_rate="invscaling", power_t=0.3, learning_rate_init=0.5),
        dict(learning_rate="adaptive", tol=1e-2, n_iter_no_change=2),
        dict(activation="logistic", hidden_layer_sizes=(7, 5)),
        dict(activation="tanh", batch_size=1, max_iter=5),
        dict(activation="identity", batch_size=500),
    ],
    ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()),
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_sgd_matches_sklearn(fast_path, extra, n_classes):
    X, y = classification(n_classes)
    params = {**SGD, "max_iter": 25, "hidden_layer_sizes": (8,), **extra}
    ours, theirs = _fit_both(MLPClassifier(**params), SkClassifier(**params), X, y)
    _assert_same(ours, theirs)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8)


def test_multilabel_classifier_matches_sklearn(fast_path):
    X, Y = make_multilabel_classification(n_samples=80, n_features=5, n_classes=3, random_state=0)
    params = {**SGD, "max_iter": 20, "hidden_layer_sizes": (6,), "alpha": 1e-3}
    ours, theirs = _fit_both(MLPClassifier(**params), SkClassifier(**params), X / 5.0, Y)
    _assert_same(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X / 5.0), theirs.predict(X / 5.0))


@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_regressor_sgd_matches_sklearn(fast_path, n_targets, alpha):
    X, y = regression(n_targets)
    params = {**SGD, "max_iter": 30, "hidden_layer_sizes": (9,), "alpha": alpha}
    params["learning_rate_init"] = 0.01
    ours, theirs = _fit_both(MLPRegressor(**params), SkRegressor(**params), X, y)
    _assert_same(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8, atol=1e-10)


def test_tol_stopping_matches_sklearn(fast_path):
    """Both stop at the same epoch on n_iter_no_change, with the same best_loss_."""
    X, y = classification(3)
    params = {**SGD, "max_iter": 200, "tol": 1e-3, "n_iter_no_change": 3}
    ours, theirs = _fit_both(MLPClassifier(**params), SkClassifier(**params), X, y)
    assert ours.n_iter_ < 200
    _assert_same(ours, theirs)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    assert ours.t_ == theirs.t_


@pytest.mark.parametrize("make_pair", ["classifier", "regressor"])
def test_early_stopping_matches_sklearn(fast_path, make_pair):
    """Same validation split, same scores, same best weights restored."""
    if make_pair == "classifier":
        (X, y), ours_cls, theirs_cls = classification(2, n=150), MLPClassifier, SkClassifier
    else:
        (X, y), ours_cls, theirs_cls = regression(1, n=150), MLPRegressor, SkRegressor
    params = {**SGD, "max_iter": 60, "early_stopping": True, "n_iter_no_change": 4}
    params["validation_fraction"] = 0.2
    ours, theirs = _fit_both(ours_cls(**params), theirs_cls(**params), X, y)
    _assert_same(ours, theirs)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, **TIGHT)
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
    assert ours.best_loss_ is None and theirs.best_loss_ is None


def test_weights_copied_in_give_the_same_curve(fast_path):
    """The acceptance test as worded: fixed initial weights copied into both estimators."""
    X, y = classification(3)
    params = {**SGD, "hidden_layer_sizes": (5,), "alpha": 1e-3, "max_iter": 1}
    rng = np.random.default_rng(7)
    W0 = [rng.normal(0, 0.5, (6, 5)), rng.normal(0, 0.5, (5, 3))]
    b0 = [rng.normal(0, 0.1, 5), rng.normal(0, 0.1, 3)]
    ours, theirs = _fit_both(MLPClassifier(**params), SkClassifier(**params), X, y)
    for est in (ours, theirs):  # the fitted shapes, now with our weights and a fresh start
        est.coefs_ = [W.copy() for W in W0]
        est.intercepts_ = [b.copy() for b in b0]
        est.loss_curve_ = []
        est.set_params(warm_start=True, max_iter=30, n_iter_no_change=1000)
    _fit_both(ours, theirs, X, y)
    assert len(ours.loss_curve_) == 30
    _assert_same(ours, theirs)


def test_adam_matches_sklearn(fast_path):
    X, y = classification(3)
    params = dict(hidden_layer_sizes=(8,), shuffle=False, random_state=1, max_iter=40, alpha=1e-3)
    params["learning_rate_init"] = 0.01
    ours, theirs = _fit_both(MLPClassifier(**params), SkClassifier(**params), X, y)
    _assert_same(ours, theirs)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_lbfgs_matches_sklearn(kind):
    """The same scipy routine on the same objective: the same iterates to rounding.

    One regression output only: for K > 1 outputs scikit-learn hands scipy the loss
    divided by K but the gradient of the undivided sum (see bprop.sklearn._base), so
    its line searches see an inconsistent pair and the iterates differ from bprop's.
    """
    params = dict(solver="lbfgs", hidden_layer_sizes=(6,), random_state=0, alpha=1e-2)
    params["max_iter"] = 40
    if kind == "regressor":
        (X, y), pair = regression(1), (MLPRegressor(**params), SkRegressor(**params))
    else:
        (X, y), pair = classification(3), (MLPClassifier(**params), SkClassifier(**params))
    ours, theirs = _fit_both(*pair, X, y)
    _assert_same(ours, theirs, curve=False)


def test_sample_weight_gradient_matches_sklearn(fast_path):
    """With unequal sample weights the updates (hence the weights) match scikit-learn's.

    The reported loss differs by definition (see bprop.sklearn._base), so the stopping
    test is switched off with n_iter_no_change.
    """
    X, y = classification(2)
    sw = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    params = {**SGD, "max_iter": 15, "alpha": 1e-2, "n_iter_no_change": 1000}
    ours, theirs = _fit_both(MLPClassifier(**params), SkClassifier(**params), X, y, sw)
    _assert_same(ours, theirs, curve=False, loss=False)


def test_partial_fit_matches_sklearn(fast_path):
    X, y = classification(3)
    params = {**SGD, "hidden_layer_sizes": (6,), "alpha": 1e-3}
    ours, theirs = MLPClassifier(**params), SkClassifier(**params)
    for start in range(0, 100, 25):
        sl = slice(start, start + 25)
        ours.partial_fit(X[sl], y[sl], classes=[0, 1, 2])
        theirs.partial_fit(X[sl], y[sl], classes=[0, 1, 2])
    _assert_same(ours, theirs)
    assert ours.t_ == theirs.t_ == 100


def counts(n_targets=1, n=97, seed=0):
    """Poisson counts with a log-linear mean: y ~ Poisson(exp(0.4 x_0 - 0.3 x_1 (+ 0.2 k)))."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    mean = np.exp(0.4 * X[:, :1] - 0.3 * X[:, 1:2] + 0.2 * np.arange(n_targets))
    y = rng.poisson(mean).astype(float)
    return X, y.ravel() if n_targets == 1 else y


@pytest.mark.skipif(
    "loss" not in inspect.signature(SkRegressor).parameters,
    reason="the installed scikit-learn has no MLPRegressor(loss='poisson') (added in 1.7)",
)
@pytest.mark.parametrize(
    ("extra", "n_targets"),
    [
        (dict(momentum=0.0, alpha=1e-2), 1),
        (dict(learning_rate="invscaling", nesterovs_momentum=False), 2),
        (dict(solver="adam", learning_rate_init=0.01), 1),
        (dict(solver="lbfgs", batch_size="auto"), 1),
    ],
)
def test_poisson_regressor_matches_sklearn(fast_path, extra, n_targets):
    """loss='poisson': exp outputs, half the Poisson deviance summed over the outputs."""
    X, y = counts(n_targets)
    params = {**SGD, "loss": "poisson", "hidden_layer_sizes": (7,), "max_iter": 30, **extra}
    ours, theirs = _fit_both(MLPRegressor(**params), SkRegressor(**params), X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    _assert_same(ours, theirs, curve=extra.get("solver") != "lbfgs")
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8)
