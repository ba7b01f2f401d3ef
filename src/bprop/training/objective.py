"""The full-batch objective: the mean training error as a function of the flat weights.

Full-batch solvers (L-BFGS, Levenberg-Marquardt; :class:`~bprop.optim.base.ClosureRule`)
minimise

    F(w) = (1 / S) sum_p s_p E_p(w) + lambda / 2 ||w_weights||^2      (S = sum_p s_p)

(with ``weight_decay_scaling='sum'`` the L2 term is lambda / (2 S) ||w_weights||^2, as
scikit-learn's ``alpha``; both computed by
:class:`~bprop.training.regularization.L2Penalty`). Sums over the training set come from
the data source (:mod:`bprop.training.sources`), block by block, so memory stays bounded
and the rows may live anywhere (arrays, a streamed Parquet dataset).
"""

from __future__ import annotations

import numpy as np

from bprop.core.losses import Loss
from bprop.core.network import Network
from bprop.training.metrics import AccuracyCounter
from bprop.training.regularization import L2Penalty
from bprop.training.sources import DataSource

__all__ = ["FullBatchObjective"]


class FullBatchObjective:
    """The mean training error as a function of the flat parameter vector.

    ``objective(w) = (1 / S) sum_p s_p E_p(w) + lambda / 2 ||w_weights||^2`` and its
    gradient, summed over blocks of rows. Calling it sets the network's parameters to w.
    Used by the full-batch solvers (L-BFGS, Levenberg-Marquardt) through
    :class:`~bprop.optim.base.ClosureRule`.
    """

    def __init__(
        self,
        network: Network,
        loss: Loss,
        data: DataSource,
        *,
        decay: np.ndarray | None = None,
        weight_decay_scaling: str = "mean",
        counter: AccuracyCounter | None = None,
    ) -> None:
        """``decay``: lambda on weights and 0 on biases (None: no L2 term); ``counter``:
        counts correct patterns into ``last_correct``."""
        self.network = network
        self.loss = loss
        self.data = data
        self.l2 = L2Penalty(decay, weight_decay_scaling)
        self.counter = counter
        self.n_params = self.network.n_params
        self.n_evaluations = 0
        self.last_loss = np.nan  # data error (no L2 term) at the last evaluation
        self.last_correct = 0.0
        self.last_penalty = 0.0  # the L2 term at the last evaluation, in units of sum_p s_p E_p
        self.last_params: np.ndarray | None = None  # where last_loss etc. were evaluated

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        net = self.network
        if params is not net.params:
            net.params[...] = params
        sums = self.data.full_batch(net, self.loss, self.counter)
        E, correct = sums.error, sums.correct
        self.n_evaluations += 1
        self.last_params = net.params.copy()
        S = self.data.weight_total
        grad = np.array(sums.gradient)
        self.last_penalty = self.l2.mean_gradient(grad, net.params, S)
        self.last_loss = E * (1.0 / S)
        self.last_correct = correct
        return self.last_loss + self.last_penalty / S, grad

    # The solvers that drive the epochs themselves (L-BFGS, Levenberg-Marquardt) use these.
    def at(self, params: np.ndarray) -> None:
        """Make ``last_loss``, ``last_correct``, ``last_penalty`` those of ``params``."""
        if self.last_params is None or not np.array_equal(params, self.last_params):
            self.value(params)

    def value(self, params: np.ndarray) -> float:
        """The objective at ``params`` by forward passes only (no gradient)."""
        net, S = self.network, self.data.weight_total
        if params is not net.params:
            net.params[...] = params
        E, correct = self.data.evaluate(net, self.loss, self.counter)
        mean = E / S
        self.n_evaluations += 1
        self.last_params = net.params.copy()
        self.last_loss = mean
        self.last_correct = 0.0 if self.counter is None else correct / S * S
        self.last_penalty = self.l2.penalty(net.params, S)
        return mean + self.last_penalty / S

    def gauss_newton(self, params: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(F, S grad F, S (J^T J / S + L2 Hessian)) at ``params``, for Levenberg-Marquardt.

        F = 1/(2S) ||e||^2 + the L2 term; J^T J is summed over blocks of rows
        (:func:`bprop.core.jacobian.gauss_newton`), never holding the whole Jacobian.
        """
        net, d = self.network, self.data
        if params is not net.params:
            net.params[...] = params
        half_sq, b, A = d.gauss_newton(net, self.loss)
        self.n_evaluations += 1
        S = d.weight_total
        F = half_sq / S
        if self.l2.active:
            F += self.l2.penalty(net.params, S) / S
            b += self.l2.gradient_sum(net.params, S)
            A[np.diag_indices_from(A)] += self.l2.hessian_diagonal(S)
        return F, b, A
