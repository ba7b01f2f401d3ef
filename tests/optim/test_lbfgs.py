"""L-BFGS through scipy: one epoch per scipy iteration, stop reasons, limits."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import LBFGS, Network, StopReason, TargetError, Trainer

A = np.array([[3.0, 1.0], [1.0, 2.0]])
B = np.array([1.0, -1.0])


class Quadratic:
    """F(w) = 1/2 w^T A w - b^T w, minimum at A^-1 b."""

    n_params = 2

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, w):
        self.calls += 1
        return 0.5 * w @ A @ w - B @ w, A @ w - B


def test_run_reaches_the_minimum_and_reports_scipy() -> None:
    rule = LBFGS(gtol=1e-10)
    params = np.zeros(2)
    seen = []
    reason = rule.run(
        Quadratic(), params, rule.init(2, params.dtype), lambda w: seen.append(w.copy())
    )
    np.testing.assert_allclose(params, np.linalg.solve(A, B), rtol=1e-8)
    assert reason.reason is StopReason.CONVERGED
    assert reason.detail.startswith("lbfgs: scipy L-BFGS-B stopped: CONVERGENCE")
    values = [0.5 * w @ A @ w - B @ w for w in seen]
    assert np.all(np.diff(values) < 0)  # every iteration decreases F (Wolfe line search)
    assert 2 <= len(seen) <= 10


def test_on_iteration_stops_scipy() -> None:
    rule = LBFGS()
    params = np.zeros(2)
    state = rule.init(2, params.dtype)
    reason = rule.run(
        Quadratic(), params, state, lambda w: "enough" if state.n_iterations == 1 else None
    )
    assert reason == "enough"  # on_iteration's stop, passed through as it came
    assert state.n_iterations == 1
    assert "StopIteration" in state.message


def test_max_fun_is_reported() -> None:
    rule = LBFGS(max_fun=3)
    params = np.array([5.0, -5.0])
    objective = Quadratic()
    reason = rule.run(objective, params, rule.init(2, params.dtype), lambda w: None)
    assert reason.reason is StopReason.SOLVER_LIMIT
    assert "EVALUATIONS EXCEEDS LIMIT" in reason.detail
    assert objective.calls <= 4


def test_max_iter_is_reported() -> None:
    rule = LBFGS(max_iter=1)
    params = np.array([5.0, -5.0])
    reason = rule.run(Quadratic(), params, rule.init(2, params.dtype), lambda w: None)
    assert reason.reason is StopReason.SOLVER_LIMIT
    assert "ITERATIONS REACHED LIMIT" in reason.detail


def _regression():
    x = np.linspace(-2, 2, 30)[:, None]
    return x, np.tanh(1.5 * x) + 0.1 * x


def test_trainer_records_one_epoch_per_iteration() -> None:
    X, y = _regression()
    net = Network([1, 4, 1], "tanh", "identity", seed=0)
    epochs = []
    trainer = Trainer(
        net,
        loss="squared_error",
        rule="lbfgs",
        mode="batch",
        max_epochs=7,
        progress=False,
        callbacks=[lambda tr, rec: epochs.append((rec.epoch, tr.network.params.copy()))],
    )
    history = trainer.fit(X, y)
    assert history.epochs == 7 == trainer.state.rule_state.n_iterations
    assert history.stop_reason == "max_epochs: reached 7 epochs"
    assert history.stop is StopReason.MAX_EPOCHS
    assert [e for e, _ in epochs] == list(range(1, 8))
    assert np.all(np.diff(history.loss) < 0)
    # each record is the error at the weights of that iteration, and the network ends there
    check = Network.from_weights(net.weights, net.biases, "tanh", "identity")
    np.copyto(check.params, epochs[3][1])
    o = check.predict(X)
    assert history.loss[3] == pytest.approx(np.mean(0.5 * (o - y) ** 2), rel=1e-12)
    np.testing.assert_array_equal(net.params, epochs[-1][1])


def test_trainer_stopping_criterion_ends_scipy() -> None:
    X, y = _regression()
    net = Network([1, 4, 1], "tanh", "identity", seed=0)
    trainer = Trainer(
        net,
        loss="squared_error",
        rule="lbfgs",
        mode="batch",
        max_epochs=500,
        stopping=[TargetError(0.01)],
        progress=False,
    )
    history = trainer.fit(X, y)
    assert history.stop_reason.startswith("target_error")
    assert history.stop is StopReason.TARGET_ERROR
    assert history.loss[-1] <= 0.01 < history.loss[-2]


def test_trainer_reports_scipy_convergence() -> None:
    X, y = _regression()
    net = Network([1, 4, 1], "tanh", "identity", seed=0)
    trainer = Trainer(
        net,
        loss="squared_error",
        rule=LBFGS(gtol=1e-3),
        mode="batch",
        max_epochs=1000,
        progress=False,
    )
    history = trainer.fit(X, y)
    assert history.stop_reason.startswith("lbfgs: scipy L-BFGS-B stopped: CONVERGENCE")
    assert history.stop is StopReason.CONVERGED
    assert history.epochs < 1000


def test_run_without_trainer_stops_when_on_iteration_says_so() -> None:
    rule = LBFGS()
    params = np.array([5.0, -5.0])
    objective = Quadratic()
    F0 = objective(params)[0]
    seen = []

    def on_iteration(w: np.ndarray) -> str | None:
        seen.append(objective(w)[0])
        return "enough" if len(seen) == 2 else None

    assert rule.run(objective, params, rule.init(2, params.dtype), on_iteration) == "enough"
    assert len(seen) == 2 and seen[1] <= seen[0] < F0
    assert objective(params)[0] == pytest.approx(seen[1])


def test_refuses_mini_batches_and_schedules() -> None:
    with pytest.raises(ValueError, match="lbfgs.*full-batch"):
        Trainer(Network([2, 2, 1], seed=0), rule="lbfgs", mode="minibatch")
    with pytest.raises(ValueError, match="no learning rate"):
        Trainer(Network([2, 2, 1], seed=0), rule="lbfgs", mode="batch", schedule=lambda e, h: 1.0)


def test_solver_that_stops_at_once_still_records_an_epoch() -> None:
    """At a stationary point scipy stops before its first iteration; the history is not empty."""
    X = np.array([[0.0], [1.0]])
    net = Network.from_weights([np.zeros((1, 1))], [np.zeros(1)], [], "identity")
    history = Trainer(
        net, loss="squared_error", rule="lbfgs", mode="batch", max_epochs=10, progress=False
    ).fit(X, np.zeros((2, 1)))
    assert history.epochs == 1
    assert history.loss[0] == 0.0
    assert history.stop_reason.startswith("lbfgs: scipy L-BFGS-B stopped: CONVERGENCE")
    assert history.stop is StopReason.CONVERGED
    np.testing.assert_array_equal(net.params, [0.0, 0.0])
