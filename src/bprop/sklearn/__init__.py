"""scikit-learn estimators: MLPClassifier and MLPRegressor (drop-in replacements for
scikit-learn's) and MLPAutoencoder. See docs/sklearn.md.

Modules: ``_base`` (shared fit loop, objective and L2 scaling), ``_monitor`` (scikit-learn's
per-epoch tol / learning-rate / early-stopping logic), ``_solvers`` (solver names to bprop
rules), one module per estimator.
"""

from bprop.sklearn.autoencoder import MLPAutoencoder
from bprop.sklearn.classifier import MLPClassifier
from bprop.sklearn.regressor import MLPRegressor

__all__ = ["MLPAutoencoder", "MLPClassifier", "MLPRegressor"]
