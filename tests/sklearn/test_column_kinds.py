"""Column kinds: a numeric column with typos and an identifier column are errors, on both
sides of the documented thresholds; integer-valued float targets are class labels."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from bprop.sklearn.classifier import MLPClassifier  # noqa: E402
from bprop.sklearn.column_kinds import (  # noqa: E402
    ID_MIN_ROWS,
    ID_SHARE,
    NUMERIC_SHARE,
    column_kinds,
    infer_task,
)
from bprop.sklearn.tabular import (  # noqa: E402
    DataError,
    check_frame,
    infer_table,
    make_pipeline,
    target_values,
)


def _kinds(cells, categorical=()):
    df = pd.DataFrame({"c": pd.Series(cells, dtype=object)})
    return column_kinds(df, ["c"], categorical)


def test_a_numeric_column_with_a_typo_names_rows_values_and_options():
    cells = [str(v) for v in np.linspace(30, 50, 60).round(1)]
    cells[41], cells[7] = "4x.1", "?"
    with pytest.raises(DataError) as info:
        _kinds(cells)
    message = str(info.value)
    for part in ("column 'c'", "data rows 8, 42", "'?', '4x.1'", "--na-values", "--categorical c"):
        assert part in message, message
    assert _kinds(cells, categorical=("c",)) == ([], ["c"])


def test_the_numeric_share_threshold_on_both_sides():
    assert NUMERIC_SHARE == 0.9
    at = ["1", "2"] * 9 + ["x", "y"]  # 18 of 20 cells are numbers: 0.9
    with pytest.raises(DataError, match="non-numeric"):
        _kinds(at)
    below = ["1", "2"] * 8 + ["1", "x", "y", "x"]  # 17 of 20: 0.85, a categorical column
    assert _kinds(below) == ([], ["c"])
    assert _kinds(["1", "2.5", None, "3"]) == (["c"], [])  # all numbers: numeric


def test_an_identifier_column_is_never_one_hot_encoded_silently():
    assert (ID_SHARE, ID_MIN_ROWS) == (0.9, 20)
    ids = [f"id{i:03d}" for i in range(20)]
    with pytest.raises(DataError) as info:
        _kinds(ids)
    message = str(info.value)
    for part in ("column 'c' looks like an identifier", "20 distinct values in 20 rows"):
        assert part in message, message
    assert "--drop c" in message and "--categorical c" in message
    with pytest.raises(DataError, match="identifier"):
        _kinds(ids[:18] + ids[:2])  # 18 distinct of 20: 0.9
    assert _kinds(ids[:17] + ids[:3]) == ([], ["c"])  # 17 of 20: 0.85
    assert _kinds(ids[:19]) == ([], ["c"])  # 19 rows: too few to tell
    assert _kinds(ids, categorical=("c",)) == ([], ["c"])


def test_integer_valued_float_targets_are_class_labels():
    assert infer_task(pd.Series([0.0, 1.0, 1.0, 0.0])) == "classification"
    assert infer_task(pd.Series([0.0, 1.0, np.nan])) == "classification"
    assert infer_task(pd.Series([0.0, 0.5, 1.0])) == "regression"
    assert infer_task(pd.Series(np.arange(20.0))) == "classification"
    assert infer_task(pd.Series(np.arange(21.0))) == "regression"
    assert infer_task(pd.Series([0.0, np.inf])) == "regression"


def _table(n=30):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=n), "y": np.tile(["yes", "no"], n // 2)})


def test_each_message_suggests_what_the_caller_can_do():
    df = _table()
    with pytest.raises(DataError) as info:
        infer_table(df, "y", task="regression")
    message = str(info.value)
    assert "target column 'y'" in message and "--task regression" in message
    assert "--categorical" not in message
    spec = infer_table(df, "y")
    mlp = MLPClassifier(hidden_layer_sizes=(2,), max_iter=1, random_state=0)
    pipeline = make_pipeline(spec, mlp).fit(check_frame(spec, df), target_values(spec, df))
    bad = df.astype({"x": object})
    bad.loc[3, "x"] = "4x.1"
    with pytest.raises(DataError) as info:
        check_frame(spec, bad, pipeline)  # with a fitted model: predicting
    message = str(info.value)
    assert "data row 4: '4x.1'" in message and "--na-values" in message
    assert "--categorical" not in message
    with pytest.raises(DataError, match="--categorical x"):
        check_frame(spec, bad)  # training
