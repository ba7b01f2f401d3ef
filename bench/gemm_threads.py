"""Two-thread scaling of the matrix products alone, at each workload's real shapes.

Usage: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/gemm_threads.py [--repeats 7]

For each workload of bench/workloads.py, the seconds of one epoch of only its matrix
products (``workloads.gemm_seconds``: forward, O^T D and D W^T per layer, with
preallocated outputs) with one and with two BLAS threads (threadpoolctl), best of
``--repeats``, alternating the counts; and the ratio. The ratio bounds what two threads
can give a whole training step whose other work stays on one thread: with a fraction f
of one-thread time in the products, the step scales at most 1 / ((1 - f) + f / ratio).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402
from workloads import WORKLOADS, gemm_seconds  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--workloads", default="minibatch,wide,fullbatch")
    args = ap.parse_args(argv)
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    out: dict = {
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "blas": [{k: b.get(k) for k in ("internal_api", "version", "architecture")} for b in blas],
        "workloads": {},
    }
    for name in args.workloads.split(","):
        w = WORKLOADS[name]
        best = {1: float("inf"), 2: float("inf")}
        for _ in range(args.repeats):
            for threads in (1, 2):
                with threadpool_limits(threads, user_api="blas"):
                    best[threads] = min(best[threads], gemm_seconds(w, repeats=1))
        out["workloads"][name] = {
            "one_thread_s": best[1],
            "two_threads_s": best[2],
            "two_thread_speedup": best[1] / best[2],
        }
        print(json.dumps({name: out["workloads"][name]}), file=sys.stderr)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
