"""A Parquet file or directory read into a pandas DataFrame for the in-memory path, with
its floating-point columns already in the model's dtype.

``pandas.read_parquet`` builds an Arrow table and then a DataFrame from it (two copies of
the data), and the checks that follow made a float64 copy of every column: three to four
times the data at the peak. :func:`read_parquet_frame` instead fills one (columns x rows)
array of the model's dtype row group by row group, and the DataFrame is a view of it
(pandas keeps a 2-D block as the transpose of its columns), so the table costs the data's
size in that dtype once. The other columns (integers, strings, booleans, and the columns
named in ``keep``) are read as ``read_parquet`` reads them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from bprop.sklearn.tabular import DataError, pandas_module
from bprop.training.parquet import ParquetDataset
from bprop.training.parquet_files import column_values

__all__ = ["read_parquet_frame"]


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
    kept = set(keep)
    cast = [n for n in names if n not in kept and pa.types.is_floating(ds.schema.field(n).type)]
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
