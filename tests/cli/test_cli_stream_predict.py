"""Streamed ``bprop train`` / ``bprop predict`` with ``--na-values`` and ``--keep``: the
same results as the in-memory path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bprop.cli import main
from bprop.cli.common import load_model

RUN = ["--epochs", "5", "--hidden", "4", "--rule", "irprop+", "--val-fraction", "0",
       "--patience", "0", "--no-progress", "--impute", "--na-values", "?"]  # fmt: skip


def _table(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64) * 7,
            "size": rng.normal(10, 3, n),
            "colour": rng.choice(["red", "green", "blue", "?"], n),
            "note": rng.choice(["x", "y", "?"], n),
        }
    )
    df.loc[df.index[:40], "note"] = None  # all missing in the first row group
    df["kind"] = np.where((df["size"] - 10) / 3 + (df["colour"] == "red") > 0.3, "cat", "dog")
    return df


def _train(capsys, path, out, *extra) -> dict:
    capsys.readouterr()
    argv = ["train", str(path), "--target", "kind", "--out", str(out), "--drop", "id",
            "--drop", "note", *RUN, "--json", *extra]  # fmt: skip
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _predict(model, data, out, *extra) -> pd.DataFrame:
    assert main(["predict", str(model), str(data), "--out", str(out), "-q", *extra]) == 0
    return pd.read_parquet(out)


def test_streamed_run_reads_na_values_as_in_memory(tmp_path, capsys):
    """One row group: the streamed preprocessing is the in-memory one, '?' read as missing
    in the text column (imputed, not a category), and the predictions agree bit for bit."""
    path = tmp_path / "d.parquet"
    _table().to_parquet(path)
    mem = _train(capsys, path, tmp_path / "mem.bprop")
    st = _train(capsys, path, tmp_path / "st.bprop", "--memory-limit", "0")
    assert (mem["streamed"], st["streamed"]) == (False, True)
    assert st["final_loss"] == mem["final_loss"]
    for name in ("mem", "st"):
        pipe = load_model(str(tmp_path / f"{name}.bprop")).pipeline
        group = pipe.named_steps["columns"].named_transformers_["categorical"]
        cats = [list(c) for c in group.named_steps["encode"].categories_]
        assert cats == [["blue", "green", "red"]]  # no '?' category: imputed
    a = _predict(tmp_path / "mem.bprop", path, tmp_path / "a.parquet", "--proba",
                 "--na-values", "?")  # fmt: skip
    b = _predict(tmp_path / "st.bprop", path, tmp_path / "b.parquet", "--proba",
                 "--na-values", "?", "--memory-limit", "0")  # fmt: skip
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_streamed_na_values_refuse_a_target_cell_as_in_memory(tmp_path, capsys):
    path = tmp_path / "d.parquet"
    df = _table()
    df.loc[7, "kind"] = "?"
    df.to_parquet(path, row_group_size=100)
    for limit in ([], ["--memory-limit", "0"]):
        argv = ["train", str(path), "--target", "kind", "--out", str(tmp_path / "m.bprop"),
                "--drop", "id", "--drop", "note", *RUN, *limit]  # fmt: skip
        capsys.readouterr()
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "target" in err and ("empty" in err or "--na-values" in err)
        assert not (tmp_path / "m.bprop").exists()


def test_streamed_predict_keeps_columns_as_in_memory(tmp_path, capsys):
    path = tmp_path / "d.parquet"
    _table().to_parquet(path, row_group_size=64)
    model = tmp_path / "m.bprop"
    _train(capsys, path, model)
    keep = ["--keep", "note", "--keep", "id", "--keep", "note", "--proba", "--na-values", "?"]
    a = _predict(model, path, tmp_path / "a.parquet", *keep)
    b = _predict(model, path, tmp_path / "b.parquet", *keep, "--memory-limit", "0")
    assert list(b.columns) == ["note", "id", "prediction", "proba_cat", "proba_dog"]
    assert b["note"].isna().sum() == (_table()["note"].isin(["?"]) | _table()["note"].isna()).sum()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
    assert (a["prediction"] == b["prediction"]).all()


@pytest.mark.parametrize("limit", [[], ["--memory-limit", "0"]])
def test_keep_errors_are_the_same_streamed_and_in_memory(tmp_path, capsys, limit):
    path = tmp_path / "d.parquet"
    _table().assign(proba_cat=1.0).to_parquet(path, row_group_size=64)
    model = tmp_path / "m.bprop"
    _train(capsys, path, model)
    out = tmp_path / "p.parquet"
    base = ["predict", str(model), str(path), "--out", str(out), *limit]
    assert main([*base, "--keep", "nope"]) == 1
    assert "--keep column 'nope' not found; the columns are: id, size" in capsys.readouterr().err
    assert main([*base, "--keep", "id", "--proba", "--keep", "proba_cat"]) == 1
    assert "--keep proba_cat: the output has its own 'proba_cat' column" in (
        capsys.readouterr().err
    )
    assert not out.exists()
