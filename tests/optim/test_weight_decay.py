"""L2 weight decay with every rule: each converges to the ridge-regression solution.

Linear model o = w^T x + b, squared error, lambda = 0.5 on w (not on b). The minimiser of
(1/n) sum_p 1/2 (o_p - t_p)^2 + lambda/2 ||w||^2 solves

    (X^T X / n + lambda I) w + (X^T 1 / n) b = X^T t / n,    (1^T X / n) w + b = mean(t),

computed here with numpy and compared with what each rule reaches; the unregularised
least-squares solution is far from it, so a rule that ignored the decay would fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from bprop import ExponentialDecay, Network, Trainer, get_rule
from bprop.optim import UpdateRule

LAMBDA = 0.5
RULES = {
    # rule: (hyperparameters, epochs, schedule)
    "rprop+": ({}, 300, None),
    "rprop-": ({}, 300, None),
    "irprop+": ({}, 300, None),
    "irprop-": ({}, 300, None),
    "quickprop": ({"learning_rate": 0.1}, 300, None),
    # the adaptive rules keep stepping at about the learning rate near a minimum; a decaying
    # rate lets them settle (eta_t = 0.05 * 0.99^(t-1))
    "adam": ({"learning_rate": 0.05}, 1000, ExponentialDecay(0.05, 0.99)),
    "adagrad": ({"learning_rate": 0.5}, 1000, ExponentialDecay(0.5, 0.99)),
    "rmsprop": ({"learning_rate": 0.05}, 1000, ExponentialDecay(0.05, 0.99)),
    "lbfgs": ({"gtol": 1e-10}, 100, None),
    "lm": ({}, 30, None),
    "gd": ({"learning_rate": 0.3}, 1000, None),
}


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) + [1.0, 0.0, -0.5]
    t = X @ np.array([1.5, -2.0, 0.7]) + 0.4 + 0.1 * rng.normal(size=40)
    return X, t


def _ridge(X, t, lam):
    n = len(X)
    A = np.block(
        [
            [X.T @ X / n + lam * np.eye(3), X.mean(axis=0)[:, None]],
            [X.mean(axis=0)[None, :], np.ones((1, 1))],
        ]
    )
    return np.linalg.solve(A, np.concatenate([X.T @ t / n, [t.mean()]]))


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule_reaches_the_ridge_solution(name: str) -> None:
    X, t = _data()
    ridge, ols = _ridge(X, t, LAMBDA), _ridge(X, t, 0.0)
    assert np.linalg.norm(ridge - ols) > 0.5
    hp, epochs, schedule = RULES[name]
    net = Network.from_weights([np.zeros((3, 1))], [np.zeros(1)], [], "identity")
    Trainer(
        net,
        loss="squared_error",
        rule=get_rule(name, **hp),
        mode="batch",
        max_epochs=epochs,
        weight_decay=LAMBDA,
        schedule=schedule,
        progress=False,
    ).fit(X, t)
    np.testing.assert_allclose(net.params, ridge, atol=2e-3)


class SpyRule(UpdateRule):
    """Records what the trainer hands to step(); takes a small gradient step."""

    name = "spy"

    def __init__(self) -> None:
        self.learning_rate = 0.01
        self.seen: list[tuple[float | None, np.ndarray]] = []

    def init(self, n_params, dtype):
        return None

    def step(self, grad, state, loss=None):
        self.seen.append((loss, grad.copy()))
        return -self.learning_rate * grad


def test_step_rules_see_the_penalised_error_and_gradient() -> None:
    """loss and gradient handed to step() both include the decay term (iRprop+ compares
    losses, so they must belong to the same objective)."""
    X, t = _data()
    spy = SpyRule()
    w = np.full(3, 0.5)
    net = Network.from_weights([w[:, None]], [np.zeros(1)], [], "identity")
    Trainer(
        net,
        loss="squared_error",
        rule=spy,
        mode="batch",
        max_epochs=1,
        weight_decay=LAMBDA,
        progress=False,
    ).fit(X, t)
    o = X @ w
    loss, grad = spy.seen[0]
    assert loss == pytest.approx(np.mean(0.5 * (o - t) ** 2) + LAMBDA / 2 * w @ w, rel=1e-12)
    expected_grad = np.concatenate([X.T @ (o - t) / len(X) + LAMBDA * w, [np.mean(o - t)]])
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12)
