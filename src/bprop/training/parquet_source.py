"""A :class:`~bprop.training.parquet.ParquetData` bound to a network: the data source the
trainer streams (see :mod:`bprop.training.parquet` for the order of the rows).

:class:`ParquetSource` reads one row group at a time as (X, T, s) in the network's dtype,
removes the held-out rows, and re-cuts the rows into blocks of exactly ``block_rows``
rows for the full-batch sums, or yields one shuffled chunk per row group for online and
mini-batch epochs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

from bprop.core.activations import Activation
from bprop.core.jacobian import gauss_newton_rows, gauss_newton_sum
from bprop.core.losses import Loss
from bprop.core.network import Network
from bprop.core.validation import check_targets
from bprop.training.metrics import AccuracyCounter
from bprop.training.parquet_files import (
    ParquetDataError,
    RowGroup,
    column_matrix,
    column_values,
    holdout_mask,
    row_range,
)
from bprop.training.sources import (
    Block,
    Chunk,
    FullBatchSums,
    sum_evaluations,
    sum_gradients,
)

if TYPE_CHECKING:
    from bprop.training.parquet import ParquetData

__all__ = ["ParquetSource", "TargetEncoder"]

#: maps a block's raw target values to its (n, n_outputs) targets
TargetEncoder = Callable[[np.ndarray], np.ndarray]


class ParquetSource:
    """A :class:`ParquetData` bound to a network: the :class:`~bprop.training.sources.DataSource`
    the trainer uses. ``part`` is 'all', 'train' (rows not held out) or 'validation'."""

    def __init__(
        self,
        data: ParquetData,
        network: Network,
        block_rows: int,
        part: str,
        encode_target: TargetEncoder | None = None,
    ) -> None:
        self.data = data
        self.encode_target = encode_target
        self.dtype = network.dtype
        self.n_outputs = network.n_outputs
        if data.n_features != network.n_inputs:
            raise ParquetDataError(
                f"{data.path}: {data.n_features} feature columns but the network has "
                f"{network.n_inputs} inputs"
            )
        if len(data.target) not in (1, network.n_outputs):
            raise ParquetDataError(
                f"{data.path}: {len(data.target)} target columns but the network has "
                f"{network.n_outputs} outputs"
            )
        self.block_rows = int(block_rows)
        self.part = part
        self.max_rows_held = 0  # the most rows read into memory at once (for tests)
        self.n_rows = sum(int(self._mask(u).sum()) if part != "all" else u.n_rows
                          for u in data.units)  # fmt: skip
        if self.n_rows == 0:
            raise ParquetDataError(f"{data.path}: no rows in the {part} part of the dataset")
        if data.sample_weight is None:
            self.weight_total = float(self.n_rows)
        else:
            self.weight_total = 0.0
            for unit in data.units:
                s = self._weights(unit)
                self.weight_total += float(s.sum())
            if self.weight_total <= 0:
                raise ParquetDataError(f"{data.path}: the sample weights have no positive sum")

    def __repr__(self) -> str:
        return f"ParquetSource({self.data.path!r}, {self.part}, {self.n_rows} rows)"

    # ------------------------------------------------------------------ row groups
    def _mask(self, unit: RowGroup) -> np.ndarray | None:
        if self.part == "all":
            return None
        held = holdout_mask(
            np.arange(unit.start, unit.start + unit.n_rows), self.data.validation_fraction,
            self.data.seed,
        )  # fmt: skip
        return held if self.part == "validation" else ~held

    def _weights(self, unit: RowGroup) -> np.ndarray:
        table = self.data.read(unit, [self.data.sample_weight])
        s = column_values(table, self.data.sample_weight, self.dtype)
        mask = self._mask(unit)
        if mask is not None:
            s = s[mask]
        if not np.all(np.isfinite(s)) or np.any(s < 0):
            raise ParquetDataError(
                f"{unit.file}: sample weights in rows {row_range(unit)} must be finite and "
                "non-negative"
            )
        return s

    def read(self, unit: RowGroup) -> Block:
        """One row group as (X, T, s) in the network's dtype, held-out rows removed."""
        d = self.data
        cols = [*d.columns, *d.target, *([d.sample_weight] if d.sample_weight else [])]
        table = d.read(unit, cols)
        n = table.num_rows
        if d.transform is not None:
            X = np.ascontiguousarray(
                d.transform.transform(table.select(d.columns).to_pandas()), dtype=self.dtype
            )
        else:
            X = column_matrix(
                [column_values(table, name, self.dtype) for name in d.columns], self.dtype
            )
        if not np.all(np.isfinite(X)):
            bad = np.flatnonzero(~np.isfinite(X).all(axis=0))
            what = (
                f"feature column {d.columns[bad[0]]!r}"
                if d.transform is None
                else f"transformed input {bad[0]}"
            )
            raise ParquetDataError(
                f"{unit.file}: NaN or infinite values in {what} in rows {row_range(unit)} "
                f"(row group {unit.index}); impute or drop them before training"
            )
        if len(d.target) == 1:
            y = table.column(d.target[0]).to_numpy(zero_copy_only=False)
        else:
            y = np.column_stack([table.column(c).to_numpy(zero_copy_only=False)
                                 for c in d.target])  # fmt: skip
        try:
            if d.target_transform is not None:
                y = d.target_transform(y)
            if self.encode_target is not None:
                y = self.encode_target(y)
            T = check_targets(y, n, self.n_outputs, self.dtype, "target")
        except ValueError as exc:
            raise ParquetDataError(f"{unit.file}: rows {row_range(unit)}: {exc}") from None
        s = None if d.sample_weight is None else column_values(table, d.sample_weight, self.dtype)
        del table
        mask = self._mask(unit)
        if mask is not None:
            X, T = X[mask], T[mask]
            s = None if s is None else s[mask]
        self.max_rows_held = max(self.max_rows_held, n)
        return X, T, s

    def _read_all(self, units: Sequence[RowGroup]) -> Iterator[Block]:
        """The row groups ``units`` read in turn; with ``prefetch``, a thread reads the next
        one while the caller works on the current (two row groups in memory)."""
        if not self.data.prefetch or len(units) < 2:
            for unit in units:
                yield self.read(unit)
            return
        with ThreadPoolExecutor(1, thread_name_prefix="bprop-prefetch") as pool:
            pending = pool.submit(self.read, units[0])
            for k in range(1, len(units)):
                current = pending.result()
                pending = pool.submit(self.read, units[k])
                held = current[0].shape[0] + units[k].n_rows
                self.max_rows_held = max(self.max_rows_held, held)
                yield current
            yield pending.result()

    def _blocks(self, rows: int) -> Iterator[Block]:
        """The rows in dataset order, re-cut into blocks of exactly ``rows`` rows."""
        pending: list[Block] = []
        n_pending = 0
        for X, T, s in self._read_all(self.data.units):
            start = 0
            if n_pending:  # complete the block begun in the previous row group
                take = min(rows - n_pending, X.shape[0])
                pending.append((X[:take], T[:take], None if s is None else s[:take]))
                n_pending += take
                start = take
                if n_pending < rows:
                    continue
                yield _concat(pending)
                pending, n_pending = [], 0
            n = X.shape[0]
            while n - start >= rows:
                stop = start + rows
                yield X[start:stop], T[start:stop], None if s is None else s[start:stop]
                start = stop
            if start < n:
                pending = [(X[start:], T[start:], None if s is None else s[start:])]
                n_pending = n - start
        if n_pending:
            yield _concat(pending)

    # ------------------------------------------------------------------ the seam
    def full_batch(
        self, network: Network, loss: Loss, counter: AccuracyCounter | None = None
    ) -> FullBatchSums:
        E, grad, correct = sum_gradients(network, loss, self._blocks(self.block_rows), counter)
        return FullBatchSums(E, grad, self.weight_total, correct)

    def evaluate(
        self, network: Network, loss: Loss, counter: AccuracyCounter | None = None
    ) -> tuple[float, float]:
        return sum_evaluations(network, loss, self._blocks(self.block_rows), counter)

    def gauss_newton(self, network: Network, loss: Loss) -> tuple[float, np.ndarray, np.ndarray]:
        return gauss_newton_sum(network, self._blocks(gauss_newton_rows(network)), loss)

    def chunks(self, rng: np.random.Generator, shuffle: bool) -> Iterator[Chunk]:
        units = self.data.units
        order = rng.permutation(len(units)) if shuffle else range(len(units))
        for X, T, s in self._read_all([units[i] for i in order]):
            if X.shape[0]:
                yield Chunk(X, T, s, rng.permutation(X.shape[0]) if shuffle else None)

    def accuracy_counter(self, output_activation: Activation) -> AccuracyCounter:
        """The counter of :class:`~bprop.training.metrics.AccuracyCounter` from one pass
        over the targets (whether they are one-hot)."""
        one_hot = True
        width = self.n_outputs
        for _, T, _ in self._blocks(self.block_rows):
            one_hot = one_hot and bool(np.all((T == 0) | (T == 1)) and np.all(T.sum(axis=1) == 1))
        probe = np.eye(width, dtype=self.dtype)[:1] if one_hot else np.full((1, width), 0.5)
        return AccuracyCounter(output_activation, probe)


def _concat(blocks: list[Block]) -> Block:
    X = np.concatenate([b[0] for b in blocks])
    T = np.concatenate([b[1] for b in blocks])
    s = None if blocks[0][2] is None else np.concatenate([b[2] for b in blocks])
    return X, T, s
