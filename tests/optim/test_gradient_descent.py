"""Gradient descent, momentum and Nesterov: steps against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import GradientDescent, Momentum, Nesterov, Network, TargetError, Trainer, get_rule


def run(rule, grads):
    state = rule.init(len(grads[0]), np.float64)
    return [rule.step(np.array(g, dtype=float), state).copy() for g in grads]


def test_gradient_descent_step():
    (dw,) = run(GradientDescent(learning_rate=0.5), [[2.0, -4.0]])
    np.testing.assert_array_equal(dw, [-1.0, 2.0])


def test_momentum_steps_by_hand():
    # Delta w_t = alpha Delta w_{t-1} - eta g_t, eta = 0.1, alpha = 0.5
    steps = run(Momentum(learning_rate=0.1, momentum=0.5), [[1.0], [1.0], [-2.0]])
    # t=1: -0.1;  t=2: 0.5(-0.1) - 0.1 = -0.15;  t=3: 0.5(-0.15) + 0.2 = 0.125
    np.testing.assert_allclose(np.ravel(steps), [-0.1, -0.15, 0.125], rtol=1e-15)


def test_nesterov_steps_by_hand():
    # v_t = alpha v_{t-1} - eta g_t;  Delta w_t = alpha v_t - eta g_t;  eta = 0.1, alpha = 0.5
    steps = run(Nesterov(learning_rate=0.1, momentum=0.5), [[1.0], [1.0], [-2.0]])
    # t=1: v=-0.1,   dw = -0.05 - 0.1 = -0.15
    # t=2: v=-0.15,  dw = -0.075 - 0.1 = -0.175
    # t=3: v=0.125,  dw = 0.0625 + 0.2 = 0.2625
    np.testing.assert_allclose(np.ravel(steps), [-0.15, -0.175, 0.2625], rtol=1e-14)


def test_nesterov_is_the_lookahead_gradient_rewritten():
    """Sutskever's form: with phi = w + alpha v the classic look-ahead iteration
    v' = alpha v - eta grad(w + alpha v); w' = w + v' moves phi by Delta w of our rule."""
    A = np.diag([1.0, 10.0])
    grad = lambda w: A @ w  # noqa: E731  quadratic bowl
    eta, alpha = 0.05, 0.9
    w, v = np.array([1.0, 1.0]), np.zeros(2)
    rule = Nesterov(eta, alpha)
    state = rule.init(2, np.float64)
    phi = w + alpha * v
    for _ in range(20):
        v = alpha * v - eta * grad(w + alpha * v)
        w = w + v
        phi = phi + rule.step(grad(phi), state)
        np.testing.assert_allclose(phi, w + alpha * v, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("rule", [GradientDescent(2.0), Momentum(0.5, 0.9), Nesterov(0.5, 0.9)])
def test_each_rule_learns_xor(rule, xor_data):
    X, y = xor_data
    net = Network([2, 3, 1], "tanh", "logistic", init="xavier_uniform", seed=4)
    trainer = Trainer(
        net,
        loss="squared_error",
        rule=rule,
        mode="batch",
        max_epochs=5000,
        stopping=TargetError(0.01),
        progress=False,
    )
    history = trainer.fit(X, y)
    assert history.stop_reason.startswith("target_error")
    np.testing.assert_array_equal(net.predict(X) > 0.5, y > 0.5)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: GradientDescent(learning_rate=-0.1), "gd: learning_rate must be finite and > 0"),
        (lambda: GradientDescent(learning_rate=0), "gd: learning_rate"),
        (lambda: Momentum(momentum=1.0), r"momentum: momentum must be in \[0.0, 1.0\)"),
        (lambda: Nesterov(learning_rate=float("nan")), "nesterov: learning_rate"),
        (lambda: get_rule("adamw"), "unknown update rule 'adamw'"),
        (lambda: get_rule("momentum", lr=0.1), "bad hyperparameters for rule 'momentum'"),
    ],
)
def test_bad_hyperparameters_name_the_rule_and_value(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_unknown_hyperparameter_lists_the_rule_keys():
    from bprop.optim.registry import hyperparameter_names

    with pytest.raises(ValueError) as info:
        get_rule("momentum", bogus=1)
    message = str(info.value)
    assert message == (
        "bad hyperparameters for rule 'momentum': no hyperparameter 'bogus'; "
        "its hyperparameters: "
        "learning_rate, momentum"
    )
    assert hyperparameter_names("sgd") == ("learning_rate",)
    with pytest.raises(ValueError, match="unknown update rule"):
        hyperparameter_names("warp")
