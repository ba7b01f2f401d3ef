"""The record of a training run: one entry per epoch, and why training stopped."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["EpochRecord", "History"]


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
    """Epoch records, the stop reason, and the epoch whose weights the network holds."""

    records: list[EpochRecord] = field(default_factory=list)
    stop_reason: str = ""
    best_epoch: int | None = None  # epoch of the lowest validation loss, if any
    restored_best: bool = False

    def _column(self, name: str) -> np.ndarray:
        return np.array(
            [np.nan if getattr(r, name) is None else getattr(r, name) for r in self.records],
            dtype=float,
        )

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
            "best_epoch": self.best_epoch,
            "restored_best": self.restored_best,
        }

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(
            records=[EpochRecord(**r) for r in data.get("records", [])],
            stop_reason=data.get("stop_reason", ""),
            best_epoch=data.get("best_epoch"),
            restored_best=bool(data.get("restored_best", False)),
        )
