"""Adam, AdaGrad and RMSprop against their equations written out in the test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bprop import AdaGrad, Adam, Network, RMSprop, Trainer, get_rule

GRADS = [np.array([0.5, -2.0, 1e-3]), np.array([0.4, 1.0, -1e-3]), np.array([-0.3, 0.5, 2e-3])]


def _adam_by_hand(grads, lr, b1, b2, eps):
    steps = []
    for i in range(3):
        m = v = 0.0
        out = []
        for t, g in enumerate(grads, start=1):
            m = b1 * m + (1 - b1) * g[i]
            v = b2 * v + (1 - b2) * g[i] ** 2
            out.append(-lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps))
        steps.append(out)
    return np.array(steps).T


def test_adam_first_step_is_lr_times_sign() -> None:
    rule = Adam()
    dw = rule.step(GRADS[0], rule.init(3, np.dtype(np.float64)))
    # bias-corrected m = g and v = g^2: -lr g / (|g| + eps)
    np.testing.assert_allclose(dw, -0.001 * GRADS[0] / (np.abs(GRADS[0]) + 1e-8), rtol=1e-12)


def test_adam_three_steps() -> None:
    rule = Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.9, epsilon=1e-6)
    state = rule.init(3, np.dtype(np.float64))
    got = np.array([rule.step(g, state).copy() for g in GRADS])
    np.testing.assert_allclose(got, _adam_by_hand(GRADS, 0.01, 0.8, 0.9, 1e-6), rtol=1e-12)
    assert state.t == 3


def _efficient_adam_by_hand(grads, lr, b1, b2, eps):
    steps = []
    for i in range(3):
        m = v = 0.0
        out = []
        for t, g in enumerate(grads, start=1):
            m = b1 * m + (1 - b1) * g[i]
            v = b2 * v + (1 - b2) * g[i] ** 2
            out.append(-lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (math.sqrt(v) + eps))
        steps.append(out)
    return np.array(steps).T


def test_adam_efficient_epsilon_placement_three_steps() -> None:
    # Kingma & Ba's Section 2 form: epsilon on sqrt(v_t), the corrections in the step size.
    rule = Adam(
        learning_rate=0.01, beta_1=0.8, beta_2=0.9, epsilon=1e-3, epsilon_placement="efficient"
    )
    state = rule.init(3, np.dtype(np.float64))
    got = np.array([rule.step(g, state).copy() for g in GRADS])
    np.testing.assert_allclose(
        got, _efficient_adam_by_hand(GRADS, 0.01, 0.8, 0.9, 1e-3), rtol=1e-12
    )
    corrected = _adam_by_hand(GRADS, 0.01, 0.8, 0.9, 1e-3)
    assert np.abs(got - corrected).max() > 1e-6  # epsilon acts differently: visible here
    assert rule.hyperparameters()["epsilon_placement"] == "efficient"
    assert get_rule("adam", epsilon_placement="efficient").epsilon_placement == "efficient"


def test_adagrad_three_steps() -> None:
    rule = AdaGrad(learning_rate=0.1, epsilon=1e-10)
    state = rule.init(3, np.dtype(np.float64))
    G = np.zeros(3)
    for g in GRADS:
        G = G + g * g
        np.testing.assert_allclose(rule.step(g, state), -0.1 * g / (np.sqrt(G) + 1e-10), rtol=1e-12)


def test_rmsprop_first_step_and_three_steps() -> None:
    rule = RMSprop(learning_rate=0.01, rho=0.99, epsilon=1e-8)
    state = rule.init(3, np.dtype(np.float64))
    # v_1 = 0.01 g^2: the first step is -0.01 g / (0.1 |g| + eps), about -0.1 sign(g)
    dw = rule.step(GRADS[0], state)
    np.testing.assert_allclose(dw, -0.01 * GRADS[0] / (0.1 * np.abs(GRADS[0]) + 1e-8), rtol=1e-12)
    v = 0.01 * GRADS[0] ** 2
    for g in GRADS[1:]:
        v = 0.99 * v + 0.01 * g * g
        np.testing.assert_allclose(rule.step(g, state), -0.01 * g / (np.sqrt(v) + 1e-8), rtol=1e-12)


def test_defaults() -> None:
    a = Adam()
    assert (a.learning_rate, a.beta_1, a.beta_2, a.epsilon) == (0.001, 0.9, 0.999, 1e-8)
    assert a.epsilon_placement == "corrected"
    g = AdaGrad()
    assert (g.learning_rate, g.epsilon) == (0.01, 1e-10)
    r = RMSprop()
    assert (r.learning_rate, r.rho, r.epsilon) == (0.01, 0.99, 1e-8)


@pytest.mark.parametrize("name", ["adam", "adagrad", "rmsprop"])
@pytest.mark.parametrize("mode", ["online", "minibatch", "batch"])
def test_every_mode_trains(name: str, mode: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([0.5, -1.0, 0.25])
    net = Network([3, 4, 1], "tanh", "identity", seed=0)
    trainer = Trainer(
        net,
        rule=get_rule(name, learning_rate=0.01),
        mode=mode,
        batch_size=16,
        max_epochs=30,
        seed=0,
        progress=False,
    )
    history = trainer.fit(X, y)
    assert history.loss[-1] < 0.5 * history.loss[0]
