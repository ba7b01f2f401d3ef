"""Strict, bounded JSON for untrusted headers: what ``json.loads`` accepts, minus its traps.

Refused, each with a :class:`~bprop.files.errors.ModelFileError` naming the file:

- ``NaN``, ``Infinity`` and numbers that overflow a float (``1e400``), integers outside
  [-2**64, 2**64] (``10**400``): no ``OverflowError`` later, in code that converts them;
- duplicate keys (two readers could keep different values);
- nesting deeper than ``max_depth`` (no ``RecursionError`` in the parser or in a
  recursive decoder of the result);
- more than ``max_containers`` arrays/objects or ``max_values`` values in all.

The last two are checked *before* parsing by a linear scan of the text (strings removed,
brackets counted): a text of ``[[],[],...]`` costs a few bytes per character, never the
~80 bytes per element ``json.loads`` would allocate. With the default caps the parsed
value takes at most about 100 MB, and at most a few times the text's length for texts
above a few MB (see docs/cli.md, "Memory").
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from bprop.files.errors import ModelFileError

__all__ = ["MAX_CONTAINERS", "MAX_DEPTH", "MAX_VALUES", "loads_bounded"]

#: Deepest nesting of arrays and objects in bprop metadata (real files use at most ~8).
MAX_DEPTH = 32
#: Most arrays and objects in one JSON text.
MAX_CONTAINERS = 50_000
#: Most values (keys, scalars, arrays, objects) in one JSON text.
MAX_VALUES = 500_000
#: The largest magnitude of a JSON integer (uint64 and int64 fit).
MAX_INTEGER = 2**64

# A JSON string (the grammar json.loads uses up to its first error; DOTALL so that an
# escaped newline, which json rejects, does not shift the scan before json stops).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class _Refused(ValueError):
    """A value the strict parser refuses (its message is shown as is)."""


def _no_constant(name: str) -> None:
    raise _Refused(f"{name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {key[:80]!r}")
            seen.add(key)
    return out


def _integer(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > 20:
        raise _Refused(f"integer of {digits} digits is out of range (at most 2**64)")
    value = int(text)
    if abs(value) > MAX_INTEGER:
        raise _Refused(f"integer {value} is out of range (at most 2**64)")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:40]} is out of range (overflows a float)")
    return value


def structure(text: str) -> tuple[int, int, int]:
    """(containers, an upper bound of the values, maximum depth) of a JSON text, by a
    linear scan that allocates O(len(text)) bytes once and O(containers) after."""
    bare = _STRING.sub("0", text)
    containers = bare.count("[") + bare.count("{")
    values = 1 + containers + bare.count(",") + bare.count(":")
    if containers > MAX_CONTAINERS:
        return containers, values, -1  # depth not computed: refused anyway
    brackets = _NOT_BRACKET.sub("", bare).encode("ascii")
    del bare
    if not brackets:
        return 0, values, 0
    b = np.frombuffer(brackets, np.uint8)
    step = np.where((b == ord("[")) | (b == ord("{")), 1, -1).astype(np.int32)
    return containers, values, int(np.cumsum(step).max())


def loads_bounded(
    text: str | bytes,
    path: object,
    what: str,
    *,
    max_depth: int = MAX_DEPTH,
    max_containers: int = MAX_CONTAINERS,
    max_values: int = MAX_VALUES,
) -> Any:
    """Parse ``text`` strictly within the caps; a ModelFileError (naming ``path`` and
    ``what``, e.g. "header") otherwise."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelFileError(path, f"{what} is not UTF-8 text ({exc.reason})") from None
    containers, values, depth = structure(text)
    if containers > max_containers:
        raise ModelFileError(
            path, f"{what} has {containers} JSON arrays/objects (at most {max_containers})"
        )
    if values > max_values:
        raise ModelFileError(path, f"{what} has about {values} JSON values (at most {max_values})")
    if depth > max_depth:
        raise ModelFileError(path, f"{what} is nested {depth} deep (at most {max_depth})")
    try:
        return json.loads(
            text,
            parse_constant=_no_constant,
            parse_int=_integer,
            parse_float=_float,
            object_pairs_hook=_no_duplicates,
        )
    except _Refused as exc:
        raise ModelFileError(path, f"{what}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(path, f"{what} is not valid JSON ({exc})") from None
