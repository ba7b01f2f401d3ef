"""Trajectories of bprop's rules against torch.optim, from numbers stored by
tests/reference/make_torch_reference.py (torch is not needed to run these tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bprop import Network, Trainer, get_rule

REF_FILE = Path(__file__).parent.parent / "reference" / "torch_trajectories.json"
REF = json.loads(REF_FILE.read_text())


def _network() -> Network:
    return Network.from_weights(
        [np.array(W) for W in REF["weights"]],
        [np.array(b) for b in REF["biases"]],
        "tanh",
        "identity",
    )


@pytest.mark.parametrize("name", sorted(REF["rules"]))
def test_trajectory_matches_torch(name: str) -> None:
    ref = REF["rules"][name]
    net = _network()
    seen: list[np.ndarray] = []
    trainer = Trainer(
        net,
        loss="squared_error",
        rule=get_rule(name, **ref["bprop_hyperparameters"]),
        mode="batch",
        max_epochs=REF["steps"],
        callbacks=[lambda tr, rec: seen.append(tr.network.params.copy())],
        progress=False,
    )
    history = trainer.fit(np.array(REF["X"]), np.array(REF["T"]))
    expected = np.array(ref["params"])
    np.testing.assert_allclose(np.array(seen), expected, rtol=1e-9, atol=1e-12)
    # torch's loss at step t is taken before step t's update, as bprop's epoch loss is
    np.testing.assert_allclose(history.loss, ref["losses"], rtol=1e-10)


def test_rprop_reference_is_irprop_minus_not_the_other_variants() -> None:
    """torch.optim.Rprop is iRprop-: Rprop+ and Rprop- leave its trajectory.

    (iRprop+ differs from iRprop- only when the error grows, which it does not here.)
    """
    ref = REF["rules"]["irprop-"]
    hp = ref["bprop_hyperparameters"]
    expected = np.array(ref["params"])
    for other in ("rprop+", "rprop-"):
        net = _network()
        Trainer(
            net,
            loss="squared_error",
            rule=get_rule(other, **hp),
            mode="batch",
            max_epochs=REF["steps"],
            progress=False,
        ).fit(np.array(REF["X"]), np.array(REF["T"]))
        assert not np.allclose(net.params, expected[-1], rtol=1e-6), other


def test_lbfgs_reaches_torch_lbfgs_minimiser_on_a_convex_problem() -> None:
    ref = REF["lbfgs"]
    X, T = np.array(ref["X"]), np.array(ref["T"])
    init = np.array(ref["initial"])
    net = Network.from_weights([init[:3, None]], [init[3:]], [], "identity")
    trainer = Trainer(
        net,
        loss="squared_error",
        rule=get_rule("lbfgs", gtol=1e-12, ftol=1e-15),
        mode="batch",
        max_epochs=200,
        progress=False,
    )
    trainer.fit(X, T)
    np.testing.assert_allclose(net.params, ref["final"], rtol=1e-6, atol=1e-8)
    # and both are the least-squares solution
    A = np.hstack([X, np.ones((len(X), 1))])
    solution = np.linalg.lstsq(A, T[:, 0], rcond=None)[0]
    np.testing.assert_allclose(ref["final"], solution, rtol=1e-6, atol=1e-8)
