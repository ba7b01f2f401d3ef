"""L2Penalty: the penalty, its gradient and Hessian for both scalings, from one definition."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import Network
from bprop.training.regularization import L2Penalty

LAM, S = 0.3, 4.0


def _setup(scaling):
    net = Network([3, 2, 1], seed=0)
    return net, L2Penalty.for_network(net, LAM, scaling), net.weight_mask()


@pytest.mark.parametrize("scaling, kappa", [("mean", S), ("sum", 1.0)])
def test_penalty_gradient_and_hessian(scaling, kappa):
    net, l2, mask = _setup(scaling)
    w = net.params
    half = 0.5 * LAM * float(np.sum(w[mask] ** 2))  # biases are not decayed
    assert l2.penalty(w, S) == pytest.approx(kappa * half, rel=1e-14)
    G = np.random.default_rng(1).normal(size=w.size)
    g = G.copy()
    penalty = l2.mean_gradient(g, w, S)
    assert penalty == pytest.approx(kappa * half, rel=1e-14)
    np.testing.assert_allclose(g, (G + kappa * LAM * mask * w) / S, rtol=1e-14)
    np.testing.assert_allclose(l2.gradient_sum(w, S), kappa * LAM * mask * w, rtol=1e-14)
    np.testing.assert_allclose(l2.hessian_diagonal(S), kappa * LAM * mask, rtol=1e-14)
    # the gradient is that of the penalty: central differences of P_B
    h, i = 1e-6, int(np.flatnonzero(mask)[0])
    e = np.zeros_like(w)
    e[i] = h
    numeric = (l2.penalty(w + e, S) - l2.penalty(w - e, S)) / (2 * h)
    assert numeric == pytest.approx(l2.gradient_sum(w, S)[i], rel=1e-7)


def test_no_decay_only_divides():
    net = Network([2, 1], seed=0)
    l2 = L2Penalty.for_network(net, 0.0, "sum")
    g = np.ones(net.n_params)
    assert not l2.active and l2.mean_gradient(g, net.params, 4.0) == 0.0
    np.testing.assert_array_equal(g, 0.25)
    assert l2.penalty(net.params, 4.0) == 0.0 and l2.gradient_sum(net.params, 4.0) is None


def test_bad_arguments():
    net = Network([2, 1], seed=0)
    with pytest.raises(ValueError, match="weight_decay must be finite and >= 0"):
        L2Penalty.for_network(net, -1.0, "mean")
    with pytest.raises(ValueError, match="weight_decay_scaling must be 'mean' or 'sum'"):
        L2Penalty.for_network(net, 0.1, "median")
