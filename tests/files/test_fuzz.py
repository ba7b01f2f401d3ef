"""Mutated model files of every kind (network, estimator, CLI model, checkpoint,
pipeline) either load or raise a one-line ModelFileError naming the file: nothing else
escapes.

The mutator is the long-run script's (bench/fuzz_model_files.py, run over >= 100,000
files); here hypothesis drives it for a few thousand files.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "fuzz_model_files.py"
_spec = importlib.util.spec_from_file_location("fuzz_model_files", _SCRIPT)
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)

EXAMPLES_PER_KIND = 1000


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory) -> dict[str, list[bytes]]:
    files = fuzz.build_files(tmp_path_factory.mktemp("valid"))
    return {kind: [p.read_bytes() for p in paths] for kind, paths in files.items()}


def test_the_valid_files_load(valid_files, tmp_path):
    for kind, files in valid_files.items():
        for raw in files:
            assert fuzz.check_one(kind, raw, tmp_path / "f.bprop") == "ok"


@pytest.mark.parametrize("kind", fuzz.KINDS)
def test_mutated_files_load_or_raise_model_file_error(kind, valid_files, tmp_path):
    if kind in ("cli", "pipeline"):
        pytest.importorskip("pandas")
    bases = valid_files[kind]
    assert bases, f"no valid {kind} file to mutate"
    target = tmp_path / "fuzz.bprop"
    outcomes: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES_PER_KIND,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(index=st.integers(0, len(bases) - 1), seed=st.integers(0, 2**64 - 1))
    def run(index, seed):
        # a seeded Random rather than st.randoms(): a tenth of the cost per file, and a
        # failure still names the (index, seed) that reproduces it
        family, raw = fuzz.mutate(bases[index], random.Random(seed))
        outcome = fuzz.check_one(kind, raw, target)  # raises on anything but ModelFileError
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    run()
    assert sum(outcomes.values()) >= EXAMPLES_PER_KIND
    assert outcomes.get("ModelFileError", 0) > EXAMPLES_PER_KIND // 4  # the mutations bite
