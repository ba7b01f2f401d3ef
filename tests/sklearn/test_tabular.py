"""The thin tabular layer: column kinds, table checks, and the pipeline it builds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from sklearn.compose import ColumnTransformer, TransformedTargetRegressor  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from bprop.sklearn.classifier import MLPClassifier  # noqa: E402
from bprop.sklearn.regressor import MLPRegressor  # noqa: E402
from bprop.sklearn.tabular import (  # noqa: E402
    DataError,
    check_frame,
    final_estimator,
    infer_table,
    infer_task,
    make_pipeline,
    table_of,
    target_values,
)


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


def _fit(df, target, mlp=None, **kw):
    spec = infer_table(df, target, **kw)
    mlp = mlp or (MLPClassifier if spec.task == "classification" else MLPRegressor)(
        hidden_layer_sizes=(3,), max_iter=2, random_state=0
    )
    pipeline = make_pipeline(spec, mlp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(check_frame(spec, df), target_values(spec, df))
    return spec, pipeline


def test_columns_kinds_and_the_transform_is_scikit_learns():
    df = _frame()
    spec, pipeline = _fit(df, "target")
    assert (spec.numeric, spec.categorical) == (["num", "const"], ["cat", "flag"])
    reference = ColumnTransformer(
        [
            ("num", StandardScaler(), ["num", "const"]),
            ("cat", OneHotEncoder(sparse_output=False), ["cat", "flag"]),
        ]
    ).fit(df)
    np.testing.assert_allclose(
        pipeline[:-1].transform(df), reference.transform(df), rtol=1e-12, atol=1e-12
    )
    assert table_of(pipeline, spec.to_dict()) == spec


def test_classes_and_task_inference():
    df = _frame()
    _, pipeline = _fit(df, "target")
    assert list(pipeline.classes_) == ["x", "y", "z"]
    assert infer_task(pd.Series([1.5, 2.0])) == "regression"
    assert infer_task(pd.Series(np.arange(21))) == "regression"
    assert infer_task(pd.Series(np.arange(20))) == "classification"
    assert infer_task(pd.Series(["a", "b"])) == "classification"
    assert infer_task(pd.Series([True, False])) == "classification"


def test_regression_target_is_standardised_by_a_transformed_target_regressor():
    df = _frame().assign(target=np.linspace(-5, 95, 50))
    _, pipeline = _fit(df, "target")
    ttr = pipeline.named_steps["mlp"]
    assert isinstance(ttr, TransformedTargetRegressor)
    assert isinstance(final_estimator(pipeline), MLPRegressor)
    assert ttr.transformer_.mean_[0] == pytest.approx(45.0)
    assert ttr.transformer_.scale_[0] == pytest.approx(df["target"].std(ddof=0))
    z = final_estimator(pipeline).predict(pipeline[:-1].transform(df))
    np.testing.assert_allclose(pipeline.predict(df), z * ttr.transformer_.scale_[0] + 45.0)


def test_integer_category_codes_read_as_floats_still_match():
    df = pd.DataFrame({"code": [1, 2, 3, 1], "t": [0.0, 1.0, 2.0, 3.0]})
    spec, pipeline = _fit(df, "t", categorical=("code",))
    encoder = pipeline.named_steps["columns"].named_transformers_["categorical"][-1]
    assert list(encoder.categories_[0]) == [1, 2, 3]
    again = pd.DataFrame({"code": [2.0, np.nan, 3.0]})  # what a file with a hole reads as
    with pytest.raises(DataError, match="empty cells"):
        check_frame(spec, again, pipeline)
    X = pipeline[:-1].transform(check_frame(spec, again.iloc[[0, 2]], pipeline))
    np.testing.assert_array_equal(X, [[0, 1, 0], [0, 0, 1]])


def test_check_frame_names_columns_rows_and_values():
    df = _frame()
    spec, pipeline = _fit(df, "target")
    with pytest.raises(DataError, match="missing column 'cat'"):
        check_frame(spec, df.drop(columns="cat"), pipeline)
    ignored = check_frame(spec, df.assign(zzz=1), pipeline)  # other columns are ignored
    assert list(ignored.columns) == spec.features
    with pytest.raises(DataError, match=r"not seen in training: 'q'.*known: 'a', 'b', 'c'"):
        check_frame(spec, df.assign(cat=["q", *df["cat"][1:]]), pipeline)
    bad = df.astype({"num": object})
    bad.loc[4, "num"] = "1,5"
    with pytest.raises(DataError, match=r"column 'num' is numeric.*data row 5: '1,5'"):
        check_frame(spec, bad, pipeline)
    with pytest.raises(DataError, match="infinite"):
        check_frame(spec, df.assign(num=np.inf), pipeline)
    with pytest.raises(DataError, match="labels the model does not know: w"):
        target_values(spec, df.assign(target="w"), pipeline.classes_)


def test_an_unseen_category_is_all_zeros_in_the_pipeline_itself():
    df = _frame()
    _, pipeline = _fit(df, "target")
    X = pipeline[:-1].transform(df.assign(cat="q"))
    np.testing.assert_array_equal(X[:, 2:5], 0)  # handle_unknown='ignore'


def test_impute_uses_the_training_mean_and_most_frequent_category():
    df = _frame()
    df.loc[3, "num"] = np.nan
    df.loc[[5, 6], "cat"] = np.nan
    with pytest.raises(DataError, match=r"column 'num' has empty cells \(data row 4\).*--impute"):
        infer_table(df, "target")
    spec, pipeline = _fit(df, "target", impute=True, drop=("const",))
    X = pipeline[:-1].transform(check_frame(spec, df, pipeline))
    assert X[3, 0] == pytest.approx(0.0)  # the mean, standardised
    counts = df["cat"].value_counts()
    fill = sorted(counts[counts == counts.max()].index)[0]
    assert X[5, 1 + ["a", "b", "c"].index(fill)] == 1
