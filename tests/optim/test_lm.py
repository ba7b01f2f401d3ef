"""Levenberg-Marquardt: one step by hand, the mu adaptation, limits, losses, modes."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import LevenbergMarquardt, Network, StopReason, Trainer, get_rule


class FakeObjective:
    """Fixed Gauss-Newton system; value() returns scripted trial errors."""

    def __init__(self, trial_values, F=1.0, b=(2.0,), A=((4.0,),)) -> None:
        self.trials = list(trial_values)
        self.F, self.b, self.A = F, np.array(b), np.array(A)
        self.points = []

    def gauss_newton(self, params):
        return self.F, self.b.copy(), self.A.copy()

    def value(self, params):
        self.points.append(params.copy())
        return self.trials.pop(0)


def test_mu_grows_until_the_error_falls_then_shrinks() -> None:
    rule = LevenbergMarquardt()  # mu 1e-3, x10 on failure, x0.1 on success
    state = rule.init(1, np.dtype(np.float64))
    objective = FakeObjective([5.0, 5.0, 0.5])
    params = np.zeros(1)
    assert rule._iterate(objective, params, state) is None
    # trials at mu = 1e-3, 1e-2, 1e-1: step -b / (A + mu)
    np.testing.assert_allclose(
        [p[0] for p in objective.points], [-2 / 4.001, -2 / 4.01, -2 / 4.1], rtol=1e-12
    )
    np.testing.assert_allclose(params, [-2 / 4.1], rtol=1e-12)
    assert state.mu == pytest.approx(1e-2)  # 1e-1 * 0.1
    assert state.n_trials == 3


def test_mu_max_ends_training() -> None:
    rule = LevenbergMarquardt(mu_max=100.0)
    state = rule.init(1, np.dtype(np.float64))
    params = np.zeros(1)
    reason = rule._iterate(FakeObjective([9.0] * 10), params, state)
    assert reason.reason is StopReason.SOLVER
    assert reason.detail.startswith("lm: mu")
    assert "mu_max = 100" in reason.detail
    assert state.n_trials == 6  # mu = 1e-3 ... 1e2 tried, then 1e3 > mu_max
    np.testing.assert_array_equal(params, [0.0])  # no step taken


def test_one_step_on_linear_least_squares_by_hand() -> None:
    """o = w x + b with squared error: J = [x, 1] per pattern, e = o - t."""
    x = np.array([[0.0], [1.0], [2.0]])
    t = np.array([[1.0], [2.0], [4.0]])
    net = Network.from_weights([np.array([[0.5]])], [np.array([0.0])], [], "identity")
    trainer = Trainer(
        net, loss="squared_error", rule="lm", mode="batch", max_epochs=1, progress=False
    )
    trainer.fit(x, t)
    J = np.hstack([x, np.ones((3, 1))])
    e = (0.5 * x - t)[:, 0]
    step = -np.linalg.solve(J.T @ J + 1e-3 * np.eye(2), J.T @ e)
    np.testing.assert_allclose(net.params, [0.5, 0.0] + step, rtol=1e-12)
    assert trainer.state.rule_state.mu == pytest.approx(1e-4)


def test_weight_decay_enters_the_system() -> None:
    """With lambda: (J^T J + S lambda D + mu I) dw = -(J^T e + S lambda D w), D = weights only."""
    x = np.array([[0.0], [1.0], [2.0]])
    t = np.array([[1.0], [2.0], [4.0]])
    net = Network.from_weights([np.array([[0.5]])], [np.array([0.0])], [], "identity")
    Trainer(
        net,
        loss="squared_error",
        rule="lm",
        mode="batch",
        max_epochs=1,
        weight_decay=0.3,
        progress=False,
    ).fit(x, t)
    J = np.hstack([x, np.ones((3, 1))])
    e = (0.5 * x - t)[:, 0]
    D = np.diag([1.0, 0.0])
    w = np.array([0.5, 0.0])
    step = -np.linalg.solve(J.T @ J + 3 * 0.3 * D + 1e-3 * np.eye(2), J.T @ e + 3 * 0.3 * D @ w)
    np.testing.assert_allclose(net.params, w + step, rtol=1e-12)


def test_mse_loss_and_sample_weights() -> None:
    """LM minimises the same objective the trainer reports, for 'mse' and sample weights."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(25, 2))
    T = np.column_stack([np.sin(X[:, 0]), X[:, 1] ** 2])
    sw = rng.uniform(0.5, 2.0, size=25)
    net = Network([2, 5, 2], "tanh", "identity", seed=0)
    history = Trainer(net, loss="mse", rule="lm", mode="batch", max_epochs=15, progress=False).fit(
        X, T, sample_weight=sw
    )
    assert np.all(np.diff(history.loss) < 0)  # every accepted step lowers the error
    assert history.loss[-1] < 0.1 * history.loss[0]


def test_refuses_cross_entropy() -> None:
    net = Network([2, 2, 1], seed=0)
    trainer = Trainer(net, rule="lm", mode="batch", max_epochs=2, progress=False)  # BCE
    with pytest.raises(ValueError, match="sum-of-squares.*binary_cross_entropy"):
        trainer.fit(np.eye(2), np.array([0.0, 1.0]))


def test_refuses_networks_beyond_the_memory_limit() -> None:
    rule = LevenbergMarquardt(max_memory=2**20)
    rule.init(200, np.dtype(np.float64))  # 3 * 8 * 200^2 = 0.9 MiB: fine
    with pytest.raises(ValueError, match="lm: a network with 300 weights needs about 2 MiB"):
        rule.init(300, np.dtype(np.float64))
    net = Network([50, 40, 10], seed=0)  # 2450 weights: 137 MiB
    trainer = Trainer(
        net, loss="squared_error", rule=LevenbergMarquardt(max_memory=2**26), mode="batch"
    )
    with pytest.raises(ValueError, match="2450 weights"):
        trainer.fit(np.zeros((3, 50)), np.zeros((3, 10)))


def test_alias_defaults_and_modes() -> None:
    rule = get_rule("levenberg_marquardt")
    assert isinstance(rule, LevenbergMarquardt)
    assert (rule.mu, rule.mu_decrease, rule.mu_increase, rule.mu_max) == (1e-3, 0.1, 10.0, 1e10)
    with pytest.raises(ValueError, match="lm.*full-batch"):
        Trainer(Network([2, 2, 1], seed=0), rule="lm", mode="online")


def test_trainer_reports_the_mu_limit() -> None:
    """Once at the exact least-squares fit no step lowers the error: mu rises past mu_max."""
    x = np.array([[0.0], [1.0], [2.0]])
    t = 2.0 * x + 1.0
    net = Network.from_weights([np.array([[0.5]])], [np.array([0.0])], [], "identity")
    trainer = Trainer(
        net,
        loss="squared_error",
        rule=LevenbergMarquardt(mu_max=1.0),
        mode="batch",
        max_epochs=100,
        progress=False,
    )
    history = trainer.fit(x, t)
    assert history.stop_reason.startswith("lm: mu")
    assert history.stop is StopReason.SOLVER
    assert 1 <= history.epochs < 100
    np.testing.assert_allclose(net.params, [2.0, 1.0], atol=1e-6)
