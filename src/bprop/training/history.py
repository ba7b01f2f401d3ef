"""The record of a training run: one entry per epoch, and why training stopped.

Why it stopped is ``History.stop``, a :class:`~bprop.optim.stop.StopReason` (None while
running, and in files written before it was recorded), and ``History.stop_reason``, the
sentence for people; model files store both (``history.stop`` is the enum's value).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bprop.files.tensors import is_int
from bprop.optim.stop import Stop, StopReason

__all__ = [
    "HISTORY_COLUMNS",
    "EpochRecord",
    "History",
    "history_from_tensor",
    "history_summary",
    "history_to_tensor",
]

HISTORY_COLUMNS = ("epoch", "loss", "metric", "val_loss", "val_metric", "learning_rate", "time")


@dataclass
class EpochRecord:
    """What one epoch measured. Losses are means per pattern (see ``bprop.core.losses``).

    ``loss`` and ``metric`` are accumulated over the epoch's updates, at the weights each
    pattern was seen with (as scikit-learn and PyTorch report them); ``val_loss`` and
    ``val_metric`` are measured on the validation set at the end of the epoch.
    """

    epoch: int
    loss: float
    metric: float | None = None
    val_loss: float | None = None
    val_metric: float | None = None
    learning_rate: float | None = None
    time: float = 0.0  # seconds since the start of fit


@dataclass
class History:
    """Epoch records, why training stopped, and the epoch whose weights the network holds."""

    records: list[EpochRecord] = field(default_factory=list)
    stop_reason: str = ""  # the sentence for people
    stop: StopReason | None = None  # what fired, for programs
    best_epoch: int | None = None  # epoch of the lowest validation loss, if any
    restored_best: bool = False

    def _column(self, name: str) -> np.ndarray:
        return np.array(
            [np.nan if getattr(r, name) is None else getattr(r, name) for r in self.records],
            dtype=float,
        )

    def set_stop(self, stop: Stop | None) -> None:
        """Record why training stopped (None: not stopped yet)."""
        self.stop = None if stop is None else stop.reason
        self.stop_reason = "" if stop is None else stop.detail

    @property
    def loss(self) -> np.ndarray:
        return self._column("loss")

    @property
    def val_loss(self) -> np.ndarray:
        return self._column("val_loss")

    @property
    def metric(self) -> np.ndarray:
        return self._column("metric")

    @property
    def val_metric(self) -> np.ndarray:
        return self._column("val_metric")

    @property
    def epochs(self) -> int:
        return len(self.records)

    def to_dict(self) -> dict:
        """Plain data (lists and scalars), for JSON."""
        return {
            "records": [asdict(r) for r in self.records],
            "stop_reason": self.stop_reason,
            "stop": None if self.stop is None else self.stop.value,
            "best_epoch": self.best_epoch,
            "restored_best": self.restored_best,
        }

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(
            records=[EpochRecord(**r) for r in data.get("records", [])],
            stop_reason=data.get("stop_reason", ""),
            stop=_stop_from_value(data.get("stop")),
            best_epoch=data.get("best_epoch"),
            restored_best=bool(data.get("restored_best", False)),
        )


def history_to_tensor(history: History) -> np.ndarray:
    """History records as a float64 array, one row per epoch (NaN for absent values)."""
    rows = [
        [np.nan if getattr(r, c) is None else float(getattr(r, c)) for c in HISTORY_COLUMNS]
        for r in history.records
    ]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(HISTORY_COLUMNS))


def history_from_tensor(array: np.ndarray, summary: dict | None = None) -> History:
    """The inverse of :func:`history_to_tensor` (optional fields NaN become None)."""
    records = []
    for row in np.asarray(array, dtype=np.float64):
        values = dict(zip(HISTORY_COLUMNS, row.tolist(), strict=True))
        for key in ("metric", "val_loss", "val_metric", "learning_rate"):
            if np.isnan(values[key]):
                values[key] = None
        values["epoch"] = int(values["epoch"])
        records.append(EpochRecord(**values))
    summary = summary or {}
    best, stop = summary.get("best_epoch"), summary.get("stop_reason", "")
    if (best is not None and not is_int(best)) or not isinstance(stop, str):
        raise ValueError("best_epoch must be an integer and stop_reason a string")
    return History(
        records=records,
        stop_reason=str(summary.get("stop_reason", "")),
        stop=_stop_from_value(summary.get("stop")),
        best_epoch=summary.get("best_epoch"),
        restored_best=bool(summary.get("restored_best", False)),
    )


def history_summary(history: History) -> dict[str, Any]:
    """Epochs, stop reason, best epoch and final losses, as JSON-safe data."""
    last = history.records[-1] if history.records else None

    def num(x: float | None) -> float | None:
        return None if x is None or not np.isfinite(x) else float(x)

    return {
        "epochs": history.epochs,
        "stop_reason": history.stop_reason,
        "stop": None if history.stop is None else history.stop.value,
        "best_epoch": history.best_epoch,
        "restored_best": history.restored_best,
        "final_loss": num(last.loss) if last else None,
        "final_metric": num(last.metric) if last else None,
        "final_val_loss": num(last.val_loss) if last else None,
        "final_val_metric": num(last.val_metric) if last else None,
        "seconds": num(last.time) if last else None,
    }


def _stop_from_value(value: object) -> StopReason | None:
    """The StopReason a file stores as its value; None if absent (older files)."""
    if value is None:
        return None
    try:
        return StopReason(value)
    except ValueError:
        known = ", ".join(r.value for r in StopReason)
        raise ValueError(f"unknown stop {value!r} (expected one of: {known})") from None
