"""A Parquet dataset on disk: its files, common schema and row groups, read one at a time.

:class:`ParquetDataset` lists the files of a Parquet file or directory (every Parquet file
below it, in sorted order), checks that they share one schema, and numbers their row
groups in dataset order (:class:`RowGroup`); ``read`` returns one row group's columns.
:func:`column_values` and :func:`column_matrix` turn a row group's columns into NumPy
arrays; :func:`holdout_mask` is the seeded hash that splits rows into training and
validation parts by their position. Every problem with the files is a
:class:`ParquetDataError` (a ValueError) naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ParquetDataError",
    "ParquetDataset",
    "RowGroup",
    "column_matrix",
    "column_values",
    "holdout_mask",
    "is_numeric_type",
    "pyarrow_parquet",
    "row_range",
]


class ParquetDataError(ValueError):
    """A Parquet dataset that cannot be read or does not fit the model."""


def pyarrow_parquet():
    """The ``pyarrow.parquet`` module (a ParquetDataError if pyarrow is not installed)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - the 'files' extra
        msg = "streaming Parquet needs pyarrow: pip install 'bprop[files]'"
        raise ParquetDataError(msg) from None
    return pq


def holdout_mask(positions: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """True for the rows held out: u(p) < fraction, u = splitmix64(p + seed 2^32) / 2^64.

    A hash of the row position (never a random draw), so any block of rows gets its part
    of the split without reading the others, and the split is the same in every pass.
    """
    with np.errstate(over="ignore"):
        z = positions.astype(np.uint64) + np.uint64((int(seed) & 0xFFFFFFFF) << 32)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53 < fraction


@dataclass(frozen=True)
class RowGroup:
    """One row group: file, index in the file, rows, position of its first row in the dataset."""

    file: str
    index: int
    n_rows: int
    start: int


class ParquetDataset:
    """The files, common schema and row groups of a Parquet file or directory (any columns).

    ``read(unit, columns)`` reads one row group (:attr:`units`, in dataset order).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = str(path)
        self.files = _list_files(self.path)
        self.schema = _common_schema(self.files)
        self.units = _row_groups(self.files)
        self.n_rows = sum(u.n_rows for u in self.units)
        self._open: tuple[str, Any] | None = None  # the file read last, kept open

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_open": None}

    def read(self, unit: RowGroup, columns: Sequence[str]):
        """One row group's ``columns`` as a pyarrow Table (a ParquetDataError if unreadable)."""
        pq = pyarrow_parquet()
        try:
            if self._open is None or self._open[0] != unit.file:
                self._open = (unit.file, pq.ParquetFile(unit.file))
            return self._open[1].read_row_group(unit.index, columns=list(columns))
        except (OSError, ValueError) as exc:
            raise ParquetDataError(
                f"{unit.file}: cannot read row group {unit.index} (rows {row_range(unit)}): {exc}"
            ) from exc


def row_range(unit: RowGroup) -> str:
    """The dataset rows of ``unit`` as text, for error messages: 'start..end of the dataset'."""
    return f"{unit.start}..{unit.start + unit.n_rows - 1} of the dataset"


def column_matrix(columns: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """The columns side by side in a C-ordered (rows x columns) array of ``dtype``.

    Two NumPy calls, X = (stack of the columns)^T copied in C order: a quarter less CPU
    than filling cache-sized tiles column by column (at 50 float32 columns x 65,536
    rows), and a prefetch thread building it takes the GIL for a few calls, not for
    thousands (the training thread holds it between them). The values are copies, so
    equal bit for bit whichever way the matrix is filled.
    """
    if not columns:
        return np.empty((0, 0), dtype)
    return np.ascontiguousarray(np.stack(columns).T, dtype=dtype)


def column_values(table: Any, name: str, dtype: np.dtype) -> np.ndarray:
    """Column ``name`` of a pyarrow Table as a 1-D array of ``dtype`` (nulls become NaN)."""
    col = table.column(name)
    if col.null_count:
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64).astype(dtype)
    return np.asarray(col.to_numpy(zero_copy_only=False)).astype(dtype, copy=False)


def is_numeric_type(typ: Any) -> bool:
    """Whether a pyarrow type is an integer, floating-point or boolean type."""
    import pyarrow.types as pt

    return pt.is_integer(typ) or pt.is_floating(typ) or pt.is_boolean(typ)


def _list_files(path: str) -> list[str]:
    p = Path(path)
    if not p.exists():
        raise ParquetDataError(f"{path}: no such file or directory")
    if p.is_dir():
        files = sorted(
            str(f) for f in p.rglob("*") if f.is_file() and not f.name.startswith((".", "_"))
        )
        if not files:
            raise ParquetDataError(f"{path}: the directory holds no Parquet files")
        return files
    return [str(p)]


def _common_schema(files: list[str]):
    """The schema of the first file; a ParquetDataError if a file is not Parquet or one of
    its columns has another type than in the first file."""
    pq = pyarrow_parquet()
    schema = None
    for f in files:
        try:
            s = pq.read_schema(f)
        except Exception as exc:  # pyarrow raises ArrowInvalid (a ValueError) or OSError
            raise ParquetDataError(
                f"{f}: not a Parquet file ({exc}); convert CSV with `bprop convert`"
            ) from None
        if schema is None:
            schema = s
            continue
        for field in s:
            if field.name in schema.names and schema.field(field.name).type != field.type:
                raise ParquetDataError(
                    f"{f}: column {field.name!r} has type {field.type}, but "
                    f"{schema.field(field.name).type} in {files[0]}; write every file of "
                    "the dataset with the same schema"
                )
        missing = [n for n in schema.names if n not in s.names]
        if missing:
            raise ParquetDataError(f"{f}: missing column(s) {', '.join(missing)} of {files[0]}")
    return schema


def _row_groups(files: list[str]) -> list[RowGroup]:
    pq = pyarrow_parquet()
    units, start = [], 0
    for f in files:
        meta = pq.ParquetFile(f).metadata
        for i in range(meta.num_row_groups):
            n = meta.row_group(i).num_rows
            if n:
                units.append(RowGroup(f, i, n, start))
                start += n
    return units
