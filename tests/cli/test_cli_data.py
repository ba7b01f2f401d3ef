"""The data side of the command line: the task line, column-kind errors, extra columns
and --keep in predict, evaluate's default target, gzip, stdin/stdout and --na-values."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pandas as pd
import pytest

from bprop.cli import main
from bprop.cli.common import load_model, sha256
from bprop.sklearn.classifier import MLPClassifier

FAST = ["--epochs", "2", "--hidden", "3", "--no-progress"]


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n).round(3),
            "colour": rng.choice(["red", "blue"], n),
            "y": np.tile([0.0, 1.0], n // 2),
        }
    )


def _error(capsys, argv) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("bprop: error: ") and len(err.splitlines()) == 1, err
    return err


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "d.csv"
    _frame().to_csv(path, index=False)
    return path


@pytest.fixture
def model(tmp_path, csv):
    out = tmp_path / "m.bprop"
    assert main(["train", str(csv), "--target", "y", "--out", str(out), *FAST, "-q"]) == 0
    return out


def test_a_float_zero_one_target_is_classification_and_the_task_is_printed(tmp_path, csv, capsys):
    out = tmp_path / "m.bprop"
    assert main(["train", str(csv), "--target", "y", "--out", str(out), *FAST]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "task: classification (2 classes), inferred; --task to override"
    assert main(["info", str(out), "--json"]) == 0
    assert "classification" in capsys.readouterr().out
    argv = ["train", str(csv), "--target", "y", "--out", str(out), *FAST]
    assert main([*argv, "--task", "regression"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "task: regression, given (--task)"
    assert main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)  # nothing but the JSON on stdout
    assert summary["task"] == "classification" and summary["task_inferred"] is True


def test_a_typo_in_a_numeric_column_is_an_error_naming_the_data_row(tmp_path, capsys):
    df = _frame().astype({"x": object})
    df.loc[9, "x"] = "4x.1"
    path = tmp_path / "typo.csv"
    df.to_csv(path, index=False)
    err = _error(capsys, ["train", str(path), "--target", "y", "--out", str(tmp_path / "m")])
    for part in ("column 'x'", "data row 10: '4x.1'", "--na-values", "--categorical x"):
        assert part in err, err


def test_an_id_column_is_an_error_and_drop_is_the_way_on(tmp_path, capsys):
    df = _frame().assign(name=[f"p{i}" for i in range(40)])
    path = tmp_path / "ids.csv"
    df.to_csv(path, index=False)
    argv = ["train", str(path), "--target", "y", "--out", str(tmp_path / "m"), *FAST, "-q"]
    err = _error(capsys, argv)
    assert "column 'name' looks like an identifier" in err and "--drop name" in err
    assert main([*argv, "--drop", "name"]) == 0


def test_regression_on_a_string_target_suggests_no_train_only_column_flag(tmp_path, capsys):
    path = tmp_path / "s.csv"
    _frame().assign(y=np.tile(["yes", "no"], 20)).to_csv(path, index=False)
    argv = ["train", str(path), "--target", "y", "--out", str(tmp_path / "m"), "--task"]
    err = _error(capsys, [*argv, "regression"])
    assert "target column 'y'" in err and "--task regression" in err
    assert "--categorical" not in err


def test_predict_ignores_extra_columns_and_keeps_the_asked_ones(tmp_path, model, capsys):
    df = _frame().assign(id=np.arange(100, 140), prediction="old")
    path = tmp_path / "new.csv"
    df.to_csv(path, index=False)
    pred = tmp_path / "p.csv"
    argv = ["predict", str(model), str(path), "--out", str(pred), "-q"]
    assert main([*argv, "--keep", "id", "--keep", "colour", "--proba"]) == 0
    got = pd.read_csv(pred)
    assert list(got.columns) == ["id", "colour", "prediction", "proba_0.0", "proba_1.0"]
    assert list(got["id"]) == list(range(100, 140))
    assert main(argv) == 0
    plain = pd.read_csv(pred)
    assert list(plain.columns) == ["prediction"]
    np.testing.assert_array_equal(plain["prediction"], got["prediction"])
    err = _error(capsys, [*argv, "--keep", "ID"])
    assert "--keep column 'ID' not found" in err
    err = _error(capsys, [*argv, "--keep", "prediction"])
    assert "its own 'prediction' column" in err


def test_predict_suggests_only_its_own_flags(tmp_path, model, capsys):
    df = _frame().astype({"x": object})
    df.loc[3, "x"] = "?"
    path = tmp_path / "new.csv"
    df.to_csv(path, index=False)
    err = _error(capsys, ["predict", str(model), str(path)])
    assert "data row 4: '?'" in err and "--na-values" in err and "--categorical" not in err
    for command in (["predict", str(model)], ["evaluate", str(model)]):
        err = _error(capsys, [*command, str(path), "--na-values", "?"])
        assert "empty cells (data row 4)" in err and "trained without --impute" in err


def test_na_values_on_train_predict_and_evaluate(tmp_path, capsys):
    df = _frame().astype({"x": object})
    df.loc[[3, 7], "x"] = ["?", "-"]
    path = tmp_path / "q.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "m.bprop"
    argv = ["train", str(path), "--target", "y", "--out", str(out), *FAST, "-q", "--impute"]
    assert main([*argv, "--na-values", "?,-"]) == 0
    assert main(["predict", str(out), str(path), "--na-values", "?", "--na-values", "-"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 41
    assert main(["evaluate", str(out), str(path), "--na-values", "?,-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 40


def test_evaluate_defaults_to_the_models_target(tmp_path, csv, model, capsys):
    assert main(["evaluate", str(model), str(csv), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "classification" and result["rows"] == 40
    df = _frame()
    est = MLPClassifier(hidden_layer_sizes=(2,), max_iter=2, random_state=0)
    est.fit(df[["x"]].to_numpy(), df["y"].to_numpy())
    est.save(tmp_path / "est.bprop")
    err = _error(capsys, ["evaluate", str(tmp_path / "est.bprop"), str(csv)])
    assert "does not name its target column; give --target COL" in err


def test_gzip_and_stdin_stdout(tmp_path, monkeypatch, capsys):
    df = _frame()
    gz = tmp_path / "d.csv.gz"
    df.to_csv(gz, index=False, compression="gzip")
    out = tmp_path / "m.bprop"
    assert main(["train", str(gz), "--target", "y", "--out", str(out), *FAST, "-q"]) == 0
    raw = df.to_csv(index=False).encode()

    def stdin() -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))

    stdin()
    assert main(["predict", str(out), "-", "--out", "-"]) == 0
    from_stdin = capsys.readouterr().out
    assert main(["predict", str(out), str(gz)]) == 0
    assert capsys.readouterr().out == from_stdin and len(from_stdin.splitlines()) == 41
    stdin()
    assert main(["evaluate", str(out), "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 40
    stdin()
    again = tmp_path / "again.bprop"
    assert main(["train", "-", "--target", "y", "--out", str(again), *FAST, "-q"]) == 0
    (tmp_path / "same.csv").write_bytes(raw)
    digest = load_model(str(again)).metadata["training"]["data_sha256"]
    assert digest == sha256(str(tmp_path / "same.csv"))  # stdin's bytes, as a file's
    err = _error(capsys, ["train", "-", "--out", str(again), "--resume", "x.ckpt"])
    assert "give the file, not -" in err
