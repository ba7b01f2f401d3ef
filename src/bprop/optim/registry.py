"""Rules by name: ``get_rule('momentum', learning_rate=0.05)``."""

from __future__ import annotations

from typing import Any

from bprop.optim.adaptive import AdaGrad, Adam, RMSprop
from bprop.optim.base import ClosureRule, UpdateRule
from bprop.optim.gradient_descent import GradientDescent, Momentum, Nesterov
from bprop.optim.lbfgs import LBFGS
from bprop.optim.levenberg_marquardt import LevenbergMarquardt
from bprop.optim.quickprop import Quickprop
from bprop.optim.rprop import IRpropMinus, IRpropPlus, RpropMinus, RpropPlus

RULES: dict[str, type[UpdateRule] | type[ClosureRule]] = {
    cls.name: cls
    for cls in (
        GradientDescent,
        Momentum,
        Nesterov,
        RpropPlus,
        RpropMinus,
        IRpropPlus,
        IRpropMinus,
        Quickprop,
        Adam,
        AdaGrad,
        RMSprop,
        LBFGS,
        LevenbergMarquardt,
    )
}
_ALIASES = {
    "sgd": "gd",
    "gradient_descent": "gd",
    "rprop": "rprop+",
    "levenberg_marquardt": "lm",
}


def register(cls: type[UpdateRule] | type[ClosureRule], *aliases: str) -> None:
    """Make a rule class available by its ``name`` (and aliases) to :func:`get_rule`."""
    RULES[cls.name] = cls
    for alias in aliases:
        _ALIASES[alias] = cls.name


def get_rule(spec: str | UpdateRule | ClosureRule, **hyperparameters: Any):
    """A rule instance from a name and hyperparameters, or the instance itself."""
    if isinstance(spec, UpdateRule | ClosureRule):
        if hyperparameters:
            raise ValueError("hyperparameters go to the rule's constructor, not with an instance")
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key in RULES:
            try:
                return RULES[key](**hyperparameters)
            except TypeError as exc:
                raise ValueError(f"bad hyperparameters for rule {key!r}: {exc}") from None
    expected = ", ".join(sorted(RULES) + sorted(_ALIASES))
    raise ValueError(f"unknown update rule {spec!r}; expected one of: {expected}")
