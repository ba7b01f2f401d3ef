"""Success rates of every update rule on fixed seeds, checked against the measured ones.

Protocol: bench/rule_protocol.py, imported here and by bench/compare_rules.py, so the test
and the benchmark cannot drift apart. Every rule trains from the same starting points
(seeds 0..N-1, N = 20, fixed in advance for every rule and problem, never chosen by
outcome), full batch, squared error, fixed hyperparameters, until the mean training error
reaches the problem's target or the epoch budget runs out.

Reference: tests/reference/convergence_rates.json, written by ``python
bench/compare_rules.py``, which also writes the table in docs/algorithms.md from the same
numbers. It holds k, the number of the N seeds that reached the target, per rule and
problem (and which seeds did). This file reruns every rule on the fast problems (XOR
2-2-1, the 8-3-8 encoder, sin 1-10-1, diabetes 10-8-1: about 30 s of CPU on one core);
digits 64-8-10 is in the benchmark only (it would add about as much again).

Margin. The runs are deterministic, so on the machine that wrote the reference the
counts come out exactly equal. Another platform (BLAS, CPU) rounds differently and can
send a run from the edge of a basin of attraction elsewhere. As a worst case, a rerun's
count is treated as a fresh draw X ~ Binomial(N, p), p = (k + 1) / (N + 2) (the rule of
succession: the cell's success rate estimated from k, never exactly 0 or 1), and the test
fails when X falls outside [binom.ppf(ALPHA, N, p), binom.isf(ALPHA, N, p)] with
ALPHA = 1e-4 per side. An unchanged rule then fails a cell with probability below 2e-4,
and the whole file (13 rules x 4 problems = 52 cells) below 52 x 2e-4 ~ 1%. A rule that
got worse shows as a count below the lower bound (for N = 20: k = 20 needs at least 14,
k = 10 at least 2; for k <= 7 the lower bound is 0). A count above the upper bound
(k = 0 allows at most 6) fails too: the published table would then no longer say how
often the rule converges; rerun the benchmark and commit the new reference and table.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom
from threadpoolctl import threadpool_limits

from bprop.optim.registry import RULES as REGISTERED

ROOT = Path(__file__).resolve().parents[2]
ALPHA = 1e-4


def _load(name: str):
    """A module of bench/ (not a package), loaded once under its own name."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


rp = _load("rule_protocol")
REFERENCE = rp.load_reference()
N = len(rp.SEEDS)
TESTED = [key for key, problem in rp.PROBLEMS.items() if problem.tested]


def bounds(k: int, n: int = N, alpha: float = ALPHA) -> tuple[int, int]:
    """The counts a rerun may give: the alpha and 1 - alpha quantiles of Binomial(n, p),
    p = (k + 1) / (n + 2)."""
    p = (k + 1) / (n + 2)
    return int(binom.ppf(alpha, n, p)), int(binom.isf(alpha, n, p))


def test_bounds() -> None:
    assert bounds(20) == (14, 20)
    assert bounds(0) == (0, 6)
    lo, hi = bounds(10)
    assert lo <= 10 <= hi
    for k in range(N + 1):  # the false-alarm rate is within ALPHA on each side
        p = (k + 1) / (N + 2)
        lo, hi = bounds(k)
        assert binom.cdf(lo - 1, N, p) <= ALPHA
        assert binom.sf(hi, N, p) <= ALPHA


def test_reference_matches_protocol() -> None:
    assert REFERENCE["protocol"] == json.loads(json.dumps(rp.protocol())), (
        "bench/rule_protocol.py changed: rerun python bench/compare_rules.py"
    )
    assert set(rp.RULES) == set(REGISTERED), "every registered update rule is in the protocol"
    assert N >= 20
    assert REFERENCE["command"] == rp.COMMAND


def test_reference_cells_are_consistent() -> None:
    for key, problem in rp.PROBLEMS.items():
        for rule in rp.RULES:
            cell = REFERENCE["cells"][key][rule]
            assert cell["n"] == N == len(cell["reached"]) == len(cell["epochs"])
            assert cell["successes"] == sum(cell["reached"])
            assert all(1 <= e <= problem.max_epochs for e in cell["epochs"])
            epochs = [e for e, ok in zip(cell["epochs"], cell["reached"], strict=True) if ok]
            if epochs:
                assert cell["epochs_median"] == np.median(epochs)
                assert (cell["epochs_min"], cell["epochs_max"]) == (min(epochs), max(epochs))
            else:  # no statistics of successes that did not happen
                assert cell["epochs_median"] is None and cell["seconds_median"] is None


def test_docs_table_is_the_reference() -> None:
    report = _load("compare_rules")
    doc = (ROOT / "docs" / "algorithms.md").read_text()
    block = re.search(r"<!-- table:start.*?<!-- table:end -->", doc, flags=re.S)
    assert block is not None
    assert block.group(0) == report.doc_block(REFERENCE), (
        "docs/algorithms.md: rerun python bench/compare_rules.py --render"
    )


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """As in the benchmark: the products are tiny, and on a loaded machine multithreaded
    BLAS makes single runs many times slower at random."""
    with threadpool_limits(limits=1):
        yield


@pytest.mark.parametrize("rule", list(rp.RULES))
@pytest.mark.parametrize("problem", TESTED)
def test_success_count(problem: str, rule: str) -> None:
    cell = REFERENCE["cells"][problem][rule]
    outcomes = rp.run_cell(problem, rule)
    reached = [o.reached for o in outcomes]
    lo, hi = bounds(cell["successes"])
    flipped = [s for s, a, b in zip(rp.SEEDS, reached, cell["reached"], strict=True) if a != b]
    message = (
        f"{rule} on {problem}: {sum(reached)}/{N} seeds reached the target, reference "
        f"{cell['successes']}/{N} (allowed {lo}-{hi}); seeds that changed: {flipped}"
    )
    assert lo <= sum(reached) <= hi, message
    for outcome in outcomes:
        assert outcome.epochs <= rp.PROBLEMS[problem].max_epochs
        assert np.isfinite(outcome.final_loss) or not outcome.reached


@pytest.mark.parametrize("rule", ["lbfgs", "lm"])
def test_solvers_record_the_error_of_the_final_weights(rule: str) -> None:
    X, T = rp.data("sin")
    trainer = rp.make_trainer("sin", rule, 0)
    history = trainer.fit(X, T)
    assert history.loss[-1] <= rp.PROBLEMS["sin"].target
    assert trainer.evaluate(X, T)[0] == pytest.approx(history.loss[-1], rel=1e-9)
