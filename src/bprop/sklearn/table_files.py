"""Reading and writing data files (CSV, gzipped CSV, Parquet, stdin/stdout), and how
messages name rows.

- formats by extension: ``.csv``, ``.tsv``, ``.txt`` (``pandas.read_csv``; tab-separated
  for ``.tsv``), the same with ``.gz`` appended (gzip, decompressed by pandas), ``.parquet``
  and ``.pq`` (``pandas.read_parquet``); ``-`` is CSV on stdin (read) or stdout (write);
- ``na_values``: cell texts read as empty besides pandas' defaults (``""``, ``NA``,
  ``NaN``, ``null``, ...): in a CSV file by ``read_csv(na_values=...)``; in a Parquet file
  the string cells equal to one of them;
- rows are named as *data rows*: data row r is the r-th row below the header, counting
  from 1 (in a CSV file without blank lines or quoted line breaks, file line r + 1).

Every problem is a :class:`DataError` (a ValueError) naming the file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from bprop.files import atomic_write

__all__ = [
    "STDIO",
    "DataError",
    "blank_strings",
    "data_format",
    "pandas_module",
    "read_table",
    "row_numbers",
    "rows_text",
    "write_table",
]

#: the file name that means stdin (reading) or stdout (writing)
STDIO = "-"
_CSV = (".csv", ".tsv", ".txt")
_PARQUET = (".parquet", ".pq")


class DataError(ValueError):
    """A data file that cannot be read, or whose content does not fit the model."""


def pandas_module():
    """pandas, or a DataError saying how to install it."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - the 'files' extra
        raise DataError("reading data files needs pandas: pip install 'bprop[files]'") from None
    return pd


def data_format(path: str | os.PathLike) -> tuple[str, str | None]:
    """(format, compression) of a file name: ('csv' | 'tsv' | 'parquet', 'gzip' | None);
    ``-`` is ('csv', None); any other extension is a DataError."""
    if str(path) == STDIO:
        return "csv", None
    suffixes = [s.lower() for s in Path(path).suffixes[-2:]]
    compression = None
    if suffixes and suffixes[-1] == ".gz":
        compression, suffixes = "gzip", suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in _PARQUET and compression is None:
        return "parquet", None
    if suffix in _CSV:
        return ("tsv" if suffix == ".tsv" else "csv"), compression
    shown = "".join(suffixes[-1:]) + (".gz" if compression else "")
    raise DataError(
        f"{path}: unknown data format {shown or '(no extension)'!r}; give a .csv, .tsv, "
        ".csv.gz or .parquet file, or - for CSV on stdin"
    )


def read_table(path: str | os.PathLike, na_values: Iterable[str] = ()):
    """A pandas DataFrame from a data file (see the module's formats), or from stdin for
    ``-`` (its bytes' SHA-256 in ``df.attrs['sha256']``); ``na_values`` are read as empty."""
    pd = pandas_module()
    na = sorted({str(v) for v in na_values})
    kind, compression = data_format(path)
    sep = "\t" if kind == "tsv" else ","
    p = Path(path)
    digest = None
    try:
        if str(path) == STDIO:
            raw = sys.stdin.buffer.read()
            if not raw.strip():
                raise DataError("-: stdin is empty")
            digest = hashlib.sha256(raw).hexdigest()
            df = pd.read_csv(io.BytesIO(raw), sep=sep, na_values=na or None)
        else:
            if not p.exists():
                raise DataError(f"{path}: no such file")
            if p.is_dir():
                raise DataError(f"{path}: is a directory, not a data file")
            if p.stat().st_size == 0:
                raise DataError(f"{path}: the file is empty")
            if kind == "parquet":
                df = blank_strings(pd.read_parquet(p), na)
            else:
                df = pd.read_csv(p, sep=sep, compression=compression, na_values=na or None)
    except DataError:
        raise
    except gzip.BadGzipFile:
        raise DataError(f"{path}: not a gzip file (its name ends in .gz)") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied; check the file's permissions") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except Exception as exc:  # pandas/pyarrow/gzip parser errors have many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable {kind} file ({first})") from None
    if df.shape[1] == 0:
        raise DataError(f"{path}: no columns found")
    if df.shape[0] == 0:
        raise DataError(f"{path}: no data rows (only a header)")
    df.columns = [str(c) for c in df.columns]
    if len(set(df.columns)) != len(df.columns):
        raise DataError(f"{path}: duplicate column names")
    if digest is not None:
        df.attrs["sha256"] = digest
    return df


def blank_strings(df: Any, na: Iterable[str]) -> Any:
    """``df`` with the string cells equal to one of ``na`` made empty (NaN): what
    ``na_values`` does to a Parquet file, whole or one block of rows at a time."""
    na = sorted({str(v) for v in na})
    for name in df.columns if na else ():
        s = df[name]
        if s.dtype.kind == "O":
            df[name] = s.mask(s.isin(na))
    return df


def write_table(df, path: str | os.PathLike) -> None:
    """Write a DataFrame as CSV (``-``: to stdout) or Parquet (by extension), atomically."""
    if str(path) == STDIO:
        df.to_csv(sys.stdout, index=False)
        return
    try:
        kind, compression = data_format(path)
    except DataError:
        raise DataError(
            f"{path}: unknown output format; use .csv, .tsv, .csv.gz or .parquet"
        ) from None
    if kind == "parquet":
        with atomic_write(path, "wb") as fh:
            df.to_parquet(fh, index=False)
    elif compression:
        with atomic_write(path, "wb") as fh:
            df.to_csv(fh, index=False, sep="\t" if kind == "tsv" else ",", compression="gzip")
    else:
        with atomic_write(path, "w") as fh:
            df.to_csv(fh, index=False, sep="\t" if kind == "tsv" else ",")


def row_numbers(mask, index: Any = None) -> np.ndarray:
    """The data-row numbers (1-based) of the True entries of ``mask``: from ``index`` when it
    is a pandas RangeIndex of step 1 (what the readers give, also to a chunk of a file),
    else the positions."""
    positions = np.flatnonzero(np.asarray(mask))
    start = getattr(index, "start", None)
    if start is not None and getattr(index, "step", None) == 1:
        return positions + start + 1
    return positions + 1


def rows_text(mask, index: Any = None) -> str:
    """'data row 4' or 'data rows 1, 3, 8, ... (12 in all)' for a boolean mask over the rows
    (numbered as :func:`row_numbers` numbers them)."""
    rows = row_numbers(mask, index)
    shown = ", ".join(str(r) for r in rows[:5])
    more = f", ... ({len(rows)} in all)" if len(rows) > 5 else ""
    return f"data row{'s' if len(rows) > 1 else ''} {shown}{more}"
