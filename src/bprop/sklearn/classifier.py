"""MLPClassifier: scikit-learn's classifier, trained by bprop.

Targets are coded as scikit-learn codes them (``LabelBinarizer``): two classes give one
logistic output (t = 1 for ``classes_[1]``), K > 2 classes give K softmax outputs with
one-hot targets, a multilabel indicator matrix gives one logistic output per label.
The loss is the matching cross-entropy (see ``bprop.sklearn._base``).

Extensions beyond scikit-learn (all keyword-only, defaults reproduce scikit-learn):
``class_weight`` (None, 'balanced' or {class: weight}, multiplied into the sample
weights as ``sklearn.utils.compute_sample_weight`` computes them), ``init`` (None for
scikit-learn's initialisation, or a bprop initialiser name), ``solver_params`` (keyword
arguments of the bprop rule), ``stopping`` (bprop stopping criteria), ``callbacks``
(``callback(trainer, record)`` after each epoch; truthy stops), and every bprop update
rule and activation as ``solver`` and ``activation``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d, compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from bprop.core.activations import Activation
from bprop.core.losses import default_loss, output_activation_for
from bprop.sklearn._base import BaseMLP
from bprop.sklearn._solvers import check_incremental_solver
from bprop.sklearn._streamed import OutOfCoreData, check_no_y, fit_streamed

__all__ = ["MLPClassifier"]


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: ``sklearn.neural_network.MLPClassifier``'s API.

    The parameters before ``class_weight`` are scikit-learn's, with its defaults and
    meanings (see docs/sklearn.md for the table); ``solver`` and ``activation`` also take
    every bprop rule and activation. Fitted attributes: ``coefs_``, ``intercepts_``
    (views of ``network_.weights`` / ``network_.biases``), ``classes_``, ``loss_``,
    ``best_loss_``, ``loss_curve_``, ``validation_scores_``, ``best_validation_score_``,
    ``t_``, ``n_iter_``, ``n_layers_``, ``n_outputs_``, ``out_activation_``,
    ``validation_indices_`` (the rows of X held out for validation, or None),
    ``n_features_in_``, ``feature_names_in_``, and bprop's ``network_`` (the trained
    :class:`bprop.Network`) and ``history_`` (:class:`bprop.History`).
    """

    def __init__(
        self,
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
        class_weight=None,
        init=None,
        solver_params=None,
        stopping=None,
        callbacks=None,
        n_threads=None,
    ):
        self._store_params(locals())

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None, *, checkpoint=None):
        """Fit the model to data matrix X and target(s) y (class labels or indicators), or to
        out-of-memory data: a :class:`bprop.ParquetData` or :class:`bprop.dask.DaskData` (y None).

        ``sample_weight`` weights each pattern's error (multiplied by ``class_weight``);
        ``checkpoint`` resumes a checkpointed run (see ``bprop.sklearn._base.BaseMLP._fit``).
        """
        self._check_params()
        if isinstance(X, OutOfCoreData):
            check_no_y(y)
            return self._fit_streamed(X, sample_weight, checkpoint)
        return self._fit_classifier(X, y, sample_weight, incremental=False, checkpoint=checkpoint)

    def _fit_streamed(
        self, data: OutOfCoreData, sample_weight: object, checkpoint: object = None
    ) -> MLPClassifier:
        """Classes from one streaming pass over the target column, then a streamed fit."""
        if len(data.target) != 1:
            raise ValueError("MLPClassifier on out-of-memory data needs a single target column")
        classes = data.target_values()
        check_classification_targets(classes)
        self._label_binarizer = LabelBinarizer().fit(classes)
        self.classes_ = self._label_binarizer.classes_
        n_outputs = 1 if self._label_binarizer.y_type_ == "binary" else len(self.classes_)
        encode = self._label_binarizer.transform
        return fit_streamed(self, data, n_outputs, encode, sample_weight, checkpoint)

    @available_if(check_incremental_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y). ``classes`` (all labels) is required on the first call."""
        self._check_params()
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on the last call to partial_fit, "
                f"was: {self.classes_!r}"
            )
        return self._fit_classifier(X, y, sample_weight, incremental=True)

    def _fit_classifier(self, X, y, sample_weight, incremental: bool, checkpoint=None):
        first_pass = not hasattr(self, "network_") or (not self.warm_start and not incremental)
        X, y = self._check_X_y(X, y, reset=first_pass)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if y.dtype == object and len({isinstance(v, str) for v in np.ravel(y)}) > 1:
            # scikit-learn's own MLP fails here with "'<' not supported between ..."
            raise ValueError("Mix of label input types (string and number)")
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        T = self._label_binarizer.transform(y).astype(X.dtype)
        if self.class_weight is not None:
            cw = compute_sample_weight(self.class_weight, y).astype(X.dtype)
            if sample_weight is not None:
                cw *= _check_sample_weight(sample_weight, X, dtype=X.dtype)
            sample_weight = cw
        return self._fit(
            X, T, sample_weight, incremental=incremental, stratify_ok=True, checkpoint=checkpoint
        )

    # ------------------------------------------------------------------ hooks
    @property
    def _out_activation(self) -> Activation:
        lb = self._label_binarizer
        if lb.y_type_ == "multilabel-indicator":
            return output_activation_for("multilabel", len(lb.classes_))
        n_outputs = 1 if lb.y_type_ == "binary" else len(lb.classes_)
        return output_activation_for("classification", n_outputs)

    @property
    def _loss_name(self) -> str:  # type: ignore[override]
        return default_loss(self._out_activation).name

    def _val_labels(self, T_val: np.ndarray) -> Any:
        return self._label_binarizer.inverse_transform(T_val)

    def _validation_score(self, X_val, y_val, sw_val) -> float:
        y_pred = self._labels(self.network_.predict(X_val))
        return float(accuracy_score(y_val, y_pred, sample_weight=sw_val))

    # ------------------------------------------------------------------ predict
    def _labels(self, out: np.ndarray) -> np.ndarray:
        if self.n_outputs_ == 1:
            out = out.ravel()
        return self._label_binarizer.inverse_transform(out)

    def predict(self, X):
        """The predicted classes (or label indicators, for a multilabel fit)."""
        return self._labels(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self)
        out = self._forward(X)
        if self.n_outputs_ == 1:
            p = out.ravel()
            return np.vstack([1 - p, p]).T
        return out

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        p = self.predict_proba(X)
        return np.log(p, out=p)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.sparse = True
        return tags
