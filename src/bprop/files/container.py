"""Model files: weights in safetensors format, metadata as JSON in its header.

The file format is safetensors (https://huggingface.co/docs/safetensors), written and
read here by hand so that nothing but NumPy is needed and every byte is validated:

    [8 bytes]  N, the header length, unsigned little-endian
    [N bytes]  a UTF-8 JSON object: for every tensor
                 "name": {"dtype": "F64", "shape": [n_in, n_out], "data_offsets": [begin, end]}
               and "__metadata__": {"bprop": "<the bprop metadata, itself a JSON text>"}
    [rest]     the tensor bytes, little-endian, C order; offsets count from here

Tensors of a model: ``layers.{l}.weight`` (shape (n_in, n_out), W[i, j] = w_ij, the
layout of :class:`~bprop.core.network.Network`), ``layers.{l}.bias`` (shape (n_out,)), and
optionally ``history`` (one row per epoch: epoch, loss, metric, val_loss, val_metric,
learning_rate, time; NaN where a value is absent). Checkpoints (:mod:`bprop.training.checkpoint`)
add ``rule_state.*`` and ``best_params``, estimator files (:mod:`bprop.sklearn.persistence`)
``estimator.<attribute>_``. Other tools read the weights directly
(``safetensors.numpy.load_file``); note that PyTorch's ``nn.Linear.weight`` is the
transpose, (n_out, n_in).

The metadata (key ``bprop`` of ``__metadata__``, since safetensors allows only string
values there) holds: ``format`` ("bprop-model"), ``format_version``, ``bprop_version``,
``kind`` ("network", "tabular", "estimator" or "checkpoint"), ``network`` (sizes,
activations, dtype), ``loss``, and per kind the preprocessing, class labels, training
settings and history summary.

Loading never executes code and trusts nothing: the header length is capped, the JSON is
strict (no NaN/Infinity literals, no duplicate keys), dtypes come from an allowlist,
offsets must tile the data exactly, tensor names come from an allowlist, shapes must
chain layer to layer and match the metadata, and weights must be finite. Every failure is
a :class:`ModelFileError` (a ValueError) naming the file and the problem. Writes are
atomic: a temporary file in the same directory, flushed and fsynced, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from bprop.core.activations import ACTIVATIONS, get_activation
from bprop.core.losses import LOSSES
from bprop.core.network import Network
from bprop.training.history import EpochRecord, History

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_HEADER_BYTES",
    "ModelFile",
    "ModelFileError",
    "atomic_write",
    "history_from_tensor",
    "history_to_tensor",
    "load",
    "load_network",
    "read_model_file",
    "read_safetensors",
    "save",
    "save_network",
    "write_model_file",
    "write_safetensors",
]

FORMAT = "bprop-model"
FORMAT_VERSION = 1
#: Header size cap: a hostile file cannot make the loader read or parse more than this.
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: Limits on the architecture a file may declare (far above any bprop network).
MAX_LAYERS = 256
MAX_UNITS = 10_000_000

_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


def _dtype_code(dt: np.dtype) -> str | None:
    for code, allowed in _DTYPES.items():
        if allowed.kind == dt.kind and allowed.itemsize == dt.itemsize:
            return code
    return None


_KINDS = ("network", "tabular", "estimator", "checkpoint")
HISTORY_COLUMNS = ("epoch", "loss", "metric", "val_loss", "val_metric", "learning_rate", "time")
_NAME = re.compile(
    r"^(layers\.(\d+)\.(weight|bias)|history|best_params|rule_state\.[A-Za-z_]\w*(\.\d+)?"
    r"|estimator\.[A-Za-z]\w*_)$"
)


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be read or fails validation."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


# ---------------------------------------------------------------------------- atomic writes
@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and ``os.replace`` it.

    On any exception (or interruption) the temporary file is removed and ``path`` keeps
    its previous content (or stays absent).
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    text = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
    try:
        with os.fdopen(fd, mode, **text) as fh:
            os.fchmod(fh.fileno(), _file_mode(path))
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable; not possible everywhere
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _file_mode(path: Path) -> int:
    """The permissions of the file being replaced, or those a new file gets (umask)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


# ---------------------------------------------------------------------------- safetensors
def write_safetensors(
    path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, Any]
) -> None:
    """Write tensors and JSON metadata as one safetensors file, atomically."""
    entries: dict[str, Any] = {
        "__metadata__": {"bprop": json.dumps(metadata, allow_nan=False, sort_keys=True)}
    }
    blobs, offset = [], 0
    for name, array in tensors.items():
        a = np.asarray(array)
        code = _dtype_code(a.dtype)
        if code is None:
            raise ValueError(f"tensor {name!r}: dtype {a.dtype} cannot be stored")
        blob = np.ascontiguousarray(a, dtype=_DTYPES[code]).tobytes()
        entries[name] = {
            "dtype": code,
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    header = json.dumps(entries, allow_nan=False, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # align the data to 8 bytes, as safetensors does
    with atomic_write(path) as fh:
        fh.write(len(header).to_bytes(8, "little"))
        fh.write(header)
        for blob in blobs:
            fh.write(blob)


def _strict_json(text: str | bytes, path: object, what: str) -> Any:
    def no_constants(name: str) -> None:
        raise ValueError(f"{name} is not allowed")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, parse_constant=no_constants, object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(path, f"{what} is not valid JSON ({exc})") from None


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Tensors and bprop metadata of a safetensors file, after validating its structure.

    Checks the header length cap, strict JSON, the dtype allowlist, tensor names, shapes
    against byte counts, and that the offsets tile the data exactly (no gaps, overlaps or
    bytes past the end). Does not check the bprop metadata itself (see
    :func:`read_model_file`).
    """
    try:
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise ModelFileError(path, "file is truncated or empty (no safetensors header)")
            n = int.from_bytes(raw, "little")
            if n > MAX_HEADER_BYTES:
                raise ModelFileError(
                    path, f"header length {n} exceeds the limit of {MAX_HEADER_BYTES} bytes"
                )
            header = fh.read(n)
            if len(header) < n:
                raise ModelFileError(path, "file is truncated (header incomplete)")
            data = fh.read()
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except IsADirectoryError:
        raise ModelFileError(path, "is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read file ({exc.strerror or exc})") from None
    entries = _strict_json(header, path, "header")
    if not isinstance(entries, dict):
        raise ModelFileError(path, "header is not a JSON object")
    meta_entry = entries.pop("__metadata__", None)
    if not isinstance(meta_entry, dict) or set(meta_entry) != {"bprop"}:
        raise ModelFileError(path, "not a bprop file (no bprop metadata in the header)")
    if not isinstance(meta_entry["bprop"], str):
        raise ModelFileError(path, "metadata must be a string")
    metadata = _strict_json(meta_entry["bprop"], path, "metadata")
    if not isinstance(metadata, dict):
        raise ModelFileError(path, "metadata is not a JSON object")
    tensors: dict[str, np.ndarray] = {}
    spans = []
    for name, entry in entries.items():
        if not _NAME.match(name):
            raise ModelFileError(path, f"unexpected tensor name {name!r}")
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(path, f"tensor {name!r}: malformed entry")
        code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if code not in _DTYPES:
            raise ModelFileError(path, f"tensor {name!r}: dtype {code!r} not allowed")
        if (
            not isinstance(shape, list)
            or len(shape) > 4
            or not all(_is_int(s) and 0 <= s <= MAX_UNITS**2 for s in shape)
        ):
            raise ModelFileError(path, f"tensor {name!r}: bad shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(_is_int(o) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= len(data)
        ):
            raise ModelFileError(
                path,
                f"tensor {name!r}: data offsets {offsets!r} outside the data ({len(data)} bytes)",
            )
        dt = _DTYPES[code]
        count = math.prod(shape)  # exact (Python integers): no overflow to fool the check
        if offsets[1] - offsets[0] != count * dt.itemsize:
            raise ModelFileError(path, f"tensor {name!r}: shape {shape} does not match its bytes")
        spans.append((offsets[0], offsets[1], name))
        tensors[name] = np.frombuffer(data, dt, offset=offsets[0], count=count)
        tensors[name] = tensors[name].reshape(shape).astype(dt.newbyteorder("="))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            problem = "overlaps another" if begin < position else "leaves a gap before it"
            raise ModelFileError(path, f"tensor {name!r} {problem}")
        position = end
    if position != len(data):
        raise ModelFileError(path, f"{len(data) - position} stray bytes after the tensors")
    return tensors, metadata


# ---------------------------------------------------------------------------- history
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
    if (best is not None and not _is_int(best)) or not isinstance(stop, str):
        raise ValueError("best_epoch must be an integer and stop_reason a string")
    return History(
        records=records,
        stop_reason=str(summary.get("stop_reason", "")),
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
        "best_epoch": history.best_epoch,
        "restored_best": history.restored_best,
        "final_loss": num(last.loss) if last else None,
        "final_metric": num(last.metric) if last else None,
        "final_val_loss": num(last.val_loss) if last else None,
        "final_val_metric": num(last.val_metric) if last else None,
        "seconds": num(last.time) if last else None,
    }


# ---------------------------------------------------------------------------- model files
@dataclass
class ModelFile:
    """The validated content of a model file: the network and the metadata around it."""

    network: Network
    metadata: dict[str, Any]
    history: History | None = None
    extra_tensors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.metadata["kind"]


def _bprop_version() -> str:
    from bprop import __version__

    return __version__


def write_model_file(
    path: str | os.PathLike,
    network: Network,
    *,
    kind: str = "network",
    loss: str | None = None,
    history: History | None = None,
    extra: dict[str, Any] | None = None,
    extra_tensors: dict[str, np.ndarray] | None = None,
) -> None:
    """Write a network and metadata (``extra`` adds kind-specific keys) atomically."""
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    if not np.all(np.isfinite(network.params)):
        raise ValueError("cannot save a network with NaN or infinite weights")
    metadata: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "bprop_version": _bprop_version(),
        "kind": kind,
        "network": network.config(),
        "loss": loss,
    }
    tensors: dict[str, np.ndarray] = {}
    for layer, (W, b) in enumerate(zip(network.weights, network.biases, strict=True)):
        tensors[f"layers.{layer}.weight"] = W
        tensors[f"layers.{layer}.bias"] = b
    if history is not None:
        metadata["history"] = history_summary(history)
        tensors["history"] = history_to_tensor(history)
    for key, value in (extra or {}).items():
        if key in metadata:
            raise ValueError(f"metadata key {key!r} is reserved")
        metadata[key] = value
    for name, value in (extra_tensors or {}).items():
        if name in tensors or not _NAME.match(name):
            raise ValueError(f"bad extra tensor name {name!r}")
        tensors[name] = value
    write_safetensors(path, tensors, metadata)


def _network_from(path: object, metadata: dict, tensors: dict[str, np.ndarray]) -> Network:
    spec = metadata.get("network")
    if not isinstance(spec, dict) or set(spec) != {"sizes", "activations", "dtype"}:
        raise ModelFileError(path, "metadata 'network' must have sizes, activations and dtype")
    sizes, acts, dtype = spec["sizes"], spec["activations"], spec["dtype"]
    if (
        not isinstance(sizes, list)
        or not 2 <= len(sizes) <= MAX_LAYERS + 1
        or not all(_is_int(s) and 1 <= s <= MAX_UNITS for s in sizes)
    ):
        raise ModelFileError(path, f"bad layer sizes {sizes!r}")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(path, f"network dtype {dtype!r} not allowed (float32 or float64)")
    if not isinstance(acts, list) or len(acts) != len(sizes) - 1:
        raise ModelFileError(path, f"need {len(sizes) - 1} activations, got {acts!r}")
    activations = []
    for a in acts:
        if (
            not isinstance(a, dict)
            or not isinstance(a.get("name"), str)
            or a["name"] not in ACTIVATIONS
            or not all(
                isinstance(v, float | int) and not isinstance(v, bool)
                for k, v in a.items()
                if k != "name"
            )
        ):
            raise ModelFileError(path, f"activation {a!r} not allowed")
        try:
            activations.append(get_activation(a))
        except ValueError as exc:
            raise ModelFileError(path, f"activation {a!r}: {exc}") from None
    weights, biases = [], []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        W = tensors.get(f"layers.{layer}.weight")
        b = tensors.get(f"layers.{layer}.bias")
        if W is None or b is None:
            raise ModelFileError(path, f"layer {layer}: weight or bias tensor missing")
        if W.shape != (n_in, n_out) or b.shape != (n_out,):
            raise ModelFileError(
                path,
                f"layer {layer}: weight shape {W.shape} and bias shape {b.shape} do not match "
                f"the sizes {sizes} (expected ({n_in}, {n_out}) and ({n_out},))",
            )
        if W.dtype != np.dtype(dtype) or b.dtype != np.dtype(dtype):
            raise ModelFileError(path, f"layer {layer}: tensors are not {dtype}")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise ModelFileError(path, f"layer {layer}: weights contain NaN or infinity")
        weights.append(W)
        biases.append(b)
    for name in tensors:
        m = re.match(r"layers\.(\d+)\.", name)
        if m and int(m.group(1)) >= len(sizes) - 1:
            raise ModelFileError(path, f"tensor {name!r} does not belong to a {sizes} network")
    return Network.from_weights(weights, biases, activations[:-1], activations[-1], dtype=dtype)


def read_model_file(path: str | os.PathLike, kinds: tuple[str, ...] = _KINDS) -> ModelFile:
    """Read and validate a bprop file of one of ``kinds``; a ModelFileError otherwise."""
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != FORMAT:
        raise ModelFileError(path, "not a bprop model file (format is not 'bprop-model')")
    version = metadata.get("format_version")
    if not _is_int(version) or version != FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"format version {version!r} is not supported by this bprop "
            f"(reads version {FORMAT_VERSION}); upgrade bprop",
        )
    kind = metadata.get("kind")
    if kind not in kinds:
        raise ModelFileError(
            path, f"file holds a {kind!r}, expected {' or '.join(repr(k) for k in kinds)}"
        )
    loss = metadata.get("loss")
    if loss is not None and (not isinstance(loss, str) or loss not in LOSSES):
        raise ModelFileError(path, f"unknown loss {loss!r}")
    network = _network_from(path, metadata, tensors)
    history = None
    if "history" in tensors:
        h = tensors.pop("history")
        summary = metadata.get("history")
        if h.ndim != 2 or h.shape[1] != len(HISTORY_COLUMNS) or h.dtype != np.float64:
            raise ModelFileError(path, f"history tensor has shape {h.shape}")
        if not isinstance(summary, dict) or not all(
            v is None or isinstance(v, str | bool | int | float) for v in summary.values()
        ):
            raise ModelFileError(path, "history tensor without a valid history summary")
        try:
            history = history_from_tensor(h, summary)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ModelFileError(path, f"bad history ({exc})") from None
    extra = {k: v for k, v in tensors.items() if not k.startswith("layers.")}
    return ModelFile(network, metadata, history, extra)


# ---------------------------------------------------------------------------- public API
def save_network(network: Network, path: str | os.PathLike, loss: str | None = None) -> None:
    """Save a bare :class:`Network` (``Network.save`` calls this)."""
    write_model_file(path, network, kind="network", loss=loss)


def load_network(path: str | os.PathLike) -> Network:
    """The network of any bprop model file (for an estimator or tabular model: its network)."""
    return read_model_file(path, ("network", "tabular", "estimator")).network


#: kind -> function(ModelFile, path) -> object, for :func:`load`
_LOADERS: dict[str, Callable[[ModelFile, str], Any]] = {}


def register_loader(kind: str, loader: Callable[[ModelFile, str], Any]) -> None:
    """Let :func:`load` rebuild objects of a kind (used by tabular models and estimators)."""
    _LOADERS[kind] = loader


def load(path: str | os.PathLike) -> Any:
    """The object saved in a bprop model file: a Network, an estimator, or a tabular model.

    Every problem with the file is a :class:`ModelFileError` naming the file.
    """
    mf = read_model_file(path, ("network", "tabular", "estimator"))
    if mf.kind == "network":
        return mf.network
    if mf.kind == "tabular":
        from bprop.sklearn import tabular  # noqa: F401  (registers its loader)
    if mf.kind == "estimator":
        _import_estimators()
    loader = _LOADERS.get(mf.kind)
    if loader is None:  # pragma: no cover - every kind above registers one
        raise ModelFileError(path, f"no loader for kind {mf.kind!r}")
    try:
        return loader(mf, str(path))
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelFileError(path, f"invalid {mf.kind} metadata ({exc})") from None


def _import_estimators() -> None:
    from bprop.sklearn import persistence  # noqa: F401  (registers its loader)


def save(obj: Any, path: str | os.PathLike) -> None:
    """Save a Network, an estimator or a tabular model (anything with a ``save`` method)."""
    if isinstance(obj, Network):
        save_network(obj, path)
        return
    if type(obj).__module__.startswith("bprop.sklearn"):
        from bprop.sklearn.persistence import save_estimator

        save_estimator(obj, path)
        return
    method = getattr(obj, "save", None)
    if method is None:
        raise ValueError(f"cannot save an object of type {type(obj).__name__}")
    method(path)
