"""bprop convert: CSV to Parquet, streamed."""

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pq = pytest.importorskip("pyarrow.parquet")

from bprop.cli import main  # noqa: E402


def test_convert_writes_parquet_in_row_groups(tmp_path, capsys):
    frame = pd.DataFrame({"a": np.arange(500) / 4, "c": ["u", "v"] * 250})
    frame.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "d.parquet"
    assert main(["convert", str(tmp_path / "d.csv"), str(out), "--row-group-rows", "100"]) == 0
    assert "converted 500 rows" in capsys.readouterr().out
    assert pq.ParquetFile(out).metadata.num_row_groups == 5
    pd.testing.assert_frame_equal(pq.read_table(out).to_pandas(), frame, check_dtype=False)


def test_convert_errors(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "none.csv"), str(tmp_path / "o.parquet")]) == 1
    assert "none.csv: no such file" in capsys.readouterr().err
    (tmp_path / "d.csv").write_text("a\n1\n")
    assert main(["convert", str(tmp_path / "d.csv"), str(tmp_path / "o.csv")]) == 1
    assert "must be a .parquet file" in capsys.readouterr().err
