"""Preprocessing fitted by streaming: the same fitted scikit-learn objects, one block at a time.

(And :func:`predict_streaming`: predictions of a Parquet dataset written block by block.)

:func:`fit_streaming` fits a scikit-learn transformer on data too large for memory, given
a function that returns a fresh iterator over pandas DataFrame blocks (e.g.
:func:`iter_frames` over the row groups of a :class:`~bprop.training.parquet.ParquetData`).
The result is the object ``transformer.fit(concatenated blocks)`` would give (to rounding,
tested to 1e-12), so a model file and ``bprop predict`` cannot tell how it was fitted:

- ``StandardScaler``: ``partial_fit`` on each block (Chan et al.'s update of the mean and
  variance, as scikit-learn's own ``fit`` uses on one block);
- ``SimpleImputer``: strategy 'mean' (sum and count of the present values per column),
  'most_frequent' (counts per value; ties go to the smallest value, as scikit-learn) or
  'constant'; 'median' cannot be streamed exactly and is refused;
- ``OneHotEncoder``: the union of the categories seen, sorted (NaN last when missing
  values reach it); ``min_frequency`` / ``max_categories`` are refused;
- ``Pipeline``: step by step, each fitted on the blocks transformed by the steps before
  it (one pass per step that needs statistics);
- ``ColumnTransformer``: each transformer on its columns (one pass per pipeline depth,
  the transformers of a pass sharing the reading); 'passthrough' and 'drop' as they are.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils import _safe_indexing

from bprop.files import atomic_write
from bprop.training.parquet import ParquetDataError, ParquetDataset

__all__ = [
    "convert_csv",
    "fit_blocks",
    "fit_streaming",
    "iter_frames",
    "predict_streaming",
    "transform_blocks",
]

#: rows per block of :func:`fit_blocks` (data up to this size: exactly ``fit``)
BLOCK_ROWS = 1 << 18

Frames = Callable[[], Iterable[Any]]


def iter_frames(
    data: ParquetDataset | str | os.PathLike, columns: list[str] | None = None
) -> Iterator[Any]:
    """The rows of a Parquet dataset as pandas DataFrames, one row group at a time.

    ``columns``: the columns to read (default: every column of the dataset).
    """
    if not isinstance(data, ParquetDataset):
        data = ParquetDataset(data)
    cols = list(data.schema.names) if columns is None else list(columns)
    for unit in data.units:
        yield data.read(unit, cols).to_pandas()


def predict_streaming(
    model: Any,
    data: ParquetDataset | str | os.PathLike,
    out: str | os.PathLike,
    columns: list[str] | None = None,
    *,
    method: str = "predict",
) -> int:
    """Write ``model.<method>(block)`` for every row group of ``data`` to the Parquet file
    ``out``, one row group in and one out at a time (memory stays flat); returns the rows.

    ``columns``: the columns handed to the model (default: all). The output has one column
    ``prediction`` for 1-D results, else ``prediction_0``, ``prediction_1``, ... (for
    ``predict_proba`` of a classifier with ``classes_``: ``proba_<class>``); a method that
    returns a dict of columns (name -> 1-D array) writes those columns. ``out`` is
    written atomically: on any error an existing file keeps its content.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(data, ParquetDataset):
        data = ParquetDataset(data)
    fn = getattr(model, method, None)
    if fn is None:
        raise ValueError(f"{type(model).__name__} has no method {method!r}")
    cols = list(data.schema.names) if columns is None else list(columns)
    rows = 0
    with atomic_write(out) as fh:
        writer = None
        try:
            for unit in data.units:
                result = fn(data.read(unit, cols).to_pandas())
                if not isinstance(result, dict):
                    result = _output_columns(model, method, np.asarray(result))
                table = pa.table(result)
                if writer is None:
                    writer = pq.ParquetWriter(fh, table.schema)
                writer.write_table(table)
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
    return rows


def convert_csv(
    csv: str | os.PathLike, out: str | os.PathLike, *, row_group_rows: int = 65536
) -> int:
    """Convert a CSV file to Parquet without loading it (pyarrow's streaming CSV reader);
    returns the rows. Row groups hold ``row_group_rows`` rows; ``out`` is written
    atomically. Column types are inferred from the first block of the file."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if row_group_rows < 1:
        raise ValueError(f"row_group_rows must be positive, got {row_group_rows!r}")
    try:
        reader = pcsv.open_csv(str(csv))
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ParquetDataError(f"{csv}: cannot read as CSV: {exc}") from None
    rows = 0
    with atomic_write(out) as fh, pq.ParquetWriter(fh, reader.schema) as writer:
        try:
            for batch in reader:
                writer.write_batch(batch, row_group_size=row_group_rows)
                rows += batch.num_rows
        except ValueError as exc:  # a later block that does not parse like the first
            raise ParquetDataError(f"{csv}: {exc}") from None
    return rows


def _output_columns(model: Any, method: str, result: np.ndarray) -> dict[str, np.ndarray]:
    if result.ndim == 1:
        return {"prediction": result}
    classes = getattr(model, "classes_", None)
    if method == "predict_proba" and classes is not None and len(classes) == result.shape[1]:
        return {f"proba_{c}": result[:, k] for k, c in enumerate(classes)}
    return {f"prediction_{k}": result[:, k] for k in range(result.shape[1])}


def fit_blocks(transformer: Any, X: Any, rows: int = BLOCK_ROWS) -> Any:
    """A fitted copy of ``transformer`` for a DataFrame ``X`` in memory, fitted
    ``rows`` rows at a time (:func:`fit_streaming` over the blocks: with at most ``rows``
    rows exactly ``fit``, else equal to rounding).

    ``fit`` on the whole frame holds the selected columns and float64 temporaries of the
    scalers' statistics at once (several times the data); here, one block's.
    """
    n = len(X)
    return fit_streaming(transformer, lambda: (X.iloc[i : i + rows] for i in range(0, n, rows)))


def transform_blocks(fitted: Any, X: Any, dtype: Any, rows: int = BLOCK_ROWS) -> np.ndarray:
    """``fitted.transform(X)`` as one C-ordered array of ``dtype``, ``rows`` rows at a
    time: the peak is the output plus one block, not the stacked temporaries of the
    whole frame."""
    out: np.ndarray | None = None
    for i in range(0, len(X), rows):
        part = np.asarray(fitted.transform(X.iloc[i : i + rows]))
        if out is None:
            out = np.empty((len(X), part.shape[1]), dtype)
        out[i : i + len(part)] = part
    assert out is not None
    return out


def fit_streaming(transformer: Any, frames: Frames) -> Any:
    """A fitted copy of ``transformer``, fitted on the blocks ``frames()`` yields.

    ``frames`` is called once per pass and must give the same blocks each time. Equal (to
    rounding) to ``clone(transformer).fit(pandas.concat(frames()))``.
    """
    first = _first(frames)
    if isinstance(transformer, ColumnTransformer):
        return _column_transformer(transformer, frames, first)
    if isinstance(transformer, Pipeline):
        return _pipeline(transformer, frames)
    if isinstance(transformer, StandardScaler):
        scaler = clone(transformer)
        for block in frames():
            scaler.partial_fit(block)
        return scaler
    if isinstance(transformer, SimpleImputer):
        return _imputer(transformer, frames, first)
    if isinstance(transformer, OneHotEncoder):
        return _encoder(transformer, frames, first)
    if transformer in ("passthrough", "drop"):
        return transformer
    raise ValueError(
        f"{type(transformer).__name__} cannot be fitted by streaming; use StandardScaler, "
        "SimpleImputer (mean, most_frequent, constant), OneHotEncoder, Pipeline or "
        "ColumnTransformer of these"
    )


def _first(frames: Frames) -> Any:
    for block in frames():
        return block
    raise ParquetDataError("no rows to fit the preprocessing on")


def _mapped(frames: Frames, fn: Callable[[Any], Any]) -> Frames:
    return lambda: (fn(block) for block in frames())


def _pipeline(pipe: Pipeline, frames: Frames) -> Pipeline:
    fitted: list[tuple[str, Any]] = []
    current = frames
    for name, step in pipe.steps:
        done = fit_streaming(step, current)
        fitted.append((name, done))
        if done not in ("passthrough", None):
            current = _mapped(current, done.transform)
    out = clone(pipe)
    out.steps = fitted
    return out


def _column_transformer(ct: ColumnTransformer, frames: Frames, first: Any) -> ColumnTransformer:
    if ct.sparse_threshold > 0:
        for _, trans, _ in ct.transformers:
            enc = trans.steps[-1][1] if isinstance(trans, Pipeline) else trans
            if isinstance(enc, OneHotEncoder) and enc.sparse_output:
                raise ValueError(
                    "a ColumnTransformer with sparse_threshold > 0 decides on sparse output "
                    "from the whole data; use sparse_threshold=0 or sparse_output=False"
                )
    out = clone(ct).fit(first)  # the structure: resolved columns, names, remainder
    replaced = []
    for name, trans, columns in out.transformers_:
        if trans in ("drop", "passthrough") or _empty(columns):
            replaced.append((name, trans, columns))
            continue
        original = ct.remainder if name == "remainder" else dict(
            (n, t) for n, t, _ in ct.transformers
        )[name]  # fmt: skip
        sub = _mapped(frames, lambda block, c=columns: _safe_indexing(block, c, axis=1))
        replaced.append((name, fit_streaming(original, sub), columns))
    out.transformers_ = replaced
    Xs = [
        _safe_indexing(first, c, axis=1) if t == "passthrough" else t.transform(
            _safe_indexing(first, c, axis=1)
        )
        for _, t, c in replaced
        if t != "drop" and not _empty(c)
    ]  # fmt: skip
    out._record_output_indices(Xs)  # which output columns each transformer fills
    return out


def _empty(columns: Any) -> bool:
    if isinstance(columns, slice):
        return False
    if isinstance(columns, str | int):
        return False
    arr = np.asarray(columns)
    return arr.size == 0 or (arr.dtype == bool and not arr.any())


def _as_columns(block: Any) -> list[np.ndarray]:
    if hasattr(block, "iloc"):
        return [block.iloc[:, j].to_numpy() for j in range(block.shape[1])]
    arr = np.asarray(block)
    arr = arr.reshape(len(arr), -1)
    return [arr[:, j] for j in range(arr.shape[1])]


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.array([v is None or (isinstance(v, float) and v != v) for v in values], bool)
    return np.zeros(len(values), bool)


def _imputer(imp: SimpleImputer, frames: Frames, first: Any) -> SimpleImputer:
    strategy = imp.strategy
    if strategy not in ("mean", "most_frequent", "constant"):
        raise ValueError(
            f"SimpleImputer(strategy={strategy!r}) cannot be fitted exactly by streaming; "
            "use 'mean', 'most_frequent' or 'constant'"
        )
    if not (isinstance(imp.missing_values, float) and np.isnan(imp.missing_values)):
        raise ValueError("streamed SimpleImputer supports missing_values=np.nan only")
    out = clone(imp).fit(first)
    if strategy == "constant":
        return out
    sums: list[float] = []
    counts: list[int] = []
    tallies: list[Counter] = []
    for block in frames():
        cols = _as_columns(block)
        if not sums:
            sums, counts = [0.0] * len(cols), [0] * len(cols)
            tallies = [Counter() for _ in cols]
        for j, col in enumerate(cols):
            present = col[~_missing(col)]
            counts[j] += len(present)
            if strategy == "mean":
                sums[j] += float(np.sum(present, dtype=np.float64))
            else:
                tallies[j].update(present.tolist())
    stats = []
    for j in range(len(counts)):
        if counts[j] == 0:
            stats.append(np.nan)
        elif strategy == "mean":
            stats.append(sums[j] / counts[j])
        else:
            best = max(tallies[j].values())
            stats.append(min(v for v, c in tallies[j].items() if c == best))
    out.statistics_ = np.asarray(stats, dtype=out.statistics_.dtype)
    return out


def _encoder(enc: OneHotEncoder, frames: Frames, first: Any) -> OneHotEncoder:
    if enc.min_frequency is not None or enc.max_categories is not None:
        raise ValueError("OneHotEncoder with min_frequency/max_categories cannot be streamed")
    if not (isinstance(enc.categories, str) and enc.categories == "auto"):
        return clone(enc).fit(first)
    seen: list[set] = []
    has_missing: list[bool] = []
    for block in frames():
        cols = _as_columns(block)
        if not seen:
            seen, has_missing = [set() for _ in cols], [False] * len(cols)
        for j, col in enumerate(cols):
            miss = _missing(col)
            has_missing[j] = has_missing[j] or bool(miss.any())
            seen[j].update(col[~miss].tolist())
    categories = []
    for values, missing in zip(seen, has_missing, strict=True):
        cats = sorted(values)
        categories.append([*cats, np.nan] if missing else cats)
    out = clone(enc).set_params(categories=categories).fit(first)
    out.set_params(categories=enc.categories)
    return out
