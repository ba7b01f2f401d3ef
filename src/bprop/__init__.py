"""bprop: feedforward neural networks trained by backpropagation.

The public API is re-exported here; see the README for a quickstart.
"""

from .activations import ACTIVATIONS, Activation, get_activation
from .data import one_hot, standardize
from .gradcheck import gradcheck, numeric_gradient
from .history import EpochRecord, History
from .init import INITIALIZERS, get_initializer
from .io import ModelFileError, load, save
from .losses import LOSSES, Loss, get_loss
from .network import Network
from .rules import (
    LBFGS,
    AdaGrad,
    Adam,
    ClosureRule,
    GradientDescent,
    IRpropMinus,
    IRpropPlus,
    LevenbergMarquardt,
    Momentum,
    Nesterov,
    Quickprop,
    RMSprop,
    RpropMinus,
    RpropPlus,
    UpdateRule,
    get_rule,
)
from .schedules import Constant, ExponentialDecay, InverseScaling, ReduceOnPlateau, StepDecay
from .stopping import (
    AllCorrect,
    EarlyStopping,
    GeneralizationLoss,
    ProgressQuotient,
    StoppingCriterion,
    TargetError,
    UpStrips,
)
from .train import DivergenceWarning, Trainer

__version__ = "0.1.0"

# The scikit-learn estimators import scikit-learn (about a second), so they load on first use.
_ESTIMATORS = ("MLPAutoencoder", "MLPClassifier", "MLPRegressor")


def __getattr__(name: str):
    if name in _ESTIMATORS:
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'bprop' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LBFGS",
    "LevenbergMarquardt",
    "LOSSES",
    "MLPAutoencoder",
    "MLPClassifier",
    "MLPRegressor",
    "Activation",
    "AdaGrad",
    "Adam",
    "AllCorrect",
    "ClosureRule",
    "Constant",
    "DivergenceWarning",
    "EarlyStopping",
    "EpochRecord",
    "ExponentialDecay",
    "GeneralizationLoss",
    "GradientDescent",
    "History",
    "IRpropMinus",
    "IRpropPlus",
    "InverseScaling",
    "Loss",
    "ModelFileError",
    "Momentum",
    "Nesterov",
    "Network",
    "ProgressQuotient",
    "Quickprop",
    "RMSprop",
    "ReduceOnPlateau",
    "RpropMinus",
    "RpropPlus",
    "StepDecay",
    "StoppingCriterion",
    "TargetError",
    "Trainer",
    "UpStrips",
    "UpdateRule",
    "__version__",
    "get_activation",
    "get_initializer",
    "get_loss",
    "get_rule",
    "gradcheck",
    "load",
    "numeric_gradient",
    "one_hot",
    "save",
    "standardize",
]
