"""fit(X, y, checkpoint=...) resumes a checkpointed estimator run bit for bit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from bprop import EarlyStopping
from bprop.sklearn.classifier import MLPClassifier
from bprop.sklearn.regressor import MLPRegressor
from bprop.training.checkpoint import CheckpointCallback, load_checkpoint


def _data():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3))
    return X, np.where(X[:, 0] - X[:, 1] > 0, "a", "b"), X @ [1.0, -2.0, 0.5]


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("solver", ["sgd", "adam", "rprop"])
def test_resumed_fit_equals_the_uninterrupted_one(tmp_path, cls, solver):
    X, labels, values = _data()
    y = labels if cls is MLPClassifier else values
    params = dict(
        hidden_layer_sizes=(4,),
        solver=solver,
        max_iter=7,
        random_state=0,
        tol=0.0,
        n_iter_no_change=np.inf,
        stopping=[EarlyStopping(patience=1000)],  # a validation split, as bprop train has
    )
    ckpt = tmp_path / "run.ckpt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = cls(**params).fit(X, y)
        cls(**params, callbacks=[CheckpointCallback(ckpt, 3)]).fit(X, y)
        assert load_checkpoint(ckpt).epoch == 6
        resumed = cls(**params).fit(X, y, checkpoint=str(ckpt))
    assert np.array_equal(resumed.network_.params, full.network_.params)
    assert np.array_equal(resumed.history_.loss, full.history_.loss)
    assert resumed.history_.stop_reason == full.history_.stop_reason
    assert np.array_equal(resumed.validation_indices_, full.validation_indices_)


def test_checkpoint_with_partial_fit_or_warm_start_is_refused(tmp_path):
    X, labels, _ = _data()
    est = MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, warm_start=True)
    with pytest.raises(ValueError, match="fresh fit"):
        est.fit(X, labels, checkpoint=str(tmp_path / "none.ckpt"))
