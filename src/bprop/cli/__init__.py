"""The `bprop` command: one module per subcommand."""

from bprop.cli.main import main

__all__ = ["main"]
