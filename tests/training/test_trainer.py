"""The trainer: learning modes, determinism, dtypes, divergence, history, bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from bprop import (
    DivergenceWarning,
    GradientDescent,
    Momentum,
    Network,
    StopReason,
    Trainer,
    get_loss,
)
from bprop.optim import UpdateRule


def regression_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.sin(X[:, :1]) + 0.5 * X[:, 1:2] * X[:, 2:3]
    return X, y


def fresh(seed=0, dtype=np.float64):
    return Network([3, 6, 1], "tanh", "identity", seed=seed, dtype=dtype)


def test_batch_gradient_is_the_sum_of_per_pattern_gradients():
    X, y = regression_data()
    net, loss = fresh(), get_loss("squared_error")
    E = net.gradient(X, y, loss)
    batch = net.grad.copy()
    total, per_pattern_E = np.zeros_like(batch), 0.0
    for p in range(len(X)):
        per_pattern_E += net.gradient(X[p : p + 1], y[p : p + 1], loss)
        total += net.grad
    np.testing.assert_allclose(batch, total, rtol=1e-12, atol=1e-14)
    assert pytest.approx(per_pattern_E, rel=1e-12) == E


def test_batch_mode_makes_one_mean_gradient_step_per_epoch():
    X, y = regression_data()
    net = fresh()
    start = net.params.copy()
    net.gradient(X, y, get_loss("squared_error"))
    expected = start - 0.1 * net.grad / len(X)
    Trainer(
        net,
        loss="squared_error",
        rule=GradientDescent(0.1),
        mode="batch",
        max_epochs=1,
        progress=False,
    ).fit(X, y)
    np.testing.assert_allclose(net.params, expected, rtol=1e-13)


def test_online_mode_updates_after_every_pattern_in_order():
    X, y = regression_data(n=5)
    expected, loss = fresh(), get_loss("squared_error")
    for p in range(5):  # the classic per-pattern rule, by hand
        expected.gradient(X[p : p + 1], y[p : p + 1], loss)
        expected.params -= 0.1 * expected.grad
    net = fresh()
    Trainer(
        net,
        loss=loss,
        rule=GradientDescent(0.1),
        mode="online",
        shuffle=False,
        max_epochs=1,
        progress=False,
    ).fit(X, y)
    np.testing.assert_allclose(net.params, expected.params, rtol=1e-13)


def test_minibatch_with_k_equal_n_is_batch():
    X, y = regression_data()
    a, b = fresh(), fresh()
    common = dict(loss="squared_error", max_epochs=5, progress=False)
    Trainer(a, rule=Momentum(0.1, 0.5), mode="batch", **common).fit(X, y)
    Trainer(
        b, rule=Momentum(0.1, 0.5), mode="minibatch", batch_size=len(X), shuffle=False, **common
    ).fit(X, y)
    # the same arithmetic; a compiled mini-batch kernel may order sums differently
    np.testing.assert_allclose(a.params, b.params, rtol=1e-13, atol=1e-15)


def test_minibatch_uses_blocks_of_k_with_a_short_last_block():
    X, y = regression_data(n=10)
    expected, loss = fresh(), get_loss("squared_error")
    for sl in (slice(0, 4), slice(4, 8), slice(8, 10)):
        expected.gradient(X[sl], y[sl], loss)
        expected.params -= 0.1 * expected.grad / (sl.stop - sl.start)
    net = fresh()
    Trainer(
        net,
        loss=loss,
        rule=GradientDescent(0.1),
        batch_size=4,
        shuffle=False,
        max_epochs=1,
        progress=False,
    ).fit(X, y)
    np.testing.assert_allclose(net.params, expected.params, rtol=1e-13)


def test_batch_mode_in_blocks_equals_one_block():
    X, y = regression_data(n=50)
    a, b = fresh(), fresh()
    for net, block in ((a, 8192), (b, 7)):
        Trainer(
            net,
            loss="mse",
            rule=GradientDescent(0.2),
            mode="batch",
            max_epochs=3,
            block_size=block,
            progress=False,
        ).fit(X, y)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)


@pytest.mark.parametrize("mode", ["online", "minibatch", "batch"])
def test_same_seeds_give_bit_identical_weights(mode):
    X, y = regression_data()
    results = []
    for _ in range(2):
        net = fresh(seed=3)
        Trainer(
            net,
            rule=Momentum(0.05, 0.9),
            mode=mode,
            batch_size=8,
            max_epochs=4,
            seed=11,
            progress=False,
        ).fit(X, y)
        results.append(net.params.copy())
    np.testing.assert_array_equal(*results)


def test_shuffling_depends_on_the_seed():
    X, y = regression_data()
    nets = []
    for seed in (1, 2):
        net = fresh()
        Trainer(
            net, rule=GradientDescent(0.05), batch_size=8, max_epochs=2, seed=seed, progress=False
        ).fit(X, y)
        nets.append(net.params.copy())
    assert not np.array_equal(*nets)


@pytest.mark.parametrize("mode", ["online", "minibatch", "batch"])
def test_float32_runs_stay_float32(mode):
    X, y = regression_data()
    net = fresh(dtype=np.float32)
    history = Trainer(
        net, rule=Momentum(0.05, 0.9), mode=mode, max_epochs=3, seed=0, progress=False
    ).fit(X, y)  # float64 data is converted once at entry
    assert net.params.dtype == np.float32 and net.grad.dtype == np.float32
    assert net.predict(X).dtype == np.float32
    assert all(
        isinstance(buf.dtype, np.dtype) and buf.dtype == np.float32
        for buf in (*net.nets, *net.outputs, *net.deltas)
    )
    assert np.isfinite(history.loss).all()


def test_divergence_is_caught_and_the_weights_stay_finite():
    X, y = regression_data()
    y = y * 1e3
    net = fresh()
    trainer = Trainer(
        net,
        loss="squared_error",
        rule=GradientDescent(1e3),
        mode="batch",
        max_epochs=100,
        progress=False,
    )
    with pytest.warns(DivergenceWarning, match="diverged"):
        history = trainer.fit(X, y)
    assert history.stop_reason.startswith("diverged")
    assert history.stop is StopReason.DIVERGED
    assert history.epochs < 100
    assert np.all(np.isfinite(net.params))
    # the weights are those at the start of the diverging epoch: finite and predicting
    assert np.all(np.isfinite(net.predict(X)))


def test_history_records_every_epoch_with_validation():
    X, y = regression_data(n=60)
    net = fresh()
    history = Trainer(net, rule=GradientDescent(0.05), max_epochs=7, seed=0, progress=False).fit(
        X[:40], y[:40], validation_data=(X[40:], y[40:])
    )
    assert history.epochs == 7 and [r.epoch for r in history.records] == list(range(1, 8))
    assert history.stop_reason.startswith("max_epochs")
    assert history.stop is StopReason.MAX_EPOCHS
    assert np.all(np.isfinite(history.val_loss))
    assert np.all(np.diff([r.time for r in history.records]) >= 0)
    assert history.records[0].learning_rate == 0.05
    assert history.metric.shape == (7,) and np.isnan(history.metric).all()  # regression
    # the validation loss is the mean loss at the epoch's final weights
    loss = get_loss("squared_error")
    o = net.forward(X[40:])
    assert history.records[-1].val_loss == pytest.approx(
        loss.total(o, y[40:], net.nets[-1], net.output_activation) / 20, rel=1e-12
    )


def test_accuracy_metric_for_classification(rng):
    X = rng.normal(size=(80, 2))
    labels = (X[:, 0] * X[:, 1] > 0).astype(int)
    net = Network([2, 8, 2], "tanh", "softmax", seed=0)
    trainer = Trainer(
        net, rule=Momentum(0.1, 0.9), batch_size=8, max_epochs=60, seed=0, progress=False
    )
    history = trainer.fit(X, labels)  # integer labels are one-hot coded for 2 outputs
    assert 0.0 <= history.metric[0] <= 1.0
    assert history.metric[-1] > 0.9
    loss, acc = trainer.evaluate(X, labels)
    assert acc == np.mean(net.predict(X).argmax(axis=1) == labels)


def test_sample_weights_equal_repeated_patterns_in_batch_mode():
    X, y = regression_data(n=6)
    counts = np.array([1, 0, 2, 3, 1, 1])
    a, b = fresh(), fresh()
    common = dict(loss="mse", rule=GradientDescent(0.1), mode="batch", max_epochs=3, progress=False)
    ha = Trainer(a, **common).fit(X, y, sample_weight=counts)
    hb = Trainer(b, **common).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts, axis=0))
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-12)


def test_weight_decay_adds_lambda_w_to_the_mean_gradient_of_weights_only():
    X, y = regression_data()
    net = fresh()
    start = net.params.copy()
    net.gradient(X, y, get_loss("squared_error"))
    g = net.grad / len(X) + 0.01 * start * net.weight_mask()
    Trainer(
        net,
        loss="squared_error",
        rule=GradientDescent(0.1),
        mode="batch",
        max_epochs=1,
        weight_decay=0.01,
        progress=False,
    ).fit(X, y)
    np.testing.assert_allclose(net.params, start - 0.1 * g, rtol=1e-13)


def test_callbacks_run_every_epoch_and_can_stop():
    X, y = regression_data()
    seen = []

    def stop_at_three(trainer, record):
        seen.append(record.epoch)
        return record.epoch == 3

    history = Trainer(fresh(), max_epochs=10, callbacks=[stop_at_three], progress=False).fit(X, y)
    assert seen == [1, 2, 3]
    assert history.stop_reason.startswith("callback")
    assert history.stop is StopReason.CALLBACK


def test_schedule_sets_the_learning_rate_every_epoch():
    X, y = regression_data()
    rule = GradientDescent(0.1)
    history = Trainer(
        fresh(),
        rule=rule,
        max_epochs=3,
        progress=False,
        schedule=lambda epoch, history: 0.1 / epoch,
    ).fit(X, y)
    assert [r.learning_rate for r in history.records] == [0.1, 0.05, 0.1 / 3]


def test_resume_continues_the_same_run():
    X, y = regression_data()
    a, b = fresh(), fresh()
    Trainer(a, rule=Momentum(0.05, 0.9), max_epochs=6, seed=1, progress=False).fit(X, y)
    tb = Trainer(b, rule=Momentum(0.05, 0.9), max_epochs=3, seed=1, progress=False)
    tb.fit(X, y)
    history = tb.fit(X, y, resume=True)
    np.testing.assert_array_equal(a.params, b.params)
    assert [r.epoch for r in history.records] == [1, 2, 3, 4, 5, 6]


def test_progress_bar_shows_epochs_and_can_be_switched_off(capsys):
    X, y = regression_data()
    Trainer(fresh(), max_epochs=2, progress=True).fit(X, y)
    err = capsys.readouterr().err
    assert "epoch" in err and "loss=" in err
    Trainer(fresh(), max_epochs=2, progress=False).fit(X, y)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(mode="stochastic"), "unknown mode 'stochastic'"),
        (dict(batch_size=0), "batch_size must be a positive integer, got 0"),
        (dict(max_epochs=-1), "max_epochs must be a positive integer"),
        (dict(weight_decay=-1), "weight_decay must be finite and >= 0"),
        (dict(loss="categorical_cross_entropy"), "needs outputs in"),
        (dict(loss="kl"), "unknown loss 'kl'"),
        (dict(rule="sgdd"), "unknown update rule 'sgdd'"),
        (dict(metric="f1"), "metric must be"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Trainer(fresh(), **kwargs)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((5, 2)), np.zeros(5), "X has 2 columns but the network has 3 inputs"),
        (np.zeros((5, 3)), np.zeros((5, 2)), "y has 2 columns but the network has 1 outputs"),
        (np.zeros((5, 3)), np.zeros(4), "y has 4 rows but X has 5"),
        (np.full((5, 3), np.nan), np.zeros(5), "X contains NaN"),
        (np.zeros((5, 3)), np.array([0, 1, np.inf, 0, 0]), "y contains NaN or infinite"),
        (np.zeros((0, 3)), np.zeros(0), "X has no rows"),
        (np.zeros((5, 3)), np.array(list("abcde")), "y must be numeric"),
    ],
)
def test_bad_data_is_refused_at_fit(X, y, message):
    with pytest.raises(ValueError, match=message):
        Trainer(fresh(), progress=False).fit(X, y)


def test_bad_sample_weights_and_validation_data():
    X, y = regression_data()
    trainer = Trainer(fresh(), progress=False)
    with pytest.raises(ValueError, match="sample_weight must be finite and non-negative"):
        trainer.fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(40,\)"):
        trainer.fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="X_val has 1 columns"):
        trainer.fit(X, y, validation_data=(np.zeros((3, 1)), np.zeros(3)))


@pytest.mark.parametrize(
    "name", ["gd", "momentum", "nesterov", "quickprop", "adam", "adagrad", "rmsprop"]
)
def test_a_schedule_leaves_the_rule_object_unchanged(name):
    """The schedule's rate goes into the rule state; the rule keeps its hyperparameters."""
    from bprop.optim import get_rule
    from bprop.optim.schedules import StepDecay

    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 2))
    y = X @ np.array([1.0, -1.0])
    rule = get_rule(name, learning_rate=0.02)
    before = copy.deepcopy(rule.hyperparameters())
    trainer = Trainer(
        Network([2, 3, 1], "tanh", "identity", seed=0),
        rule=rule,
        mode="batch" if rule.full_batch_only else "minibatch",
        batch_size=8,
        max_epochs=4,
        schedule=StepDecay(0.05, drop=0.5, every=1),
        progress=False,
    )
    history = trainer.fit(X, y)
    assert rule.hyperparameters() == before
    assert trainer.rule is rule
    assert [r.learning_rate for r in history.records] == [0.05, 0.025, 0.0125, 0.00625]
    assert trainer.state.rule_state.learning_rate == 0.00625
    # a second fit starts again from the rule's own rate, eta_0 = 0.02, without a schedule
    trainer.schedule = None
    assert trainer.fit(X, y).records[0].learning_rate == 0.02


def test_a_schedule_needs_the_rate_in_the_rule_state():
    class StatelessRule(UpdateRule):
        name = "stateless"

        def __init__(self):
            self.learning_rate = 0.1

        def init(self, n_params, dtype):
            return None

        def step(self, grad, state, loss=None):
            return -self.learning_rate * grad

    trainer = Trainer(
        Network([2, 1], seed=0), rule=StatelessRule(), schedule=lambda e, h: 0.1, progress=False
    )
    with pytest.raises(ValueError, match="keeps no learning rate in its state"):
        trainer.fit(np.zeros((4, 2)), np.zeros(4))
