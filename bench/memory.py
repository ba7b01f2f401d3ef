"""Peak memory of training on 1,000,000 x 100 float32 data with a 100-64-1 network.

    python bench/memory.py minibatch   # one epoch, mini-batches of 64, momentum (compiled)
    python bench/memory.py batch       # one epoch, full batch in blocks, iRprop- (compiled)

Run each mode in a process of its own (bench/run.py does): prints one JSON line with the
size of the data (X and y), the process's resident memory after the imports
(``baseline_mb``) and after a warm-up fit on 64 rows that compiles the kernels
(``warm_mb``: numba keeps no on-disk cache of them, so each process compiles its own),
before the data exist, and its peak resident memory (VmHWM, Linux) at the end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _trainer(net, mode: str):
    from bprop import Trainer
    from bprop.optim.rprop import IRpropMinus

    if mode == "minibatch":
        return Trainer(
            net,
            rule="momentum",
            mode="minibatch",
            batch_size=64,
            max_epochs=1,
            seed=0,
            progress=False,
        )
    return Trainer(net, rule=IRpropMinus(), mode="batch", max_epochs=1, progress=False)


def main(mode: str, rows: int = 1_000_000) -> None:
    from bprop import Network

    if mode not in ("minibatch", "batch"):
        raise SystemExit(f"mode must be 'minibatch' or 'batch', got {mode!r}")
    n, d = rows, 100
    baseline = _status_mb("VmRSS")
    _trainer(Network([d, 64, 1], "tanh", "identity", seed=0, dtype=np.float32), mode).fit(
        np.zeros((64, d), np.float32), np.zeros(64, np.float32)
    )
    warm = _status_mb("VmRSS")
    rng = np.random.default_rng(0)
    X = np.empty((n, d), np.float32)
    for start in range(0, n, 100_000):  # no float64 temporary of the whole array
        rows_here = min(100_000, n - start)
        X[start : start + rows_here] = rng.standard_normal((rows_here, d), dtype=np.float32)
    w = rng.standard_normal(d).astype(np.float32) / np.float32(10.0)
    y = np.tanh(X @ w)
    data_mb = (X.nbytes + y.nbytes) / 2**20
    net = Network([d, 64, 1], "tanh", "identity", seed=0, dtype=np.float32)
    _trainer(net, mode).fit(X, y)
    result = {
        "mode": mode,
        "data_mb": data_mb,
        "baseline_mb": baseline,
        "warm_mb": warm,
        "peak_rss_mb": _status_mb("VmHWM"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    args = sys.argv[1:]
    rows = int(args[args.index("--rows") + 1]) if "--rows" in args else 1_000_000
    main(args[0] if args and args[0] != "--rows" else "minibatch", rows)
