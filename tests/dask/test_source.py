"""DaskData through the trainer: every full-batch rule gives the weights of a single-process
run with the same partitions, bit for bit, whatever worker computed what."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import bprop
from bprop.dask import DaskData

da = pytest.importorskip("dask.array")

FULL_BATCH = [
    "gd",
    "momentum",
    "nesterov",
    "rprop+",
    "rprop-",
    "irprop+",
    "irprop-",
    "quickprop",
    "lbfgs",
    "lm",
]


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    y = (X[:, 0] * X[:, 1] + 0.3 * X[:, 2] > 0).astype(float)
    return X, y


def _trainer(rule, epochs=6):
    net = bprop.Network([4, 5, 1], "tanh", "logistic", seed=3)
    kw = {"learning_rate": 0.5} if rule in ("gd", "momentum", "nesterov", "quickprop") else {}
    return bprop.Trainer(
        net,
        rule=bprop.get_rule(rule, **kw),
        mode="batch",
        max_epochs=epochs,
        loss="squared_error",
        progress=False,
        block_size=64,
    )


@pytest.mark.parametrize("rule", FULL_BATCH)
@pytest.mark.parametrize("chunks", [(300,), (100, 100, 100), (37, 200, 63), (40,) * 7 + (20,)])
def test_full_batch_rules_equal_the_local_run_bit_for_bit(client, rule, chunks):
    X, y = _data()
    data = DaskData(
        da.from_array(X, chunks=(chunks, 4)), da.from_array(y, chunks=(chunks,)), client=client
    )
    remote = _trainer(rule)
    remote.fit(data)
    local = _trainer(rule)
    with threadpool_limits(1):  # the workers run one BLAS thread each
        local.fit(data.to_local(local.network, local.block_size))
    assert remote.history.epochs == local.history.epochs
    np.testing.assert_array_equal(remote.network.params, local.network.params)
    assert [r.loss for r in remote.history.records] == [r.loss for r in local.history.records]


@pytest.mark.parametrize("rule", ["gd", "irprop-", "lbfgs"])
def test_equal_partitions_equal_the_in_memory_trainer(client, rule):
    """Partitions of block_size rows are the in-memory trainer's own blocks: same bits."""
    X, y = _data(320)
    remote = _trainer(rule)
    remote.fit(
        DaskData(da.from_array(X, chunks=(64, 4)), da.from_array(y, chunks=64), client=client)
    )
    local = _trainer(rule)
    with threadpool_limits(1):
        local.fit(X, y)
    np.testing.assert_array_equal(remote.network.params, local.network.params)


@pytest.mark.parametrize("rule", ["gd", "momentum", "nesterov", "adam", "adagrad", "rmsprop"])
def test_data_parallel_minibatches_equal_the_in_memory_run(client, rule):
    """The same batches as in-memory training from the same seed; only the order of the
    sum inside a batch differs: <= 1e-10 after 20 steps."""
    X, y = _data(160)

    def trainer():
        net = bprop.Network([4, 5, 1], "tanh", "logistic", seed=3)
        return bprop.Trainer(
            net, rule=rule, mode="minibatch", batch_size=32, max_epochs=4, seed=11, progress=False
        )

    remote = trainer()
    remote.fit(
        DaskData(
            da.from_array(X, chunks=((37, 50, 73), 4)),
            da.from_array(y, chunks=((37, 50, 73),)),
            client=client,
        )
    )
    local = trainer()
    local.fit(X, y)
    assert remote.history.epochs == 4  # 4 epochs x 5 batches = 20 steps
    np.testing.assert_allclose(remote.network.params, local.network.params, rtol=0, atol=1e-10)
    assert not np.array_equal(local.network.params, trainer().network.params)


def test_streamed_minibatches_equal_the_local_partitions(client):
    X, y = _data(160)
    chunks = (37, 50, 73)

    def trainer():
        net = bprop.Network([4, 5, 1], "tanh", "logistic", seed=3)
        return bprop.Trainer(
            net, rule="momentum", batch_size=16, max_epochs=3, seed=2, progress=False
        )

    data = DaskData(
        da.from_array(X, chunks=(chunks, 4)),
        da.from_array(y, chunks=(chunks,)),
        client=client,
        minibatch="stream",
    )
    remote = trainer()
    remote.fit(data)
    local = trainer()
    with threadpool_limits(1):
        local.fit(data.to_local(local.network, local.block_size))
    np.testing.assert_array_equal(remote.network.params, local.network.params)
