"""MLPRegressor: scikit-learn's regressor, trained by bprop.

``loss='squared_error'`` (default): identity outputs, one per target column, trained on
E_p = 1/2 sum_k (t_k - o_k)^2 with scikit-learn's L2 scaling; ``loss_curve_`` reports it
as scikit-learn does, divided by the number of outputs (see ``bprop.sklearn._base``).

``loss='poisson'`` (scikit-learn >= 1.7): exp outputs (the log link, ln o = net) trained on
half the Poisson deviance E_p = sum_k [t_k ln(t_k / o_k) - t_k + o_k]
(:class:`bprop.core.losses.PoissonDeviance`), output delta o - t; targets must be >= 0.
As in scikit-learn, ``loss_curve_`` reports it summed over the outputs (not divided).

Extensions: as for :class:`~bprop.sklearn.MLPClassifier`, without ``class_weight``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if

from bprop.core.activations import Activation, get_activation
from bprop.sklearn._base import BaseMLP
from bprop.sklearn._solvers import check_incremental_solver
from bprop.sklearn._streamed import OutOfCoreData, check_no_y, fit_streamed

__all__ = ["MLPRegressor"]

#: The losses and their output activations (scikit-learn's ``out_activation_``).
_LOSSES = {"squared_error": "identity", "poisson": "exp"}


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor: ``sklearn.neural_network.MLPRegressor``'s API.

    ``loss`` is 'squared_error' or 'poisson' (targets >= 0, exp outputs). Fitted
    attributes as :class:`MLPClassifier`, without ``classes_``.
    """

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        init=None,
        solver_params=None,
        stopping=None,
        callbacks=None,
        n_threads=None,
    ):
        self._store_params(locals())

    def _check_params(self) -> None:
        if self.loss not in _LOSSES:
            raise ValueError(
                f"The 'loss' parameter of MLPRegressor must be a str among "
                f"{{'squared_error', 'poisson'}}. Got {self.loss!r} instead."
            )
        super()._check_params()

    def fit(self, X, y=None, sample_weight=None, *, checkpoint=None):
        """Fit the model to data matrix X and target(s) y, or to out-of-memory data (a
        :class:`bprop.ParquetData` or :class:`bprop.dask.DaskData`; y stays None);
        ``checkpoint``: as the classifier."""
        self._check_params()
        if isinstance(X, OutOfCoreData):
            check_no_y(y)
            check = _nonnegative_targets if self.loss == "poisson" else None
            return fit_streamed(self, X, len(X.target), check, sample_weight, checkpoint)
        return self._fit_regressor(X, y, sample_weight, incremental=False, checkpoint=checkpoint)

    @available_if(check_incremental_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights and rule state."""
        self._check_params()
        return self._fit_regressor(X, y, sample_weight, incremental=True)

    def _fit_regressor(self, X, y, sample_weight, incremental: bool, checkpoint=None):
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X, y = self._check_X_y(X, y, reset=first_pass, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        T = np.asarray(y, dtype=X.dtype).reshape(len(y), -1)
        if self.loss == "poisson":
            _nonnegative_targets(T)
        return self._fit(
            X, T, sample_weight, incremental=incremental, stratify_ok=False, checkpoint=checkpoint
        )

    @property
    def _out_activation(self) -> Activation:
        return get_activation(_LOSSES.get(self.loss, "identity"))

    @property
    def _loss_name(self) -> str:  # type: ignore[override]
        return "poisson" if self.loss == "poisson" else "squared_error"

    def _loss_scale(self, n_outputs: int) -> float:
        # scikit-learn: squared_loss is 1/2 the mean over outputs, poisson_loss the sum.
        return 1.0 if self.loss == "poisson" else 1.0 / n_outputs

    def _validation_score(self, X_val, y_val, sw_val) -> float:
        y_pred = self.network_.predict(X_val)
        if not np.all(np.isfinite(y_pred)):
            return float("nan")
        return float(r2_score(y_val, y_pred, sample_weight=sw_val))

    def predict(self, X):
        """The predicted values, shape (n,) for one output, else (n, n_outputs)."""
        out = self._forward(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _nonnegative_targets(y: np.ndarray) -> np.ndarray:
    """y itself; a ValueError when a target is negative (loss='poisson' needs y >= 0)."""
    y = np.asarray(y, dtype=float)
    if not np.all(y >= 0):
        raise ValueError(
            "MLPRegressor(loss='poisson') needs targets y >= 0 (counts or rates); "
            f"the smallest is {float(np.nanmin(y))!r}. Use loss='squared_error' for "
            "targets that can be negative."
        )
    return y
