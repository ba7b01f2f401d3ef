"""MLPClassifier and MLPRegressor on a Dask cluster, with the Dask API people know.

``bprop.dask.MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", client=None)`` takes
every parameter of :class:`bprop.MLPClassifier` (by keyword) plus ``client`` (None: the
current Dask client, as xgboost.dask and LightGBM's Dask estimators do). ``fit`` takes

- dask arrays ``X`` (chunked by rows) and ``y`` (the same row chunks), optional
  ``sample_weight``;
- a dask DataFrame ``X`` with ``y`` a dask Series or the name of its target column;
  string, categorical and boolean columns are encoded by a ColumnTransformer fitted by
  streaming over the partitions (numeric: mean imputation and standardisation;
  categorical: most-frequent imputation and one-hot, unknown categories ignored), which
  the workers apply to their partitions;
- the path of a Parquet file or directory (``dask.dataframe.read_parquet``) with ``y``
  the target column's name;
- a :class:`bprop.dask.DaskData`.

Training runs through :class:`bprop.dask.DaskData`: full-batch solvers ('lbfgs', 'lm',
'rprop', 'irprop-', 'quickprop', ...) give the weights of a single-process run with the
same partitions bit for bit; 'sgd' and 'adam' run synchronous data-parallel mini-batches.
``predict`` / ``predict_proba`` return lazy dask arrays (one task per partition);
``to_local()`` returns the plain estimator (or, with encoded columns, a scikit-learn
Pipeline of the ColumnTransformer and the estimator); pickling drops the client; ``save``
writes the ordinary model file, which loads and predicts on a machine without Dask.

``MLPAutoencoder`` trains X -> code -> X on numeric rows (a dask array, a DataFrame of
numeric columns or a Parquet path of such a table; targets t = x, so no y); ``transform``
and ``inverse_transform`` are lazy like ``predict``.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from bprop.dask.data import DaskData, plain_strings
from bprop.sklearn import MLPAutoencoder as LocalMLPAutoencoder
from bprop.sklearn import MLPClassifier as LocalMLPClassifier
from bprop.sklearn import MLPRegressor as LocalMLPRegressor
from bprop.sklearn.persistence import save
from bprop.sklearn.streaming import fit_streaming
from bprop.sklearn.tabular import TableSpec, column_transformer

__all__ = ["MLPAutoencoder", "MLPClassifier", "MLPRegressor"]


def _dataframe_module():
    import dask.dataframe as dd

    return dd


def frame_encoding(frame: Any, features: list[str]) -> ColumnTransformer | None:
    """The encoding of a DataFrame's feature columns (the command line's, with imputation:
    :func:`bprop.sklearn.tabular.column_transformer`), or None when all are numeric."""
    categorical = [c for c in features if frame[c].dtype.kind not in "iuf"]
    if not categorical:
        return None
    numeric = [c for c in features if c not in categorical]
    spec = TableSpec(None, "", numeric, categorical, impute=True)
    return column_transformer(spec)


class _DaskMixin:
    """What the Dask estimators add to the local ones: inputs, lazy outputs, to_local."""

    _local_class: type

    def _dask_data(self, X: Any, y: Any, sample_weight: Any) -> DaskData:
        if isinstance(X, DaskData):  # described already (its transform is its own)
            if y is not None or sample_weight is not None:
                raise ValueError("a DaskData holds its own targets and weights; pass y=None")
            self.preprocessor_ = None
            return X
        dd = _dataframe_module()
        if isinstance(X, str | os.PathLike):
            if not isinstance(y, str):
                raise ValueError("with a Parquet path, y must name the target column")
            X = dd.read_parquet(os.fspath(X))
        self.preprocessor_ = None
        if isinstance(X, dd.DataFrame):
            X = plain_strings(X)
            if isinstance(y, str):
                if y not in X.columns:
                    raise ValueError(f"target column {y!r} not in the data's columns")
                X, y = X.drop(columns=[y]), X[y]
            self.preprocessor_ = self._fit_preprocessor(X)
        return DaskData(X, y, sample_weight, client=self.client, transform=self.preprocessor_)

    def _fit_preprocessor(self, frame: Any) -> ColumnTransformer | None:
        features = [str(c) for c in frame.columns]
        pre = frame_encoding(frame, features)
        if pre is None:
            return None

        def frames():
            for q in range(frame.npartitions):
                yield frame.get_partition(q).compute()

        return fit_streaming(pre, frames)

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None, *, checkpoint: Any = None):
        """Train on the cluster's partitions (see the module docstring); ``checkpoint``
        resumes a checkpointed run (taken on a cluster or locally on the same rows)."""
        return super().fit(self._dask_data(X, y, sample_weight), checkpoint=checkpoint)

    # -------------------------------------------------------------- outputs
    def _lazy(self, X: Any, method: str) -> Any:
        """``method`` of the local model on each partition, as a lazy dask array."""
        import dask.array as da

        local = self.to_local()
        fn = getattr(local, method)
        dd = _dataframe_module()
        if isinstance(X, str | os.PathLike):
            X = dd.read_parquet(os.fspath(X))
        if isinstance(X, dd.DataFrame):
            X = plain_strings(X)
            parts = [
                da.from_delayed(
                    _call(fn, part),
                    shape=(np.nan, *self._output_shape(method)),
                    dtype=self._output_dtype(method),
                )
                for part in X.to_delayed()
            ]
            return da.concatenate(parts)
        if not isinstance(X, da.Array):
            raise ValueError(f"X must be a dask array or DataFrame, got {type(X).__name__}")
        X = X.rechunk({1: -1}) if X.ndim == 2 and X.numblocks[1] > 1 else X
        shape = self._output_shape(method)
        if shape:
            return X.map_blocks(fn, dtype=self._output_dtype(method), chunks=(X.chunks[0], shape))
        return X.map_blocks(fn, dtype=self._output_dtype(method), drop_axis=1)

    def _output_shape(self, method: str) -> tuple[int, ...]:
        if method == "predict_proba":
            return (len(self.classes_),)
        n = self.n_outputs_
        return () if n == 1 or method == "predict" and hasattr(self, "classes_") else (n,)

    def _output_dtype(self, method: str) -> Any:
        if method == "predict" and hasattr(self, "classes_"):
            return self.classes_.dtype
        return self.network_.dtype

    def predict(self, X: Any) -> Any:
        """Predictions, lazily: a dask array computed partition by partition."""
        return self._lazy(X, "predict")

    # -------------------------------------------------------------- the plain estimator
    def to_local(self) -> Any:
        """The same fitted model as a plain bprop estimator (no Dask needed to use it); a
        scikit-learn Pipeline when the columns were encoded."""
        params = {k: v for k, v in self.get_params(deep=False).items() if k != "client"}
        local = self._local_class(**params)
        for key, value in vars(self).items():
            if key.endswith("_") and not key.startswith("__") and key != "preprocessor_":
                setattr(local, key, value)
            elif key == "_label_binarizer":
                local._label_binarizer = value
        local._link_attributes()
        if getattr(self, "preprocessor_", None) is not None:
            return Pipeline([("columns", self.preprocessor_), ("mlp", local)])
        return local

    def save(self, path: Any) -> None:
        """Write the model file of :meth:`to_local` (readable without Dask)."""
        save(self.to_local(), path)

    def __sklearn_clone__(self) -> Any:
        """An unfitted copy with the same parameters, sharing the client (a client cannot
        be deep-copied)."""
        params = self.get_params(deep=False)
        client = params.pop("client")
        return type(self)(client=client, **{k: clone(v, safe=False) for k, v in params.items()})

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["client"] = None  # a client does not travel
        return state


def _call(fn: Any, part: Any) -> Any:
    import dask

    return dask.delayed(fn, pure=True)(part)


def _signature_with_client(cls: type) -> inspect.Signature:
    sig = inspect.signature(cls.__init__)
    client = inspect.Parameter("client", inspect.Parameter.KEYWORD_ONLY, default=None)
    return sig.replace(parameters=[*sig.parameters.values(), client])


class MLPClassifier(_DaskMixin, LocalMLPClassifier):
    """:class:`bprop.MLPClassifier` on a Dask cluster (parameters by keyword, plus
    ``client``)."""

    _local_class = LocalMLPClassifier

    def __init__(self, *, client: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.client = client

    __init__.__signature__ = _signature_with_client(LocalMLPClassifier)  # type: ignore[attr-defined]

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, lazily (one task per partition)."""
        return self._lazy(X, "predict_proba")


class MLPRegressor(_DaskMixin, LocalMLPRegressor):
    """:class:`bprop.MLPRegressor` on a Dask cluster (parameters by keyword, plus
    ``client``)."""

    _local_class = LocalMLPRegressor

    def __init__(self, *, client: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.client = client

    __init__.__signature__ = _signature_with_client(LocalMLPRegressor)  # type: ignore[attr-defined]


class MLPAutoencoder(_DaskMixin, LocalMLPAutoencoder):
    """:class:`bprop.MLPAutoencoder` on a Dask cluster (parameters by keyword, plus
    ``client``): the targets are the inputs, t_p = x_p."""

    _local_class = LocalMLPAutoencoder

    def __init__(self, *, client: Any = None, **params: Any) -> None:
        super().__init__(**params)
        self.client = client

    __init__.__signature__ = _signature_with_client(LocalMLPAutoencoder)  # type: ignore[attr-defined]

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None):
        """Train the network to reproduce X (numeric rows on the cluster; y must be None)."""
        if y is not None:
            raise ValueError("an autoencoder's targets are its inputs; pass y=None")
        rows = _numeric_rows(X)
        self.preprocessor_ = None
        return LocalMLPAutoencoder.fit(
            self, DaskData(rows, rows, sample_weight, client=self.client)
        )

    def transform(self, X: Any) -> Any:
        """The code layer's outputs, lazily (one task per partition)."""
        return self._lazy(_numeric_rows(X), "transform")

    def inverse_transform(self, X: Any) -> Any:
        """The reconstructions from codes, lazily (one task per partition)."""
        return self._lazy(_numeric_rows(X), "inverse_transform")

    def _output_shape(self, method: str) -> tuple[int, ...]:
        if method == "transform":
            return (self.n_components_,)
        return (self.n_features_in_,)


def _numeric_rows(X: Any) -> Any:
    """X as a dask array of rows: a dask array as it is, a DataFrame (or a Parquet path) of
    numeric columns converted, anything else a clear error."""
    import dask.array as da

    dd = _dataframe_module()
    if isinstance(X, str | os.PathLike):
        X = dd.read_parquet(os.fspath(X))
    if isinstance(X, dd.DataFrame):
        bad = [str(c) for c in X.columns if X[c].dtype.kind not in "biuf"]
        if bad:
            raise ValueError(
                f"column(s) {bad} are not numeric: an autoencoder reproduces numeric inputs; "
                "encode or drop them first"
            )
        return X.to_dask_array(lengths=True).astype(float)
    if not isinstance(X, da.Array):
        raise ValueError(f"X must be a dask array or DataFrame, got {type(X).__name__}")
    return X
