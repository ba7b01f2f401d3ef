"""The RPROP family: steps computed by hand, bounds, and mode checks."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import IRpropMinus, IRpropPlus, Network, RpropMinus, RpropPlus, Trainer, get_rule

# three epochs of gradients for four weights; eta+ = 1.2, eta- = 0.5, Delta_0 = 0.1
G = [
    np.array([1.0, -2.0, 0.0, 3.0]),
    np.array([2.0, 3.0, 0.0, 3.0]),
    np.array([1.0, -1.0, 5.0, -3.0]),
]
LOSSES = [1.0, 2.0, 1.5]  # E(t) for iRprop+: the error grows at t = 2, falls at t = 3
FIRST = [-0.1, 0.1, 0.0, -0.1]  # -sign(g) Delta_0 for every variant

# By hand. Epoch 2: g1 g2 = [2, -6, 0, 9] -> Delta = [0.12, 0.05, 0.1, 0.12].
# Epoch 3 depends on what was remembered for weight 1 (sign change at epoch 2).
EXPECTED = {
    # plain steps; epoch 3: g2 g3 = [2, -3, 0, -9] -> Delta = [0.144, 0.025, 0.1, 0.06]
    "rprop-": [FIRST, [-0.12, -0.05, 0.0, -0.12], [-0.144, 0.025, -0.1, 0.06]],
    # weight 1 backtracks (+0.1 taken back) and forgets g; epoch 3: products [2, 0, 0, -9]
    # -> Delta = [0.144, 0.05, 0.1, 0.06], weight 3 backtracks (-0.12 taken back)
    "rprop+": [FIRST, [-0.12, -0.1, 0.0, -0.12], [-0.144, 0.05, -0.1, 0.12]],
    # no step where the sign changed
    "irprop-": [FIRST, [-0.12, 0.0, 0.0, -0.12], [-0.144, 0.05, -0.1, 0.0]],
    # epoch 2: E grew -> backtrack weight 1; epoch 3: E fell -> weight 3 does not move
    "irprop+": [FIRST, [-0.12, -0.1, 0.0, -0.12], [-0.144, 0.05, -0.1, 0.0]],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_three_steps_by_hand(name: str) -> None:
    rule = get_rule(name)
    state = rule.init(4, np.dtype(np.float64))
    for g, E, expected in zip(G, LOSSES, EXPECTED[name], strict=True):
        np.testing.assert_allclose(rule.step(g, state, E), expected, rtol=1e-12, atol=1e-15)


def test_step_sizes_after_three_steps() -> None:
    rule = RpropMinus()
    state = rule.init(4, np.dtype(np.float64))
    for g in G:
        rule.step(g, state)
    np.testing.assert_allclose(state.step_size, [0.144, 0.025, 0.1, 0.06])


def test_step_size_bounds() -> None:
    rule = RpropMinus(delta0=0.1, delta_min=0.04, delta_max=0.13)
    state = rule.init(4, np.dtype(np.float64))
    for g in G:
        rule.step(g, state)
    # unbounded: [0.144, 0.025, 0.1, 0.06]
    np.testing.assert_allclose(state.step_size, [0.13, 0.04, 0.1, 0.06])


def test_irprop_plus_needs_the_loss() -> None:
    rule = IRpropPlus()
    with pytest.raises(ValueError, match="irprop\\+"):
        rule.step(G[0], rule.init(4, np.dtype(np.float64)), None)


def test_aliases_and_defaults() -> None:
    assert isinstance(get_rule("rprop"), RpropPlus)
    for cls in (RpropPlus, RpropMinus, IRpropPlus, IRpropMinus):
        rule = cls()
        assert (rule.eta_plus, rule.eta_minus, rule.delta0, rule.delta_min, rule.delta_max) == (
            1.2,
            0.5,
            0.1,
            1e-6,
            50.0,
        )
        assert not hasattr(rule, "learning_rate")


@pytest.mark.parametrize("name", ["rprop+", "rprop-", "irprop+", "irprop-"])
@pytest.mark.parametrize("mode", ["online", "minibatch"])
def test_refuses_mini_batches(name: str, mode: str) -> None:
    with pytest.raises(ValueError, match=f"{name}.*full-batch.*mode='batch'"):
        Trainer(Network([2, 2, 1], seed=0), rule=name, mode=mode)


def test_float32_keeps_dtype() -> None:
    rule = IRpropPlus()
    state = rule.init(4, np.dtype(np.float32))
    for g, E in zip(G, LOSSES, strict=True):
        dw = rule.step(g.astype(np.float32), state, E)
        assert dw.dtype == np.float32
    np.testing.assert_allclose(dw, EXPECTED["irprop+"][-1], rtol=1e-6)


def test_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="no learning rate"):
        Trainer(Network([2, 2, 1], seed=0), rule="irprop-", mode="batch", schedule=lambda e, h: 0.1)
