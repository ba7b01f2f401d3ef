"""``bprop demo``: train on scikit-learn's digits and on XOR, print the results."""

from __future__ import annotations

import argparse
from typing import Any

from bprop.training import demo

__all__ = ["add_parser", "run_demo"]


def run_demo(args: argparse.Namespace) -> int:
    demo.run(quick=args.quick, progress=False if args.no_progress else None)
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="train on scikit-learn's digits and on XOR, print results")
    p.add_argument("--quick", action="store_true", help="fewer epochs (for a smoke test)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_demo)
