"""The convergence protocol of bprop's update rules, in one place.

bench/compare_rules.py runs it for every rule on every problem and writes the outcome to
tests/reference/convergence_rates.json and the table in docs/algorithms.md;
tests/optim/test_convergence.py runs it again and checks the success counts against that
file. Both import this module, so they cannot drift apart.

Protocol. For every problem and every rule, the same seeds ``SEEDS`` (0..N-1, fixed in
advance, the same for every rule and problem) each give one starting point,
``Network(sizes, hidden, output, seed=seed)``; from it the rule trains full batch
(``mode='batch'``) on the squared error E_p = 1/2 sum_k (t_k - o_k)^2 (so that
Levenberg-Marquardt runs on the same objective as the others), with fixed hyperparameters
(``RULES``), until the mean training error reaches the problem's target
(``TargetError``) or the epoch budget runs out. A seed is a success when the last
recorded mean training error is <= the target within the budget; the epochs to the
target are the epochs recorded.

Hyperparameters: every rule's defaults, except the learning rates of Quickprop, Adam and
RMSprop (0.05) and AdaGrad (0.5, ten times Adam's: its effective rate decays like
1/sqrt(t); PyTorch's defaults have the same ratio); gradient descent, momentum and
Nesterov keep their defaults (0.1; momentum 0.9).

Only bprop's public API is used (``Network``, ``Trainer``, ``get_rule``, ``TargetError``).
"""

from __future__ import annotations

import functools
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bprop import DivergenceWarning, Network, TargetError, Trainer, get_rule

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference" / "convergence_rates.json"
COMMAND = "python bench/compare_rules.py"

#: the starting points: the same for every rule and problem, never chosen by outcome
SEEDS: tuple[int, ...] = tuple(range(20))

#: rule name (``get_rule``) -> hyperparameters
RULES: dict[str, dict[str, float]] = {
    "gd": {},
    "momentum": {},
    "nesterov": {},
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


def _xor() -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    return X, np.array([[0], [1], [1], [0]], float)


def _encoder() -> tuple[np.ndarray, np.ndarray]:
    return np.eye(8), np.eye(8)


def _sin() -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-3, 3, 40)[:, None]
    return x, np.sin(x)


def _standardized(X: np.ndarray) -> np.ndarray:
    return (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)


def _diabetes() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    y = data.target
    return _standardized(data.data), ((y - y.mean()) / y.std())[:, None]


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """The first 500 of scikit-learn's 1797 digits (46 to 53 of each class)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return _standardized(data.data[:500]), np.eye(10)[data.target[:500]]


@dataclass(frozen=True)
class Problem:
    """A training set, a network shape and a target mean training error within a budget."""

    name: str
    sizes: tuple[int, ...]
    hidden: str
    output: str
    target: float
    max_epochs: int
    make: Callable[[], tuple[np.ndarray, np.ndarray]]
    tested: bool  # rerun by tests/optim/test_convergence.py (the fast ones)
    repeats: int = 3  # timed runs per seed in the benchmark; the fastest counts

    def spec(self) -> dict:
        """The problem's settings as stored in the reference file."""
        return {
            "name": self.name,
            "sizes": list(self.sizes),
            "hidden": self.hidden,
            "output": self.output,
            "target": self.target,
            "max_epochs": self.max_epochs,
        }


PROBLEMS: dict[str, Problem] = {
    "xor": Problem("XOR 2-2-1", (2, 2, 1), "logistic", "logistic", 0.02, 2000, _xor, True),
    "encoder": Problem(
        "encoder 8-3-8", (8, 3, 8), "logistic", "logistic", 0.02, 2000, _encoder, True
    ),
    "sin": Problem("sin 1-10-1", (1, 10, 1), "tanh", "identity", 0.005, 2000, _sin, True),
    "diabetes": Problem(
        "diabetes 10-8-1", (10, 8, 1), "tanh", "identity", 0.2, 2000, _diabetes, True
    ),
    # Levenberg-Marquardt's epochs take a tenth of a second here: benchmark only
    "digits": Problem("digits 64-8-10", (64, 8, 10), "tanh", "logistic", 0.02, 300, _digits, False),
}


@functools.cache
def data(problem: str) -> tuple[np.ndarray, np.ndarray]:
    """The problem's inputs and targets (read-only arrays, built once)."""
    X, T = PROBLEMS[problem].make()
    X.setflags(write=False)
    T.setflags(write=False)
    return X, T


@dataclass
class Outcome:
    """One training run: did it reach the target, after how many epochs, how long."""

    reached: bool
    epochs: int
    final_loss: float
    seconds: float
    losses: np.ndarray


def make_trainer(problem: str, rule: str, seed: int) -> Trainer:
    """The trainer of one run: ``rule`` on ``problem`` from the starting point of ``seed``."""
    p = PROBLEMS[problem]
    return Trainer(
        Network(p.sizes, p.hidden, p.output, seed=seed),
        loss="squared_error",
        rule=get_rule(rule, **RULES[rule]),
        mode="batch",
        max_epochs=p.max_epochs,
        stopping=[TargetError(p.target)],
        metric=None,
        seed=seed,
        progress=False,
    )


def run(problem: str, rule: str, seed: int) -> Outcome:
    """Train ``rule`` on ``problem`` from the starting point of ``seed``."""
    p = PROBLEMS[problem]
    X, T = data(problem)
    trainer = make_trainer(problem, rule, seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)  # a diverged run is a failure
        history = trainer.fit(X, T)
    seconds = time.perf_counter() - start
    losses = np.asarray(history.loss, float)
    final = float(losses[-1])
    return Outcome(bool(final <= p.target), int(history.epochs), final, seconds, losses)


def run_cell(problem: str, rule: str, seeds: tuple[int, ...] = SEEDS) -> list[Outcome]:
    """One outcome per seed, in the order of ``seeds``."""
    return [run(problem, rule, seed) for seed in seeds]


def protocol() -> dict:
    """The settings a reference file was measured with (compared by the test)."""
    return {
        "seeds": list(SEEDS),
        "rules": RULES,
        "problems": {key: p.spec() for key, p in PROBLEMS.items()},
        "loss": "squared_error",
        "mode": "batch",
    }


def summarize(outcomes: list[Outcome], max_epochs: int) -> dict:
    """A cell of the reference file: per-seed outcomes and their statistics.

    ``stopped_early``: failures that ended before the budget (a solver stopping at a
    stationary point, or a diverged run); the other failures ran out of epochs.
    """
    ok = [o for o in outcomes if o.reached]
    epochs = [o.epochs for o in ok]
    return {
        "successes": len(ok),
        "n": len(outcomes),
        "reached": [o.reached for o in outcomes],
        "epochs": [o.epochs for o in outcomes],
        "stopped_early": sum(not o.reached and o.epochs < max_epochs for o in outcomes),
        "epochs_median": float(np.median(epochs)) if ok else None,
        "epochs_min": min(epochs) if ok else None,
        "epochs_max": max(epochs) if ok else None,
        "seconds_median": float(np.median([o.seconds for o in ok])) if ok else None,
        "seconds_median_all": float(np.median([o.seconds for o in outcomes])),
    }


def load_reference(path: Path = REFERENCE) -> dict:
    return json.loads(path.read_text())
