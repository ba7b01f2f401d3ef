"""Training data streamed from Parquet: a file or a directory dataset, one block at a time.

:class:`ParquetData` describes the rows (a path, the target column(s), the feature
columns); ``Trainer.fit(ParquetData(...))`` binds it to the network and trains without
ever holding the dataset in memory. The unit of reading is a Parquet **row group**; at
most one row group (and one block of ``batch_rows`` rows) is in memory at a time, in the
network's dtype.

- **Full-batch rules** read the rows in file order, row group by row group, and re-cut
  them into blocks of exactly ``batch_rows`` rows (the trainer's ``block_size`` by
  default), whose sums are added in that fixed order. In-memory training with the same
  ``block_size`` forms the same blocks, so the weights agree bit for bit (float64, no
  sample weights; a sample-weight total is summed block by block, which may round
  differently from NumPy's pairwise sum over one array).
- **Online and mini-batch epochs** use **block shuffling**: each epoch visits the row
  groups in a new seeded order and the rows of each group in a new seeded permutation;
  a mini-batch never spans two row groups. This is not a full permutation of the
  dataset: rows of one row group stay together in an epoch. With one row group it is
  exactly the in-memory epoch.
- **Held-out rows**: ``validation_fraction`` puts row p (its position in the dataset,
  counting from 0 in file and row-group order) in the validation set when
  ``u(p) < fraction``, u a seeded hash of p onto [0, 1) (:func:`holdout_mask`), so the
  split needs no pass over the data and never changes between epochs; or
  ``validation=`` another Parquet path. Validation is streamed too.

Every problem with the files is a :class:`ParquetDataError` (a ValueError) naming the
file, and for bad values the row range. The files, schema and row groups are
:mod:`bprop.training.parquet_files`; the bound data source is
:mod:`bprop.training.parquet_source`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from bprop.core.network import Network
from bprop.training.parquet_files import (
    ParquetDataError,
    ParquetDataset,
    holdout_mask,
    is_numeric_type,
    row_range,
)
from bprop.training.parquet_source import ParquetSource, TargetEncoder

__all__ = [
    "ParquetData",
    "ParquetDataError",
    "ParquetDataset",
    "ParquetSource",
    "TargetEncoder",
    "holdout_mask",
]


class ParquetData(ParquetDataset):
    """Rows of a Parquet file or a directory of Parquet files, streamed for training.

    Parameters
    ----------
    path:
        A ``.parquet`` file or a directory (every Parquet file below it, in sorted order).
    target:
        The target column, or a list of them (one per network output). A single integer
        column with K > 1 outputs is coded one-hot (class labels 0..K-1).
    columns:
        The feature columns, in the network's input order; None: every column except the
        target(s) and ``sample_weight``. Features must be numeric unless ``transform``
        is given.
    batch_rows:
        Rows per block of the full-batch sums and of evaluation; None: the trainer's
        ``block_size`` (then streamed training equals in-memory training bit for bit).
    sample_weight:
        Name of a column of sample weights, or None.
    validation_fraction, seed:
        Hold out this fraction of the rows for validation, by a seeded hash of the row
        position (:func:`holdout_mask`).
    validation:
        A separate validation dataset: a path or a :class:`ParquetData` (same columns).
    transform:
        A fitted transformer (``transform(DataFrame) -> array``, e.g. a ColumnTransformer
        fitted by :func:`bprop.sklearn.streaming.fit_streaming`) applied to each block's
        feature columns, read as a pandas DataFrame; the network's inputs are its outputs.
    target_transform:
        A function applied to each block's raw target values before the estimator's
        coding, e.g. t = (y - mean) / scale of a fitted StandardScaler; None: as they are.
    prefetch:
        Read the next row group in a background thread while the current one trains
        (pyarrow decodes without the GIL); memory then holds two row groups.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        target: str | Sequence[str] = "y",
        columns: Sequence[str] | None = None,
        batch_rows: int | None = None,
        *,
        sample_weight: str | None = None,
        validation_fraction: float = 0.0,
        validation: str | os.PathLike | ParquetData | None = None,
        seed: int = 0,
        transform: Any = None,
        target_transform: Any = None,
        prefetch: bool = True,
    ) -> None:
        super().__init__(path)
        self.transform = transform
        self.target_transform = target_transform
        self.prefetch = bool(prefetch)
        self.target = [target] if isinstance(target, str) else list(target)
        if not self.target:
            raise ParquetDataError("target must name at least one column")
        self.sample_weight = sample_weight
        if batch_rows is not None and (
            isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1
        ):
            raise ParquetDataError(f"batch_rows must be a positive integer, got {batch_rows!r}")
        self.batch_rows = batch_rows
        if not (0.0 <= float(validation_fraction) < 1.0):
            raise ParquetDataError(
                f"validation_fraction must be in [0, 1), got {validation_fraction!r}"
            )
        if validation_fraction and validation is not None:
            raise ParquetDataError("give validation_fraction or validation, not both")
        self.validation_fraction = float(validation_fraction)
        self.seed = int(seed)
        names = self.schema.names
        used = [*self.target, *([sample_weight] if sample_weight else [])]
        for col in used:
            if col not in names:
                raise ParquetDataError(
                    f"{self.path}: no column {col!r}; the columns are {', '.join(names)}"
                )
        if columns is None:
            columns = [c for c in names if c not in used]
        self.columns = list(columns)
        for col in self.columns:
            if col not in names:
                raise ParquetDataError(
                    f"{self.path}: no feature column {col!r}; the columns are {', '.join(names)}"
                )
        checked = [] if transform is not None else self.columns
        for col in checked + ([sample_weight] if sample_weight else []):
            typ = self.schema.field(col).type
            if not is_numeric_type(typ):
                raise ParquetDataError(
                    f"{self.path}: column {col!r} has type {typ}, not a number; encode it "
                    "first (bprop.sklearn.streaming fits the preprocessing by streaming)"
                )
        if not self.columns:
            raise ParquetDataError(f"{self.path}: no feature columns")
        if self.n_rows == 0:
            raise ParquetDataError(f"{self.path}: the dataset has no rows")
        if isinstance(validation, str | os.PathLike):
            validation = ParquetData(
                validation,
                self.target,
                self.columns,
                batch_rows,
                sample_weight=sample_weight,
                transform=transform,
                target_transform=target_transform,
            )
        self.validation = validation

    @property
    def n_features(self) -> int:
        """The number of network inputs: feature columns, or the transform's outputs."""
        if self.transform is None:
            return len(self.columns)
        names = getattr(self.transform, "get_feature_names_out", None)
        if names is not None:
            return len(names())
        first = self.read(self.units[0], self.columns).slice(0, 1).to_pandas()
        return int(np.asarray(self.transform.transform(first)).shape[1])

    def __repr__(self) -> str:
        return (
            f"ParquetData({self.path!r}, target={self.target!r}, {len(self.columns)} feature "
            f"columns, {self.n_rows} rows in {len(self.units)} row groups)"
        )

    def bind(
        self, network: Network, block_rows: int, encode_target: TargetEncoder | None = None
    ) -> ParquetSource:
        """The training rows as a data source for ``network`` (its dtype and outputs).

        ``encode_target(y)`` maps a block's raw target values (1-D for one target column,
        else 2-D) to the (n, n_outputs) targets (e.g. a classifier's label binarizer);
        None: the values are the targets (:func:`bprop.core.data.check_targets`).
        """
        part = "train" if self.validation_fraction else "all"
        return ParquetSource(self, network, self.batch_rows or block_rows, part, encode_target)

    def bind_validation(
        self, network: Network, block_rows: int, encode_target: TargetEncoder | None = None
    ) -> ParquetSource | None:
        """The held-out rows as a data source, or None if there are none."""
        if self.validation is not None:
            return self.validation.bind(network, block_rows, encode_target)
        if self.validation_fraction:
            rows = self.batch_rows or block_rows
            return ParquetSource(self, network, rows, "validation", encode_target)
        return None

    def target_values(self) -> np.ndarray:
        """The distinct values of the (single) target column, sorted, by one streaming pass
        over that column only (a classifier's classes)."""
        if len(self.target) != 1:
            raise ParquetDataError("target_values needs a single target column")
        seen: np.ndarray | None = None
        for unit in self.units:
            col = self.read(unit, self.target).column(0)
            if col.null_count:
                raise ParquetDataError(
                    f"{unit.file}: missing target values in rows {row_range(unit)}"
                )
            values = np.unique(col.to_numpy(zero_copy_only=False))
            seen = values if seen is None else np.union1d(seen, values)
        assert seen is not None
        return seen
