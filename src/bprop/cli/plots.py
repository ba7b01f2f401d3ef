"""PNG plots of a trained model or a checkpoint (matplotlib, no display needed).

- ``learning_curves.png``: training and validation loss per epoch (log scale when all
  positive), and the accuracy curves for classification;
- ``confusion_matrix.png``: counts of true (rows) against predicted (columns) classes on
  the given data (classification), titled with the data it counts; up to
  ``ANNOTATED_CLASSES`` classes each cell shows its count, beyond that a compact view
  (colour only, at most ``MAX_TICKS`` tick labels per axis) in a figure of at most
  ``MAX_INCHES`` inches a side;
- ``decision_boundary.png``: the predicted class over a grid spanning the two input
  columns, with the data on top (classification with exactly two numeric input columns).

Figures are drawn with :class:`matplotlib.figure.Figure` and the Agg canvas, never
pyplot, so nothing global changes and no window opens; files are written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from bprop.files import atomic_write

__all__ = ["confusion_matrix_plot", "decision_boundary_plot", "learning_curves", "training_plots"]

#: the largest loss a log-scaled learning curve shows (above: log10 of the loss, linear)
LOG_SCALE_LIMIT = 1e250
#: the most classes a confusion matrix shows the counts of, cell by cell
ANNOTATED_CLASSES = 20
#: the most tick labels per axis of a compact confusion matrix
MAX_TICKS = 40
#: the largest side of a confusion matrix figure, in inches (100 pixels each)
MAX_INCHES = 10.0


def _figure(width: float = 6.4, height: float = 4.8):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - the 'plot' extra
        raise ImportError("plots need matplotlib: pip install 'bprop[plot]'") from None
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path, tight: bool = False) -> Path:
    if not tight:
        fig.tight_layout()
    with atomic_write(path) as fh:  # tight: cropped to what is drawn (no blank margins)
        fig.savefig(fh, format="png", **({"bbox_inches": "tight"} if tight else {}))
    return path


def learning_curves(history: Any, path: str | os.PathLike) -> Path:
    """Training and validation loss (and accuracy, if recorded) against the epoch."""
    epochs = np.array([r.epoch for r in history.records])
    has_metric = not np.all(np.isnan(history.metric))
    fig = _figure(9.6 if has_metric else 6.4, 4.8)
    ax = fig.add_subplot(1, 2 if has_metric else 1, 1)
    train, val = np.asarray(history.loss, float), np.asarray(history.val_loss, float)
    losses = np.concatenate([train, val])
    finite = losses[np.isfinite(losses)]
    positive = bool(finite.size) and bool(np.all(finite > 0))
    ylabel = "mean loss"
    if positive and finite.max() >= LOG_SCALE_LIMIT:  # a diverged run: matplotlib's own
        with np.errstate(divide="ignore", invalid="ignore"):  # log axis overflows there
            train, val = np.log10(train), np.log10(val)
        ylabel = "log10 of the mean loss"
    ax.plot(epochs, train, label="training")
    if not np.all(np.isnan(val)):
        ax.plot(epochs, val, label="validation")
    if positive and finite.max() < LOG_SCALE_LIMIT:
        ax.set_yscale("log")
    if history.best_epoch is not None:
        ax.axvline(history.best_epoch, color="grey", linestyle=":", label="best epoch")
    ax.set(xlabel="epoch", ylabel=ylabel, title="loss")
    ax.legend()
    if has_metric:
        ax2 = fig.add_subplot(1, 2, 2)
        ax2.plot(epochs, history.metric, label="training")
        if not np.all(np.isnan(history.val_metric)):
            ax2.plot(epochs, history.val_metric, label="validation")
        ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        ax2.legend()
    return _save(fig, Path(path))


def confusion_matrix_plot(
    matrix: np.ndarray, labels: list, path: str | os.PathLike, shown: str | None = None
) -> Path:
    """A confusion matrix (rows: true class, columns: predicted class) with counts;
    ``shown`` names the data counted (in the title)."""
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    matrix = np.asarray(matrix)
    k = len(labels)
    side = min(MAX_INCHES, 3.0 + 0.45 * k) if k > 6 else 5.0
    fig = _figure(side, side)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(matrix, cmap="Blues")
    cax = make_axes_locatable(ax).append_axes("right", size="4%", pad=0.1)
    fig.colorbar(im, cax=cax)  # beside the matrix, as tall as it (no blank band)
    step = max(1, int(np.ceil(k / MAX_TICKS)))
    ticks = range(0, k, step)
    names = [str(labels[i]) for i in ticks]
    small = {"fontsize": 7} if k > ANNOTATED_CLASSES else {}
    ax.set_xticks(
        ticks, names, rotation=90 if k > ANNOTATED_CLASSES else 45 if k > 4 else 0, **small
    )
    ax.set_yticks(ticks, names, **small)
    title = "confusion matrix" + (f"\n{shown}" if shown else "")
    ax.set(xlabel="predicted", ylabel="true", title=title)
    threshold = matrix.max() / 2 if matrix.size else 0
    annotated = k <= ANNOTATED_CLASSES
    for i in range(k if annotated else 0):
        for j in range(k):
            ax.text(
                j,
                i,
                str(matrix[i, j]),
                ha="center",
                va="center",
                color="white" if matrix[i, j] > threshold else "black",
            )
    return _save(fig, Path(path), tight=True)


def decision_boundary_plot(
    model: Any, df: Any, path: str | os.PathLike, resolution: int = 200
) -> Path:
    """The predicted class over a grid of the two numeric input columns, with the data.

    ``model``: a :class:`bprop.cli.common.Model` of a pipeline with two numeric columns.
    """
    import pandas as pd

    table = model.table
    if table is None or len(table.numeric) != 2 or table.categorical:
        raise ValueError("a decision boundary needs exactly two numeric input columns")
    cols = table.numeric
    x = df[cols[0]].to_numpy(dtype=float)
    y = df[cols[1]].to_numpy(dtype=float)

    def span(v: np.ndarray) -> np.ndarray:
        lo, hi = np.nanmin(v), np.nanmax(v)
        pad = 0.1 * (hi - lo) if hi > lo else 1.0
        return np.linspace(lo - pad, hi + pad, resolution)

    gx, gy = np.meshgrid(span(x), span(y))
    grid = pd.DataFrame({cols[0]: gx.ravel(), cols[1]: gy.ravel()})
    _, proba = model.predict(grid)
    assert proba is not None
    cls = proba.argmax(axis=1).reshape(gx.shape)
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    classes = model.classes
    k = len(classes)
    ax.contourf(gx, gy, cls, levels=np.arange(k + 1) - 0.5, cmap="coolwarm", alpha=0.3)
    if model.target in df.columns:
        codes = _codes(df[model.target].to_numpy(), classes)
        scatter = ax.scatter(
            x, y, c=codes, cmap="coolwarm", vmin=0, vmax=k - 1, edgecolors="k", s=20
        )
        handles = scatter.legend_elements()[0]
        ax.legend(handles, [str(c) for c in classes], title=model.target)
    ax.set(xlabel=cols[0], ylabel=cols[1], title="decision regions")
    return _save(fig, Path(path))


def _codes(labels: np.ndarray, classes: list) -> np.ndarray:
    """The index of each label in ``classes`` (-1 for a label not among them)."""
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index.get(v.item() if isinstance(v, np.generic) else v, -1) for v in labels])


def training_plots(
    model: Any, df: Any, directory: str | os.PathLike, shown: str | None = None
) -> list[Path]:
    """All plots that apply to the model (a :class:`bprop.cli.common.Model`) and the data,
    if given (``shown`` names it, in the confusion matrix's title); returns the files
    written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if model.history is not None and model.history.records:
        written.append(learning_curves(model.history, out / "learning_curves.png"))
    target = model.target
    if df is not None and model.kind != "checkpoint" and model.task == "classification":
        from sklearn.metrics import confusion_matrix

        if target is None or target not in df.columns:
            return written
        classes = model.classes
        pred, _ = model.predict(df, target)
        matrix = confusion_matrix(
            _codes(df[target].to_numpy(), classes),
            _codes(pred, classes),
            labels=range(len(classes)),
        )
        written.append(confusion_matrix_plot(matrix, classes, out / "confusion_matrix.png", shown))
        table = model.table
        if table is not None and len(table.numeric) == 2 and not table.categorical:
            written.append(decision_boundary_plot(model, df, out / "decision_boundary.png"))
    return written
