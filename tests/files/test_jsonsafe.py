"""The one JSON-safe encoder: strict JSON out, non-finite floats spelled as strings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bprop.files.jsonsafe import decode_float, encode_float, to_json


def test_to_json_is_strict_json():
    data = {
        1: (np.float32(0.5), np.int64(3), np.bool_(True)),
        "x": [float("inf"), -np.inf, np.nan, None, "s"],
        "a": np.arange(3.0),
        "big": np.zeros(65),
    }
    out = to_json(data)
    json.dumps(out, allow_nan=False)
    assert out["1"] == [0.5, 3, True]
    assert out["x"] == ["inf", "-inf", "nan", None, "s"]
    assert out["a"] == [0.0, 1.0, 2.0]
    assert isinstance(out["big"], str)


def test_floats_round_trip():
    for x in (1.5, float("inf"), -float("inf")):
        assert decode_float(encode_float(x), "x") == x
    assert np.isnan(decode_float(encode_float(float("nan")), "x"))
    with pytest.raises(ValueError, match="best: expected a number, got 'huge'"):
        decode_float("huge", "best")
    with pytest.raises(ValueError, match="expected a number"):
        decode_float(True, "x")
