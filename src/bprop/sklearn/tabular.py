"""Tabular data and the scikit-learn pipeline ``bprop train`` fits.

bprop's own part is thin: reading and writing files (:mod:`bprop.sklearn.table_files`),
inferring the kind of each column and the task (:mod:`bprop.sklearn.column_kinds`), and
checking a table against a model with messages that name the columns, data rows and
values at fault. The preprocessing itself is scikit-learn's
(:func:`make_pipeline`):

    Pipeline([
        ("columns", ColumnTransformer([
            ("numeric", Pipeline([SimpleImputer("mean"), StandardScaler()]), <numeric>),
            ("categorical", Pipeline([SimpleImputer("most_frequent"),
                                      OneHotEncoder(handle_unknown="ignore")]), <others>),
        ])),
        ("mlp", MLPClassifier(...)  or  TransformedTargetRegressor(MLPRegressor(...),
                                                                   StandardScaler())),
    ])

(the imputers only with ``impute``).

- numeric column c: z = (x - mean_c) / scale_c (StandardScaler: population standard
  deviation; 1 for a constant column);
- categorical column (strings, booleans, or named with ``categorical``): one input per
  category seen in training, 1 for the row's category; an unseen category is all zeros in
  the pipeline, and an error (naming it) in :func:`check_frame`;
- empty cells: the SimpleImputers (training mean, most frequent category; the first in
  sorted order on ties) only when fitted with ``impute``; otherwise an error;
- the target: class labels (classification, ``classes_`` sorted as ``np.unique`` sorts
  them), or a number that the TransformedTargetRegressor standardises for training and
  maps back, y = z scale + mean (regression).

Every problem with a file or its content is a :class:`DataError` (a ValueError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from bprop.sklearn.column_kinds import column_kinds, infer_task, numeric_values
from bprop.sklearn.table_files import (
    STDIO,
    DataError,
    pandas_module,
    read_table,
    rows_text,
    write_table,
)

__all__ = [
    "STDIO",
    "DataError",
    "TableSpec",
    "check_frame",
    "column_groups",
    "column_transformer",
    "final_estimator",
    "infer_table",
    "infer_task",
    "make_pipeline",
    "pandas_module",
    "read_table",
    "rows_text",
    "table_of",
    "target_values",
    "write_table",
]

TASKS = ("classification", "regression")
#: what to do about cells that are not numbers: in training / with a fitted model
_NUMERIC_HINT = {
    True: "; fix them, mark them empty with --na-values VALUE, or treat the column as "
    "categories with --categorical {name}",
    False: "; fix them, or mark them empty with --na-values VALUE",
}


@dataclass
class TableSpec:
    """The columns of a table as a model sees them: what is predicted, from what."""

    target: str | None
    task: str
    numeric: list[str]
    categorical: list[str]
    dropped: list[str] = field(default_factory=list)
    impute: bool = False

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "task": self.task, "dropped": list(self.dropped)}


def infer_table(
    df,
    target: str,
    *,
    task: str | None = None,
    impute: bool = False,
    categorical: tuple[str, ...] = (),
    drop: tuple[str, ...] = (),
) -> TableSpec:
    """The kinds of the columns of a training table, and the task; checks the cells."""
    if target not in df.columns:
        raise DataError(
            f"target column {target!r} not found; the columns are: {', '.join(df.columns)}"
        )
    for name in (*categorical, *drop):
        if name not in df.columns:
            raise DataError(f"column {name!r} not found; the columns are: {', '.join(df.columns)}")
    y = df[target]
    if y.isna().any():
        raise DataError(
            f"target column {target!r} has empty cells ({rows_text(y.isna(), y.index)}); "
            "remove those rows"
        )
    task = task or infer_task(y)
    if task not in TASKS:
        raise DataError(f"task must be 'classification' or 'regression', got {task!r}")
    if task == "regression" and y.dtype.kind not in "biuf":
        numeric_values(
            y,
            target,
            "; a regression predicts numbers: fix those cells, or leave out "
            "--task regression to train a classifier of these labels",
            f"target column {target!r}",
        )
    if task == "classification":
        classes = np.unique(y.to_numpy())
        if len(classes) < 2:
            raise DataError(
                f"target column {target!r} has a single class ({classes[0]!r}); "
                "classification needs at least two"
            )
    features = [c for c in df.columns if c != target and c not in drop]
    if not features:
        raise DataError("no feature columns left besides the target")
    numeric, cats = column_kinds(df, features, categorical)
    spec = TableSpec(target, task, numeric, cats, list(drop), impute)
    check_frame(spec, df, dtype=None)  # (the checks only: float columns are not copied)
    target_values(spec, df)
    return spec


def check_frame(spec: TableSpec, df, pipeline: Any = None, dtype: Any = np.float64):
    """The feature columns of ``df`` as the pipeline takes them (numeric columns as
    ``dtype``; None: float columns as they are), after checking them: missing columns,
    non-numeric or infinite cells, empty cells (without imputation) and, given the fitted
    ``pipeline``, categories not seen in training are a DataError naming them. Other
    columns are ignored. Where no column needs converting, ``df[names]`` (a view)."""
    pd = pandas_module()
    names = spec.features
    missing = [n for n in names if n not in df.columns]
    if missing:
        known_names = {*names, *spec.dropped, *([spec.target] if spec.target else [])}
        others = [repr(c) for c in df.columns if c not in known_names]
        raise DataError(
            f"missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)}; the model needs: {', '.join(names)}"
            + (f" (the file's other columns: {', '.join(others[:10])})" if others else "")
        )
    known = _categories(pipeline) if pipeline is not None else {}
    out = {}
    same = True  # no column converted: a view of df's columns
    for name in names:
        s = df[name]
        empty = s.isna().to_numpy()
        if empty.any() and not spec.impute:
            hint = (
                "(the model was trained without --impute)"
                if pipeline is not None
                else "or pass --impute to fill them with the training mean / most frequent value"
            )
            raise DataError(
                f"column {name!r} has empty cells ({rows_text(empty, s.index)}); fill them {hint}"
            )
        if name in spec.numeric and s.dtype.kind == "f" and s.dtype == np.dtype(dtype or s.dtype):
            inf = np.isinf(s.to_numpy())  # already in the dtype: checked, not copied
            if inf.any():
                raise DataError(f"column {name!r} has infinite values ({rows_text(inf, s.index)})")
            out[name] = s
            continue
        same = False
        if name in spec.numeric:
            x = numeric_values(s, name, _NUMERIC_HINT[pipeline is None].format(name=name))
            if np.isinf(x).any():
                raise DataError(
                    f"column {name!r} has infinite values ({rows_text(np.isinf(x), s.index)})"
                )
            out[name] = x.astype(dtype or np.float64)
            continue
        values = s if s.dtype.kind in "biuf" else s.astype(object).where(s.notna(), np.nan)
        if name in known:
            cats = known[name]
            seen = values[~empty]
            unseen = sorted({str(v) for v in seen[~np.isin(seen.to_numpy(), cats)]})
            if unseen:
                raise DataError(
                    f"column {name!r} has categories not seen in training: "
                    f"{', '.join(repr(u) for u in unseen[:5])}; known: "
                    f"{', '.join(repr(str(c)) for c in cats[:10])}"
                )
        out[name] = values
    return df[names] if same else pd.DataFrame(out, index=df.index)


def target_values(spec: TableSpec, df, classes: Any = None) -> np.ndarray:
    """The target column: class labels (checked against ``classes`` if given) or numbers."""
    name = spec.target
    if name is None or name not in df.columns:
        raise DataError(f"target column {name!r} not found")
    y = df[name]
    if y.isna().any():
        raise DataError(
            f"target column {name!r} has empty cells ({rows_text(y.isna(), y.index)}); "
            "remove those rows"
        )
    if spec.task == "regression":
        t = numeric_values(
            y, name, "; a regression predicts numbers: fix those cells", f"target column {name!r}"
        )
        if not np.all(np.isfinite(t)):
            inf = ~np.isfinite(t)
            raise DataError(
                f"target column {name!r} has infinite values ({rows_text(inf, y.index)})"
            )
        return t
    labels = y.to_numpy()
    if classes is not None:
        unknown = ~np.isin(labels, np.asarray(classes))
        if unknown.any():
            raise DataError(
                f"target column {name!r} has labels the model does not know: "
                f"{', '.join(sorted({str(v) for v in labels[unknown]})[:5])} "
                f"({rows_text(unknown, y.index)})"
            )
    return labels


# ---------------------------------------------------------------------------- the pipeline
def make_pipeline(spec: TableSpec, mlp: Any, dtype: Any = np.float64) -> Pipeline:
    """The (unfitted) pipeline: the column transformer, then ``mlp`` (a regressor wrapped
    in a TransformedTargetRegressor that standardises the target)."""
    if spec.task == "regression":
        mlp = TransformedTargetRegressor(regressor=mlp, transformer=StandardScaler())
    return Pipeline([("columns", column_transformer(spec, dtype)), ("mlp", mlp)])


def column_transformer(spec: TableSpec, dtype: Any = np.float64) -> ColumnTransformer:
    """The (unfitted) encoding of ``spec``'s feature columns: numeric columns x ->
    (x - mean) / std (mean-imputed first if ``spec.impute``), categorical ones one-hot
    (most-frequent-imputed first if ``spec.impute``; unknown categories all zeros)."""
    groups = []
    if spec.numeric:
        steps = [("scale", StandardScaler())]
        if spec.impute:
            steps.insert(0, ("impute", SimpleImputer(strategy="mean")))
        groups.append(("numeric", Pipeline(steps), list(spec.numeric)))
    if spec.categorical:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=dtype)
        steps = [("encode", encoder)]
        if spec.impute:
            steps.insert(0, ("impute", SimpleImputer(strategy="most_frequent")))
        groups.append(("categorical", Pipeline(steps), list(spec.categorical)))
    return ColumnTransformer(groups, remainder="drop", sparse_threshold=0.0)


def final_estimator(model: Any) -> Any:
    """The bprop estimator at the end of a pipeline (inside a TransformedTargetRegressor),
    or ``model`` itself."""
    if isinstance(model, Pipeline):
        model = model.steps[-1][1]
    if isinstance(model, TransformedTargetRegressor):
        model = getattr(model, "regressor_", model.regressor)
    return model


def column_groups(columns: Any) -> list[tuple[list[Any], list[Any]]]:
    """(columns, transformer steps) of each fitted group of a ColumnTransformer: groups that
    are a plain string ('drop', 'passthrough') or hold no column are left out."""
    groups = []
    for _, transformer, cols in getattr(columns, "transformers_", []):
        if isinstance(transformer, str) or not len(cols):
            continue
        pipe = isinstance(transformer, Pipeline)
        steps = [s for _, s in transformer.steps] if pipe else [transformer]
        groups.append((list(cols), steps))
    return groups


def table_of(pipeline: Pipeline, table: dict[str, Any] | None = None) -> TableSpec:
    """The TableSpec of a fitted pipeline whose first step is a ColumnTransformer of
    DataFrame columns (``table``: the target and dropped columns stored with it)."""
    columns = pipeline.steps[0][1]
    if not isinstance(columns, ColumnTransformer) or not hasattr(columns, "feature_names_in_"):
        raise DataError("the model's first step is not a ColumnTransformer fitted on a table")
    numeric, cats, impute = [], [], False
    for cols, steps in column_groups(columns):
        impute = impute or any(isinstance(s, SimpleImputer) for s in steps)
        is_cat = any(isinstance(s, OneHotEncoder) for s in steps)
        (cats if is_cat else numeric).extend(str(c) for c in cols)
    est = final_estimator(pipeline)
    task = "classification" if hasattr(est, "classes_") else "regression"
    table = table or {}
    return TableSpec(table.get("target"), task, numeric, cats, table.get("dropped", []), impute)


def _categories(pipeline: Pipeline) -> dict[str, np.ndarray]:
    """Column name -> the categories its OneHotEncoder knows."""
    known: dict[str, np.ndarray] = {}
    for cols, steps in column_groups(pipeline.steps[0][1]):
        for step in steps:
            if isinstance(step, OneHotEncoder):
                for name, cats in zip(cols, step.categories_, strict=True):
                    known[str(name)] = cats
    return known
