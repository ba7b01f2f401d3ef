"""``bprop train`` and ``bprop predict`` on Parquet data streamed row group by row group
(when :mod:`bprop.cli.memory` says the data do not fit, or with ``--memory-limit 0``).

Training: the column kinds and the task are inferred from the first :data:`SAMPLE_ROWS`
rows; the ColumnTransformer (and a regression target's StandardScaler) are fitted by
streaming (:func:`bprop.sklearn.streaming.fit_streaming`: the objects ``fit`` on the whole
file gives, to rounding); the estimator trains on a :class:`bprop.ParquetData` that applies
them to each block; the validation rows are held out by a seeded hash of the row position
(``ParquetData(validation_fraction=...)``). The result is the same kind of Pipeline as an
in-memory run, so ``bprop predict`` and ``bprop info`` cannot tell the difference.

Prediction: :func:`bprop.sklearn.streaming.predict_streaming` reads one row group, checks
and predicts it as the in-memory path does, and writes it as one row group of the output
(the ``--keep`` columns first, in the data's Arrow types).

``--na-values``: every block read as a DataFrame (the sample, the preprocessing's passes,
the training blocks, the validation rows, the predicted blocks) has its string cells equal
to one of them made empty (:func:`bprop.sklearn.table_files.blank_strings`), as the
in-memory path does to the whole Parquet table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from bprop.cli.common import CLIError, Model
from bprop.cli.metrics import MetricSums
from bprop.sklearn.streaming import BLOCK_ROWS, fit_streaming, iter_frames, predict_streaming
from bprop.sklearn.table_files import DataError, blank_strings
from bprop.sklearn.tabular import TableSpec, check_frame, infer_table, make_pipeline
from bprop.training.parquet import ParquetData, ParquetDataset, holdout_mask

__all__ = [
    "SAMPLE_ROWS",
    "BlankedColumns",
    "ScaledTarget",
    "assemble_pipeline",
    "check_keep",
    "fit_parquet",
    "infer_spec",
    "predict_in_blocks",
    "predict_parquet",
    "predict_rows",
    "prediction_columns",
    "validation_metrics_streamed",
]

#: rows read to infer the column kinds and the task
SAMPLE_ROWS = 10_000


class ScaledTarget:
    """y -> (y - mean) / scale with a fitted StandardScaler (the TransformedTargetRegressor's
    standardisation, applied block by block)."""

    def __init__(self, scaler: StandardScaler) -> None:
        self.scaler = scaler

    def __call__(self, y: np.ndarray) -> np.ndarray:
        # StandardScaler.transform's arithmetic, on an array of any name
        return (np.asarray(y, dtype=float) - self.scaler.mean_[0]) / self.scaler.scale_[0]


class BlankedColumns:
    """A fitted ColumnTransformer applied to a block after ``blank_strings(block, na)``:
    the ``transform`` a :class:`ParquetData` applies to each block of a run with
    ``--na-values``."""

    def __init__(self, columns: Any, na: list[str]) -> None:
        self.columns, self.na = columns, list(na)

    def transform(self, df: Any) -> Any:
        return self.columns.transform(blank_strings(df, self.na))

    def get_feature_names_out(self) -> Any:
        return self.columns.get_feature_names_out()


class _CheckedTarget:
    """y -> then(y), refusing target cells that ``--na-values`` makes empty (the in-memory
    path's error: a missing target)."""

    def __init__(self, na: list[str], then: Callable[[np.ndarray], np.ndarray] | None) -> None:
        self.na, self.then = np.asarray(na, dtype=object), then

    def __call__(self, y: np.ndarray) -> np.ndarray:
        if np.isin(np.asarray(y, dtype=object), self.na).any():
            raise ValueError("the target has cells that --na-values makes empty; remove those rows")
        return y if self.then is None else self.then(y)


def infer_spec(sample: Any, s: dict[str, Any]) -> TableSpec:
    """The column kinds and the task of a run with settings ``s``, from a sample of rows."""
    return infer_table(
        sample,
        s["target"],
        task=s["task"],
        impute=s["impute"],
        categorical=tuple(s["categorical"]),
        drop=tuple(s["drop"]),
    )


def assemble_pipeline(
    columns: Any, local: Any, target_scaler: StandardScaler | None, mlp: Any
) -> Pipeline:
    """The Pipeline ``make_pipeline`` fits in memory, from parts fitted elsewhere: the
    ColumnTransformer, the fitted bprop estimator and, for a regression, the target's
    scaler (the fitted estimator then sits in a TransformedTargetRegressor of ``mlp``)."""
    if target_scaler is not None:
        ttr = TransformedTargetRegressor(regressor=mlp, transformer=StandardScaler())
        ttr.regressor_, ttr.transformer_, ttr._training_dim = local, target_scaler, 1
        local = ttr
    return Pipeline([("columns", columns), ("mlp", local)])


def _sample(ds: ParquetDataset, rows: int, na: list[str]) -> Any:
    frames, held = [], 0
    for unit in ds.units:
        if held >= rows:
            break
        frames.append(ds.read(unit, ds.schema.names).slice(0, rows - held))
        held += frames[-1].num_rows
    import pyarrow as pa  # the 'files' extra, present since the footers were read

    return blank_strings(pa.concat_tables(frames).to_pandas(), na)


def fit_parquet(
    path: str,
    s: dict[str, Any],
    make_estimator: Callable[[str], Any],
    dtype: Any,
    checkpoint: Any = None,
) -> tuple[Pipeline, TableSpec, ParquetData]:
    """The fitted pipeline of a streamed run with settings ``s``, its table spec and the
    streamed data (its ``validation_fraction`` and ``seed`` say which rows were held out).

    ``make_estimator(task)`` gives the bprop estimator with the run's parameters;
    ``checkpoint`` resumes a checkpointed run.
    """
    ds = ParquetDataset(path)
    na = list(s.get("na_values") or [])
    spec = infer_spec(_sample(ds, SAMPLE_ROWS, na), s)
    mlp = make_estimator(spec.task)

    def frames(columns: list[str]) -> Any:
        return (blank_strings(f, na) for f in iter_frames(ds, columns))

    columns = fit_streaming(make_pipeline(spec, mlp, dtype).steps[0][1],
                            lambda: frames(spec.features))  # fmt: skip
    target_scaler = None
    if spec.task == "regression":
        target_scaler = fit_streaming(  # on arrays, as the TransformedTargetRegressor
            StandardScaler(), lambda: (f.to_numpy(float) for f in frames([spec.target]))
        )
    scaled = None if target_scaler is None else ScaledTarget(target_scaler)
    data = ParquetData(
        path,
        spec.target,
        spec.features,
        validation_fraction=s["val_fraction"],
        seed=s["seed"],
        transform=BlankedColumns(columns, na) if na else columns,
        target_transform=_CheckedTarget(na, scaled) if na else scaled,
    )
    fitted = mlp.fit(data, checkpoint=checkpoint)  # (the data hold the validation rows out)
    return assemble_pipeline(columns, fitted, target_scaler, mlp), spec, data


def validation_metrics_streamed(
    pipeline: Pipeline, spec: TableSpec, data: ParquetData, dtype: Any, na: list[str],
    classes: list | None,
) -> dict[str, Any]:  # fmt: skip
    """The validation metrics of the held-out rows of ``data``, read, predicted and added
    up block by block (:class:`~bprop.cli.metrics.MetricSums`; ``na``: the
    ``--na-values``); empty without held-out rows."""
    sums = MetricSums(spec.task, classes)
    for unit in data.units:
        rows = np.arange(unit.start, unit.start + unit.n_rows)
        held = holdout_mask(rows, data.validation_fraction, data.seed)
        if not held.any():
            continue
        df = blank_strings(data.read(unit, [*spec.features, spec.target]).to_pandas(), na)
        df = df[held]
        sums.add(df[spec.target].to_numpy(), pipeline.predict(check_frame(spec, df, dtype=dtype)))
    return sums.result() if sums.rows else {}


def check_keep(path: str, columns: list[str], keep: list[str], outputs: list[str]) -> list[str]:
    """The ``--keep`` columns (each once, in the order given) of ``bprop predict`` on data
    with ``columns`` whose output has the columns ``outputs``: a DataError for a column not
    in the data, a CLIError for one named like an output column."""
    missing = [k for k in keep if k not in columns]
    if missing:
        raise DataError(
            f"{path}: --keep column {missing[0]!r} not found; the columns are: {', '.join(columns)}"
        )
    clash = [k for k in outputs if k in keep]
    if clash:
        raise CLIError(f"--keep {clash[0]}: the output has its own {clash[0]!r} column")
    return list(dict.fromkeys(keep))


def prediction_columns(model: Model, proba: bool) -> list[str]:
    """The names of the columns ``bprop predict`` computes: ``prediction``, then with
    ``proba`` one ``proba_<label>`` per class."""
    labels = model.classes if proba and model.classes is not None else []
    return ["prediction", *(f"proba_{label}" for label in labels)]


class _Predictions:
    """``predict(block)``: the columns ``bprop predict`` writes, for one block of rows (the
    kept columns in the data's Arrow types ``schema``)."""

    def __init__(self, model: Model, target: str | None, proba: bool, keep: list[str],
                 na: list[str], schema: Any) -> None:  # fmt: skip
        self.model, self.target, self.proba = model, target, proba
        self.keep, self.na, self.schema = keep, na, schema

    def predict(self, df: Any) -> dict[str, Any]:
        import pyarrow as pa  # the 'files' extra, present since the footers were read

        df = blank_strings(df, self.na)
        out: dict[str, Any] = {
            k: pa.array(df[k], type=self.schema.field(k).type, from_pandas=True) for k in self.keep
        }
        pred, proba = self.model.predict(df, self.target)
        out["prediction"] = pred
        if self.proba:
            assert proba is not None and self.model.classes is not None
            for label, column in zip(self.model.classes, proba.T, strict=True):
                out[f"proba_{label}"] = column
        return out


def predict_parquet(
    model: Model,
    path: str,
    out: str | None,
    target: str | None,
    proba: bool,
    keep: list[str] = (),  # type: ignore[assignment]
    na: list[str] = (),  # type: ignore[assignment]
) -> int:
    """Write the predictions for the Parquet data ``path`` to the Parquet file ``out``, one
    row group at a time, with the columns of an in-memory ``bprop predict`` (the ``keep``
    columns of the data first; ``na``: the ``--na-values``); returns the rows."""
    if out is None or not out.lower().endswith((".parquet", ".pq")):
        raise CLIError(
            f"{path}: streamed predictions are written to a Parquet file; give "
            "--out PREDICTIONS.parquet"
        )
    ds = ParquetDataset(path)
    kept = check_keep(path, list(ds.schema.names), list(keep), prediction_columns(model, proba))
    return predict_streaming(_Predictions(model, target, proba, kept, list(na), ds.schema), ds, out)


def predict_in_blocks(
    model: Model, df: Any, target: str | None, rows: int = BLOCK_ROWS
) -> tuple[np.ndarray, np.ndarray | None]:
    """``model.predict(df, target)`` for a table in memory, checked whole and predicted
    ``rows`` rows at a time: the preprocessing's and the network's temporaries stay the
    size of one block (the same numbers: each row is transformed on its own)."""
    X = model.inputs(df, target)
    parts = [model.predict_inputs(X[i : i + rows]) for i in range(0, len(X), rows)]
    pred = np.concatenate([p for p, _ in parts])
    proba = None if parts[0][1] is None else np.concatenate([q for _, q in parts])
    return pred, proba


def predict_rows(model: Any, X: np.ndarray, rows: np.ndarray, block: int = BLOCK_ROWS) -> Any:
    """``model.predict(X[rows])``, ``block`` rows at a time (no copy of all those rows)."""
    parts = [model.predict(X[rows[i : i + block]]) for i in range(0, len(rows), block)]
    return np.concatenate(parts)
