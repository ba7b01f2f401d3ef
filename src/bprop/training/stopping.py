"""Stopping criteria. Combine any number of them: training stops at the first that fires.

Each criterion looks at the :class:`~bprop.training.history.History` after every epoch
and returns a :class:`~bprop.optim.stop.Stop` (a :class:`StopReason` and a sentence) or
None; a criterion of your own may also return plain text (recorded as
``StopReason.CRITERION``). The trainer always stops at ``max_epochs`` and on divergence;
these add to that.

Prechelt's criteria (L. Prechelt, "Automatic early stopping using cross validation:
quantifying the criteria", Neural Networks 11, 1998), with E_va(t) the validation error
and E_tr(t) the training error after epoch t:

- E_opt(t) = min_{t' <= t} E_va(t'); generalisation loss GL(t) = 100 (E_va(t) / E_opt(t) - 1).
- GL_alpha: stop after the first epoch with GL(t) > alpha.
- Training progress over a strip of k epochs ending at t:
  P_k(t) = 1000 (sum_{t'=t-k+1..t} E_tr(t') / (k min_{t'=t-k+1..t} E_tr(t')) - 1).
- PQ_alpha: stop after the first end-of-strip epoch with GL(t) / P_k(t) > alpha.
- UP_s: stop after the first end-of-strip epoch t at which the validation error has
  grown in each of s successive strips: E_va(t - i k) > E_va(t - (i+1) k), i = 0..s-1.

Strips are epochs k, 2k, 3k, ... (k = 5 as in the paper). GL is checked every epoch.
Criteria that watch the validation error restore the weights of the epoch with the lowest
validation error when training ends (``restore_best``, on by default), as Prechelt does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bprop.core.validation import check_positive, positive_int
from bprop.optim.stop import Stop, StopReason, as_stop

if TYPE_CHECKING:
    from bprop.training.history import History

__all__ = [
    "AllCorrect",
    "EarlyStopping",
    "GeneralizationLoss",
    "ProgressQuotient",
    "Stop",
    "StopReason",
    "StoppingCriterion",
    "TargetError",
    "UpStrips",
    "as_stop",
    "max_epochs_reached",
]


class StoppingCriterion:
    """Base class. ``check(history)`` returns a :class:`Stop` or None."""

    #: True if the criterion reads the validation error (the trainer then requires one).
    needs_validation: bool = False
    #: True if the best-validation weights are restored at the end of training.
    restore_best: bool = False

    def check(self, history: History) -> Stop | None:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def max_epochs_reached(n: int) -> Stop:
    """The stop at the epoch limit: ``StopReason.MAX_EPOCHS``, "max_epochs: reached n epochs"."""
    return Stop(StopReason.MAX_EPOCHS, f"max_epochs: reached {n} epochs")


class TargetError(StoppingCriterion):
    """Stop when the training error (mean per pattern) is <= ``target``."""

    def __init__(self, target: float) -> None:
        self.target = check_positive("TargetError", "target", target, allow_zero=True)

    def check(self, history):
        if history.records[-1].loss <= self.target:
            loss = history.records[-1].loss
            detail = f"target_error: training loss {loss:.6g} <= {self.target:g}"
            return Stop(StopReason.TARGET_ERROR, detail)
        return None


class AllCorrect(StoppingCriterion):
    """Stop when every training pattern was classified correctly in the epoch."""

    def check(self, history):
        metric = history.records[-1].metric
        if metric is None:
            raise ValueError(
                "AllCorrect needs a classification metric; train with metric='accuracy'"
            )
        if metric >= 1.0:
            detail = "all_correct: every training pattern classified correctly"
            return Stop(StopReason.ALL_CORRECT, detail)
        return None


class EarlyStopping(StoppingCriterion):
    """Stop when the validation error has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best`` (default) the weights of the best validation epoch are restored.
    """

    needs_validation = True

    def __init__(self, patience: int = 10, min_delta: float = 0.0, restore_best: bool = True):
        self.patience = positive_int("EarlyStopping", "patience", patience)
        self.min_delta = check_positive("EarlyStopping", "min_delta", min_delta, allow_zero=True)
        self.restore_best = bool(restore_best)

    def check(self, history):
        val = history.val_loss
        # the last epoch that improved on the best before it by more than min_delta
        best = np.inf
        last_improvement = 0
        for t, v in enumerate(val):
            if v < best - self.min_delta:
                best, last_improvement = v, t
        if len(val) - 1 - last_improvement >= self.patience:
            return Stop(
                StopReason.EARLY_STOPPING,
                f"early_stopping: no validation improvement for {self.patience} epochs "
                f"(best at epoch {history.records[last_improvement].epoch})",
            )
        return None


def generalization_loss(val_loss: np.ndarray) -> float:
    """GL(t) = 100 (E_va(t) / E_opt(t) - 1) for the last epoch t."""
    e_opt = float(np.min(val_loss))
    if e_opt <= 0:
        return 0.0 if val_loss[-1] <= 0 else np.inf
    return 100.0 * (float(val_loss[-1]) / e_opt - 1.0)


def training_progress(train_loss: np.ndarray, k: int) -> float:
    """P_k(t) = 1000 (mean of the last k training errors / their minimum - 1)."""
    strip = np.asarray(train_loss[-k:], dtype=float)
    m = strip.min()
    if m <= 0:
        return 0.0
    return 1000.0 * (strip.sum() / (k * m) - 1.0)


class GeneralizationLoss(StoppingCriterion):
    """Prechelt's GL_alpha: stop after the first epoch with GL(t) > alpha (percent)."""

    needs_validation = True

    def __init__(self, alpha: float = 5.0, restore_best: bool = True) -> None:
        self.alpha = check_positive("GeneralizationLoss", "alpha", alpha)
        self.restore_best = bool(restore_best)

    def check(self, history):
        gl = generalization_loss(history.val_loss)
        if gl > self.alpha:
            detail = f"GL: generalization loss {gl:.3g} > {self.alpha:g}"
            return Stop(StopReason.GENERALIZATION_LOSS, detail)
        return None


class ProgressQuotient(StoppingCriterion):
    """Prechelt's PQ_alpha: at strip ends, stop when GL(t) / P_k(t) > alpha."""

    needs_validation = True

    def __init__(self, alpha: float = 0.5, strip: int = 5, restore_best: bool = True) -> None:
        self.alpha = check_positive("ProgressQuotient", "alpha", alpha)
        self.strip = positive_int("ProgressQuotient", "strip", strip)
        self.restore_best = bool(restore_best)

    def check(self, history):
        t = len(history.records)
        if t % self.strip:
            return None
        gl = generalization_loss(history.val_loss)
        progress = training_progress(history.loss, self.strip)
        pq = np.inf if progress == 0 and gl > 0 else (0.0 if gl == 0 else gl / progress)
        if pq > self.alpha:
            detail = f"PQ: GL/P_{self.strip} = {pq:.3g} > {self.alpha:g}"
            return Stop(StopReason.PROGRESS_QUOTIENT, detail)
        return None


class UpStrips(StoppingCriterion):
    """Prechelt's UP_s: stop when the validation error grew in s successive strips of k epochs."""

    needs_validation = True

    def __init__(self, s: int = 3, strip: int = 5, restore_best: bool = True) -> None:
        self.s = positive_int("UpStrips", "s", s)
        self.strip = positive_int("UpStrips", "strip", strip)
        self.restore_best = bool(restore_best)

    def check(self, history):
        t = len(history.records)
        k = self.strip
        if t % k or t < (self.s + 1) * k:
            return None
        ends = history.val_loss[t - 1 :: -k][: self.s + 1]  # E_va(t), E_va(t-k), ...
        if np.all(ends[:-1] > ends[1:]):
            detail = f"UP: validation error grew in {self.s} successive strips of {k} epochs"
            return Stop(StopReason.UP_STRIPS, detail)
        return None
