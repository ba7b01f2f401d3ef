"""The kind of each column of a training table (numeric or categorical) and the task,
with the checks that keep a column from changing kind silently.

A column's kind:

- named with ``categorical`` (``--categorical COL``): categorical;
- numbers (any numeric dtype): numeric; booleans: categorical;
- text in which a share s >= :data:`NUMERIC_SHARE` (0.9) of the non-empty cells parse as
  numbers: a numeric column with typos, an error naming the column, the rows and the bad
  values (``--na-values`` for markers of missing cells, ``--categorical COL`` if it really
  is categorical); when all cells parse, numeric;
- other text: categorical, unless it looks like an identifier: n >= :data:`ID_MIN_ROWS`
  (20) non-empty cells of which d >= :data:`ID_SHARE` (0.9) x n are distinct; one-hot
  encoding it would make about one input per row, so it is an error naming the column
  (``--drop COL``, or ``--categorical COL`` to encode it anyway).

The task (:func:`infer_task`): classification for text, booleans, and numbers that are all
integers (integer-valued floats such as 0.0/1.0 included) with at most
:data:`MAX_INTEGER_CLASSES` (20) distinct values; regression for other numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bprop.sklearn.table_files import DataError, pandas_module, rows_text

__all__ = [
    "ID_MIN_ROWS",
    "ID_SHARE",
    "MAX_INTEGER_CLASSES",
    "NUMERIC_SHARE",
    "column_kinds",
    "infer_task",
    "numeric_values",
]

#: a number target with integer values only and at most this many distinct ones is class labels
MAX_INTEGER_CLASSES = 20
#: a text column with at least this share of number cells is a numeric column with typos
NUMERIC_SHARE = 0.9
#: a text column with at least this share of distinct values (and ID_MIN_ROWS cells) is an ID
ID_SHARE = 0.9
ID_MIN_ROWS = 20


def infer_task(series) -> str:
    """'classification' for text, boolean or categorical targets and for integer-valued
    numbers with at most 20 distinct values; 'regression' for other numbers."""
    kind = series.dtype.kind
    if kind not in "iufc":
        return "classification"
    if kind == "c":
        return "regression"
    values = series.dropna().to_numpy(dtype=float)
    integral = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    few = series.nunique() <= MAX_INTEGER_CLASSES
    return "classification" if integral and few else "regression"


def _shown(values: Any) -> str:
    distinct = list(dict.fromkeys(str(v) for v in values))
    text = ", ".join(repr(v) for v in distinct[:5])
    return text + (", ..." if len(distinct) > 5 else "")


def numeric_values(series, name: str, hint: str = "", subject: str = "") -> np.ndarray:
    """The column as floats (empty cells NaN); cells that are not numbers are a DataError
    naming the column (``subject``, default "column NAME is numeric but"), the data rows
    and the values, followed by ``hint``."""
    pd = pandas_module()
    if series.dtype.kind in "biuf":
        return np.array(series.to_numpy(dtype=float, na_value=np.nan), dtype=float)
    values = pd.to_numeric(series, errors="coerce")
    bad = (values.isna() & series.notna()).to_numpy()
    if bad.any():
        raise DataError(
            f"{subject or f'column {name!r} is numeric but'} has non-numeric cells "
            f"({rows_text(bad, series.index)}: {_shown(series[bad])}){hint}"
        )
    return np.array(values.to_numpy(dtype=float, na_value=np.nan), dtype=float)


def column_kinds(
    df, features: list[str], categorical: tuple[str, ...] = ()
) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature names of a training table, by the rules above."""
    pd = pandas_module()
    numeric, cats = [], []
    for name in features:
        s = df[name]
        if s.isna().all():
            raise DataError(f"column {name!r} has no values; drop it with --drop {name}")
        if name in categorical or s.dtype.kind == "b":
            cats.append(name)
            continue
        if s.dtype.kind in "iuf":
            numeric.append(name)
            continue
        cells = s.dropna()
        share = float(pd.to_numeric(cells, errors="coerce").notna().mean())
        if share >= NUMERIC_SHARE:
            numeric_values(
                s,
                name,
                f"; fix them, mark them empty with --na-values VALUE (e.g. --na-values "
                f"'?'), or treat the column as categories with --categorical {name}",
            )
            numeric.append(name)
            continue
        distinct = cells.nunique()
        if len(cells) >= ID_MIN_ROWS and distinct >= ID_SHARE * len(cells):
            raise DataError(
                f"column {name!r} looks like an identifier ({distinct} distinct values in "
                f"{len(cells)} rows, e.g. {_shown(cells[:3])}), not categories to one-hot "
                f"encode; leave it out with --drop {name}, or encode it anyway with "
                f"--categorical {name}"
            )
        cats.append(name)
    return numeric, cats
