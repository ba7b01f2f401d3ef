"""Stopping criteria: each fires at the epoch its definition says, not before."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import (
    AllCorrect,
    EarlyStopping,
    EpochRecord,
    GeneralizationLoss,
    GradientDescent,
    History,
    Momentum,
    Network,
    ProgressQuotient,
    StoppingCriterion,
    StopReason,
    TargetError,
    Trainer,
    UpStrips,
)
from bprop.training.stopping import generalization_loss, training_progress


def history_of(train, val=None, metric=None):
    val = val if val is not None else [None] * len(train)
    metric = metric if metric is not None else [None] * len(train)
    return History(
        [
            EpochRecord(t + 1, tr, m, v)
            for t, (tr, v, m) in enumerate(zip(train, val, metric, strict=True))
        ]
    )


def first_stop(criterion, train, val=None, metric=None):
    """The epoch (1-based) at which the criterion first fires when fed epoch by epoch."""
    for t in range(1, len(train) + 1):
        h = history_of(
            train[:t], None if val is None else val[:t], None if metric is None else metric[:t]
        )
        if criterion.check(h):
            return t
    return None


def test_target_error():
    assert first_stop(TargetError(0.1), [0.5, 0.2, 0.1, 0.05]) == 3


def test_all_correct():
    assert first_stop(AllCorrect(), [1, 1, 1, 1], metric=[0.5, 0.99, 1.0, 1.0]) == 3


def test_early_stopping_patience_and_min_delta():
    val = [1.0, 0.8, 0.7, 0.71, 0.72, 0.69, 0.70, 0.75, 0.8, 0.9]
    train = [1.0] * len(val)
    # best 0.69 at epoch 6; three epochs without improvement -> stops at 9
    assert first_stop(EarlyStopping(patience=3), train, val) == 9
    # with min_delta 0.02, 0.69 is no improvement on 0.7 (needs < 0.68): last one at epoch 3
    assert first_stop(EarlyStopping(patience=3, min_delta=0.02), train, val) == 6


def test_generalization_loss_definition():
    assert generalization_loss(np.array([1.0, 0.5, 0.55])) == pytest.approx(10.0)
    val = [1.0, 0.5, 0.51, 0.52, 0.53, 0.6]
    # GL = 100 (E_va / 0.5 - 1): 2, 4, 6, 20 at epochs 3..6
    assert first_stop(GeneralizationLoss(alpha=5), [1] * 6, val) == 5
    assert first_stop(GeneralizationLoss(alpha=19), [1] * 6, val) == 6
    assert first_stop(GeneralizationLoss(alpha=21), [1] * 6, val) is None


def test_training_progress_definition():
    # P_5 = 1000 (mean / min - 1) over the last 5 training errors
    strip = [1.2, 1.1, 1.05, 1.02, 1.0]
    assert training_progress(np.array([9.0, *strip]), 5) == pytest.approx(
        1000 * (sum(strip) / (5 * 1.0) - 1)
    )


def test_progress_quotient_checks_only_at_strip_ends():
    train = [1.0, 0.9, 0.8, 0.75, 0.7, 0.69, 0.688, 0.687, 0.6865, 0.686]
    val = [1.0, 0.8, 0.7, 0.72, 0.74, 0.76, 0.78, 0.8, 0.82, 0.84]
    # at t = 5: GL = 100 (0.74/0.7 - 1) = 5.71, P_5 = 1000 (4.15/3.5 - 1) = 185.7 -> PQ 0.031
    # at t = 10: GL = 20, P_5 = 1000 (3.4375/3.43 - 1) = 2.19 -> PQ 9.1
    assert first_stop(ProgressQuotient(alpha=0.5, strip=5), train, val) == 10
    assert first_stop(ProgressQuotient(alpha=0.02, strip=5), train, val) == 5


def test_up_strips_needs_s_successive_increases_at_strip_ends():
    # validation error at strip ends (epochs 2, 4, 6, 8): 0.5, 0.6, 0.7, 0.65
    val = [0.6, 0.5, 0.55, 0.6, 0.65, 0.7, 0.6, 0.65]
    train = [1.0] * 8
    assert first_stop(UpStrips(s=1, strip=2), train, val) == 4
    assert first_stop(UpStrips(s=2, strip=2), train, val) == 6
    assert first_stop(UpStrips(s=3, strip=2), train, val) is None


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: EarlyStopping(patience=0), "patience must be a positive integer"),
        (lambda: GeneralizationLoss(alpha=-1), "alpha must be finite and > 0"),
        (lambda: UpStrips(s=0), "s must be a positive integer"),
        (lambda: TargetError(-0.1), "target must be finite and >= 0"),
    ],
)
def test_bad_parameters(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def overfitting_problem():
    """Few noisy training points and a big network: the validation error turns up."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(12, 1))
    y = np.sin(3 * X) + rng.normal(0, 0.3, size=X.shape)
    Xv = np.linspace(-1, 1, 50)[:, None]
    return X, y, Xv, np.sin(3 * Xv)


@pytest.mark.parametrize(
    "criterion",
    [EarlyStopping(patience=20), GeneralizationLoss(alpha=2), UpStrips(s=2, strip=5)],
)
def test_validation_criteria_restore_the_best_weights(criterion):
    X, y, Xv, yv = overfitting_problem()
    net = Network([1, 40, 1], "tanh", "identity", seed=0)
    best = {}

    def remember(trainer, record):  # the weights after each epoch, by epoch
        best[record.epoch] = trainer.network.params.copy()

    trainer = Trainer(
        net,
        loss="mse",
        rule=Momentum(0.05, 0.9),
        mode="batch",
        max_epochs=3000,
        stopping=criterion,
        callbacks=[remember],
        progress=False,
    )
    history = trainer.fit(X, y, validation_data=(Xv, yv))
    assert history.epochs < 3000, "the criterion never fired: the problem does not overfit"
    assert history.restored_best
    best_epoch = int(np.nanargmin(history.val_loss)) + 1
    assert history.best_epoch == best_epoch < history.epochs
    np.testing.assert_array_equal(net.params, best[best_epoch])


def test_validation_criteria_need_validation_data():
    with pytest.raises(ValueError, match="EarlyStopping needs validation_data"):
        Trainer(Network([1, 2, 1]), stopping=EarlyStopping()).fit([[0.0]], [0.0])


def test_criteria_combine_first_one_wins():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0], dtype=float)
    net = Network([2, 4, 1], "tanh", "logistic", seed=0)
    history = Trainer(
        net,
        loss="squared_error",
        rule=GradientDescent(2.0),
        mode="batch",
        max_epochs=5000,
        stopping=[AllCorrect(), TargetError(1e-6)],
        progress=False,
    ).fit(X, y)
    assert history.stop_reason.startswith("all_correct")
    assert history.stop is StopReason.ALL_CORRECT
    assert history.metric[-1] == 1.0 and history.metric[-2] < 1.0


@pytest.mark.parametrize(
    "criterion, train, val, metric, reason, text",
    [
        (TargetError(0.1), [0.5, 0.05], None, None, StopReason.TARGET_ERROR, "target_error: "),
        (AllCorrect(), [1, 1], None, [0.5, 1.0], StopReason.ALL_CORRECT, "all_correct: "),
        (
            EarlyStopping(patience=1),
            [1, 1],
            [0.5, 0.6],
            None,
            StopReason.EARLY_STOPPING,
            "early_stopping: ",
        ),
        (
            GeneralizationLoss(5.0),
            [1, 1],
            [0.5, 0.6],
            None,
            StopReason.GENERALIZATION_LOSS,
            "GL: ",
        ),
        (
            ProgressQuotient(0.5, strip=2),
            [1.0, 1.0],
            [0.5, 0.6],
            None,
            StopReason.PROGRESS_QUOTIENT,
            "PQ: ",
        ),
        (
            UpStrips(1, strip=1),
            [1.0, 1.0],
            [0.5, 0.6],
            None,
            StopReason.UP_STRIPS,
            "UP: ",
        ),
    ],
)
def test_every_criterion_names_its_stop_reason(criterion, train, val, metric, reason, text):
    stop = criterion.check(history_of(train, val, metric))
    assert stop.reason is reason
    assert stop.detail.startswith(text) and str(stop) == stop.detail


def test_a_criterion_returning_text_is_recorded_as_criterion():
    class Mine(StoppingCriterion):
        def check(self, history):
            return "mine: enough" if len(history.records) == 2 else None

    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    trainer = Trainer(Network([2, 1], seed=0), stopping=[Mine()], progress=False)
    history = trainer.fit(X, np.array([0.0, 1.0]))
    assert history.stop is StopReason.CRITERION
    assert history.stop_reason == "mine: enough"
    assert history.epochs == 2
