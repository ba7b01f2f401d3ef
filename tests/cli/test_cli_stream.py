"""``bprop train`` / ``bprop predict`` streaming Parquet data over ``--memory-limit``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from bprop.cli import main
from bprop.cli.common import Model, load_model
from bprop.cli.memory import IN_MEMORY_FACTOR, footprint, parse_size
from bprop.cli.stream import predict_in_blocks
from bprop.sklearn.streaming import fit_blocks, transform_blocks
from bprop.sklearn.tabular import infer_table, make_pipeline

# full-batch rules: a streamed run sums the same blocks in the same order as in memory
FAST = ["--epochs", "6", "--hidden", "5", "--no-progress", "--val-fraction", "0",
        "--patience", "0", "-q"]  # fmt: skip


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "size": rng.normal(10, 3, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "weight": rng.normal(0, 1, n),
        }
    )
    score = (df["size"] - 10) / 3 + df["weight"] + (df["colour"] == "red")
    df["kind"] = np.where(score > 0.5, "cat", "dog")
    df["price"] = 3 * df["weight"] + 0.5 * df["size"] + 100
    return df


def _summary(capsys, path, out, target, *extra) -> dict:
    args = ["train", str(path), "--target", target, "--out", str(out), *FAST, *extra]
    capsys.readouterr()
    assert main([a for a in args if a != "-q"] + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _predict(model, data, out, *extra) -> pd.DataFrame:
    assert main(["predict", str(model), str(data), "--out", str(out), "-q", *extra]) == 0
    return pd.read_parquet(out)


def test_parse_size():
    assert parse_size("2GB") == 2 * 10**9
    assert parse_size("500MB") == 500 * 10**6
    assert parse_size("1.5g") == 1_500_000_000
    assert parse_size("64KiB") == 65536
    assert parse_size("1024") == 1024
    assert parse_size("0") == 0


@pytest.mark.parametrize("size", ["2XB", "-1", "GB", "1.2.3MB"])
def test_bad_memory_limit_is_a_usage_error(tmp_path, capsys, size):
    with pytest.raises(SystemExit) as exc:
        main(["train", "d.parquet", "--target", "y", "--out", "m.bprop", "--memory-limit", size])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--memory-limit" in err and "like 2GB, 500MB" in err and repr(size) in err


def test_footprint_is_rows_columns_itemsize_factor(tmp_path):
    path = tmp_path / "d.parquet"
    _table(300).to_parquet(path, row_group_size=100)
    fp = footprint(str(path), np.float32)
    assert (fp.kind, fp.rows, fp.columns) == ("parquet", 300, 5)
    assert fp.estimate == int(300 * 5 * 4 * IN_MEMORY_FACTOR)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_streamed_run_equals_in_memory_run_with_one_row_group(tmp_path, capsys, task):
    """One row group: the streamed preprocessing and the full-batch sums are those of the
    in-memory run, so the predictions are equal bit for bit."""
    path = tmp_path / "d.parquet"
    target, drop, rule = ("kind", "price", "irprop+") if task == "classification" else (
        "price", "kind", "rprop-")  # fmt: skip
    _table().drop(columns=drop).to_parquet(path)
    mem = _summary(capsys, path, tmp_path / "mem.bprop", target, "--rule", rule)
    st = _summary(capsys, path, tmp_path / "st.bprop", target, "--rule", rule,
                  "--memory-limit", "1KB")  # fmt: skip
    assert (mem["streamed"], mem["data"]) == (False, "in memory, 400 rows")
    assert (st["streamed"], st["data"]) == (True, "streamed from Parquet, 400 rows")
    assert st["final_loss"] == mem["final_loss"]
    model = load_model(str(tmp_path / "st.bprop"))
    assert model.kind == "pipeline" and model.task == task
    extra = ["--proba"] if task == "classification" else []
    a = _predict(tmp_path / "mem.bprop", path, tmp_path / "a.parquet", *extra)
    b = _predict(tmp_path / "st.bprop", path, tmp_path / "b.parquet", *extra)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_streamed_directory_matches_in_memory_to_rounding(tmp_path, capsys):
    """A directory of files with several row groups: the scalers are fitted block by block
    (equal to rounding), the sums added in the same blocks."""
    data = tmp_path / "data"
    data.mkdir()
    df = _table(600).drop(columns="kind")
    df.iloc[:300].to_parquet(data / "part-0.parquet", row_group_size=128)
    df.iloc[300:].to_parquet(data / "part-1.parquet", row_group_size=128)
    mem = _summary(capsys, data, tmp_path / "mem.bprop", "price", "--rule", "irprop+")
    st = _summary(capsys, data, tmp_path / "st.bprop", "price", "--rule", "irprop+",
                  "--memory-limit", "0")  # fmt: skip
    assert mem["data"] == "in memory, 600 rows" and st["streamed"]
    a = _predict(tmp_path / "mem.bprop", data, tmp_path / "a.parquet")
    b = _predict(tmp_path / "st.bprop", data, tmp_path / "b.parquet", "--memory-limit", "0")
    np.testing.assert_allclose(b["prediction"], a["prediction"], rtol=1e-9)
    assert not np.array_equal(a["prediction"], df["price"])  # (predictions, not the target)


def test_streamed_run_holds_out_validation_rows_and_prints_its_line(tmp_path, capsys):
    path = tmp_path / "d.parquet"
    _table(500).drop(columns="price").to_parquet(path, row_group_size=100)
    args = ["train", str(path), "--target", "kind", "--out", str(tmp_path / "m.bprop"),
            "--epochs", "5", "--hidden", "4", "--rule", "irprop+", "--no-progress",
            "--memory-limit", "1KB"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "data: streamed from Parquet, 500 rows" in out
    assert "validation accuracy" in out
    record = load_model(str(tmp_path / "m.bprop")).metadata["training"]
    assert record["streamed"] is True and record["rows"] == 500


def test_streamed_run_refuses_plots(tmp_path, capsys):
    path = tmp_path / "d.parquet"
    _table(100).to_parquet(path)
    base = ["train", str(path), "--target", "kind", "--out", str(tmp_path / "m.bprop"),
            "--memory-limit", "0"]  # fmt: skip
    assert main([*base, "--plots", str(tmp_path)]) == 1
    assert "--plots reads the training file into memory" in capsys.readouterr().err


def test_csv_over_the_limit_is_refused_before_reading(tmp_path, capsys, monkeypatch):
    path = tmp_path / "data.csv"
    _table(50).to_csv(path, index=False)

    def no_read(*args, **kwargs):
        raise AssertionError("the CSV file was read")

    monkeypatch.setattr(pd, "read_csv", no_read)
    out = tmp_path / "m.bprop"
    code = main(["train", str(path), "--target", "kind", "--out", str(out),
                 "--memory-limit", "1KB"])  # fmt: skip
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "convert it to Parquet" in err
    assert f"bprop convert {path} {tmp_path / 'data.parquet'}" in err


def test_predict_streams_block_by_block(tmp_path, capsys, monkeypatch):
    path = tmp_path / "d.parquet"
    _table(500).drop(columns="price").to_parquet(path, row_group_size=64)
    model = tmp_path / "m.bprop"
    assert main(["train", str(path), "--target", "kind", "--out", str(model),
                 "--rule", "irprop+", *FAST]) == 0  # fmt: skip
    whole = _predict(model, path, tmp_path / "a.parquet", "--proba")
    seen: list[int] = []
    predict = Model.predict

    def counting(self, df, target=None):
        seen.append(len(df))
        return predict(self, df, target)

    monkeypatch.setattr(Model, "predict", counting)
    streamed = _predict(model, path, tmp_path / "b.parquet", "--proba", "--memory-limit", "1KB")
    assert max(seen) == 64 and sum(seen) == 500  # one row group at a time, every row
    pd.testing.assert_frame_equal(streamed, whole, check_exact=False, rtol=1e-12)
    assert (streamed["prediction"] == whole["prediction"]).all()
    code = main(["predict", str(model), str(path), "--memory-limit", "0"])
    assert code == 1 and "give --out PREDICTIONS.parquet" in capsys.readouterr().err


def test_in_memory_blocks_give_the_predictions_of_one_pass(tmp_path):
    path = tmp_path / "d.parquet"
    df = _table(300).drop(columns="price")
    df.to_parquet(path)
    model = tmp_path / "m.bprop"
    assert main(["train", str(path), "--target", "kind", "--out", str(model),
                 "--rule", "irprop+", *FAST]) == 0  # fmt: skip
    m = load_model(str(model))
    pred, proba = m.predict(df, None)
    bpred, bproba = predict_in_blocks(m, df, None, rows=7)
    assert (bpred == pred).all()
    np.testing.assert_allclose(bproba, proba, rtol=1e-12)


def test_fit_and_transform_in_blocks_equal_fit_transform():
    df = _table(1000)
    ct = make_pipeline(infer_table(df, "price"), None).steps[0][1]
    whole = clone(ct).fit_transform(df)
    X1 = transform_blocks(fit_blocks(clone(ct), df), df, np.float64)  # one block: exactly fit
    np.testing.assert_array_equal(X1, whole)
    assert X1.flags.c_contiguous
    X2 = transform_blocks(fit_blocks(clone(ct), df, rows=64), df, np.float32, rows=64)
    assert X2.dtype == np.float32
    np.testing.assert_allclose(X2, whole, rtol=1e-6, atol=1e-6)
