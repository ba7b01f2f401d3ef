"""bprop.core.jacobian: per-pattern Jacobians by backpropagation against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import Network
from bprop.core.jacobian import gauss_newton, output_jacobian, residuals_and_jacobian
from bprop.core.losses import BinaryCrossEntropy, MeanSquaredError, SquaredError


def _central_difference(f, w, h=1e-6):
    J = []
    for i in range(w.size):
        wp, wm = w.copy(), w.copy()
        wp[i] += h
        wm[i] -= h
        J.append((f(wp) - f(wm)) / (2 * h))
    return np.stack(J, axis=-1)


@pytest.mark.parametrize(
    ("hidden", "output"), [("tanh", "identity"), ("logistic", "softmax"), ("relu", "logistic")]
)
def test_output_jacobian_matches_finite_differences(hidden: str, output: str) -> None:
    rng = np.random.default_rng(0)
    net = Network([3, 4, 3, 2], hidden, output, seed=1)
    X = rng.normal(size=(5, 3))
    o, J = output_jacobian(net, X)
    w0 = net.params.copy()

    def outputs(w):
        net.params[...] = w
        return net.predict(X)

    numeric = _central_difference(outputs, w0)
    np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(o, outputs(w0))


@pytest.mark.parametrize("loss", [SquaredError(), MeanSquaredError()])
def test_residuals_give_the_loss(loss) -> None:
    rng = np.random.default_rng(2)
    net = Network([2, 3, 2], "tanh", "identity", seed=0)
    X, T = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    sw = rng.uniform(0.1, 2.0, size=6)
    e, J = residuals_and_jacobian(net, X, T, loss, sw)
    o = net.predict(X)
    assert 0.5 * e @ e == pytest.approx(loss.total(o, T, o, net.output_activation, sw))
    # and J e is the gradient of sum_p s_p E_p that backpropagation computes
    net.gradient(X, T, loss, sw)
    np.testing.assert_allclose(J.T @ e, net.grad, rtol=1e-10, atol=1e-12)


def test_gauss_newton_in_blocks_equals_the_full_product() -> None:
    rng = np.random.default_rng(3)
    net = Network([2, 3, 2], "tanh", "identity", seed=0)
    X, T = rng.normal(size=(11, 2)), rng.normal(size=(11, 2))
    e, J = residuals_and_jacobian(net, X, T, SquaredError())
    row = 2 * net.n_params * 8  # one pattern's Jacobian: blocks of 3 patterns
    half_sq, Jte, JtJ = gauss_newton(net, X, T, SquaredError(), max_block_bytes=3 * row)
    assert half_sq == pytest.approx(0.5 * e @ e)
    np.testing.assert_allclose(Jte, J.T @ e, rtol=1e-12)
    np.testing.assert_allclose(JtJ, J.T @ J, rtol=1e-12)


def test_other_losses_are_refused() -> None:
    net = Network([2, 2, 1], seed=0)
    with pytest.raises(ValueError, match="binary_cross_entropy"):
        residuals_and_jacobian(net, np.eye(2), np.ones((2, 1)), BinaryCrossEntropy())
