"""scikit-learn's per-epoch bookkeeping, run as a Trainer callback.

After every epoch scikit-learn's ``BaseMultilayerPerceptron._fit_stochastic`` (read in
``sklearn/neural_network/_multilayer_perceptron.py``, version 1.9) does, in this order:

1. ``loss_ = accumulated_loss / n``, appended to ``loss_curve_``; ``t_ += n``.
2. ``_update_no_improvement_count``: without early stopping, the count grows when
   ``loss_ > best_loss_ - tol`` and resets otherwise, and ``best_loss_ = min(best_loss_,
   loss_)``; with early stopping the same on the validation score (accuracy or R^2):
   the count grows when ``score < best_validation_score_ + tol``, and the weights of the
   best score are kept.
3. ``iteration_ends``: for ``learning_rate='invscaling'``,
   eta = learning_rate_init / (t_ + 1) ** power_t.
4. If the count exceeds ``n_iter_no_change``: with ``learning_rate='adaptive'`` (SGD
   only) eta /= 5 and the count resets, unless eta <= 1e-6 already; otherwise stop.

:class:`SklearnMonitor` does exactly that, reading the epoch's loss from the Trainer's
record (``loss_ = record.loss * loss_scale + epoch_penalty / S``, see
``bprop.sklearn._base`` for the scaling) and changing the current learning rate in the
rule's state (``trainer.state.rule_state.learning_rate``; the rule object keeps
``learning_rate_init``). Returning True stops the Trainer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SklearnMonitor"]

#: scikit-learn's floor below which 'adaptive' stops instead of dividing the rate by 5.
ADAPTIVE_MIN_LEARNING_RATE = 1e-6


class SklearnMonitor:
    """The Trainer callback that keeps an estimator's scikit-learn attributes.

    Parameters
    ----------
    estimator:
        The fitted estimator whose ``loss_``, ``loss_curve_``, ``t_``, ``n_iter_``,
        ``best_loss_``, ``validation_scores_`` ... are updated.
    n_train, weight_total:
        Rows and sample-weight total of the training set.
    loss_scale:
        Factor from bprop's mean error to scikit-learn's reported loss (1/K for the
        squared error of K outputs, else 1).
    schedule:
        'constant', 'invscaling' or 'adaptive' (only for the gradient-descent family),
        else 'constant'.
    validation:
        ``(X_val, y_val, sample_weight_val)`` for early stopping on the validation score.
    stochastic:
        False for the full-batch solvers that stop themselves (L-BFGS, Levenberg-Marquardt):
        as scikit-learn's 'lbfgs', they neither count ``t_`` nor stop on ``tol`` /
        ``n_iter_no_change`` here.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        n_train: int,
        weight_total: float,
        loss_scale: float,
        schedule: str,
        validation: tuple[np.ndarray, Any, np.ndarray | None] | None = None,
        stochastic: bool = True,
    ) -> None:
        self.stochastic = stochastic
        self.estimator = estimator
        self.n_train = n_train
        self.weight_total = weight_total
        self.loss_scale = loss_scale
        self.schedule = schedule
        self.validation = validation
        self.converged = False
        self.message = ""

    def __call__(self, trainer: Any, record: Any) -> bool:
        est = self.estimator
        est.n_iter_ += 1
        if self.stochastic:
            est.t_ += self.n_train
        loss = record.loss * self.loss_scale + trainer.epoch_penalty / self.weight_total
        est.loss_ = float(loss)
        est.loss_curve_.append(est.loss_)
        if est.verbose and est.verbose >= 2:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        self._count_improvement(trainer)
        state = trainer.state.rule_state  # the current learning rate lives in the state
        if self.schedule == "invscaling":
            state.learning_rate = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if self.stochastic and est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if self.validation is not None else "Training loss"
            msg = (
                f"{what} did not improve more than tol={est.tol:f} for "
                f"{est.n_iter_no_change} consecutive epochs."
            )
            if self.schedule == "adaptive" and state.learning_rate > ADAPTIVE_MIN_LEARNING_RATE:
                state.learning_rate /= 5.0
                est._no_improvement_count = 0
                if est.verbose and est.verbose >= 2:
                    print(f"{msg} Setting learning rate to {state.learning_rate:f}")
                return False
            self.converged = True
            self.message = msg + " Stopping."
            if est.verbose and est.verbose >= 2:
                print(self.message)
            return True
        return False

    def _count_improvement(self, trainer: Any) -> None:
        est = self.estimator
        if self.validation is not None:
            X_val, y_val, sw_val = self.validation
            score = est._validation_score(X_val, y_val, sw_val)
            est.validation_scores_.append(score)
            if est.verbose and est.verbose >= 2:
                print(f"Validation score: {score:f}")
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_params = trainer.network.params.copy()
        else:
            if est.loss_curve_[-1] > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if est.loss_curve_[-1] < est.best_loss_:
                est.best_loss_ = est.loss_curve_[-1]
