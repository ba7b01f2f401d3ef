"""bprop: feedforward neural networks trained by backpropagation.

The public API is re-exported here; see the README for a quickstart.
"""

from .activations import ACTIVATIONS, Activation, get_activation
from .data import one_hot, standardize
from .gradcheck import gradcheck, numeric_gradient
from .history import EpochRecord, History
from .init import INITIALIZERS, get_initializer
from .losses import LOSSES, Loss, get_loss
from .network import Network
from .rules import ClosureRule, GradientDescent, Momentum, Nesterov, UpdateRule, get_rule
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

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LOSSES",
    "Activation",
    "AllCorrect",
    "ClosureRule",
    "DivergenceWarning",
    "EarlyStopping",
    "EpochRecord",
    "GeneralizationLoss",
    "GradientDescent",
    "History",
    "Loss",
    "Momentum",
    "Nesterov",
    "Network",
    "ProgressQuotient",
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
    "numeric_gradient",
    "one_hot",
    "standardize",
]
