"""The ``bprop`` command: the parser and the dispatch. Thin: each subcommand's module
parses its options, calls the library and prints.

Commands: ``demo``, ``train``, ``predict``, ``evaluate``, ``info``, ``export``,
``explain`` and ``plot``; ``bprop COMMAND --help`` describes each. Errors in the user's
input (files, columns, cells, model files, options) print one line,
``bprop: error: <what is wrong and what to do>``, and exit with status 1 (2 for a
command line that does not parse), without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys

from bprop.cli import convert, demo, evaluate, explain, export, info, plot, predict, train

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bprop",
        description="Train feedforward neural networks by backpropagation.",
        epilog="Run 'bprop COMMAND --help' for the options of a command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (demo, train, predict, evaluate, info, export, explain, plot, convert):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if getattr(args, "debug", False):
        return int(args.func(args))
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("bprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. 'bprop predict ... | head': the reader left
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (ValueError, OSError, ImportError) as exc:  # DataError, ModelFileError, CLIError
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message = f"{exc.filename}: {message}"
        print(f"bprop: error: {message}", file=sys.stderr)
        return 1
