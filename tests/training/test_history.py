"""The history's record of why training stopped survives model files; older files load."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import EpochRecord, History, Network, Stop, StopReason
from bprop.training.history import history_from_tensor, history_summary, history_to_tensor
from bprop.training.model_file import read_model_file, write_model_file


def _history() -> History:
    h = History([EpochRecord(1, 0.5), EpochRecord(2, 0.25)])
    h.set_stop(Stop(StopReason.TARGET_ERROR, "target_error: training loss 0.25 <= 0.3"))
    return h


def test_set_stop_records_the_enum_and_the_text():
    h = _history()
    assert h.stop is StopReason.TARGET_ERROR
    assert h.stop_reason == "target_error: training loss 0.25 <= 0.3"
    h.set_stop(None)
    assert h.stop is None and h.stop_reason == ""


def test_stop_round_trips_through_a_model_file(tmp_path):
    path = tmp_path / "m.bprop"
    write_model_file(path, Network([2, 1], seed=0), kind="network", history=_history())
    mf = read_model_file(path, ("network",))
    assert mf.metadata["history"]["stop"] == "target_error"
    assert mf.history.stop is StopReason.TARGET_ERROR
    assert mf.history.stop_reason == _history().stop_reason


def test_dict_round_trip():
    again = History.from_dict(_history().to_dict())
    assert again.stop is StopReason.TARGET_ERROR
    assert again.stop_reason == _history().stop_reason


def test_an_older_summary_with_only_the_text_still_loads():
    summary = history_summary(_history())
    del summary["stop"]
    h = history_from_tensor(history_to_tensor(_history()), summary)
    assert h.stop is None
    assert h.stop_reason == "target_error: training loss 0.25 <= 0.3"
    assert History.from_dict({"records": [], "stop_reason": "old"}).stop is None


def test_an_unknown_stop_is_refused():
    summary = {**history_summary(_history()), "stop": "bored"}
    with pytest.raises(ValueError, match="unknown stop 'bored'"):
        history_from_tensor(np.zeros((0, 7)), summary)


def test_a_stop_needs_the_enum():
    with pytest.raises(ValueError, match="StopReason"):
        Stop("max_epochs", "max_epochs: reached 3 epochs")
