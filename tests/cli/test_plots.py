"""PNG plots: learning curves, confusion matrix, decision boundary."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from bprop import EpochRecord, History
from bprop.cli.common import Model, load_model
from bprop.sklearn.classifier import MLPClassifier
from bprop.sklearn.pipeline_file import save_pipeline
from bprop.sklearn.regressor import MLPRegressor
from bprop.sklearn.tabular import check_frame, infer_table, make_pipeline, target_values

pytest.importorskip("matplotlib")
from matplotlib.image import imread  # noqa: E402

from bprop.cli import plots  # noqa: E402


def _history(with_val: bool = True) -> History:
    h = History()
    for e in range(1, 11):
        h.records.append(
            EpochRecord(
                epoch=e,
                loss=1 / e,
                metric=0.5 + e / 40,
                val_loss=1.2 / e if with_val else None,
                val_metric=0.5 + e / 50 if with_val else None,
            )
        )
    h.best_epoch = 10 if with_val else None
    return h


def _model(df: pd.DataFrame, target: str, path, hidden: int = 3) -> Model:
    """A small pipeline, fitted and saved as 'bprop train' does, opened for the CLI."""
    spec = infer_table(df, target)
    cls = MLPClassifier if spec.task == "classification" else MLPRegressor
    mlp = cls(hidden_layer_sizes=(hidden,), activation="tanh", max_iter=3, random_state=0)
    pipeline = make_pipeline(spec, mlp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(check_frame(spec, df), target_values(spec, df))
    save_pipeline(pipeline, path, {"table": spec.to_dict()})
    return load_model(str(path))


def _image(path) -> np.ndarray:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(path)


def test_learning_curves(tmp_path):
    img = _image(plots.learning_curves(_history(), tmp_path / "lc.png"))
    assert img.shape[1] > img.shape[0]  # two panels side by side: loss and accuracy
    img1 = _image(plots.learning_curves(_history(with_val=False), tmp_path / "lc1.png"))
    assert img1.shape == img.shape  # training curves only, same layout


def test_learning_curves_without_metric_have_one_panel(tmp_path):
    h = History([EpochRecord(epoch=e, loss=1 / e) for e in range(1, 5)])
    img = _image(plots.learning_curves(h, tmp_path / "lc.png"))
    assert img.shape[:2] == (480, 640)


def test_confusion_matrix(tmp_path):
    img = _image(
        plots.confusion_matrix_plot(np.array([[5, 1], [2, 7]]), ["a", "b"], tmp_path / "cm.png")
    )
    assert img.ndim == 3


def _longest_blank_run(img: np.ndarray, axis: int) -> int:
    """The most consecutive all-white pixel rows (axis=1) or columns (axis=0)."""
    blank = (img[..., :3] > 0.99).all(axis=2).all(axis=axis)
    best = run = 0
    for b in blank:
        run = run + 1 if b else 0
        best = max(best, run)
    return best


@pytest.mark.parametrize("k", [3, 71])
def test_confusion_matrix_of_many_classes_is_compact_without_blank_bands(tmp_path, k):
    counts = np.random.default_rng(0).integers(1, 9, (k, k))  # no white (zero) cells
    labels = [f"species_{i}" for i in range(k)]
    img = _image(plots.confusion_matrix_plot(counts, labels, tmp_path / "cm.png", "d.csv"))
    limit = 100 * plots.MAX_INCHES * 1.1  # (the tight crop adds a small margin)
    assert img.shape[0] <= limit and img.shape[1] <= limit, img.shape
    for axis in (0, 1):
        assert _longest_blank_run(img, axis) < 0.03 * img.shape[1 - axis]


def test_learning_curves_of_a_diverged_run(tmp_path):
    h = History([EpochRecord(epoch=e, loss=10.0 ** (14 * e)) for e in range(1, 23)])
    h.records.append(EpochRecord(epoch=23, loss=float("inf")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (matplotlib's own log axis overflows here)
        assert _image(plots.learning_curves(h, tmp_path / "lc.png")).ndim == 3


def test_decision_boundary_shows_both_classes(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"u": rng.normal(size=40), "v": rng.normal(size=40)})
    df["c"] = np.where(df["u"] > 0, "right", "left")
    model = _model(df, "c", tmp_path / "m.bprop")
    model.network.weights[0][...] = [[5, 0, 0], [0, 0, 0]]  # the class follows u
    model.network.biases[0][...] = 0
    model.network.weights[1][...] = [[5], [0], [0]]
    model.network.biases[1][...] = 0
    path = plots.decision_boundary_plot(model, df, tmp_path / "db.png", resolution=50)
    img = _image(path)
    colours = {tuple(np.round(px[:3], 1)) for px in img.reshape(-1, img.shape[2])}
    assert len(colours) > 5


def test_decision_boundary_needs_two_numeric_columns(tmp_path):
    df = pd.DataFrame({"u": [1.0, 2, 3, 4], "w": ["a", "b", "a", "b"], "c": ["x", "y"] * 2})
    with pytest.raises(ValueError, match="two numeric input columns"):
        plots.decision_boundary_plot(_model(df, "c", tmp_path / "m.bprop"), df, tmp_path / "db.png")


def test_training_plots_pick_what_applies(tmp_path):
    df = pd.DataFrame(
        {
            "u": np.arange(8.0),
            "w": np.arange(8.0) ** 2,
            "z": np.arange(8.0),
            "y": np.arange(8.0) * 1.5,
        }
    )
    model = _model(df, "y", tmp_path / "r.bprop")
    assert model.task == "regression"
    written = plots.training_plots(model, df, tmp_path / "out")
    assert [p.name for p in written] == ["learning_curves.png"]
    df2 = df.drop(columns="z").assign(y=["a", "b"] * 4)
    names = [
        p.name
        for p in plots.training_plots(
            _model(df2, "y", tmp_path / "c.bprop"), df2, tmp_path / "out2"
        )
    ]
    assert names == ["learning_curves.png", "confusion_matrix.png", "decision_boundary.png"]
    assert not [p for p in (tmp_path / "out2").iterdir() if p.name.endswith(".tmp")]
