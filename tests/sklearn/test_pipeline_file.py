"""Fitted pipelines in model files: exact round trips, an allow-list, strict loading."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

import bprop  # noqa: E402
from bprop import ModelFileError  # noqa: E402
from bprop.files.tensors import read_safetensors, write_safetensors  # noqa: E402
from bprop.sklearn.classifier import MLPClassifier  # noqa: E402
from bprop.sklearn.regressor import MLPRegressor  # noqa: E402
from bprop.sklearn.tabular import check_frame, infer_table, make_pipeline, target_values  # noqa: E402


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "x": rng.normal(5, 2, n),
            "z": rng.integers(0, 100, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "flag": rng.choice([True, False], n),
            "code": rng.choice([10, 20, 30], n),
        }
    )
    df.loc[[2, 7], "x"] = np.nan
    df.loc[4, "colour"] = np.nan
    df["label"] = np.where(df["z"] > 50, "high", "low")
    df["value"] = df["z"] * 0.5 + 300
    return df


def _fitted(task: str, dtype=np.float64, impute: bool = True) -> tuple:
    df = _frame()
    target, cls = ("label", MLPClassifier) if task == "classification" else ("value", MLPRegressor)
    df = df.drop(columns="value" if target == "label" else "label")
    if not impute:
        df = df.dropna()
    spec = infer_table(df, target, impute=impute, categorical=("code",))
    mlp = cls(hidden_layer_sizes=(4,), activation="tanh", max_iter=3, random_state=0)
    pipeline = make_pipeline(spec, mlp, dtype)
    X = check_frame(spec, df, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X, target_values(spec, df))
    return pipeline, X


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("impute", [True, False])
def test_round_trip_is_exact(tmp_path, task, dtype, impute):
    pipeline, X = _fitted(task, dtype, impute)
    path = tmp_path / "p.bprop"
    bprop.save(pipeline, path)
    loaded = bprop.load(path)
    assert isinstance(loaded, Pipeline)
    assert [n for n, _ in loaded.steps] == ["columns", "mlp"]
    np.testing.assert_array_equal(loaded[:-1].transform(X), pipeline[:-1].transform(X))
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    if task == "classification":
        np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
        np.testing.assert_array_equal(loaded.classes_, pipeline.classes_)
    unseen = X.assign(colour="purple", code=40)  # unseen categories: all zeros, as fitted
    np.testing.assert_array_equal(loaded[:-1].transform(unseen), pipeline[:-1].transform(unseen))
    ct, ct0 = loaded.named_steps["columns"], pipeline.named_steps["columns"]
    assert ct.get_params(deep=True).keys() == ct0.get_params(deep=True).keys()
    assert list(ct.get_feature_names_out()) == list(ct0.get_feature_names_out())
    # saved again, the file is the same pipeline
    bprop.save(loaded, tmp_path / "q.bprop")
    again = bprop.load(tmp_path / "q.bprop")
    np.testing.assert_array_equal(again.predict(X), pipeline.predict(X))


def test_types_outside_the_allow_list_are_refused(tmp_path):
    df = _frame().dropna()[["x", "z", "label"]]
    pipeline = Pipeline([("scale", MinMaxScaler()), ("mlp", MLPClassifier(max_iter=2))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(df[["x", "z"]], df["label"])
    with pytest.raises(ValueError, match="MinMaxScaler is not among the types"):
        bprop.save(pipeline, tmp_path / "p.bprop")
    assert not (tmp_path / "p.bprop").exists()


def _node(meta: dict, group: str, kind: str) -> dict:
    ct = meta["pipeline"]["steps"][0][1]
    sub = {n: node for n, node, _ in ct["transformers"]}[group]
    return {step["type"]: step for _, step in sub["steps"]}[kind]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m, t: m["pipeline"]["steps"][0][1].update(type="os.system"), "not among"),
        (lambda m, t: m["pipeline"].update(type="FunctionTransformer"), "top node"),
        (lambda m, t: m["pipeline"]["steps"][0][1].update(extra=1), "exactly the keys"),
        (
            lambda m, t: _node(m, "categorical", "OneHotEncoder")["categories"][0].reverse(),
            "sorted",
        ),
        (
            lambda m, t: _node(m, "categorical", "OneHotEncoder")["categories"][0].append("blue"),
            "unique",
        ),
        (
            lambda m, t: _node(m, "categorical", "OneHotEncoder")["categories"][1].append("more"),
            "mixed types",
        ),
        (
            lambda m, t: _node(m, "categorical", "OneHotEncoder")["categories"][0].append("zzz"),
            "columns but the network takes",
        ),
        (
            lambda m, t: _node(m, "numeric", "SimpleImputer").update(statistics=[1.0]),
            "bad statistics",
        ),
        (
            lambda m, t: _node(m, "numeric", "SimpleImputer").update(strategy="constant"),
            "bad strategy",
        ),
        (
            lambda m, t: t.update({_node(m, "numeric", "StandardScaler")["scale"]: np.zeros(2)}),
            "scale",
        ),
        (
            lambda m, t: t.update(
                {_node(m, "numeric", "StandardScaler")["mean"]: np.array([np.nan, 1.0])}
            ),
            "not finite",
        ),
        (
            lambda m, t: t.update({_node(m, "numeric", "StandardScaler")["var"]: np.ones(3)}),
            "shape",
        ),
        (lambda m, t: m["pipeline"]["steps"][0][1]["feature_names_in"].pop(), "not in the table"),
        (lambda m, t: m["estimator"].update({"class": "Evil"}), "not allowed"),
    ],
)
def test_hostile_pipeline_metadata(tmp_path, change, message):
    pipeline, _ = _fitted("classification")
    path = tmp_path / "p.bprop"
    bprop.save(pipeline, path)
    tensors, meta = read_safetensors(path)
    change(meta, tensors)
    write_safetensors(path, tensors, meta)
    with pytest.raises(ModelFileError, match=message) as info:
        bprop.load(path)
    assert str(path) in str(info.value)
    json.dumps(meta)  # the file stayed strict JSON
