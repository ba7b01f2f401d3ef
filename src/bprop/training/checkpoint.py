"""Checkpoints: everything a :class:`~bprop.training.trainer.Trainer` carries from epoch to epoch.

A checkpoint is a bprop model file (:mod:`bprop.training.model_file`, kind "checkpoint") holding

- the network's weights (``layers.*``), as in a model file;
- the update rule's name, hyperparameters (as given: training never changes them) and
  state (``Trainer.state.rule_state``, which holds the current learning rate a schedule
  set, see :mod:`bprop.optim.base`);
  the state is serialised generically from its dataclass fields, so any rule whose state
  is a dataclass of NumPy arrays, lists of arrays and scalars (int, float, bool, str, None)
  can be checkpointed: arrays become tensors ``rule_state.<field>`` (``.<i>`` for list
  items), scalars (and strings) go into the JSON metadata (non-finite floats as "inf",
  "-inf", "nan": :mod:`bprop.files.jsonsafe`);
- the epoch count, the history (tensor ``history``) and the best validation loss and
  weights so far (``best_params``, for early stopping that restores the best epoch);
- the state of the trainer's random generator (PCG64 or PCG64DXSM; 128-bit integers as
  decimal strings), which draws the shuffling order.

Restoring all of it and continuing gives bit for bit the weights of an uninterrupted run
with the same seeds: the epoch loop's only other inputs are the data and the settings.
Loading validates like a model file, then checks that the rule, the state's fields,
shapes and dtypes match the trainer being resumed; a mismatch is a ModelFileError.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bprop.core.validation import positive_int
from bprop.files import ModelFileError
from bprop.files.jsonsafe import decode_float, encode_float, to_json
from bprop.optim.base import LearningRateState
from bprop.training.history import EpochRecord, History
from bprop.training.model_file import ModelFile, read_model_file, write_model_file
from bprop.training.stopping import Stop, StopReason, as_stop, max_epochs_reached
from bprop.training.trainer import TrainingState

__all__ = [
    "Checkpoint",
    "CheckpointCallback",
    "load_checkpoint",
    "restore",
    "save_checkpoint",
    "training_finished",
]

_RNG_TYPES = ("PCG64", "PCG64DXSM")


# ---------------------------------------------------------------------------- rule state
def _state_to_parts(state: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if state is None:
        return {"type": None, "fields": {}}, {}
    if not dataclasses.is_dataclass(state) or isinstance(state, type):
        raise ValueError(
            f"cannot checkpoint a rule state of type {type(state).__name__}: "
            "it must be a dataclass of arrays and scalars"
        )
    fields: dict[str, Any] = {}
    tensors: dict[str, np.ndarray] = {}
    for f in dataclasses.fields(state):
        v = getattr(state, f.name)
        key = f"rule_state.{f.name}"
        if isinstance(v, np.ndarray):
            fields[f.name] = {"kind": "array"}
            tensors[key] = v
        elif v is None:
            fields[f.name] = {"kind": "none"}
        elif isinstance(v, bool | np.bool_):
            fields[f.name] = {"kind": "bool", "value": bool(v)}
        elif isinstance(v, int | np.integer):
            fields[f.name] = {"kind": "int", "value": int(v)}
        elif isinstance(v, str):
            fields[f.name] = {"kind": "str", "value": v}
        elif isinstance(v, float | np.floating):
            dtype = np.asarray(v).dtype.name
            fields[f.name] = {"kind": "float", "value": encode_float(v), "dtype": dtype}
        elif isinstance(v, list | tuple | deque) and all(isinstance(a, np.ndarray) for a in v):
            kind = "deque" if isinstance(v, deque) else type(v).__name__
            entry: dict[str, Any] = {"kind": kind, "length": len(v)}
            if isinstance(v, deque):
                entry["maxlen"] = v.maxlen
            fields[f.name] = entry
            for i, a in enumerate(v):
                tensors[f"{key}.{i}"] = a
        else:
            raise ValueError(
                f"cannot checkpoint rule state field {f.name!r} of type {type(v).__name__}"
            )
    return {"type": type(state).__name__, "fields": fields}, tensors


def _state_from_parts(path: str, fresh: Any, meta: object, tensors: dict[str, np.ndarray]) -> Any:
    """Fill a fresh state (from ``rule.init``) with the saved values, checking each."""
    if not isinstance(meta, dict) or set(meta) != {"type", "fields"}:
        raise ModelFileError(path, "malformed rule state")
    if fresh is None:
        if meta["type"] is not None or tensors:
            raise ModelFileError(path, "rule state does not match the rule (expected none)")
        return None
    names = {f.name for f in dataclasses.fields(fresh)}
    fields = meta["fields"]
    if meta["type"] != type(fresh).__name__ or not isinstance(fields, dict) or set(fields) != names:
        shown = sorted(fields) if isinstance(fields, dict) else fields
        raise ModelFileError(
            path,
            f"rule state {meta['type']!r} with fields {shown!r} "
            f"does not match the rule's {type(fresh).__name__} with fields {sorted(names)}",
        )
    used = set()
    values: dict[str, Any] = {}
    for name, entry in fields.items():
        key = f"rule_state.{name}"
        kind = entry.get("kind") if isinstance(entry, dict) else None
        current = getattr(fresh, name)
        if kind == "array":
            a = tensors.get(key)
            if a is None:
                raise ModelFileError(path, f"rule state field {name!r}: tensor missing")
            if isinstance(current, np.ndarray) and (
                a.shape != current.shape or a.dtype != current.dtype
            ):
                raise ModelFileError(
                    path,
                    f"rule state field {name!r}: {a.dtype}{list(a.shape)} does not match "
                    f"{current.dtype}{list(current.shape)}",
                )
            values[name] = a
            used.add(key)
        elif kind == "none":
            values[name] = None
        elif (
            kind == "bool"
            and isinstance(entry.get("value"), bool)
            or (
                kind == "int"
                and isinstance(entry.get("value"), int)
                and not isinstance(entry.get("value"), bool)
            )
            or kind == "str"
            and isinstance(entry.get("value"), str)
        ):
            values[name] = entry["value"]
        elif kind == "float" and entry.get("dtype") in ("float64", "float32"):
            try:
                x = decode_float(entry.get("value"), f"rule state field {name!r}")
            except ValueError as exc:
                raise ModelFileError(path, str(exc)) from None
            values[name] = np.dtype(entry["dtype"]).type(x) if entry["dtype"] == "float32" else x
            if isinstance(current, np.floating):
                values[name] = type(current)(x)
        elif kind in ("list", "tuple", "deque"):
            n = entry.get("length")
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ModelFileError(path, f"rule state field {name!r}: bad length {n!r}")
            items = []
            for i in range(n):
                a = tensors.get(f"{key}.{i}")
                if a is None:
                    raise ModelFileError(path, f"rule state field {name!r}: item {i} missing")
                items.append(a)
                used.add(f"{key}.{i}")
            if kind == "deque":
                maxlen = entry.get("maxlen")
                if maxlen is not None and (not isinstance(maxlen, int) or maxlen < n):
                    raise ModelFileError(path, f"rule state field {name!r}: bad maxlen")
                values[name] = deque(items, maxlen=maxlen)
            else:
                values[name] = items if kind == "list" else tuple(items)
        else:
            raise ModelFileError(path, f"rule state field {name!r}: bad entry {entry!r}")
    stray = set(tensors) - used
    if stray:
        raise ModelFileError(path, f"unexpected rule state tensors {sorted(stray)}")
    return dataclasses.replace(fresh, **values)


# ---------------------------------------------------------------------------- rng
def _rng_to_json(rng: np.random.Generator) -> dict[str, Any]:
    state = rng.bit_generator.state
    if state.get("bit_generator") not in _RNG_TYPES:
        raise ValueError(
            f"cannot checkpoint a {state.get('bit_generator')} random generator "
            f"(supported: {', '.join(_RNG_TYPES)})"
        )
    return {
        "bit_generator": state["bit_generator"],
        "state": str(state["state"]["state"]),
        "inc": str(state["state"]["inc"]),
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def _rng_from_json(path: str, d: object) -> np.random.Generator:
    keys = {"bit_generator", "state", "inc", "has_uint32", "uinteger"}
    if not isinstance(d, dict) or set(d) != keys or d["bit_generator"] not in _RNG_TYPES:
        raise ModelFileError(path, "malformed random generator state")
    try:
        s, inc = int(d["state"]), int(d["inc"])
    except (TypeError, ValueError):
        raise ModelFileError(path, "malformed random generator state") from None
    if not (0 <= s < 2**128 and 0 <= inc < 2**128) or d["has_uint32"] not in (0, 1):
        raise ModelFileError(path, "random generator state out of range")
    if not isinstance(d["uinteger"], int) or not 0 <= d["uinteger"] < 2**32:
        raise ModelFileError(path, "random generator state out of range")
    bitgen = getattr(np.random, d["bit_generator"])()
    bitgen.state = {
        "bit_generator": d["bit_generator"],
        "state": {"state": s, "inc": inc},
        "has_uint32": d["has_uint32"],
        "uinteger": d["uinteger"],
    }
    return np.random.Generator(bitgen)


# ---------------------------------------------------------------------------- save / load
def save_checkpoint(
    path: str | os.PathLike, trainer: Any, extra: dict[str, Any] | None = None
) -> None:
    """Write the trainer's network, rule state, epoch, RNG, history and best-so-far."""
    state = trainer.state
    if state is None:
        raise ValueError("nothing to checkpoint: the trainer has not started fitting")
    rule_meta, tensors = _state_to_parts(state.rule_state)
    if state.best_params is not None:
        tensors["best_params"] = state.best_params
    info = {
        "epoch": int(state.epoch),
        "rule": {
            "name": trainer.rule.name,
            "hyperparameters": to_json(trainer.rule.hyperparameters()),
        },
        "rule_state": rule_meta,
        "rng": _rng_to_json(trainer.rng),
        "best_val_loss": encode_float(state.best_val_loss),
    }
    write_model_file(
        path,
        trainer.network,
        kind="checkpoint",
        loss=trainer.loss.name,
        history=state.history,
        extra={"checkpoint": info, **(extra or {})},
        extra_tensors=tensors,
    )


@dataclass
class Checkpoint:
    """A validated checkpoint file, ready to :func:`restore` into a matching trainer."""

    path: str
    model_file: ModelFile

    @property
    def metadata(self) -> dict[str, Any]:
        return self.model_file.metadata

    @property
    def epoch(self) -> int:
        return self.metadata["checkpoint"]["epoch"]


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and validate a checkpoint file (a ModelFileError if anything is wrong)."""
    mf = read_model_file(path, ("checkpoint",))
    info = mf.metadata.get("checkpoint")
    keys = {"epoch", "rule", "rule_state", "rng", "best_val_loss"}
    if not isinstance(info, dict) or set(info) != keys:
        raise ModelFileError(path, "malformed checkpoint metadata")
    epoch = info["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ModelFileError(path, f"bad epoch {epoch!r}")
    n_records = 0 if mf.history is None else mf.history.epochs
    if n_records != epoch:
        raise ModelFileError(
            path, f"history has {n_records} epochs but the checkpoint says {epoch}"
        )
    rule = info["rule"]
    if not isinstance(rule, dict) or not isinstance(rule.get("name"), str):
        raise ModelFileError(path, "malformed rule entry")
    best = mf.extra_tensors.get("best_params")
    if best is not None:
        net = mf.network
        if (
            best.shape != (net.n_params,)
            or best.dtype != net.dtype
            or not np.all(np.isfinite(best))
        ):
            raise ModelFileError(path, "best_params do not fit the network or are not finite")
    return Checkpoint(str(path), mf)


def restore(trainer: Any, checkpoint: Checkpoint | str | os.PathLike) -> Checkpoint:
    """Put a checkpoint's weights, rule state, epoch, history, best-so-far and RNG into
    ``trainer`` (whose network, rule and loss must match); then ``fit(..., resume=True)``.
    """
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    path, mf, info = ck.path, ck.model_file, ck.metadata["checkpoint"]
    net = trainer.network
    if (
        mf.network.sizes != net.sizes
        or mf.network.dtype != net.dtype
        or (mf.network.activations != net.activations)
    ):
        raise ModelFileError(path, f"checkpoint network {mf.network!r} does not match {net!r}")
    rule_name, hp = info["rule"]["name"], info["rule"].get("hyperparameters")
    ours = to_json(trainer.rule.hyperparameters())
    fresh = trainer.rule.init(net.n_params, net.dtype)
    saved_state = info["rule_state"]
    legacy_lr = _legacy_learning_rate(fresh, saved_state, hp)
    if legacy_lr is not None:  # an older file: the rule's learning_rate was the current one
        hp = {**hp, "learning_rate": ours.get("learning_rate")}
    if rule_name != trainer.rule.name or hp != ours:
        raise ModelFileError(
            path,
            f"checkpoint was made with rule {rule_name!r} {hp!r}, not "
            f"{trainer.rule.name!r} {to_json(trainer.rule.hyperparameters())!r}",
        )
    if ck.metadata.get("loss") != trainer.loss.name:
        raise ModelFileError(path, f"checkpoint loss {ck.metadata.get('loss')!r} differs")
    state_tensors = {k: v for k, v in mf.extra_tensors.items() if k.startswith("rule_state.")}
    if legacy_lr is not None:
        entry = {"kind": "float", "value": legacy_lr, "dtype": "float64"}
        saved_state = {**saved_state, "fields": {**saved_state["fields"], "learning_rate": entry}}
    rule_state = _state_from_parts(path, fresh, saved_state, state_tensors)
    try:
        best_val = decode_float(info["best_val_loss"], "best_val_loss")
    except ValueError as exc:
        raise ModelFileError(path, str(exc)) from None
    rng = _rng_from_json(path, info["rng"])
    history = mf.history  # None only for epoch 0 (load_checkpoint checks the count)
    np.copyto(net.params, mf.network.params)
    trainer.state = TrainingState(
        rule_state=rule_state,
        epoch=info["epoch"],
        history=history if history is not None else History(),
        best_val_loss=best_val,
        best_params=mf.extra_tensors.get("best_params"),
    )
    trainer.rng = rng
    return ck


def _legacy_learning_rate(fresh: Any, saved_state: object, hp: object) -> float | None:
    """The current learning rate of a checkpoint written before rule states carried it
    (its rule hyperparameters held the rate a schedule had set); None for newer files."""
    fields = saved_state.get("fields") if isinstance(saved_state, dict) else None
    if (
        isinstance(fresh, LearningRateState)
        and isinstance(fields, dict)
        and "learning_rate" not in fields
        and isinstance(hp, dict)
        and isinstance(hp.get("learning_rate"), int | float)
        and not isinstance(hp.get("learning_rate"), bool)
    ):
        return float(hp["learning_rate"])
    return None


def training_finished(trainer: Any, total_epochs: int) -> Stop | None:
    """The :class:`Stop` if a restored run had already ended (epoch limit or a criterion)."""
    state = trainer.state
    if state.epoch >= total_epochs:
        return max_epochs_reached(total_epochs)
    if not state.history.records:
        return None
    for criterion in trainer.stopping:
        stop = as_stop(criterion.check(state.history), StopReason.CRITERION)
        if stop:
            return stop
    return None


class CheckpointCallback:
    """A trainer callback that writes a checkpoint every ``every`` epochs (atomically)."""

    __name__ = "checkpoint"

    def __init__(
        self,
        path: str | os.PathLike,
        every: int = 1,
        extra: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        every = positive_int(None, "checkpoint interval", every)
        self.path, self.every, self.extra = path, every, extra

    def __call__(self, trainer: Any, record: EpochRecord) -> None:
        if record.epoch % self.every == 0:
            extra = self.extra() if callable(self.extra) else self.extra
            save_checkpoint(self.path, trainer, extra)
        return None
