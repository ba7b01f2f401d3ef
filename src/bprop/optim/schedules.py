"""Learning-rate schedules: ``schedule(epoch, history) -> learning_rate``.

The trainer calls the schedule before every epoch (``epoch`` counts from 1; ``history``
holds the epochs finished so far) and sets the current learning rate in the rule's state
(``state.learning_rate``, see :class:`~bprop.optim.base.LearningRateState`; the rule
object keeps its hyperparameters) to the result, which it also records in each
:class:`~bprop.training.history.EpochRecord`. With eta_0 the initial
learning rate and t the epoch:

- :class:`Constant`:          eta_t = eta_0.
- :class:`InverseScaling`:    eta_t = eta_0 / t^power_t (default power_t = 0.5).
  scikit-learn's ``learning_rate='invscaling'`` is the same formula, but its t counts
  *updates* (``SGDClassifier``) or *patterns seen* plus one (``MLPClassifier``), not epochs.
- :class:`StepDecay`:         eta_t = eta_0 drop^floor((t - 1) / every) (Keras /
  ``torch.optim.lr_scheduler.StepLR`` with step_size = every, gamma = drop).
- :class:`ExponentialDecay`:  eta_t = eta_0 gamma^(t - 1) (``torch ExponentialLR``).
- :class:`ReduceOnPlateau`:   eta_t = eta_{t-1} * factor when the monitored loss
  (training or validation) has not improved on its best by more than
  ``threshold`` * best (relative, as PyTorch's default ``threshold_mode='rel'``) for
  more than ``patience`` consecutive epochs; then waits ``cooldown`` epochs before
  counting again; never below ``min_lr``. Like
  ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (defaults factor 0.1, patience 10,
  threshold 1e-4, cooldown 0, min_lr 0).

Schedules apply to the rules with a learning rate (gradient descent, momentum, Nesterov,
Quickprop, Adam, AdaGrad, RMSprop); the trainer refuses a schedule for the others (the
RPROP family adapts its own step sizes; L-BFGS and Levenberg-Marquardt have none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from bprop.core.validation import check_in_range, check_positive, positive_int

if TYPE_CHECKING:
    from bprop.training.history import History

__all__ = [
    "Constant",
    "ExponentialDecay",
    "InverseScaling",
    "ReduceOnPlateau",
    "Schedule",
    "StepDecay",
]


class Schedule:
    """Base class: ``schedule(epoch, history) -> learning rate`` with epoch >= 1."""

    def __call__(self, epoch: int, history: History | None = None) -> float:
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 1:
            raise ValueError(f"{type(self).__name__}: epoch counts from 1, got {epoch!r}")
        return self.rate(int(epoch), history)

    def rate(self, epoch: int, history: History | None) -> float:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


def _in_open_unit(owner: str, name: str, value: float, *, closed_high: bool = False) -> float:
    return check_in_range(owner, name, value, 0.0, 1.0, open_low=True, closed_high=closed_high)


class Constant(Schedule):
    """eta_t = eta_0."""

    def __init__(self, learning_rate: float) -> None:
        self.learning_rate = check_positive("Constant", "learning_rate", learning_rate)

    def rate(self, epoch, history):
        return self.learning_rate


class InverseScaling(Schedule):
    """eta_t = eta_0 / t^power_t (t the epoch, from 1)."""

    def __init__(self, learning_rate: float, power_t: float = 0.5) -> None:
        self.learning_rate = check_positive("InverseScaling", "learning_rate", learning_rate)
        self.power_t = check_positive("InverseScaling", "power_t", power_t, allow_zero=True)

    def rate(self, epoch, history):
        return self.learning_rate / epoch**self.power_t


class StepDecay(Schedule):
    """eta_t = eta_0 drop^floor((t - 1) / every)."""

    def __init__(self, learning_rate: float, drop: float = 0.5, every: int = 10) -> None:
        self.learning_rate = check_positive("StepDecay", "learning_rate", learning_rate)
        self.drop = _in_open_unit("StepDecay", "drop", drop)
        self.every = positive_int("StepDecay", "every", every)

    def rate(self, epoch, history):
        return self.learning_rate * self.drop ** ((epoch - 1) // self.every)


class ExponentialDecay(Schedule):
    """eta_t = eta_0 gamma^(t - 1)."""

    def __init__(self, learning_rate: float, gamma: float = 0.95) -> None:
        self.learning_rate = check_positive("ExponentialDecay", "learning_rate", learning_rate)
        self.gamma = _in_open_unit("ExponentialDecay", "gamma", gamma)

    def rate(self, epoch, history):
        return self.learning_rate * self.gamma ** (epoch - 1)


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``factor`` once more than ``patience`` epochs in a row failed
    to improve (as ``torch.optim.lr_scheduler.ReduceLROnPlateau``).

    ``monitor`` is 'loss' (training) or 'val_loss'. An epoch improves when its loss is
    below best * (1 - threshold). The schedule reads the epochs added to ``history``
    since its last call, so it keeps working across ``fit(..., resume=True)``; a history
    shorter than what it has seen (a new fit) restarts it from ``learning_rate``.
    """

    def __init__(
        self,
        learning_rate: float,
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        monitor: str = "loss",
    ) -> None:
        owner = "ReduceOnPlateau"
        self.learning_rate = check_positive(owner, "learning_rate", learning_rate)
        self.factor = _in_open_unit(owner, "factor", factor)
        self.patience = positive_int(owner, "patience", patience)
        self.threshold = check_in_range(owner, "threshold", threshold, 0.0, 1.0)
        self.cooldown = positive_int(owner, "cooldown", cooldown, low=0)
        self.min_lr = check_positive(owner, "min_lr", min_lr, allow_zero=True)
        if self.min_lr > self.learning_rate:
            raise ValueError(
                f"{owner}: min_lr {min_lr!r} is above the learning rate {learning_rate!r}"
            )
        if monitor not in ("loss", "val_loss"):
            raise ValueError(f"{owner}: monitor must be 'loss' or 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self._reset()

    def _reset(self) -> None:
        self._lr = self.learning_rate
        self._seen = 0
        self._best = np.inf
        self._bad = 0
        self._cooldown_left = 0

    def rate(self, epoch, history):
        records = [] if history is None else history.records
        if len(records) < self._seen:
            self._reset()
        for record in records[self._seen :]:
            value = getattr(record, self.monitor)
            if value is None:
                raise ValueError(
                    f"ReduceOnPlateau: monitor={self.monitor!r} but epoch {record.epoch} has "
                    "no such value (validation_data missing?)"
                )
            self._observe(float(value))
        self._seen = len(records)
        return self._lr

    def _observe(self, value: float) -> None:
        if value < self._best * (1.0 - self.threshold):
            self._best = value
            self._bad = 0
        else:
            self._bad += 1
        if self._cooldown_left > 0:
            self._cooldown_left -= 1
            self._bad = 0
        if self._bad > self.patience:
            self._lr = max(self._lr * self.factor, self.min_lr)
            self._cooldown_left = self.cooldown
            self._bad = 0
