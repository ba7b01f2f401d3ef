"""The trainer's progress display: a bar of epochs and the postfix of one epoch's record.

The postfix shows the record's figures: ``loss`` and ``val_loss`` to 4 significant digits,
``acc`` and ``val_acc`` (the accuracy metric) to 3 decimals; absent figures are left out.
"""

from __future__ import annotations

import sys
from typing import Any

from bprop.training.history import EpochRecord

__all__ = ["postfix", "progress_bar"]


def progress_bar(progress: bool | None, total: int) -> Any | None:
    """A tqdm bar of ``total`` epochs on stderr, or None when no bar is shown.

    ``progress``: True shows the bar, False hides it, None shows it when stderr is a
    terminal.
    """
    show = progress if progress is not None else sys.stderr.isatty()
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="epoch", desc="training", leave=True)


def postfix(record: EpochRecord) -> dict[str, str]:
    """The bar's postfix for one epoch: its loss and metric, and their validation values."""
    post = {"loss": f"{record.loss:.4g}"}
    if record.metric is not None:
        post["acc"] = f"{record.metric:.3f}"
    if record.val_loss is not None:
        post["val_loss"] = f"{record.val_loss:.4g}"
    if record.val_metric is not None:
        post["val_acc"] = f"{record.val_metric:.3f}"
    return post
