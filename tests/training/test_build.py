"""The builder: each decision the front ends share, made in one function."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from bprop import EarlyStopping, GradientDescent, History, Network, TargetError
from bprop.core.losses import output_activation_for, resolve_loss
from bprop.training.build import (
    build_rule,
    check_validation,
    needs_validation,
    restore_best_weights,
    rule_name,
    stopping_criteria,
    validation_split,
)


@pytest.mark.parametrize(
    "task, n, activation, loss",
    [
        ("regression", 3, "identity", "squared_error"),
        ("classification", 1, "logistic", "binary_cross_entropy"),
        ("classification", 4, "softmax", "categorical_cross_entropy"),
        ("multilabel", 3, "logistic", "binary_cross_entropy"),
    ],
)
def test_task_to_output_activation_to_loss(task, n, activation, loss):
    act = output_activation_for(task, n)
    assert act.name == activation
    assert resolve_loss(None, act).name == loss


def test_resolve_loss_checks_the_pair():
    assert resolve_loss("mse", output_activation_for("regression", 1)).name == "mse"
    with pytest.raises(ValueError):
        resolve_loss("categorical_cross_entropy", output_activation_for("regression", 1))
    with pytest.raises(ValueError, match="unknown task 'ranking'"):
        output_activation_for("ranking", 1)


def test_build_rule_learning_rates():
    assert build_rule("sgd", learning_rate=0.3).hyperparameters() == {"learning_rate": 0.3}
    # an explicit rate overrides the hyperparameters; a default does not
    assert build_rule("gd", {"learning_rate": 0.2}, learning_rate=0.3).learning_rate == 0.3
    assert build_rule("gd", {"learning_rate": 0.2}, default_learning_rate=0.3).learning_rate == 0.2
    assert build_rule("adam", default_learning_rate=0.3).learning_rate == 0.3
    # full-batch-only rules keep their own defaults; RPROP has no learning rate at all
    assert build_rule("quickprop", default_learning_rate=0.3).learning_rate == 0.1
    assert build_rule("irprop+", default_learning_rate=0.3).name == "irprop+"
    rule = GradientDescent(0.7)
    assert build_rule(rule) is rule
    assert rule_name("sgd") == "gd" and rule_name(rule) == "gd"
    with pytest.raises(ValueError, match="unknown update rule"):
        build_rule("newton")


def test_validation_split_is_train_test_split_with_stratification():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    (X_tr, y_tr, none_tr), (X_val, y_val, none_val) = validation_split(
        (X, y, None), 0.2, 0, stratify=y
    )
    assert none_tr is None and none_val is None
    assert len(y_val) == 20 and y_val.sum() == 4  # the class proportions are kept
    ref = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    np.testing.assert_array_equal(X_tr, ref[0])
    np.testing.assert_array_equal(X_val, ref[1])
    with pytest.raises(ValueError, match="validation set is too small"):
        validation_split((X[:5],), 0.2, 0)


def test_stopping_setup_and_the_validation_check():
    early = EarlyStopping(patience=3)
    assert stopping_criteria(None) == () and stopping_criteria(early) == (early,)
    with pytest.raises(ValueError, match="must be StoppingCriterion"):
        stopping_criteria(["early"])
    assert needs_validation((TargetError(0.1), early))
    assert not needs_validation((TargetError(0.1),))
    check_validation((early,), True)
    with pytest.raises(ValueError, match="EarlyStopping needs validation_data"):
        check_validation((TargetError(0.1), early), False)


def test_restore_best_weights():
    net, history = Network([2, 1], seed=0), History()
    assert not restore_best_weights(net, None, history) and not history.restored_best
    best = np.arange(net.n_params, dtype=float)
    assert restore_best_weights(net, best, history) and history.restored_best
    np.testing.assert_array_equal(net.params, best)
