"""1,000,000 rows x 20-16-3 (logistic hidden, softmax output, float64): the full-batch gradient.

    python bench/fullgrad.py [--iterations 20] [--repeats 3]    # bprop, prints one JSON line
    python bench/fullgrad.py --spark [--iterations 20]          # Spark MLlib, one JSON line

bprop: one full-batch gradient as L-BFGS forms it (``ArrayData.full_batch``: blocks of 8192
rows, each through the compiled block kernel where it applies; forward, loss, backward,
sum of the categorical cross-entropy), the same with the compiled path disabled (NumPy,
``Network.gradient`` per block) and through ``Network.gradient`` on all rows at once; the
GEMMs of that gradient alone (``workloads.gemm_seconds``) at the full-batch shapes and in
blocks of 8192 rows; and L-BFGS through ``MLPClassifier(solver=
'lbfgs')`` for ``--iterations`` iterations: seconds per iteration, final loss (mean
cross-entropy) and training accuracy. Spark (benchmark only: ``pip install pyspark``, Java
17): ``MultilayerPerceptronClassifier`` (sigmoid hidden units, softmax output, L-BFGS) in
``local[2]`` on the same data, the same iterations; the fit alone is timed, after a
two-iteration warm-up fit. The thread count comes from the environment (bench/run.py runs
this with one thread and with the libraries' defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import FULLGRAD as WORKLOAD  # noqa: E402
from workloads import best_seconds, gemm_seconds, lbfgs_params, make_data  # noqa: E402


def bprop_part(iterations: int, repeats: int) -> dict:
    from bprop import MLPClassifier, Network
    from bprop.core.losses import get_loss
    from bprop.training import fast
    from bprop.training.sources import ArrayData

    X, y = make_data(WORKLOAD)
    T = np.eye(3)[y]
    net = Network(WORKLOAD.sizes, "logistic", "softmax", seed=0)
    loss = get_loss("categorical_cross_entropy")
    data = ArrayData(X, T, None, float(len(X)))

    def best_of(fn) -> float:
        fn()  # warm-up (and the kernel's compilation)
        return best_seconds(fn, repeats)

    best = best_of(lambda: data.full_batch(net, loss))
    with fast.disabled():
        numpy_best = best_of(lambda: data.full_batch(net, loss))
    whole = best_of(lambda: net.gradient(X, T, loss))
    gemm = gemm_seconds(WORKLOAD, repeats)
    gemm_blocks = gemm_seconds(replace(WORKLOAD, batch=data.block_rows), repeats)
    clf = MLPClassifier(**lbfgs_params(iterations))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the point here
        MLPClassifier(**{**clf.get_params(), "max_iter": 2}).fit(X[:5000], y[:5000])  # warm-up
        start = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - start
    return {
        "gradient_seconds": best,
        "compiled": fast.batch_reason(net, loss) is None,
        "numpy_gradient_seconds": numpy_best,
        "network_gradient_seconds": whole,
        "gemm_seconds": gemm,
        "gemm_block_seconds": gemm_blocks,
        "gradient_vs_gemm": best / gemm,
        "gradient_vs_block_gemm": best / gemm_blocks,
        "lbfgs_iterations": int(clf.n_iter_),
        "lbfgs_seconds": seconds,
        "lbfgs_seconds_per_iteration": seconds / max(clf.n_iter_, 1),
        "loss": float(clf.loss_),
        "accuracy": float(clf.score(X, y)),
    }


def _value(attr):
    """A pyspark summary attribute: a property in some versions, a method in others."""
    return attr() if callable(attr) else attr


def spark_part(iterations: int) -> dict:
    import pandas as pd
    from pyspark.ml.classification import MultilayerPerceptronClassifier
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import SparkSession

    X, y = make_data(WORKLOAD)
    cols = [f"x{i}" for i in range(X.shape[1])]
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("bprop-bench")
        .config("spark.driver.memory", "6g")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "data.parquet")
            frame = pd.DataFrame(X, columns=cols)
            frame["label"] = y.astype(np.float64)
            frame.to_parquet(path, index=False)
            df = VectorAssembler(inputCols=cols, outputCol="features").transform(
                spark.read.parquet(path)
            )
            df = df.select("features", "label").repartition(2).cache()
            df.count()

            def make(n_iter: int) -> MultilayerPerceptronClassifier:
                return MultilayerPerceptronClassifier(
                    layers=[20, 16, 3], maxIter=n_iter, tol=0.0, seed=0, solver="l-bfgs"
                )

            make(2).fit(df)  # warm-up: the JVM's JIT, the cached data
            start = time.perf_counter()
            model = make(iterations).fit(df)
            seconds = time.perf_counter() - start
            summary = _value(model.summary)
            n_iter = int(_value(summary.totalIterations))
            return {
                "lbfgs_iterations": n_iter,
                "lbfgs_seconds": seconds,
                "lbfgs_seconds_per_iteration": seconds / max(n_iter, 1),
                "loss": float(_value(summary.objectiveHistory)[-1]),
                "accuracy": float(_value(summary.accuracy)),
                "spark": spark.version,
            }
    finally:
        spark.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--spark", action="store_true")
    args = ap.parse_args()
    out = spark_part(args.iterations) if args.spark else bprop_part(args.iterations, args.repeats)
    from threadpoolctl import threadpool_info

    out["load_average"] = os.getloadavg()[0]  # other processes' load while measured
    out["blas_threads"] = max(
        (p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=None
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
