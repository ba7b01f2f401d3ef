"""Rebuilding the steps of a stored pipeline, node by node, after validating each
(see :mod:`bprop.sklearn.pipeline_file` for the format)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from bprop.sklearn.classifier import MLPClassifier
from bprop.sklearn.estimator_file import estimator_from_record
from bprop.sklearn.regressor import MLPRegressor
from bprop.training.model_file import ModelFile

__all__ = ["MAX_CATEGORIES", "MAX_COLUMNS", "BadPipelineError", "PipelineLoader", "need"]

#: bounds on what a file may describe
MAX_COLUMNS = 100_000
MAX_CATEGORIES = 1_000_000
MAX_DEPTH = 8
_ESTIMATORS = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}
_NAME_LEN = 1000


class BadPipelineError(ValueError):
    """A pipeline description that does not validate (the loader turns it into a
    ModelFileError naming the file)."""


def need(cond: bool, message: str) -> None:
    if not cond:
        raise BadPipelineError(message)


def _keys(node: Any, keys: set[str]) -> dict[str, Any]:
    need(
        isinstance(node, dict) and set(node) == keys,
        f"a {node.get('type') if isinstance(node, dict) else 'bad'} node needs exactly the "
        f"keys {sorted(keys)}",
    )
    return node


def _is_value(v: Any) -> bool:
    return (
        isinstance(v, bool | str)
        and (not isinstance(v, str) or len(v) <= _NAME_LEN)
        or (isinstance(v, int | float) and math.isfinite(v))
    )


def _names(v: Any, what: str) -> list[str]:
    need(isinstance(v, list) and 0 < len(v) <= MAX_COLUMNS, f"bad {what}")
    need(all(isinstance(c, str) and 0 < len(c) <= _NAME_LEN for c in v), f"bad {what}")
    need(len(set(v)) == len(v), f"duplicate {what}")
    return v


class PipelineLoader:
    """Rebuilds a validated node tree; ``width`` is the number of output columns."""

    def __init__(self, mf: ModelFile, path: str) -> None:
        self.mf, self.path = mf, path
        self.tensors = {k: v for k, v in mf.extra_tensors.items() if k.startswith("pipeline.")}
        self.used: set[str] = set()
        self.n_categories = 0
        self.estimator: Any = None

    def array(self, key: Any, n: int, what: str, positive: bool = False) -> np.ndarray:
        need(
            isinstance(key, str) and key in self.tensors and key not in self.used,
            f"bad {what} tensor",
        )
        self.used.add(key)
        a = self.tensors[key]
        need(
            a.dtype == np.float64 and a.shape == (n,),
            f"{what} has shape {a.shape}, expected ({n},)",
        )
        need(bool(np.all(np.isfinite(a))), f"{what} is not finite")
        need(bool(np.all(a > 0 if positive else a >= 0)) or what.endswith("mean"), f"bad {what}")
        return a.copy()

    # each node: (unfitted estimator for the synthetic fit, finisher, output width)
    def node(self, node: Any, n_in: int, depth: int, what: str, final: bool = False):
        need(depth <= MAX_DEPTH and isinstance(node, dict), f"bad {what}")
        kind = node.get("type")
        if kind == "estimator":
            need(final and self.estimator is None, f"{what}: an estimator must be the last step")
            self.estimator = estimator_from_record(
                self.mf, self.mf.metadata.get("estimator"), self.path, _ESTIMATORS
            )
            return self.estimator
        if kind == "TransformedTargetRegressor":
            _keys(node, {"type", "transformer", "regressor"})
            need(final, f"{what}: a TransformedTargetRegressor must be the last step")
            est = self.node(node["regressor"], n_in, depth + 1, what, final=True)
            need(isinstance(est, MLPRegressor), f"{what}: the regressor must be an MLPRegressor")
            t = node["transformer"]
            need(
                isinstance(t, dict) and t.get("type") == "StandardScaler",
                f"{what}: bad transformer",
            )
            scaler, finish, _ = self.node(t, 1, depth + 1, what)
            scaler.fit(np.zeros((2, 1)))
            finish(scaler)
            ttr = TransformedTargetRegressor(
                regressor=MLPRegressor(**est.get_params()), transformer=StandardScaler()
            )
            ttr.regressor_, ttr.transformer_, ttr._training_dim = est, scaler, 1
            return ttr
        if kind == "Pipeline":
            _keys(node, {"type", "steps"})
            steps = node["steps"]
            need(isinstance(steps, list) and 0 < len(steps) <= 16, f"{what}: bad steps")
            need(
                all(isinstance(s, list) and len(s) == 2 and isinstance(s[0], str) for s in steps),
                f"{what}: bad steps",
            )
            _names([s[0] for s in steps], f"{what} step names")
            built, finishers, width = [], [], n_in
            for i, (name, sub) in enumerate(steps):
                last = final and i == len(steps) - 1
                got = self.node(sub, width, depth + 1, f"step {name!r}", final=last)
                if last:
                    built.append((name, got))
                    break
                est, finish, width = got
                built.append((name, est))
                finishers.append(finish)

            def finish_pipeline(fitted: Pipeline) -> None:
                for f, (_, step) in zip(finishers, fitted.steps, strict=False):
                    f(step)

            finish_pipeline.parts = finishers  # type: ignore[attr-defined]
            if final:
                return built, finish_pipeline
            return Pipeline(built), finish_pipeline, width
        if kind == "ColumnTransformer":
            return self.columns(node, depth, what)
        if kind == "StandardScaler":
            _keys(node, {"type", "with_mean", "with_std", "n_samples_seen", "mean", "var", "scale"})
            n = node["n_samples_seen"]
            need(
                isinstance(n, int) and not isinstance(n, bool) and n >= 1,
                f"{what}: bad n_samples_seen",
            )
            need(
                isinstance(node["with_mean"], bool) and isinstance(node["with_std"], bool),
                f"{what}: bad flags",
            )
            mean = self.array(node["mean"], n_in, f"{what} mean")
            var = self.array(node["var"], n_in, f"{what} variance")
            scale = self.array(node["scale"], n_in, f"{what} scale", positive=True)

            def finish_scaler(s: StandardScaler) -> None:
                s.mean_ = mean if node["with_mean"] else None
                s.var_, s.scale_ = (var, scale) if node["with_std"] else (None, None)
                s.n_samples_seen_ = n

            return (
                StandardScaler(with_mean=node["with_mean"], with_std=node["with_std"]),
                finish_scaler,
                n_in,
            )
        if kind == "SimpleImputer":
            _keys(node, {"type", "strategy", "statistics"})
            need(node["strategy"] in ("mean", "median", "most_frequent"), f"{what}: bad strategy")
            stats = node["statistics"]
            need(
                isinstance(stats, list) and len(stats) == n_in and all(map(_is_value, stats)),
                f"{what}: bad statistics",
            )
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in stats)
            need(numeric or node["strategy"] == "most_frequent", f"{what}: non-numeric statistics")
            values = np.array(stats, dtype=np.float64 if numeric else object)

            def finish_imputer(s: SimpleImputer) -> None:
                s.statistics_ = values.copy()

            return SimpleImputer(strategy=node["strategy"]), finish_imputer, n_in
        if kind == "OneHotEncoder":
            _keys(node, {"type", "handle_unknown", "dtype", "categories"})
            need(node["handle_unknown"] in ("ignore", "error"), f"{what}: bad handle_unknown")
            need(node["dtype"] in ("float32", "float64"), f"{what}: bad dtype")
            cats = node["categories"]
            need(
                isinstance(cats, list) and len(cats) == n_in,
                f"{what}: {n_in} columns need categories",
            )
            arrays = []
            for c in cats:
                need(
                    isinstance(c, list) and len(c) > 0 and all(map(_is_value, c)),
                    f"{what}: bad categories",
                )
                kinds = {
                    type(v) if not isinstance(v, int | float) or isinstance(v, bool) else float
                    for v in c
                }
                need(len(kinds) == 1, f"{what}: categories of mixed types")
                a = np.array(c, dtype=object if str in kinds else None)
                need(
                    len(set(c)) == len(c) and list(np.sort(a)) == list(a),
                    f"{what}: categories must be unique and sorted",
                )
                arrays.append(a)
            self.n_categories += sum(len(a) for a in arrays)
            need(self.n_categories <= MAX_CATEGORIES, f"{what}: too many categories")
            enc = OneHotEncoder(
                handle_unknown=node["handle_unknown"],
                sparse_output=False,
                dtype=np.dtype(node["dtype"]).type,
                categories=arrays,
            )

            def finish_encoder(e: OneHotEncoder) -> None:
                e.set_params(categories="auto")

            finish_encoder.categories = arrays  # type: ignore[attr-defined]
            return enc, finish_encoder, sum(len(a) for a in arrays)
        raise BadPipelineError(f"{what}: type {kind!r} is not among the types a file may hold")

    def columns(self, node: dict, depth: int, what: str):
        _keys(
            node,
            {
                "type",
                "transformers",
                "feature_names_in",
                "sparse_threshold",
                "verbose_feature_names_out",
            },
        )
        names = _names(node["feature_names_in"], "feature_names_in")
        need(
            isinstance(node["sparse_threshold"], int | float)
            and 0 <= node["sparse_threshold"] <= 1,
            "bad sparse_threshold",
        )
        need(isinstance(node["verbose_feature_names_out"], bool), "bad verbose_feature_names_out")
        items = node["transformers"]
        need(isinstance(items, list) and 0 < len(items) <= 64, f"{what}: bad transformers")
        pools: dict[str, np.ndarray] = {}
        built, finishers, width = [], [], 0
        for item in items:
            need(
                isinstance(item, list) and len(item) == 3 and isinstance(item[0], str),
                f"{what}: bad transformer",
            )
            name, sub, cols = item
            cols = _names(cols, f"columns of {name!r}")
            need(set(cols) <= set(names), f"{what}: {name!r} uses columns not in the table")
            est, finish, w = self.node(sub, len(cols), depth + 1, f"transformer {name!r}")
            width += w
            for f in _finishers_of(finish):
                for c, a in zip(cols, getattr(f, "categories", []), strict=False):
                    pools[c] = a
            built.append((name, est, cols))
            finishers.append(finish)
        # dropped columns (a remainder) play no part; the unused synthetic values are zeros
        n_rows = max([1, *(len(a) for a in pools.values())])
        table = {c: np.resize(pools[c], n_rows) if c in pools else np.zeros(n_rows) for c in names}
        ct = ColumnTransformer(
            built,
            remainder="drop",
            sparse_threshold=float(node["sparse_threshold"]),
            verbose_feature_names_out=node["verbose_feature_names_out"],
        )
        ct._bprop_synthetic = table  # type: ignore[attr-defined]

        def finish_columns(fitted: ColumnTransformer) -> None:
            fitted_steps = [t for n, t, _ in fitted.transformers_ if n != "remainder"]
            for f, step in zip(finishers, fitted_steps, strict=True):
                f(step)
            for _, est, _ in fitted.transformers:
                if isinstance(est, OneHotEncoder):
                    est.set_params(categories="auto")
                elif isinstance(est, Pipeline):
                    for _, s in est.steps:
                        if isinstance(s, OneHotEncoder):
                            s.set_params(categories="auto")

        return ct, finish_columns, width


def _finishers_of(finish: Any) -> list[Any]:
    return [finish, *getattr(finish, "parts", [])]
