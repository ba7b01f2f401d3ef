"""``bprop info``: what a bprop file holds (any kind: model, estimator, network, checkpoint)."""

from __future__ import annotations

import argparse
from typing import Any

from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from bprop.cli.common import (
    Model,
    common_options,
    emit,
    emit_json,
    is_number,
    load_model,
    number,
)
from bprop.sklearn.tabular import column_groups

__all__ = ["add_parser", "info"]

ALL = ("pipeline", "estimator", "network", "checkpoint")


def columns(model: Model) -> list[dict[str, Any]]:
    """How each input column of a pipeline becomes network inputs."""
    pipeline = model.pipeline
    if pipeline is None:
        return []
    out = []
    for cols, steps in column_groups(pipeline.steps[0][1]):
        for j, name in enumerate(cols):
            entry: dict[str, Any] = {"name": str(name)}
            for step in steps:
                if isinstance(step, SimpleImputer):
                    entry["fill"] = step.statistics_[j]
                elif isinstance(step, StandardScaler):
                    entry.update(kind="numeric", mean=step.mean_[j], scale=step.scale_[j])
                elif isinstance(step, OneHotEncoder):
                    entry.update(kind="categorical", categories=list(step.categories_[j]))
            out.append(entry)
    return out


def info(args: argparse.Namespace) -> int:
    model = load_model(args.model, ALL)
    meta, net = model.metadata, model.network
    result: dict[str, Any] = {
        "file": args.model,
        "kind": meta["kind"],
        "format_version": meta["format_version"],
        "bprop_version": meta.get("bprop_version"),
        "network": {
            "sizes": list(net.sizes),
            "activations": [a.config() for a in net.activations],
            "dtype": net.dtype.name,
            "n_params": net.n_params,
        },
        "loss": meta.get("loss"),
    }
    if model.kind == "pipeline":
        result["task"] = model.task
        result["classes"] = model.classes
        result["columns"] = columns(model)
    for key in ("table", "training", "metrics", "history", "estimator", "checkpoint"):
        if key in meta:
            result[key] = meta[key]
    if args.json:
        emit_json(result)
    else:
        emit(args, "\n".join(_lines(args.model, model, result)))
    return 0


def _lines(path: str, model: Model, info: dict[str, Any]) -> list[str]:
    meta, net = model.metadata, model.network
    lines = [
        f"{path}: bprop {meta['kind']} (format {meta['format_version']}, "
        f"written by bprop {meta.get('bprop_version')})",
        f"  network     {'-'.join(map(str, net.sizes))}, activations "
        f"{', '.join(a.name for a in net.activations)}, {net.dtype.name}, "
        f"{net.n_params} parameters",
    ]
    if meta.get("loss") is not None:  # (a bare network stores none)
        lines.append(f"  loss        {meta['loss']}")
    if model.kind == "pipeline":
        steps = " -> ".join(f"{n} ({type(s).__name__})" for n, s in model.pipeline.steps)
        lines.append(f"  pipeline    {steps}")
        target = f" of column {model.target!r}" if model.target else ""
        lines.append(f"  task        {model.task}{target}")
    if model.classes is not None and model.estimator is not None:
        lines.append(f"  classes     {', '.join(map(str, model.classes))}")
    for c in info.get("columns", []):
        if c.get("kind") == "numeric":
            how = f"standardised (mean {number(c['mean'])}, scale {number(c['scale'])})"
        else:
            how = f"one-hot, {len(c.get('categories', []))} categories"
        fill = f", missing -> {number(c['fill'])}" if "fill" in c else ""
        lines.append(f"  column      {c['name']}: {how}{fill}")
    training = meta.get("training")
    if isinstance(training, dict):
        hp = training.get("rule_hyperparameters")
        rule = str(training.get("rule"))
        if isinstance(hp, dict) and hp:
            rule += "(" + ", ".join(f"{k}={v}" for k, v in hp.items()) + ")"
        keys = ("mode", "batch_size", "epochs", "weight_decay", "val_fraction", "seed", "dtype")
        lines.append(f"  training    rule {rule}")
        lines.append(
            "              "
            + ", ".join(f"{k}={training[k]}" for k in keys if training.get(k) is not None)
        )
        if training.get("data"):
            lines.append(
                f"  data        {training['data']} ({training.get('rows')} rows, "
                f"{training.get('n_train')} for training, {training.get('n_validation')} for "
                "validation)"
            )
    hist = meta.get("history")
    if isinstance(hist, dict):
        reason = hist.get("stop_reason")
        lines.append(
            f"  history     {hist.get('epochs')} epochs" + (f"; {reason}" if reason else "")
        )
        if is_number(hist.get("final_loss")):
            val = hist.get("final_val_loss")
            lines.append(
                f"              final loss {number(hist['final_loss'])}"
                + (f", validation loss {number(val)}" if is_number(val) else "")
            )
    metrics = meta.get("metrics")
    if isinstance(metrics, dict) and metrics:
        shown = ", ".join(f"{k}={number(v, 4)}" for k, v in metrics.items() if is_number(v))
        lines.append(f"  validation  {shown}")
    est = meta.get("estimator")
    if isinstance(est, dict):
        lines.append(f"  estimator   {est.get('class')}, {len(est.get('params', {}))} parameters")
    if "checkpoint" in meta:
        ck = meta["checkpoint"]
        lines.append(f"  checkpoint  epoch {ck['epoch']}, rule {ck['rule']['name']}")
    return lines


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "info",
        parents=[common_options(True)],
        help="describe a model, estimator, network or checkpoint file",
        description="Architecture, preprocessing, training settings, history summary and "
        "bprop version of any bprop file: a model written by 'bprop train', a saved "
        "estimator, a network, or a checkpoint.",
    )
    p.add_argument("model")
    p.set_defaults(func=info)
