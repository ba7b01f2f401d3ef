"""The BLAS thread policy: a pure function of shapes and cores, and its limit context."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from bprop.training import threads
from bprop.training.threads import (
    available_cores,
    blas_limit,
    check_n_threads,
    choose_threads,
    step_flops,
    step_rows,
)

MEASURED = (threads.MIN_FLOPS, threads.MIN_INTENSITY, threads.MIN_BLOCK_FLOPS)

# The policy's logic, at crossovers of our choosing (the measured ones may change).
MIN_FLOPS, MIN_INTENSITY, MIN_BLOCK_FLOPS = 1e8, 500.0, 5e7


@pytest.fixture(autouse=True)
def _crossover(monkeypatch):
    monkeypatch.setattr(threads, "MIN_FLOPS", MIN_FLOPS)
    monkeypatch.setattr(threads, "MIN_INTENSITY", MIN_INTENSITY)
    monkeypatch.setattr(threads, "MIN_BLOCK_FLOPS", MIN_BLOCK_FLOPS)


def test_the_measured_crossovers_are_positive_numbers():
    assert MEASURED[0] > 0 and MEASURED[1] > 0 and MEASURED[2] > 0


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_step_flops_counts_forward_backward_and_the_deltas_below():
    # 30-1024-1 on 1000 rows: forward 30*1024 + 1024*1, backward the same, D W^T 1024*1.
    F, E = step_flops(1000, (30, 1024, 1))
    assert F == 2 * 1000 * (2 * (30 * 1024 + 1024) + 1024)
    assert E == 1000 * (1024 + 1)
    F, E = step_flops(256, (784, 512, 256, 10), backward=False)
    assert F == 2 * 256 * (784 * 512 + 512 * 256 + 256 * 10)
    assert E == 256 * (512 + 256 + 10)


def test_step_rows_per_mode():
    assert step_rows("online", 32, 2048, 500) == 1
    assert step_rows("minibatch", 32, 2048, 500) == 32
    assert step_rows("minibatch", 1000, 2048, 500) == 500
    assert step_rows("batch", 32, 2048, 100_000) == 2048
    assert step_rows("batch", 32, 2048, 100) == 100


def _wide_sizes(intensity_factor: float) -> tuple[int, int, int]:
    """A one-hidden-layer network whose step has intensity_factor x MIN_INTENSITY."""
    # F/E for (h, h, 1) is about 2 (2 h^2 + 3 h) / (h + 1) ~ 4 h: pick h from the target.
    h = max(2, int(math.ceil(intensity_factor * MIN_INTENSITY / 4)))
    return (h, h, 1)


def test_small_work_gets_one_thread():
    sizes = _wide_sizes(4.0)
    F, _ = step_flops(1, sizes)
    rows = max(1, int(0.5 * MIN_FLOPS / F))  # half the crossover
    assert step_flops(rows, sizes)[0] < MIN_FLOPS
    assert choose_threads(rows, sizes, cores=8) == 1


def test_large_intense_work_gets_the_cores_left():
    sizes = _wide_sizes(4.0)
    F, E = step_flops(1, sizes)
    assert F / E >= MIN_INTENSITY
    rows = int(2 * MIN_FLOPS / F) + 1
    assert choose_threads(rows, sizes, cores=8) == 8
    assert choose_threads(rows, sizes, cores=2) == 2
    assert choose_threads(rows, sizes, cores=1) == 1


def test_many_rows_of_elementwise_work_get_one_thread():
    sizes = _wide_sizes(0.25)  # intensity a quarter of the crossover
    F, E = step_flops(1, sizes)
    assert F / E < MIN_INTENSITY
    rows = int(100 * MIN_FLOPS / F) + 1  # plenty of FLOPs, but the products are thin
    assert choose_threads(rows, sizes, cores=8) == 1


def test_full_batch_sums_of_enough_blocks_and_flops_get_the_cores_left():
    """Thin products (one thread per block), but a full-batch sum of many blocks whose
    FLOPs pass MIN_BLOCK_FLOPS: its blocks run on the cores left."""
    sizes, rows = (20, 16, 3), 1024
    F, E = step_flops(rows, sizes)
    assert F < MIN_FLOPS and F / E < MIN_INTENSITY
    assert choose_threads(rows, sizes, cores=2) == 1
    enough = int(math.ceil(MIN_BLOCK_FLOPS / F))
    assert enough >= 2
    assert choose_threads(rows, sizes, cores=2, blocks=enough) == 2
    assert choose_threads(rows, sizes, cores=2, blocks=enough - 1) == 1  # below the FLOPs
    assert choose_threads(rows, sizes, cores=8, blocks=1) == 1  # one block: nothing to split
    big = int(MIN_BLOCK_FLOPS / step_flops(1, sizes)[0]) + 1  # enough FLOPs in one block
    assert choose_threads(big, sizes, cores=2, blocks=1) == 1


def test_explicit_n_threads_overrides_the_policy():
    assert choose_threads(1, (2, 2, 1), cores=1, n_threads=3) == 3
    assert check_n_threads(None) is None
    assert check_n_threads(2) == 2
    assert check_n_threads(-1) == threads.affinity_cores()


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_bad_n_threads_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="n_threads"):
        check_n_threads(bad)


def test_available_cores_never_exceeds_the_limit_in_force():
    assert available_cores(current_limit=1, busy=0) == 1
    assert available_cores(current_limit=10_000, busy=0) == threads.affinity_cores()
    with threadpool_limits(1, user_api="blas"):
        assert available_cores() == 1


def test_cores_kept_busy_by_other_processes_are_not_available(monkeypatch):
    monkeypatch.setattr(threads, "affinity_cores", lambda: 4)
    assert available_cores(current_limit=4, busy=0) == 4
    assert available_cores(current_limit=4, busy=1) == 3
    assert available_cores(current_limit=4, busy=9) == 1  # never fewer than one
    monkeypatch.setattr(threads, "others_running", lambda: 2)
    assert available_cores(current_limit=4) == 2


def test_others_running_reads_a_count():
    assert threads.others_running() >= 0


def _proc(tmp_path, runnable: int, states: str):
    """A /proc/loadavg and a task directory with one thread per letter of ``states``
    (thread ids above Linux's largest, so that none is a real thread of this process)."""
    tmp_path.mkdir()
    loadavg = tmp_path / "loadavg"
    loadavg.write_text(f"0.50 0.40 0.30 {runnable}/345 6789\n")
    for tid, state in enumerate(states, start=5_000_000):
        (tmp_path / "task" / str(tid)).mkdir(parents=True)
        # the name in parentheses may hold spaces and parentheses of its own
        (tmp_path / "task" / str(tid) / "stat").write_text(f"{tid} (py (x) y) {state} 1 2 3\n")
    return str(loadavg), str(tmp_path / "task")


def test_own_blas_workers_are_not_counted_as_load(tmp_path):
    # 5 runnable in the system, 3 of them native threads of ours (spinning BLAS workers)
    assert threads.others_running(*_proc(tmp_path / "a", 5, "RRSRS")) == 2
    # the caller is not load even where the task list shows no thread running
    assert threads.others_running(*_proc(tmp_path / "b", 4, "SS")) == 3
    assert threads.others_running(*_proc(tmp_path / "c", 2, "RRR")) == 0
    assert threads.others_running(str(tmp_path / "missing"), str(tmp_path)) == 0


def _spinning_python_thread(stop: threading.Event) -> threading.Thread:
    def spin():
        x = np.ones(1 << 16)
        while not stop.is_set():
            np.sqrt(x, out=x)  # releases the GIL: the thread stays runnable

    worker = threading.Thread(target=spin)
    worker.start()
    return worker


def test_another_running_python_thread_of_this_process_is_load():
    """A Python thread of ours that computes (another fit, a Dask task) competes for
    the cores like another process; only the caller and native workers are not load."""
    stop = threading.Event()
    worker = _spinning_python_thread(stop)
    try:
        time.sleep(0.05)
        seen_running = seen_not_load = False
        for _ in range(50):
            seen_running |= worker.native_id in threads._runnable_threads("/proc/self/task")
            seen_not_load |= worker.native_id in threads._not_load_threads("/proc/self/task")
    finally:
        stop.set()
        worker.join()
    assert seen_running  # it was seen running
    assert not seen_not_load  # and never taken for a native worker


def test_blas_limit_sets_and_restores():
    before = _blas_threads()
    with blas_limit(1, refresh=True):
        assert set(_blas_threads()) == {1}
        np.ones((4, 4)) @ np.ones((4, 4))
    assert _blas_threads() == before
    with threadpool_limits(1, user_api="blas"), blas_limit(2):
        assert set(_blas_threads()) == {2}
