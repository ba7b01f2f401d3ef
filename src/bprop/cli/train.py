"""``bprop train``: fit a scikit-learn pipeline to a CSV or Parquet file and save it.

The steps: read the file; infer the column kinds and the task
(:func:`bprop.sklearn.tabular.infer_table`); build the pipeline
(:func:`~bprop.sklearn.tabular.make_pipeline`: ColumnTransformer, then bprop's
MLPClassifier or MLPRegressor with the options as its parameters); fit it, checkpointing
if asked (the estimator holds out the validation rows and resumes from a checkpoint);
save it (:mod:`bprop.sklearn.pipeline_file`) with the settings, the history and the
validation metrics; print a summary.

Every output path (``--out``, ``--checkpoint``, ``--plots``) is checked before the data
is read (exit status 2). A run that diverged (the trainer stopped on a non-finite loss or
weights, or the last epoch's training loss is more than ``DIVERGENCE_GROWTH`` times the
lowest) writes no model and exits with status 3, unless ``--allow-divergence``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from functools import partial
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from bprop.cli.cluster import (
    add_cluster_options,
    check_cluster_options,
    cluster_client,
    fit_on_cluster,
)
from bprop.cli.common import (
    CLIError,
    HelpFormatter,
    about,
    add_na_values,
    check_directory,
    check_writable,
    common_options,
    emit,
    emit_json,
    load_model,
    sha256,
    validation_metrics,
)
from bprop.cli.memory import Footprint, add_memory_option, read_as_parquet, read_frame, streams
from bprop.cli.parser import Parser
from bprop.cli.plots import training_plots
from bprop.cli.stream import fit_parquet, infer_spec, predict_rows, validation_metrics_streamed
from bprop.cli.train_options import add_train_options
from bprop.cli.train_summary import divergence, print_summary, run_summary, task_line
from bprop.core.network import as_float_dtype
from bprop.files.jsonsafe import to_json as jsonable
from bprop.optim import get_rule
from bprop.optim.registry import check_hyperparameters
from bprop.sklearn.classifier import MLPClassifier
from bprop.sklearn.parquet_table import reads_as_floats, transform_parquet
from bprop.sklearn.pipeline_file import save_pipeline
from bprop.sklearn.regressor import MLPRegressor
from bprop.sklearn.streaming import fit_blocks, transform_blocks
from bprop.sklearn.tabular import (
    STDIO,
    check_frame,
    final_estimator,
    make_pipeline,
    target_values,
)
from bprop.training.checkpoint import CheckpointCallback, load_checkpoint
from bprop.training.stopping import (
    EarlyStopping,
    GeneralizationLoss,
    ProgressQuotient,
    TargetError,
    UpStrips,
)
from bprop.training.trainer import DivergenceWarning

__all__ = ["add_parser", "train"]

#: the options that define a training run (stored in the model and the checkpoint)
SETTINGS = ("task", "hidden", "activation", "init", "rule", "lr", "param", "mode",
            "batch_size", "epochs", "patience", "target_error", "gl", "pq", "up",
            "weight_decay", "val_fraction", "seed", "dtype", "impute", "categorical",
            "drop")  # fmt: skip

#: the options that need a validation split (early stopping criteria)
NEEDS_VALIDATION = ("patience", "gl", "pq", "up")
#: the default --patience when there is a validation split
DEFAULT_PATIENCE = 20


class _RuleProbe:
    """A callback that notes the trainer's mode and rule (for the stored settings)."""

    __name__ = "rule_probe"

    def __init__(self) -> None:
        self.mode: str | None = None
        self.hyperparameters: dict[str, Any] = {}

    def __call__(self, trainer: Any, record: Any) -> None:
        self.mode = trainer.mode
        self.hyperparameters = trainer.rule.hyperparameters()


def _estimator(s: dict[str, Any], task: str, n_train: int, callbacks: list) -> Any:
    """The bprop estimator the settings describe (its own parameters, nothing else)."""
    name = s["rule"]
    default = get_rule(name)  # a ValueError listing the rules for an unknown name
    solver_params = dict(s["param"])
    lr = s["lr"] if s["lr"] is not None else getattr(default, "learning_rate", 0.001)
    batch = {"online": 1, "batch": n_train}.get(s["mode"] or "", min(s["batch_size"], n_train))
    has_val = s["val_fraction"] > 0
    stopping: list[Any] = []
    if s["patience"] and has_val:
        stopping.append(EarlyStopping(patience=s["patience"]))
    if s["target_error"] is not None:
        stopping.append(TargetError(s["target_error"]))
    for flag, cls in (("gl", GeneralizationLoss), ("pq", ProgressQuotient), ("up", UpStrips)):
        if s[flag] is not None and has_val:
            stopping.append(cls(s[flag]) if flag != "up" else cls(int(s[flag])))
    hidden = s["activation"].split(",") if "," in s["activation"] else s["activation"]
    params = {
        "hidden_layer_sizes": tuple(s["hidden"]),
        "activation": tuple(hidden) if isinstance(hidden, list) else hidden,
        "solver": name,
        "solver_params": solver_params or None,
        "learning_rate_init": lr,
        "alpha": s["weight_decay"],
        "batch_size": max(1, batch),
        "max_iter": s["epochs"],
        "tol": 0.0,
        "n_iter_no_change": np.inf,  # stopping is bprop's criteria only
        "validation_fraction": s["val_fraction"],
        "random_state": s["seed"],
        "init": s["init"],
        "stopping": stopping or None,
        "callbacks": callbacks,
    }
    cls = MLPClassifier if task == "classification" else MLPRegressor
    return cls(**params)


def _settings(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """The run's settings (from a checkpoint when resuming) and the checkpoint, or None."""
    if not args.resume:
        given = {"target": args.target, "na_values": args.na_values}
        settings = {k: getattr(args, k) for k in SETTINGS} | given
        return _checked_settings(settings), None
    if args.data == STDIO:
        raise CLIError("--resume checks that the data are the checkpoint's: give the file, not -")
    checkpoint = load_checkpoint(args.resume)
    saved = checkpoint.metadata.get("training")
    if not isinstance(saved, dict) or not all(k in saved for k in (*SETTINGS, "target")):
        raise CLIError(f"{args.resume}: not a checkpoint written by 'bprop train'")
    if saved.get("data_sha256") != sha256(args.data):
        raise CLIError(
            f"{args.resume}: the checkpoint was made with different data than {args.data}; "
            "resume with the same file"
        )
    parser = add_train_options(argparse.ArgumentParser(parents=[common_options(True)]))
    defaults = vars(parser.parse_args([args.data, "--target", "-", "--out", args.out]))
    for key in SETTINGS:
        given = jsonable(getattr(args, key))
        if given != jsonable(defaults[key]) and given != saved[key]:
            raise CLIError(
                f"--{key.replace('_', '-')} {getattr(args, key)!r} differs from the "
                f"checkpoint's {saved[key]!r}; a resumed run keeps its settings"
            )
    if args.target and args.target != saved["target"]:
        raise CLIError(
            f"{args.resume}: the checkpoint trains column {saved['target']!r}, not {args.target!r}"
        )
    settings = {k: saved[k] for k in (*SETTINGS, "target")}
    settings["na_values"] = saved.get("na_values", [])
    if args.na_values and args.na_values != settings["na_values"]:
        raise CLIError(
            f"--na-values {','.join(args.na_values)!r} differs from the checkpoint's "
            f"{','.join(settings['na_values'])!r}; a resumed run keeps its settings"
        )
    settings["param"] = [(k, tuple(v) if isinstance(v, list) else v) for k, v in saved["param"]]
    return settings, checkpoint


def _checked_settings(s: dict[str, Any]) -> dict[str, Any]:
    """The settings of a new run, checked before the data is read: --param keys the rule
    takes; the one rule for the early-stopping options (each needs a validation split; an
    unset --patience is DEFAULT_PATIENCE with one and off without)."""
    get_rule(s["rule"])  # a ValueError listing the rules for an unknown name
    try:
        check_hyperparameters(s["rule"], dict(s["param"]))
    except ValueError as exc:
        raise CLIError(f"--param: {exc}") from None
    has_val = s["val_fraction"] > 0
    for flag in NEEDS_VALIDATION:
        if s[flag] is not None and s[flag] != 0 and not has_val:
            raise CLIError(
                f"--{flag} is early stopping on the validation loss and needs a validation "
                "split: give --val-fraction > 0, or leave --" + flag + " out"
            )
    if s["patience"] is None:
        s["patience"] = DEFAULT_PATIENCE if has_val else 0
    return s


def train(args: argparse.Namespace) -> int:
    """Run ``bprop train``; returns the exit status."""
    start = time.perf_counter()
    check_writable(args.out)  # every output path before training, not after it
    if args.checkpoint:
        check_writable(args.checkpoint)
    if args.plots:
        check_directory(args.plots)
    if args.workers is not None or args.scheduler:
        return _train_on_cluster(args, start)
    footprint = streams(args.data, as_float_dtype(args.dtype), args.memory_limit, args.resume)
    if footprint is not None:
        return _train_streamed(args, start, footprint)
    s, checkpoint = _settings(args)  # (checked before the data is read)
    dtype = as_float_dtype(s["dtype"])
    df = read_frame(args.data, dtype, (s["target"], *s["categorical"]), s["na_values"])
    with about(args.data):
        spec = infer_spec(df, s)
        X = check_frame(spec, df, dtype=dtype)
        y = target_values(spec, df)
    if not args.json:
        emit(args, task_line(spec.task, len(np.unique(y)), s["task"] is not None))
    n_val = int(np.ceil(s["val_fraction"] * len(df))) if s["val_fraction"] > 0 else 0
    if s["val_fraction"] > 0 and (n_val < 2 or len(df) - n_val < 1):
        raise CLIError(
            f"cannot hold out {s['val_fraction']:g} of {len(df)} rows for validation; "
            "use --val-fraction 0"
        )
    record: dict[str, Any] = {
        **s,
        "param": [list(p) for p in s["param"]],
        "data": os.path.basename(args.data),
        "data_sha256": df.attrs.get("sha256") or sha256(args.data),
        "rows": len(df),
        "n_train": len(df) - n_val,
        "n_validation": n_val,
    }
    every = args.checkpoint_every
    if checkpoint is not None and every is None:
        every = checkpoint.metadata["training"].get("checkpoint_every")  # keep checkpointing
    record["checkpoint_every"] = every
    ck_path = args.checkpoint or args.resume or f"{args.out}.ckpt"
    probe = _RuleProbe()
    callbacks: list[Any] = [probe]
    if every:
        callbacks.append(CheckpointCallback(ck_path, every, jsonable({"training": record})))
    mlp = _estimator(s, spec.task, len(df) - n_val, callbacks)
    mlp.verbose = sys.stderr.isatty() and not (args.quiet or args.no_progress or args.json)
    pipeline = make_pipeline(spec, mlp, dtype)
    columns = fit_blocks(pipeline.steps[0][1], X)  # (pipeline.fit, in blocks)
    pipeline.steps[0] = ("columns", columns)
    if read_as_parquet(args.data) and reads_as_floats(args.data, spec.features):
        del df, X  # the table goes first: the inputs are read again, a row group at a time
        Xt = transform_parquet(columns, args.data, spec, dtype)
    else:
        Xt = transform_blocks(columns, X, dtype)
        del df, X
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", DivergenceWarning)  # said below, in one line
            pipeline.steps[-1][1].fit(Xt, y, checkpoint=checkpoint)
    except KeyboardInterrupt:
        if every and os.path.exists(ck_path):
            print(
                f"bprop: continue with: bprop train {args.data} --target {s['target']} "
                f"--out {args.out} --resume {ck_path}",
                file=sys.stderr,
            )
        raise
    est = final_estimator(pipeline)
    probe = est.callbacks[0]  # (a TransformedTargetRegressor fits a copy of the estimator)
    est.set_params(callbacks=None, stopping=None)  # (objects; the settings record them)
    diverged = divergence(args, est.history_, probe.hyperparameters)
    metrics: dict[str, Any] = {}
    if est.validation_indices_ is not None:
        idx = np.sort(est.validation_indices_)
        pred = predict_rows(pipeline.steps[-1][1], Xt, idx)  # (= pipeline.predict of the rows)
        metrics = validation_metrics(spec.task, y[idx], pred, _classes(est))
    record["mode"] = s["mode"] or probe.mode
    record["rule_hyperparameters"] = probe.hyperparameters
    record["resumed_from"] = os.path.basename(args.resume) if args.resume else None
    extra = {"table": spec.to_dict(), "training": jsonable(record), "metrics": jsonable(metrics)}
    save_pipeline(pipeline, args.out, extra)
    seconds = time.perf_counter() - start
    summary = run_summary(spec.task, est, metrics, args.out, seconds)
    summary["diverged"] = diverged
    if args.plots:
        name = os.path.basename(args.data)
        df = read_frame(args.data, dtype, (s["target"], *s["categorical"]), s["na_values"])
        if est.validation_indices_ is not None:
            rows, shown = df.iloc[idx], f"validation split of {name}"
        else:
            rows, shown = df, f"training file {name}"
        shown += f" ({len(rows)} rows)"
        written = training_plots(load_model(args.out), rows, args.plots, shown)
        summary["plots"] = [str(p) for p in written]
    summary["task_inferred"] = s["task"] is None
    summary |= {"streamed": False, "data": f"in memory, {record['rows']:,} rows"}
    if args.json:
        emit_json(summary)
    else:
        print_summary(args, summary)
    return 0


def _train_streamed(args: argparse.Namespace, start: float, footprint: Footprint) -> int:
    """``bprop train`` on Parquet data over ``--memory-limit``, streamed (see bprop.cli.stream)."""
    s, checkpoint, record, probe, callbacks = _out_of_core_run(
        args, {"rows": footprint.rows, "streamed": True}
    )
    dtype = as_float_dtype(s["dtype"])
    make_estimator = partial(_estimator, s, n_train=1 << 62, callbacks=callbacks)  # (clipped)
    with about(args.data), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DivergenceWarning)
        pipeline, spec, data = fit_parquet(args.data, s, make_estimator, dtype, checkpoint)
    est = final_estimator(pipeline)
    est.set_params(callbacks=None, stopping=None)
    diverged = divergence(args, est.history_, probe.hyperparameters)
    with about(args.data):  # (of the held-out rows, block by block; none: {})
        na = s["na_values"]
        metrics = validation_metrics_streamed(pipeline, spec, data, dtype, na, _classes(est))
    summary = {"streamed": True, "data": f"streamed from Parquet, {footprint.rows:,} rows"}
    summary["diverged"] = diverged
    return _finish(args, start, pipeline, spec, (s, record, probe), metrics, summary)


def _out_of_core_run(args: argparse.Namespace, extra: dict[str, Any]) -> tuple:
    """(settings, checkpoint or None, record, rule probe, callbacks) of a streamed or
    cluster run."""
    if args.plots:
        raise CLIError("--plots reads the training file into memory; run 'bprop plot' on the model")
    s, checkpoint = _settings(args)
    record: dict[str, Any] = {
        **s,
        "param": [list(p) for p in s["param"]],
        "data": os.path.basename(os.path.normpath(args.data)),
        "data_sha256": sha256(args.data),
        **extra,
    }
    probe = _RuleProbe()
    callbacks: list[Any] = [probe]
    every = args.checkpoint_every
    if checkpoint is not None and every is None:
        every = checkpoint.metadata["training"].get("checkpoint_every")  # keep checkpointing
    if every:
        ck_path = args.checkpoint or args.resume or f"{args.out}.ckpt"
        record["checkpoint_every"] = every
        callbacks.append(CheckpointCallback(ck_path, every, jsonable({"training": record})))
    return s, checkpoint, record, probe, callbacks


def _finish(args, start, pipeline, spec, run: tuple, metrics: dict, summary: dict) -> int:
    """Save a streamed or cluster run's pipeline and print its summary."""
    s, record, probe = run
    est = final_estimator(pipeline)
    record["mode"] = s["mode"] or probe.mode
    record["rule_hyperparameters"] = probe.hyperparameters
    extra = {"table": spec.to_dict(), "training": jsonable(record), "metrics": jsonable(metrics)}
    save_pipeline(pipeline, args.out, extra)
    summary = run_summary(spec.task, est, metrics, args.out, time.perf_counter() - start) | summary
    summary["task_inferred"] = s["task"] is None
    if not args.json:
        n_classes = len(getattr(est, "classes_", ()))
        emit(args, task_line(spec.task, n_classes, s["task"] is not None))
    if args.json:
        emit_json(summary)
    else:
        print_summary(args, summary)
    return 0


def _train_on_cluster(args: argparse.Namespace, start: float) -> int:
    """``bprop train --workers N`` / ``--scheduler ADDRESS`` (see bprop.cli.cluster)."""
    check_cluster_options(args)
    cluster = args.scheduler or f"LocalCluster({args.workers} workers)"
    s, checkpoint, record, probe, callbacks = _out_of_core_run(args, {"cluster": cluster})
    dtype = as_float_dtype(s["dtype"])
    make_estimator = partial(_estimator, s, n_train=1 << 62, callbacks=callbacks)  # (clipped)
    with cluster_client(args) as client, about(args.data), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DivergenceWarning)
        pipeline, spec, val = fit_on_cluster(
            client, args.data, s, make_estimator, dtype, checkpoint
        )
    est = final_estimator(pipeline)
    est.set_params(callbacks=None, stopping=None)
    diverged = divergence(args, est.history_, probe.hyperparameters)
    metrics: dict[str, Any] = {}
    if val is not None and len(val):
        X_val = check_frame(spec, val, dtype=dtype)
        y_val = target_values(spec, val)
        metrics = validation_metrics(spec.task, y_val, pipeline.predict(X_val), _classes(est))
    summary = {"cluster": cluster, "diverged": diverged}
    return _finish(args, start, pipeline, spec, (s, record, probe), metrics, summary)


def _classes(est: Any) -> list | None:
    classes = getattr(est, "classes_", None)
    return None if classes is None else [c.item() if hasattr(c, "item") else c for c in classes]


def add_parser(sub: Any) -> None:
    """Add the ``train`` command to the subparsers."""
    p = sub.add_parser(
        "train",
        parents=[common_options(True)],
        help="train a network on a CSV or Parquet file and save the model",
        description=(
            "Fit a scikit-learn Pipeline to a CSV or Parquet file: numeric columns are "
            "standardised and the others one-hot encoded (a ColumnTransformer), then bprop's "
            "MLPClassifier or MLPRegressor learns the target. The fitted pipeline is saved "
            "(no pickle), so 'bprop predict' applies it to raw files and bprop.load returns "
            "it. Classification or regression is inferred from the target (override with "
            "--task)."
        ),
        formatter_class=HelpFormatter,
    )
    add_train_options(p)
    add_na_values(p)
    add_memory_option(p)
    add_cluster_options(p)
    if isinstance(p, Parser):
        p.required_unless = {"target": "--resume"}
    p.set_defaults(func=train)
