"""ONNX export: onnxruntime reproduces bprop's predictions (preprocessing included)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bprop
from bprop.cli import main
from bprop.sklearn.onnx import onnx_feed
from bprop.sklearn.tabular import final_estimator

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def _frame(n: int, n_classes: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "length cm": rng.normal(50, 10, n),  # a name that is not an identifier
            "w": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], n),
        }
    )
    score = (df["length cm"] - 50) / 10 + df["w"] + (df["colour"] == "red")
    if n_classes == 0:
        df["target"] = 100 * score + 7
    elif n_classes == 2:
        df["target"] = np.where(score > 0.4, "pos", "neg")
    else:
        df["target"] = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))  # ints 0, 1, 2
    return df


def _train_and_export(tmp_path, df, *extra):
    data = tmp_path / "d.csv"
    df.to_csv(data, index=False)
    model_path, onnx_path = tmp_path / "m.bprop", tmp_path / "m.onnx"
    argv = [
        "train",
        str(data),
        "--target",
        "target",
        "--out",
        str(model_path),
        "--epochs",
        "15",
        "--hidden",
        "5",
        "--no-progress",
        "-q",
        *extra,
    ]
    assert main(argv) == 0
    assert main(["export", str(model_path), "--onnx", str(onnx_path), "-q"]) == 0
    onnx.checker.check_model(str(onnx_path))
    return bprop.load(model_path), ort.InferenceSession(str(onnx_path))


def _run(session, model, df):
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, onnx_feed(model, df)), strict=True))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ["tanh", "logistic", "relu", "softplus", "gaussian"])
def test_binary_classification_matches(tmp_path, dtype, activation):
    df = _frame(60, 2)
    model, session = _train_and_export(tmp_path, df, "--dtype", dtype, "--activation", activation)
    out = _run(session, model, df.drop(columns="target"))
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(df), rtol=0, atol=1e-5)
    assert list(out["label"]) == list(model.predict(df))


def test_multiclass_with_integer_labels_matches(tmp_path):
    df = _frame(60, 3)
    model, session = _train_and_export(tmp_path, df, "--activation", "leaky_relu")
    out = _run(session, model, df)
    assert out["probabilities"].shape == (60, 3)
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(df), rtol=0, atol=1e-5)
    assert out["label"].dtype == np.int64
    assert list(out["label"]) == list(model.predict(df))


def test_regression_matches_on_the_original_scale(tmp_path):
    df = _frame(60, 0)
    model, session = _train_and_export(tmp_path, df, "--hidden", "4,3")
    out = _run(session, model, df)
    assert out["prediction"].shape == (60,)
    np.testing.assert_allclose(out["prediction"], model.predict(df), rtol=1e-5, atol=1e-5)


def test_imputation_is_exported(tmp_path):
    df = _frame(60, 2)
    df.loc[[0, 3], "w"] = np.nan
    df.loc[[1, 4], "colour"] = np.nan
    model, session = _train_and_export(tmp_path, df, "--impute")
    out = _run(session, model, df)
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(df), rtol=0, atol=1e-5)


def test_unseen_category_gives_an_all_zero_code_in_onnx(tmp_path):
    """As OneHotEncoder(handle_unknown='ignore') (bprop predict refuses such a row)."""
    df = _frame(30, 2)
    model, session = _train_and_export(tmp_path, df)
    new = df.drop(columns="target").head(1).copy()
    new["colour"] = "purple"
    X = model[:-1].transform(new.assign(colour="red"))
    X[:, 2:] = 0  # the one-hot block of 'colour', all zero
    expected = final_estimator(model).network_.predict(X)[:, 0]
    np.testing.assert_allclose(
        _run(session, model, new)["probabilities"][:, 1], expected, atol=1e-5
    )
    np.testing.assert_allclose(model.predict_proba(new)[:, 1], expected, atol=1e-12)  # sklearn too


def test_export_of_a_missing_model_fails_cleanly(tmp_path, capsys):
    assert main(["export", str(tmp_path / "none.bprop"), "--onnx", str(tmp_path / "x.onnx")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bare_network_exports_its_layers(tmp_path, dtype):
    net = bprop.Network([3, 5, 4, 2], ["tanh", "relu"], "softmax", seed=1, dtype=dtype)
    net.save(tmp_path / "n.bprop")
    assert main(["export", str(tmp_path / "n.bprop"), "--onnx", str(tmp_path / "n.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "n.onnx"))
    X = np.random.default_rng(0).normal(size=(7, 3)).astype(dtype)
    (out,) = session.run(None, {"X": X})
    np.testing.assert_allclose(out, net.predict(X), rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_units_load_and_export(tmp_path, dtype):
    """The log-link output of Poisson regression (and exp hidden units) survive a model
    file and an ONNX export."""
    net = bprop.Network([3, 4, 2], "exp", "exp", seed=2, dtype=dtype)
    net.save(tmp_path / "n.bprop", loss="poisson")
    back = bprop.load(tmp_path / "n.bprop")
    assert [a.name for a in back.activations] == ["exp", "exp"]
    assert main(["export", str(tmp_path / "n.bprop"), "--onnx", str(tmp_path / "n.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "n.onnx"))
    X = np.random.default_rng(0).normal(size=(7, 3)).astype(dtype)
    (out,) = session.run(None, {"X": X})
    np.testing.assert_allclose(out, net.predict(X), rtol=1e-5 if dtype == np.float32 else 1e-12)
