"""Compare bprop's update rules on equal terms: success rates over fixed seeds, epochs and
time to the target. Writes tests/reference/convergence_rates.json (which
tests/optim/test_convergence.py checks a rerun against), the table and its summary in
docs/algorithms.md and the learning curves in docs/algorithms_curves.png, all from the
same numbers.

    python bench/compare_rules.py                       # everything: 5-10 min on one core
    python bench/compare_rules.py --problems xor,sin    # rerun some problems, keep the others
    python bench/compare_rules.py --render              # docs and plot from the JSON only

The protocol (problems, seeds, hyperparameters, what counts as a success) is in
bench/rule_protocol.py, shared with the test. Every rule trains from the same starting
points (seeds 0..N-1, one per seed), full batch, on the squared error, until the mean
training error reaches the problem's target or the epoch budget runs out.

Cells: seeds (of the N) that reached the target; the median epochs to the target over
those seeds; the median wall time to the target as a ratio to batch gradient descent's
median time to the target (each time the fastest of three identical runs, which must
agree on the outcome). Where gradient descent did not reach the target in its budget, the
ratio is to its median time for the whole budget and printed as an upper bound ("<"). All times come
from one run, on a machine that may be shared, and include the per-fit overhead (scipy's
start-up for L-BFGS): treat them as rough, above all on the tiny problems whose epochs
take microseconds. BLAS runs on one thread by default (``--threads``): on a loaded 2-core
machine multithreaded OpenBLAS made single L-BFGS-B runs up to 50 times slower at random,
and the matrix products here are too small to gain from threads.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys

import numpy as np
import rule_protocol as rp

import bprop

DOC = rp.ROOT / "docs" / "algorithms.md"
PLOT = rp.ROOT / "docs" / "algorithms_curves.png"
CURVE_POINTS = 80  # log-spaced samples of each seed-0 learning curve kept in the JSON


def measure(problem: str, rule: str) -> tuple[dict, dict]:
    """The cell's summary over all seeds, and seed 0's learning curve (subsampled)."""
    p = rp.PROBLEMS[problem]
    outcomes = []
    for seed in rp.SEEDS:
        runs = [rp.run(problem, rule, seed) for _ in range(p.repeats)]
        if len({(r.reached, r.epochs, r.final_loss) for r in runs}) != 1:
            raise SystemExit(f"{problem} {rule} seed {seed}: identical runs differ")
        outcomes.append(min(runs, key=lambda r: r.seconds))
    losses = outcomes[0].losses
    idx = np.unique(np.geomspace(1, len(losses), CURVE_POINTS).round().astype(int)) - 1
    curve = {"epoch": (idx + 1).tolist(), "loss": losses[idx].tolist()}
    return rp.summarize(outcomes, p.max_epochs), curve


def run_all(problems: list[str], reference: dict) -> dict:
    for problem in problems:  # untimed warm-up: first calls pay one-time costs (scipy)
        for rule in rp.RULES:
            rp.run(problem, rule, 0)
    for problem in problems:
        reference["cells"][problem], reference["curves"][problem] = {}, {}
        for rule in rp.RULES:
            cell, curve = measure(problem, rule)
            reference["cells"][problem][rule] = cell
            reference["curves"][problem][rule] = curve
            print(f"{problem:9s} {rule:10s} {cell['successes']}/{cell['n']}"
                  f"  median epochs {cell['epochs_median']}", file=sys.stderr)  # fmt: skip
    return reference


def _ratio(cell: dict, gd: dict) -> str:
    if gd["successes"]:
        return f"{cell['seconds_median'] / gd['seconds_median']:.2g}x"
    return f"<{cell['seconds_median'] / gd['seconds_median_all']:.2g}x"


def table(reference: dict) -> str:
    """The Markdown table: rule x problem, successes/N, median epochs, time ratio."""
    problems = reference["protocol"]["problems"]
    lines = [
        "| rule | " + " | ".join(p["name"] for p in problems.values()) + " |",
        "|" + "|".join(["---"] + [":---:"] * len(problems)) + "|",
    ]
    for rule in reference["protocol"]["rules"]:
        cells = [f"`{rule}`"]
        for key in problems:
            cell, gd = reference["cells"][key][rule], reference["cells"][key]["gd"]
            text = f"{cell['successes']}/{cell['n']}"
            if cell["successes"]:
                text += f", {cell['epochs_median']:g} ep, {_ratio(cell, gd)}"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _names(rules: list[str]) -> str:
    quoted = [f"`{r}`" for r in rules]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def summary(reference: dict) -> str:
    """Per problem, the facts the prose may state, read off the numbers."""
    lines = []
    for key, spec in reference["protocol"]["problems"].items():
        cells = reference["cells"][key]
        n = len(reference["protocol"]["seeds"])
        never = [r for r, c in cells.items() if c["successes"] == 0]
        some = {r: c for r, c in cells.items() if c["successes"] > 0}
        parts = [f"no seed reached the target with {_names(never)}"] if never else []
        fewest = min(c["successes"] for c in some.values())
        if fewest < n:
            worst = [r for r, c in some.items() if c["successes"] == fewest]
            parts.append(
                f"fewest successes{' among the others' if never else ''}: {_names(worst)} "
                f"({fewest}/{n})"
            )
        elif not never:
            parts.append("every seed reached the target with every rule")
        early = [f"`{r}` {c['stopped_early']}" for r, c in cells.items() if c["stopped_early"]]
        if early:
            parts.append(f"failed runs that stopped before the budget: {', '.join(early)}")
        full = [r for r, c in cells.items() if c["successes"] == n]
        if full and len(full) < len(cells):
            parts.append(f"all {n} with {_names(full)}")
        best = min(c["epochs_median"] for c in some.values())
        fastest = [r for r, c in some.items() if c["epochs_median"] == best]
        parts.append(f"fewest median epochs: {_names(fastest)} ({best:g})")
        quickest = min(some, key=lambda r: some[r]["seconds_median"])
        slowest = max(some, key=lambda r: some[r]["seconds_median"])
        parts.append(f"shortest median time to the target: `{quickest}`, longest: `{slowest}`")
        lines.append(f"- **{spec['name']}**: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def setup_line(reference: dict) -> str:
    seeds = reference["protocol"]["seeds"]
    problems = "; ".join(
        f"{p['name']}: target {p['target']:g}, {p['max_epochs']} epochs"
        for p in reference["protocol"]["problems"].values()
    )
    return f"Seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}) for every rule and problem. {problems}."


def doc_block(reference: dict) -> str:
    """What sits between the table markers of docs/algorithms.md."""
    return (
        "<!-- table:start (written by bench/compare_rules.py from "
        "tests/reference/convergence_rates.json) -->\n"
        "Each cell: seeds that reached the target, median epochs to it, and the median time "
        "to it as a ratio to batch gradient descent's ('<': gradient descent did not reach "
        "the target, ratio to its time for the whole budget). "
        f"{setup_line(reference)}\n\n{table(reference)}\n\n{summary(reference)}\n"
        "<!-- table:end -->"
    )


def write_doc(reference: dict) -> None:
    doc = DOC.read_text()
    new, n = re.subn(
        r"<!-- table:start.*?<!-- table:end -->", lambda _: doc_block(reference), doc, flags=re.S
    )
    if n != 1:
        raise SystemExit(f"{DOC} has no table markers; not written")
    DOC.write_text(new)
    print(f"wrote the table in {DOC}", file=sys.stderr)


def plot(reference: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = reference["protocol"]["problems"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, (key, spec) in zip(axes.flat, problems.items(), strict=False):
        for i, (rule, curve) in enumerate(reference["curves"][key].items()):
            style = "-" if i < 10 else "--"
            ax.plot(curve["epoch"], curve["loss"], style, label=rule, lw=1.2)
        ax.axhline(spec["target"], color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{spec['name']} (seed 0)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("mean training error")
    for ax in axes.flat[len(problems) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    axes.flat[-1].legend(handles, labels, loc="center", ncol=2)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)
    print(f"wrote {PLOT}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", help=f"comma-separated subset of {','.join(rp.PROBLEMS)}")
    parser.add_argument("--render", action="store_true", help="docs and plot from the JSON")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args()
    problems = args.problems.split(",") if args.problems else list(rp.PROBLEMS)
    unknown = sorted(set(problems) - set(rp.PROBLEMS))
    if unknown:
        raise SystemExit(f"unknown problems {unknown}; expected some of {list(rp.PROBLEMS)}")
    if args.render:
        reference = rp.load_reference()
    else:
        reference = {"cells": {}, "curves": {}}
        if set(problems) != set(rp.PROBLEMS):  # keep the other problems' numbers
            reference = rp.load_reference()
            if reference["protocol"] != json.loads(json.dumps(rp.protocol())):
                raise SystemExit("the protocol changed: rerun every problem")
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=args.threads):
            reference = run_all(problems, reference)
        reference = {
            "command": rp.COMMAND,
            "protocol": rp.protocol(),
            "environment": {
                "bprop": bprop.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "blas_threads": args.threads,
            },
            "cells": {k: reference["cells"][k] for k in rp.PROBLEMS},
            "curves": {k: reference["curves"][k] for k in rp.PROBLEMS},
        }
        if not args.no_write:
            rp.REFERENCE.write_text(json.dumps(reference, indent=1) + "\n")
            print(f"wrote {rp.REFERENCE}", file=sys.stderr)
    print(table(reference))
    print(summary(reference))
    if not args.no_write:
        write_doc(reference)
        plot(reference)


if __name__ == "__main__":
    main()
