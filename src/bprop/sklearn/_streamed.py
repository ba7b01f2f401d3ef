"""The estimators' ``fit`` on data that is not in memory: a streamed
:class:`~bprop.training.parquet.ParquetData`, or rows on a Dask cluster
(:class:`bprop.dask.DaskData`): any :class:`OutOfCoreData`.

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

from typing import Any, Protocol, runtime_checkable

import numpy as np
from sklearn.utils import check_random_state

from bprop.optim import ClosureRule
from bprop.sklearn._params import hidden_sizes
from bprop.sklearn._solvers import make_rule
from bprop.training.checkpoint import restore, training_finished
from bprop.training.parquet import TargetEncoder
from bprop.training.threads import step_rows

__all__ = ["OutOfCoreData", "check_no_y", "fit_streamed"]


@runtime_checkable
class OutOfCoreData(Protocol):
    """Rows described before the model is known, that bind to a data source.

    ``columns`` (feature names, or None for unnamed array columns), ``transform`` (a
    fitted transformer applied to each block, or None), ``n_features`` (the network's
    inputs), ``target`` (target names), ``batch_rows`` (rows per block, or None for the
    trainer's), ``target_values()`` (the distinct targets, sorted),
    ``bind(network, block_rows, encode_target)`` and ``bind_validation(...)``.
    """

    columns: list[str] | None
    target: list[str]

    def target_values(self) -> np.ndarray: ...

    def bind(self, network: Any, block_rows: int, encode_target: Any = None) -> Any: ...

    def bind_validation(self, network: Any, block_rows: int, encode_target: Any = None) -> Any: ...


def check_no_y(y: object) -> None:
    """A ValueError if targets are given next to data that holds its own."""
    if y is not None:
        raise ValueError(
            "the data hold their own targets (ParquetData(path, target='y'), "
            "DaskData(X, y)); pass y=None"
        )


def fit_streamed(
    est: Any,
    data: OutOfCoreData,
    n_outputs: int,
    encode_target: TargetEncoder | None,
    sample_weight: object = None,
    checkpoint: Any = None,
) -> Any:
    """Fit estimator ``est`` on ``data`` (``n_outputs`` outputs, targets coded by
    ``encode_target``); returns ``est``. ``checkpoint`` (a Checkpoint or its path) resumes
    a run checkpointed on the same data with the same parameters, as in-memory ``fit``
    does: weights, rule state, epoch, history and random generator."""
    if sample_weight is not None:
        raise ValueError(
            "the sample weights belong to the data: ParquetData(..., sample_weight='w') or "
            "DaskData(X, y, sample_weight)"
        )
    if est.early_stopping:
        raise ValueError(
            "early_stopping=True splits in memory; hold rows out in the data "
            "(ParquetData(..., validation_fraction=0.1), DaskData(..., validation=...)) and "
            "pass stopping=EarlyStopping(...)"
        )
    if getattr(est, "class_weight", None) is not None:
        raise ValueError("class_weight needs the rows in memory; use sample weights instead")
    if checkpoint is not None and est.warm_start:
        raise ValueError("checkpoint resumes a fresh fit; not with warm_start")
    first_pass = not hasattr(est, "network_") or not est.warm_start
    layer_units = [data.n_features, *hidden_sizes(est), n_outputs]
    rs = check_random_state(est.random_state)
    rule = make_rule(est)
    closure = isinstance(rule, ClosureRule)
    est._prepare_network(layer_units, np.dtype(np.float64), rs, first_pass, False)
    est.n_features_in_ = data.n_features
    if data.transform is None and data.columns is not None:
        est.feature_names_in_ = np.asarray(data.columns, dtype=object)
    elif hasattr(est, "feature_names_in_"):  # the estimator sees the transform's outputs
        del est.feature_names_in_
    source = data.bind(est.network_, 1, encode_target)
    trainer = est._make_trainer(rule, source.n_rows, rs)
    source.block_rows = data.batch_rows or trainer.block_size
    est._trainer = trainer
    finished = None
    if checkpoint is not None:
        restore(trainer, checkpoint)
        finished = training_finished(trainer, est.max_iter)
    monitor = est._monitor(source.n_rows, source.weight_total, n_outputs, None, closure)
    val = None
    if any(c.needs_validation for c in trainer.stopping):
        val = data.bind_validation(est.network_, source.block_rows, encode_target)
        if val is None:
            raise ValueError(
                "the stopping criteria need validation rows: ParquetData(..., "
                "validation_fraction=0.1), ParquetData(..., validation='val.parquet') or "
                "DaskData(..., validation=DaskData(...))"
            )
    rows = step_rows(trainer.mode, trainer.batch_size, source.block_rows, source.n_rows)
    resumed = checkpoint is not None
    fit_kwargs = {"validation_data": val, "resume": resumed}
    return est._train(
        trainer,
        monitor,
        (source,),
        fit_kwargs,
        rows,
        incremental=False,
        closure=closure,
        early=False,
        finished=finished,
        resumed=resumed,
    )
