"""The trainer: settings, fit and evaluate, the epoch loop, stopping, history.

One update of a step-shaped rule (see :mod:`bprop.optim.base`) on a block B of patterns:

    g = (1 / S_B) sum_{p in B} s_p dE_p/dw  +  lambda w_weights     (S_B = sum_{p in B} s_p)
    w <- w + rule.step(g, state, loss = (1 / S_B) sum_{p in B} s_p E_p)

so the learning rate acts on the gradient of the **mean** error of the block (s_p are
sample weights, 1 by default; lambda the L2 weight decay, applied to weights, not biases).
The epochs themselves run in :mod:`bprop.training.epochs`, the progress bar in
:mod:`bprop.training.progress`.

Modes:

- ``online``: one update per pattern (B of size 1), the classic per-pattern rule;
- ``batch``: one update per epoch on the whole training set (computed in blocks of
  ``block_size`` rows whose gradient sums are added, so memory stays bounded);
- ``minibatch``: updates on blocks of ``batch_size`` patterns.

With ``shuffle`` (default) the pattern order of online and mini-batch epochs is a new
permutation each epoch, drawn from the trainer's seed: the same seeds give bit-identical
weights. Full-batch solvers (:class:`~bprop.optim.base.ClosureRule`) run in batch mode only.

Divergence: if an epoch ends with a non-finite training loss or weight, the weights are put
back to those at the start of that epoch (the last finite ones), ``history.stop`` is
``StopReason.DIVERGED``, and a :class:`DivergenceWarning` is issued; no exception is raised.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from bprop.core.losses import Loss
from bprop.core.network import Network
from bprop.core.validation import check_rows, check_sample_weight, check_targets, positive_int
from bprop.optim import ClosureRule, UpdateRule, get_rule
from bprop.training.build import (
    check_validation,
    resolve_loss,
    restore_best_weights,
    stopping_criteria,
)
from bprop.training.epochs import EpochRunner
from bprop.training.history import EpochRecord, History
from bprop.training.metrics import AccuracyCounter
from bprop.training.objective import FullBatchObjective
from bprop.training.progress import postfix, progress_bar
from bprop.training.regularization import L2Penalty
from bprop.training.sources import ArrayData, BindableData, DataSource
from bprop.training.stopping import (
    Stop,
    StoppingCriterion,
    StopReason,
    as_stop,
    max_epochs_reached,
)

__all__ = ["DivergenceWarning", "FullBatchObjective", "Trainer", "MODES"]

MODES = ("online", "batch", "minibatch")

#: callback(trainer, record) -> truthy to stop training
Callback = Callable[["Trainer", EpochRecord], Any]


class DivergenceWarning(RuntimeWarning):
    """Training stopped because the loss or a weight became NaN or infinite."""


#: The in-memory data source (the name the compiled path's type hints use).
_Data = ArrayData


@dataclass
class TrainingState:
    """Everything that carries over from one epoch to the next (what a checkpoint holds)."""

    rule_state: Any
    epoch: int = 0
    history: History = field(default_factory=History)
    best_val_loss: float = np.inf
    best_params: np.ndarray | None = None


class Trainer(EpochRunner):
    """Trains a :class:`~bprop.core.network.Network` by backpropagation.

    Parameters
    ----------
    network:
        The network; trained in place.
    loss:
        Loss name or object; default: the natural pair of the output activation
        (softmax: categorical cross-entropy, logistic: binary cross-entropy, else squared
        error).
    rule:
        Update rule: a name ('gd', 'momentum', 'nesterov', ...) or an instance.
    mode, batch_size, shuffle:
        Learning mode (see the module docstring), mini-batch size, reshuffling.
    max_epochs:
        The hard limit on epochs.
    stopping:
        Further stopping criteria (:mod:`bprop.training.stopping`); the first that fires stops.
    weight_decay:
        L2 coefficient lambda (on weights, not biases).
    weight_decay_scaling:
        Where the penalty lambda/2 ||w||^2 enters a block's objective
        (:class:`~bprop.training.regularization.L2Penalty`). 'mean' (default):
        added to the mean error, g = (1/S_B) sum_p s_p dE_p/dw + lambda w. 'sum': added to
        the summed error, g = (1/S_B) (sum_p s_p dE_p/dw + lambda w), so the decay per
        update shrinks with the block's weight total: scikit-learn's ``alpha``
        (``sklearn/neural_network/_multilayer_perceptron.py``, ``_compute_loss_grad``).
        Either way ``epoch_penalty`` holds, after each epoch, the penalty summed over the
        epoch's updates at the weights each started from, in the units of sum_p s_p E_p
        (mean penalised loss = (sum_p s_p E_p + epoch_penalty) / S).
    schedule:
        Optional learning-rate schedule ``schedule(epoch, history) -> learning_rate``,
        called before every epoch (epoch counts from 1). The rate goes into the rule's
        state (``trainer.state.rule_state.learning_rate``); the rule object is not
        changed.
    metric:
        'accuracy', None, or 'auto' (accuracy when the outputs are logistic or softmax or
        the loss is a cross-entropy).
    seed:
        Seed for the shuffling order.
    progress:
        Show a progress bar: True, False, or None for "when stderr is a terminal".
    callbacks:
        Called as ``callback(trainer, record)`` after every epoch; a truthy return stops.
    block_size:
        Rows per block when a whole data set is processed at once (batch mode,
        validation, full-batch solvers). None (default): about 1 MB of the widest
        layer's activations, 2**20 / (itemsize x widest layer) rows clipped to
        [1024, 8192], so that a block's work arrays stay in cache (measured on
        50-64-1: 16% faster than 8192 rows; see docs/performance.md).
    """

    def __init__(
        self,
        network: Network,
        *,
        loss: str | Loss | None = None,
        rule: str | UpdateRule | ClosureRule = "gd",
        mode: str = "minibatch",
        batch_size: int = 32,
        shuffle: bool = True,
        max_epochs: int = 100,
        stopping: StoppingCriterion | Sequence[StoppingCriterion] = (),
        weight_decay: float = 0.0,
        weight_decay_scaling: str = "mean",
        schedule: Callable[[int, History], float] | None = None,
        metric: str | None = "auto",
        seed: int | np.random.Generator | None = None,
        progress: bool | None = None,
        callbacks: Sequence[Callback] = (),
        block_size: int | None = None,
    ) -> None:
        if not isinstance(network, Network):
            raise ValueError(f"network must be a bprop.Network, got {type(network).__name__}")
        self.network = network
        self.loss = resolve_loss(loss, network.output_activation)
        self.rule = get_rule(rule)
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of: {', '.join(MODES)}")
        if self.rule.full_batch_only and mode != "batch":
            raise ValueError(
                f"rule {self.rule.name!r} is defined for full-batch learning only; "
                f"use mode='batch' (got mode={mode!r})"
            )
        self.mode = mode
        self.batch_size = positive_int(None, "batch_size", batch_size)
        self.shuffle = bool(shuffle)
        self.max_epochs = positive_int(None, "max_epochs", max_epochs)
        self.stopping = stopping_criteria(stopping)
        self.l2 = L2Penalty.for_network(network, weight_decay, weight_decay_scaling)
        self.weight_decay = float(weight_decay)
        self._decay = self.l2.decay  # lambda on weights, 0 on biases
        self.weight_decay_scaling = weight_decay_scaling
        self.epoch_penalty = 0.0
        if schedule is not None and not hasattr(self.rule, "learning_rate"):
            raise ValueError(
                f"rule {self.rule.name!r} has no learning rate; a schedule cannot be used with it"
            )
        self.schedule = schedule
        if metric not in ("auto", "accuracy", None):
            raise ValueError(f"metric must be 'auto', 'accuracy' or None, got {metric!r}")
        if metric == "auto":
            classify = network.output_activation.name in ("logistic", "softmax") or (
                "cross_entropy" in self.loss.name
            )
            metric = "accuracy" if classify else None
        self.metric = metric
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.progress = progress
        self.callbacks = tuple(callbacks)
        if block_size is None:
            widest = max(network.sizes) * network.dtype.itemsize
            block_size = int(np.clip((1 << 20) // widest, 1024, 8192))
        self.block_size = positive_int(None, "block_size", block_size)
        self.state: TrainingState | None = None
        self._accuracy: AccuracyCounter | None = None

    # ------------------------------------------------------------------ public
    def fit(
        self,
        X: object,
        y: object = None,
        *,
        validation_data: tuple[object, object] | tuple[object, object, object] | None = None,
        sample_weight: object = None,
        rows: object = None,
        resume: bool = False,
    ) -> History:
        """Train until a stopping criterion fires or ``max_epochs`` more epochs have run.

        ``X, y`` are arrays, or ``X`` is a data source that holds the targets itself (e.g.
        :class:`bprop.ParquetData`, streamed block by block; ``y`` and ``sample_weight``
        then stay None). ``rows`` (arrays only) are the indices of the rows of X, y and
        ``sample_weight`` to train on, in this order: the same training as on ``X[rows]``,
        ``y[rows]``, without copying X (e.g. the training part of a validation split).
        ``validation_data`` is ``(X_val, y_val)``,
        ``(X_val, y_val, sample_weight_val)``, or a data source; a source with its own
        held-out rows (``ParquetData(validation_fraction=...)``) supplies them itself.
        With ``resume`` the rule state, history and best weights of the previous call carry
        on (for partial fits and checkpoints); otherwise training starts afresh from the
        network's current weights. Returns the :class:`History` (also ``self.history``).
        """
        data = self._source(X, y, sample_weight, "X", "y", rows)
        val = None
        if validation_data is not None:
            if isinstance(validation_data, DataSource | BindableData):
                val = self._source(validation_data, None, None, "X_val", "y_val")
            elif len(validation_data) not in (2, 3):
                raise ValueError(
                    "validation_data must be (X_val, y_val[, sample_weight_val]) or a data source"
                )
            else:
                X_val, y_val, *rest = validation_data
                val = self._source(X_val, y_val, rest[0] if rest else None, "X_val", "y_val")
        elif isinstance(X, BindableData):
            val = X.bind_validation(self.network, self.block_size)
        check_validation(self.stopping, val is not None)
        if self.metric == "accuracy":
            self._accuracy = data.accuracy_counter(self.network.output_activation)
        if not resume or self.state is None:
            self.state = TrainingState(self.rule.init(self.network.n_params, self.network.dtype))
        return self._loop(data, val)

    @property
    def history(self) -> History:
        return self.state.history if self.state is not None else History()

    def evaluate(
        self, X: object, y: object = None, sample_weight: object = None
    ) -> tuple[float, float | None]:
        """Mean loss and metric (accuracy or None) of the network on a data set (arrays, or
        a data source such as :class:`bprop.ParquetData`, streamed)."""
        data = self._source(X, y, sample_weight, "X", "y")
        counter = self._accuracy
        if self.metric == "accuracy" and counter is None:
            counter = data.accuracy_counter(self.network.output_activation)
        return self._evaluate(data, counter)

    # ------------------------------------------------------------------ loop
    def _source(self, X, y, sample_weight, xname, yname, rows=None) -> DataSource:
        """The data source for X, y: arrays are checked into an :class:`ArrayData`."""
        if isinstance(X, DataSource | BindableData):
            if rows is not None:
                raise ValueError(f"rows selects rows of arrays; {xname} is a data source")
            if y is not None or sample_weight is not None:
                raise ValueError(
                    f"{xname} is a data source that holds its own targets and weights; "
                    f"pass {yname}=None and sample_weight=None"
                )
            if isinstance(X, DataSource):
                return X
            return X.bind(self.network, self.block_size)
        return self._prepare(X, y, sample_weight, xname, yname, rows)

    def _prepare(self, X, y, sample_weight, xname, yname, rows=None) -> ArrayData:
        net = self.network
        X = net.check_input(X, xname)
        if X.shape[0] == 0:
            raise ValueError(f"{xname} has no rows")
        T = check_targets(y, X.shape[0], net.n_outputs, net.dtype, yname)
        self.loss.check_targets(T)
        sw = check_sample_weight(sample_weight, X.shape[0], net.dtype)
        if rows is not None:
            rows = check_rows(rows, X.shape[0])
        n = X.shape[0] if rows is None else rows.shape[0]
        total = float(n if sw is None else (sw if rows is None else sw[rows]).sum())
        if total <= 0:
            raise ValueError("sample_weight must have a positive sum over the rows trained on")
        return ArrayData(X, T, sw, total, self.block_size, rows)

    def _loop(self, data: DataSource, val: DataSource | None) -> History:
        net, state = self.network, self.state
        assert state is not None
        history = state.history
        history.set_stop(None)
        restore = any(c.restore_best for c in self.stopping) and val is not None
        last_good = net.params.copy()
        bar = progress_bar(self.progress, self.max_epochs)
        t0 = time.perf_counter() - (history.records[-1].time if history.records else 0.0)
        try:
            for _ in range(self.max_epochs):
                if isinstance(self.rule, ClosureRule):  # L-BFGS, LM: see _run_solver
                    end_epoch = partial(
                        self._end_epoch, data, val, last_good=last_good, bar=bar, t0=t0
                    )
                    history.set_stop(self._run_solver(data, last_good, end_epoch))
                    break
                state.epoch += 1
                self.epoch_penalty = 0.0
                lr = self._apply_schedule(state.epoch, history)
                np.copyto(last_good, net.params)
                with np.errstate(over="ignore", invalid="ignore"):  # divergence: checked below
                    loss_sum, correct = self._run_epoch(data)
                stop = self._end_epoch(data, val, loss_sum, correct, lr, last_good, bar, t0)
                if stop:
                    history.set_stop(stop)
                    break
            else:
                history.set_stop(max_epochs_reached(self.max_epochs))
        finally:
            if bar is not None:
                bar.refresh()
                bar.close()
        if restore:
            restore_best_weights(net, state.best_params, history)
        return history

    def _end_epoch(self, data, val, loss_sum, correct, lr, last_good, bar, t0) -> Stop | None:
        """Record the epoch that just ran (divergence, validation, progress); a Stop or None."""
        net, state = self.network, self.state
        history = state.history
        mean_loss = loss_sum / data.weight_total
        record = EpochRecord(
            epoch=state.epoch,
            loss=mean_loss,
            metric=None if self._accuracy is None else correct / data.weight_total,
            learning_rate=lr,
        )
        if not (np.isfinite(mean_loss) and np.all(np.isfinite(net.params))):
            np.copyto(net.params, last_good)
            record.time = time.perf_counter() - t0
            history.records.append(record)
            detail = (
                f"diverged: non-finite loss or weights in epoch {state.epoch}; "
                "weights restored to the last finite ones (lower the learning rate)"
            )
            warnings.warn(detail, DivergenceWarning, stacklevel=4)
            return Stop(StopReason.DIVERGED, detail)
        if val is not None:
            record.val_loss, record.val_metric = self._evaluate(val, self._accuracy)
            if record.val_loss < state.best_val_loss:
                state.best_val_loss = record.val_loss
                state.best_params = net.params.copy()
                history.best_epoch = state.epoch
        record.time = time.perf_counter() - t0
        history.records.append(record)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(postfix(record), refresh=False)
        return self._check_stop(history, record)

    def _check_stop(self, history: History, record: EpochRecord) -> Stop | None:
        for callback in self.callbacks:
            if callback(self, record):
                name = getattr(callback, "__name__", repr(callback))
                return Stop(StopReason.CALLBACK, f"callback: {name} asked to stop")
        for criterion in self.stopping:
            stop = as_stop(criterion.check(history), StopReason.CRITERION)
            if stop:
                return stop
        return None

    def _evaluate(
        self, data: DataSource, counter: AccuracyCounter | None
    ) -> tuple[float, float | None]:
        """Mean loss and metric (None without a counter) by forward passes only."""
        E, correct = data.evaluate(self.network, self.loss, counter)
        metric = None if counter is None else correct / data.weight_total
        return E / data.weight_total, metric
