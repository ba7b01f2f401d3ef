"""The preprocessing stored in models, against scikit-learn's own transformers."""

from __future__ import annotations

import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from bprop.sklearn.tabular import DataError, Preprocessing, infer_task, read_table  # noqa: E402


def _frame(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    return pd.DataFrame(
        {
            "num": rng.normal(3, 2, n),
            "const": np.full(n, 7.0),
            "cat": rng.choice(["b", "a", "c"], n),
            "flag": rng.choice([True, False], n),
            "target": rng.choice(["x", "y", "z"], n),
        }
    )


def test_transform_matches_standard_scaler_and_one_hot_encoder():
    df = _frame()
    pre = Preprocessing.fit(df, "target")
    reference = ColumnTransformer(
        [
            ("num", StandardScaler(), ["num", "const", "flag"]),
            ("cat", OneHotEncoder(handle_unknown="error", sparse_output=False), ["cat"]),
        ]
    ).fit(df)
    ours = pre.transform(df)
    names = pre.input_names()
    ref = reference.transform(df.assign(flag=df["flag"].astype(float)))
    ref_names = ["num", "const", "flag", "cat=a", "cat=b", "cat=c"]
    for name, column in zip(ref_names, ref.T, strict=True):
        np.testing.assert_allclose(ours[:, names.index(name)], column, rtol=1e-12, atol=1e-12)


def test_classes_and_task_inference():
    df = _frame()
    assert Preprocessing.fit(df, "target").classes == ["x", "y", "z"]
    assert infer_task(pd.Series([1.5, 2.0])) == "regression"
    assert infer_task(pd.Series(np.arange(21))) == "regression"
    assert infer_task(pd.Series(np.arange(20))) == "classification"
    assert infer_task(pd.Series(["a", "b"])) == "classification"
    assert infer_task(pd.Series([True, False])) == "classification"


def test_regression_target_round_trips_through_decode():
    df = _frame().assign(target=np.linspace(-5, 95, 50))
    pre = Preprocessing.fit(df, "target")
    z = pre.encode_target(df)
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    np.testing.assert_allclose(pre.decode(z[:, None])[0], df["target"])


def test_binary_decode_gives_both_probabilities():
    df = _frame().assign(target=np.tile(["no", "yes"], 25))
    pre = Preprocessing.fit(df, "target")
    labels, proba = pre.decode(np.array([[0.2], [0.9]]))
    assert list(labels) == ["no", "yes"]
    np.testing.assert_allclose(proba, [[0.8, 0.2], [0.1, 0.9]])


def test_integer_category_codes_read_as_floats_still_match():
    df = pd.DataFrame({"code": [1, 2, 3, 1], "t": [0.0, 1.0, 2.0, 3.0]})
    pre = Preprocessing.fit(df, "t", categorical=("code",))
    assert pre.columns[0].categories == ["1", "2", "3"]
    again = pd.DataFrame({"code": [2.0, np.nan, 3.0]})  # what a file with a hole reads as
    with pytest.raises(DataError, match="empty cells"):
        pre.transform(again)
    X = pre.transform(again.iloc[[0, 2]])
    np.testing.assert_array_equal(X, [[0, 1, 0], [0, 0, 1]])


def test_dict_round_trip_is_exact_and_json():
    df = _frame()
    df.loc[3, "num"] = np.nan
    pre = Preprocessing.fit(df, "target", impute=True, drop=("const",))
    d = json.loads(json.dumps(pre.to_dict(), allow_nan=False))
    again = Preprocessing.from_dict(d)
    assert again == pre
    np.testing.assert_array_equal(again.transform(df), pre.transform(df))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(task="clustering"), "unknown task"),
        (lambda d: d["columns"][0].update(scale=0), "bad mean/scale"),
        (lambda d: d["columns"][0].update(mean="1"), "bad mean/scale"),
        (lambda d: d["columns"][0].update(kind="code"), "unknown kind"),
        (lambda d: d["columns"][2].update(categories=["a", "a"]), "bad categories"),
        (lambda d: d["columns"][2].update(fill="zzz"), "not a category"),
        (lambda d: d.update(classes=["x"]), "bad class labels"),
        (lambda d: d.update(classes=[{"x": 1}, "y"]), "bad class labels"),
        (lambda d: d.update(extra=1), "keys"),
        (lambda d: d["columns"].append(dict(d["columns"][0])), "duplicate"),
    ],
)
def test_from_dict_is_strict(change, message):
    d = Preprocessing.fit(_frame(), "target").to_dict()
    change(d)
    with pytest.raises(ValueError, match=message):
        Preprocessing.from_dict(d)


def test_read_table_formats(tmp_path):
    df = _frame()
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    df.to_parquet(tmp_path / "a.parquet")
    for name in ("a.csv", "a.tsv", "a.parquet"):
        got = read_table(tmp_path / name)
        assert list(got.columns) == list(df.columns) and len(got) == len(df)
        np.testing.assert_allclose(got["num"], df["num"])
    (tmp_path / "dup.csv").write_text("a,a\n1,2\n")
    assert list(read_table(tmp_path / "dup.csv").columns) == ["a", "a.1"]  # pandas renames
