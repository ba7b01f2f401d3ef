"""L-BFGS, full batch, through ``scipy.optimize.minimize(method='L-BFGS-B')``.

Source: R. H. Byrd, P. Lu, J. Nocedal and C. Zhu, "A limited memory algorithm for bound
constrained optimization", SIAM J. Sci. Comput. 16(5), 1995, as implemented by scipy
(no bounds are given, so this is unconstrained L-BFGS with L-BFGS-B's compact
quasi-Newton matrix and its More-Thuente (``dcsrch``) line search). With s_k = w_{k+1} - w_k
and y_k = g_{k+1} - g_k for the last m iterations, the direction is -H_k g_k where H_k is
the limited-memory BFGS approximation of the inverse Hessian of the objective

    F(w) = (1/S) sum_p s_p E_p(w) + lambda/2 ||w_weights||^2

on the flat parameter vector; the step length satisfies the strong Wolfe conditions.

**One scipy iteration is one epoch.** The trainer gives the solver a callback
(:meth:`LBFGS.run`): scipy runs once per ``fit``, and after each of its iterations the
trainer records an epoch (history, validation, callbacks, stopping criteria); a stop
makes the callback raise ``StopIteration``, which scipy (>= 1.11) turns into a clean end.
An epoch therefore costs one or more function-and-gradient evaluations (the line
search's). The L-BFGS memory lives inside that one scipy run: ``fit(..., resume=True)``
starts a new run (fresh memory) from the current weights. The reason scipy stopped
("CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH", "STOP: TOTAL NO. OF f AND g
EVALUATIONS EXCEEDS LIMIT", ...) is the history's ``stop_reason``, prefixed with
``lbfgs: scipy L-BFGS-B stopped:``; ``history.stop`` is read from scipy's ``status``:
``StopReason.CONVERGED`` (0), ``StopReason.SOLVER_LIMIT`` (1: ``max_iter`` or ``max_fun``
reached), ``StopReason.SOLVER`` (anything else, e.g. an abnormal line search).

Parameters and defaults (scipy's): ``max_iter`` = 15000 iterations (``maxiter``),
``max_fun`` = 15000 function evaluations (``maxfun``), ``memory`` m = 10 (``maxcor``),
``gtol`` = 1e-5 on the largest gradient component (``gtol``; scipy calls it the projected
gradient), ``ftol`` = 2.220446049250313e-09 on the relative reduction of F (``ftol``).
The trainer's ``max_epochs`` also bounds the iterations. scikit-learn's
``MLPClassifier(solver='lbfgs')`` runs the same scipy routine with ``max_iter`` = 200
and ``max_fun`` = 15000.

Differences from ``torch.optim.LBFGS``: PyTorch implements the two-loop recursion itself,
by default without a line search (fixed step lr = 1, the first step scaled by
min(1, 1/||g||_1)) or with its own strong-Wolfe search (``line_search_fn='strong_wolfe'``),
history 100, and runs ``max_iter`` = 20 iterations per ``step()`` call. The iterates
therefore differ from scipy's; on a strictly convex problem both reach the same minimiser
(tested in ``tests/test_rules_torch_reference.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.optimize

from bprop.core.validation import check_positive, positive_int
from bprop.optim.base import ClosureRule
from bprop.optim.stop import Stop, StopReason

__all__ = ["LBFGS", "LBFGSState"]

_PREFIX = "lbfgs: scipy L-BFGS-B stopped: "
#: scipy's L-BFGS-B ``status``: 0 converged, 1 iteration or evaluation limit.
_SCIPY_STATUS = {0: StopReason.CONVERGED, 1: StopReason.SOLVER_LIMIT}


@dataclass
class LBFGSState:
    """What the last scipy run reported."""

    n_iterations: int = 0
    n_evaluations: int = 0
    message: str = ""
    status: int = 0  # scipy's: 0 converged, 1 iteration/evaluation limit, 2 other


class LBFGS(ClosureRule):
    """Full-batch L-BFGS through scipy's L-BFGS-B; see the module docstring."""

    name = "lbfgs"

    def __init__(
        self,
        max_iter: int = 15000,
        max_fun: int = 15000,
        memory: int = 10,
        gtol: float = 1e-5,
        ftol: float = 2.220446049250313e-09,
    ) -> None:
        self.max_iter = positive_int(self.name, "max_iter", max_iter)
        self.max_fun = positive_int(self.name, "max_fun", max_fun)
        self.memory = positive_int(self.name, "memory", memory)
        self.gtol = check_positive(self.name, "gtol", gtol, allow_zero=True)
        self.ftol = check_positive(self.name, "ftol", ftol, allow_zero=True)

    def init(self, n_params: int, dtype: np.dtype) -> LBFGSState:
        return LBFGSState()

    def _minimize(
        self,
        objective: Any,
        params: np.ndarray,
        state: LBFGSState,
        callback: Callable[[np.ndarray], None],
        max_iter: int,
    ) -> scipy.optimize.OptimizeResult:
        dtype = params.dtype

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = objective(x.astype(dtype, copy=False))
            return float(value), np.asarray(grad, np.float64)

        def scipy_callback(intermediate_result: scipy.optimize.OptimizeResult) -> None:
            state.n_iterations += 1
            callback(intermediate_result.x)

        result = scipy.optimize.minimize(
            fun,
            params.astype(np.float64),
            jac=True,
            method="L-BFGS-B",
            callback=scipy_callback,
            options={
                "maxiter": max_iter,
                "maxfun": self.max_fun,
                "maxcor": self.memory,
                "gtol": self.gtol,
                "ftol": self.ftol,
            },
        )
        state.n_evaluations += int(result.nfev)
        state.message = str(result.message)
        state.status = int(result.status)
        return result

    def run(
        self,
        objective: Any,
        params: np.ndarray,
        state: LBFGSState,
        on_iteration: Callable[[np.ndarray], Stop | None],
    ) -> Stop:
        """Run scipy once; ``on_iteration(w)`` after each iteration may stop it with a reason.

        ``params`` ends at the last iterate. Returns the stop reason: the one
        ``on_iteration`` gave, else scipy's message.
        """
        stopped: list[Stop] = []

        def callback(x: np.ndarray) -> None:
            np.copyto(params, x)
            reason = on_iteration(params)
            if reason:
                stopped.append(reason)
                raise StopIteration

        result = self._minimize(objective, params, state, callback, self.max_iter)
        if stopped:
            return stopped[0]
        np.copyto(params, result.x)
        reason = _SCIPY_STATUS.get(state.status, StopReason.SOLVER)
        return Stop(reason, _PREFIX + state.message)
