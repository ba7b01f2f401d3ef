"""bprop against PyTorch, scikit-learn, Spark and the machine's limits, in one run.

Usage (``make bench`` runs the first form and rewrites the results in docs/performance.md):

    python bench/run.py                       # everything, about 10 minutes on 2 cores
    python bench/run.py --quick --no-docs     # smaller data, nothing written
    python bench/run.py --only online,minibatch --repeats 2
    python bench/run.py --parts peak,fullgrad,spark   # some parts alone (see --help)

Parts (``--parts``, default all): ``peak`` (the FLOP peak of a large GEMM per dtype),
``workloads`` (bench/workloads.py: samples per second of bprop, PyTorch and
scikit-learn, the GEMM limit at the real shapes, the fraction of the FLOP peak),
``fullgrad`` (bench/fullgrad.py, one thread and default threads), ``spark`` (the same
data in Spark MLlib, skipped with a note without pyspark or Java), ``threads``
(bench/threads_bench.py, default environment against OMP_NUM_THREADS=1), ``first_call``,
``memory``, ``digits``. Results of parts not run are kept from bench/results.json, so a
part can be rerun alone and the docs still show everything. Every timing is the best of
``--repeats`` runs after a warm-up run of every library.

The measured processes run without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (variables
that make NumPy's OpenBLAS use an older core's kernel): if they are set, this script
starts itself again without them, and every process it starts inherits that.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path


def _threads_from_argv(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from hardware import FORCING_VARIABLES, clean_env  # noqa: E402 - imports no BLAS

# The CPU's own kernel: OpenBLAS reads OPENBLAS_CORETYPE when it loads, so restart without.
if any(v in os.environ for v in FORCING_VARIABLES) and __name__ == "__main__":
    removed = ", ".join(f"{v}={os.environ[v]}" for v in FORCING_VARIABLES if v in os.environ)
    env = dict(clean_env(), BPROP_BENCH_REMOVED_ENV=removed)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

# Thread pools read these when the libraries load: set them before NumPy is imported, for
# every library alike (NumPy's and SciPy's OpenBLAS, which numba's np.dot calls; PyTorch).
THREADS = _threads_from_argv(sys.argv[1:])
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = THREADS

import numpy as np  # noqa: E402
from hardware import blas_report, flop_peak, peak_fraction, torch_build  # noqa: E402
from report import render, write_docs  # noqa: E402
from workloads import (  # noqa: E402
    WORKLOADS,
    Workload,
    gemm_seconds,
    make_data,
    train_bprop,
    train_bprop_trainer,
    train_sklearn,
    train_torch,
)


def machine(use_torch: bool) -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "threads": int(THREADS),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = "not installed"
    import scipy
    import sklearn

    info["scipy"] = scipy.__version__
    info["scikit-learn"] = sklearn.__version__
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = "not installed"
    info["removed_env"] = os.environ.get("BPROP_BENCH_REMOVED_ENV", "")
    info["blas"] = blas_report(use_torch)
    if use_torch:
        info["torch_build"] = torch_build()
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        info["numpy_blas"] = f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - informative only
        pass
    return info


def _slice(w: Workload, n: int) -> Workload:
    from dataclasses import replace

    return replace(w, n=n, epochs=1)


def run_workload(w: Workload, repeats: int, use_torch: bool) -> dict:
    """Samples per second of each library: best of ``repeats`` rounds, after a warm-up.

    The libraries take turns within each round (bprop, PyTorch, scikit-learn, GEMMs, then
    again), so that a burst of load from other processes hurts all of them alike.
    scikit-learn stops repeating once it has used 20 s (its wide run takes several).
    """
    X, y = make_data(w)
    fns = {"bprop": train_bprop, "bprop_trainer": train_bprop_trainer, "sklearn": train_sklearn}
    if use_torch:
        fns["torch"] = train_torch
    k = min(X.shape[0], 2000)
    for fn in fns.values():
        fn(_slice(w, k), X[:k], y[:k])  # warm-up: imports, first calls, compiled code
    best = dict.fromkeys([*fns, "gemm"], np.inf)
    sklearn_used, sklearn_epochs = 0.0, w.epochs
    for _ in range(repeats):
        best["gemm"] = min(best["gemm"], gemm_seconds(w, 1))
        for name, fn in fns.items():
            if name == "sklearn" and sklearn_used > 20.0:
                continue
            out = fn(w, X, y)
            if name == "sklearn":
                out, sklearn_epochs = out
                sklearn_used += out
            best[name] = min(best[name], out)
    row: dict = {
        "workload": w.name,
        "sizes": "-".join(map(str, w.sizes)),
        "n": w.n,
        "batch": w.batch or w.n,
        "dtype": np.dtype(w.dtype).name,
        "epochs": w.epochs,
    }
    row["gemm"] = w.n / best["gemm"]  # one epoch of products
    for name in ("bprop", "bprop_trainer", "torch"):
        row[name] = w.n * w.epochs / best[name] if name in fns else None
    row["sklearn"] = w.n * sklearn_epochs / best["sklearn"]
    row["sklearn_epochs"] = sklearn_epochs
    row["sklearn_solver"] = "lbfgs" if w.rule == "rprop" else "sgd"
    for other in ("torch", "sklearn", "gemm"):
        row[f"vs_{other}"] = row["bprop"] / row[other] if row.get(other) else None
    return row


FIRST_CALL = (
    "import time, sys\n"
    "t0 = time.perf_counter()\n"
    "import numpy as np\n"
    "from bprop import Network, Trainer\n"
    "t_import = time.perf_counter() - t0\n"
    "X = np.random.default_rng(0).standard_normal((200, 8)); y = np.arange(200) % 3\n"
    "def fit():\n"
    "    t = Trainer(Network([8, 16, 3], 'tanh', 'softmax', seed=0), rule='momentum',\n"
    "                mode='online', max_epochs=1, seed=0, progress=False)\n"
    "    s = time.perf_counter(); t.fit(X, y); return time.perf_counter() - s\n"
    "first = fit(); second = fit()\n"
    "print(t_import, first, second)\n"
)


def first_call_cost() -> dict:
    """Import and first online fit in a new process: numba cache empty, then filled."""
    import tempfile

    def run(env: dict) -> dict:
        res = subprocess.run(
            [sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True, check=True
        )
        t_import, first, second = map(float, res.stdout.split())
        return {"import": t_import, "first_fit": first, "second_fit": second}

    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out["cold"] = run(env)
        out["warm"] = run(env)
    out["numpy_path"] = run(dict(os.environ, BPROP_FAST="0"))
    return out


def _json_of(cmd: list[str], env: dict, timeout: float = 1800) -> dict:
    """The last stdout line of a benchmark script, as JSON (its stderr on failure)."""
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def fullgrad(iterations: int, repeats: int) -> dict:
    """bench/fullgrad.py with one BLAS thread and with the libraries' default threads."""
    cmd = [sys.executable, str(HERE / "fullgrad.py"), "--iterations", str(iterations)]
    cmd += ["--repeats", str(repeats)]
    return {
        "one_thread": _json_of(cmd, clean_env(threads="1")),
        "default": _json_of(cmd, clean_env(threads="")),
    }


def spark(iterations: int) -> dict:
    """bench/fullgrad.py --spark in local[2], or why it was skipped."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return {"skipped": "pyspark is not installed (pip install pyspark, benchmark only)"}
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return {"skipped": "no Java (Spark needs Java 17)"}
    env = dict(clean_env(threads=""), SPARK_LOCAL_IP="127.0.0.1")
    cmd = [sys.executable, str(HERE / "fullgrad.py"), "--spark", "--iterations", str(iterations)]
    try:
        return _json_of(cmd, env)
    except RuntimeError as exc:
        return {"skipped": f"Spark failed: {str(exc).splitlines()[-1]}"}


def threads_parts(repeats: int) -> dict:
    """bench/threads_bench.py, each part in the default environment and with one thread."""
    out = {}
    for part in ("cv1024", "small", "wide"):
        cmd = [sys.executable, str(HERE / "threads_bench.py"), part, "--repeats", str(repeats)]
        out[part] = {}
        for _ in range(2):  # alternate, so that a burst of load hits both
            for label, threads in (("default", ""), ("one_thread", "1")):
                got = _json_of(cmd, clean_env(threads=threads))
                old = out[part].get(label)
                out[part][label] = (
                    got
                    if old is None
                    else {k: min(v, old[k]) if isinstance(v, float) else v for k, v in got.items()}
                )
        print(f"threads {part}:", json.dumps(out[part]), flush=True)
    return out


def memory() -> dict:
    """bench/memory.py in a process of its own per mode, after a first run of each has
    filled numba's on-disk cache (compiling would add the compiler's own memory)."""
    for mode in ("minibatch", "batch"):
        subprocess.run(
            [sys.executable, str(HERE / "memory.py"), mode, "--rows", "1000"],
            capture_output=True,
            check=True,
        )
    runs = []
    for mode in ("minibatch", "batch"):
        res = subprocess.run(
            [sys.executable, str(HERE / "memory.py"), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    worst = max(runs, key=lambda r: r["peak_rss_mb"])
    return {**worst, "runs": runs}


def digits() -> dict:
    res = subprocess.run(
        [sys.executable, str(HERE / "digits.py")], capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


PARTS = ("peak", "workloads", "fullgrad", "spark", "threads", "first_call", "memory", "digits")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a fifth of the data, for development")
    ap.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts to run")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--iterations", type=int, default=20, help="L-BFGS iterations of fullgrad")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument(
        "--threads",
        default="1",
        help="threads of every library's BLAS / thread pool (default 1: see docs/performance.md)",
    )
    ap.add_argument("--skip-extras", action="store_true", help="no memory/digits/first-call")
    args = ap.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    for p in parts:
        if p not in PARTS:
            ap.error(f"unknown part {p!r}; expected some of: {', '.join(PARTS)}")
    if args.skip_extras:
        parts = [p for p in parts if p not in ("first_call", "memory", "digits")]
    use_torch = not args.no_torch
    if use_torch:
        try:
            import torch

            torch.set_num_threads(int(THREADS))
        except ImportError:
            print("PyTorch is not installed: pip install torch==2.13.0 (or --no-torch)")
            sys.exit(2)
    out = HERE / "results.json"
    res: dict = json.loads(out.read_text()) if out.exists() else {}
    started = time.perf_counter()
    res["machine"] = machine(use_torch)
    print("machine:", json.dumps(res["machine"]))
    if "peak" in parts:
        res["peak"] = flop_peak(use_torch=use_torch)
        print("peak:", json.dumps(res["peak"]), flush=True)
    if "workloads" in parts:
        names = [s for s in args.only.split(",") if s] or list(WORKLOADS)
        rows = {r["workload"]: r for r in res.get("rows", [])}
        for name in names:
            w = WORKLOADS[name]
            if args.quick:
                w = w.scaled(0.2)
            rows[name] = run_workload(w, args.repeats, use_torch)
            print(json.dumps(rows[name]), flush=True)
        res["rows"] = [rows[n] for n in WORKLOADS if n in rows]
    for row in res.get("rows", []):  # against the peak of this run (or the last one)
        sizes = tuple(map(int, row["sizes"].split("-")))
        peak = res.get("peak", {})
        row["vs_peak"] = peak_fraction(row["bprop"], sizes, row["dtype"], peak)
        row["torch_vs_peak"] = peak_fraction(row.get("torch"), sizes, row["dtype"], peak)
        if row["vs_peak"]:
            row["peak_rate"] = row["bprop"] / row["vs_peak"]
    repeats = max(1, min(args.repeats, 3))
    steps = {
        "fullgrad": lambda: fullgrad(args.iterations, repeats),
        "spark": lambda: spark(args.iterations),
        "threads": lambda: threads_parts(repeats),
        "first_call": first_call_cost,
        "memory": memory,
        "digits": digits,
    }
    for name, fn in steps.items():
        if name in parts:
            res[name] = fn()
            print(f"{name}:", json.dumps(res[name]), flush=True)
    elapsed = time.perf_counter() - started
    command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = render(res, command.strip(), elapsed)
    print()
    print(report)
    out.write_text(json.dumps(res, indent=1) + "\n")
    if not args.no_docs:
        write_docs(ROOT, report, res.get("rows", []))
        print(f"\nwrote docs/performance.md and docs/performance.png ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
