"""Tabular data files (CSV, Parquet) and the preprocessing a model carries with it.

The preprocessing is fitted on the training rows and stored in the model file, so that
``bprop predict`` applies exactly the same transformation to a raw file:

- numeric column c:      z = (x - mean_c) / scale_c, mean and scale (population standard
  deviation, ddof = 0; 1 for a constant column) of the training rows, as scikit-learn's
  StandardScaler;
- categorical column c (strings, booleans, or a column named with ``categorical``): one
  input per category seen in training, 1 for the row's category and 0 for the others
  (scikit-learn's OneHotEncoder with handle_unknown='error'); categories are compared as
  strings, in sorted order;
- missing cells: an error, or with ``impute`` the training mean (numeric) or the most
  frequent category (categorical), stored and reused at prediction;
- the target: class labels (classification, labels sorted as ``np.unique`` sorts them)
  or a number standardised like a numeric column (regression; predictions are mapped
  back with y = z scale + mean).

Every problem with a file or its content is a :class:`DataError` (a ValueError) whose
message says what is wrong and what to do.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bprop.files import ModelFileError, atomic_write
from bprop.training.model_file import write_model_file

__all__ = [
    "ColumnSpec",
    "DataError",
    "Preprocessing",
    "TabularModel",
    "infer_task",
    "read_table",
    "write_table",
]

TASKS = ("classification", "regression")
_CSV = (".csv", ".tsv", ".txt")
_PARQUET = (".parquet", ".pq")
#: an integer target with at most this many distinct values is taken as class labels
MAX_INTEGER_CLASSES = 20


class DataError(ValueError):
    """A data file that cannot be read, or whose content does not fit the model."""


def _pandas():
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - the 'files' extra
        raise DataError("reading data files needs pandas: pip install 'bprop[files]'") from None
    return pd


# ---------------------------------------------------------------------------- files
def read_table(path: str | os.PathLike):
    """A pandas DataFrame from a CSV (.csv, .tsv, .txt) or Parquet (.parquet, .pq) file."""
    pd = _pandas()
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in _CSV + _PARQUET:
        raise DataError(
            f"{path}: unknown data format {suffix or '(no extension)'!r}; "
            "give a .csv or .parquet file"
        )
    if not p.exists():
        raise DataError(f"{path}: no such file")
    if p.is_dir():
        raise DataError(f"{path}: is a directory, not a data file")
    try:
        if p.stat().st_size == 0:
            raise DataError(f"{path}: the file is empty")
        if suffix in _PARQUET:
            df = pd.read_parquet(p)
        else:
            df = pd.read_csv(p, sep="\t" if suffix == ".tsv" else ",")
    except DataError:
        raise
    except PermissionError:
        raise DataError(f"{path}: permission denied; check the file's permissions") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except Exception as exc:  # pandas/pyarrow parser errors have many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: not a readable {suffix[1:]} file ({first})") from None
    if df.shape[1] == 0:
        raise DataError(f"{path}: no columns found")
    if df.shape[0] == 0:
        raise DataError(f"{path}: no data rows (only a header)")
    df.columns = [str(c) for c in df.columns]
    if len(set(df.columns)) != len(df.columns):
        raise DataError(f"{path}: duplicate column names")
    return df


def write_table(df, path: str | os.PathLike) -> None:
    """Write a DataFrame as CSV or Parquet (by extension), atomically."""
    suffix = Path(path).suffix.lower()
    if suffix in _PARQUET:
        with atomic_write(path, "wb") as fh:
            df.to_parquet(fh, index=False)
    elif suffix in _CSV:
        with atomic_write(path, "w") as fh:
            df.to_csv(fh, index=False, sep="\t" if suffix == ".tsv" else ",")
    else:
        raise DataError(f"{path}: unknown output format {suffix!r}; use .csv or .parquet")


# ---------------------------------------------------------------------------- columns
def _is_numeric_dtype(series) -> bool:
    return series.dtype.kind in "iuf"


def _rows(mask) -> str:
    idx = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(i + 1) for i in idx[:5])
    return f"row{'s' if len(idx) > 1 else ''} {shown}{', ...' if len(idx) > 5 else ''}"


def _to_numeric(series, name: str):
    """A float column; non-numeric cells are a DataError naming the row and value."""
    pd = _pandas()
    if series.dtype.kind == "b" or _is_numeric_dtype(series):
        return np.array(series.to_numpy(dtype=float), dtype=float)  # a writable copy
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna()
    if bad.any():
        first = series[bad].iloc[0]
        raise DataError(
            f"column {name!r} is numeric but has non-numeric cells ({_rows(bad)}, e.g. "
            f"{first!r}); fix them, or treat the column as categorical (--categorical {name})"
        )
    return np.array(values.to_numpy(dtype=float), dtype=float)


def _category_strings(series) -> np.ndarray:
    """Cells of a categorical column as strings; 2.0 and 2 are both '2' (a column of
    integer codes reads as floats when it has empty cells). Empty cells become None."""

    def text(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return np.array([text(v) for v in series.tolist()], dtype=object)


def _looks_numeric(series) -> bool:
    """An object column whose non-empty cells are mostly numbers (a numeric column with typos)."""
    pd = _pandas()
    cells = series.dropna()
    if len(cells) == 0:
        return False
    parsed = pd.to_numeric(cells, errors="coerce")
    return bool(parsed.notna().mean() >= 0.5)


@dataclass
class ColumnSpec:
    """How one input column becomes network inputs."""

    name: str
    kind: str  # "numeric" or "categorical"
    mean: float = 0.0
    scale: float = 1.0
    categories: list[str] = field(default_factory=list)
    fill: float | str | None = None  # imputation value, None without imputation

    @property
    def width(self) -> int:
        return 1 if self.kind == "numeric" else len(self.categories)

    def input_names(self) -> list[str]:
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}={c}" for c in self.categories]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "fill": self.fill}
        if self.kind == "numeric":
            d.update(mean=self.mean, scale=self.scale)
        else:
            d["categories"] = list(self.categories)
        return d

    @classmethod
    def from_dict(cls, d: object) -> ColumnSpec:
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            raise ValueError(f"bad column entry {d!r}")
        kind = d.get("kind")
        if kind == "numeric":
            _expect_keys(d, {"name", "kind", "fill", "mean", "scale"})
            mean, scale, fill = d["mean"], d["scale"], d["fill"]
            if not (_finite(mean) and _finite(scale) and scale > 0):
                raise ValueError(f"column {d['name']!r}: bad mean/scale {mean!r}/{scale!r}")
            if fill is not None and not _finite(fill):
                raise ValueError(f"column {d['name']!r}: bad fill value {fill!r}")
            return cls(d["name"], kind, float(mean), float(scale), [], fill)
        if kind == "categorical":
            _expect_keys(d, {"name", "kind", "fill", "categories"})
            cats, fill = d["categories"], d["fill"]
            if (
                not isinstance(cats, list)
                or not cats
                or not all(isinstance(c, str) for c in cats)
                or len(set(cats)) != len(cats)
            ):
                raise ValueError(f"column {d['name']!r}: bad categories {cats!r}")
            if fill is not None and fill not in cats:
                raise ValueError(f"column {d['name']!r}: fill value {fill!r} is not a category")
            return cls(d["name"], kind, categories=list(cats), fill=fill)
        raise ValueError(f"column {d.get('name')!r}: unknown kind {kind!r}")


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _expect_keys(d: dict, keys: set[str]) -> None:
    if set(d) != keys:
        raise ValueError(f"entry {d.get('name')!r} has keys {sorted(d)}, expected {sorted(keys)}")


def infer_task(series) -> str:
    """'classification' for string, boolean or categorical targets and integers with at
    most 20 distinct values; 'regression' for other numbers."""
    if series.dtype.kind in "fc":
        return "regression"
    if series.dtype.kind in "iu":
        return "classification" if series.nunique() <= MAX_INTEGER_CLASSES else "regression"
    return "classification"


def _label(value: Any) -> Any:
    """A class label as a JSON scalar (numpy scalars become Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------------- preprocessing
@dataclass
class Preprocessing:
    """Feature columns, their transformation, and the target's coding."""

    columns: list[ColumnSpec]
    target: str
    task: str
    classes: list[Any] | None = None
    target_mean: float = 0.0
    target_scale: float = 1.0
    dropped: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        df,
        target: str,
        *,
        task: str | None = None,
        impute: bool = False,
        categorical: tuple[str, ...] = (),
        drop: tuple[str, ...] = (),
    ) -> Preprocessing:
        """Learn the preprocessing from the training rows of ``df``."""
        if target not in df.columns:
            raise DataError(
                f"target column {target!r} not found; the columns are: {', '.join(df.columns)}"
            )
        for name in (*categorical, *drop):
            if name not in df.columns:
                raise DataError(
                    f"column {name!r} not found; the columns are: {', '.join(df.columns)}"
                )
        y = df[target]
        if y.isna().any():
            raise DataError(
                f"target column {target!r} has empty cells ({_rows(y.isna())}); remove those rows"
            )
        if task is None:
            task = infer_task(y)
        if task not in TASKS:
            raise DataError(f"task must be 'classification' or 'regression', got {task!r}")
        features = [c for c in df.columns if c != target and c not in drop]
        if not features:
            raise DataError("no feature columns left besides the target")
        columns = []
        for name in features:
            s = df[name]
            categorical_col = name in categorical or (
                not _is_numeric_dtype(s) and s.dtype.kind != "b" and not _looks_numeric(s)
            )
            missing = s.isna()
            if missing.all():
                raise DataError(f"column {name!r} has no values; drop it with --drop {name}")
            if missing.any() and not impute:
                raise DataError(
                    f"column {name!r} has empty cells ({_rows(missing)}); fill them, or "
                    "pass --impute to fill them with the training mean / most frequent value"
                )
            if categorical_col:
                values = _category_strings(s[~missing])
                cats, counts = np.unique(values.astype(str), return_counts=True)
                cats = cats.tolist()
                # the most frequent category (the first in sorted order on ties)
                fill = cats[int(np.argmax(counts))] if impute else None
                columns.append(ColumnSpec(name, "categorical", categories=cats, fill=fill))
            else:
                x = _to_numeric(s, name)
                x = x[~np.isnan(x)]
                if not np.all(np.isfinite(x)):
                    raise DataError(f"column {name!r} has infinite values")
                mean, std = float(x.mean()), float(x.std())
                columns.append(
                    ColumnSpec(
                        name,
                        "numeric",
                        mean,
                        std if std > 0 else 1.0,
                        fill=mean if impute else None,
                    )
                )
        pre = cls(columns, target, task, dropped=list(drop))
        if task == "classification":
            classes = np.unique(y.to_numpy())
            if len(classes) < 2:
                raise DataError(
                    f"target column {target!r} has a single class ({classes[0]!r}); "
                    "classification needs at least two"
                )
            pre.classes = [_label(c) for c in classes]
        else:
            t = _to_numeric(y, target)
            if not np.all(np.isfinite(t)):
                raise DataError(f"target column {target!r} has infinite values")
            std = float(t.std())
            pre.target_mean, pre.target_scale = float(t.mean()), std if std > 0 else 1.0
        return pre

    # ------------------------------------------------------------------ transforming
    @property
    def n_inputs(self) -> int:
        return sum(c.width for c in self.columns)

    @property
    def n_outputs(self) -> int:
        if self.task == "regression":
            return 1
        assert self.classes is not None
        return 1 if len(self.classes) == 2 else len(self.classes)

    def input_names(self) -> list[str]:
        return [n for c in self.columns for n in c.input_names()]

    def check_columns(self, df, *, need_target: bool = False) -> None:
        """Missing or unexpected columns are a DataError listing them."""
        names = [c.name for c in self.columns]
        missing = [n for n in names if n not in df.columns]
        if need_target and self.target not in df.columns:
            missing.append(self.target)
        if missing:
            raise DataError(
                f"missing column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(m) for m in missing)}; the model needs: {', '.join(names)}"
            )
        allowed = {*names, self.target, *self.dropped}
        extra = [c for c in df.columns if c not in allowed]
        if extra:
            raise DataError(
                f"unexpected column{'s' if len(extra) > 1 else ''} "
                f"{', '.join(repr(e) for e in extra)} (not in the training data); remove them"
            )

    def transform(self, df, dtype: object = np.float64) -> np.ndarray:
        """The network inputs for the rows of ``df`` (raw values, as in the training file)."""
        self.check_columns(df)
        n = len(df)
        X = np.empty((n, self.n_inputs), dtype=dtype)
        pos = 0
        for col in self.columns:
            s = df[col.name]
            missing = s.isna().to_numpy()
            if missing.any() and col.fill is None:
                raise DataError(
                    f"column {col.name!r} has empty cells ({_rows(missing)}); fill them "
                    "(the model was trained without --impute)"
                )
            if col.kind == "numeric":
                x = _to_numeric(s, col.name)
                if missing.any():
                    x[missing] = col.fill
                if not np.all(np.isfinite(x)):
                    raise DataError(f"column {col.name!r} has infinite values")
                X[:, pos] = (x - col.mean) / col.scale
            else:
                values = _category_strings(s)
                if missing.any():
                    values[missing] = col.fill
                index = {c: i for i, c in enumerate(col.categories)}
                codes = np.array([index.get(v, -1) for v in values], dtype=np.int64)
                if np.any(codes < 0):
                    unseen = sorted({v for v, c in zip(values, codes, strict=True) if c < 0})
                    raise DataError(
                        f"column {col.name!r} has categories not seen in training: "
                        f"{', '.join(repr(u) for u in unseen[:5])}; known: "
                        f"{', '.join(repr(c) for c in col.categories[:10])}"
                    )
                X[:, pos : pos + col.width] = 0
                X[np.arange(n), pos + codes] = 1
            pos += col.width
        return X

    def encode_target(self, df) -> np.ndarray:
        """Targets for the network: class indices, or the standardised number."""
        if self.target not in df.columns:
            raise DataError(f"target column {self.target!r} not found")
        y = df[self.target]
        if y.isna().any():
            raise DataError(
                f"target column {self.target!r} has empty cells ({_rows(y.isna())}); "
                "remove those rows"
            )
        if self.task == "regression":
            return (_to_numeric(y, self.target) - self.target_mean) / self.target_scale
        assert self.classes is not None
        index = {_key(c): i for i, c in enumerate(self.classes)}
        codes = np.array([index.get(_key(v), -1) for v in y.to_numpy()], dtype=np.int64)
        if np.any(codes < 0):
            unseen = sorted({str(v) for v, c in zip(y.to_numpy(), codes, strict=True) if c < 0})
            raise DataError(
                f"target column {self.target!r} has labels the model does not know: "
                f"{', '.join(unseen[:5])}"
            )
        return codes

    def decode(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Network outputs -> (predictions, class probabilities or None)."""
        if self.task == "regression":
            return outputs[:, 0] * self.target_scale + self.target_mean, None
        assert self.classes is not None
        proba = np.hstack([1 - outputs, outputs]) if outputs.shape[1] == 1 else outputs
        labels = np.array(self.classes, dtype=object)[proba.argmax(axis=1)]
        return labels, proba

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [c.to_dict() for c in self.columns],
            "target": self.target,
            "task": self.task,
            "classes": self.classes,
            "target_mean": self.target_mean,
            "target_scale": self.target_scale,
            "dropped": list(self.dropped),
        }

    @classmethod
    def from_dict(cls, d: object) -> Preprocessing:
        """Strictly validated; a ValueError says what is wrong."""
        keys = {"columns", "target", "task", "classes", "target_mean", "target_scale", "dropped"}
        if not isinstance(d, dict) or set(d) != keys:
            raise ValueError("preprocessing must have the keys " + ", ".join(sorted(keys)))
        if not isinstance(d["columns"], list) or not d["columns"]:
            raise ValueError("preprocessing has no columns")
        columns = [ColumnSpec.from_dict(c) for c in d["columns"]]
        names = [c.name for c in columns]
        if len(set(names)) != len(names):
            raise ValueError("duplicate column names in the preprocessing")
        if not isinstance(d["target"], str) or d["target"] in names:
            raise ValueError(f"bad target column {d['target']!r}")
        if d["task"] not in TASKS:
            raise ValueError(f"unknown task {d['task']!r}")
        dropped = d["dropped"]
        if not isinstance(dropped, list) or not all(isinstance(x, str) for x in dropped):
            raise ValueError("bad dropped columns")
        pre = cls(columns, d["target"], d["task"], dropped=list(dropped))
        if d["task"] == "classification":
            classes = d["classes"]
            if (
                not isinstance(classes, list)
                or len(classes) < 2
                or not all(isinstance(c, str | bool) or _finite(c) for c in classes)
                or len({_key(c) for c in classes}) != len(classes)
            ):
                raise ValueError(f"bad class labels {classes!r}")
            pre.classes = classes
        else:
            if d["classes"] is not None:
                raise ValueError("a regression model has no classes")
            m, s = d["target_mean"], d["target_scale"]
            if not (_finite(m) and _finite(s) and s > 0):
                raise ValueError(f"bad target mean/scale {m!r}/{s!r}")
            pre.target_mean, pre.target_scale = float(m), float(s)
        return pre


def _key(value: Any) -> tuple[str, Any]:
    """Compare labels by value across numpy and Python types (1 == 1.0, '1' != 1)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, bool):
        return ("b", value)
    return ("n", float(value))


# ---------------------------------------------------------------------------- the model
@dataclass
class TabularModel:
    """A trained network with its preprocessing: what ``bprop train`` writes.

    ``predict(df)`` and ``predict_proba(df)`` take raw rows (a DataFrame) as in the
    training file.
    """

    network: Any
    preprocessing: Preprocessing
    loss: str
    training: dict[str, Any] = field(default_factory=dict)
    history: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def outputs(self, df) -> np.ndarray:
        return self.network.predict(self.preprocessing.transform(df, self.network.dtype))

    def predict(self, df) -> np.ndarray:
        return self.preprocessing.decode(self.outputs(df))[0]

    def predict_proba(self, df) -> np.ndarray:
        if self.preprocessing.task != "classification":
            raise DataError("probabilities exist for classification models only")
        proba = self.preprocessing.decode(self.outputs(df))[1]
        assert proba is not None
        return proba

    def save(self, path: str | os.PathLike) -> None:
        write_model_file(
            path,
            self.network,
            kind="tabular",
            loss=self.loss,
            history=self.history,
            extra={
                "preprocessing": self.preprocessing.to_dict(),
                "training": self.training,
                "metrics": self.metrics,
            },
        )

    @classmethod
    def from_model_file(cls, mf: Any, path: str) -> TabularModel:
        meta = mf.metadata
        try:
            pre = Preprocessing.from_dict(meta.get("preprocessing"))
        except ValueError as exc:
            raise ModelFileError(path, f"bad preprocessing ({exc})") from None
        if pre.n_inputs != mf.network.n_inputs or pre.n_outputs != mf.network.n_outputs:
            raise ModelFileError(
                path,
                f"the preprocessing gives {pre.n_inputs} inputs and {pre.n_outputs} outputs "
                f"but the network is {list(mf.network.sizes)}",
            )
        if not isinstance(meta.get("loss"), str):
            raise ModelFileError(path, "no loss in the metadata")
        training, metrics = meta.get("training", {}), meta.get("metrics", {})
        if not isinstance(training, dict) or not isinstance(metrics, dict):
            raise ModelFileError(path, "training settings and metrics must be JSON objects")
        return cls(mf.network, pre, meta["loss"], training, mf.history, metrics)
