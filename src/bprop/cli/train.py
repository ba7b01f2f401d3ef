"""``bprop train``: fit a network to a CSV or Parquet file and save the model.

The steps: read the file; fit the preprocessing (:mod:`bprop.sklearn.tabular`) or take it from a
checkpoint; split off the validation rows (stratified by class when possible, from the
seed); build the network and the trainer from the settings; train, writing checkpoints
if asked; save a :class:`~bprop.sklearn.tabular.TabularModel` with the settings, the history and
the validation metrics; print a summary.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from bprop.cli.main import (
    CLIError,
    HelpFormatter,
    _about,
    _check_writable,
    _common,
    _emit,
    _emit_json,
    _fraction,
    _int_list,
    _key_value,
    _positive,
    _sha256,
    _validation_metrics,
)

__all__ = ["add_parser", "train"]

#: the options that define a training run (stored in the model and the checkpoint)
_SETTINGS = (
    "task",
    "hidden",
    "activation",
    "output_activation",
    "loss",
    "init",
    "rule",
    "lr",
    "param",
    "mode",
    "batch_size",
    "epochs",
    "patience",
    "target_error",
    "gl",
    "pq",
    "up",
    "weight_decay",
    "val_fraction",
    "seed",
    "dtype",
    "impute",
    "categorical",
    "drop",
)


def _split(n: int, y, pre, fraction: float, seed: int):
    """Training and validation row indices (stratified by class where possible)."""
    import numpy as np

    index = np.arange(n)
    if fraction == 0:
        return index, None
    from sklearn.model_selection import train_test_split

    n_val = int(np.ceil(fraction * n))
    if n_val < 1 or n - n_val < 1:
        raise CLIError(
            f"cannot hold out {fraction:g} of {n} rows for validation; use --val-fraction 0"
        )
    stratify = None
    if pre.task == "classification":
        _, counts = np.unique(y, return_counts=True)
        if counts.min() >= 2 and n_val >= len(counts):
            stratify = y
    train, val = train_test_split(index, test_size=n_val, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(val)


def _build(settings: dict[str, Any], pre, dtype):
    """The network and trainer a set of training settings describes."""
    import numpy as np

    from bprop.core.network import Network
    from bprop.optim import get_rule
    from bprop.training.stopping import (
        EarlyStopping,
        GeneralizationLoss,
        ProgressQuotient,
        TargetError,
        UpStrips,
    )
    from bprop.training.trainer import Trainer

    s = settings
    if pre.task == "regression":
        out_act = s["output_activation"] or "identity"
    else:
        out_act = s["output_activation"] or ("logistic" if pre.n_outputs == 1 else "softmax")
    sizes = [pre.n_inputs, *s["hidden"], pre.n_outputs]
    hidden_act = s["activation"].split(",") if "," in s["activation"] else s["activation"]
    # independent streams for the initial weights and the shuffling, both from --seed
    init_seq, shuffle_seq = np.random.SeedSequence(s["seed"]).spawn(2)
    net = Network(
        sizes,
        hidden_act,
        out_act,
        init=s["init"],
        seed=np.random.default_rng(init_seq),
        dtype=dtype,
    )
    hp = dict(s["param"])
    if s["lr"] is not None:
        hp["learning_rate"] = s["lr"]
    rule = get_rule(s["rule"], **hp)
    if s["mode"] is None:  # full-batch solvers need batch mode; the rest learn in mini-batches
        s["mode"] = "batch" if rule.full_batch_only else "minibatch"
    if s["loss"] is None and rule.name == "lm":
        s["loss"] = "squared_error"  # Levenberg-Marquardt minimises a sum of squares
    stopping = []
    has_val = s["val_fraction"] > 0
    if s["patience"] and has_val:
        stopping.append(EarlyStopping(patience=s["patience"]))
    if s["target_error"] is not None:
        stopping.append(TargetError(s["target_error"]))
    for flag, cls in (("gl", GeneralizationLoss), ("pq", ProgressQuotient), ("up", UpStrips)):
        if s[flag] is not None:
            if not has_val:
                raise CLIError(f"--{flag} needs a validation split (--val-fraction > 0)")
            stopping.append(cls(s[flag]) if flag != "up" else cls(int(s[flag])))
    trainer = Trainer(
        net,
        loss=s["loss"],
        rule=rule,
        mode=s["mode"],
        batch_size=s["batch_size"],
        max_epochs=s["epochs"],
        stopping=stopping,
        weight_decay=s["weight_decay"],
        seed=np.random.default_rng(shuffle_seq),
    )
    return net, trainer


def train(args: argparse.Namespace) -> int:
    """Run ``bprop train``; returns the exit status."""
    import numpy as np

    from bprop.core.network import as_float_dtype
    from bprop.files import ModelFileError
    from bprop.files.jsonsafe import to_json as jsonable
    from bprop.sklearn.tabular import Preprocessing, TabularModel, read_table
    from bprop.training.checkpoint import (
        CheckpointCallback,
        load_checkpoint,
        restore,
        training_finished,
    )
    from bprop.training.stopping import StopReason, max_epochs_reached

    start = time.perf_counter()
    _check_writable(args.out)  # before training, not after it
    if args.checkpoint:
        _check_writable(args.checkpoint)
    df = read_table(args.data)
    data_sha256 = _sha256(args.data)
    checkpoint, saved = None, {}
    if args.resume:
        checkpoint = load_checkpoint(args.resume)
        saved = checkpoint.metadata.get("training")
        if not isinstance(saved, dict) or not all(k in saved for k in _SETTINGS):
            raise CLIError(f"{args.resume}: not a checkpoint written by 'bprop train'")
        if saved.get("data_sha256") != data_sha256:
            raise CLIError(
                f"{args.resume}: the checkpoint was made with different data than {args.data}; "
                "resume with the same file"
            )
        defaults = vars(_parser().parse_args(["train", args.data, "--out", args.out]))
        for key in _SETTINGS:
            given = jsonable(getattr(args, key))
            if given != jsonable(defaults[key]) and given != saved[key]:
                raise CLIError(
                    f"--{key.replace('_', '-')} {getattr(args, key)!r} differs from the "
                    f"checkpoint's {saved[key]!r}; a resumed run keeps its settings"
                )
        settings = {k: saved[k] for k in _SETTINGS}
        settings["param"] = [
            (k, tuple(v) if isinstance(v, list) else v) for k, v in settings["param"]
        ]
        target = saved["target"]
        if args.target and args.target != target:
            raise CLIError(
                f"{args.resume}: the checkpoint trains column {target!r}, not {args.target!r}"
            )
        try:
            pre = Preprocessing.from_dict(checkpoint.metadata.get("preprocessing"))
        except ValueError as exc:
            raise ModelFileError(args.resume, f"bad preprocessing ({exc})") from None
    else:
        if not args.target:
            raise CLIError("give the target column with --target COL")
        settings = {k: getattr(args, k) for k in _SETTINGS}
        target = args.target
        with _about(args.data):
            pre = Preprocessing.fit(
                df,
                target,
                task=args.task,
                impute=args.impute,
                categorical=tuple(args.categorical),
                drop=tuple(args.drop),
            )
    dtype = as_float_dtype(settings["dtype"])
    with _about(args.data):
        X = pre.transform(df, dtype)
        y = pre.encode_target(df)
    train_idx, val_idx = _split(len(df), y, pre, settings["val_fraction"], settings["seed"])
    net, trainer = _build(settings, pre, dtype)
    trainer.progress = False if (args.quiet or args.no_progress or args.json) else None
    record = {
        **settings,
        "param": [list(p) for p in settings["param"]],
        "target": target,
        "data": os.path.basename(args.data),
        "data_sha256": data_sha256,
        "rows": len(df),
        "n_train": int(len(train_idx)),
        "n_validation": 0 if val_idx is None else int(len(val_idx)),
    }
    every = args.checkpoint_every
    if checkpoint is not None and every is None:
        every = saved.get("checkpoint_every")  # a resumed run keeps checkpointing
    record["checkpoint_every"] = every
    ck_path = args.checkpoint or args.resume or f"{args.out}.ckpt"
    if every:
        extra = jsonable({"training": record, "preprocessing": pre.to_dict()})
        trainer.callbacks = (CheckpointCallback(ck_path, every, extra),)
    validation = None if val_idx is None else (X[val_idx], y[val_idx])
    finished = None
    if checkpoint is not None:
        restore(trainer, checkpoint)
        finished = training_finished(trainer, settings["epochs"])
        if finished is None:
            trainer.max_epochs = settings["epochs"] - trainer.state.epoch
    if finished is None:
        try:
            trainer.fit(
                X[train_idx],
                y[train_idx],
                validation_data=validation,
                resume=checkpoint is not None,
            )
        except KeyboardInterrupt:
            if every and os.path.exists(ck_path):
                print(
                    f"bprop: continue with: bprop train {args.data} --out {args.out} "
                    f"--resume {ck_path}",
                    file=sys.stderr,
                )
            raise
    history = trainer.history
    if finished is not None:
        history.set_stop(finished)
        if (
            validation is not None
            and trainer.state.best_params is not None
            and any(c.restore_best for c in trainer.stopping)
        ):
            np.copyto(net.params, trainer.state.best_params)
            history.restored_best = True
    elif history.stop is StopReason.MAX_EPOCHS:
        history.set_stop(max_epochs_reached(settings["epochs"]))
    metrics: dict[str, Any] = {}
    if validation is not None:
        metrics = _validation_metrics(pre, y[val_idx], net.predict(X[val_idx]))
    model = TabularModel(
        net,
        pre,
        trainer.loss.name,
        {
            **record,
            "rule_hyperparameters": trainer.rule.hyperparameters(),
            "resumed_from": os.path.basename(args.resume) if args.resume else None,
        },
        history,
        metrics,
    )
    model.training = jsonable(model.training)
    model.save(args.out)
    seconds = time.perf_counter() - start
    if args.plots:
        from bprop.cli import plots

        plots.training_plots(model, df, args.plots)
    summary = _train_summary(model, args.out, seconds)
    if args.json:
        _emit_json(summary)
    else:
        _print_train_summary(args, summary)
    return 0


def _train_summary(model, out: str, seconds: float) -> dict[str, Any]:
    h = model.history
    last = h.records[-1] if h.records else None
    return {
        "model": out,
        "task": model.preprocessing.task,
        "network": list(model.network.sizes),
        "epochs": h.epochs,
        "stop_reason": h.stop_reason,
        "stop": None if h.stop is None else h.stop.value,
        "best_epoch": h.best_epoch,
        "restored_best": h.restored_best,
        "final_loss": None if last is None else last.loss,
        "final_val_loss": None if last is None else last.val_loss,
        "validation": model.metrics,
        "seconds": seconds,
    }


def _print_train_summary(args: argparse.Namespace, s: dict[str, Any]) -> None:
    lines = [
        f"trained {s['task']} network {'-'.join(map(str, s['network']))} for {s['epochs']} epochs",
        f"  stop reason: {s['stop_reason']}",
    ]
    if s["restored_best"] and s["best_epoch"] != s["epochs"]:
        lines.append(f"  weights of epoch {s['best_epoch']} (lowest validation loss) restored")
    loss = f"  final training loss {s['final_loss']:.6g}"
    if s["final_val_loss"] is not None:
        loss += f", validation loss {s['final_val_loss']:.6g}"
    lines.append(loss)
    v = s["validation"]
    if "accuracy" in v:
        lines.append(f"  validation accuracy {v['accuracy']:.4f}, macro F1 {v['f1_macro']:.4f}")
    elif "mae" in v:
        r2 = "n/a" if v["r2"] is None else f"{v['r2']:.4f}"
        lines.append(f"  validation R^2 {r2}, MAE {v['mae']:.6g}, RMSE {v['rmse']:.6g}")
    lines.append(f"  time {s['seconds']:.2f} s; model written to {s['model']}")
    _emit(args, "\n".join(lines))


def add_parser(sub) -> None:
    """Add the ``train`` command to the subparsers."""
    p = sub.add_parser(
        "train",
        parents=[_common(True)],
        help="train a network on a CSV or Parquet file and save the model",
        description=(
            "Train a feedforward network on a CSV or Parquet file. Numeric columns are "
            "standardised and string columns one-hot encoded; that preprocessing is stored "
            "in the model so 'bprop predict' applies it to raw files. Classification or "
            "regression is inferred from the target column (override with --task)."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("data", help="training data (.csv or .parquet)")
    p.add_argument("--target", help="the column to predict")
    p.add_argument("--out", required=True, help="model file to write (e.g. model.bprop)")
    g = p.add_argument_group("data")
    g.add_argument("--task", choices=("classification", "regression"), help="default: inferred")
    g.add_argument(
        "--categorical",
        action="append",
        default=[],
        metavar="COL",
        help="treat a numeric column as categorical (repeatable)",
    )
    g.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COL",
        help="ignore a column, e.g. an ID (repeatable)",
    )
    g.add_argument(
        "--impute",
        action="store_true",
        help="fill empty cells with the training mean / most frequent category "
        "(default: empty cells are an error)",
    )
    g.add_argument(
        "--val-fraction",
        type=_fraction,
        default=0.2,
        help="fraction of rows held out for validation (0: none)",
    )
    g = p.add_argument_group("network")
    g.add_argument(
        "--hidden",
        type=_int_list,
        default=[16],
        metavar="N[,N...]",
        help="hidden layer sizes (0: no hidden layer; default: 16)",
    )
    g.add_argument(
        "--activation", default="tanh", help="hidden activation, or one per hidden layer: tanh,relu"
    )
    g.add_argument(
        "--output-activation",
        default=None,
        help="default: logistic (2 classes), softmax (more), identity (regression)",
    )
    g.add_argument(
        "--loss",
        default=None,
        help="default: the natural loss of the output (squared_error for lm)",
    )
    g.add_argument("--init", default="xavier_uniform", help="weight initialiser")
    g.add_argument(
        "--dtype", default="float64", choices=("float32", "float64"), help="floating-point type"
    )
    g = p.add_argument_group("training")
    g.add_argument("--rule", default="momentum", help="update rule (gd, momentum, nesterov, ...)")
    g.add_argument(
        "--lr", type=float, default=None, help="learning rate (the rule's default if unset)"
    )
    g.add_argument(
        "--param",
        action="append",
        default=[],
        type=_key_value,
        metavar="KEY=VALUE",
        help="another rule hyperparameter, e.g. momentum=0.8 (repeatable)",
    )
    g.add_argument(
        "--mode",
        default=None,
        choices=("online", "batch", "minibatch"),
        help="default: batch for full-batch rules (rprop, quickprop, lbfgs, lm), else minibatch",
    )
    g.add_argument("--batch-size", type=_positive, default=32, help="patterns per mini-batch")
    g.add_argument("--epochs", type=_positive, default=200, help="maximum number of epochs")
    g.add_argument("--weight-decay", type=float, default=0.0, help="L2 coefficient")
    g.add_argument("--seed", type=int, default=0, help="seed for weights, split and shuffling")
    g = p.add_argument_group("stopping")
    g.add_argument(
        "--patience",
        type=int,
        default=20,
        help="early stopping patience in epochs (0: off; needs validation)",
    )
    g.add_argument("--target-error", type=float, default=None, help="stop at this training loss")
    g.add_argument("--gl", type=float, default=None, help="Prechelt's GL_alpha (percent)")
    g.add_argument("--pq", type=float, default=None, help="Prechelt's PQ_alpha")
    g.add_argument("--up", type=int, default=None, help="Prechelt's UP_s (strips of 5 epochs)")
    g = p.add_argument_group("output")
    g.add_argument(
        "--checkpoint-every",
        type=_positive,
        default=None,
        metavar="N",
        help="write a checkpoint every N epochs",
    )
    g.add_argument("--checkpoint", default=None, help="checkpoint file (default: OUT.ckpt)")
    g.add_argument(
        "--resume",
        default=None,
        metavar="CHECKPOINT",
        help="continue from a checkpoint, with its training settings",
    )
    g.add_argument("--plots", default=None, metavar="DIR", help="write PNG plots to DIR")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=train)


def _parser() -> argparse.ArgumentParser:
    from bprop.cli.main import build_parser

    return build_parser()
