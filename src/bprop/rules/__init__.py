"""Weight-update rules, one module per family. See :mod:`bprop.rules.base` for the interface."""

from .base import ClosureRule, UpdateRule
from .gradient_descent import GradientDescent, Momentum, Nesterov
from .registry import RULES, get_rule

__all__ = [
    "RULES",
    "ClosureRule",
    "GradientDescent",
    "Momentum",
    "Nesterov",
    "UpdateRule",
    "get_rule",
]
