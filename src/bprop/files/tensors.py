"""safetensors files: tensors plus a JSON metadata string, validated on reading.

[8 bytes]  N, the header length, unsigned little-endian
[N bytes]  a UTF-8 JSON object: for every tensor
             "name": {"dtype": "F64", "shape": [n_in, n_out], "data_offsets": [begin, end]}
           and "__metadata__": {"bprop": "<the bprop metadata, itself a JSON text>"}
[rest]     the tensor bytes, little-endian, C order; offsets count from here
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

import numpy as np

from bprop.files.atomic import atomic_write
from bprop.files.errors import ModelFileError

__all__ = ["MAX_HEADER_BYTES", "TENSOR_NAME", "is_int", "read_safetensors", "write_safetensors"]

#: Header size cap: a hostile file cannot make the loader read or parse more than this.
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: The largest dimension a tensor may declare.
MAX_DIMENSION = 10_000_000**2
#: The tensor names a bprop file may hold.
TENSOR_NAME = re.compile(
    r"^(layers\.(\d+)\.(weight|bias)|history|best_params|rule_state\.[A-Za-z_]\w*(\.\d+)?"
    r"|estimator\.[A-Za-z]\w*_)$"
)

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


def is_int(x: object) -> bool:
    """True for a Python int that is not a bool (JSON integers)."""
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
        if not TENSOR_NAME.match(name):
            raise ModelFileError(path, f"unexpected tensor name {name!r}")
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(path, f"tensor {name!r}: malformed entry")
        code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if code not in _DTYPES:
            raise ModelFileError(path, f"tensor {name!r}: dtype {code!r} not allowed")
        if (
            not isinstance(shape, list)
            or len(shape) > 4
            or not all(is_int(s) and 0 <= s <= MAX_DIMENSION for s in shape)
        ):
            raise ModelFileError(path, f"tensor {name!r}: bad shape {shape!r}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(is_int(o) for o in offsets)
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
