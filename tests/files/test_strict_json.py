"""The bounded strict JSON parser: its pre-parse scan counts exactly what json parses."""

from __future__ import annotations

import json

import pytest

from bprop.files import strict_json
from bprop.files.errors import ModelFileError
from bprop.files.strict_json import loads_bounded, structure

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TEXT = st.text(alphabet=st.sampled_from('ab[]{},:"\\\n\u00e9\u2603 '), max_size=8)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False,
    allow_infinity=False) | _TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=30,
)  # fmt: skip


def _facts(v, depth=0):
    """(containers, values, depth) of a parsed value, counting keys as values."""
    if isinstance(v, list):
        parts = [_facts(x, depth + 1) for x in v]
    elif isinstance(v, dict):
        parts = [(0, 1, depth + 1) for _ in v] + [_facts(x, depth + 1) for x in v.values()]
    else:
        return 0, 1, depth
    return (
        1 + sum(p[0] for p in parts),
        1 + sum(p[1] for p in parts),
        max([depth + 1] + [p[2] for p in parts]),
    )


@pytest.mark.parametrize("chunk", [3, 7, 1 << 18])
@settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the same patch every time
)
@given(value=_JSON, ascii_only=st.booleans())
def test_the_scan_counts_containers_and_depth_exactly(monkeypatch, chunk, value, ascii_only):
    monkeypatch.setattr(strict_json, "_CHUNK", chunk)  # carries across chunk boundaries
    text = json.dumps(value, ensure_ascii=ascii_only)
    containers, values, depth = structure(text.encode())
    expected = _facts(value)
    assert (containers, depth) == (expected[0], expected[2])
    assert values >= expected[1]
    assert loads_bounded(text, "f", "metadata") == value


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[" * 33 + "]" * 33, "nested 33 deep"),
        ('["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', None),  # brackets in a string: fine
        ('["\\\\"' + ",[]" * 10 + "]", None),  # an escaped backslash ends the string
        ("[" + ",".join(["[]"] * 50_001) + "]", "JSON arrays/objects"),
        ("[" + ",".join(["0"] * 500_001) + "]", "JSON values"),
        ("1" + "0" * 21, "integer of 22 digits"),
        (str(2**64 + 1), "out of range"),
        ("-1e309", "overflows a float"),
        ('{"a": 1, "a": 1}', "duplicate key 'a'"),
        ("NaN", "NaN is not allowed"),
    ],
)
def test_refusals(text, problem):
    if problem is None:
        loads_bounded(text, "f.bprop", "metadata")
        return
    with pytest.raises(ModelFileError, match=problem) as info:
        loads_bounded(text, "f.bprop", "metadata")
    assert str(info.value).startswith("f.bprop: metadata")
