"""What the three estimators share: parameters, validation, initialisation, the fit loop.

The objective, as scikit-learn defines it (``sklearn/neural_network/_base.py`` and
``_multilayer_perceptron.py``, ``_backprop``, version 1.9), for a block B of patterns with
sample weights s_p (1 without) and S_B = sum_{p in B} s_p:

    J_B(w) = (1 / S_B) [ sum_{p in B} s_p E_p(w) + alpha / 2 ||W||^2 ]

(W the weights, not the biases). bprop's Trainer trains on exactly this gradient with
``weight_decay=alpha, weight_decay_scaling='sum'``; the per-pattern errors are

- classifier: E_p = -sum_k t_k ln o_k (softmax outputs, K > 2 classes) or
  -sum_k [t_k ln o_k + (1 - t_k) ln(1 - o_k)] (logistic outputs: two classes, one output;
  multilabel, one output per label);
- regressor: E_p = 1/2 sum_k (t_k - o_k)^2 (identity outputs).

scikit-learn *reports* a slightly different number for K > 1 regression outputs: its
``squared_loss`` is 1/2 of the mean over outputs, (1 / K) 1/2 sum_k (t_k - o_k)^2, while
its output delta o - t is the derivative of the sum. bprop follows it: the loss that is
trained is the sum over outputs (the same gradient as scikit-learn), and ``loss_curve_``
reports it divided by K, so that ``tol`` means the same in both. scikit-learn also clips
probabilities to [eps, 1 - eps] in the log-loss; bprop computes it from the net inputs
(``logaddexp``/``logsumexp``), which agrees to rounding except for saturated outputs.

``loss_`` after an epoch is the mean over the epoch's blocks of J_B at the weights each
block was seen with, weighted by block size, as scikit-learn's ``accumulated_loss``.
With non-uniform sample weights bprop weights blocks by their weight totals (the weighted
mean over patterns); scikit-learn weights them by their row counts. The gradients agree.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from bprop.core.activations import Activation
from bprop.core.losses import get_loss
from bprop.optim import ClosureRule
from bprop.sklearn._monitor import SklearnMonitor
from bprop.sklearn._network import NetworkState
from bprop.sklearn._params import check_params, hidden_sizes, stopping_of
from bprop.sklearn._solvers import (
    NON_FINITE_MESSAGE,
    SGD_FAMILY,
    SKLEARN_SOLVERS,
    make_rule,
    solver_name,
)
from bprop.sklearn.estimator_file import save_estimator
from bprop.training.build import needs_validation, restore_best_weights, validation_split
from bprop.training.checkpoint import restore, training_finished
from bprop.training.stopping import (
    Stop,
    StopReason,
    max_epochs_reached,
)
from bprop.training.threads import blas_limit, check_n_threads, choose_threads, step_rows
from bprop.training.trainer import DivergenceWarning, Trainer

__all__ = ["BaseMLP"]


def _blocks(trainer: Trainer, rows: int, monitor: SklearnMonitor) -> int:
    """The blocks of ``rows`` rows a full-batch step of ``trainer`` adds (1 otherwise)."""
    return -(-monitor.n_train // rows) if trainer.mode == "batch" else 1


class BaseMLP(NetworkState, BaseEstimator):
    """Base class of MLPClassifier, MLPRegressor and MLPAutoencoder. Not for direct use."""

    # Subclasses set these.
    _loss_name: str = "squared_error"
    _needs_y: bool = True

    # ------------------------------------------------------------------ parameters
    def _store_params(self, values: dict[str, Any]) -> None:
        """Store each constructor argument unchanged under its own name (scikit-learn's
        rule; no checks here). ``values``: the constructor's ``locals()`` (a subclass may add
        parameters of its own and store them itself)."""
        for name in self._get_param_names():
            if name in values:
                setattr(self, name, values[name])

    def _check_params(self) -> None:
        """A ValueError naming the first bad constructor parameter (see bprop.sklearn._params)."""
        check_params(self)

    # ------------------------------------------------------------------ input
    def _check_X(self, X: Any, reset: bool) -> np.ndarray:
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc", "coo"],
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        return _dense(X)

    def _check_X_y(self, X: Any, y: Any, reset: bool, **kw: Any) -> tuple[np.ndarray, Any]:
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc", "coo"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
            **kw,
        )
        return _dense(X), y

    def _forward(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        self._sync_network()
        with self._blas_threads(min(X.shape[0], 65536), backward=False):
            return self.network_.predict(X)

    def _blas_threads(self, rows: int, backward: bool, refresh: bool = False, blocks: int = 1):
        """The BLAS thread limit for steps of ``rows`` rows, ``blocks`` of them summed in a
        full-batch step (see bprop.training.threads)."""
        threads = choose_threads(
            rows,
            self.network_.sizes,
            backward=backward,
            n_threads=check_n_threads(getattr(self, "n_threads", None)),
            blocks=blocks,
        )
        return blas_limit(threads, refresh=refresh)

    # ------------------------------------------------------------------ fit
    def _fit(
        self, X, T, sample_weight, *, incremental: bool, stratify_ok: bool, checkpoint=None
    ) -> BaseMLP:
        """Train on validated X (dense float) and 2-D targets T (float).

        ``checkpoint`` (a :class:`~bprop.training.checkpoint.Checkpoint` or a path) resumes
        a run that was checkpointed with the same data and parameters: its weights, rule
        state, epoch, history and random generator replace the fresh ones, and training
        goes on to ``max_iter`` epochs in all, bit for bit as the uninterrupted run.
        """
        if checkpoint is not None and (incremental or self.warm_start):
            raise ValueError("checkpoint resumes a fresh fit; not with partial_fit or warm_start")
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        hidden = hidden_sizes(self)
        n_samples, n_features = X.shape
        layer_units = [n_features, *hidden, T.shape[1]]
        rs = check_random_state(self.random_state)
        trainer = None if first_pass else getattr(self, "_trainer", None)
        resume = incremental and trainer is not None and trainer.network is self.network_
        rule = trainer.rule if resume else make_rule(self)
        closure = isinstance(rule, ClosureRule)
        # scikit-learn: early stopping is for the stochastic solvers; 'lbfgs' ignores it.
        early = self.early_stopping and not closure
        self._prepare_network(layer_units, X.dtype, rs, first_pass, early)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        need_val = early or needs_validation(stopping_of(self))
        train_rows, validation = self._split(
            X, T, sample_weight, rs, stratify_ok and need_val, need_val
        )
        n_train = n_samples if train_rows is None else train_rows.shape[0]
        sw_tr = sample_weight
        if sample_weight is not None and train_rows is not None:
            sw_tr = sample_weight[train_rows]
        if sw_tr is not None and sw_tr.sum() <= 0:
            raise ValueError("sample_weight must have a positive sum")
        finished = None
        if not resume:
            trainer = self._make_trainer(rule, n_train, rs)
            self._trainer = trainer
            if checkpoint is not None:
                restore(trainer, checkpoint)
                finished = training_finished(trainer, self.max_iter)
        monitor = self._monitor(
            n_train,
            float(n_train if sw_tr is None else sw_tr.sum()),
            T.shape[1],
            None
            if validation is None or not early
            else (validation[0], validation[2], validation[3]),
            closure,
        )
        val_data = None
        if validation is not None and needs_validation(trainer.stopping):
            X_val, T_val, _, sw_val = validation
            val_data = (X_val, T_val) if sw_val is None else (X_val, T_val, sw_val)
        resumed = checkpoint is not None
        rows = step_rows(trainer.mode, trainer.batch_size, trainer.block_size, n_train)
        return self._train(
            trainer,
            monitor,
            (X, T),
            {
                "sample_weight": sample_weight,
                "rows": train_rows,  # (the training split of X, trained on without a copy)
                "validation_data": val_data,
                "resume": resume or resumed,
            },
            rows,
            incremental=incremental,
            closure=closure,
            early=early,
            finished=finished,
            resumed=resumed,
        )

    def _prepare_network(self, layer_units: list[int], dtype, rs, first_pass: bool, early: bool):
        """A new network (first pass), or the fitted one checked against ``layer_units``."""
        if first_pass:
            self.network_ = self._init_network(layer_units, dtype, rs)
            self._link_attributes()
            self._init_attributes(layer_units, early)
            return
        self._sync_network()
        if self.network_.sizes != tuple(layer_units):
            raise ValueError(
                f"the data need a network of sizes {tuple(layer_units)}, but the fitted "
                f"one has {self.network_.sizes}; fit without warm_start to start over"
            )

    def _monitor(
        self, n_train: int, weight_total: float, n_outputs: int, validation, closure: bool
    ) -> SklearnMonitor:
        """scikit-learn's per-epoch bookkeeping (tol, learning rate, early stopping)."""
        return SklearnMonitor(
            self,
            n_train=n_train,
            weight_total=weight_total,
            loss_scale=self._loss_scale(n_outputs),
            schedule=self.learning_rate if solver_name(self) in SGD_FAMILY else "constant",
            validation=validation,
            stochastic=not closure,
        )

    def _train(
        self,
        trainer: Trainer,
        monitor: SklearnMonitor,
        data: tuple,
        fit_kwargs: dict[str, Any],
        rows: int,
        *,
        incremental: bool,
        closure: bool,
        early: bool,
        finished: Stop | None = None,
        resumed: bool = False,
    ) -> BaseMLP:
        """Run ``trainer.fit(*data, **fit_kwargs)`` with scikit-learn's bookkeeping, then its
        end-of-fit behaviour: non-finite weights raise for scikit-learn's solvers, the best
        weights of early stopping come back, a ConvergenceWarning at the iteration limit."""
        done = trainer.state.epoch if resumed and trainer.state is not None else 0
        trainer.max_epochs = 1 if incremental else self.max_iter - done
        trainer.callbacks = (monitor, *(self.callbacks or ()))
        self.n_iter_ = 0
        # scikit-learn's solvers raise on non-finite weights (below); bprop's own warn.
        strict = solver_name(self) in SKLEARN_SOLVERS
        try:
            if finished is None:
                with (
                    self._blas_threads(rows, True, True, _blocks(trainer, rows, monitor)),
                    warnings.catch_warnings(),
                ):
                    if strict:
                        warnings.simplefilter("ignore", DivergenceWarning)
                    trainer.fit(*data, **fit_kwargs)
        finally:
            trainer.callbacks = tuple(self.callbacks or ())
            self.history_ = trainer.history
            self.network_.release()  # (its last input: a block of the data)
        if strict and (
            trainer.history.stop is StopReason.DIVERGED
            or not np.all(np.isfinite(self.network_.params))
        ):
            raise ValueError(NON_FINITE_MESSAGE)
        if resumed:
            self._finish_resumed(trainer, finished, fit_kwargs.get("validation_data") is not None)
        if early:  # the weights of the best validation score (scikit-learn's early stopping)
            restore_best_weights(self.network_, getattr(self, "_best_params", None))
        history = self.history_
        if monitor.converged:
            history.set_stop(Stop(StopReason.NO_IMPROVEMENT, "tol: " + monitor.message))
        limit = history.stop is StopReason.MAX_EPOCHS or (
            closure and history.stop is StopReason.SOLVER_LIMIT  # scipy's max_fun
        )
        if not incremental and not monitor.converged and limit:
            if closure:
                msg = (
                    f"{trainer.rule.name} failed to converge after {self.n_iter_} "
                    f"iteration(s) ({history.stop_reason}). Increase max_iter / max_fun "
                    "or scale the data."
                )
            else:
                msg = (
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                    "the optimization hasn't converged yet."
                )
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        return self

    def _finish_resumed(self, trainer: Trainer, finished: Stop | None, has_val: bool) -> None:
        """The stop reason and weights a resumed run ends with, as the uninterrupted one."""
        history = trainer.history
        if finished is not None:  # the checkpoint was written in the run's last epoch
            history.set_stop(finished)
            best = trainer.state.best_params
            if has_val and any(c.restore_best for c in trainer.stopping):
                restore_best_weights(self.network_, best, history)
        elif history.stop is StopReason.MAX_EPOCHS:
            history.set_stop(max_epochs_reached(self.max_iter))

    def _init_attributes(self, layer_units: list[int], early: bool) -> None:
        self.n_layers_ = len(layer_units)
        self.n_outputs_ = layer_units[-1]
        self.out_activation_ = self._out_activation.name
        self.t_ = 0
        self.n_iter_ = 0
        self.loss_curve_: list[float] = []
        self._no_improvement_count = 0
        self._best_params = self.network_.params.copy() if early else None
        self._trainer = None
        if early:
            self.validation_scores_: list[float] | None = []
            self.best_validation_score_: float | None = -np.inf
            self.best_loss_: float | None = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _make_trainer(self, rule, n_train: int, rs) -> Trainer:
        full_batch = rule.full_batch_only or isinstance(rule, ClosureRule)
        if self.batch_size == "auto":
            batch_size = min(200, n_train)
        else:
            if self.batch_size > n_train and not full_batch:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going "
                    "to be clipped",
                    stacklevel=4,
                )
            batch_size = int(np.clip(self.batch_size, 1, n_train))
        return Trainer(
            self.network_,
            loss=get_loss(self._loss_name),
            rule=rule,
            mode="batch" if full_batch else "minibatch",
            batch_size=batch_size,
            shuffle=self.shuffle,
            max_epochs=self.max_iter,
            stopping=stopping_of(self),
            weight_decay=self.alpha,
            weight_decay_scaling="sum",
            metric=None,
            seed=np.random.default_rng(int(rs.randint(np.iinfo(np.int32).max))),
            progress=bool(self.verbose),
        )

    def _split(self, X, T, sw, rs, stratify_ok: bool, need_val: bool):
        """(the training rows, (X_val, T_val, y_val, sw_val)) when validation is needed, else
        (None, None): all rows train. The training rows are indices into X, in the order of
        scikit-learn's ``train_test_split``, trained on without copying X."""
        self.validation_indices_ = None
        if not need_val:
            return None, None
        stratify = T if stratify_ok and T.shape[1] == 1 else None
        (train_rows,), (val_rows,) = validation_split(
            (np.arange(X.shape[0]),), self.validation_fraction, rs, stratify=stratify
        )
        self.validation_indices_ = val_rows
        T_val, sw_val = T[val_rows], None if sw is None else sw[val_rows]
        return train_rows, (X[val_rows], T_val, self._val_labels(T_val), sw_val)

    # ------------------------------------------------------------------ hooks
    @property
    def _out_activation(self) -> Activation:  # pragma: no cover
        raise NotImplementedError

    def _loss_scale(self, n_outputs: int) -> float:
        return 1.0

    def _val_labels(self, T_val: np.ndarray) -> Any:
        return T_val

    def _validation_score(self, X_val, y_val, sw_val) -> float:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------ model files
    def save(self, path: Any) -> None:
        """Write the fitted estimator to a bprop model file (safetensors + JSON, no pickle).

        ``bprop.load(path)`` returns an equal estimator; see :mod:`bprop.sklearn.estimator_file`.
        """
        save_estimator(self, path)


def _dense(X: Any) -> np.ndarray:
    """Sparse input is densified: bprop's network multiplies dense arrays."""
    if sp.issparse(X):
        X = X.toarray()
    return np.ascontiguousarray(X)
