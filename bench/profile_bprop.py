"""Profile bprop's training on the benchmark workloads with pyinstrument (flat, top lines).

    python bench/profile_bprop.py                       # every workload, compiled path allowed
    python bench/profile_bprop.py --numpy online        # the NumPy path only (BPROP_FAST=0)

pyinstrument is a development tool, not a dependency: ``pip install pyinstrument``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import WORKLOADS, make_data, train_bprop  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    ap.add_argument("--numpy", action="store_true", help="disable the compiled kernel")
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    try:
        from pyinstrument import Profiler
    except ImportError:
        sys.exit("pyinstrument is needed: pip install pyinstrument")
    import bprop.training.fast

    bprop.training.fast.set_enabled(not args.numpy)
    for name in args.workloads:
        w = WORKLOADS[name]
        X, y = make_data(w)
        train_bprop(w, X[:2000], y[:2000])  # warm-up
        profiler = Profiler(interval=0.0005)
        profiler.start()
        seconds = train_bprop(w, X, y)
        profiler.stop()
        path = "NumPy path" if args.numpy else "compiled path allowed"
        print(f"== {name} ({path}): {w.n * w.epochs / seconds:,.0f} samples/s")
        text = profiler.output_text(unicode=False, color=False, flat=True)
        lines = [ln for ln in text.splitlines() if ln[:1].isdigit()]
        print("\n".join(lines[: args.top]))


if __name__ == "__main__":
    main()
