"""Faults: a worker killed mid-training changes nothing; a lost cluster is a clear error
that keeps the last completed epoch's weights, and its checkpoint resumes locally."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import bprop
from bprop.dask import ClusterError, DaskData
from bprop.training.checkpoint import CheckpointCallback, restore

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


def _arrays(n=400):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, 3))
    y = np.sin(X @ np.array([1.0, -2.0, 0.5]))
    return da.from_array(X, chunks=(100, 3)), da.from_array(y, chunks=100)


def _trainer(rule="irprop-", epochs=8, callbacks=()):
    net = bprop.Network([3, 6, 1], "tanh", "identity", seed=5)
    return bprop.Trainer(
        net,
        rule=rule,
        mode="batch",
        max_epochs=epochs,
        progress=False,
        block_size=64,
        callbacks=callbacks,
    )


@pytest.mark.parametrize("rule", ["irprop-", "lbfgs"])
def test_a_killed_worker_changes_no_weight(client, rule):
    X, y = _arrays()
    undisturbed = _trainer(rule)
    undisturbed.fit(DaskData(X, y, client=client))
    killed = []

    def kill_a_worker(trainer, record):
        if record.epoch == 3 and not killed:
            pids = client.run(os.getpid)
            victim = sorted(pids)[0]
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    disturbed = _trainer(rule, callbacks=[kill_a_worker])
    disturbed.fit(DaskData(X, y, client=client))
    client.wait_for_workers(2, timeout=60)
    assert killed
    assert disturbed.history.epochs == undisturbed.history.epochs
    np.testing.assert_array_equal(disturbed.network.params, undisturbed.network.params)


@pytest.mark.parametrize("rule", ["irprop-", "lbfgs"])
def test_a_lost_cluster_keeps_the_last_epoch_and_the_checkpoint_resumes_locally(tmp_path, rule):
    X, y = _arrays()
    path = tmp_path / "run.ckpt"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None, silence_logs=40
    ) as cluster:
        client = distributed.Client(cluster)
        seen = {}

        def stop_the_cluster(trainer, record):
            seen[record.epoch] = trainer.network.params.copy()
            if record.epoch == 3:
                client.close()

        trainer = _trainer(rule, callbacks=[CheckpointCallback(path), stop_the_cluster])
        with pytest.raises(ClusterError, match="last completed epoch"):
            trainer.fit(DaskData(X, y, client=client))
    np.testing.assert_array_equal(trainer.network.params, seen[3])

    reference = _trainer(rule, epochs=8)
    with threadpool_limits(1):
        reference.fit(DaskData(X, y, client=None).to_local(reference.network, 64))
        resumed = _trainer(rule, epochs=5)
        restore(resumed, path)
        resumed.fit(DaskData(X, y).to_local(resumed.network, 64), resume=True)
    assert resumed.history.epochs == 8
    if rule != "lbfgs":  # L-BFGS's memory lives inside one scipy run and restarts on resume
        np.testing.assert_array_equal(resumed.network.params, reference.network.params)


def test_no_client_says_how_to_start_one():
    """In a fresh process (this one has the tests' client as its current client)."""
    code = (
        "import numpy as np, dask.array as da, bprop\n"
        "from bprop.dask import DaskData\n"
        "X = da.zeros((8, 3), chunks=4); y = da.zeros(8, chunks=4)\n"
        "bprop.Trainer(bprop.Network([3, 1]), mode='batch', progress=False).fit(DaskData(X, y))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert re.search(r"ValueError: no Dask client.*LocalCluster.*--workers", done.stderr)


def test_bad_partitions_are_named_and_empty_ones_skipped(client):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    X[17, 1] = np.nan
    with pytest.raises(ValueError, match="partition 1 .*NaN.*rows 7"):
        _trainer().fit(
            DaskData(
                da.from_array(X, chunks=(10, 3)),
                da.from_array(np.zeros(30), chunks=10),
                client=client,
            )
        )
    X = rng.standard_normal((30, 3))
    y = X[:, 0]
    Xd = da.concatenate(
        [
            da.from_array(X[:10], chunks=(10, 3)),
            da.zeros((0, 3), chunks=(0, 3)),
            da.from_array(X[10:], chunks=(20, 3)),
        ]
    )
    yd = da.concatenate(
        [
            da.from_array(y[:10], chunks=10),
            da.zeros((0,), chunks=0),
            da.from_array(y[10:], chunks=20),
        ]
    )
    trainer = _trainer(epochs=2)
    trainer.fit(DaskData(Xd, yd, client=client))
    assert trainer.history.epochs == 2


def test_differently_partitioned_x_and_y_are_refused():
    X, _ = _arrays()
    with pytest.raises(ValueError, match="partitioned differently.*rechunk"):
        DaskData(X, da.zeros(400, chunks=50))
