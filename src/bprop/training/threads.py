"""BLAS threads chosen from the shapes of the work.

A product of an m x k matrix by a k x n matrix costs 2 m k n floating-point operations.
One training step on a block of B rows of a network n_0-n_1-...-n_L computes, per layer l,
the forward product o^{l-1} W^l, the backward product o^{l-1}^T delta^l and, for every
layer but the first, delta^l W^l^T, so that it costs

    F = 2 B [ sum_{l=1..L} 2 n_{l-1} n_l + sum_{l=2..L} n_{l-1} n_l ]   FLOPs

(a prediction only the forward products: F = 2 B sum_l n_{l-1} n_l), while its
elementwise work (activations, their derivatives, deltas, bias sums) touches about
E = B sum_{l=1..L} n_l values. A second BLAS thread can only speed up the products; it
costs a hand-off per call, and it stalls when another process has its core. So:

    threads = 1                        if F < MIN_FLOPS or F / E < MIN_INTENSITY
            = the cores left           otherwise

except that a full-batch step whose sum adds two blocks or more and whose products reach
MIN_BLOCK_FLOPS gets the cores left: its blocks run on threads of their own, one BLAS
thread each (``bprop.training.sources.sum_gradients``; ``bench/block_threads.py``
measures that crossover). The crossovers MIN_FLOPS and MIN_INTENSITY come from a measurement on the
benchmark machine (``bench/thread_crossover.py`` rewrites the block below), and the cores
left are the CPUs this process may run on (its affinity) less those that other processes
keep busy at that moment (the runnable count of /proc/loadavg, less the caller and this
process's BLAS and OpenMP workers), and at most the threads
the BLAS libraries are already limited to (``OMP_NUM_THREADS``, an enclosing
``threadpool_limits``, or the limit joblib sets inside its worker processes, which is
cores // n_jobs). The automatic choice therefore never raises a limit the user or joblib
set; an explicit ``n_threads`` does what it says. Above the crossover the BLAS library
gets every core left and splits each product by its own rules.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import threading
from collections.abc import Iterator, Sequence

__all__ = [
    "MIN_BLOCK_FLOPS",
    "MIN_FLOPS",
    "MIN_INTENSITY",
    "available_cores",
    "others_running",
    "blas_limit",
    "blas_threads",
    "check_n_threads",
    "choose_threads",
    "step_flops",
    "step_rows",
]

# --- measured: bench/thread_crossover.py rewrites the lines between these markers ---
MIN_FLOPS = 3.3e07
MIN_INTENSITY = 124.1
# --- end of measured constants ---

#: a full-batch sum of two blocks or more and at least this many FLOPs runs its blocks on
#: the cores left (measured: bench/block_threads.py, bench/block_threads.json)
MIN_BLOCK_FLOPS = 5.4e07


def step_flops(rows: int, sizes: Sequence[int], backward: bool = True) -> tuple[float, float]:
    """(F, E): FLOPs of the matrix products and elementwise values of one step (see above)."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=False))
    products = sum(a * b for a, b in pairs)
    if backward:
        products = 2 * products + sum(a * b for a, b in pairs[1:])
    return 2.0 * rows * products, float(rows) * sum(sizes[1:])


def step_rows(mode: str, batch_size: int, block_size: int, n_samples: int) -> int:
    """Rows of one block of the Trainer: 1 online, the batch size, or a data block."""
    if mode == "online":
        return 1
    if mode == "minibatch":
        return min(batch_size, n_samples)
    return min(block_size, n_samples)


def check_n_threads(n_threads: object) -> int | None:
    """None (automatic), a positive integer, or -1 (every core this process may use)."""
    if n_threads is None:
        return None
    ok = isinstance(n_threads, numbers.Integral) and not isinstance(n_threads, bool)
    if not ok or (n_threads < 1 and n_threads != -1):
        raise ValueError(
            f"n_threads must be None (automatic), a positive integer or -1 (all cores), "
            f"got {n_threads!r}"
        )
    return affinity_cores() if n_threads == -1 else int(n_threads)


def affinity_cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def others_running(loadavg: str = "/proc/loadavg", tasks: str = "/proc/self/task") -> int:
    """Threads running or ready to run right now that would compete with ours for the
    cores (Linux), else 0.

    The fourth field of /proc/loadavg counts the runnable threads of the whole system.
    Not counted against it: the calling thread, and this process's runnable threads that
    Python did not start (BLAS and OpenMP workers, which spin for a while after a
    threaded product, and would run our own products). This process's other Python
    threads that are running (another fit, a Dask task) are load like another process's.
    A core that something else keeps busy is a core a BLAS thread of ours would have to
    share, and a thread that waits for its core stalls every product it takes part in.
    """
    try:
        with open(loadavg) as f:
            runnable = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(runnable - max(len(_not_load_threads(tasks)), 1), 0)  # the caller at least


def _runnable_threads(tasks: str) -> set[int]:
    """Ids of the threads listed in ``tasks`` (``/proc/self/task``) in state R."""
    try:
        ids = os.listdir(tasks)
    except OSError:
        return set()
    running = set()
    for tid in ids:
        try:
            with open(os.path.join(tasks, tid, "stat"), "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]  # the field after (comm)
        except (OSError, IndexError):  # the thread ended meanwhile
            continue
        if state == b"R":
            running.add(int(tid))
    return running


def _not_load_threads(tasks: str) -> set[int]:
    """This process's runnable threads that are not load: the caller, and the threads
    Python did not start."""
    python_others = {t.native_id for t in threading.enumerate()} - {threading.get_native_id()}
    return _runnable_threads(tasks) - python_others


def available_cores(current_limit: int | None = None, busy: int | None = None) -> int:
    """The cores left to this process: its affinity less the cores other processes keep
    busy (``busy``, default :func:`others_running`), capped by the BLAS limit in force."""
    cores = affinity_cores()
    cores -= others_running() if busy is None else busy
    if current_limit is None:
        current_limit = _current_blas_threads()
    if current_limit is not None and current_limit >= 1:
        cores = min(cores, current_limit)
    return max(cores, 1)


def choose_threads(
    rows: int,
    sizes: Sequence[int],
    *,
    backward: bool = True,
    cores: int | None = None,
    n_threads: int | None = None,
    blocks: int = 1,
) -> int:
    """BLAS threads for steps of ``rows`` rows through a network of ``sizes`` units.

    ``blocks``: the blocks of ``rows`` rows a full-batch sum adds (1 otherwise); a sum
    of two or more whose products reach MIN_BLOCK_FLOPS gets the cores left, for its
    blocks run on threads of their own (``bprop.training.sources.sum_gradients``).
    ``n_threads`` (not None) is returned as it is; ``cores`` defaults to
    :func:`available_cores`.
    """
    if n_threads is not None:
        return int(n_threads)
    flops, elements = step_flops(rows, sizes, backward)
    threaded_blocks = blocks >= 2 and flops * blocks >= MIN_BLOCK_FLOPS
    if not threaded_blocks and (flops < MIN_FLOPS or flops < MIN_INTENSITY * elements):
        return 1
    if cores is None:
        cores = available_cores()
    return max(1, cores)


_controller = None


def _get_controller(refresh: bool = False):
    """threadpoolctl's view of the loaded BLAS libraries (0.4 ms to build: kept)."""
    global _controller
    if _controller is None or refresh:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


def _blas_pools(refresh: bool = False) -> list:
    return [lib for lib in _get_controller(refresh).lib_controllers if lib.user_api == "blas"]


def _current_blas_threads() -> int | None:
    pools = _blas_pools()
    return max((lib.num_threads for lib in pools), default=None)


def blas_threads() -> int:
    """The threads the loaded BLAS libraries may use now (1 if none is loaded)."""
    return _current_blas_threads() or 1


@contextlib.contextmanager
def blas_limit(threads: int, refresh: bool = False) -> Iterator[int]:
    """Run the block with every loaded BLAS library limited to ``threads`` threads.

    Nothing is changed where every library already runs that many. ``refresh`` looks
    again for BLAS libraries loaded since the last call (a fit does; a predict need not).
    """
    pools = _blas_pools(refresh)
    if all(lib.num_threads == threads for lib in pools):
        yield threads
        return
    with _get_controller().limit(limits=threads, user_api="blas"):
        yield threads
