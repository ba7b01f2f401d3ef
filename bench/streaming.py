"""Streaming from Parquet: peak memory against data size, and throughput against in memory.

Usage:

    python bench/streaming.py                         # 2M and 20M rows x 50 float32 columns
    python bench/streaming.py --rows 1000000,4000000  # smaller
    python bench/streaming.py --keep /tmp/stream-data # keep the generated files

For each size it writes a Parquet dataset (float32, row groups of 65,536 rows, written in
pieces so that generating it needs little memory), then

- **memory**: trains one full-batch epoch (irprop+, 50-64-1 tanh, float32) on
  ``bprop.ParquetData`` in a fresh process and reports that process's peak RSS;
- **throughput** (the smallest size only): seconds per full-batch epoch (irprop+) and per
  mini-batch epoch (adam, batch 256) streamed (with and without the prefetch thread) and
  in memory on the same rows (the Parquet file in the page cache), best of ``--repeats``.

``--cli`` measures the ``bprop`` command instead, each run a child process whose peak RSS
``/usr/bin/time`` reports (GNU time's maximum resident set size):

- **in memory**: ``bprop train`` (irprop+, one epoch, 20-16-1, ``--dtype float32``,
  ``--memory-limit 1TB``) and ``bprop predict`` on ``--cli-rows`` rows (10M) x 20 float32
  columns, against the data's size in float32 (features and target);
- **streamed**: ``bprop train --memory-limit 0`` (the same settings, 50-16-1) on each of
  ``--rows`` x 50 float32 columns, and the ratio of the largest run's peak to the smallest's.

Prints one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _threads_from_argv(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


# BLAS threads are fixed when NumPy loads (as in bench/run.py): one by default, so that the
# prefetch thread has the other core.
THREADS = _threads_from_argv(sys.argv[1:])
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = THREADS

import numpy as np  # noqa: E402

COLS = 50
ROW_GROUP = 65536


def write_dataset(path: Path, rows: int, seed: int = 0, cols: int = COLS) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    w = rng.normal(size=cols).astype(np.float32) / np.sqrt(cols)
    names = [f"x{j}" for j in range(cols)]
    schema = pa.schema([(n, pa.float32()) for n in names] + [("y", pa.float32())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, 16 * ROW_GROUP):
            n = min(16 * ROW_GROUP, rows - start)
            X = rng.normal(size=(n, cols)).astype(np.float32)
            y = (np.tanh(X @ w) + 0.1 * rng.normal(size=n)).astype(np.float32)
            table = pa.table({**{nm: X[:, j] for j, nm in enumerate(names)}, "y": y})
            writer.write_table(table, row_group_size=ROW_GROUP)


def _network():
    import bprop

    return bprop.Network([COLS, 64, 1], "tanh", "identity", seed=0, dtype=np.float32)


def child_memory(path: str) -> dict:
    """One streamed full-batch epoch; the peak RSS of this process."""
    import bprop

    t0 = time.perf_counter()
    trainer = bprop.Trainer(
        _network(), loss="squared_error", rule="irprop+", mode="batch", max_epochs=1
    )
    history = trainer.fit(bprop.ParquetData(path, target="y"))
    return {
        "seconds": time.perf_counter() - t0,
        "loss": history.records[-1].loss,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not getrusage's ru_maxrss: on Linux that
    survives exec, so a child would report its parent's peak at the fork."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def throughput(path: Path, repeats: int) -> dict:
    import pyarrow.parquet as pq

    import bprop

    table = pq.read_table(path)
    X = np.column_stack([table.column(f"x{j}").to_numpy() for j in range(COLS)])
    y = table.column("y").to_numpy()
    del table
    out = {"rows": int(X.shape[0])}
    settings = {
        "full_batch_irprop+": {"rule": "irprop+", "mode": "batch"},
        "minibatch_adam_256": {"rule": "adam", "mode": "minibatch", "batch_size": 256},
    }
    for name, kw in settings.items():

        def epoch(data, target=None, kw=kw):
            t = bprop.Trainer(_network(), loss="squared_error", max_epochs=1, seed=0, **kw)
            t.fit(data, target)

        epoch(X, y)  # warm-up (the compiled kernel, the page cache)
        mem = _best(lambda e=epoch: e(X, y), repeats)
        row = {"in_memory_s": mem}
        for prefetch in (True, False):
            data = bprop.ParquetData(path, target="y", prefetch=prefetch)
            s = _best(lambda d=data, e=epoch: e(d), repeats)
            key = "streamed_prefetch" if prefetch else "streamed_no_prefetch"
            row[key + "_s"] = s
            row[key + "_vs_memory"] = mem / s
        out[name] = row
    return out


def _bprop_peak_mb(args: list[str], env: dict) -> dict:
    """Run ``bprop ARGS`` under /usr/bin/time; its peak RSS (MB) and seconds."""
    t0 = time.perf_counter()
    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "bprop", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    kb = int(proc.stderr.strip().splitlines()[-1])
    return {"peak_rss_mb": kb / 1024, "seconds": time.perf_counter() - t0}


def cli(args: argparse.Namespace, base: Path, env: dict) -> dict:
    """Peak RSS of the bprop command: in memory (train, predict) and streamed (train)."""
    fit = ["--rule", "irprop+", "--epochs", "1", "--hidden", "16", "--dtype", "float32",
           "--no-progress", "-q"]  # fmt: skip
    out: dict = {"in_memory": {}, "streamed": []}
    rows = args.cli_rows
    path = base / f"cli-{rows}x20.parquet"
    write_dataset(path, rows, cols=20)
    data_mb = rows * 21 * 4 / 2**20
    model = base / "cli.bprop"
    row = {"rows": rows, "columns": 20, "file_mb": path.stat().st_size / 2**20,
           "data_float32_mb": data_mb}  # fmt: skip
    for name, cmd in (
        ("train", ["train", str(path), "--target", "y", "--out", str(model), *fit]),
        ("predict", ["predict", str(model), str(path), "--out", str(base / "p.parquet"), "-q"]),
    ):
        r = _bprop_peak_mb([*cmd, "--memory-limit", "1TB"], env)
        row[name] = r | {"peak_vs_data": r["peak_rss_mb"] / data_mb}
        print(json.dumps({name: row[name]}), file=sys.stderr)
    out["in_memory"] = row
    path.unlink()
    for n in [int(r) for r in args.rows.split(",")]:
        path = base / f"cli-{n}x50.parquet"
        write_dataset(path, n)
        cmd = ["train", str(path), "--target", "y", "--out", str(model), *fit]
        r = _bprop_peak_mb([*cmd, "--memory-limit", "0"], env)
        r |= {"rows": n, "file_mb": path.stat().st_size / 2**20}
        out["streamed"].append(r)
        print(json.dumps(r), file=sys.stderr)
        path.unlink()
    if len(out["streamed"]) > 1:
        first, last = out["streamed"][0], out["streamed"][-1]
        out["streamed_peak_ratio_largest_vs_smallest"] = last["peak_rss_mb"] / first["peak_rss_mb"]
    for f in (model, base / "p.parquet"):
        f.unlink(missing_ok=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="2000000,20000000")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--keep", default=None, help="directory for the data (kept)")
    p.add_argument("--threads", default="1", help="BLAS threads (default 1)")
    p.add_argument("--cli", action="store_true", help="measure the bprop command (see above)")
    p.add_argument("--cli-rows", type=int, default=10_000_000, help="rows of the in-memory run")
    p.add_argument("--child-memory", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child_memory:
        print(json.dumps(child_memory(args.child_memory)))
        return 0
    sizes = [int(r) for r in args.rows.split(",")]
    base = Path(args.keep or tempfile.mkdtemp(prefix="bprop-stream-"))
    base.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "columns": COLS,
        "row_group_rows": ROW_GROUP,
        "blas_threads": THREADS,
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "memory": [],
    }
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    if args.cli:
        results["cli"] = cli(args, base, env)
        print(json.dumps(results, indent=2))
        if not args.keep:
            base.rmdir()
        return 0
    for rows in sizes:
        path = base / f"rows-{rows}.parquet"
        if not path.exists():
            write_dataset(path, rows)
        proc = subprocess.run(
            [sys.executable, __file__, "--child-memory", str(path)],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row.update(rows=rows, file_mb=path.stat().st_size / 2**20)
        results["memory"].append(row)
        print(json.dumps(row), file=sys.stderr)
    results["throughput"] = throughput(base / f"rows-{min(sizes)}.parquet", args.repeats)
    if len(results["memory"]) > 1:
        first, last = results["memory"][0], results["memory"][-1]
        results["peak_rss_ratio_largest_vs_smallest"] = last["peak_rss_mb"] / first["peak_rss_mb"]
    print(json.dumps(results, indent=2))
    if not args.keep:
        for f in base.glob("*.parquet"):
            f.unlink()
        base.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
