"""bprop: feedforward neural networks trained by backpropagation.

The public API is re-exported here; see the README for a quickstart.
"""

from bprop.core.activations import ACTIVATIONS, Activation, get_activation
from bprop.core.data import one_hot, standardize
from bprop.core.gradcheck import gradcheck, numeric_gradient
from bprop.core.init import INITIALIZERS, get_initializer
from bprop.core.losses import LOSSES, Loss, get_loss
from bprop.core.network import Network
from bprop.files.container import ModelFileError, load, save
from bprop.optim import (
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
from bprop.optim.schedules import (
    Constant,
    ExponentialDecay,
    InverseScaling,
    ReduceOnPlateau,
    StepDecay,
)
from bprop.training.history import EpochRecord, History
from bprop.training.stopping import (
    AllCorrect,
    EarlyStopping,
    GeneralizationLoss,
    ProgressQuotient,
    StoppingCriterion,
    TargetError,
    UpStrips,
)
from bprop.training.trainer import DivergenceWarning, Trainer

__version__ = "0.1.0"

# The scikit-learn estimators import scikit-learn (about a second), so they load on first use.
_ESTIMATORS = ("MLPAutoencoder", "MLPClassifier", "MLPRegressor")


def __getattr__(name: str):
    if name in _ESTIMATORS:
        from bprop import sklearn as estimators

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
