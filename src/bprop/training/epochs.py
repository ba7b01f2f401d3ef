"""Running epochs: the online, mini-batch and batch epochs, the update, full-batch solvers.

One update of a step-shaped rule (see :mod:`bprop.optim.base`) on a block B of patterns:

    g = (1 / S_B) sum_{p in B} s_p dE_p/dw  +  lambda w_weights     (S_B = sum_{p in B} s_p)
    w <- w + rule.step(g, state, loss = (1 / S_B) sum_{p in B} s_p E_p)

so the learning rate acts on the gradient of the **mean** error of the block (s_p are
sample weights, 1 by default; lambda the L2 weight decay, applied to weights, not biases;
:class:`~bprop.training.regularization.L2Penalty`). An online epoch makes one update per
pattern, a mini-batch epoch one per block of ``batch_size`` patterns (both in the source's
chunks, through the compiled kernel of :mod:`bprop.training.fast` when it applies), a
batch epoch one on the gradient sum of the whole data set; a full-batch solver
(:class:`~bprop.optim.base.ClosureRule`) runs its own iterations, one per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bprop.core.losses import Loss
from bprop.core.network import Network
from bprop.optim import ClosureRule, UpdateRule
from bprop.optim.base import LearningRateState, current_learning_rate
from bprop.training import fast
from bprop.training.history import History
from bprop.training.metrics import AccuracyCounter
from bprop.training.objective import FullBatchObjective
from bprop.training.regularization import L2Penalty
from bprop.training.sources import Chunk, DataSource, StepSource
from bprop.training.stopping import Stop, StopReason, as_stop, max_epochs_reached

__all__ = ["EpochRunner"]


class EpochRunner:
    """The epochs of a :class:`~bprop.training.trainer.Trainer` (its base class).

    Runs one epoch in the trainer's mode on a data source, making the updates in place on
    ``network.params`` and adding each block's L2 penalty to ``epoch_penalty``; sets an
    epoch's learning rate from the schedule; lets a full-batch solver drive the epochs.
    It reads the trainer's settings and state, the attributes annotated below.
    """

    network: Network
    loss: Loss
    rule: UpdateRule | ClosureRule
    mode: str
    batch_size: int
    shuffle: bool
    max_epochs: int
    rng: np.random.Generator
    l2: L2Penalty
    weight_decay_scaling: str
    schedule: Callable[[int, History], float] | None
    epoch_penalty: float
    state: Any  # a TrainingState once fit has started, else None
    _decay: np.ndarray
    _accuracy: AccuracyCounter | None

    def _run_epoch(self, data: DataSource) -> tuple[float, float]:
        """One epoch; returns (sum of s_p E_p, weighted count of correct patterns)."""
        if self.mode == "batch":
            E, correct = self._block_gradient_sum(data)
            self._update(E, data.weight_total)
            return E, correct
        size = 1 if self.mode == "online" else self.batch_size
        return self._run_blocks(data, size)

    def _run_blocks(self, data: DataSource, size: int) -> tuple[float, float]:
        """An online or mini-batch epoch: the source's chunks, each cut into blocks (or,
        for a :class:`StepSource`, the gradients it forms step by step)."""
        if isinstance(data, StepSource):
            return self._run_steps(data, size)
        E_sum = correct = 0.0
        for chunk in data.chunks(self.rng, self.shuffle):
            E, c = self._run_chunk(chunk, size)
            E_sum += E
            correct += c
        return E_sum, correct

    def _run_steps(self, data: StepSource, size: int) -> tuple[float, float]:
        E_sum = correct = 0.0
        for handle in data.steps(self.rng, self.shuffle, size):
            E, weight_total, c = data.step_gradient(self.network, self.loss, handle, self._accuracy)
            E_sum += E
            correct += c
            self._update(E, weight_total)
        return E_sum, correct

    def _run_chunk(self, chunk: Chunk, size: int) -> tuple[float, float]:
        net, X, T, sw = self.network, chunk.X, chunk.T, chunk.sample_weight
        order = chunk.order
        n = X.shape[0] if order is None else order.shape[0]
        result = fast.run_epoch(self._epoch_spec(sw is not None), X, T, order)
        if result is not None:  # the compiled kernel ran the epoch
            self.epoch_penalty += result.penalty
            return result.loss_sum, result.correct
        if order is not None:
            xb = np.empty((min(size, n), X.shape[1]), X.dtype)
            tb = np.empty((min(size, n), T.shape[1]), T.dtype)
        E_sum = correct = 0.0
        for start in range(0, n, size):
            stop = min(start + size, n)
            if order is None:
                x, t = X[start:stop], T[start:stop]
                s = None if sw is None else sw[start:stop]
            else:
                idx = order[start:stop]
                x = np.take(X, idx, axis=0, out=xb[: stop - start])
                t = np.take(T, idx, axis=0, out=tb[: stop - start])
                s = None if sw is None else sw[idx]
            E = net.gradient(x, t, self.loss, s)
            if self._accuracy is not None:
                correct += self._accuracy.count(net.outputs[-1], t, s)
            E_sum += E
            self._update(E, stop - start if s is None else float(s.sum()))
        return E_sum, correct

    def fast_path_reason(self, *, weighted: bool = False) -> str | None:
        """None if the compiled kernel runs this trainer's epochs (on data with sample
        weights if ``weighted``), else the reason it does not (:mod:`bprop.training.fast`)."""
        return fast.why_not(self._epoch_spec(weighted))

    def _epoch_spec(self, weighted: bool) -> fast.EpochSpec:
        return fast.EpochSpec(
            network=self.network,
            loss=self.loss,
            rule=self.rule,
            rule_state=None if self.state is None else self.state.rule_state,
            mode=self.mode,
            block_size=1 if self.mode == "online" else self.batch_size,
            weighted=weighted,
            decay=self.l2.decay,
            decay_sum=self.l2.scaling == "sum",
            accuracy=self._accuracy,
        )

    def _update(self, E: float, weight_total: float) -> None:
        """w += rule.step(mean gradient + L2 term) for the gradient sum now in network.grad."""
        if weight_total <= 0:
            return  # a block of zero-weight patterns carries no information
        net = self.network
        g = net.grad
        penalty = self.l2.mean_gradient(g, net.params, weight_total)  # g = grad J_B
        if self.l2.active:
            self.epoch_penalty += penalty
            E += penalty  # the loss handed to the rule is that of g (iRprop+ compares it)
        net.params += self.rule.step(g, self.state.rule_state, E / weight_total)

    def _block_gradient_sum(self, data: DataSource) -> tuple[float, float]:
        """sum_p s_p E_p and its gradient (left in network.grad) over the whole data set."""
        net = self.network
        sums = data.full_batch(net, self.loss, self._accuracy)
        if sums.gradient is not net.grad:
            np.copyto(net.grad, sums.gradient)
        return sums.error, sums.correct

    def _apply_schedule(self, epoch: int, history: History) -> float | None:
        """The epoch's learning rate: the schedule's, set in the rule state (never on the
        rule, whose ``learning_rate`` stays the hyperparameter), else the state's current."""
        rule_state = self.state.rule_state
        if self.schedule is not None:
            lr = float(self.schedule(epoch, history))
            if not (np.isfinite(lr) and lr > 0):
                raise ValueError(f"the schedule gave learning rate {lr!r} at epoch {epoch}")
            if not isinstance(rule_state, LearningRateState):
                raise ValueError(
                    f"rule {self.rule.name!r} keeps no learning rate in its state "
                    f"({type(rule_state).__name__}); a schedule sets the current learning "
                    "rate there: give the state a learning_rate field "
                    "(bprop.optim.base.LearningRateState) that step reads"
                )
            rule_state.learning_rate = lr
        return current_learning_rate(self.rule, rule_state)

    def _run_solver(
        self,
        data: DataSource,
        last_good: np.ndarray,
        end_epoch: Callable[[float, float, float | None], Stop | None],
    ) -> Stop:
        """Let a full-batch solver (a ClosureRule: L-BFGS, LM) drive the epochs.

        ``rule.run(objective, params, rule_state, on_iteration)`` calls ``on_iteration(w)``
        after each of its iterations; each call records one epoch at w exactly as the
        epoch loop does, by ``end_epoch(loss_sum, correct, learning_rate)`` (validation,
        callbacks, stopping criteria) and the max_epochs check, and returns a
        :class:`Stop` or None; ``last_good`` then holds the weights of the previous epoch.
        One solver iteration per epoch keeps the history and the stopping criteria
        meaningful for solvers that keep internal state across iterations inside one call
        (scipy's L-BFGS-B). ``run`` returns the reason it
        stopped: ``on_iteration``'s, or its own (scipy's message, LM's mu limit).
        """
        net, state = self.network, self.state
        objective = FullBatchObjective(
            net,
            self.loss,
            data,
            decay=self._decay,
            weight_decay_scaling=self.weight_decay_scaling,
            counter=self._accuracy,
        )
        accepted = net.params.copy()  # the weights of the last recorded epoch
        n_epochs = 0

        def on_iteration(params: np.ndarray) -> Stop | None:
            nonlocal n_epochs
            n_epochs += 1
            state.epoch += 1
            lr = self._apply_schedule(state.epoch, state.history)
            np.copyto(last_good, accepted)
            objective.at(params)
            np.copyto(net.params, params)
            self.epoch_penalty = objective.last_penalty
            loss_sum = objective.last_loss * data.weight_total
            stop = end_epoch(loss_sum, objective.last_correct, lr)
            np.copyto(accepted, net.params)
            if not stop and n_epochs >= self.max_epochs:
                stop = max_epochs_reached(self.max_epochs)
            return stop

        try:
            with np.errstate(over="ignore", invalid="ignore"):
                ended = self.rule.run(objective, net.params.copy(), state.rule_state, on_iteration)
                if n_epochs == 0:  # the solver stopped at once: record the starting point
                    on_iteration(accepted.copy())
        finally:  # also when the data source fails mid-iteration: the last recorded epoch
            np.copyto(net.params, accepted)
        stop = as_stop(ended, StopReason.SOLVER)  # a solver of the user's may return text
        if stop is None:
            return Stop(StopReason.SOLVER, f"{self.rule.name}: the solver stopped")
        return stop
