"""A Parquet file or directory read into a pandas DataFrame for the in-memory path, with
its floating-point columns already in the model's dtype.

``pandas.read_parquet`` builds an Arrow table and then a DataFrame from it (two copies of
the data), and the checks that follow made a float64 copy of every column: three to four
times the data at the peak. :func:`read_parquet_frame` instead fills one (columns x rows)
array of the model's dtype row group by row group, and the DataFrame is a view of it
(pandas keeps a 2-D block as the transpose of its columns), so the table costs the data's
size in that dtype once. The other columns (integers, strings, booleans, and the columns
named in ``keep``) are read as ``read_parquet`` reads them.

:func:`transform_parquet` reads the same rows again, row group by row group, through a
fitted transformer into one array: the transformed inputs without the table in memory
beside them (where every feature is such a floating-point column).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from bprop.sklearn.tabular import DataError, TableSpec, check_frame, pandas_module
from bprop.training.parquet import ParquetDataset
from bprop.training.parquet_files import column_values

__all__ = ["read_parquet_frame", "reads_as_floats", "transform_parquet"]


def read_parquet_frame(path: str | os.PathLike, dtype: Any, keep: Iterable[str | None] = ()):
    """The rows of a Parquet file or directory as a DataFrame, in the file's column order;
    floating-point columns not named in ``keep`` as ``dtype`` (nulls become NaN)."""
    import pyarrow as pa  # the 'files' extra
    import pyarrow.parquet  # noqa: F401  (pa.parquet)

    pd = pandas_module()
    if not os.path.isdir(path):
        try:
            pa.parquet.read_metadata(path)
        except Exception as exc:  # pyarrow's errors have many types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"{path}: not a readable parquet file ({first})") from None
    ds = ParquetDataset(path)
    names = [str(n) for n in ds.schema.names]
    if not names:
        raise DataError(f"{path}: no columns found")
    if len(set(names)) != len(names):
        raise DataError(f"{path}: duplicate column names")
    if ds.n_rows == 0:
        raise DataError(f"{path}: no data rows")
    cast = _float_columns(ds, keep)
    block = np.empty((len(cast), ds.n_rows), np.dtype(dtype))
    others: dict[str, list[Any]] = {n: [] for n in names if n not in cast}
    for unit in ds.units:
        table = ds.read(unit, names)
        rows = slice(unit.start, unit.start + unit.n_rows)
        for j, name in enumerate(cast):
            block[j, rows] = column_values(table, name, block.dtype)
        for name, chunks in others.items():
            chunks.append(table.column(name))
        del table
    pa.default_memory_pool().release_unused()  # the decoded row groups' buffers, to the OS
    df = pd.DataFrame(block.T, columns=cast, copy=False)
    for name, chunks in others.items():  # in file order: each lands at its own position
        df.insert(names.index(name), name, pa.chunked_array(chunks).to_pandas())
    return df


def _float_columns(ds: ParquetDataset, keep: Iterable[str | None] = ()) -> list[str]:
    """The floating-point columns of ``ds`` not named in ``keep``, in file order."""
    import pyarrow as pa

    kept = set(keep)
    return [
        str(n) for n in ds.schema.names
        if n not in kept and pa.types.is_floating(ds.schema.field(n).type)
    ]  # fmt: skip


def reads_as_floats(path: str | os.PathLike, columns: Iterable[str]) -> bool:
    """Whether every one of ``columns`` is a floating-point column of the Parquet data
    ``path`` (so each row group reads as the whole file's frame does)."""
    return set(columns) <= set(_float_columns(ParquetDataset(path)))


def transform_parquet(transformer: Any, path: str | os.PathLike, spec: TableSpec, dtype: Any):
    """``transformer.transform`` of the feature rows of the Parquet data ``path``, one row
    group at a time, as one C-ordered (rows x outputs) array of ``dtype``.

    Equal, bit for bit, to transforming :func:`read_parquet_frame`'s frame (checked by
    ``check_frame``), for a transformer that works row by row (the scalers, imputers and
    encoders of the command line's pipelines), when :func:`reads_as_floats` holds for the
    features; the peak is the output plus one row group.
    """
    pd = pandas_module()
    ds = ParquetDataset(path)
    dt = np.dtype(dtype)
    out: np.ndarray | None = None
    for unit in ds.units:
        table = ds.read(unit, spec.features)
        frame = pd.DataFrame(
            {n: column_values(table, n, dt) for n in spec.features},
            index=pd.RangeIndex(unit.start, unit.start + unit.n_rows),
        )
        del table
        part = np.asarray(transformer.transform(check_frame(spec, frame, dtype=dt)))
        if out is None:
            out = np.empty((ds.n_rows, part.shape[1]), dt)
        out[unit.start : unit.start + unit.n_rows] = part
    assert out is not None  # (read_parquet_frame refused a dataset without rows)
    return out
