"""Measure where a second BLAS thread pays for training steps, and record the crossover.

Usage:

    python bench/thread_crossover.py            # measure, print, rewrite the constants
    python bench/thread_crossover.py --dry-run  # measure and print only

For a grid of networks and block sizes it times one epoch of the Trainer (mini-batch
momentum: the estimators' path, compiled kernel where numba is installed) with the BLAS
limited to one thread and to two, best of ``--repeats`` and of the earlier runs recorded
in bench/thread_crossover.json (``--fresh`` forgets them), and computes each step's
matrix-product FLOPs F and elementwise values E (``bprop.training.threads.step_flops``).
It then picks the pair (MIN_FLOPS, MIN_INTENSITY) among the measured F and F/E values for
which the policy "two threads iff F >= MIN_FLOPS and F/E >= MIN_INTENSITY" loses the
least time over the grid against the best thread count of each point, where two threads
count as better only when they are at least ``--margin`` faster (a second thread stalls
when another process takes its core, so a small gain is not worth it). The result is
written between the markers in src/bprop/training/threads.py, and the grid's timings to
bench/thread_crossover.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.pop(_var, None)

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from bprop import Network, Trainer  # noqa: E402
from bprop.training.threads import blas_limit, step_flops  # noqa: E402

NETWORKS = [
    (30, 64, 1),
    (30, 1024, 1),
    (64, 128, 10),
    (100, 256, 10),
    (256, 256, 10),
    (784, 512, 256, 10),
    (1024, 1024, 10),
]
BLOCKS = [32, 200, 1000, 4096]


def epoch_seconds(sizes: tuple[int, ...], block: int, threads: int, repeats: int) -> float:
    """Seconds per step: one epoch of mini-batch momentum over 8 blocks, best of repeats."""
    rng = np.random.default_rng(0)
    n = 8 * block
    X = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n) if sizes[-1] > 1 else rng.standard_normal(n)
    out = "softmax" if sizes[-1] > 1 else "identity"
    net = Network(sizes, "relu", out, seed=0)
    trainer = Trainer(
        net, rule="momentum", mode="minibatch", batch_size=block, max_epochs=1, progress=False
    )
    best = math.inf
    with blas_limit(threads, refresh=True):
        trainer.fit(X[: 2 * block], y[: 2 * block])  # warm-up: compiled code, pages
        for _ in range(repeats):
            start = time.perf_counter()
            trainer.fit(X, y)
            best = min(best, time.perf_counter() - start)
    return best / 8


def choose(points: list[dict], margin: float) -> tuple[float, float, float]:
    """(MIN_FLOPS, MIN_INTENSITY, lost fraction) with the least time lost over the grid."""

    def lost(fmin: float, imin: float) -> float:
        total = 0.0
        for p in points:
            two = p["flops"] >= fmin and p["intensity"] >= imin
            best = p["t2"] if p["t1"] >= margin * p["t2"] else p["t1"]
            total += (p["t2"] if two else p["t1"]) / best - 1.0
        return total / len(points)

    fl = sorted({p["flops"] for p in points}) + [math.inf]
    it = sorted({p["intensity"] for p in points})
    # Ties go to the larger thresholds (one thread where it does not matter).
    cands = [(lost(f, i), -f, -i) for f in fl for i in it]
    loss, f, i = min(cands)
    return -f, -i, loss


def _literal(v: float, digits: int) -> str:
    """A Python float literal as ruff formats it (3.3e07, not 3.3e+07; where two threads
    never paid: infinity)."""
    return 'float("inf")' if math.isinf(v) else f"{v:.{digits}g}".replace("e+", "e")


def write_constants(fmin: float, imin: float) -> Path:
    path = ROOT / "src" / "bprop" / "training" / "threads.py"
    text = path.read_text()
    begin = "# --- measured: bench/thread_crossover.py rewrites the lines between these markers ---"
    end = "# --- end of measured constants ---"
    block = f"{begin}\nMIN_FLOPS = {_literal(fmin, 3)}\nMIN_INTENSITY = {_literal(imin, 4)}\n{end}"
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), block, text, flags=re.S)
    path.write_text(text)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument(
        "--margin", type=float, default=1.15, help="two threads must be this much faster"
    )
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument(
        "--fresh",
        action="store_true",
        help="forget the timings of earlier runs (default: best of this run and those)",
    )
    ap.add_argument(
        "--merge", nargs="*", default=[], help="more earlier records (JSON) to take the best of"
    )
    ap.add_argument(
        "--no-measure", action="store_true", help="only recompute from the recorded runs"
    )
    args = ap.parse_args()
    earlier: dict = {}
    runs = 0 if args.no_measure else 1  # measuring runs behind the timings
    stored = HERE / "thread_crossover.json"
    for path in ([] if args.fresh else [stored]) + [Path(m) for m in args.merge]:
        if path.exists():
            record = json.loads(path.read_text())
            runs += record.get("runs", 1)
            for q in record["points"]:
                key = (q["sizes"], q["block"])
                old = earlier.get(key, {"t1": math.inf, "t2": math.inf})
                earlier[key] = {"t1": min(old["t1"], q["t1"]), "t2": min(old["t2"], q["t2"])}
    cores = len(os.sched_getaffinity(0))
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} (a busy machine makes two threads lose)")
    points = []
    for sizes in NETWORKS:
        for block in BLOCKS:
            F, E = step_flops(block, sizes)
            t1 = t2 = math.inf
            for _ in range(0 if args.no_measure else 2):  # alternate: load hits both
                t1 = min(t1, epoch_seconds(sizes, block, 1, args.repeats))
                t2 = min(t2, epoch_seconds(sizes, block, 2, args.repeats))
            old = earlier.get(("-".join(map(str, sizes)), block))
            if old is None and args.no_measure:
                continue
            if old:  # the best of every run: noise from other processes only ever adds
                t1, t2 = min(t1, old["t1"]), min(t2, old["t2"])
            p = {
                "sizes": "-".join(map(str, sizes)),
                "block": block,
                "flops": F,
                "intensity": F / E,
                "t1": t1,
                "t2": t2,
                "speedup": t1 / t2,
            }
            points.append(p)
            print(
                f"{p['sizes']:>18} B={block:<5} F={F:9.3g} F/E={F / E:7.1f} "
                f"1 thread {t1 * 1e3:8.3f} ms  2 threads {t2 * 1e3:8.3f} ms  x{t1 / t2:.2f}",
                flush=True,
            )
    fmin, imin, loss = choose(points, args.margin)
    print(
        f"\ncrossover: MIN_FLOPS = {fmin:.3g}, MIN_INTENSITY = {imin:.4g} "
        f"(time lost against the best choice per point: {100 * loss:.1f}% on average)"
    )
    record = {
        "cores": cores,
        "margin": args.margin,
        "min_flops": fmin,
        "min_intensity": imin,
        "mean_time_lost": loss,
        "load_average": [load_before[0], os.getloadavg()[0]],
        "runs": runs,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "points": points,
    }
    if not args.dry_run:
        (HERE / "thread_crossover.json").write_text(json.dumps(record, indent=1) + "\n")
        print("wrote", write_constants(fmin, imin))


if __name__ == "__main__":
    main()
