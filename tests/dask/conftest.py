"""One Dask LocalCluster for the whole session: two worker processes, one thread each, on
127.0.0.1, no dashboard; started and closed by the tests themselves."""

from __future__ import annotations

import pytest

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        host="127.0.0.1",
        scheduler_port=0,
        silence_logs=40,
    ) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def client(cluster):
    with distributed.Client(cluster) as client:
        yield client
