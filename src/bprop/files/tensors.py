"""safetensors files: tensors plus a JSON metadata string, validated before anything is read.

[8 bytes]  N, the header length, unsigned little-endian
[N bytes]  a UTF-8 JSON object, starting with "{": for every tensor
             "name": {"dtype": "F64", "shape": [n_in, n_out], "data_offsets": [begin, end]}
           and "__metadata__": {"bprop": "<the bprop metadata, itself a JSON text>"}
[rest]     the tensor bytes, little-endian, C order; offsets count from here

Writing goes through the ``safetensors`` library (``safetensors.numpy.save``; the bytes
are then written atomically). Reading is in two steps:

1. :func:`read_header` reads the 8 + N header bytes only and validates them with bprop's
   own rules, stricter than the library's: the header must start with ``{`` (the format
   says so; anything else is "not a bprop model file", before any length is trusted), N at
   most :data:`MAX_HEADER_BYTES` and within the file, strict bounded JSON
   (:mod:`bprop.files.strict_json`; the library keeps the last of two duplicate keys and
   accepts unknown fields), canonical tensor names (:data:`TENSOR_NAME`: ``layers.1``,
   never ``layers.01``), dtypes from an allowlist, shapes whose element count fits the
   bytes, offsets that tile the data exactly. Nothing is allocated beyond the header text.
2. :func:`read_safetensors` then reads the tensors with the library's ``safe_open`` and
   checks that it sees the same names, dtypes, shapes and metadata as step 1, so that
   bprop and any other safetensors reader never disagree about a file bprop accepts.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from bprop.files.atomic import atomic_write
from bprop.files.errors import ModelFileError
from bprop.files.strict_json import loads_bounded

__all__ = [
    "MAX_HEADER_BYTES",
    "TENSOR_NAME",
    "Header",
    "TensorEntry",
    "is_int",
    "read_header",
    "read_safetensors",
    "write_safetensors",
]

#: Header size cap: a hostile file cannot make the loader read or parse more than this.
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: The largest element count a tensor's shape may declare, counting a zero dimension as
#: one (so that a zero-size tensor cannot declare (2**40, 2**40, 0) either).
MAX_ELEMENTS = 2**48
#: The most dimensions a tensor may have.
MAX_NDIM = 4
_INDEX = r"(?:0|[1-9][0-9]*)"  # a canonical decimal index: no sign, no leading zero
#: The tensor names a bprop file may hold (ASCII, matched in full, indices canonical).
TENSOR_NAME = re.compile(
    rf"layers\.{_INDEX}\.(?:weight|bias)|history|best_params"
    rf"|rule_state\.[A-Za-z_][A-Za-z0-9_]*(?:\.{_INDEX})?|estimator\.[A-Za-z][A-Za-z0-9_]*_"
    rf"|pipeline\.{_INDEX}",
    re.ASCII,
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


def is_int(x: object) -> bool:
    """True for a Python int that is not a bool (JSON integers)."""
    return isinstance(x, int) and not isinstance(x, bool)


def valid_tensor_name(name: object) -> bool:
    """Whether ``name`` is one of the canonical tensor names of :data:`TENSOR_NAME`."""
    return isinstance(name, str) and TENSOR_NAME.fullmatch(name) is not None


def _dtype_code(dt: np.dtype) -> str | None:
    for code, allowed in _DTYPES.items():
        if allowed.kind == dt.kind and allowed.itemsize == dt.itemsize:
            return code
    return None


def write_safetensors(
    path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, Any]
) -> None:
    """Write tensors and JSON metadata as one safetensors file, atomically."""
    arrays = {}
    for name, array in tensors.items():
        if not valid_tensor_name(name):
            raise ValueError(f"tensor name {name!r} is not one a bprop file may hold")
        a = np.asarray(array)
        code = _dtype_code(a.dtype)
        if code is None:
            raise ValueError(f"tensor {name!r}: dtype {a.dtype} cannot be stored")
        arrays[name] = np.ascontiguousarray(a, dtype=_DTYPES[code])
    text = _dumps(metadata)
    data = safetensors.numpy.save(arrays, metadata={"bprop": text})
    with atomic_write(path) as fh:
        fh.write(data)


def _dumps(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, allow_nan=False, sort_keys=True)


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header declares it (offsets relative to the data section)."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class Header:
    """The validated header of a safetensors file: tensor entries and bprop metadata."""

    entries: dict[str, TensorEntry]
    metadata: dict[str, Any]
    metadata_text: str
    data_start: int
    file_size: int


def _open_error(path: object, exc: OSError) -> ModelFileError:
    if isinstance(exc, FileNotFoundError):
        return ModelFileError(path, "no such file")
    if isinstance(exc, IsADirectoryError):
        return ModelFileError(path, "is a directory, not a model file")
    return ModelFileError(path, f"cannot read file ({exc.strerror or exc})")


def read_header(path: str | os.PathLike) -> Header:
    """The validated header of a bprop file, reading no tensor bytes.

    Memory: the header text and its parsed value, bounded by the caps of
    :mod:`bprop.files.strict_json`; never more than a few times the header's length.
    """
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            start = fh.read(9)
            if len(start) < 8:
                what = "empty" if not start else f"only {len(start)} bytes long"
                raise ModelFileError(path, f"file is {what}: truncated, or not a bprop model file")
            if len(start) == 8 or start[8:9] != b"{":
                raise ModelFileError(
                    path, "not a bprop model file (it does not start with a safetensors header)"
                )
            n = int.from_bytes(start[:8], "little")
            if n > MAX_HEADER_BYTES:
                raise ModelFileError(
                    path, f"header length {n} exceeds the limit of {MAX_HEADER_BYTES} bytes"
                )
            if n > size - 8:
                raise ModelFileError(
                    path,
                    f"file is truncated (header incomplete: {n} bytes declared, "
                    f"{size - 8} present)",
                )
            fh.seek(8)
            raw = fh.read(n)
    except OSError as exc:
        raise _open_error(path, exc) from None
    if len(raw) < n:
        raise ModelFileError(path, "file is truncated (header incomplete)")
    entries_json = loads_bounded(raw, path, "header", max_depth=3)
    del raw
    if not isinstance(entries_json, dict):
        raise ModelFileError(path, "header is not a JSON object")
    meta_entry = entries_json.pop("__metadata__", None)
    if not isinstance(meta_entry, dict) or set(meta_entry) != {"bprop"}:
        raise ModelFileError(
            path, "not a bprop model file (no bprop metadata in the safetensors header)"
        )
    text = meta_entry["bprop"]
    if not isinstance(text, str):
        raise ModelFileError(path, "metadata must be a string")
    metadata = loads_bounded(text, path, "metadata")
    if not isinstance(metadata, dict):
        raise ModelFileError(path, "metadata is not a JSON object")
    data_size = size - 8 - n
    entries = {name: _entry(path, name, e, data_size) for name, e in entries_json.items()}
    position = 0
    for name, e in sorted(entries.items(), key=lambda item: (item[1].begin, item[1].end)):
        if e.begin != position:
            problem = "overlaps another" if e.begin < position else "leaves a gap before it"
            raise ModelFileError(path, f"tensor {name!r} {problem}")
        position = e.end
    if position != data_size:
        raise ModelFileError(path, f"{data_size - position} stray bytes after the tensors")
    return Header(entries, metadata, text, 8 + n, size)


def _entry(path: object, name: str, entry: object, data_size: int) -> TensorEntry:
    if not valid_tensor_name(name):
        raise ModelFileError(path, f"unexpected tensor name {name[:100]!r}")
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ModelFileError(path, f"tensor {name!r}: malformed entry")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(code, str) or code not in _DTYPES:
        raise ModelFileError(path, f"tensor {name!r}: dtype {code!r} not allowed")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_NDIM
        or not all(is_int(s) and s >= 0 for s in shape)
    ):
        raise ModelFileError(path, f"tensor {name!r}: bad shape {shape!r}")
    if math.prod(max(s, 1) for s in shape) > MAX_ELEMENTS:  # exact: Python integers
        raise ModelFileError(path, f"tensor {name!r}: shape {shape} is too large")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(is_int(o) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= data_size
    ):
        raise ModelFileError(
            path, f"tensor {name!r}: data offsets {offsets!r} outside the data ({data_size} bytes)"
        )
    if offsets[1] - offsets[0] != math.prod(shape) * _DTYPES[code].itemsize:
        raise ModelFileError(path, f"tensor {name!r}: shape {shape} does not match its bytes")
    return TensorEntry(code, tuple(shape), offsets[0], offsets[1])


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Tensors and bprop metadata of a safetensors file, after :func:`read_header`.

    Memory: the header's, then each tensor once (a copy out of the library's memory map):
    at most about twice the file's size. Does not check the bprop metadata itself (see
    :func:`bprop.training.model_file.read_model_file`).
    """
    header = read_header(path)
    tensors: dict[str, np.ndarray] = {}
    try:
        with safetensors.safe_open(os.fspath(path), framework="np") as fh:
            if sorted(fh.keys()) != sorted(header.entries) or fh.metadata() != {
                "bprop": header.metadata_text
            }:
                raise ModelFileError(path, "the safetensors library reads a different header")
            for name, e in header.entries.items():
                t = fh.get_tensor(name)
                if t.shape != e.shape or t.dtype != _DTYPES[e.dtype]:
                    raise ModelFileError(
                        path, f"tensor {name!r}: the safetensors library reads it differently"
                    )
                if e.dtype == "BOOL" and t.size and t.view(np.uint8).max() > 1:
                    raise ModelFileError(path, f"tensor {name!r}: booleans must be 0 or 1")
                tensors[name] = t
    except OSError as exc:
        raise _open_error(path, exc) from None
    except safetensors.SafetensorError as exc:
        raise ModelFileError(path, f"not a valid safetensors file ({exc})") from None
    return tensors, header.metadata
