"""Weight-update rules, one module per family. See :mod:`bprop.optim.base` for the interface."""

from bprop.optim.adaptive import AdaGrad, Adam, RMSprop
from bprop.optim.base import ClosureRule, UpdateRule
from bprop.optim.gradient_descent import GradientDescent, Momentum, Nesterov
from bprop.optim.lbfgs import LBFGS
from bprop.optim.levenberg_marquardt import LevenbergMarquardt
from bprop.optim.quickprop import Quickprop
from bprop.optim.registry import RULES, get_rule
from bprop.optim.rprop import IRpropMinus, IRpropPlus, RpropMinus, RpropPlus

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
