"""The update-rule interface.

An update rule turns the gradient of the mean training error into a weight change.
Rules see only flat arrays (all weights and biases of a network in one vector), never a
network, so that one rule serves any depth and the trainer can run it on anything.

Two shapes of rule exist:

- :class:`UpdateRule` (gradient descent, momentum, Nesterov, the RPROP family, Quickprop,
  Adam, ...): ``state = rule.init(n_params, dtype)``, then for each update
  ``delta_w = rule.step(grad, state, loss)`` and the trainer applies ``w += delta_w``.
  ``step`` updates ``state`` in place and may return an array owned by the state (valid
  until the next call). ``loss`` is the mean error of the patterns the gradient came
  from, at the weights the gradient was taken at (iRprop+ needs it).
- :class:`ClosureRule` (L-BFGS, Levenberg-Marquardt): full-batch solvers that evaluate
  the objective themselves and keep their own loop (scipy's L-BFGS-B keeps its memory
  inside one call). The trainer calls ``rule.run(objective, params, state, on_iteration)``
  once; ``on_iteration(params)``, called after every solver iteration, records one epoch
  (validation, callbacks, stopping criteria, max_epochs) and returns a
  :class:`~bprop.optim.stop.Stop` or None; ``run`` returns the Stop that ended it.

Hyperparameters are validated at construction with a ValueError that names the rule and
the value (:mod:`bprop.core.validation`; ``check_positive`` and ``check_in_range`` are
also importable from here).

Hyperparameters and state are kept apart (as ``torch.optim`` keeps ``param_groups`` apart
from ``state``): a rule object holds only its hyperparameters and is never changed by
training. What changes lives in the state, including the **current learning rate**: every
rule with a ``learning_rate`` hyperparameter eta_0 keeps its state in a subclass of
:class:`LearningRateState`, whose ``learning_rate`` field ``init`` sets to eta_0 and ``step``
reads. A schedule (:mod:`bprop.optim.schedules`) sets that field before each epoch, and a
checkpoint saves it with the rest of the state.

Compiled forms: a step rule may also carry its update weight by weight, as plain
functions in the class attribute ``compiled`` (a :class:`StepForm`; no numba here), which
the compiled training kernel (:mod:`bprop.training.fast`) compiles into its loop. Only the
class that declares ``compiled`` has one: a subclass, which may change ``step``, inherits
none and runs on the NumPy path, as does every rule without a compiled form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from bprop.core.validation import check_in_range, check_positive
from bprop.optim.stop import Stop

__all__ = [
    "ClosureRule",
    "LearningRateState",
    "Objective",
    "StepForm",
    "UpdateRule",
    "check_in_range",
    "check_positive",
    "current_learning_rate",
]


@dataclass
class LearningRateState:
    """The state every rule with a learning rate shares: eta, the current learning rate.

    ``rule.init`` sets it to the rule's ``learning_rate`` hyperparameter eta_0; ``step``
    uses it; a schedule replaces it before each epoch (the rule keeps eta_0).
    """

    learning_rate: float


def current_learning_rate(rule: object, state: object) -> float | None:
    """The learning rate the next step uses: the state's, else the rule's, else None."""
    lr = getattr(state, "learning_rate", None)
    if lr is None:
        lr = getattr(rule, "learning_rate", None)
    return None if lr is None else float(lr)


@dataclass(frozen=True)
class StepForm:
    """A step rule's update weight by weight, as plain functions for compiled loops.

    One update on the gradient g (already the mean-error gradient with any L2 term) is::

        t = begin(h, t, c)                       # once per update
        Delta w_q = element(g_q, q, S, c)        # for every weight q; S updated at q

    ``h`` holds ``scalars(rule, state)`` (the hyperparameters and the state's current
    learning rate, float64), ``c`` the
    ``n_coefficients`` per-update coefficients that ``begin`` writes (in the network's
    dtype, so that they round as the NumPy step's Python floats do), ``S`` the rule
    state's arrays named in ``state`` (in that order; the state's ``delta_w`` receives
    Delta w), ``t`` the state's step count if ``counts_steps`` (else 0, unused).
    """

    state: tuple[str, ...]
    scalars: Callable[[Any, Any], tuple[float, ...]]
    begin: Callable[..., int]
    element: Callable[..., float]
    n_coefficients: int
    counts_steps: bool = False


class _Rule:
    """What every rule has: a registry name, and hyperparameters as plain data."""

    name: ClassVar[str] = ""
    #: True for rules defined only for full-batch learning (they refuse mini-batches).
    full_batch_only: ClassVar[bool] = False

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor arguments, as plain data (for model files and reports)."""
        return dict(vars(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


class UpdateRule(_Rule):
    """Base class of the step-shaped rules."""

    #: The step weight by weight for the compiled kernel (see the module docstring).
    compiled: ClassVar[StepForm | None] = None

    def compiled_form(self) -> StepForm | None:
        """The compiled form declared by this very class (never inherited), or None."""
        return vars(type(self)).get("compiled")

    def init(self, n_params: int, dtype: np.dtype) -> Any:  # pragma: no cover
        raise NotImplementedError

    def step(self, grad: np.ndarray, state: Any, loss: float | None = None) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover


class Objective(Protocol):
    """The full-batch objective a :class:`ClosureRule` minimises (see bprop.training)."""

    n_params: int

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean error (with any L2 term) and its gradient at ``params``."""
        ...


class ClosureRule(_Rule):
    """Base class of the full-batch solvers that call the objective themselves."""

    full_batch_only: ClassVar[bool] = True

    def init(self, n_params: int, dtype: np.dtype) -> Any:
        return None

    def run(
        self,
        objective: Objective,
        params: np.ndarray,
        state: Any,
        on_iteration: Callable[[np.ndarray], Stop | None],
    ) -> Stop:  # pragma: no cover
        """Iterate from ``params`` (moved in place); after each iteration call
        ``on_iteration(params)``, which records an epoch and returns a :class:`Stop` or
        None. Returns the Stop that ended the run: ``on_iteration``'s, or the solver's own
        (plain text is accepted and recorded as ``StopReason.SOLVER``)."""
        raise NotImplementedError
