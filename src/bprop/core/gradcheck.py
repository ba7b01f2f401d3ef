"""Check backpropagation's gradient against central finite differences.

For every parameter w_i (weights and biases alike):

    numeric_i  = (8 [E(w + h e_i) - E(w - h e_i)] - [E(w + 2h e_i) - E(w - 2h e_i)]) / (12 h)
    relative_i = |analytic_i - numeric_i| / max(|analytic_i| + |numeric_i|, floor)

where E = sum_p s_p E_p is the error of the whole data set. The five-point central
difference has truncation error O(h^4), so with h = 1e-4 both truncation (~1e-16) and
rounding (~1e-12) errors stay far below the gradients being checked. The numeric side is always
computed in float64 on a float64 copy of the network, so a float32 network is compared
against an accurate reference. ``floor`` keeps gradients that are zero in truth (dead
ReLUs, saturated units) from dividing by rounding noise: below it, errors are absolute.
"""

from __future__ import annotations

import numpy as np

from bprop.core.losses import Loss, resolve_loss
from bprop.core.network import Network
from bprop.core.validation import check_sample_weight, check_targets

__all__ = ["gradcheck", "numeric_gradient"]


def _setup(network: Network, X, y, loss, sample_weight):
    X = network.check_input(X)
    T = check_targets(y, X.shape[0], network.n_outputs, network.dtype)
    sw = check_sample_weight(sample_weight, X.shape[0], network.dtype)
    loss = resolve_loss(loss, network.output_activation)
    return X, T, sw, loss


def numeric_gradient(
    network: Network,
    X: object,
    y: object,
    loss: str | Loss | None = None,
    sample_weight: object = None,
    h: float = 1e-4,
) -> np.ndarray:
    """dE/dw by five-point central differences, in float64 (the network is not changed)."""
    X, T, sw, loss = _setup(network, X, y, loss, sample_weight)
    ref = Network.from_weights(
        network.weights, network.biases, network.activations[:-1], network.activations[-1]
    )
    X64, T64 = X.astype(np.float64), T.astype(np.float64)
    sw64 = None if sw is None else sw.astype(np.float64)

    def error() -> float:
        o = ref.forward(X64)
        return loss.total(o, T64, ref.nets[-1], ref.output_activation, sw64)

    def error_at(i: int, step: float) -> float:
        saved = w[i]
        w[i] = saved + step
        e = error()
        w[i] = saved
        return e

    grad = np.empty(ref.n_params)
    w = ref.params
    for i in range(ref.n_params):
        d1 = error_at(i, h) - error_at(i, -h)
        d2 = error_at(i, 2 * h) - error_at(i, -2 * h)
        grad[i] = (8 * d1 - d2) / (12 * h)
    return grad


def gradcheck(
    network: Network,
    X: object,
    y: object,
    loss: str | Loss | None = None,
    sample_weight: object = None,
    h: float = 1e-4,
    floor: float = 1e-6,
) -> float:
    """The worst relative error between backprop's gradient and central differences.

    Expect below 1e-6 in float64 for smooth activations; a float32 network is limited by
    float32 rounding (around 1e-4 to 1e-3).
    """
    X, T, sw, loss = _setup(network, X, y, loss, sample_weight)
    network.gradient(X, T, loss, sw)
    analytic = network.grad.astype(np.float64)
    numeric = numeric_gradient(network, X, T, loss, sw, h)
    denom = np.maximum(np.abs(analytic) + np.abs(numeric), floor)
    return float(np.max(np.abs(analytic - numeric) / denom))
