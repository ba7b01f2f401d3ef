"""The ``bprop`` command: the parser and the dispatch. Thin: each subcommand's module
parses its options, calls the library and prints.

Commands: ``demo``, ``train``, ``predict``, ``evaluate``, ``info``, ``export``,
``explain`` and ``plot``; ``bprop COMMAND --help`` describes each. Errors in the user's
input (files, columns, cells, model files, options) print one line,
``bprop: error: <what is wrong and what to do>``, and exit with status 1 (2 for a
command line that does not parse or an output path that cannot be written, 3 for a
training run that diverged; 2 also for a CSV file over ``--memory-limit``), without a
traceback unless ``--debug`` is given. The global flags ``--debug`` and ``--quiet`` go
before or after the command. A closed standard output (``bprop predict ... | head``)
ends the command quietly with status 0.
"""

from __future__ import annotations

import argparse
import os
import sys

from bprop._version import __version__
from bprop.cli import convert, demo, evaluate, explain, export, info, plot, predict, train
from bprop.cli.parser import Parser

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bprop",
        description="Train feedforward neural networks by backpropagation.",
        epilog="Run 'bprop COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"bprop {__version__}")
    # the global flags before the command; each command's parser has them too (after it)
    parser.add_argument(
        "--debug",
        dest="global_debug",
        action="store_true",
        help="show the full traceback on errors",
    )
    parser.add_argument(
        "--quiet", "-q", dest="global_quiet", action="store_true", help="print nothing but errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in (demo, train, predict, evaluate, info, export, explain, plot, convert):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.debug = bool(getattr(args, "debug", False) or args.global_debug)
    args.quiet = bool(getattr(args, "quiet", False) or args.global_quiet)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return _run(args)
    except BrokenPipeError:  # e.g. 'bprop predict ... | head': the reader left
        _stdout_to_devnull()
        return 0


def _run(args: argparse.Namespace) -> int:
    """The command's exit status; its errors as one line unless --debug."""
    if args.debug:
        status = int(args.func(args))
        sys.stdout.flush()  # (a closed pipe shows here, not at the interpreter's exit)
        return status
    try:
        status = int(args.func(args))
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        print("bprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
    except (ValueError, OSError, ImportError) as exc:  # DataError, ModelFileError, CLIError
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message = f"{exc.filename}: {message}"
        print(f"bprop: error: {message}", file=sys.stderr)
        return int(getattr(exc, "exit_status", 1))


def _stdout_to_devnull() -> None:
    """Point standard output at /dev/null, so that the interpreter's final flush of what
    is still buffered does not fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (e.g. a test's captured stdout)
        pass
