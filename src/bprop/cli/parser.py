"""The argument parser of every ``bprop`` command: no prefix matching (``--epoch`` is not
``--epochs``), and an unknown option is answered by the command's own parser with the
closest known option (``unknown option --hiden; did you mean --hidden?``), exit status 2.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["Parser", "unknown_argument_message"]


def unknown_argument_message(extras: Sequence[str], options: Sequence[str]) -> str:
    """What to say about the first argument that no option or position took: the closest
    of ``options`` (difflib's ratio >= 0.6) for an unknown option."""
    first = extras[0]
    if not first.startswith("-") or first == "-":
        return f"unexpected argument {first!r}"
    flag = first.split("=", 1)[0]
    options = [o for o in options if o not in ("-h", "--help")]
    close = difflib.get_close_matches(flag, [o for o in options if o.startswith("--")], n=1)
    if not close:
        close = difflib.get_close_matches(flag, options, n=1)
    hint = f"; did you mean {close[0]}?" if close else "; see --help for the options"
    return f"unknown option {flag}{hint}"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser with ``allow_abbrev=False`` that refuses arguments it does not
    know itself (a subcommand's parser reports them, with its own usage).

    ``required_unless`` maps the ``dest`` of a required option to a flag that waives it
    (``{"target": "--resume"}``: ``--target`` is required, and shown so, unless
    ``--resume`` is given).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.required_unless: dict[str, str] = {}

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        given = list(sys.argv[1:] if args is None else args)
        waived = [
            a
            for a in self._actions
            if a.required
            and a.dest in self.required_unless
            and any(
                s == self.required_unless[a.dest]
                or s.startswith(self.required_unless[a.dest] + "=")
                for s in given
            )
        ]
        for action in waived:
            action.required = False
        try:
            parsed, extras = super().parse_known_args(given, namespace)
        finally:
            for action in waived:
                action.required = True
        if extras:
            self.error(unknown_argument_message(extras, list(self._option_string_actions)))
        return parsed, extras
