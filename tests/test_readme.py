"""Every Python snippet of README.md runs as written and prints the output shown under it.

A snippet is a ```python block; its expected output is the ```text block that follows
it. Shell blocks (```sh) are not run. Each snippet runs alone, in a fresh namespace and a
temporary directory, with one BLAS thread (as the README recommends for small networks).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def snippets() -> list[tuple[str, str | None]]:
    blocks = BLOCK.findall(README.read_text(encoding="utf-8"))
    out = []
    for i, (lang, body) in enumerate(blocks):
        if lang == "python":
            follows = blocks[i + 1] if i + 1 < len(blocks) else ("", "")
            out.append((body, follows[1] if follows[0] == "text" else None))
    return out


def test_the_readme_has_python_snippets():
    assert len(SNIPPETS) >= 3


SNIPPETS = snippets()


@pytest.mark.parametrize(
    ("code", "expected"), SNIPPETS, ids=[f"snippet{i + 1}" for i in range(len(SNIPPETS))]
)
def test_readme_snippet_runs_and_prints_what_it_shows(code, expected, tmp_path, monkeypatch):
    assert expected is not None, f"no ```text output block after the snippet:\n{code}"
    monkeypatch.chdir(tmp_path)
    stdout = io.StringIO()
    with threadpool_limits(1), contextlib.redirect_stdout(stdout):
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    assert stdout.getvalue().strip() == expected.strip()
