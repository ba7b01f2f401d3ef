"""Bad input: one line saying what is wrong, exit status 1, no traceback, no output file."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bprop.cli import main

FAST = ["--epochs", "2", "--hidden", "3", "--no-progress", "-q"]


def _frame(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "colour": rng.choice(["red", "blue"], n),
            "y": np.tile(["yes", "no"], n // 2),
        }
    )


def _fails(capsys, argv: list[str], *fragments: str, status: int = 1) -> str:
    """Run the command, check the error contract, return the message."""
    assert main(argv) == status
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("bprop: error: "), err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in captured.err + captured.out
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.fixture
def model(tmp_path):
    data = tmp_path / "train.csv"
    _frame().to_csv(data, index=False)
    out = tmp_path / "m.bprop"
    assert main(["train", str(data), "--target", "y", "--out", str(out), *FAST]) == 0
    return out


# ---------------------------------------------------------------------------- train
def _train_fails(capsys, tmp_path, path, *fragments, extra=()):
    out = tmp_path / "never.bprop"
    _fails(
        capsys, ["train", str(path), "--target", "y", "--out", str(out), *FAST, *extra], *fragments
    )
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_missing_file(tmp_path, capsys):
    _train_fails(capsys, tmp_path, tmp_path / "nope.csv", "nope.csv", "no such file")


def test_directory_instead_of_file(tmp_path, capsys):
    (tmp_path / "dir.csv").mkdir()
    _train_fails(capsys, tmp_path, tmp_path / "dir.csv", "is a directory")


def test_unknown_format(tmp_path, capsys):
    path = tmp_path / "data.xlsx"
    path.write_text("x,y\n1,2\n")
    _train_fails(capsys, tmp_path, path, "unknown data format '.xlsx'", ".csv.gz or .parquet")


def test_empty_file(tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_text("")
    _train_fails(capsys, tmp_path, path, "empty")


def test_header_only(tmp_path, capsys):
    path = tmp_path / "header.csv"
    path.write_text("x,y\n")
    _train_fails(capsys, tmp_path, path, "no data rows")


def test_corrupt_parquet(tmp_path, capsys):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1 this is not parquet at all")
    _train_fails(capsys, tmp_path, path, "not a readable parquet file")


def test_missing_target_column(tmp_path, capsys):
    path = tmp_path / "d.csv"
    _frame().drop(columns="y").to_csv(path, index=False)
    _train_fails(capsys, tmp_path, path, "target column 'y' not found", "x, colour")


def test_non_numeric_cell_in_numeric_column(tmp_path, capsys):
    df = _frame().astype({"x": object})
    df.loc[6, "x"] = "12,5"
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    _train_fails(capsys, tmp_path, path, "column 'x'", "non-numeric", "data row 7", "'12,5'")


def test_empty_cells_without_impute(tmp_path, capsys):
    df = _frame()
    df.loc[3, "x"] = np.nan
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    _train_fails(capsys, tmp_path, path, "column 'x' has empty cells", "data row 4", "--impute")


def test_empty_target_cells(tmp_path, capsys):
    df = _frame()
    df.loc[0, "y"] = np.nan
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    _train_fails(capsys, tmp_path, path, "target column 'y' has empty cells", "data row 1")


def test_single_class(tmp_path, capsys):
    df = _frame()
    df["y"] = "yes"
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    _train_fails(capsys, tmp_path, path, "single class", "'yes'")


def test_unknown_rule_and_bad_hyperparameter(tmp_path, capsys):
    path = tmp_path / "d.csv"
    _frame().to_csv(path, index=False)
    _train_fails(capsys, tmp_path, path, "unknown update rule 'warp'", extra=["--rule", "warp"])
    _train_fails(capsys, tmp_path, path, "learning_rate", extra=["--lr", "-1"])


def test_unparseable_options_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "d.csv", "--target", "y", "--out", "m", "--hidden", "ten"])
    assert info.value.code == 2
    assert "hidden sizes must be comma-separated integers" in capsys.readouterr().err


# ---------------------------------------------------------------------------- predict
def _predict_fails(capsys, tmp_path, model, df, *fragments):
    path = tmp_path / "new.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "pred.csv"
    _fails(capsys, ["predict", str(model), str(path), "--out", str(out)], *fragments)
    assert not out.exists()


def test_predict_missing_column(tmp_path, capsys, model):
    _predict_fails(
        capsys, tmp_path, model, _frame().drop(columns="colour"), "missing column 'colour'"
    )


def test_predict_missing_column_names_the_files_other_columns(tmp_path, capsys, model):
    df = _frame().rename(columns={"colour": "color"})
    _predict_fails(capsys, tmp_path, model, df, "missing column 'colour'", "other columns: 'color'")


def test_predict_unseen_category(tmp_path, capsys, model):
    df = _frame()
    df.loc[2, "colour"] = "green"
    _predict_fails(
        capsys, tmp_path, model, df, "column 'colour'", "not seen in training", "'green'"
    )


def test_predict_empty_cell_without_impute(tmp_path, capsys, model):
    df = _frame()
    df.loc[5, "x"] = np.nan
    _predict_fails(capsys, tmp_path, model, df, "column 'x' has empty cells", "data row 6")


def test_predict_non_numeric_cell(tmp_path, capsys, model):
    df = _frame().astype({"x": object})
    df.loc[0, "x"] = "n/a?"
    _predict_fails(capsys, tmp_path, model, df, "column 'x'", "non-numeric")


def test_evaluate_without_target_column(tmp_path, capsys, model):
    path = tmp_path / "new.csv"
    _frame().drop(columns="y").to_csv(path, index=False)
    _fails(capsys, ["evaluate", str(model), str(path), "--target", "y"], "target column 'y'")


def test_evaluate_with_unknown_label(tmp_path, capsys, model):
    df = _frame()
    df.loc[0, "y"] = "maybe"
    path = tmp_path / "new.csv"
    df.to_csv(path, index=False)
    _fails(capsys, ["evaluate", str(model), str(path), "--target", "y"], "maybe")


# ---------------------------------------------------------------------------- model files
@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda b: b[: len(b) // 2], "m.bprop"),
        (lambda b: b"", "empty"),
        (lambda b: os.urandom(64), "m.bprop"),
        (
            lambda b: b[:8] + b.replace(b'"format_version\\": 1', b'"format_version\\": 9')[8:],
            "format version 9",
        ),
    ],
    ids=["truncated", "empty", "random bytes", "future version"],
)
def test_corrupted_model_file(tmp_path, capsys, model, damage, fragment):
    model.write_bytes(damage(model.read_bytes()))
    data = tmp_path / "new.csv"
    _frame().to_csv(data, index=False)
    out = tmp_path / "pred.csv"
    _fails(capsys, ["predict", str(model), str(data), "--out", str(out)], fragment)
    assert not out.exists()
    _fails(capsys, ["info", str(model)], fragment)


def test_missing_model_file(tmp_path, capsys):
    _fails(capsys, ["info", str(tmp_path / "none.bprop")], "none.bprop", "no such file")


def test_network_file_needs_as_many_numeric_columns_as_inputs(tmp_path, capsys):
    from bprop import Network

    Network([2, 1], seed=0).save(tmp_path / "n.bprop")
    data = tmp_path / "d.csv"
    _frame().to_csv(data, index=False)  # one numeric column, x
    _fails(
        capsys,
        ["predict", str(tmp_path / "n.bprop"), str(data)],
        "the model takes 2 inputs",
        "1 numeric columns (x)",
        "in order",
    )


def test_checkpoint_cannot_predict(tmp_path, capsys, model):
    data = tmp_path / "train.csv"
    out = tmp_path / "c.bprop"
    argv = ["train", str(data), "--target", "y", "--out", str(out), *FAST]
    assert main([*argv, "--checkpoint-every", "1"]) == 0
    _fails(capsys, ["predict", f"{out}.ckpt", str(data)], "holds a 'checkpoint'")


def test_old_tabular_model_file_says_to_retrain(tmp_path, capsys):
    from bprop import Network
    from bprop.training.model_file import write_model_file

    path = tmp_path / "old.bprop"
    write_model_file(path, Network([2, 1], seed=0), kind="tabular")
    _fails(capsys, ["info", str(path)], "older bprop", "retrain")


# ---------------------------------------------------------------------------- a real process
def _run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bprop.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_real_process_prints_one_line_and_exits_1(tmp_path):
    res = _run("train", "missing.csv", "--target", "y", "--out", "m.bprop", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr == "bprop: error: missing.csv: no such file\n"
    assert res.stdout == ""


def test_debug_shows_the_traceback(tmp_path):
    res = _run("train", "missing.csv", "--target", "y", "--out", "m.bprop", "--debug", cwd=tmp_path)
    assert res.returncode != 0
    assert "Traceback" in res.stderr and "DataError" in res.stderr


def test_unreadable_file(tmp_path, capsys, monkeypatch):
    # (the tests may run as root, for whom chmod 000 does not stop reading)
    path = tmp_path / "locked.csv"
    _frame().to_csv(path, index=False)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pd, "read_csv", denied)
    _train_fails(capsys, tmp_path, path, "locked.csv", "permission denied")


@pytest.mark.parametrize("where", ["missing directory", "a directory"])
def test_output_path_is_checked_before_training(tmp_path, capsys, monkeypatch, where):
    path = tmp_path / "d.csv"
    _frame().to_csv(path, index=False)
    out = tmp_path / "nope" / "m.bprop" if where == "missing directory" else tmp_path
    import bprop.training.trainer

    def no_training(*args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("training started before the output path was checked")

    monkeypatch.setattr(bprop.training.trainer.Trainer, "fit", no_training)
    _fails(
        capsys,
        ["train", str(path), "--target", "y", "--out", str(out), *FAST],
        "does not exist" if where == "missing directory" else "is a directory",
        status=2,  # an output path that cannot be written: before any work, as a usage error
    )


def test_evaluate_with_another_target_name(tmp_path, capsys, model):
    path = tmp_path / "new.csv"
    _frame().to_csv(path, index=False)
    _fails(capsys, ["evaluate", str(model), str(path), "--target", "x"], "predicts 'y', not 'x'")


def test_proba_of_a_regression_model(tmp_path, capsys):
    df = _frame().assign(y=np.arange(30.0) * 1.5)
    path = tmp_path / "r.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "r.bprop"
    assert main(["train", str(path), "--target", "y", "--out", str(out), *FAST]) == 0
    _fails(
        capsys,
        ["predict", str(out), str(path), "--proba", "--out", str(tmp_path / "p.csv")],
        "--proba needs a classification model",
    )
    assert not (tmp_path / "p.csv").exists()
