"""bprop on a Dask cluster: the overhead of a full-batch iteration, bytes moved, and L-BFGS
against Spark MLlib on the same data.

    python bench/dask_cluster.py [--quick] [--iterations 20] [--no-spark] [--out FILE]

Starts a LocalCluster of two worker processes with one thread each on 127.0.0.1 (this
machine: the workers share its two cores with the driver, so no speed-up can show; the
scaling model in docs/distributed.md uses the constants measured here). The driver runs
one BLAS thread. Measured, best of repeats:

- **overhead**: one full-batch evaluation (E and the gradient over every row) through the
  cluster, against the same sums in this process (``LocalPartitions``, same partitions),
  on small data (pure overhead) and on 1,000,000 rows x 20-16-3 (logistic hidden, softmax
  output, float64);
- **bytes moved** per evaluation: weights out, one gradient back per partition;
- **L-BFGS**: ``bprop.dask.MLPClassifier(solver='lbfgs')`` for ``--iterations`` iterations
  on the 1M rows, seconds per iteration, final loss and accuracy; and Spark MLlib's
  ``MultilayerPerceptronClassifier`` (``local[2]``, ``bench/fullgrad.py --spark``) on the
  same data and iterations, when pyspark and Java are installed (benchmark only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import FULLGRAD as LARGE  # noqa: E402
from workloads import best_seconds, lbfgs_params, make_data  # noqa: E402


def overhead(client, n_rows: int, partitions: int, repeats: int) -> dict:
    """Seconds per full-batch evaluation on the cluster and in this process."""
    import dask.array as da

    import bprop
    from bprop.core.losses import get_loss
    from bprop.dask import DaskData

    X, y = make_data(LARGE)
    X, y = X[:n_rows], y[:n_rows]
    T = np.eye(3)[y]
    net = bprop.Network(LARGE.sizes, "logistic", "softmax", seed=0)
    loss = get_loss("categorical_cross_entropy")
    chunk = -(-n_rows // partitions)
    data = DaskData(
        da.from_array(X, chunks=(chunk, 20)), da.from_array(T, chunks=(chunk, 3)), client=client
    )
    remote = data.bind(net, 8192)
    local = data.to_local(net, 8192)
    remote.full_batch(net, loss)  # warm-up: the workers build their networks
    sent_before = remote.bytes_sent
    t_remote = best_seconds(lambda: remote.full_batch(net, loss), repeats)
    sent = (remote.bytes_sent - sent_before) / repeats
    t_local = best_seconds(lambda: local.full_batch(net, loss), repeats)
    returned = net.params.nbytes * len(remote.parts)
    return {
        "rows": n_rows,
        "partitions": len(remote.parts),
        "params": net.n_params,
        "seconds_cluster": t_remote,
        "seconds_local": t_local,
        "overhead_ms": 1e3 * (t_remote - t_local),
        "bytes_out": sent,
        "bytes_back": returned,
    }


def lbfgs(client, iterations: int) -> dict:
    import dask.array as da

    import bprop.dask

    X, y = make_data(LARGE)
    params = lbfgs_params(iterations)
    Xd = da.from_array(X, chunks=(250_000, 20)).persist()
    yd = da.from_array(y, chunks=250_000).persist()
    clf = bprop.dask.MLPClassifier(client=client, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        clf.fit(Xd, yd)
        seconds = time.perf_counter() - start
    local = clf.to_local()
    return {
        "iterations": int(clf.n_iter_),
        "seconds": seconds,
        "seconds_per_iteration": seconds / max(clf.n_iter_, 1),
        "loss": float(clf.loss_),
        "accuracy": float(local.score(X, y)),
    }


def spark(iterations: int) -> dict | None:
    script = HERE / "fullgrad.py"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("pyspark is not installed: no Spark comparison (pip install pyspark)")
        return None
    if not script.exists():
        print("bench/fullgrad.py is missing: no Spark comparison")
        return None
    done = subprocess.run(
        [sys.executable, str(script), "--spark", "--iterations", str(iterations)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(f"Spark run failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small data only, no L-BFGS/Spark")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--out", default=str(HERE / "dask_cluster.json"))
    args = ap.parse_args()

    from dask.distributed import Client, LocalCluster
    from threadpoolctl import threadpool_limits

    results: dict = {"machine": {"cores": os.cpu_count()}}
    with (
        threadpool_limits(1),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        results["overhead_small"] = overhead(client, 1_000, 2, args.repeats)
        print(json.dumps(results["overhead_small"]))
        if not args.quick:
            results["overhead_large"] = overhead(client, 1_000_000, 4, max(2, args.repeats // 2))
            print(json.dumps(results["overhead_large"]))
            results["lbfgs_dask"] = lbfgs(client, args.iterations)
            print(json.dumps(results["lbfgs_dask"]))
    if not args.quick and not args.no_spark:
        results["lbfgs_spark"] = spark(args.iterations)
        print(json.dumps(results["lbfgs_spark"]))
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
