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

#: Bytes scanned at a time by :func:`structure` (its working memory is ~20 bytes each).
_CHUNK = 1 << 18
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = (ord("["), ord("{"))
_CLOSE = (ord("]"), ord("}"))
_SEPARATOR = (ord(","), ord(":"))


class _RefusedError(ValueError):
    """A value the strict parser refuses (its message is shown as is)."""


def _no_constant(name: str) -> None:
    raise _RefusedError(f"{name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RefusedError(f"duplicate key {key[:80]!r}")
            seen.add(key)
    return out


def _integer(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > 20:
        raise _RefusedError(f"integer of {digits} digits is out of range (at most 2**64)")
    value = int(text)
    if abs(value) > MAX_INTEGER:
        raise _RefusedError(f"integer {value} is out of range (at most 2**64)")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _RefusedError(f"number {text[:40]} is out of range (overflows a float)")
    return value


def structure(data: bytes) -> tuple[int, int, int]:
    """(containers, an upper bound of the values, maximum depth) of a JSON text (UTF-8).

    A vectorised scan in chunks of :data:`_CHUNK` bytes, carrying whether it is inside a
    string and the length of the backslash run at a chunk's end: brackets, commas and
    colons inside strings (after an unescaped quote) do not count. It agrees with the JSON
    grammar up to the text's first error, which is where ``json.loads`` stops too.
    """
    containers = separators = depth = max_depth = 0
    inside = False  # in a string at the chunk's start
    run = 0  # backslashes ending the previous chunk
    for start in range(0, len(data), _CHUNK):
        b = np.frombuffer(data, np.uint8, count=min(_CHUNK, len(data) - start), offset=start)
        n = len(b)
        idx = np.arange(n, dtype=np.int32)
        is_bs = b == _BACKSLASH
        # position of the last non-backslash at or before i (a run carried in counts back)
        last = np.maximum.accumulate(np.where(is_bs, np.int32(-1 - run), idx))
        runs = idx - last  # backslashes ending at i (0 where b[i] is not one)
        before = np.empty(n, np.int32)  # backslashes just before i
        before[0] = run
        before[1:] = runs[:-1]
        quote = (b == _QUOTE) & (before % 2 == 0)
        parity = np.cumsum(quote, dtype=np.int32)  # quotes up to and including i
        outside = ((parity + inside) % 2 == 0) & ~quote
        opens = outside & ((b == _OPEN[0]) | (b == _OPEN[1]))
        closes = outside & ((b == _CLOSE[0]) | (b == _CLOSE[1]))
        containers += int(opens.sum())
        separators += int((outside & ((b == _SEPARATOR[0]) | (b == _SEPARATOR[1]))).sum())
        where = np.flatnonzero(opens | closes)
        if len(where):
            steps = np.where(opens[where], 1, -1).astype(np.int64)
            levels = depth + np.cumsum(steps)
            max_depth = max(max_depth, int(levels.max()))
            depth = int(levels[-1])
        inside = bool((int(parity[-1]) + inside) % 2)
        run = int(runs[-1])
    return containers, 1 + containers + separators, max_depth


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
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    containers, values, depth = structure(data)
    del data
    if containers > max_containers:
        raise ModelFileError(
            path, f"{what} has {containers} JSON arrays/objects (at most {max_containers})"
        )
    if values > max_values:
        raise ModelFileError(path, f"{what} has about {values} JSON values (at most {max_values})")
    if depth > max_depth:
        raise ModelFileError(path, f"{what} is nested {depth} deep (at most {max_depth})")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelFileError(path, f"{what} is not UTF-8 text ({exc.reason})") from None
    try:
        return json.loads(
            text,
            parse_constant=_no_constant,
            parse_int=_integer,
            parse_float=_float,
            object_pairs_hook=_no_duplicates,
        )
    except _RefusedError as exc:
        raise ModelFileError(path, f"{what}: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(path, f"{what} is not valid JSON ({exc})") from None
