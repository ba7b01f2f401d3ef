"""bprop: feedforward neural networks trained by backpropagation.

The public API is re-exported here; see the README for a quickstart.
"""

import importlib

from bprop._version import __version__
from bprop.core.activations import ACTIVATIONS, Activation, get_activation
from bprop.core.data import one_hot, standardize
from bprop.core.gradcheck import gradcheck, numeric_gradient
from bprop.core.init import INITIALIZERS, get_initializer
from bprop.core.losses import LOSSES, Loss, get_loss
from bprop.core.network import Network
from bprop.files import ModelFileError
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
from bprop.training.parquet import ParquetData, ParquetDataError
from bprop.training.stopping import (
    AllCorrect,
    EarlyStopping,
    GeneralizationLoss,
    ProgressQuotient,
    Stop,
    StoppingCriterion,
    StopReason,
    TargetError,
    UpStrips,
)
from bprop.training.trainer import DivergenceWarning, Trainer

# The scikit-learn layer imports scikit-learn (about a second), so it loads on first use:
# the estimators, and load/save (which know every file kind, estimators included).
_LAZY = {
    "MLPAutoencoder": "bprop.sklearn",
    "MLPClassifier": "bprop.sklearn",
    "MLPRegressor": "bprop.sklearn",
    "load": "bprop.sklearn.persistence",
    "save": "bprop.sklearn.persistence",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
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
    "ParquetData",
    "ParquetDataError",
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
    "Stop",
    "StopReason",
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
