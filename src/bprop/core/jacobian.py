"""Per-pattern Jacobians by backpropagation, for Levenberg-Marquardt.

The backward pass of :mod:`bprop.core.network` sums dE_p/dw over patterns. Levenberg-Marquardt
needs more: the derivative of every **residual** e_pk (pattern p, output k) with respect to
every weight, a matrix with one row per residual. Backpropagation gives it one output at
a time (Hagan & Menhaj 1994, "Marquardt sensitivities"): seed the output layer with

    delta_k^(L)(p) = d o_pk / d net^(L)(p)      (= phi'(net_pk) e_k for an elementwise phi)

instead of dE/dnet, propagate it down with the generalised delta rule,

    delta^(l-1)(p) = phi'(net^(l-1)(p)) * (W^(l) delta^(l)(p)),

and read off d o_pk / d w_ij = o_i(p) delta_j(p) and d o_pk / d b_j = delta_j(p), **per
pattern** (not summed). This is K backward passes for K outputs, each over all patterns at
once.

Residuals: for the squared-error losses the mean error is E = 1/(2S) ||e||^2 with

    squared_error (E_p = 1/2 sum_k (t_k - o_k)^2):   e_pk = sqrt(s_p) (o_pk - t_pk)
    mse           (E_p = 1/K sum_k (t_k - o_k)^2):   e_pk = sqrt(2 s_p / K) (o_pk - t_pk)

(s_p the sample weights, S their sum), so de_pk/dw = c_p d o_pk / dw with c_p the factor in
front. Other losses have no residual form here and are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from bprop.core.losses import Loss, MeanSquaredError, SquaredError
from bprop.core.network import Network

__all__ = [
    "gauss_newton",
    "gauss_newton_rows",
    "gauss_newton_sum",
    "output_jacobian",
    "residual_scale",
    "residuals_and_jacobian",
]


def output_jacobian(network: Network, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The outputs o (n, K) and their Jacobian J (n, K, n_params), J[p, k] = d o_pk / d params.

    Columns follow the network's flat parameter layout (W_0, b_0, W_1, b_1, ...).
    """
    net = network
    n, K = X.shape[0], net.n_outputs
    o_out = net.forward(X).copy()
    nets = [a.copy() for a in net.nets]
    outs = [a.copy() for a in net.outputs]
    J = np.zeros((n, K, net.n_params), net.dtype)
    layers = net.layout.layers
    seed = np.zeros((n, K), net.dtype)
    for k in range(K):
        seed[:] = 0.0
        seed[:, k] = 1.0
        delta = net.activations[-1].backward(seed, nets[-1], outs[-1], np.empty_like(seed))
        for layer in range(net.n_layers - 1, -1, -1):
            o_prev = X if layer == 0 else outs[layer - 1]
            w0, b0, b1 = layers[layer].weight_offset, layers[layer].bias_offset, layers[layer].end
            J[:, k, w0:b0] = (o_prev[:, :, None] * delta[:, None, :]).reshape(n, -1)
            J[:, k, b0:b1] = delta
            if layer > 0:
                below = delta @ net.weights[layer].T
                delta = net.activations[layer - 1].backward(
                    below, nets[layer - 1], outs[layer - 1], below
                )
    return o_out, J


def residual_scale(loss: Loss, n_outputs: int, sample_weight: np.ndarray | None, n: int):
    """c_p with e_pk = c_p (o_pk - t_pk), shape (n,); a ValueError for non-squared losses."""
    if isinstance(loss, SquaredError):
        factor = 1.0
    elif isinstance(loss, MeanSquaredError):
        factor = 2.0 / n_outputs
    else:
        raise ValueError(
            f"Levenberg-Marquardt needs a sum-of-squares loss ('squared_error' or 'mse'), "
            f"got loss {loss.name!r}"
        )
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    return np.sqrt(factor * s)


def residuals_and_jacobian(
    network: Network,
    X: np.ndarray,
    T: np.ndarray,
    loss: Loss,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Residuals e (n K,) and their Jacobian de/dparams (n K, n_params), rows p-major.

    sum_p s_p E_p = 1/2 ||e||^2 (see the module docstring).
    """
    c = residual_scale(loss, network.n_outputs, sample_weight, X.shape[0]).astype(network.dtype)
    o, J = output_jacobian(network, X)
    e = (o - T) * c[:, None]
    J *= c[:, None, None]
    return e.reshape(-1), J.reshape(-1, network.n_params)


def gauss_newton(
    network: Network,
    X: np.ndarray,
    T: np.ndarray,
    loss: Loss,
    sample_weight: np.ndarray | None = None,
    *,
    max_block_bytes: int = 32 * 2**20,
) -> tuple[float, np.ndarray, np.ndarray]:
    """(1/2 ||e||^2, J^T e, J^T J) summed over blocks of rows, never holding all of J.

    Each block's Jacobian takes at most ``max_block_bytes`` (at least one pattern):
    blocks of :func:`gauss_newton_rows` rows, added in order by :func:`gauss_newton_sum`.
    """
    block = gauss_newton_rows(network, max_block_bytes)

    def blocks():
        for start in range(0, X.shape[0], block):
            sl = slice(start, start + block)
            yield X[sl], T[sl], None if sample_weight is None else sample_weight[sl]

    return gauss_newton_sum(network, blocks(), loss)


def gauss_newton_rows(network: Network, max_block_bytes: int = 32 * 2**20) -> int:
    """Rows per block whose Jacobian (rows x outputs x params) fits in ``max_block_bytes``."""
    row_bytes = network.n_outputs * network.n_params * network.dtype.itemsize
    return max(1, int(max_block_bytes // max(row_bytes, 1)))


def gauss_newton_sum(
    network: Network, blocks: Iterable[tuple[np.ndarray, np.ndarray, Any]], loss: Loss
) -> tuple[float, np.ndarray, np.ndarray]:
    """(1/2 ||e||^2, J^T e, J^T J) over blocks (X, T, sample_weight), added in their order."""
    P = network.n_params
    half_sq = 0.0
    Jte = np.zeros(P, np.float64)
    JtJ = np.zeros((P, P), np.float64)
    for x, t, s in blocks:
        e, J = residuals_and_jacobian(network, x, t, loss, s)
        half_sq += 0.5 * float(e @ e)
        Jte += J.T @ e
        JtJ += J.T @ J
    return half_sq, Jte, JtJ
