"""``--memory-limit``: whether ``bprop train`` / ``bprop predict`` read a file into memory
or stream it, decided from the file's metadata before anything is read.

The estimate of the in-memory path's peak is

    estimate = rows x columns x itemsize(model dtype) x IN_MEMORY_FACTOR

(rows and columns from the Parquet footers, or a CSV file's size on disk as its
rows x columns x itemsize). Parquet data whose estimate exceeds the limit are streamed
(:mod:`bprop.cli.stream`), and always with ``--memory-limit 0``; a CSV file over the limit
cannot be streamed and is an error, before it is read, saying how to convert it.
The default limit is :data:`DEFAULT_FRACTION` of the machine's physical memory.

A run resumed from a checkpoint takes the path the checkpointed run took
(``streams(..., checkpoint)``): the held-out rows and the mini-batch order of a streamed run
differ from an in-memory run's, so a checkpoint is resumed only on its own path.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bprop.cli.common import CLIError
from bprop.sklearn.parquet_table import read_parquet_frame
from bprop.sklearn.table_files import blank_strings
from bprop.sklearn.tabular import STDIO, read_table
from bprop.training.checkpoint import load_checkpoint
from bprop.training.parquet import ParquetDataset

__all__ = [
    "DEFAULT_FRACTION",
    "IN_MEMORY_FACTOR",
    "DataTooLargeError",
    "Footprint",
    "add_memory_option",
    "footprint",
    "machine_memory",
    "parse_size",
    "read_frame",
    "streams",
]

#: the in-memory path's measured peak RSS over the data's size in the model's dtype
#: (``python bench/streaming.py --cli``; see docs/streaming.md)
IN_MEMORY_FACTOR = 3.0
#: the default ``--memory-limit``: this fraction of the machine's physical memory
DEFAULT_FRACTION = 0.5

_UNITS = {"": 1, "B": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_UNITS |= {k + "B": v for k, v in _UNITS.items() if k not in ("", "B")}
_UNITS |= {k + "IB": 1024.0 ** "KMGT".index(k) * 1024 for k in "KMGT"}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*$")


class DataTooLargeError(CLIError):
    """A file that exceeds the memory limit and cannot be streamed (exit status 2)."""

    exit_status = 2


def parse_size(text: str) -> int:
    """'2GB' -> 2_000_000_000, '500MB', '1.5G', '64KiB', '0' (always stream), '1024' (bytes).

    Decimal units (KB, MB, GB, TB; the B may be left out) and binary ones (KiB, MiB, GiB,
    TiB), any case. An argparse type: a bad size is an ArgumentTypeError saying what to give.
    """
    match = _SIZE.match(text)
    unit = match.group(2).upper() if match else ""
    if match is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(
            f"expected a size like 2GB, 500MB or 0 (always stream), got {text!r}"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def machine_memory() -> int:
    """The machine's physical memory in bytes (8 GB where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * 10**9


def add_memory_option(parser: Any) -> None:
    """Add ``--memory-limit SIZE`` to a subcommand's parser."""
    parser.add_argument(
        "--memory-limit",
        type=parse_size,
        default=None,
        metavar="SIZE",
        help="stream a Parquet file (or directory) whose in-memory run would need more than "
        f"SIZE (like 2GB, 500MB; 0: always stream); default: {DEFAULT_FRACTION:g} of this "
        "machine's memory. The need is estimated from the file's metadata as rows x columns "
        f"x the model dtype's size x {IN_MEMORY_FACTOR:g}",
    )


@dataclass(frozen=True)
class Footprint:
    """What the metadata say about a data file: its format, rows (None for CSV), columns,
    and the estimated peak memory of reading and training on it in memory (bytes)."""

    kind: str  # "parquet" or "csv"
    rows: int | None
    columns: int | None
    estimate: int


def footprint(path: str, dtype: Any) -> Footprint | None:
    """The estimate for ``path`` in ``dtype``; None for what is neither Parquet nor CSV (and
    for a missing file: the reader says what is wrong)."""
    p = Path(path)
    suffix = p.suffix.lower()
    itemsize = np.dtype(dtype).itemsize
    if _is_parquet(path):
        try:
            ds = ParquetDataset(path)
        except ValueError:  # not Parquet after all: the reader's message says what is wrong
            return None
        cols = len(ds.schema.names)
        need = ds.n_rows * cols * itemsize * IN_MEMORY_FACTOR
        return Footprint("parquet", ds.n_rows, cols, int(need))
    if suffix in (".csv", ".tsv", ".txt") and p.is_file():
        # a CSV cell takes at least as many bytes as a float32: the file size bounds the data
        need = p.stat().st_size * max(1.0, itemsize / 4) * IN_MEMORY_FACTOR
        return Footprint("csv", None, None, int(need))
    return None


def streams(
    path: str, dtype: Any, limit: int | None, checkpoint: str | None = None
) -> Footprint | None:
    """The file's footprint if it is to be streamed, else None (read it into memory).

    ``limit`` None is the default (:data:`DEFAULT_FRACTION` of the machine's memory); 0
    streams always. A CSV file over the limit is a :class:`DataTooLargeError` error.
    A run resumed from ``checkpoint`` takes the path the checkpointed run took (its
    record's ``streamed``): without ``--memory-limit`` (``limit`` None) that path; a limit
    that picks the other path is a :class:`CLIError`.
    """
    if checkpoint is None or path == STDIO:  # (stdin is not resumable: the settings say so)
        return _streams(path, dtype, limit)
    record = load_checkpoint(checkpoint).metadata.get("training")
    if not isinstance(record, dict):  # not bprop train's: the settings check says so
        return _streams(path, dtype, limit)
    streamed = bool(record.get("streamed"))
    if limit is None:
        return _streams(path, dtype, 0) if streamed else None
    fp = _streams(path, dtype, limit)
    if streamed and fp is None:
        raise CLIError(
            f"{checkpoint}: the checkpoint is of a streamed run, whose validation rows and "
            "mini-batch order differ from an in-memory run's; resume it streamed: leave "
            "--memory-limit out or give --memory-limit 0"
        )
    if not streamed and fp is not None:
        raise CLIError(
            f"{checkpoint}: the checkpoint is of an in-memory run, whose validation rows and "
            "mini-batch order differ from a streamed run's; resume it in memory: leave "
            f"--memory-limit out or give one above {_human(fp.estimate)}"
        )
    return fp


def _streams(path: str, dtype: Any, limit: int | None) -> Footprint | None:
    if limit is None:
        limit = int(DEFAULT_FRACTION * machine_memory())
    fp = footprint(path, dtype)
    if fp is None or (fp.estimate <= limit and limit > 0):
        return None
    if fp.kind == "csv":
        target = str(Path(path).with_suffix(".parquet"))
        raise DataTooLargeError(
            f"{path}: a CSV file is read whole, and this one needs about "
            f"{_human(fp.estimate)} in memory (--memory-limit {_human(limit)}); convert it "
            f"to Parquet, which is streamed: bprop convert {path} {target}"
        )
    return fp


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"


def read_frame(
    path: str, dtype: Any, keep: tuple[str | None, ...] = (), na_values: Any = ()
) -> Any:
    """A data file (CSV, Parquet; ``-``: CSV on stdin) or a directory of Parquet files as a
    DataFrame for the in-memory path; Parquet floating-point columns not in ``keep`` read
    as ``dtype`` (``na_values``: cells read as empty, in a Parquet file the string cells
    equal to one of them, see ``read_table``)."""
    if read_as_parquet(path):
        return blank_strings(read_parquet_frame(path, dtype, keep), na_values)
    return read_table(path, na_values)  # (its messages: a missing or empty file, dir.csv)


def read_as_parquet(path: str) -> bool:
    """Whether :func:`read_frame` reads ``path`` with the Parquet reader."""
    return _is_parquet(path) and (os.path.isdir(path) or os.path.getsize(path) > 0)


def _is_parquet(path: str) -> bool:
    """A Parquet file, or a directory (of Parquet files) not named like a CSV file."""
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_dir():
        return suffix not in (".csv", ".tsv", ".txt")
    return suffix in (".parquet", ".pq") and p.is_file()
