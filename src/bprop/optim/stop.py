"""Why training stopped: a :class:`StopReason` (what fired) and a sentence for people.

Stopping criteria (:mod:`bprop.training.stopping`), the trainer (epoch limit, divergence,
callbacks) and the full-batch solvers (L-BFGS, Levenberg-Marquardt, which end their own
runs) all report a :class:`Stop`: ``reason``, a member of the enum, is what programs test
(``history.stop is StopReason.MAX_EPOCHS``); ``detail`` is the human-readable text
(``history.stop_reason``, e.g. "max_epochs: reached 200 epochs"), never parsed.

The enum's values are the short names model files store (``history.stop``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Stop", "StopReason"]


class StopReason(enum.Enum):
    """What ended a training run."""

    #: the trainer's ``max_epochs`` (or the estimators' ``max_iter``) was reached
    MAX_EPOCHS = "max_epochs"
    #: :class:`~bprop.training.stopping.TargetError`: the training error reached the target
    TARGET_ERROR = "target_error"
    #: :class:`~bprop.training.stopping.AllCorrect`: every training pattern was right
    ALL_CORRECT = "all_correct"
    #: :class:`~bprop.training.stopping.EarlyStopping`: no validation improvement
    EARLY_STOPPING = "early_stopping"
    #: Prechelt's GL_alpha (:class:`~bprop.training.stopping.GeneralizationLoss`)
    GENERALIZATION_LOSS = "generalization_loss"
    #: Prechelt's PQ_alpha (:class:`~bprop.training.stopping.ProgressQuotient`)
    PROGRESS_QUOTIENT = "progress_quotient"
    #: Prechelt's UP_s (:class:`~bprop.training.stopping.UpStrips`)
    UP_STRIPS = "up_strips"
    #: a non-finite loss or weight; the last finite weights were put back
    DIVERGED = "diverged"
    #: a trainer callback returned a truthy value
    CALLBACK = "callback"
    #: a stopping criterion of the user's own that returned plain text
    CRITERION = "criterion"
    #: the estimators' ``tol`` / ``n_iter_no_change`` test (scikit-learn's convergence)
    NO_IMPROVEMENT = "no_improvement"
    #: a full-batch solver's own convergence test (scipy's "CONVERGENCE: ...")
    CONVERGED = "converged"
    #: a full-batch solver's budget of iterations or evaluations ran out (scipy's max_fun)
    SOLVER_LIMIT = "solver_limit"
    #: a full-batch solver could not go on (LM's mu above mu_max, an abnormal line search)
    SOLVER = "solver"


@dataclass(frozen=True)
class Stop:
    """A stop: ``reason`` (the enum) and ``detail`` (the sentence shown to people)."""

    reason: StopReason
    detail: str

    def __post_init__(self) -> None:
        if not isinstance(self.reason, StopReason):
            raise ValueError(f"a Stop needs a StopReason, got {self.reason!r}")

    def __str__(self) -> str:
        return self.detail


def as_stop(value: object, default: StopReason) -> Stop | None:
    """A :class:`Stop` from what a criterion, callback or solver returned.

    None or an empty/falsy value: no stop. A ``Stop`` is kept; anything else truthy (the
    plain text that user-written criteria and solvers may return) becomes
    ``Stop(default, str(value))``.
    """
    if isinstance(value, Stop):
        return value
    if not value:
        return None
    return Stop(default, str(value))
