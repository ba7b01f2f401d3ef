"""The convergence table, run as tests: every rule reaches a target error on XOR (2-2-1),
the 8-3-8 encoder and a small regression problem within a fixed number of epochs.

All problems: logistic hidden and output units for XOR and the encoder, tanh hidden and
identity output for the regression, squared error (E_p = 1/2 sum_k (t_k - o_k)^2, so that
Levenberg-Marquardt runs on the same objective as the others), full batch.

Hyperparameters: every rule's defaults, except the learning rates of the rules that
have one: 0.05 for Quickprop, Adam and RMSprop, and ten times that, 0.5, for AdaGrad
(whose effective rate decays like 1/sqrt(t); PyTorch's defaults have the same ratio,
0.01 against Adam's 0.001).

Starting points: XOR 2-2-1 and the 8-3-8 encoder have starting points from which some
rules stall at a local minimum or a saddle (L-BFGS stops there: its gradient test is
met), so no seed is good for every rule on every problem. bench/compare_rules.py reports
how many of seeds 0-9 reach the target for each rule (docs/algorithms.md); these tests fix
one seed per problem from which all rules succeed in that table (XOR: 7; encoder and
regression: 0), so that they test the rules' implementations, not the draw.
"""

from __future__ import annotations

import numpy as np
import pytest

from bprop import Network, TargetError, Trainer, get_rule

RULES = {
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


def _xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    return X, np.array([[0], [1], [1], [0]], float), (2, 2, 1), "logistic", "logistic"


def _encoder():
    X = np.eye(8)
    return X, X, (8, 3, 8), "logistic", "logistic"


def _regression():
    x = np.linspace(-3, 3, 40)[:, None]
    return x, np.sin(x), (1, 10, 1), "tanh", "identity"


# problem, seed, epoch limit, target mean error
PROBLEMS = {
    "xor": (_xor, 7, 500, 0.02),
    "encoder_8_3_8": (_encoder, 0, 1000, 0.02),
    "sin_regression": (_regression, 0, 2000, 0.005),
}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_reaches_target(rule: str, problem: str) -> None:
    make, seed, max_epochs, target = PROBLEMS[problem]
    X, T, sizes, hidden, output = make()
    net = Network(sizes, hidden, output, seed=seed)
    trainer = Trainer(
        net,
        loss="squared_error",
        rule=get_rule(rule, **RULES[rule]),
        mode="batch",
        max_epochs=max_epochs,
        stopping=[TargetError(target)],
        progress=False,
    )
    history = trainer.fit(X, T)
    assert history.stop_reason.startswith("target_error"), history.stop_reason
    assert history.loss[-1] <= target
    if rule in ("lbfgs", "lm"):  # full-batch solvers record the error of the final weights
        assert trainer.evaluate(X, T)[0] == pytest.approx(history.loss[-1], rel=1e-9)
