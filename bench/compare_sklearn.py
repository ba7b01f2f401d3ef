"""bprop's scikit-learn estimators against scikit-learn's MLPs: test score and fit time.

One run produces the comparison table of docs/sklearn.md:

    .venv/bin/python bench/compare_sklearn.py            # print the table
    .venv/bin/python bench/compare_sklearn.py --write    # and put it into docs/sklearn.md

For each data set (digits, breast_cancer, wine, iris: classification, test accuracy;
diabetes: regression, test R^2) and each seed: a stratified (classification) 75/25
train/test split drawn with the seed, inputs standardised on the training part (and, for
diabetes, the target too, through ``TransformedTargetRegressor``), then

- ``sklearn``:       scikit-learn's MLPClassifier/MLPRegressor, default parameters;
- ``bprop``:         bprop's, default parameters (the same defaults: Adam, 100 relu units);
- ``bprop rprop``:   bprop's with ``solver='rprop'`` (full batch, RPROP+);
- ``sklearn lbfgs``: scikit-learn's full-batch solver, for reference next to RPROP;

all with ``random_state=seed``. Fit time is wall-clock seconds of ``fit`` with BLAS held
to one thread (threadpoolctl), so the two libraries are timed on equal terms. Reported:
mean and standard deviation over the seeds of the score; median fit time; mean epochs.
ConvergenceWarnings (the defaults stop at max_iter=200 on some sets) are counted, not shown.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn import datasets
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import bprop
from bprop import MLPClassifier, MLPRegressor

DATASETS = {
    "digits": (datasets.load_digits, "classification"),
    "breast_cancer": (datasets.load_breast_cancer, "classification"),
    "wine": (datasets.load_wine, "classification"),
    "iris": (datasets.load_iris, "classification"),
    "diabetes": (datasets.load_diabetes, "regression"),
}

MODELS = {
    "sklearn": lambda cls, seed: cls["sklearn"](random_state=seed),
    "bprop": lambda cls, seed: cls["bprop"](random_state=seed),
    "bprop rprop": lambda cls, seed: cls["bprop"](solver="rprop", random_state=seed),
    "sklearn lbfgs": lambda cls, seed: cls["sklearn"](solver="lbfgs", random_state=seed),
}

CLASSES = {
    "classification": {"sklearn": SkClassifier, "bprop": MLPClassifier},
    "regression": {"sklearn": SkRegressor, "bprop": MLPRegressor},
}

START, END = "<!-- compare_sklearn:start -->", "<!-- compare_sklearn:end -->"


def build(task: str, model: str, seed: int):
    est = MODELS[model](CLASSES[task], seed)
    if task == "regression":
        est = TransformedTargetRegressor(regressor=est, transformer=StandardScaler())
    return make_pipeline(StandardScaler(), est)


def n_epochs(pipe) -> int:
    est = pipe[-1]
    est = getattr(est, "regressor_", est)
    return int(est.n_iter_)


def run(seeds: list[int]) -> list[dict]:
    rows = []
    for name, (load, task) in DATASETS.items():
        X, y = load(return_X_y=True)
        for model in MODELS:
            scores, times, epochs, warned = [], [], [], 0
            for seed in seeds:
                X_tr, X_te, y_tr, y_te = train_test_split(
                    X,
                    y,
                    test_size=0.25,
                    random_state=seed,
                    stratify=y if task == "classification" else None,
                )
                pipe = build(task, model, seed)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", ConvergenceWarning)
                    t0 = time.perf_counter()
                    pipe.fit(X_tr, y_tr)
                    times.append(time.perf_counter() - t0)
                warned += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
                scores.append(pipe.score(X_te, y_te))
                epochs.append(n_epochs(pipe))
            rows.append(
                {
                    "dataset": name,
                    "metric": "accuracy" if task == "classification" else "R^2",
                    "model": model,
                    "mean": statistics.mean(scores),
                    "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                    "time": statistics.median(times),
                    "epochs": statistics.mean(epochs),
                    "warned": warned,
                    "n": len(X),
                }
            )
            print(f"{name:14s} {model:14s} {rows[-1]['mean']:.4f}", file=sys.stderr)
    return rows


def table(rows: list[dict], seeds: list[int]) -> str:
    lines = [
        f"Test score (mean ± std over seeds {', '.join(map(str, seeds))}), median fit time, "
        "mean epochs; *conv* = fits that stopped at max_iter with a ConvergenceWarning.",
        "",
        "| data set (n) | metric | model | test score | fit time [s] | epochs | conv |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} ({r['n']}) | {r['metric']} | {r['model']} | "
            f"{r['mean']:.3f} ± {r['std']:.3f} | {r['time']:.3f} | {r['epochs']:.0f} | "
            f"{r['warned']}/{len(seeds)} |"
        )
    fast = "available" if bprop.training.fast.available() else "not installed"
    lines += [
        "",
        f"Produced by `bench/compare_sklearn.py --seeds {' '.join(map(str, seeds))} --write` "
        f"on {cpu_name()}, Python "
        f"{platform.python_version()}, NumPy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, bprop {bprop.__version__} (numba fast path {fast}; it "
        "applies to the gradient-descent solvers only, so not to these runs), BLAS limited "
        "to one thread.",
    ]
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write(doc: Path, text: str) -> None:
    content = doc.read_text()
    if START not in content or END not in content:
        raise SystemExit(f"{doc} has no {START} ... {END} section to replace")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    doc.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", content))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--write", action="store_true", help="update docs/sklearn.md")
    args = parser.parse_args(argv)
    with threadpool_limits(limits=1):
        rows = run(args.seeds)
    text = table(rows, args.seeds)
    print(text)
    if args.write:
        write(Path(__file__).resolve().parent.parent / "docs" / "sklearn.md", text)


if __name__ == "__main__":
    main()
