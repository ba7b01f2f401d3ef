"""Bad Parquet input: clear errors naming the file (and the rows); resume after a read error."""

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from bprop import Network, ParquetData, ParquetDataError, Trainer  # noqa: E402
from bprop.training.checkpoint import CheckpointCallback, restore  # noqa: E402


def _table(n=40, seed=0, **override):
    rng = np.random.default_rng(seed)
    cols = {"a": rng.normal(size=n), "b": rng.normal(size=n), "y": rng.normal(size=n)}
    cols.update(override)
    return pa.table(cols)


def _net():
    return Network([2, 3, 1], "tanh", "identity", seed=0)


def test_a_file_that_is_not_parquet(tmp_path):
    f = tmp_path / "data.parquet"
    f.write_text("a,b,y\n1,2,3\n")
    with pytest.raises(ParquetDataError, match="data.parquet: not a Parquet file.*bprop convert"):
        ParquetData(f)


def test_missing_path_and_empty_directory(tmp_path):
    with pytest.raises(ParquetDataError, match="no such file"):
        ParquetData(tmp_path / "nope.parquet")
    (tmp_path / "d").mkdir()
    with pytest.raises(ParquetDataError, match="holds no Parquet files"):
        ParquetData(tmp_path / "d")


def test_missing_target_column(tmp_path):
    pq.write_table(_table(), tmp_path / "t.parquet")
    with pytest.raises(ParquetDataError, match="no column 'label'; the columns are a, b, y"):
        ParquetData(tmp_path / "t.parquet", target="label")


def test_a_column_type_that_differs_between_files(tmp_path):
    pq.write_table(_table(), tmp_path / "p0.parquet")
    pq.write_table(_table(b=np.arange(40)), tmp_path / "p1.parquet")
    with pytest.raises(ParquetDataError, match="p1.parquet: column 'b' has type int64, but double"):
        ParquetData(tmp_path)


def test_an_empty_dataset(tmp_path):
    pq.write_table(_table(0), tmp_path / "e.parquet")
    with pytest.raises(ParquetDataError, match="has no rows"):
        ParquetData(tmp_path / "e.parquet")


def test_a_text_feature_column(tmp_path):
    pq.write_table(_table(b=np.array(["u", "v"] * 20)), tmp_path / "s.parquet")
    with pytest.raises(ParquetDataError, match="column 'b' has type string, not a number"):
        ParquetData(tmp_path / "s.parquet")


def test_nan_in_a_feature_names_the_file_and_rows(tmp_path):
    b = np.random.default_rng(0).normal(size=40)
    b[25] = np.nan
    pq.write_table(_table(b=b), tmp_path / "n.parquet", row_group_size=10)
    data = ParquetData(tmp_path / "n.parquet")
    with pytest.raises(ParquetDataError, match=r"n.parquet: NaN .* column 'b' in rows 20..29"):
        Trainer(_net(), rule="rprop+", mode="batch", max_epochs=2).fit(data)


def test_a_read_error_mid_epoch_then_resume_from_the_last_checkpoint(tmp_path, monkeypatch):
    pq.write_table(_table(60), tmp_path / "p0.parquet", row_group_size=20)
    pq.write_table(_table(30, seed=1), tmp_path / "p1.parquet", row_group_size=20)
    data = ParquetData(tmp_path)
    kw = {"loss": "squared_error", "rule": "adam", "batch_size": 8, "seed": 3}
    full = Trainer(_net(), max_epochs=5, **kw)
    full.fit(data)

    reads = {"n": 0}
    original = pq.ParquetFile.read_row_group

    def failing(self, *args, **kwargs):
        reads["n"] += 1
        if reads["n"] == 3 * 5 + 2:  # 5 row groups per epoch: fails during epoch 4
            raise OSError("Input/output error")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", failing)
    ck = tmp_path / "run.ckpt"
    broken = Trainer(_net(), max_epochs=5, callbacks=[CheckpointCallback(ck)], **kw)
    message = r"p\d.parquet: cannot read row group \d \(rows .*Input/output error"
    with pytest.raises(ParquetDataError, match=message):
        broken.fit(data)
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", original)

    resumed = Trainer(_net(), max_epochs=2, **kw)
    assert restore(resumed, ck).epoch == 3
    resumed.fit(data, resume=True)
    np.testing.assert_array_equal(resumed.network.params, full.network.params)
    assert resumed.history.loss.tolist() == full.history.loss.tolist()


def test_network_and_dataset_must_agree(tmp_path):
    pq.write_table(_table(), tmp_path / "t.parquet")
    net = Network([3, 2, 1], "tanh", "identity", seed=0)
    with pytest.raises(ParquetDataError, match="2 feature columns but the network has 3 inputs"):
        Trainer(net).fit(ParquetData(tmp_path / "t.parquet"))
    with pytest.raises(ValueError, match="holds its own targets"):
        Trainer(_net()).fit(ParquetData(tmp_path / "t.parquet"), np.zeros(40))
