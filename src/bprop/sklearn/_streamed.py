"""The estimators' ``fit`` on a streamed :class:`~bprop.training.parquet.ParquetData`.

``MLPRegressor().fit(ParquetData(path, target="y"))`` and the classifier alike train
exactly as ``fit(X, y)`` would on the same rows with the same Trainer settings, but read
the rows block by block (see :mod:`bprop.training.parquet`): a full-batch solver
('lbfgs', 'lm', 'rprop', ...) gets the same weights as in memory; the stochastic solvers
get block shuffling (row groups in a seeded order, rows permuted within each).

Differences from in-memory fitting, each a clear error rather than a silent change:
``early_stopping=True`` (its split is an in-memory ``train_test_split``; hold rows out with
``ParquetData(validation_fraction=...)`` and pass ``stopping=EarlyStopping(...)``),
``class_weight``, ``sample_weight=`` (name a column: ``ParquetData(sample_weight="w")``)
and ``partial_fit``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from bprop.optim import ClosureRule
from bprop.sklearn._monitor import SklearnMonitor
from bprop.sklearn._solvers import SGD_FAMILY, make_rule, solver_name
from bprop.training.parquet import ParquetData, TargetEncoder

__all__ = ["check_no_y", "fit_streamed"]


def check_no_y(y: object) -> None:
    """A ValueError if targets are given next to a ParquetData (it names its own)."""
    if y is not None:
        raise ValueError(
            "ParquetData holds its own targets (ParquetData(path, target='y')); pass y=None"
        )


def fit_streamed(
    est: Any,
    data: ParquetData,
    n_outputs: int,
    encode_target: TargetEncoder | None,
    sample_weight: object = None,
) -> Any:
    """Fit estimator ``est`` on ``data`` (``n_outputs`` outputs, targets coded by
    ``encode_target``); returns ``est``."""
    if sample_weight is not None:
        raise ValueError(
            "with ParquetData, name the sample-weight column: ParquetData(..., sample_weight='w')"
        )
    if est.early_stopping:
        raise ValueError(
            "early_stopping=True splits in memory; with ParquetData hold rows out with "
            "ParquetData(..., validation_fraction=0.1) and pass stopping=EarlyStopping(...)"
        )
    if getattr(est, "class_weight", None) is not None:
        raise ValueError("class_weight is not supported with ParquetData; use a weight column")
    first_pass = not hasattr(est, "network_") or not est.warm_start
    layer_units = [data.n_features, *est._hidden_sizes(), n_outputs]
    rs = check_random_state(est.random_state)
    rule = make_rule(est)
    closure = isinstance(rule, ClosureRule)
    if first_pass:
        est.network_ = est._init_network(layer_units, np.dtype(np.float64), rs)
        est._link_attributes()
        est._init_attributes(layer_units, False)
    else:
        est._sync_network()
        if est.network_.sizes != tuple(layer_units):
            raise ValueError(
                f"the data need a network of sizes {tuple(layer_units)}, but the fitted "
                f"one has {est.network_.sizes}; fit without warm_start to start over"
            )
    if data.transform is None:  # else the estimator sees the transform's outputs
        est.n_features_in_ = len(data.columns)
        est.feature_names_in_ = np.asarray(data.columns, dtype=object)
    else:
        est.n_features_in_ = data.n_features
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
    source = data.bind(est.network_, 1, encode_target)
    trainer = est._make_trainer(rule, source.n_rows, rs)
    source.block_rows = data.batch_rows or trainer.block_size
    est._trainer = trainer
    monitor = SklearnMonitor(
        est,
        n_train=source.n_rows,
        weight_total=source.weight_total,
        loss_scale=est._loss_scale(n_outputs),
        schedule=est.learning_rate if solver_name(est) in SGD_FAMILY else "constant",
        validation=None,
        stochastic=not closure,
    )
    trainer.max_epochs = est.max_iter
    trainer.callbacks = (monitor, *(est.callbacks or ()))
    val = None
    if any(c.needs_validation for c in trainer.stopping):
        val = data.bind_validation(est.network_, source.block_rows, encode_target)
        if val is None:
            raise ValueError(
                "the stopping criteria need validation rows: ParquetData(..., "
                "validation_fraction=0.1) or ParquetData(..., validation='val.parquet')"
            )
    est.n_iter_ = 0
    try:
        trainer.fit(source, validation_data=val)
    finally:
        trainer.callbacks = tuple(est.callbacks or ())
        est.history_ = trainer.history
    history = est.history_
    if monitor.converged:
        history.stop_reason = "tol: " + monitor.message
    limit = history.stop_reason.startswith("max_epochs") or (
        closure and "EXCEEDS LIMIT" in history.stop_reason
    )
    if not monitor.converged and limit:
        if closure:  # the messages of the in-memory fit
            msg = (
                f"{trainer.rule.name} failed to converge after {est.n_iter_} "
                f"iteration(s) ({history.stop_reason}). Increase max_iter / max_fun "
                "or scale the data."
            )
        else:
            msg = (
                f"Stochastic Optimizer: Maximum iterations ({est.max_iter}) reached and "
                "the optimization hasn't converged yet."
            )
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return est
