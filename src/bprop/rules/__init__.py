"""Weight-update rules, one module per family. See :mod:`bprop.rules.base` for the interface."""

from .adaptive import AdaGrad, Adam, RMSprop
from .base import ClosureRule, UpdateRule
from .gradient_descent import GradientDescent, Momentum, Nesterov
from .lbfgs import LBFGS
from .levenberg_marquardt import LevenbergMarquardt
from .quickprop import Quickprop
from .registry import RULES, get_rule
from .rprop import IRpropMinus, IRpropPlus, RpropMinus, RpropPlus

__all__ = [
    "LBFGS",
    "RULES",
    "AdaGrad",
    "Adam",
    "ClosureRule",
    "GradientDescent",
    "IRpropMinus",
    "IRpropPlus",
    "LevenbergMarquardt",
    "Momentum",
    "Nesterov",
    "Quickprop",
    "RMSprop",
    "RpropMinus",
    "RpropPlus",
    "UpdateRule",
    "get_rule",
]
