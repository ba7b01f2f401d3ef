"""MLPAutoencoder: a network trained to reproduce its input, used as a transformer.

The network is X -> hidden layers -> X with targets t = x. ``transform`` gives the outputs
of the code layer (by default the smallest hidden layer: the 3 of the classic 8-3-8
encoder problem of Rumelhart, Hinton & Williams 1986, the 8 of (64, 8, 64));
``inverse_transform`` runs the layers above the code layer on given codes, so
``inverse_transform(transform(X))`` is the reconstruction of X.

Loss: the natural pair of ``out_activation`` (``bprop.core.losses.default_loss``): squared
error for 'identity' (real-valued data; ``loss_curve_`` divided by the number of features
as MLPRegressor does), binary cross-entropy for 'logistic' (data in [0, 1]). The training
options are MLPRegressor's. ``score(X)`` is minus the mean squared reconstruction error
per entry (higher is better, as scikit-learn's scorers expect).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, check_is_fitted

from bprop.core.activations import Activation, get_activation
from bprop.core.losses import default_loss
from bprop.core.network import Network
from bprop.sklearn._base import BaseMLP
from bprop.sklearn._params import hidden_sizes
from bprop.sklearn._solvers import check_incremental_solver
from bprop.sklearn._streamed import OutOfCoreData, check_no_y, fit_streamed

__all__ = ["MLPAutoencoder"]


class MLPAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseMLP):
    """Autoencoder: ``fit(X)``, ``transform(X)`` -> codes, ``inverse_transform(codes)`` -> X.

    Parameters are MLPRegressor's, plus ``out_activation`` ('identity' or any bprop
    activation; 'logistic' for data in [0, 1]) and ``code_layer`` (index into
    ``hidden_layer_sizes`` of the layer ``transform`` returns; None: the smallest).
    Fitted attributes as MLPRegressor, plus ``code_layer_`` and ``n_components_`` (the
    code size).
    """

    def __init__(
        self,
        hidden_layer_sizes=(2,),
        activation="tanh",
        *,
        out_activation="identity",
        code_layer=None,
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

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        super()._check_params()
        if not isinstance(self.out_activation, str | Activation):
            raise ValueError(
                f"out_activation must be a name or a bprop Activation, got {self.out_activation!r}"
            )
        get_activation(self.out_activation)
        self._code_index()

    def _code_index(self) -> int:
        sizes = hidden_sizes(self)
        if not sizes:
            raise ValueError("hidden_layer_sizes must name at least one layer (the code layer)")
        if self.code_layer is None:
            return int(np.argmin(sizes))
        c = self.code_layer
        if isinstance(c, bool) or not isinstance(c, int | np.integer) or not 0 <= c < len(sizes):
            raise ValueError(
                f"code_layer must be an index into hidden_layer_sizes (0..{len(sizes) - 1}) "
                f"or None, got {c!r}"
            )
        return int(c)

    @property
    def _out_activation(self) -> Activation:
        return get_activation(self.out_activation)

    @property
    def _loss_name(self) -> str:  # type: ignore[override]
        return default_loss(self._out_activation).name

    def _loss_scale(self, n_outputs: int) -> float:
        return 1.0 / n_outputs if self._loss_name == "squared_error" else 1.0

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None):
        """Train the network to reproduce X (y is ignored), or out-of-memory rows whose
        targets are their inputs (``bprop.dask.DaskData(X, X)``; y stays None)."""
        self._check_params()
        if isinstance(X, OutOfCoreData):
            check_no_y(y)
            if len(X.target) != X.n_features or X.transform is not None:
                raise ValueError(
                    "an autoencoder's targets are its inputs: give data whose targets are its "
                    f"feature columns (got {X.n_features} inputs, {len(X.target)} targets)"
                )
            fit_streamed(self, X, X.n_features, None, sample_weight)
            return self._set_code_layer()
        return self._fit_autoencoder(X, sample_weight, incremental=False)

    @available_if(check_incremental_solver)
    def partial_fit(self, X, y=None, sample_weight=None):
        """One epoch over X, continuing from the current weights and rule state."""
        self._check_params()
        return self._fit_autoencoder(X, sample_weight, incremental=True)

    def _fit_autoencoder(self, X, sample_weight, incremental: bool):
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X = self._check_X(X, reset=first_pass)
        self._fit(X, X, sample_weight, incremental=incremental, stratify_ok=False)
        return self._set_code_layer()

    def _set_code_layer(self) -> MLPAutoencoder:
        self.code_layer_ = self._code_index()
        self.n_components_ = self.network_.sizes[self.code_layer_ + 1]
        return self

    def _validation_score(self, X_val, y_val, sw_val) -> float:
        return _neg_mse(X_val, self.network_.predict(X_val), sw_val)

    # ------------------------------------------------------------------ transform
    def _part(self, start: int, stop: int) -> Network:
        """The layers start..stop-1 of the network as a network of their own (a copy)."""
        net = self.network_
        self._sync_network()
        acts = net.activations[start:stop]
        return Network.from_weights(
            net.weights[start:stop], net.biases[start:stop], acts[:-1], acts[-1], dtype=net.dtype
        )

    def _run_layers(self, A: np.ndarray, start: int, stop: int) -> np.ndarray:
        """o of layer stop-1 for inputs A to layer start, by the network's forward pass."""
        part = self._part(start, stop)
        with self._blas_threads(np.shape(A)[0], backward=False):
            return part.predict(A)

    def transform(self, X):
        """The code layer's outputs for X, shape (n, n_components_)."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return self._run_layers(X, 0, self.code_layer_ + 1)

    def inverse_transform(self, X):
        """The reconstruction from codes X of shape (n, n_components_)."""
        check_is_fitted(self)
        Z = check_array(X, dtype=(np.float64, np.float32))
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but inverse_transform expects "
                f"{self.n_components_} (the code size)"
            )
        return self._run_layers(Z, self.code_layer_ + 1, self.network_.n_layers)

    def score(self, X, y=None, sample_weight=None) -> float:
        """Minus the mean squared reconstruction error per entry of X."""
        X_hat = self._forward(X)
        X = self._check_X(X, reset=False)
        return _neg_mse(X, X_hat, sample_weight)

    @property
    def _n_features_out(self) -> int:
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _neg_mse(X: np.ndarray, X_hat: np.ndarray, sample_weight) -> float:
    err = np.mean((np.asarray(X, float) - X_hat) ** 2, axis=1)
    if not np.all(np.isfinite(err)):
        return float("nan")
    return -float(np.average(err, weights=sample_weight))
