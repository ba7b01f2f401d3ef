"""Compare bprop's update rules on equal terms; writes the table in docs/algorithms.md and
the learning curves in docs/algorithms_curves.png.

    .venv/bin/python bench/compare_rules.py            # about two minutes on 2 cores
    .venv/bin/python bench/compare_rules.py --quick    # fewer seeds, shorter budgets

Every rule trains the same network from the same starting weights (one per seed), full
batch (``mode='batch'``), on the squared error E_p = 1/2 sum_k (t_k - o_k)^2, so that
Levenberg-Marquardt runs on the same objective as the others, until the mean training
error reaches the problem's target or the epoch budget runs out.

Problems: XOR 2-2-1 and the 8-3-8 encoder (logistic hidden and output units); scikit-learn's
digits (64-16-10, tanh hidden, logistic outputs, one-hot targets, standardised inputs)
and diabetes regression (10-8-1, tanh hidden, identity output, standardised inputs and
target).

Hyperparameters: every rule's defaults, except the learning rates of Quickprop, Adam and
RMSprop (0.05) and AdaGrad (0.5), the same settings as tests/test_rules_convergence.py;
gradient descent and momentum keep their defaults (0.1; momentum 0.9).

Cells: seeds (of those tried) that reached the target; the median epochs to the target
over those seeds; the median wall time to the target as a ratio to batch gradient
descent's median time to the target (each time the fastest of three identical runs, one
run on digits). Where gradient descent did not reach the target in
its budget, the ratio is to its time for the whole budget and printed as an upper bound
("<"). All times come from this one run, on a machine that may be shared, and include
the per-fit overhead (scipy's start-up for L-BFGS): treat them as rough, above all on the
tiny XOR and encoder problems whose epochs take microseconds. BLAS runs on one thread by
default (``--threads``): on a loaded 2-core machine multithreaded OpenBLAS made single
L-BFGS-B runs up to 50 times slower at random (7 ms or 150 ms for the same run), and the
matrix products here are too small to gain from threads (except Levenberg-Marquardt's
J^T J on digits).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bprop import Network, TargetError, Trainer, get_rule

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "algorithms.md"
PLOT = ROOT / "docs" / "algorithms_curves.png"

RULES = {
    "gd": {},
    "momentum": {},
    "rprop+": {},
    "rprop-": {},
    "irprop+": {},
    "irprop-": {},
    "quickprop": {"learning_rate": 0.05},
    "adam": {"learning_rate": 0.05},
    "adagrad": {"learning_rate": 0.5},
    "rmsprop": {"learning_rate": 0.05},
    "lbfgs": {},
    "lm": {},
}


@dataclass
class Problem:
    name: str
    X: np.ndarray
    T: np.ndarray
    sizes: tuple[int, ...]
    hidden: str
    output: str
    target: float
    max_epochs: int
    seeds: list[int] = field(default_factory=list)
    repeats: int = 3  # timed runs per seed; the fastest counts (same epochs every time)


def problems(quick: bool) -> list[Problem]:
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.preprocessing import StandardScaler

    many, few = (list(range(4)), [0]) if quick else (list(range(10)), [0, 1, 2])
    xor_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    digits = load_digits()
    diabetes = load_diabetes()
    y = diabetes.target
    return [
        Problem("XOR 2-2-1", xor_X, np.array([[0], [1], [1], [0]], float), (2, 2, 1),
                "logistic", "logistic", 0.02, 2000, many),
        Problem("encoder 8-3-8", np.eye(8), np.eye(8), (8, 3, 8), "logistic", "logistic",
                0.02, 2000, many),
        Problem("digits 64-16-10", StandardScaler().fit_transform(digits.data),
                np.eye(10)[digits.target], (64, 16, 10), "tanh", "logistic", 0.02,
                100 if quick else 300, few, repeats=1),
        Problem("diabetes 10-8-1", StandardScaler().fit_transform(diabetes.data),
                ((y - y.mean()) / y.std())[:, None], (10, 8, 1), "tanh", "identity", 0.2,
                2000, few),
    ]  # fmt: skip


@dataclass
class Run:
    reached: bool
    epochs: int
    seconds: float
    losses: np.ndarray
    stop_reason: str


def train(problem: Problem, rule: str, seed: int) -> Run:
    """Train from the seed's starting weights; the fastest of ``problem.repeats`` runs."""
    runs = [_train_once(problem, rule, seed) for _ in range(problem.repeats)]
    return min(runs, key=lambda r: r.seconds)


def _train_once(problem: Problem, rule: str, seed: int) -> Run:
    net = Network(problem.sizes, problem.hidden, problem.output, seed=seed)
    trainer = Trainer(
        net,
        loss="squared_error",
        rule=get_rule(rule, **RULES[rule]),
        mode="batch",
        max_epochs=problem.max_epochs,
        stopping=[TargetError(problem.target)],
        metric=None,
        progress=False,
    )
    start = time.perf_counter()
    history = trainer.fit(problem.X, problem.T)
    seconds = time.perf_counter() - start
    reached = bool(history.loss[-1] <= problem.target)
    return Run(reached, history.epochs, seconds, history.loss, history.stop_reason)


def warm_up(probs: list[Problem]) -> None:
    """Run every rule briefly on every problem first, untimed: the first call of some code
    paths pays one-time costs (scipy's L-BFGS-B set-up took 50 ms once, 3 ms after)."""
    for problem in probs:
        short = Problem(**{**vars(problem), "max_epochs": 2, "repeats": 1})
        for rule in RULES:
            train(short, rule, 0)


def compare(probs: list[Problem]) -> tuple[dict, dict]:
    warm_up(probs)
    results: dict[tuple[str, str], list[Run]] = {}
    for problem in probs:
        for rule in RULES:
            runs = [train(problem, rule, seed) for seed in problem.seeds]
            results[problem.name, rule] = runs
            ok = [r for r in runs if r.reached]
            print(
                f"{problem.name:18s} {rule:10s} reached {len(ok)}/{len(runs)}"
                f"  epochs {[r.epochs if r.reached else None for r in runs]}",
                file=sys.stderr,
            )
    curves = {p.name: {rule: results[p.name, rule][0].losses for rule in RULES} for p in probs}
    return results, curves


def table(probs: list[Problem], results: dict) -> str:
    header = ["rule"] + [p.name for p in probs]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + [":---:"] * len(probs)) + "|",
    ]
    for rule in RULES:
        cells = [f"`{rule}`"]
        for p in probs:
            runs = results[p.name, rule]
            ok = [r for r in runs if r.reached]
            if not ok:
                cells.append(f"0/{len(runs)}")
                continue
            gd = results[p.name, "gd"]
            gd_ok = [r for r in gd if r.reached]
            seconds = np.median([r.seconds for r in ok])
            if gd_ok:
                timing = f"{seconds / np.median([r.seconds for r in gd_ok]):.2g}x"
            else:  # GD needs more than its whole budget: an upper bound
                timing = f"<{seconds / np.median([r.seconds for r in gd]):.2g}x"
            epochs = int(np.median([r.epochs for r in ok]))
            cells.append(f"{len(ok)}/{len(runs)}, {epochs} ep, {timing}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(curves: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for ax, (name, by_rule) in zip(axes.flat, curves.items(), strict=True):
        for i, (rule, losses) in enumerate(by_rule.items()):
            style = "-" if i < 10 else "--"
            ax.plot(np.arange(1, len(losses) + 1), losses, style, label=rule, lw=1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{name} (seed 0)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("mean training error")
    axes.flat[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    print(f"wrote {PLOT}", file=sys.stderr)


def write_table(text: str, probs: list[Problem]) -> None:
    setup = ", ".join(
        f"{p.name}: target {p.target:g}, {p.max_epochs} epochs, seeds {p.seeds[0]}-{p.seeds[-1]}"
        for p in probs
    )
    block = (
        "<!-- table:start (written by bench/compare_rules.py) -->\n"
        "Each cell: seeds that reached the target, median epochs to it, and the median time "
        "to it as a ratio to batch gradient descent's ('<': gradient descent did not reach "
        f"the target, ratio to its time for the whole budget). {setup}.\n\n"
        f"{text}\n<!-- table:end -->"
    )
    doc = DOC.read_text()
    new, n = re.subn(r"<!-- table:start.*?<!-- table:end -->", block, doc, flags=re.S)
    if n != 1:
        raise SystemExit(f"{DOC} has no table markers; not written")
    DOC.write_text(new)
    print(f"wrote the table in {DOC}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds, shorter budgets")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = parser.parse_args()
    probs = problems(args.quick)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.threads):
        results, curves = compare(probs)
    text = table(probs, results)
    print(text)
    if not args.no_write:
        write_table(text, probs)
        plot(curves)


if __name__ == "__main__":
    main()
