"""read_parquet_frame: Parquet read into a DataFrame with float columns in the model's dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bprop.sklearn.parquet_table import read_parquet_frame
from bprop.sklearn.tabular import DataError


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
