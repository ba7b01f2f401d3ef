"""Quickprop: steps by hand, the mu limit, the division-by-zero guard, modes."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import Network, Quickprop, Trainer


def test_two_steps_by_hand() -> None:
    rule = Quickprop(learning_rate=0.1, mu=1.75)  # shrink factor mu / (1 + mu) = 0.63636...
    state = rule.init(4, np.dtype(np.float64))
    g1 = np.array([1.0, -2.0, 0.5, 1.0])
    # no previous step: plain gradient descent, -0.1 g
    np.testing.assert_allclose(rule.step(g1, state), [-0.1, 0.2, -0.05, -0.1])
    g2 = np.array([0.5, -2.0, 0.5, 3.0])
    expected = [
        # d = -0.1, s = 0.5 > 0: gradient term -0.05; s < 0.636 p: quadratic
        # d s / (p - s) = -0.1 * 0.5 / 0.5 = -0.1
        -0.05 - 0.1,
        # d = 0.2, s = -2 < 0: gradient term +0.2; s <= 0.636 p = -1.27: capped, mu d = 0.35
        0.2 + 0.35,
        # d = -0.05, s = p = 0.5: gradient term -0.05; s >= 0.636 p: capped, mu d = -0.0875
        -0.05 - 0.0875,
        # d = -0.1, s = 3 grew: gradient term -0.3; capped, mu d = -0.175
        -0.3 - 0.175,
    ]
    np.testing.assert_allclose(rule.step(g2, state), expected, rtol=1e-12)
    np.testing.assert_allclose(state.prev_slope, g2)


def test_quadratic_term_on_a_parabola() -> None:
    """On E = (w - 3)^2 / 2 the quadratic term of step 2 alone goes exactly to w = 3; the
    gradient term (slope still negative after a step up) adds -epsilon S on top."""
    rule = Quickprop(learning_rate=0.5, mu=1.75)
    state = rule.init(1, np.dtype(np.float64))
    w = np.array([0.0])
    w += rule.step(w - 3.0, state)  # -0.5 * (-3) = 1.5, within mu of nothing: plain step
    assert w[0] == pytest.approx(1.5)
    # slope -1.5 after a step up: gradient term 0.75 plus quadratic 1.5 * -1.5 / (-3 + 1.5) = 1.5
    # (the gradient term keeps pushing downhill, as in Fahlman's code)
    w += rule.step(w - 3.0, state)
    assert w[0] == pytest.approx(1.5 + 0.75 + 1.5)


def test_unchanged_slope_falls_back_to_gradient_descent() -> None:
    """S(t) = S(t-1) with the quadratic branch active would divide by zero."""
    rule = Quickprop(learning_rate=0.1)
    state = rule.init(1, np.dtype(np.float64))
    state.prev_slope[:] = -1.0
    state.delta_w[:] = -0.1  # a step down although the slope was negative
    dw = rule.step(np.array([-1.0]), state)
    assert np.all(np.isfinite(dw))
    np.testing.assert_allclose(dw, [0.1])  # -epsilon S


def test_refuses_mini_batches() -> None:
    with pytest.raises(ValueError, match="quickprop.*full-batch"):
        Trainer(Network([2, 2, 1], seed=0), rule="quickprop", mode="minibatch")


def test_defaults() -> None:
    rule = Quickprop()
    assert (rule.learning_rate, rule.mu) == (0.1, 1.75)
