"""Data files: formats (gzip, stdin/stdout), extra empty-cell markers, and row numbers."""

from __future__ import annotations

import hashlib
import io
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from bprop.sklearn.table_files import (  # noqa: E402
    DataError,
    data_format,
    read_table,
    rows_text,
    write_table,
)


def _frame(n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    return pd.DataFrame({"num": rng.normal(3, 2, n), "cat": rng.choice(["b", "a", "c"], n)})


def test_read_table_formats(tmp_path):
    df = _frame()
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    df.to_parquet(tmp_path / "a.parquet")
    df.to_csv(tmp_path / "a.csv.gz", index=False, compression="gzip")
    df.to_csv(tmp_path / "a.tsv.gz", index=False, sep="\t", compression="gzip")
    for name in ("a.csv", "a.tsv", "a.parquet", "a.csv.gz", "a.tsv.gz"):
        got = read_table(tmp_path / name)
        assert list(got.columns) == list(df.columns) and len(got) == len(df), name
        np.testing.assert_allclose(got["num"], df["num"])
    (tmp_path / "dup.csv").write_text("a,a\n1,2\n")
    assert list(read_table(tmp_path / "dup.csv").columns) == ["a", "a.1"]  # pandas renames


def test_gzip_is_really_decompressed_and_written(tmp_path):
    df = _frame()
    write_table(df, tmp_path / "out.csv.gz")
    assert (tmp_path / "out.csv.gz").read_bytes()[:2] == b"\x1f\x8b"  # the gzip magic
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out.csv.gz"), df)
    (tmp_path / "plain.csv.gz").write_text("num,cat\n1,a\n")  # not gzip inside
    with pytest.raises(DataError, match="plain.csv.gz: not a gzip file"):
        read_table(tmp_path / "plain.csv.gz")


@pytest.mark.parametrize("name", ["a.xlsx", "a.parquet.gz", "a", "a.gz"])
def test_unknown_formats(name):
    with pytest.raises(DataError, match="unknown data format"):
        data_format(name)


def test_stdin_is_csv_with_its_digest(monkeypatch):
    raw = b"num,cat\n1.5,a\n?,b\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    df = read_table("-", na_values=["?"])
    assert list(df["cat"]) == ["a", "b"] and np.isnan(df["num"][1])
    assert df.attrs["sha256"] == hashlib.sha256(raw).hexdigest()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\n")))
    with pytest.raises(DataError, match="stdin is empty"):
        read_table("-")


def test_na_values_in_csv_and_parquet(tmp_path):
    df = pd.DataFrame({"num": ["1.5", "?", "2"], "cat": ["a", "-", "?"]})
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_parquet(tmp_path / "a.parquet")
    for name in ("a.csv", "a.parquet"):
        plain = read_table(tmp_path / name)
        assert not plain.isna().any().any(), name
        got = read_table(tmp_path / name, na_values=["?", "-"])
        assert got.isna().to_numpy().tolist() == [[False, False], [True, True], [False, True]]


def test_rows_are_data_rows_counted_from_one():
    assert rows_text(np.array([False, False, False, True])) == "data row 4"
    assert rows_text(np.arange(7) < 7) == "data rows 1, 2, 3, 4, 5, ... (7 in all)"
    chunk = pd.Series([1.0, np.nan, 3.0], index=pd.RangeIndex(100, 103))  # rows 101-103
    assert rows_text(chunk.isna(), chunk.index) == "data row 102"
    shuffled = pd.Series([1.0, np.nan], index=[7, 3])  # not a reader's index: positions
    assert rows_text(shuffled.isna(), shuffled.index) == "data row 2"
