"""Measure where running the blocks of a full-batch sum on two threads pays.

Usage:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/block_threads.py [--repeats 5]

A full-batch sum (``ArrayData.full_batch``: the compiled block kernel per block of the
trainer's block size) runs its blocks one after another with one BLAS thread, or two at
a time on two threads (``bprop.training.sources.sum_gradients``, with a BLAS limit of
two). For a grid of networks and row counts this times one sum each way (best of
``--repeats``, alternating), computes the products' FLOPs F of the whole sum
(``bprop.training.threads.step_flops`` over all rows) and picks MIN_BLOCK_FLOPS among the
measured F: the policy "two threads iff the sum has two blocks or more and F >=
MIN_BLOCK_FLOPS" that loses the least time over the grid against the better count at
each point, two threads counting as better only when at least ``--margin`` faster.
Prints the grid and the threshold as JSON; bench/block_threads.json keeps the grid.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from bprop import Network, Trainer  # noqa: E402
from bprop.training.sources import ArrayData  # noqa: E402
from bprop.training.threads import blas_limit, step_flops  # noqa: E402

NETWORKS = [(10, 8, 1), (20, 16, 3), (50, 64, 1), (100, 128, 10), (784, 256, 10)]
ROWS = [4_096, 16_384, 65_536, 262_144]


def sum_seconds(sizes: tuple[int, ...], rows: int, repeats: int) -> dict[int, float]:
    """Best seconds of one full-batch sum with one and with two threads."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, sizes[0]))
    net = Network(list(sizes), "tanh", "softmax" if sizes[-1] > 1 else "identity", seed=0)
    T = np.eye(sizes[-1])[rng.integers(0, sizes[-1], rows)] if sizes[-1] > 1 else X[:, :1]
    trainer = Trainer(net, mode="batch", progress=False)
    data = ArrayData(X, T, None, float(rows), trainer.block_size)
    best = {1: np.inf, 2: np.inf}
    for threads in (1, 2):  # warm-up: compile, page in
        with blas_limit(threads):
            data.full_batch(net, trainer.loss)
    for _ in range(repeats):
        for threads in (1, 2):
            with blas_limit(threads):
                t0 = time.perf_counter()
                data.full_batch(net, trainer.loss)
                best[threads] = min(best[threads], time.perf_counter() - t0)
    return {"block_rows": trainer.block_size, **best}


def threshold(points: list[dict], margin: float) -> float:
    """The MIN_BLOCK_FLOPS among the measured F that loses the least time (see above)."""

    def lost(limit: float) -> float:
        total = 0.0
        for p in points:
            two = p["blocks"] >= 2 and p["flops"] >= limit
            chosen = p["two"] if two else p["one"]
            better = p["two"] if p["one"] >= margin * p["two"] else p["one"]
            total += max(0.0, chosen - better)
        return total

    candidates = sorted({p["flops"] for p in points}) + [float("inf")]
    return min(candidates, key=lambda f: (lost(f), -f if f != float("inf") else 0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--margin", type=float, default=1.15)
    args = ap.parse_args(argv)
    points = []
    for sizes in NETWORKS:
        for rows in ROWS:
            s = sum_seconds(sizes, rows, args.repeats)
            flops, _ = step_flops(rows, sizes)
            point = {"sizes": list(sizes), "rows": rows, "blocks": -(-rows // s["block_rows"]),
                     "flops": flops, "one": s[1], "two": s[2], "speedup": s[1] / s[2]}  # fmt: skip
            points.append(point)
            print(json.dumps(point), file=sys.stderr)
    out = {
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "margin": args.margin,
        "MIN_BLOCK_FLOPS": threshold(points, args.margin),
        "points": points,
    }
    (HERE / "block_threads.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "points"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
