"""read_parquet_frame: Parquet read into a DataFrame with float columns in the model's dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bprop.sklearn.parquet_table import read_parquet_frame, reads_as_floats, transform_parquet
from bprop.sklearn.streaming import fit_blocks, transform_blocks
from bprop.sklearn.tabular import DataError, check_frame, column_transformer, infer_table


def _frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "label": rng.choice(["x", "y"], n),
            "b": rng.normal(size=n).astype(np.float32),
            "count": rng.integers(0, 5, n),
            "y": rng.normal(size=n),
        }
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_read_parquet_with_floats_in_the_dtype(tmp_path, dtype):
    df = _frame()
    df.loc[[4, 250], "a"] = np.nan
    path = tmp_path / "d.parquet"
    df.to_parquet(path, row_group_size=64)
    got = read_parquet_frame(path, dtype, keep=("y",))
    assert list(got.columns) == list(df.columns)  # the file's order
    assert got["a"].dtype == dtype and got["b"].dtype == dtype
    assert got["y"].dtype == np.float64 and got["count"].dtype == df["count"].dtype
    expected = pd.read_parquet(path).astype({"a": dtype, "b": dtype})
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_directory_and_errors(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    df = _frame()
    df.iloc[:100].to_parquet(data / "0.parquet")
    df.iloc[100:].to_parquet(data / "1.parquet")
    got = read_parquet_frame(data, np.float64)
    pd.testing.assert_frame_equal(got, df.astype({"b": np.float64}), check_exact=True)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not parquet")
    with pytest.raises(DataError, match="not a readable parquet file"):
        read_parquet_frame(bad, np.float32)
    empty = tmp_path / "empty.parquet"
    df.iloc[:0].to_parquet(empty)
    with pytest.raises(DataError, match="no data rows"):
        read_parquet_frame(empty, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_parquet_equals_transforming_the_frame(tmp_path, dtype):
    df = _frame()[["a", "b", "y"]]
    df.loc[[4, 250], "a"] = np.nan  # imputed
    data = tmp_path / "data"
    data.mkdir()
    df.iloc[:120].to_parquet(data / "0.parquet", row_group_size=50)
    df.iloc[120:].to_parquet(data / "1.parquet", row_group_size=64)
    frame = read_parquet_frame(data, dtype, keep=("y",))
    spec = infer_table(frame, "y", impute=True)
    X = check_frame(spec, frame, dtype=dtype)
    fitted = fit_blocks(column_transformer(spec, dtype), X, rows=70)
    assert reads_as_floats(data, spec.features)
    got = transform_parquet(fitted, data, spec, dtype)
    want = transform_blocks(fitted, X, dtype, rows=70)
    assert got.dtype == dtype and got.flags.c_contiguous and got.shape == (300, 2)
    np.testing.assert_array_equal(got, want)
    assert not np.isnan(got).any()


def test_reads_as_floats_only_for_floating_point_columns(tmp_path):
    path = tmp_path / "d.parquet"
    _frame().to_parquet(path)
    assert reads_as_floats(path, ["a", "b"])
    assert not reads_as_floats(path, ["a", "count"])  # integers: pandas types per row group
    assert not reads_as_floats(path, ["label"])
