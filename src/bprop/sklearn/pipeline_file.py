"""Fitted scikit-learn pipelines in bprop model files (kind "pipeline"), without pickle.

The file holds the final bprop estimator as an estimator file does (its network as the
``layers.*`` tensors, its history, ``estimator.*`` tensors and the ``estimator`` record)
and, in the metadata key ``pipeline``, a tree of nodes ``{"type": T, ...}`` for the steps
before it, T from an explicit allow-list:

=========================== ============================================================
type                        stored
=========================== ============================================================
Pipeline                    ``steps``: [[name, node], ...]
ColumnTransformer           ``transformers``: [[name, node, [column names]], ...],
                            ``feature_names_in``, ``sparse_threshold``,
                            ``verbose_feature_names_out`` (remainder 'drop')
StandardScaler              ``with_mean``, ``with_std``, ``n_samples_seen``; tensors
                            ``mean``, ``var``, ``scale`` (float64, one per column)
SimpleImputer               ``strategy`` (mean, median, most_frequent), ``statistics``
                            (one per column: numbers, strings or booleans)
OneHotEncoder               ``handle_unknown`` (ignore, error), ``dtype`` (float32, float64),
                            ``categories``: one sorted list per column
TransformedTargetRegressor  ``transformer`` (a StandardScaler node), ``regressor``
bprop estimator             ``{"type": "estimator"}``: the file's estimator record
=========================== ============================================================

Loading rebuilds each step from these numbers only: a ColumnTransformer is fitted on a
synthetic table that has exactly the stored columns and categories (so that all of
scikit-learn's own bookkeeping is its own), then the stored statistics replace the
synthetic ones. Everything is validated first (types from the allow-list only, keys,
sizes, shapes, finite numbers); every failure is a ModelFileError naming the file.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from bprop.files import ModelFileError
from bprop.sklearn.classifier import MLPClassifier
from bprop.sklearn.estimator_file import write_estimator_file
from bprop.sklearn.pipeline_nodes import BadPipelineError, PipelineLoader, need
from bprop.sklearn.regressor import MLPRegressor
from bprop.training.model_file import ModelFile

__all__ = ["load_pipeline", "save_pipeline"]


# ---------------------------------------------------------------------------- saving
def save_pipeline(
    pipeline: Pipeline, path: str | os.PathLike, extra: dict[str, Any] | None = None
) -> None:
    """Write a fitted pipeline that ends in a bprop MLPClassifier or MLPRegressor
    (optionally inside a TransformedTargetRegressor); ``extra`` adds metadata keys."""
    if not isinstance(pipeline, Pipeline):
        raise ValueError(f"expected a scikit-learn Pipeline, got {type(pipeline).__name__}")
    check_is_fitted(pipeline)
    tensors: dict[str, np.ndarray] = {}
    mlp: list[Any] = []
    spec = _encode(pipeline, tensors, mlp, "pipeline")
    if len(mlp) != 1 or not isinstance(
        pipeline.steps[-1][1], type(mlp[0]) | TransformedTargetRegressor
    ):
        raise ValueError("the pipeline must end in one bprop MLPClassifier or MLPRegressor")
    write_estimator_file(path, mlp[0], "pipeline", tensors, {"pipeline": spec, **(extra or {})})


def _tensor(tensors: dict[str, np.ndarray], value: Any) -> str:
    key = f"pipeline.{len([k for k in tensors if k.startswith('pipeline.')])}"
    tensors[key] = np.ascontiguousarray(value, dtype=np.float64)
    return key


def _scalar(v: Any, what: str) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool | str) or (isinstance(v, int | float) and math.isfinite(v)):
        return v
    raise ValueError(f"cannot save {what} {v!r}: only strings, booleans and finite numbers")


def _encode(obj: Any, tensors: dict, mlp: list, what: str) -> dict[str, Any]:
    name = type(obj).__name__
    if isinstance(obj, MLPClassifier | MLPRegressor):
        mlp.append(obj)
        return {"type": "estimator"}
    if type(obj) is Pipeline:
        if obj.memory is not None:
            raise ValueError(f"cannot save {what}: a Pipeline with memory")
        return {
            "type": name,
            "steps": [[n, _encode(s, tensors, mlp, f"step {n!r}")] for n, s in obj.steps],
        }
    if type(obj) is ColumnTransformer:
        if obj.remainder != "drop" or obj.transformer_weights is not None:
            raise ValueError(f"cannot save {what}: only remainder='drop', no weights")
        transformers = []
        for n, t, cols in obj.transformers_:
            if t == "drop" or (n == "remainder" and isinstance(t, str)):
                continue
            if isinstance(t, str) or not all(isinstance(c, str) for c in cols):
                raise ValueError(
                    f"cannot save {what}: transformer {n!r} must select columns by name"
                )
            transformers.append([n, _encode(t, tensors, mlp, f"transformer {n!r}"), list(cols)])
        return {
            "type": name,
            "transformers": transformers,
            "feature_names_in": [str(c) for c in obj.feature_names_in_],
            "sparse_threshold": float(obj.sparse_threshold),
            "verbose_feature_names_out": bool(obj.verbose_feature_names_out),
        }
    if type(obj) is StandardScaler:
        n = int(np.asarray(obj.n_samples_seen_).max())
        scale = obj.scale_ if obj.scale_ is not None else np.ones_like(obj.mean_)
        var = obj.var_ if obj.var_ is not None else np.zeros_like(obj.mean_)
        mean = obj.mean_ if obj.mean_ is not None else np.zeros(obj.n_features_in_)
        return {
            "type": name,
            "with_mean": bool(obj.with_mean),
            "with_std": bool(obj.with_std),
            "n_samples_seen": n,
            "mean": _tensor(tensors, mean),
            "var": _tensor(tensors, var),
            "scale": _tensor(tensors, scale),
        }
    if type(obj) is SimpleImputer:
        if obj.strategy not in ("mean", "median", "most_frequent") or obj.add_indicator:
            raise ValueError(f"cannot save {what}: SimpleImputer strategy {obj.strategy!r}")
        if not (isinstance(obj.missing_values, float) and math.isnan(obj.missing_values)):
            raise ValueError(f"cannot save {what}: SimpleImputer missing_values must be NaN")
        stats = [_scalar(v, f"{what} statistic") for v in obj.statistics_]
        return {"type": name, "strategy": obj.strategy, "statistics": stats}
    if type(obj) is OneHotEncoder:
        if obj.drop is not None or obj.min_frequency is not None or obj.max_categories:
            raise ValueError(
                f"cannot save {what}: OneHotEncoder with drop or infrequent categories"
            )
        if obj.sparse_output or obj.handle_unknown not in ("ignore", "error"):
            raise ValueError(
                f"cannot save {what}: OneHotEncoder must be dense, unknown ignore/error"
            )
        dtype = np.dtype(obj.dtype).name
        if dtype not in ("float32", "float64"):
            raise ValueError(f"cannot save {what}: OneHotEncoder dtype {dtype}")
        cats = [[_scalar(v, f"{what} category") for v in c] for c in obj.categories_]
        return {
            "type": name,
            "handle_unknown": obj.handle_unknown,
            "dtype": dtype,
            "categories": cats,
        }
    if type(obj) is TransformedTargetRegressor:
        if obj.func is not None or obj.inverse_func is not None:
            raise ValueError(f"cannot save {what}: a TransformedTargetRegressor with functions")
        if not isinstance(obj.regressor_, MLPRegressor) or getattr(obj, "_training_dim", 1) != 1:
            raise ValueError(f"cannot save {what}: it must wrap one bprop MLPRegressor (1 target)")
        return {
            "type": name,
            "transformer": _encode(obj.transformer_, tensors, mlp, f"{what} transformer"),
            "regressor": _encode(obj.regressor_, tensors, mlp, f"{what} regressor"),
        }
    raise ValueError(f"cannot save {what}: {name} is not among the types a bprop file may hold")


def load_pipeline(mf: ModelFile, path: str) -> Pipeline:
    """The fitted Pipeline of a validated model file of kind "pipeline"."""
    import pandas as pd

    _check_extras(mf.metadata, str(path))
    loader = PipelineLoader(mf, str(path))
    spec = mf.metadata.get("pipeline")
    try:
        need(
            isinstance(spec, dict) and spec.get("type") == "Pipeline",
            "the top node must be a Pipeline",
        )
        steps, finish = loader.node(spec, 0, 0, "pipeline", final=True)
        need(
            loader.estimator is not None and len(steps) >= 2,
            "the pipeline needs preprocessing and an estimator",
        )
        need(loader.used == set(loader.tensors), "unused pipeline tensors")
        pre = steps[:-1]
        first = pre[0][1]
        need(isinstance(first, ColumnTransformer), "the first step must be a ColumnTransformer")
        table = pd.DataFrame(first._bprop_synthetic)
        del first._bprop_synthetic
        prefix = Pipeline(pre).fit(table)
        finish(prefix)
        width = prefix.transform(table).shape[1]
        est = loader.estimator
        need(
            width == est.network_.n_inputs == getattr(est, "n_features_in_", -1),
            f"the preprocessing gives {width} columns but the network takes "
            f"{est.network_.n_inputs}",
        )
    except BadPipelineError as exc:
        raise ModelFileError(path, f"bad pipeline ({exc})") from None
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"bad pipeline ({exc})") from None
    return Pipeline([*prefix.steps, steps[-1]])


def _check_extras(meta: dict[str, Any], path: str) -> None:
    """The optional keys ``bprop train`` adds: ``table`` (target, task, dropped columns),
    ``training`` and ``metrics`` (JSON objects)."""
    table = meta.get("table")
    if table is not None:
        ok = isinstance(table, dict) and set(table) == {"target", "task", "dropped"}
        ok = ok and (table["target"] is None or isinstance(table["target"], str))
        ok = ok and table["task"] in ("classification", "regression")
        dropped = table.get("dropped") if isinstance(table, dict) else None
        ok = ok and isinstance(dropped, list) and all(isinstance(c, str) for c in dropped)
        if not ok:
            raise ModelFileError(path, "bad table entry (target, task, dropped columns)")
    for key in ("training", "metrics"):
        if key in meta and not isinstance(meta[key], dict):
            raise ModelFileError(path, f"{key} must be a JSON object")
