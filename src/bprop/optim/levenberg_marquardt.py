"""Levenberg-Marquardt for sum-of-squares losses (M. T. Hagan and M. B. Menhaj, "Training
feedforward networks with the Marquardt algorithm", IEEE Trans. Neural Networks 5(6), 1994).

With the residuals e(w) (one per pattern and output, see :mod:`bprop.core.jacobian`), their
Jacobian J = de/dw computed by backpropagation per pattern, S the total sample weight and
lambda the L2 weight decay on the weights (mask D, biases excluded), the objective is

    F(w) = 1/(2S) ||e||^2 + lambda/2 ||D w||^2

and one iteration solves, for the current mu,

    (J^T J + S lambda D + mu I) Delta w = -(J^T e + S lambda D w)

(Cholesky factorisation), then evaluates F(w + Delta w). If F decreased the step is taken
and mu <- mu * mu_decrease; otherwise mu <- mu * mu_increase and the system is solved
again, until F decreases or mu exceeds mu_max, which ends training (``StopReason.SOLVER``,
"lm: mu exceeded mu_max ..."). This is Hagan & Menhaj's Section III and MATLAB's
``trainlm``, whose defaults are used: mu = 1e-3, mu_decrease = 0.1, mu_increase = 10, mu_max = 1e10.
mu carries over from one epoch (= one accepted step) to the next.

Notes on the scaling: mu acts on the **sum** of squares (1/2 ||e||^2), as in the paper and
trainlm, not on the mean error bprop reports; dividing the system by S gives the
equivalent step for the mean with mu / S. With ``weight_decay_scaling='sum'`` the decay
term is (lambda / S) instead of lambda in F, and the system uses lambda D accordingly.
A factorisation failure (J^T J + mu I not numerically positive definite) counts as a
failed step (mu grows).

Cost and size: each epoch forms J^T J (n K P^2 flops for n patterns, K outputs and P
weights, in blocks of patterns so the full Jacobian is never held) and factorises a P x P
matrix (P^3 / 3 flops per trial mu). Memory is about 3 P^2 numbers (J^T J, the system, its
factor). It is practical up to a few thousand weights (P = 2000: 32 MB per matrix, well
under a second per factorisation; the J^T J product usually dominates). ``max_memory``
(default 1 GiB) refuses larger networks with a ValueError when training starts, instead
of letting the machine swap.

LM needs the whole training set at once: it refuses mini-batch and online modes, and
refuses losses other than 'squared_error' and 'mse' (a ValueError at the first epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from bprop.core.validation import check_positive
from bprop.optim.base import ClosureRule
from bprop.optim.stop import Stop, StopReason

__all__ = ["LevenbergMarquardt", "LMState"]


@dataclass
class LMState:
    mu: float
    n_trials: int = 0  # systems solved so far (accepted and rejected steps)


class LevenbergMarquardt(ClosureRule):
    """Levenberg-Marquardt (Hagan & Menhaj 1994); see the module docstring.

    Defaults are trainlm's: mu 1e-3, mu_decrease 0.1, mu_increase 10, mu_max 1e10.
    """

    name = "lm"

    def __init__(
        self,
        mu: float = 1e-3,
        mu_decrease: float = 0.1,
        mu_increase: float = 10.0,
        mu_max: float = 1e10,
        max_memory: float = 2**30,
    ) -> None:
        n = self.name
        self.mu = check_positive(n, "mu", mu)
        self.mu_decrease = check_positive(n, "mu_decrease", mu_decrease)
        if self.mu_decrease >= 1.0:
            raise ValueError(f"{n}: mu_decrease must be in (0, 1), got {mu_decrease!r}")
        self.mu_increase = check_positive(n, "mu_increase", mu_increase)
        if self.mu_increase <= 1.0:
            raise ValueError(f"{n}: mu_increase must be > 1, got {mu_increase!r}")
        self.mu_max = check_positive(n, "mu_max", mu_max)
        if self.mu_max <= self.mu:
            raise ValueError(f"{n}: mu_max must be > mu, got mu_max={mu_max!r}, mu={mu!r}")
        self.max_memory = check_positive(n, "max_memory", max_memory)

    def memory_needed(self, n_params: int) -> int:
        """Bytes of the three P x P float64 matrices one iteration holds."""
        return 3 * 8 * n_params * n_params

    def init(self, n_params: int, dtype: np.dtype) -> LMState:
        need = self.memory_needed(n_params)
        if need > self.max_memory:
            raise ValueError(
                f"lm: a network with {n_params} weights needs about {need / 2**20:.0f} MiB "
                f"for J^T J (3 x {n_params}^2 float64), more than max_memory = "
                f"{self.max_memory / 2**20:.0f} MiB; use a smaller network, another rule "
                "(lbfgs, irprop+), or raise max_memory"
            )
        return LMState(mu=self.mu)

    # ------------------------------------------------------------------ iterations
    def _iterate(self, objective: Any, params: np.ndarray, state: LMState) -> Stop | None:
        """One accepted step (params moved in place), or the reason LM cannot go on."""
        # F(w), and S times its gradient and its Gauss-Newton Hessian (L2 terms included)
        F, b, A = objective.gauss_newton(params)
        diag = np.diag_indices_from(A)
        base_diag = A[diag].copy()
        while True:
            state.n_trials += 1
            A[diag] = base_diag + state.mu
            try:
                factor = scipy.linalg.cho_factor(A, overwrite_a=False, check_finite=False)
                step = -scipy.linalg.cho_solve(factor, b, check_finite=False)
                ok = bool(np.all(np.isfinite(step)))
            except np.linalg.LinAlgError:
                ok = False
            if ok:
                trial = params + step.astype(params.dtype)
                F_new = objective.value(trial)
                if F_new < F:
                    np.copyto(params, trial)
                    state.mu *= self.mu_decrease
                    return None
            state.mu *= self.mu_increase
            if state.mu > self.mu_max:
                detail = f"lm: mu exceeded mu_max = {self.mu_max:g}; no step reduces the error"
                return Stop(StopReason.SOLVER, detail)

    def run(
        self,
        objective: Any,
        params: np.ndarray,
        state: LMState,
        on_iteration: Callable[[np.ndarray], Stop | None],
    ) -> Stop:
        """Iterate until ``on_iteration(params)`` (called after each step) or mu stops it."""
        while True:
            reason = self._iterate(objective, params, state)
            if reason:
                return reason
            reason = on_iteration(params)
            if reason:
                return reason
