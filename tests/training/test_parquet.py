"""Training streamed from Parquet equals training on the same rows in memory."""

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from bprop import EarlyStopping, Network, ParquetData, ParquetDataError, Trainer  # noqa: E402
from bprop.training.parquet import holdout_mask  # noqa: E402

FULL_BATCH_RULES = ["gd", "momentum", "nesterov", "rprop+", "rprop-", "irprop+", "irprop-",
                    "quickprop", "lbfgs", "lm"]  # fmt: skip


def _rows(n=230, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.tanh(X @ np.array([0.5, -1.0, 0.3])) + 0.1 * rng.normal(size=n)
    return X, y


def _write(path, X, y, row_group_size, **extra):
    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    pq.write_table(pa.table({**cols, "y": y, **extra}), path, row_group_size=row_group_size)


def _net(dtype=np.float64):
    return Network([3, 5, 1], "tanh", "identity", seed=2, dtype=dtype)


@pytest.fixture
def dataset(tmp_path):
    """230 rows in two files of uneven row groups (70, 70, 10 | 64, 16)."""
    X, y = _rows()
    d = tmp_path / "data"
    d.mkdir()
    _write(d / "part-0.parquet", X[:150], y[:150], 70)
    _write(d / "part-1.parquet", X[150:], y[150:], 64)
    return d, X, y


@pytest.mark.parametrize("rule", FULL_BATCH_RULES)
def test_full_batch_rules_streamed_equal_in_memory_bit_for_bit(dataset, rule):
    d, X, y = dataset
    a, b = _net(), _net()
    kw = {"loss": "squared_error", "rule": rule, "mode": "batch", "max_epochs": 6,
          "block_size": 48}  # fmt: skip
    ha = Trainer(a, **kw).fit(X, y)
    hb = Trainer(b, **kw).fit(ParquetData(d, target="y"))
    np.testing.assert_array_equal(a.params, b.params)
    assert [r.loss for r in ha.records] == [r.loss for r in hb.records]


def test_batch_rows_sets_the_blocking(dataset):
    d, X, y = dataset
    a, b = _net(), _net()
    kw = {"loss": "squared_error", "rule": "irprop+", "mode": "batch", "max_epochs": 4}
    Trainer(a, block_size=33, **kw).fit(X, y)
    Trainer(b, **kw).fit(ParquetData(d, target="y", batch_rows=33))
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize("rule", ["gd", "adam"])
@pytest.mark.parametrize("mode", ["online", "minibatch"])
def test_one_row_group_minibatch_equals_in_memory_exactly(tmp_path, rule, mode):
    X, y = _rows(120)
    _write(tmp_path / "one.parquet", X, y, 1000)
    a, b = _net(), _net()
    kw = {"loss": "squared_error", "rule": rule, "mode": mode, "batch_size": 16,
          "max_epochs": 3, "seed": 9}  # fmt: skip
    Trainer(a, **kw).fit(X, y)
    Trainer(b, **kw).fit(ParquetData(tmp_path / "one.parquet"))
    np.testing.assert_array_equal(a.params, b.params)


def test_minibatch_block_shuffling_is_seeded_and_visits_every_row(dataset):
    d, X, y = dataset
    data = ParquetData(d)
    source = data.bind(_net(), 64)
    seen = []
    for chunk in source.chunks(np.random.default_rng(4), shuffle=True):
        seen.append(chunk.X[chunk.order])
    again = [c.X[c.order] for c in source.chunks(np.random.default_rng(4), shuffle=True)]
    assert all(np.array_equal(p, q) for p, q in zip(seen, again, strict=True))
    rows = np.vstack(seen)
    assert rows.shape == X.shape
    # every row once; the row groups in a new order, rows permuted within each
    np.testing.assert_array_equal(np.sort(rows[:, 0]), np.sort(X[:, 0]))
    assert not np.array_equal(rows, X)
    a, b = _net(), _net()
    kw = {"loss": "squared_error", "rule": "momentum", "batch_size": 8, "max_epochs": 2}
    Trainer(a, seed=1, **kw).fit(data)
    Trainer(b, seed=1, **kw).fit(data)
    np.testing.assert_array_equal(a.params, b.params)


def test_float32_streaming_reads_blocks_in_the_model_dtype(dataset):
    d, X, y = dataset
    a, b = _net(np.float32), _net(np.float32)
    kw = {"loss": "squared_error", "rule": "rprop+", "mode": "batch", "max_epochs": 3,
          "block_size": 48}  # fmt: skip
    Trainer(a, **kw).fit(X.astype(np.float32), y)
    Trainer(b, **kw).fit(ParquetData(d))
    assert b.params.dtype == np.float32
    np.testing.assert_array_equal(a.params, b.params)


def test_held_out_rows_by_position_hash_equal_in_memory_split(dataset):
    d, X, y = dataset
    held = holdout_mask(np.arange(len(X)), 0.25, 7)
    assert 0.15 < held.mean() < 0.35
    a, b = _net(), _net()
    kw = {"loss": "squared_error", "rule": "irprop-", "mode": "batch", "max_epochs": 8,
          "block_size": 48, "stopping": EarlyStopping(patience=3)}  # fmt: skip
    ha = Trainer(a, **kw).fit(X[~held], y[~held], validation_data=(X[held], y[held]))
    hb = Trainer(b, **kw).fit(ParquetData(d, validation_fraction=0.25, seed=7))
    np.testing.assert_array_equal(a.params, b.params)
    assert [r.val_loss for r in ha.records] == [r.val_loss for r in hb.records]


def test_separate_validation_file(dataset, tmp_path):
    d, X, y = dataset
    Xv, yv = _rows(40, seed=5)
    _write(tmp_path / "val.parquet", Xv, yv, 16)
    a, b = _net(), _net()
    kw = {"loss": "squared_error", "rule": "lbfgs", "mode": "batch", "max_epochs": 4,
          "block_size": 48}  # fmt: skip
    ha = Trainer(a, **kw).fit(X, y, validation_data=(Xv, yv))
    hb = Trainer(b, **kw).fit(ParquetData(d, validation=tmp_path / "val.parquet"))
    np.testing.assert_array_equal(a.params, b.params)
    assert [r.val_loss for r in ha.records] == [r.val_loss for r in hb.records]


def test_sample_weight_column_and_classification_targets(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 3))
    labels = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.5)
    w = rng.integers(1, 4, size=90).astype(np.float64)  # integer weights: exact sums
    _write(tmp_path / "c.parquet", X, labels, 40, w=w)
    kw = {"rule": "irprop+", "mode": "batch", "max_epochs": 5, "block_size": 32}
    a = Network([3, 4, 3], "tanh", "softmax", seed=0)
    b = Network([3, 4, 3], "tanh", "softmax", seed=0)
    ha = Trainer(a, **kw).fit(X, labels, sample_weight=w)
    hb = Trainer(b, **kw).fit(ParquetData(tmp_path / "c.parquet", sample_weight="w"))
    np.testing.assert_array_equal(a.params, b.params)
    assert [r.metric for r in ha.records] == [r.metric for r in hb.records]
    assert hb.records[-1].metric is not None


def test_evaluate_streams_too(dataset):
    d, X, y = dataset
    net = _net()
    t = Trainer(net, loss="squared_error", block_size=48)
    assert t.evaluate(ParquetData(d)) == t.evaluate(X, y)


@pytest.mark.parametrize(("prefetch", "limit"), [(False, 70), (True, 70 + 70)])
def test_no_step_holds_more_than_one_row_group_or_two_with_prefetch(dataset, prefetch, limit):
    d, X, y = dataset
    data = ParquetData(d, batch_rows=20, prefetch=prefetch)
    net = _net()
    for rule, mode in [("lbfgs", "batch"), ("lm", "batch"), ("adam", "minibatch")]:
        source = data.bind(net, 20)
        Trainer(net, loss="squared_error", rule=rule, mode=mode, max_epochs=2).fit(source)
        assert 0 < source.max_rows_held <= limit < len(X)
    with pytest.raises(ParquetDataError, match="no column 'label'"):
        ParquetData(d, target="label")
