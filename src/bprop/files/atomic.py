"""Atomic writes: a crash or an exception never leaves a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["UnwritableError", "atomic_write"]


class UnwritableError(OSError):
    """The directory of an output file does not take a new file (missing, not a
    directory, no permission, read-only): says so, naming the directory, not the
    temporary file's name. ``errno`` and ``filename`` (the output file) are kept."""

    def __str__(self) -> str:
        return str(self.strerror)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and ``os.replace`` it.

    On any exception (or interruption) the temporary file is removed and ``path`` keeps
    its previous content (or stays absent).
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        raise UnwritableError(
            exc.errno, f"{path}: cannot write to directory {directory} ({reason})", str(path)
        ) from None
    text = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
    try:
        with os.fdopen(fd, mode, **text) as fh:
            os.fchmod(fh.fileno(), _file_mode(path))
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable; not possible everywhere
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _file_mode(path: Path) -> int:
    """The permissions of the file being replaced, or those a new file gets (umask)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
