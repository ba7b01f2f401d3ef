"""Rules by name: ``get_rule('momentum', learning_rate=0.05)``."""

from __future__ import annotations

import inspect
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


def hyperparameter_names(name: str) -> tuple[str, ...] | None:
    """The keyword arguments the constructor of rule ``name`` takes (its hyperparameters),
    or None if it takes any (``**kwargs``); a ValueError for an unknown name."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in RULES:
        expected = ", ".join(sorted(RULES) + sorted(_ALIASES))
        raise ValueError(f"unknown update rule {name!r}; expected one of: {expected}")
    params = inspect.signature(RULES[key]).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(p.name for p in params if p.kind in kinds)


def check_hyperparameters(name: str, hyperparameters: dict[str, Any]) -> None:
    """A ValueError naming the valid keys if ``hyperparameters`` has a key that rule
    ``name``'s constructor does not take."""
    valid = hyperparameter_names(name)
    unknown = [k for k in hyperparameters if valid is not None and k not in valid]
    if unknown:
        key = _ALIASES.get(name.lower(), name.lower())
        raise ValueError(
            f"bad hyperparameters for rule {key!r}: no hyperparameter "
            f"{', '.join(map(repr, unknown))}; "
            f"its hyperparameters: {', '.join(valid or ()) or 'none'}"
        )


def get_rule(spec: str | UpdateRule | ClosureRule, **hyperparameters: Any):
    """A rule instance from a name and hyperparameters, or the instance itself."""
    if isinstance(spec, UpdateRule | ClosureRule):
        if hyperparameters:
            raise ValueError("hyperparameters go to the rule's constructor, not with an instance")
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key in RULES:
            check_hyperparameters(key, hyperparameters)
            try:
                return RULES[key](**hyperparameters)
            except TypeError as exc:
                raise ValueError(f"bad hyperparameters for rule {key!r}: {exc}") from None
    expected = ", ".join(sorted(RULES) + sorted(_ALIASES))
    raise ValueError(f"unknown update rule {spec!r}; expected one of: {expected}")
