"""What BLAS threads cost the user: workloads timed as a user runs them, in one process.

    python bench/threads_bench.py cv1024 [--repeats 3]   # bprop and scikit-learn
    python bench/threads_bench.py small  [--repeats 3]
    python bench/threads_bench.py wide   [--repeats 3]   # bprop only
    python bench/threads_bench.py scaling [--repeats 5]  # bprop, 1 and 2 threads

bench/run.py runs each in a process of its own twice: in the default environment (the
libraries pick their threads; bprop's estimators choose theirs, see
``bprop.training.threads``) and with OMP_NUM_THREADS=1 (and OPENBLAS/MKL_NUM_THREADS=1).
Prints one JSON line of seconds, best of ``--repeats`` after an untimed warm-up run.

- cv1024: 5-fold ``cross_val_score`` of ``Pipeline(StandardScaler(), MLPClassifier(
  hidden_layer_sizes=(1024,), batch_size=1000, max_iter=5))`` on breast_cancer tiled 8x
  (4,552 x 30);
- small: 5-fold ``cross_val_score`` of the same pipeline with 64 units (max_iter=200) on
  breast_cancer, and ``GridSearchCV`` (3-fold, alpha x width, 4 candidates) with
  n_jobs=1 and n_jobs=2;
- wide: bprop's estimator on the wide workload of bench/workloads.py (784-512-256-10,
  relu, batches of 256, float32, 20,000 rows, 2 epochs), with its automatic threads and
  with ``n_threads=2``;
- scaling: bprop's estimator on the wide and fullbatch workloads with ``n_threads=1`` and
  ``n_threads=2`` (alternating), and the two-thread speed-up of each (run it with the
  OPENBLAS variables unset and nothing else busy: it measures the machine's two cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _best(fn, repeats: int) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn()
        best = np.inf
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
    return best


def _classes():
    import sklearn.neural_network

    import bprop

    return {"bprop": bprop.MLPClassifier, "sklearn": sklearn.neural_network.MLPClassifier}


def _pipeline(cls, **kw):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), cls(random_state=0, **kw))


def cv1024(repeats: int) -> dict:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import cross_val_score

    X, y = load_breast_cancer(return_X_y=True)
    X, y = np.tile(X, (8, 1)), np.tile(y, 8)
    out = {}
    for lib, cls in _classes().items():
        model = _pipeline(cls, hidden_layer_sizes=(1024,), batch_size=1000, max_iter=5)
        out[lib] = _best(lambda m=model: cross_val_score(m, X, y, cv=5), repeats)
    return out


def small(repeats: int) -> dict:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import GridSearchCV, cross_val_score

    X, y = load_breast_cancer(return_X_y=True)
    out = {}
    grid = {
        "mlpclassifier__alpha": [1e-4, 1e-2],
        "mlpclassifier__hidden_layer_sizes": [(32,), (64,)],
    }
    for lib, cls in _classes().items():
        model = _pipeline(cls, hidden_layer_sizes=(64,), max_iter=200)
        out[f"{lib}_cv"] = _best(lambda m=model: cross_val_score(m, X, y, cv=5), repeats)
        for n_jobs in (1, 2):
            search = GridSearchCV(model, grid, cv=3, n_jobs=n_jobs)
            out[f"{lib}_grid_n_jobs_{n_jobs}"] = _best(lambda s=search: s.fit(X, y), repeats)
    return out


def wide(repeats: int) -> dict:
    from workloads import WORKLOADS, make_data, train_bprop

    w = WORKLOADS["wide"]
    X, y = make_data(w)
    train_bprop(w, X[:2000], y[:2000])  # warm-up
    best = two = np.inf
    for _ in range(repeats):  # alternate: a burst of load hits both
        best = min(best, train_bprop(w, X, y))
        two = min(two, train_bprop(w, X, y, n_threads=2))
    return {"bprop": best, "bprop_n_threads_2": two, "samples_per_second": w.n * w.epochs / best}


def scaling(repeats: int) -> dict:
    from workloads import WORKLOADS, make_data, train_bprop

    out = {}
    for name in ("wide", "fullbatch"):
        w = WORKLOADS[name]
        X, y = make_data(w)
        train_bprop(w, X[:2000], y[:2000], n_threads=2)  # warm-up (compiled kernel, pages)
        best = {1: np.inf, 2: np.inf}
        for _ in range(repeats):  # alternate: a burst of load hits both
            for n in (1, 2):
                best[n] = min(best[n], train_bprop(w, X, y, n_threads=n))
        out[name] = {"n_threads_1": best[1], "n_threads_2": best[2],
                     "two_thread_speedup": best[1] / best[2]}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", choices=["cv1024", "small", "wide", "scaling"])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    parts = {"cv1024": cv1024, "small": small, "wide": wide, "scaling": scaling}
    out = parts[args.part](args.repeats)
    from threadpoolctl import threadpool_info

    out["blas_threads"] = max(
        (p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=None
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
