"""What ``bprop train`` says at the end of a run: the summary (text or JSON), and whether
the run diverged.

A run diverged when the trainer stopped on a non-finite loss or weights
(``StopReason.DIVERGED``), or when the training loss of its last epoch is more than
``DIVERGENCE_GROWTH`` times the lowest epoch's: :math:`E_{last} > 1000 \\min_t E_t`.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import numpy as np

from bprop.cli.common import CLIError, emit, is_number, number
from bprop.optim.stop import StopReason
from bprop.training.history import History

__all__ = ["DIVERGENCE_GROWTH", "DivergedError", "divergence", "print_summary", "run_summary"]

#: a run whose last training loss exceeds the lowest by this factor has diverged
DIVERGENCE_GROWTH = 1000.0


class DivergedError(CLIError):
    """Training diverged (exit status 3; no model written)."""

    exit_status = 3


def divergence(args: argparse.Namespace, history: History, rule: dict[str, Any]) -> str | None:
    """How the run diverged, or None. Raises a DivergedError (no model is written) unless
    --allow-divergence; with it, one warning line on stderr (none with --quiet)."""
    losses = [r.loss for r in history.records]
    why = None
    if history.stop is StopReason.DIVERGED:
        why = f"non-finite loss or weights in epoch {history.epochs}"
    elif losses and min(losses) > 0 and losses[-1] > DIVERGENCE_GROWTH * min(losses):
        low = int(np.argmin(losses))
        why = (
            f"the training loss grew from {number(losses[low])} (epoch "
            f"{history.records[low].epoch}) to {number(losses[-1])} (epoch {history.epochs})"
        )
    if why is None:
        return None
    lr = rule.get("learning_rate")
    advice = f"try a smaller --lr (this run: {lr:g})" if is_number(lr) else "try another --rule"
    if not args.allow_divergence:
        raise DivergedError(
            f"training diverged: {why}; no model written. {advice.capitalize()}, or give "
            "--allow-divergence to write the model anyway"
        )
    if not args.quiet:
        print(f"bprop: warning: training diverged: {why}; {advice}", file=sys.stderr)
    return why


def run_summary(task: str, est: Any, metrics: dict, out: str, seconds: float) -> dict[str, Any]:
    h = est.history_
    last = h.records[-1] if h.records else None
    return {
        "model": out,
        "task": task,
        "network": list(est.network_.sizes),
        "epochs": h.epochs,
        "stop_reason": h.stop_reason,
        "stop": None if h.stop is None else h.stop.value,
        "best_epoch": h.best_epoch,
        "restored_best": h.restored_best,
        "final_loss": None if last is None else last.loss,
        "final_val_loss": None if last is None else last.val_loss,
        "validation": metrics,
        "seconds": seconds,
    }


def print_summary(args: argparse.Namespace, s: dict[str, Any]) -> None:
    lines = [
        f"trained {s['task']} network {'-'.join(map(str, s['network']))} for {s['epochs']} epochs",
        f"  stop reason: {s['stop_reason']}",
    ]
    if s.get("diverged"):
        lines.append(f"  training diverged: {s['diverged']}")
    if s["restored_best"] and s["best_epoch"] != s["epochs"]:
        lines.append(
            f"  the model holds the weights of epoch {s['best_epoch']} (lowest validation loss)"
        )
    if s["final_loss"] is not None:
        loss = f"  final training loss {number(s['final_loss'])}"
        if s["final_val_loss"] is not None:
            loss += f", validation loss {number(s['final_val_loss'])}"
        lines.append(loss)
    v = s["validation"]
    if "accuracy" in v:
        lines.append(f"  validation accuracy {v['accuracy']:.4f}, macro F1 {v['f1_macro']:.4f}")
    elif "mae" in v:
        lines.append(
            f"  validation R^2 {number(v['r2'], 4)}, MAE {number(v['mae'])}, "
            f"RMSE {number(v['rmse'])}"
        )
    if "data" in s:
        lines.append(f"  data: {s['data']}")
    if "cluster" in s:
        lines.append(f"  trained on the Dask cluster: {s['cluster']}")
    if s.get("plots"):
        names = ", ".join(os.path.basename(p) for p in s["plots"])
        lines.append(f"  plots written to {os.path.dirname(s['plots'][0])}: {names}")
    lines.append(f"  time {s['seconds']:.2f} s; model written to {s['model']}")
    emit(args, "\n".join(lines))


def task_line(task: str, n_classes: int, given: bool) -> str:
    """'task: classification (2 classes), inferred; --task to override' (or ', given')."""
    what = f"{task} ({n_classes} classes)" if task == "classification" else task
    return f"task: {what}, " + ("given (--task)" if given else "inferred; --task to override")
