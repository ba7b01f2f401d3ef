"""The estimators' behaviour: validation, fitted state, extensions, meta-estimators, pickling."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import compute_sample_weight

import bprop
from bprop import (
    DivergenceWarning,
    EarlyStopping,
    History,
    MLPAutoencoder,
    MLPClassifier,
    MLPRegressor,
    Network,
    StopReason,
    TargetError,
)
from bprop.sklearn._solvers import SklearnAdam
from bprop.training.trainer import Trainer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def clf_data():
    X, y = make_classification(
        n_samples=120, n_features=5, n_informative=3, n_classes=3, random_state=0
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def reg_data():
    X, y = make_regression(n_samples=100, n_features=4, n_targets=2, random_state=0)
    return StandardScaler().fit_transform(X), y / y.std(axis=0)


def small(cls, **kw):
    return cls(**{"hidden_layer_sizes": (6,), "max_iter": 30, "random_state": 0, **kw})


# ---------------------------------------------------------------------- input validation
@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0]]), "infinity"),
        (np.array([1.0, 2.0, 3.0]), "Expected 2D array, got 1D array"),
        (np.empty((0, 2)), "0 sample"),
        (np.array([["a", "b"], ["c", "d"]]), "could not convert string to float"),
    ],
    ids=["nan", "inf", "1d", "empty", "strings"],
)
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor, MLPAutoencoder])
def test_bad_X_is_refused_with_sklearn_messages(cls, X, message):
    y = np.arange(len(X)) % 2
    with pytest.raises(ValueError, match=message):
        small(cls).fit(X, y)


def test_wrong_number_of_features_at_predict(clf_data):
    X, y = clf_data
    est = small(MLPClassifier).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but MLPClassifier is expecting 5"):
        est.predict(X[:, :4])


def test_continuous_y_and_mixed_labels_are_refused_by_the_classifier(clf_data):
    X, _ = clf_data
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        small(MLPClassifier).fit(X, np.linspace(0, 1, len(X)))
    mixed = np.array(["a", 1] * (len(X) // 2), dtype=object)
    with pytest.raises(ValueError, match="Mix of label input types"):
        small(MLPClassifier).fit(X, mixed)


def test_predict_before_fit_raises_not_fitted(clf_data):
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(clf_data[0])


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("hidden_layer_sizes", (5, 0)),
        ("activation", "swish"),
        ("solver", "newton"),
        ("alpha", -1.0),
        ("batch_size", 0),
        ("learning_rate", "cosine"),
        ("learning_rate_init", 0.0),
        ("max_iter", 0),
        ("momentum", 1.5),
        ("validation_fraction", 1.0),
        ("beta_1", 1.0),
        ("epsilon", 0.0),
        ("n_iter_no_change", 0),
        ("max_fun", 0),
        ("stopping", ["early"]),
        ("callbacks", [3]),
    ],
)
def test_bad_parameters_raise_value_errors_naming_the_value(clf_data, param, value):
    X, y = clf_data
    with pytest.raises(ValueError, match=repr(value).strip("[]()").split(",")[0]):
        small(MLPClassifier, **{param: value}).fit(X, y)


def test_poisson_loss_refuses_negative_targets_and_unknown_losses(reg_data):
    X, Y = reg_data
    est = small(MLPRegressor, loss="poisson")
    with pytest.raises(ValueError, match=r"loss='poisson'\) needs targets y >= 0"):
        est.fit(X, Y)
    assert not hasattr(est, "network_")  # refused before anything was fitted
    with pytest.raises(ValueError, match="'loss' parameter.*'squared_error', 'poisson'"):
        small(MLPRegressor, loss="huber").fit(X, Y)


def test_poisson_regressor_fits_counts_and_saves(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = rng.poisson(np.exp(0.8 * X[:, 0])).astype(float)
    est = MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), random_state=0, max_iter=300)
    est.set_params(learning_rate_init=0.01).fit(X, y)
    assert est.out_activation_ == "exp" and est.network_.output_activation.name == "exp"
    pred = est.predict(X)
    assert np.all(pred > 0)
    # the fitted mean follows exp(0.8 x_0): better than the constant mean by far
    assert np.corrcoef(np.log(pred), X[:, 0])[0, 1] > 0.9
    est.save(tmp_path / "p.bprop")
    back = bprop.load(tmp_path / "p.bprop")
    assert back.loss == "poisson"
    np.testing.assert_array_equal(back.predict(X), pred)


# ---------------------------------------------------------------------- fitted state
def test_fitted_attributes_and_views(clf_data):
    X, y = clf_data
    est = small(MLPClassifier, hidden_layer_sizes=(6, 4)).fit(X, y)
    assert isinstance(est.network_, Network) and isinstance(est.history_, History)
    assert est.network_.sizes == (5, 6, 4, 3)
    assert (est.n_layers_, est.n_outputs_, est.out_activation_) == (4, 3, "softmax")
    assert est.n_features_in_ == 5 and list(est.classes_) == [0, 1, 2]
    assert len(est.loss_curve_) == est.n_iter_ == est.history_.epochs
    assert est.t_ == est.n_iter_ * len(X)
    assert est.loss_ == est.loss_curve_[-1] and est.best_loss_ == min(est.loss_curve_)
    for W, W_net in zip(est.coefs_, est.network_.weights, strict=True):
        assert np.shares_memory(W, W_net)
    before = est.predict_proba(X)
    est.coefs_[1] = np.zeros_like(est.coefs_[1])  # replaced by the user: copied in
    after = est.predict_proba(X)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(est.network_.weights[1], 0.0)


def test_predict_proba_and_log_proba(clf_data):
    X, y = clf_data
    est = small(MLPClassifier).fit(X, y)
    P = est.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(P))
    np.testing.assert_array_equal(est.predict(X), est.classes_[P.argmax(axis=1)])


def test_binary_string_labels_and_one_output():
    X, y = make_classification(n_samples=60, n_features=4, random_state=1)
    labels = np.where(y == 1, "spam", "ham")
    est = small(MLPClassifier).fit(X, labels)
    assert est.n_outputs_ == 1 and est.out_activation_ == "logistic"
    assert est.predict_proba(X).shape == (60, 2)
    assert set(est.predict(X)) <= {"spam", "ham"}


def test_multilabel_and_multioutput_shapes(reg_data):
    X, Y = reg_data
    labels = (Y > 0).astype(int)
    clf = small(MLPClassifier).fit(X, labels)
    assert clf.predict(X).shape == labels.shape and clf.out_activation_ == "logistic"
    reg = small(MLPRegressor).fit(X, Y)
    assert reg.predict(X).shape == Y.shape
    assert small(MLPRegressor).fit(X, Y[:, 0]).predict(X).shape == (len(X),)


def test_float32_input_trains_a_float32_network(clf_data):
    X, y = clf_data
    est = small(MLPClassifier).fit(X.astype(np.float32), y)
    assert est.network_.dtype == np.float32 and est.coefs_[0].dtype == np.float32
    assert est.predict_proba(X).dtype == np.float32


def test_sparse_input_gives_the_same_model_as_dense(clf_data):
    X, y = clf_data
    dense = small(MLPClassifier).fit(X, y)
    sparse = small(MLPClassifier).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(dense.loss_curve_, sparse.loss_curve_)
    np.testing.assert_allclose(dense.predict_proba(X), sparse.predict_proba(sp.csr_matrix(X)))


def test_convergence_warning_at_max_iter(clf_data):
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        small(MLPClassifier, max_iter=3).fit(*clf_data)


def test_divergence_is_reported_not_raised(reg_data):
    """With bprop's own rules ('gd' here); scikit-learn's 'sgd' raises as scikit-learn does
    (tests/sklearn/test_sklearn_expectations.py)."""
    X, Y = reg_data
    with pytest.warns(DivergenceWarning):
        est = small(MLPRegressor, solver="gd", learning_rate_init=1e6).fit(X, Y)
    assert est.history_.stop_reason.startswith("diverged")
    assert est.history_.stop is StopReason.DIVERGED
    assert np.all(np.isfinite(est.network_.params))


def test_warm_start_continues_from_the_weights(clf_data):
    X, y = clf_data
    a = small(MLPClassifier, solver="sgd", shuffle=False, momentum=0, max_iter=10).fit(X, y)
    first = a.loss_curve_[-1]
    a.set_params(warm_start=True).fit(X, y)
    assert len(a.loss_curve_) == 20  # appended, as scikit-learn does
    assert a.loss_curve_[10] < first


def test_partial_fit_rules(clf_data):
    X, y = clf_data
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, y.astype(float))
    est = small(MLPClassifier)
    for _ in range(3):
        est.partial_fit(X, y, classes=[0, 1, 2])
    assert est.n_iter_ == 1 and est.t_ == 3 * len(X) and len(est.loss_curve_) == 3
    with pytest.raises(ValueError, match="classes not in"):
        est.partial_fit(X, np.full(len(X), 7))


def test_adam_is_sklearns_form():
    """SklearnAdam: eta sqrt(1-b2^t)/(1-b1^t) m/(sqrt(v)+eps), worked by hand for t = 1, 2."""
    rule = SklearnAdam(learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-3)
    state = rule.init(1, np.dtype(np.float64))
    g1, g2 = 0.02, -0.01
    d1 = rule.step(np.array([g1]), state).copy()
    m, v = 0.1 * g1, 0.001 * g1**2
    np.testing.assert_allclose(d1, -0.1 * np.sqrt(0.001) / 0.1 * m / (np.sqrt(v) + 1e-3))
    d2 = rule.step(np.array([g2]), state)
    m, v = 0.9 * m + 0.1 * g2, 0.999 * v + 0.001 * g2**2
    lr2 = 0.1 * np.sqrt(1 - 0.999**2) / (1 - 0.9**2)
    np.testing.assert_allclose(d2, -lr2 * m / (np.sqrt(v) + 1e-3))


# ---------------------------------------------------------------------- extensions
@pytest.mark.parametrize(
    "solver",
    [
        "gd",
        "momentum",
        "nesterov",
        "rprop",
        "rprop-",
        "irprop+",
        "irprop-",
        "quickprop",
        "adagrad",
        "rmsprop",
        "lbfgs",
    ],
)
def test_every_bprop_rule_is_a_solver(clf_data, solver):
    X, y = clf_data
    est = small(MLPClassifier, solver=solver, max_iter=20).fit(X, y)
    assert est.n_iter_ >= 1
    assert est.loss_curve_[-1] < est.loss_curve_[0]


def test_levenberg_marquardt_for_regression(reg_data):
    X, Y = reg_data
    est = small(MLPRegressor, solver="lm", max_iter=10).fit(X, Y)
    assert est.loss_curve_[-1] < est.loss_curve_[0]


def test_levenberg_marquardt_refuses_cross_entropy(clf_data):
    with pytest.raises(ValueError, match="sum-of-squares"):
        small(MLPClassifier, solver="lm").fit(*clf_data)


def test_batch_size_larger_than_n_is_clipped_with_sklearns_warning(clf_data):
    X, y = clf_data
    with pytest.warns(UserWarning, match="It is going to be clipped"):
        est = small(MLPClassifier, batch_size=10_000, max_iter=2).fit(X, y)
    assert est._trainer.batch_size == len(X)


def test_lbfgs_ignores_early_stopping_as_sklearn_does(clf_data):
    X, y = clf_data
    est = small(MLPClassifier, solver="lbfgs", early_stopping=True, max_iter=5).fit(X, y)
    plain = small(MLPClassifier, solver="lbfgs", max_iter=5).fit(X, y)
    np.testing.assert_array_equal(est.network_.params, plain.network_.params)


def test_solver_params_reach_the_rule(clf_data):
    X, y = clf_data
    est = small(MLPClassifier, solver="rprop", solver_params={"delta0": 0.05}, max_iter=2)
    est.fit(X, y)
    assert est._trainer.rule.delta0 == 0.05
    with pytest.raises(ValueError, match="delta0|hyperparameters"):
        small(MLPClassifier, solver="adam", solver_params={"delta0": 1}).fit(X, y)


def test_extra_activations(clf_data):
    X, y = clf_data
    for act in ("leaky_relu", "softplus", "gaussian"):
        est = small(MLPClassifier, activation=act).fit(X, y)
        assert est.network_.activations[0].name == act


def test_class_weight_is_sample_weight(clf_data):
    X, y = clf_data
    y = np.where(y == 2, 1, y)  # unbalanced: 0 and 1, about 1:2
    cw = small(MLPClassifier, class_weight="balanced").fit(X, y)
    sw = small(MLPClassifier).fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    np.testing.assert_array_equal(cw.network_.params, sw.network_.params)
    plain = small(MLPClassifier).fit(X, y)
    assert not np.array_equal(cw.network_.params, plain.network_.params)


def test_sample_weight_zero_drops_patterns(clf_data):
    """Zero weight on a pattern is the same as leaving it out (full batch, no shuffle)."""
    X, y = clf_data
    kw = dict(solver="irprop-", max_iter=10)
    sw = np.ones(len(X))
    sw[:30] = 0.0
    weighted = small(MLPClassifier, **kw).fit(X, y, sample_weight=sw)
    dropped = small(MLPClassifier, **kw).fit(X[30:], y[30:])
    np.testing.assert_allclose(weighted.network_.params, dropped.network_.params, rtol=1e-10)


def test_callbacks_are_called_and_can_stop(clf_data):
    X, y = clf_data
    seen = []

    def stop_at_three(trainer, record):
        seen.append(record.epoch)
        return record.epoch == 3

    est = small(MLPClassifier, callbacks=[stop_at_three]).fit(X, y)
    assert seen == [1, 2, 3] and est.n_iter_ == 3
    assert "stop_at_three" in est.history_.stop_reason
    assert est.history_.stop is StopReason.CALLBACK


def test_bprop_stopping_criteria(clf_data):
    X, y = clf_data
    est = small(MLPClassifier, solver="irprop-", max_iter=500, stopping=TargetError(0.3))
    est.fit(X, y)
    assert est.history_.stop_reason.startswith("target_error")
    assert est.history_.stop is StopReason.TARGET_ERROR
    assert est.history_.loss[-1] <= 0.3 < est.history_.loss[-2]
    es = small(MLPClassifier, stopping=[EarlyStopping(patience=2, min_delta=10.0)]).fit(X, y)
    assert es.history_.stop_reason.startswith("early_stopping") and es.n_iter_ == 3
    assert es.history_.stop is StopReason.EARLY_STOPPING
    assert np.all(np.isfinite(es.history_.val_loss))  # validation_fraction held out


def test_verbose_shows_a_progress_bar_and_sklearn_lines(clf_data, capsys):
    X, y = clf_data
    small(MLPClassifier, verbose=True, max_iter=2).fit(X, y)
    captured = capsys.readouterr()
    assert "epoch" in captured.err and captured.out == ""
    small(MLPClassifier, verbose=2, max_iter=2).fit(X, y)
    assert "Iteration 2, loss = " in capsys.readouterr().out


def test_init_parameter(clf_data):
    X, y = clf_data
    a = small(MLPClassifier, init="he_normal", max_iter=1).fit(X, y)
    b = small(MLPClassifier, max_iter=1).fit(X, y)
    assert not np.allclose(a.coefs_[0], b.coefs_[0])


# ---------------------------------------------------------------------- meta-estimators
def test_pipeline_gridsearch_cross_val_score(clf_data):
    X, y = clf_data
    pipe = make_pipeline(StandardScaler(), small(MLPClassifier, max_iter=20))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    grid = GridSearchCV(pipe, {"mlpclassifier__solver": ["adam", "rprop"]}, cv=2).fit(X, y)
    assert grid.best_params_["mlpclassifier__solver"] in ("adam", "rprop")
    ae = GridSearchCV(small(MLPAutoencoder), {"hidden_layer_sizes": [(2,), (3,)]}, cv=2)
    assert ae.fit(X).best_params_["hidden_layer_sizes"] in ((2,), (3,))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor, MLPAutoencoder])
def test_pickle_round_trip_and_resume(clf_data, cls):
    X, y = clf_data
    est = small(cls).fit(X, y if cls is MLPClassifier else y.astype(float))
    est.predict(X) if cls is not MLPAutoencoder else est.transform(X)  # fill work buffers
    blob = pickle.dumps(est)
    assert len(blob) < 20_000  # weights and history, no per-batch work arrays
    back = pickle.loads(blob)
    out = (lambda e: e.transform(X)) if cls is MLPAutoencoder else (lambda e: e.predict(X))
    np.testing.assert_array_equal(out(back), out(est))
    assert all(
        np.shares_memory(a, b) for a, b in zip(back.coefs_, back.network_.weights, strict=True)
    )
    if cls is not MLPAutoencoder:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # resuming needs no re-initialisation
            kw = {"classes": est.classes_} if cls is MLPClassifier else {}
            back.partial_fit(X, y if cls is MLPClassifier else y.astype(float), **kw)
        assert back.t_ == est.t_ + len(X)


# ---------------------------------------------------------------------- autoencoder
def test_autoencoder_transform_and_inverse_transform():
    X = np.random.default_rng(0).normal(size=(50, 6))
    ae = MLPAutoencoder(hidden_layer_sizes=(5, 2, 5), max_iter=20, random_state=0).fit(X)
    assert ae.code_layer_ == 1 and ae.n_components_ == 2
    Z = ae.transform(X)
    assert Z.shape == (50, 2)
    X_hat = ae.inverse_transform(Z)
    np.testing.assert_allclose(X_hat, ae.network_.predict(X), rtol=1e-12)
    assert ae.score(X) == pytest.approx(-np.mean((X - X_hat) ** 2))
    assert list(ae.get_feature_names_out()) == ["mlpautoencoder0", "mlpautoencoder1"]
    with pytest.raises(ValueError, match="code size"):
        ae.inverse_transform(X)
    with pytest.raises(ValueError, match="code_layer"):
        MLPAutoencoder(hidden_layer_sizes=(4,), code_layer=1).fit(X)


def test_autoencoder_learns_the_8_3_8_encoder():
    """Rumelhart, Hinton & Williams' encoder problem: 8 one-hot patterns through 3 units."""
    X = np.eye(8)
    ae = MLPAutoencoder(
        hidden_layer_sizes=(3,),
        activation="logistic",
        out_activation="logistic",
        solver="lbfgs",
        alpha=0.0,
        max_iter=500,
        random_state=0,
    ).fit(X)
    X_hat = ae.inverse_transform(ae.transform(X))
    np.testing.assert_array_equal(X_hat.argmax(axis=1), np.arange(8))  # 8 distinct codes


def test_autoencoder_partial_fit_and_sample_weight():
    X = np.random.default_rng(1).normal(size=(40, 4))
    ae = MLPAutoencoder(hidden_layer_sizes=(2,), solver="sgd", random_state=0)
    for _ in range(3):
        ae.partial_fit(X)
    assert len(ae.loss_curve_) == 3 and ae.t_ == 120
    sw = np.ones(len(X))
    sw[:10] = 0.0
    kw = dict(hidden_layer_sizes=(2,), solver="irprop-", max_iter=5, random_state=0)
    weighted = MLPAutoencoder(**kw).fit(X, sample_weight=sw)
    dropped = MLPAutoencoder(**kw).fit(X[10:])
    np.testing.assert_allclose(weighted.network_.params, dropped.network_.params, rtol=1e-10)


@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_learning_rate_schedules_leave_the_rule_unchanged(schedule):
    """scikit-learn's schedules change the current rate in the rule state only."""
    from bprop import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    est = MLPRegressor(
        hidden_layer_sizes=(4,),
        solver="sgd",
        learning_rate=schedule,
        learning_rate_init=0.01,
        n_iter_no_change=1,
        tol=10.0,  # 'adaptive' divides the rate by 5 at every epoch
        max_iter=4,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    trainer = est._trainer
    assert trainer.rule.learning_rate == 0.01
    assert trainer.state.rule_state.learning_rate < 0.01
    rates = [r.learning_rate for r in est.history_.records]
    assert rates[0] == 0.01 and rates[-1] < 0.01


def test_lbfgs_out_of_evaluations_warns_from_the_stop_reason():
    """scipy's max_fun is StopReason.SOLVER_LIMIT, which the ConvergenceWarning reads."""
    from bprop import MLPRegressor

    X, y = make_regression(n_samples=40, n_features=3, random_state=0)
    est = MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_fun=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        est.fit(X, y)
    assert est.history_.stop is StopReason.SOLVER_LIMIT
    assert "EXCEEDS LIMIT" in est.history_.stop_reason


def test_autoencoder_transform_is_the_networks_forward_pass():
    """transform is the code layer's o_j of the network's own forward pass; decoding it
    gives the network's reconstruction."""
    from bprop import MLPAutoencoder

    X = np.random.default_rng(0).normal(size=(30, 6))
    ae = MLPAutoencoder(hidden_layer_sizes=(5, 2, 5), max_iter=3, random_state=0).fit(X)
    net = ae.network_
    net.forward(X)
    np.testing.assert_array_equal(ae.transform(X), net.outputs[ae.code_layer_])
    np.testing.assert_allclose(ae.inverse_transform(ae.transform(X)), net.predict(X), rtol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "irprop+"])
def test_validation_split_trains_on_rows_of_x_not_a_copy(monkeypatch, solver):
    """The training part of the validation split reaches the trainer as row indices into
    X itself, not as a copy of those rows (the trainer's test shows the same bits)."""
    X, y = make_regression(n_samples=200, n_features=4, noise=0.1, random_state=0)
    seen = {}
    fit = Trainer.fit

    def spy(self, data, target=None, **kw):
        seen["data"], seen["rows"] = data, kw.get("rows")
        return fit(self, data, target, **kw)

    monkeypatch.setattr(Trainer, "fit", spy)
    est = bprop.MLPRegressor(hidden_layer_sizes=(5,), solver=solver, early_stopping=True,
                             max_iter=4, random_state=0, n_iter_no_change=100)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert np.shares_memory(seen["data"], X)
    rows = seen["rows"]
    assert len(rows) == 180 and len(est.validation_indices_) == 20
    assert sorted([*rows, *est.validation_indices_]) == list(range(200))
    assert est.network_._X is None  # the fitted model holds no block of the data
