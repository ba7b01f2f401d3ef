"""Bad hyperparameters raise ValueError naming the rule and the value; registry names."""

from __future__ import annotations

import pytest

import bprop
from bprop import get_rule
from bprop.optim import RULES

BAD = [
    ("rprop+", {"eta_minus": 1.0}, "eta_minus", "1.0"),
    ("rprop-", {"eta_minus": 0.0}, "eta_minus", "0.0"),
    ("irprop+", {"eta_plus": 1.0}, "eta_plus", "1.0"),
    ("irprop-", {"eta_plus": 0.9}, "eta_plus", "0.9"),
    ("rprop+", {"delta0": 100.0}, "delta0", "100.0"),
    ("rprop-", {"delta_min": 1.0, "delta_max": 0.5}, "delta_min", "1.0"),
    ("irprop-", {"delta_max": -1.0}, "delta_max", "-1.0"),
    ("quickprop", {"learning_rate": -0.1}, "learning_rate", "-0.1"),
    ("quickprop", {"mu": 0.0}, "mu", "0.0"),
    ("adam", {"learning_rate": -0.001}, "learning_rate", "-0.001"),
    ("adam", {"beta_1": 1.0}, "beta_1", "1.0"),
    ("adam", {"beta_2": -0.1}, "beta_2", "-0.1"),
    ("adam", {"epsilon": 0.0}, "epsilon", "0.0"),
    ("adam", {"epsilon_placement": "before"}, "epsilon_placement", "'before'"),
    ("adagrad", {"learning_rate": 0.0}, "learning_rate", "0.0"),
    ("rmsprop", {"rho": 1.5}, "rho", "1.5"),
    ("rmsprop", {"learning_rate": float("nan")}, "learning_rate", "nan"),
    ("lbfgs", {"max_iter": 0}, "max_iter", "0"),
    ("lbfgs", {"max_fun": 2.5}, "max_fun", "2.5"),
    ("lbfgs", {"gtol": -1.0}, "gtol", "-1.0"),
    ("lm", {"mu": 0.0}, "mu", "0.0"),
    ("lm", {"mu": -1e-3}, "mu", "-0.001"),
    ("lm", {"mu_decrease": 1.0}, "mu_decrease", "1.0"),
    ("lm", {"mu_increase": 1.0}, "mu_increase", "1.0"),
    ("lm", {"mu_max": 1e-4}, "mu_max", "0.0001"),
    ("lm", {"max_memory": 0}, "max_memory", "0"),
]


@pytest.mark.parametrize(("rule", "kwargs", "name", "value"), BAD)
def test_bad_hyperparameter(rule: str, kwargs: dict, name: str, value: str) -> None:
    with pytest.raises(ValueError) as info:
        get_rule(rule, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{rule}: ")
    assert name in message and value in message


def test_unknown_hyperparameter_names_the_rule() -> None:
    with pytest.raises(ValueError, match="'adam'.*lr"):
        get_rule("adam", lr=0.1)


NAMES = {
    "rprop+": "RpropPlus",
    "rprop-": "RpropMinus",
    "irprop+": "IRpropPlus",
    "irprop-": "IRpropMinus",
    "quickprop": "Quickprop",
    "adam": "Adam",
    "adagrad": "AdaGrad",
    "rmsprop": "RMSprop",
    "lbfgs": "LBFGS",
    "lm": "LevenbergMarquardt",
}


@pytest.mark.parametrize("name", sorted(NAMES))
def test_registry_names_and_exports(name: str) -> None:
    cls = getattr(bprop, NAMES[name])
    assert cls is getattr(bprop.optim, NAMES[name])
    assert RULES[name] is cls
    assert type(get_rule(name.upper())) is cls
    assert NAMES[name] in bprop.__all__


def test_learning_rate_attribute() -> None:
    """The trainer's schedules set ``learning_rate``: every rule with one exposes it."""
    for name in ("quickprop", "adam", "adagrad", "rmsprop"):
        rule = get_rule(name, learning_rate=0.02)
        assert rule.learning_rate == 0.02
    for name in ("rprop+", "rprop-", "irprop+", "irprop-", "lbfgs", "lm"):
        assert not hasattr(get_rule(name), "learning_rate")
