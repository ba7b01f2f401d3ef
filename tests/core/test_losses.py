"""Loss values against their definitions, reductions, stability, and output deltas."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import get_activation, get_loss
from bprop.core.losses import default_loss


def values(loss_name, act_name, net, t):
    act = get_activation(act_name)
    o = act(net)
    return get_loss(loss_name).per_pattern(o, t, net, act), o


def test_reductions_are_as_documented(rng):
    net = rng.normal(size=(4, 3))
    t = rng.uniform(size=(4, 3))
    e, o = values("squared_error", "identity", net, t)
    np.testing.assert_allclose(e, 0.5 * ((t - o) ** 2).sum(axis=1))
    e, o = values("mse", "identity", net, t)
    np.testing.assert_allclose(e, ((t - o) ** 2).mean(axis=1))
    e, o = values("binary_cross_entropy", "logistic", net, t)
    np.testing.assert_allclose(e, -(t * np.log(o) + (1 - t) * np.log(1 - o)).sum(axis=1))
    t1 = np.eye(3)[[0, 2, 1, 1]]
    e, o = values("categorical_cross_entropy", "softmax", net, t1)
    np.testing.assert_allclose(e, -(t1 * np.log(o)).sum(axis=1))
    act = get_activation("identity")
    total = get_loss("mse").total(net, t, net, act)
    assert total == pytest.approx(((t - net) ** 2).mean(axis=1).sum())
    sw = np.array([1.0, 0.0, 2.0, 0.5])
    weighted = get_loss("mse").total(net, t, net, act, sw)
    assert weighted == pytest.approx(((t - net) ** 2).mean(axis=1) @ sw)


def test_cross_entropy_is_finite_where_outputs_saturate():
    net = np.array([[800.0, -800.0]])
    e, _ = values("categorical_cross_entropy", "softmax", net, np.array([[0.0, 1.0]]))
    assert e[0] == pytest.approx(1600.0)
    e, _ = values("binary_cross_entropy", "logistic", net, np.array([[0.0, 1.0]]))
    assert e[0] == pytest.approx(1600.0)


@pytest.mark.parametrize(
    ("loss", "act"),
    [
        ("categorical_cross_entropy", "softmax"),
        ("binary_cross_entropy", "logistic"),
        ("squared_error", "identity"),
        ("mse", "identity"),
        ("poisson", "exp"),
    ],
)
def test_fused_delta_equals_the_chain_rule(loss, act, rng):
    lo, a = get_loss(loss), get_activation(act)
    net = rng.normal(size=(5, 3))
    t = rng.uniform(size=(5, 3))
    o = a(net)
    fused = lo.output_delta(o, t, net, a, np.empty_like(net))
    chain = a.backward(lo.dE_do(o, t), net, o, np.empty_like(net))
    np.testing.assert_allclose(fused, chain, rtol=1e-10, atol=1e-12)


def test_softmax_cross_entropy_delta_is_o_minus_t_for_one_hot():
    lo, a = get_loss("cce"), get_activation("softmax")
    net = np.array([[1.0, 2.0, 0.5]])
    t = np.array([[0.0, 1.0, 0.0]])
    o = a(net)
    np.testing.assert_allclose(lo.output_delta(o, t, net, a, np.empty_like(o)), o - t)


def test_pairs_that_make_no_sense_are_refused():
    with pytest.raises(ValueError, match="'categorical_cross_entropy' needs outputs in"):
        get_loss("categorical_cross_entropy").check_output(get_activation("identity"))
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        get_loss("hinge")


def test_default_losses():
    assert default_loss(get_activation("softmax")).name == "categorical_cross_entropy"
    assert default_loss(get_activation("logistic")).name == "binary_cross_entropy"
    assert default_loss(get_activation("identity")).name == "squared_error"


def test_log_softmax_matches_scipy_and_survives_large_inputs(rng):
    from scipy.special import log_softmax as scipy_log_softmax

    from bprop.core.losses import log_softmax

    net = rng.normal(scale=30, size=(6, 4))
    np.testing.assert_allclose(log_softmax(net), scipy_log_softmax(net, axis=1), rtol=1e-13)
    np.testing.assert_allclose(log_softmax(np.array([[1e4, 0.0]])), [[0.0, -1e4]])


def test_poisson_loss_is_half_the_deviance_and_zero_at_the_target(rng):
    """E_p = sum_k [t ln(t / o) - t + o] (t ln t = 0 at t = 0); from the net input with exp."""
    net = rng.normal(size=(5, 3))
    t = rng.poisson(2.0, size=(5, 3)).astype(float)
    t[0, 0] = 0.0
    e, o = values("poisson", "exp", net, t)
    safe = np.where(t > 0, t, 1.0)
    np.testing.assert_allclose(e, (t * np.log(safe / o) - t + o).sum(axis=1), rtol=1e-12)
    e_sp, o_sp = values("poisson", "softplus", net, t)
    np.testing.assert_allclose(e_sp, (t * np.log(safe / o_sp) - t + o_sp).sum(axis=1))
    at_target, _ = values("poisson", "exp", np.log(t + 1.0), t + 1.0)
    np.testing.assert_allclose(at_target, 0.0, atol=1e-12)
    big, _ = values("poisson", "exp", np.array([[-800.0]]), np.array([[3.0]]))
    assert big[0] == pytest.approx(3 * np.log(3) + 3 * 800 - 3)  # o = e^-800 = 0: still finite
    assert default_loss(get_activation("exp")).name == "poisson"
    assert get_loss("poisson_deviance").name == "poisson"


def test_poisson_needs_positive_outputs_and_nonnegative_targets():
    with pytest.raises(ValueError, match="'poisson' needs positive outputs.*'identity'"):
        get_loss("poisson").check_output(get_activation("identity"))
    with pytest.raises(ValueError, match=r"targets >= 0.*-1\.5"):
        get_loss("poisson").check_targets(np.array([[1.0], [-1.5]]))
    get_loss("poisson").check_targets(np.array([[0.0], [2.0]]))
    get_loss("squared_error").check_targets(np.array([[-1.0]]))  # any target
