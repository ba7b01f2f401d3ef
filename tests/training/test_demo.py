"""The demo runs end to end and reaches its accuracy."""

from __future__ import annotations

import numpy as np

from bprop.cli import main
from bprop.training import demo


def test_digits_demo_reaches_95_percent_on_held_out_data():
    result = demo.digits_demo(max_epochs=60, progress=False)  # the demo's own settings
    assert result["test_accuracy"] >= 0.95
    assert result["n_test"] == 450


def test_xor_demo_solves_xor():
    result = demo.xor_demo()
    np.testing.assert_array_equal(result["outputs"] > 0.5, result["y"] > 0.5)
    assert result["history"].stop_reason.startswith("all_correct")


def test_bprop_demo_command_prints_accuracy_and_xor(capsys):
    assert main(["demo", "--quick", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy: 0.9" in out
    assert "1 xor 1 = 0" in out
