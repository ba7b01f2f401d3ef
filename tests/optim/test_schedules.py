"""Learning-rate schedules: the formulas, ReduceOnPlateau's bookkeeping, and the trainer."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import (
    Constant,
    ExponentialDecay,
    InverseScaling,
    Network,
    ReduceOnPlateau,
    StepDecay,
    Trainer,
)
from bprop.training.history import EpochRecord, History


def test_constant() -> None:
    assert [Constant(0.3)(t, None) for t in (1, 2, 50)] == [0.3, 0.3, 0.3]


def test_inverse_scaling() -> None:
    s = InverseScaling(0.8, power_t=0.5)
    assert [s(t) for t in (1, 4, 16)] == pytest.approx([0.8, 0.4, 0.2])
    assert InverseScaling(1.0, power_t=1.0)(5) == pytest.approx(0.2)


def test_step_decay() -> None:
    s = StepDecay(1.0, drop=0.5, every=3)
    assert [s(t) for t in range(1, 8)] == pytest.approx([1, 1, 1, 0.5, 0.5, 0.5, 0.25])


def test_exponential_decay() -> None:
    s = ExponentialDecay(2.0, gamma=0.9)
    assert [s(t) for t in (1, 2, 3)] == pytest.approx([2.0, 1.8, 1.62])


def _history(losses, field="loss") -> History:
    h = History()
    for i, v in enumerate(losses, start=1):
        h.records.append(
            EpochRecord(
                epoch=i,
                loss=v if field == "loss" else 1.0,
                val_loss=v if field == "val_loss" else None,
            )
        )
    return h


def test_reduce_on_plateau_counts_like_pytorch() -> None:
    """factor 0.5, patience 2: reduced after the 3rd epoch in a row without improvement."""
    s = ReduceOnPlateau(1.0, factor=0.5, patience=2, threshold=0.0)
    losses = [1.0, 0.9, 0.9, 0.95, 0.91, 0.8, 0.8, 0.8, 0.8]
    rates = []
    h = History()
    for t, v in enumerate(losses, start=1):
        rates.append(s(t, h))  # before epoch t: sees epochs 1..t-1
        h.records.append(EpochRecord(epoch=t, loss=v))
    rates.append(s(len(losses) + 1, h))
    # bad epochs: 3, 4, 5 -> reduce before epoch 6; 7, 8, 9 -> reduce before epoch 10
    assert rates == [1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]


def test_reduce_on_plateau_threshold_cooldown_min_lr() -> None:
    # improvements smaller than 10% do not count; cooldown 1 skips one epoch; floor 0.3
    s = ReduceOnPlateau(1.0, factor=0.5, patience=1, threshold=0.1, cooldown=1, min_lr=0.3)
    h = _history([1.0, 0.95, 0.94])  # two non-improvements -> 0.5
    assert s(4, h) == 0.5
    h = _history([1.0, 0.95, 0.94, 0.93])  # cooldown: this one is not counted
    assert s(5, h) == 0.5
    h = _history([1.0, 0.95, 0.94, 0.93, 0.92, 0.91])  # two more -> max(0.25, 0.3)
    assert s(7, h) == 0.3


def test_reduce_on_plateau_on_validation_loss_and_restart() -> None:
    s = ReduceOnPlateau(1.0, factor=0.1, patience=1, monitor="val_loss")
    assert s(4, _history([1.0, 2.0, 3.0], "val_loss")) == pytest.approx(0.1)
    assert s(2, _history([1.0], "val_loss")) == 1.0  # a shorter history: a new fit
    with pytest.raises(ValueError, match="val_loss"):
        ReduceOnPlateau(1.0, monitor="val_loss")(2, _history([1.0]))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: Constant(0.0), "Constant: learning_rate"),
        (lambda: InverseScaling(-1.0), "InverseScaling: learning_rate"),
        (lambda: InverseScaling(1.0, power_t=-0.5), "power_t"),
        (lambda: StepDecay(1.0, drop=1.5), "drop"),
        (lambda: StepDecay(1.0, every=0), "every"),
        (lambda: ExponentialDecay(1.0, gamma=0.0), "gamma"),
        (lambda: ReduceOnPlateau(1.0, factor=1.0), "factor"),
        (lambda: ReduceOnPlateau(1.0, patience=0), "patience"),
        (lambda: ReduceOnPlateau(1.0, cooldown=-1), "cooldown"),
        (lambda: ReduceOnPlateau(0.1, min_lr=0.5), "min_lr"),
        (lambda: ReduceOnPlateau(1.0, monitor="accuracy"), "monitor"),
        (lambda: Constant(0.1)(0), "epoch counts from 1"),
    ],
)
def test_bad_arguments(make, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        make()


def test_trainer_applies_the_schedule_and_records_it() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = X @ np.array([1.0, -1.0])
    net = Network([2, 3, 1], "tanh", "identity", seed=0)
    trainer = Trainer(
        net,
        rule="adam",
        mode="batch",
        max_epochs=5,
        schedule=StepDecay(0.1, drop=0.5, every=2),
        progress=False,
    )
    history = trainer.fit(X, y)
    assert [r.learning_rate for r in history.records] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025]
    )
    assert trainer.rule.learning_rate == 0.001  # its hyperparameter: the rule is not changed
    assert trainer.state.rule_state.learning_rate == pytest.approx(0.025)
