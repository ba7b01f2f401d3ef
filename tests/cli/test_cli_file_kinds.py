"""Every command on every bprop file it makes sense for: a saved estimator, a network, a
checkpoint, besides the pipelines 'bprop train' writes."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import bprop
from bprop.cli import main


def _table(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["label"] = np.where(df["a"] + df["b"] > 0, "yes", "no")
    df["value"] = 2 * df["a"] - df["b"]
    return df


@pytest.fixture
def files(tmp_path):
    df = _table()
    data = tmp_path / "d.csv"
    df.drop(columns="value").to_csv(data, index=False)
    reg_data = tmp_path / "r.csv"
    df.drop(columns="label").to_csv(reg_data, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = bprop.MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0)
        clf.fit(df[["a", "b"]].to_numpy(), df["label"])
        reg = bprop.MLPRegressor(hidden_layer_sizes=(4,), max_iter=20, random_state=0)
        reg.fit(df[["a", "b"]].to_numpy(), df["value"])
    clf.save(tmp_path / "clf.bprop")
    reg.save(tmp_path / "reg.bprop")
    return {"df": df, "data": data, "reg_data": reg_data, "clf": clf, "reg": reg, "dir": tmp_path}


def test_predict_with_a_saved_classifier_reads_the_numeric_columns_in_order(files, capsys):
    out = files["dir"] / "p.csv"
    argv = ["predict", str(files["dir"] / "clf.bprop"), str(files["data"]), "--proba"]
    assert main([*argv, "--out", str(out), "-q"]) == 0
    pred = pd.read_csv(out)
    X = files["df"][["a", "b"]].to_numpy()
    assert list(pred["prediction"]) == list(files["clf"].predict(X))
    np.testing.assert_allclose(pred["proba_yes"], files["clf"].predict_proba(X)[:, 1], atol=1e-12)


def test_evaluate_a_saved_classifier_and_regressor(files, capsys):
    clf = str(files["dir"] / "clf.bprop")
    assert main(["evaluate", clf, str(files["data"]), "--target", "label", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    X = files["df"][["a", "b"]].to_numpy()
    expected = np.mean(files["clf"].predict(X) == files["df"]["label"])
    assert m["accuracy"] == pytest.approx(expected) and m["labels"] == ["no", "yes"]
    reg = str(files["dir"] / "reg.bprop")
    assert main(["evaluate", reg, str(files["reg_data"]), "--target", "value", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    from sklearn.metrics import r2_score

    assert m["r2"] == pytest.approx(r2_score(files["df"]["value"], files["reg"].predict(X)))


def test_a_column_count_that_differs_is_a_clear_error(files, capsys):
    data = files["dir"] / "three.csv"
    files["df"].assign(c=1.0).drop(columns="value").to_csv(data, index=False)
    assert main(["predict", str(files["dir"] / "clf.bprop"), str(data)]) == 1
    err = capsys.readouterr().err
    assert "takes 2 inputs" in err and "3 numeric columns (a, b, c)" in err


def test_info_and_export_of_a_saved_estimator(files, capsys):
    path = str(files["dir"] / "clf.bprop")
    assert main(["info", path, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "estimator" and info["estimator"]["class"] == "MLPClassifier"
    assert main(["info", path]) == 0
    assert "estimator   MLPClassifier" in capsys.readouterr().out
    ort = pytest.importorskip("onnxruntime")
    onnx_path = files["dir"] / "clf.onnx"
    assert main(["export", path, "--onnx", str(onnx_path), "-q"]) == 0
    session = ort.InferenceSession(str(onnx_path))
    X = files["df"][["a", "b"]].to_numpy()
    label, proba = session.run(["label", "probabilities"], {"X": X})
    np.testing.assert_allclose(proba, files["clf"].predict_proba(X), rtol=1e-5, atol=1e-12)
    assert list(label) == list(files["clf"].predict(X))
    reg_onnx = files["dir"] / "reg.onnx"
    assert main(["export", str(files["dir"] / "reg.bprop"), "--onnx", str(reg_onnx), "-q"]) == 0
    (pred,) = ort.InferenceSession(str(reg_onnx)).run(["prediction"], {"X": X})
    np.testing.assert_allclose(pred, files["reg"].predict(X), rtol=1e-5, atol=1e-12)


def test_plot_and_info_of_a_checkpoint(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    data = tmp_path / "d.csv"
    _table().drop(columns="value").to_csv(data, index=False)
    out = tmp_path / "m.bprop"
    argv = ["train", str(data), "--target", "label", "--out", str(out), "--epochs", "4"]
    assert main([*argv, "--hidden", "3", "--checkpoint-every", "2", "-q"]) == 0
    ckpt = f"{out}.ckpt"
    assert main(["info", ckpt, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "checkpoint" and info["checkpoint"]["epoch"] == 4
    assert info["history"]["epochs"] == 4
    assert main(["plot", ckpt, "--out", str(tmp_path / "plots"), "-q"]) == 0
    assert [p.name for p in (tmp_path / "plots").iterdir()] == ["learning_curves.png"]


def test_plot_of_a_saved_estimator_and_not_of_a_bare_network(files, capsys):
    pytest.importorskip("matplotlib")
    plots = files["dir"] / "plots"
    assert main(["plot", str(files["dir"] / "clf.bprop"), "--out", str(plots), "-q"]) == 0
    assert [p.name for p in plots.iterdir()] == ["learning_curves.png"]
    bprop.Network([2, 1], seed=0).save(files["dir"] / "n.bprop")
    assert main(["plot", str(files["dir"] / "n.bprop"), "--out", str(plots)]) == 1
    assert "no training history" in capsys.readouterr().err


def test_evaluate_a_bare_network_as_a_regression(files, capsys):
    net = bprop.Network([2, 1], "tanh", "identity", seed=0)
    net.save(files["dir"] / "n.bprop")
    argv = ["evaluate", str(files["dir"] / "n.bprop"), str(files["reg_data"])]
    assert main([*argv, "--target", "value", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    pred = net.predict(files["df"][["a", "b"]].to_numpy())[:, 0]
    assert m["task"] == "regression"
    assert m["mae"] == pytest.approx(np.mean(np.abs(pred - files["df"]["value"])))
