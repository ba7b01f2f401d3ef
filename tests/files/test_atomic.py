"""Atomic writes: an output directory that takes no new file is named in the error."""

from __future__ import annotations

import tempfile

import pytest

from bprop.files import UnwritableError, atomic_write


def test_missing_directory_is_named(tmp_path):
    target = tmp_path / "nope" / "m.bprop"
    with pytest.raises(UnwritableError) as info, atomic_write(target) as fh:
        fh.write(b"x")  # pragma: no cover - not reached
    assert str(info.value) == (
        f"{target}: cannot write to directory {target.parent} (no such file or directory)"
    )
    assert info.value.filename == str(target) and info.value.errno == 2


def test_permission_denied_names_the_directory_not_the_temporary_file(tmp_path, monkeypatch):
    def denied(prefix="", suffix="", dir=None, **kwargs):
        raise PermissionError(13, "Permission denied", f"{dir}/{prefix}a1b2{suffix}")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with (
        pytest.raises(UnwritableError, match="cannot write to directory") as info,
        atomic_write(tmp_path / "plot.png") as fh,
    ):
        fh.write(b"x")  # pragma: no cover - not reached
    assert ".tmp" not in str(info.value) and "permission denied" in str(info.value)
    assert isinstance(info.value, OSError)
    assert not list(tmp_path.iterdir())


def test_writes_still_replace_atomically(tmp_path):
    target = tmp_path / "m.bprop"
    target.write_bytes(b"old")
    with atomic_write(target) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
