"""The bprop command end to end on small files: train, predict, evaluate, info, plot."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

import bprop
import bprop.cli.train as train_module
from bprop.cli import main
from bprop.cli.common import load_model
from bprop.cli.stream import predict_rows
from bprop.sklearn.tabular import final_estimator

FAST = ["--epochs", "8", "--hidden", "6", "--no-progress", "--lr", "0.1"]


def _steps(pipeline: Pipeline) -> dict:
    """The fitted steps of a pipeline bprop train wrote, by role."""
    groups = {n: t for n, t, _ in pipeline.named_steps["columns"].transformers_}
    steps = {"mlp": final_estimator(pipeline)}
    for group in ("numeric", "categorical"):
        for name, step in getattr(groups.get(group), "steps", []):
            steps[f"{group}.{name}"] = step
    return steps


def _classification(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "size": rng.normal(10, 3, n),
            "weight": rng.normal(0, 1, n),
            "colour": rng.choice(["red", "green", "blue"], n),
        }
    )
    score = (df["size"] - 10) / 3 + df["weight"] + (df["colour"] == "red")
    df["kind"] = np.where(score > 0.5, "cat", "dog")
    return df


def _regression(n: int = 60, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.uniform(0, 100, n), "site": rng.choice(["a", "b"], n)}
    )
    df["price"] = 3 * df["x1"] + 0.05 * df["x2"] + (df["site"] == "a") + 1000
    return df


@pytest.fixture
def cls_csv(tmp_path):
    path = tmp_path / "animals.csv"
    _classification().to_csv(path, index=False)
    return path


@pytest.fixture
def reg_parquet(tmp_path):
    path = tmp_path / "houses.parquet"
    _regression().to_parquet(path)
    return path


def test_train_classification_writes_a_model_that_predicts_raw_files(tmp_path, cls_csv, capsys):
    out = tmp_path / "m.bprop"
    assert main(["train", str(cls_csv), "--target", "kind", "--out", str(out), *FAST]) == 0
    text = capsys.readouterr().out
    assert "classification" in text and "stop reason" in text and "validation accuracy" in text
    model = bprop.load(out)
    assert isinstance(model, Pipeline)  # a scikit-learn pipeline, ready for DataFrames
    steps = _steps(model)
    assert list(model.classes_) == ["cat", "dog"]
    assert model.named_steps["columns"].transformers_[0][2] == ["size", "weight"]
    assert model.named_steps["columns"].transformers_[1][2] == ["colour"]
    net = steps["mlp"].network_
    assert net.sizes == (5, 6, 1)  # 2 numeric + 3 colours; 2 classes: one output
    # the stored preprocessing is the training file's statistics
    df = pd.read_csv(cls_csv)
    scaler, encoder = steps["numeric.scale"], steps["categorical.encode"]
    assert scaler.mean_[0] == pytest.approx(df["size"].mean())
    assert scaler.scale_[0] == pytest.approx(df["size"].std(ddof=0))
    assert list(encoder.categories_[0]) == ["blue", "green", "red"]

    pred_path = tmp_path / "pred.csv"
    assert main(["predict", str(out), str(cls_csv), "--out", str(pred_path), "--proba", "-q"]) == 0
    pred = pd.read_csv(pred_path)
    assert list(pred.columns) == ["prediction", "proba_cat", "proba_dog"]
    np.testing.assert_allclose(pred["proba_cat"] + pred["proba_dog"], 1.0)
    # predict applies the stored preprocessing: same as transforming by hand
    X = np.column_stack(
        [
            (df["size"] - scaler.mean_[0]) / scaler.scale_[0],
            (df["weight"] - scaler.mean_[1]) / scaler.scale_[1],
            *[(df["colour"] == c).astype(float) for c in ("blue", "green", "red")],
        ]
    )
    o = net.predict(X)[:, 0]
    np.testing.assert_allclose(pred["proba_dog"], o, rtol=0, atol=1e-12)
    assert list(pred["prediction"]) == list(np.where(o > 0.5, "dog", "cat"))


def test_train_regression_on_parquet_and_evaluate(tmp_path, reg_parquet, capsys):
    out = tmp_path / "r.bprop"
    assert (
        main(["train", str(reg_parquet), "--target", "price", "--out", str(out), *FAST, "--json"])
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["task"] == "regression" and summary["network"] == [4, 6, 1]
    assert set(summary["validation"]) == {"r2", "mae", "rmse"}
    assert main(["evaluate", str(out), str(reg_parquet), "--target", "price", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    model = bprop.load(out)
    df = pd.read_parquet(reg_parquet)
    pred = model.predict(df)
    # predictions are on the original scale of the target (standardised inside)
    assert abs(pred.mean() - df["price"].mean()) < 5 * df["price"].std()
    from sklearn.metrics import mean_absolute_error, r2_score

    assert metrics["mae"] == pytest.approx(mean_absolute_error(df["price"], pred))
    assert metrics["r2"] == pytest.approx(r2_score(df["price"], pred))


def test_evaluate_classification_prints_accuracy_f1_and_confusion_matrix(tmp_path, cls_csv, capsys):
    out = tmp_path / "m.bprop"
    main(["train", str(cls_csv), "--target", "kind", "--out", str(out), *FAST, "-q"])
    capsys.readouterr()
    assert main(["evaluate", str(out), str(cls_csv), "--target", "kind", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    model = bprop.load(out)
    df = pd.read_csv(cls_csv)
    pred = model.predict(df)
    from sklearn.metrics import confusion_matrix, f1_score

    assert m["accuracy"] == pytest.approx(np.mean(pred == df["kind"]))
    assert m["f1_macro"] == pytest.approx(f1_score(df["kind"], pred, average="macro"))
    assert (
        m["confusion_matrix"] == confusion_matrix(df["kind"], pred, labels=["cat", "dog"]).tolist()
    )
    assert main(["evaluate", str(out), str(cls_csv), "--target", "kind"]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "confusion matrix" in text and "F1" in text


def test_multiclass_uses_softmax_and_integer_labels_are_classes(tmp_path, capsys):
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"a": rng.normal(size=45), "b": rng.normal(size=45)})
    df["digit"] = np.repeat([3, 5, 7], 15)
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "d.bprop"
    assert main(["train", str(path), "--target", "digit", "--out", str(out), *FAST, "-q"]) == 0
    model = bprop.load(out)
    assert list(model.classes_) == [3, 5, 7]
    net = final_estimator(model).network_
    assert net.activations[-1].name == "softmax" and net.n_outputs == 3
    assert set(model.predict(df)) <= {3, 5, 7}
    assert load_model(str(out)).metadata["loss"] == "categorical_cross_entropy"


def test_task_override_and_settings(tmp_path, cls_csv):
    df = pd.read_csv(cls_csv)
    df["kind"] = (df["kind"] == "dog").astype(int)
    path = tmp_path / "n.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "n.bprop"
    args = [
        "train",
        str(path),
        "--target",
        "kind",
        "--out",
        str(out),
        "--task",
        "regression",
        "--hidden",
        "3,2",
        "--activation",
        "relu,logistic",
        "--rule",
        "nesterov",
        "--param",
        "momentum=0.5",
        "--mode",
        "online",
        "--epochs",
        "2",
        "--dtype",
        "float32",
        "--val-fraction",
        "0",
        "--seed",
        "4",
        "-q",
    ]
    assert main(args) == 0
    model = load_model(str(out))
    assert model.task == "regression"
    net = model.network
    assert net.sizes == (5, 3, 2, 1) and net.dtype == np.float32
    assert [a.name for a in net.activations] == ["relu", "logistic", "identity"]
    t = model.metadata["training"]
    assert (t["rule"], t["mode"], t["seed"], t["val_fraction"]) == ("nesterov", "online", 4, 0.0)
    assert t["rule_hyperparameters"]["momentum"] == 0.5
    assert model.history.epochs == 2 and model.metadata["metrics"] == {}
    assert final_estimator(model.pipeline).batch_size == 1  # online: one pattern per update


def test_same_seed_gives_the_same_model(tmp_path, cls_csv):
    a, b = tmp_path / "a.bprop", tmp_path / "b.bprop"
    for out in (a, b):
        main(["train", str(cls_csv), "--target", "kind", "--out", str(out), *FAST, "-q"])
    params = [final_estimator(bprop.load(p)).network_.params for p in (a, b)]
    assert np.array_equal(*params)


def test_info_describes_the_model(tmp_path, cls_csv, capsys):
    out = tmp_path / "m.bprop"
    main(["train", str(cls_csv), "--target", "kind", "--out", str(out), *FAST, "-q"])
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "pipeline" and info["bprop_version"] == bprop.__version__
    assert info["network"]["sizes"] == [5, 6, 1]
    assert info["table"]["target"] == "kind" and info["classes"] == ["cat", "dog"]
    assert [c["kind"] for c in info["columns"]] == ["numeric", "numeric", "categorical"]
    assert info["training"]["epochs"] == 8 and info["history"]["epochs"] >= 1
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("network", "5-6-1", "colour: one-hot", "history", "bprop 0"):
        assert word in text


def test_info_reads_a_bare_network_file(tmp_path, capsys):
    bprop.Network([2, 3, 1], seed=0).save(tmp_path / "n.bprop")
    assert main(["info", str(tmp_path / "n.bprop")]) == 0
    assert "2-3-1" in capsys.readouterr().out


def test_predict_to_stdout_and_parquet(tmp_path, cls_csv, capsys):
    out = tmp_path / "m.bprop"
    main(["train", str(cls_csv), "--target", "kind", "--out", str(out), *FAST, "-q"])
    capsys.readouterr()
    df = pd.read_csv(cls_csv).drop(columns="kind")  # no target needed to predict
    raw = tmp_path / "new.csv"
    df.to_csv(raw, index=False)
    assert main(["predict", str(out), str(raw)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "prediction" and len(lines) == len(df) + 1
    assert main(["predict", str(out), str(raw), "--out", str(tmp_path / "p.parquet"), "-q"]) == 0
    assert list(pd.read_parquet(tmp_path / "p.parquet")["prediction"]) == lines[1:]


def test_impute_fills_empty_cells_with_training_statistics(tmp_path):
    df = _classification()
    df.loc[[1, 4], "size"] = np.nan
    df.loc[2, "colour"] = np.nan
    path = tmp_path / "holes.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "m.bprop"
    assert (
        main(["train", str(path), "--target", "kind", "--out", str(out), *FAST, "--impute", "-q"])
        == 0
    )
    model = bprop.load(out)
    steps = _steps(model)
    size_fill = steps["numeric.impute"].statistics_[0]
    colour_fill = steps["categorical.impute"].statistics_[0]
    assert size_fill == pytest.approx(df["size"].mean())  # pandas' mean skips NaN
    counts = df["colour"].value_counts()
    assert colour_fill == sorted(counts[counts == counts.max()].index)[0]  # ties: first sorted
    X = model[:-1].transform(df.iloc[[1, 2]].drop(columns="kind"))
    scaler, encoder = steps["numeric.scale"], steps["categorical.encode"]
    assert X[0, 0] == pytest.approx((size_fill - scaler.mean_[0]) / scaler.scale_[0])
    assert X[1, 2 + list(encoder.categories_[0]).index(colour_fill)] == 1


def test_plots_are_written(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    df = _classification()[["size", "weight", "kind"]]
    path = tmp_path / "two.csv"
    df.to_csv(path, index=False)
    out, plots = tmp_path / "m.bprop", tmp_path / "plots"
    main(
        [
            "train",
            str(path),
            "--target",
            "kind",
            "--out",
            str(out),
            *FAST,
            "--plots",
            str(plots),
            "-q",
        ]
    )
    names = sorted(p.name for p in plots.iterdir())
    assert names == ["confusion_matrix.png", "decision_boundary.png", "learning_curves.png"]
    assert all((plots / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)
    assert main(["plot", str(out), "--out", str(tmp_path / "again")]) == 0
    assert [p.name for p in (tmp_path / "again").iterdir()] == ["learning_curves.png"]
    assert main(["plot", str(out), "--data", str(path), "--out", str(tmp_path / "all")]) == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == names


def test_help_everywhere(capsys):
    for command in ("train", "predict", "evaluate", "info", "export", "explain", "plot", "demo"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: bprop " + command in capsys.readouterr().out
    assert main([]) == 2


@pytest.mark.parametrize(
    "rule, mode, loss",
    [
        ("irprop-", "batch", "binary_cross_entropy"),
        ("adam", "minibatch", "binary_cross_entropy"),
    ],
)
def test_mode_and_loss_follow_the_rule_unless_given(tmp_path, cls_csv, rule, mode, loss):
    out = tmp_path / "m.bprop"
    argv = [
        "train",
        str(cls_csv),
        "--target",
        "kind",
        "--out",
        str(out),
        "--epochs",
        "2",
        "--hidden",
        "3",
        "--rule",
        rule,
        "-q",
    ]
    assert main(argv) == 0
    model = load_model(str(out))
    assert (model.metadata["training"]["mode"], model.metadata["loss"]) == (mode, loss)


def test_levenberg_marquardt_trains_regression_in_batch_mode(tmp_path, reg_parquet):
    out = tmp_path / "r.bprop"
    argv = ["train", str(reg_parquet), "--target", "price", "--out", str(out)]
    assert main([*argv, "--epochs", "2", "--hidden", "3", "--rule", "lm", "-q"]) == 0
    model = load_model(str(out))
    assert (model.metadata["training"]["mode"], model.metadata["loss"]) == (
        "batch",
        "squared_error",
    )


def test_levenberg_marquardt_on_classes_says_why_it_cannot(tmp_path, cls_csv, capsys):
    argv = ["train", str(cls_csv), "--target", "kind", "--out", str(tmp_path / "m.bprop")]
    assert main([*argv, "--epochs", "2", "--rule", "lm", "-q"]) == 1
    assert "sum-of-squares loss" in capsys.readouterr().err


@pytest.mark.parametrize("rule", ["irprop+", "adam"])
def test_parquet_inputs_read_again_by_row_group_train_as_from_the_table(
    tmp_path, monkeypatch, rule
):
    """Float-only Parquet data: the network's inputs are read from the file a second time,
    row group by row group, after the table is gone; the model equals the one trained on
    the inputs transformed from the table in memory."""
    df = _regression(n=300).drop(columns="site")
    df.loc[[7, 120], "x2"] = np.nan
    path = tmp_path / "floats.parquet"
    df.to_parquet(path, row_group_size=64)
    argv = ["train", str(path), "--target", "price", "--impute", "--rule", rule,
            "--val-fraction", "0.2", *FAST, "-q"]  # fmt: skip
    calls = []
    reread = train_module.transform_parquet
    monkeypatch.setattr(train_module, "transform_parquet", lambda *a: calls.append(a) or reread(*a))
    assert main([*argv, "--out", str(tmp_path / "a.bprop")]) == 0
    assert len(calls) == 1
    monkeypatch.setattr(train_module, "reads_as_floats", lambda *a: False)
    assert main([*argv, "--out", str(tmp_path / "b.bprop")]) == 0
    assert len(calls) == 1
    a, b = (load_model(tmp_path / f"{k}.bprop") for k in "ab")
    np.testing.assert_array_equal(a.network.params, b.network.params)
    assert np.isfinite(a.network.params).all()


def test_predict_rows_predicts_block_by_block_as_at_once():
    X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 3
    model = bprop.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with pytest.warns(Warning):
        model.fit(X, y)
    rows = np.array([7, 3, 49, 0, 12, 12, 30])
    np.testing.assert_array_equal(predict_rows(model, X, rows, block=3), model.predict(X[rows]))
