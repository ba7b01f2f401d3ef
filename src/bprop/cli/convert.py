"""``bprop convert``: a CSV file to Parquet, streamed (never loaded whole)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bprop.cli.common import CLIError, check_writable, common_options, emit
from bprop.sklearn.streaming import convert_csv

__all__ = ["add_parser", "convert"]


def convert(args: argparse.Namespace) -> int:
    if Path(args.output).suffix.lower() not in (".parquet", ".pq"):
        raise CLIError(f"{args.output}: the output must be a .parquet file")
    if not Path(args.input).is_file():
        raise CLIError(f"{args.input}: no such file")
    check_writable(args.output)
    rows = convert_csv(args.input, args.output, row_group_rows=args.row_group_rows)
    emit(args, f"converted {rows} rows: {args.input} -> {args.output}")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "convert",
        parents=[common_options()],
        help="convert a CSV file to Parquet (streamed)",
        description="Convert a CSV file to Parquet with pyarrow's streaming CSV reader, "
        "in row groups of --row-group-rows rows; the output is written atomically.",
    )
    p.add_argument("input", help="the CSV file")
    p.add_argument("output", help="the Parquet file to write")
    p.add_argument("--row-group-rows", type=int, default=65536, metavar="N",
                   help="rows per Parquet row group (default 65536)")  # fmt: skip
    p.set_defaults(func=convert)
