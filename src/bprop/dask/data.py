"""DaskData: training rows held by a Dask cluster, described before the model is known.

``DaskData(X, y, sample_weight=None)`` with

- ``X`` a dask array (rows x inputs, chunked by rows; several column chunks are joined)
  and ``y`` a dask array with the same row chunks;
- ``X`` a dask DataFrame, and ``y`` a dask Series / array or the name(s) of target
  column(s) of ``X`` (``sample_weight`` likewise an array or a column name);
- ``X`` the path of a Parquet file or directory, read with ``dask.dataframe.read_parquet``,
  and ``y`` the target column name(s).

Feature columns of a DataFrame must be numeric, unless ``transform`` is a fitted
transformer (a ColumnTransformer, e.g.) that the workers apply to each partition;
``target_transform(y)`` likewise maps each partition's targets (e.g. standardises them). Its
``bind`` (called by ``Trainer.fit`` and the estimators) returns the cluster-backed data
source of :mod:`bprop.dask.source`; ``to_local`` the same partitions in this process.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from bprop.core.network import Network
from bprop.dask.partitions import Partition, partition_summary
from bprop.dask.source import (
    MAX_GAUSS_NEWTON_BYTES,
    ClusterError,
    DaskPartitions,
    DaskStepPartitions,
    LocalPartitions,
    connection_errors,
    default_client,
    refuse_bad_partitions,
)

__all__ = ["DaskData", "plain_strings"]


def plain_strings(frame: Any) -> Any:
    """The dask DataFrame ``frame`` with its text columns as object columns whose missing
    cells are NaN: Dask reads text as pandas' string dtype with ``pd.NA``, which
    scikit-learn's imputers cannot compare ("boolean value of NA is ambiguous")."""
    text = [c for c in frame.columns if frame[c].dtype.kind not in "biufcmM"]
    if not text:
        return frame
    meta = frame._meta.astype({c: object for c in text})
    return frame.map_partitions(_plain_partition, text, meta=meta)


def _plain_partition(part: Any, text: list[Any]) -> Any:
    part = part.copy()
    for c in text:
        part[c] = part[c].astype(object).where(part[c].notna(), np.nan)
    return part


def _dask():
    try:
        import dask
        import dask.array as da
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
        raise ImportError(
            "training on a Dask cluster needs the 'dask' extra: pip install 'bprop[dask]'"
        ) from exc
    return dask, da, dd


def _as_partition(
    x: Any,
    t: Any,
    s: Any,
    dtype: str,
    columns: list[str] | None,
    transform: Any,
    target_transform: Any,
    encode_target: Any,
) -> Partition:
    """One partition in the network's dtype: inputs (transformed), targets (encoded), 2-D.

    ``t`` and ``s`` may be column names of the partition ``x`` (a DataFrame)."""
    if isinstance(t, str | list):
        t = x[t]
    if isinstance(s, str):
        s = x[s]
    if columns is not None:
        x = x[columns]
    if transform is not None:
        x = transform.transform(x)
    elif columns is not None:
        x = x.to_numpy()
    X = np.ascontiguousarray(np.asarray(x), dtype=dtype)
    t = t.to_numpy() if hasattr(t, "to_numpy") else np.asarray(t)
    if target_transform is not None:
        t = target_transform(t)
    if encode_target is not None:
        t = encode_target(t)
    T = np.asarray(t, dtype=dtype)
    T = np.ascontiguousarray(T[:, None] if T.ndim == 1 else T)
    if s is not None:
        s = s.to_numpy() if hasattr(s, "to_numpy") else s
        s = np.ascontiguousarray(s, dtype=dtype)
    return X, T, s


def _parts(a: Any, n: int, name: str) -> list[Any]:
    """The delayed partitions of ``a``: as many as the inputs have, else a clear error."""
    parts = list(a.to_delayed())
    if len(parts) != n:
        raise ValueError(
            f"X has {n} partitions but {name} {len(parts)}; take both from one DataFrame "
            "(pass the column name) or repartition them alike"
        )
    return parts


class DaskData:
    """Rows on a Dask cluster as training data (see the module docstring).

    ``validation``: another DaskData of held-out rows (None: none). ``minibatch``:
    'parallel' (synchronous data-parallel steps) or 'stream' (partitions streamed to the
    driver one at a time), see :mod:`bprop.dask.source`. ``client`` defaults to the
    current Dask client.
    """

    batch_rows = None  # full-batch sums use the trainer's block size inside each partition

    def __init__(
        self,
        X: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        client: Any = None,
        validation: DaskData | None = None,
        minibatch: str = "parallel",
        transform: Any = None,
        target_transform: Any = None,
        max_gauss_newton_bytes: int = MAX_GAUSS_NEWTON_BYTES,
    ) -> None:
        dask, da, dd = _dask()
        if minibatch not in ("parallel", "stream"):
            raise ValueError(f"minibatch must be 'parallel' or 'stream', got {minibatch!r}")
        if isinstance(X, str | os.PathLike):
            if not isinstance(y, str | list | tuple):
                raise ValueError("with a Parquet path, y must name the target column(s)")
            X = dd.read_parquet(os.fspath(X))
        self.client = client
        self.validation = validation
        self.minibatch = minibatch
        self.transform = transform
        self.target_transform = target_transform
        self.max_gauss_newton_bytes = int(max_gauss_newton_bytes)
        if isinstance(X, dd.DataFrame):
            self._from_frame(X, y, sample_weight)
        elif isinstance(X, da.Array):
            self._from_arrays(X, y, sample_weight)
        else:
            raise ValueError(
                f"DaskData needs a dask array, a dask DataFrame or a Parquet path, got "
                f"{type(X).__name__} (dask.array.from_array turns a NumPy array into one)"
            )

    # -------------------------------------------------------------- inputs
    def _from_arrays(self, X: Any, y: Any, sample_weight: Any) -> None:
        _, da, _ = _dask()
        if not isinstance(y, da.Array):
            raise ValueError(f"with a dask array X, y must be a dask array, got {type(y).__name__}")
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (rows x inputs), got shape {X.shape}")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        X = X.rechunk({1: -1}) if X.numblocks[1] > 1 else X
        y = y.rechunk({1: -1}) if y.ndim == 2 and y.numblocks[1] > 1 else y
        for name, a in (("y", y), ("sample_weight", sample_weight)):
            if a is not None and a.chunks[0] != X.chunks[0]:
                raise ValueError(
                    f"X and {name} are partitioned differently (row chunks {X.chunks[0]} "
                    f"and {a.chunks[0]}); use {name}.rechunk((X.chunks[0],) + "
                    f"{name}.chunks[1:])"
                )
        self.columns = None
        self.target = ["y"] if y.ndim == 1 else [f"y{i}" for i in range(y.shape[1])]
        self._n_inputs = int(X.shape[1])
        self._y = y
        self._xs = list(X.to_delayed().ravel())
        self._ys = list(y.to_delayed().ravel())
        ws = None if sample_weight is None else list(sample_weight.to_delayed().ravel())
        self._ws = [None] * len(self._xs) if ws is None else ws

    def _from_frame(self, X: Any, y: Any, sample_weight: Any) -> None:
        names = [y] if isinstance(y, str) else list(y) if isinstance(y, list | tuple) else None
        if names is not None:
            missing = [c for c in names if c not in X.columns]
            if missing:
                raise ValueError(f"target column(s) {missing} not in the data's columns")
        elif y is None:
            raise ValueError("y is missing: a dask Series, or the name of the target column")
        weight_name = sample_weight if isinstance(sample_weight, str) else None
        if weight_name is not None and weight_name not in X.columns:
            raise ValueError(f"sample-weight column {weight_name!r} not in the data's columns")
        drop = [*(names or []), *([weight_name] if weight_name else [])]
        features = [c for c in X.columns if c not in drop]
        if self.transform is None:
            bad = [c for c in features if X[c].dtype.kind not in "biuf"]
            if bad:
                raise ValueError(
                    f"column(s) {bad} are not numeric: encode them first (the estimators of "
                    "bprop.dask do it for you), or pass transform=<a fitted ColumnTransformer>"
                )
        # Named columns are taken from each partition of X itself, so that the rows of
        # inputs, targets and weights can never be partitioned differently.
        self._xs = list(X.to_delayed())
        n = len(self._xs)
        self._ys = [names if len(names) > 1 else names[0]] * n if names else _parts(y, n, "y")
        if weight_name is not None:
            self._ws = [weight_name] * n
        else:
            self._ws = [None] * n if sample_weight is None else _parts(sample_weight, n, "weights")
        self.columns = [str(c) for c in features]
        self.target = names or [str(getattr(y, "name", "y"))]
        self._n_inputs = None if self.transform is not None else len(features)
        self._y = X[names[0]] if names else y

    # -------------------------------------------------------------- what the model needs
    @property
    def n_partitions(self) -> int:
        return len(self._xs)

    @property
    def n_features(self) -> int:
        """The number of network inputs: feature columns, or the transform's outputs."""
        if self._n_inputs is not None:
            return self._n_inputs
        return len(self.transform.get_feature_names_out())

    def target_values(self) -> np.ndarray:
        """The distinct target values, sorted (a classifier's classes): one pass on the
        cluster."""
        client = default_client(self.client)
        y = self._y
        unique = y.unique() if hasattr(y, "unique") and not hasattr(y, "chunks") else None
        if unique is None:
            _, da, _ = _dask()
            unique = da.unique(y)
        try:
            values = np.asarray(client.compute(unique).result())
        except connection_errors() as exc:
            msg = f"the Dask cluster failed while reading the targets ({exc})"
            raise ClusterError(msg) from exc
        if values.dtype.kind == "f" and np.isnan(values).any():
            raise ValueError("the targets have missing values (NaN)")
        return np.sort(values)

    def _delayed_parts(self, dtype: str, encode_target: Any) -> list[Any]:
        dask, _, _ = _dask()
        make = dask.delayed(_as_partition, pure=True)
        columns = None if self.transform is not None else self.columns
        return [
            make(x, t, s, dtype, columns, self.transform, self.target_transform, encode_target)
            for x, t, s in zip(self._xs, self._ys, self._ws, strict=True)
        ]

    # -------------------------------------------------------------- binding
    def bind(self, network: Network, block_rows: int, encode_target: Any = None) -> DaskPartitions:
        """The partitions computed on the workers, as a data source for ``network``.

        ``encode_target(y)`` maps a partition's raw targets to the network's (a
        classifier's label binarizer); None: the values are the targets.
        """
        client = default_client(self.client)
        try:
            parts = client.compute(self._delayed_parts(network.dtype.name, encode_target))
            checks = client.map(
                partition_summary,
                parts,
                n_inputs=network.n_inputs,
                n_outputs=network.n_outputs,
                pure=False,
            )
            summaries = client.gather(checks)
        except connection_errors() as exc:
            raise ClusterError(f"the Dask cluster failed while loading the data ({exc})") from exc
        refuse_bad_partitions(summaries)
        cls = DaskStepPartitions if self.minibatch == "parallel" else DaskPartitions
        return cls(client, parts, summaries, network, block_rows, self.max_gauss_newton_bytes)

    def bind_validation(
        self, network: Network, block_rows: int, encode_target: Any = None
    ) -> DaskPartitions | None:
        if self.validation is None:
            return None
        return self.validation.bind(network, block_rows, encode_target)

    def to_local(
        self, network: Network, block_rows: int, encode_target: Any = None
    ) -> LocalPartitions:
        """The same partitions in this process (computed here, one after the other)."""
        dask, _, _ = _dask()
        delayed = self._delayed_parts(network.dtype.name, encode_target)
        parts = dask.compute(*delayed, scheduler="sync")
        return LocalPartitions(list(parts), network, block_rows)
