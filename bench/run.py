"""bprop against PyTorch and scikit-learn: training samples per second, in one run.

Usage (``make bench`` runs the first form and rewrites the results in docs/performance.md):

    python bench/run.py                     # everything, a few minutes on 2 cores
    python bench/run.py --quick --no-docs   # smaller data, nothing written
    python bench/run.py --only online,minibatch --repeats 2

Per workload (see bench/workloads.py) it prints samples per second of bprop, PyTorch
(CPU, its default threads) and scikit-learn's MLP, the GEMM limit (the samples per
second if an update cost only its matrix products, timed here), and the ratios. Then the
peak memory of training on 1,000,000 x 100 float32 data (bench/memory.py), the compiled
kernel's first-call cost, and the demo's digits model against scikit-learn's default
MLPClassifier. Every timing is the best of ``--repeats`` runs after a warm-up run.
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


# Thread pools read these when the libraries load: set them before NumPy is imported, for
# every library alike (NumPy's and SciPy's OpenBLAS, which numba's np.dot calls; PyTorch).
THREADS = _threads_from_argv(sys.argv[1:])
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = THREADS

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

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

TARGETS = {
    "online": {"torch": 25.0, "sklearn": 8.0},
    "minibatch": {"torch": 8.0, "sklearn": 2.5, "gemm": 0.6},
    "wide": {"torch": 1.3, "gemm": 0.8},
    "fullbatch": {"gemm": 0.8, "torch": 1.0},
}


def machine() -> dict:
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


def first_call_cost() -> dict:
    """Seconds of the first online fit in a new process: compiling, then from the cache."""
    import tempfile

    code = (
        "import time, numpy as np\n"
        "t0 = time.perf_counter()\n"
        "from bprop import Network, Trainer\n"
        "X = np.random.default_rng(0).standard_normal((200, 8)); y = np.arange(200) % 3\n"
        "def fit():\n"
        "    t = Trainer(Network([8, 16, 3], 'tanh', 'softmax', seed=0), rule='momentum',\n"
        "                mode='online', max_epochs=1, seed=0, progress=False)\n"
        "    s = time.perf_counter(); t.fit(X, y); return time.perf_counter() - s\n"
        "first = fit(); second = fit()\n"
        "print(first, second)\n"
    )
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("compile", "cached"):
            res = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            first, second = map(float, res.stdout.split())
            out[label] = first
            out["warm"] = second
    env = dict(os.environ, BPROP_FAST="0")
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    out["numpy_path"] = float(res.stdout.split()[0])
    return out


def memory() -> dict:
    """bench/memory.py in a process of its own, after another process has made sure the
    float32 kernel is compiled and cached (compiling would add numba's own memory)."""
    warm = (
        "import numpy as np\n"
        "from bprop import Network, Trainer\n"
        "X = np.zeros((64, 4), np.float32); y = np.zeros(64, np.float32)\n"
        "Trainer(Network([4, 3, 1], 'tanh', 'identity', dtype=np.float32), rule='momentum',\n"
        "        max_epochs=1, progress=False).fit(X, y)\n"
    )
    subprocess.run([sys.executable, "-c", warm], check=True)
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


def fmt_rate(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def fmt_ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def table(rows: list[dict]) -> str:
    head = (
        "| workload | network | batch | dtype | bprop (estimator) | bprop (Trainer) | PyTorch "
        "| scikit-learn | GEMM limit | bprop/PyTorch | bprop/sklearn | bprop/GEMM |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        sk = fmt_rate(r["sklearn"]) + (" (L-BFGS)" if r["sklearn_solver"] == "lbfgs" else "")
        lines.append(
            f"| {r['workload']} | {r['sizes']} | {r['batch']:,} | {r['dtype']} "
            f"| {fmt_rate(r['bprop'])} | {fmt_rate(r.get('bprop_trainer'))} "
            f"| {fmt_rate(r['torch'])} | {sk} | {fmt_rate(r['gemm'])} "
            f"| {fmt_ratio(r['vs_torch'])} | {fmt_ratio(r['vs_sklearn'])} "
            f"| {r['vs_gemm']:.2f} |"
        )
    return "\n".join(lines)


def targets(rows: list[dict], mem: dict | None, dig: dict | None) -> str:
    lines = ["| target | measured | met |", "|---|---|---|"]
    names = {"torch": "PyTorch", "sklearn": "scikit-learn", "gemm": "GEMM limit"}
    for r in rows:
        for other, goal in TARGETS.get(r["workload"], {}).items():
            got = r.get(f"vs_{other}")
            if got is None:
                continue
            ok = got > goal if (other == "torch" and goal == 1.0) else got >= goal
            lines.append(
                f"| {r['workload']}: >= {goal:g}x {names[other]} | {got:.2f}x "
                f"| {'yes' if ok else '**no**'} |"
            )
    if mem:
        ratio = mem["peak_rss_mb"] / mem["data_mb"]
        lines.append(
            f"| memory: peak RSS < 1.5x data | {ratio:.2f}x "
            f"| {'yes' if ratio < 1.5 else '**no**'} |"
        )
    if dig:
        ok = dig["bprop_accuracy"] >= dig["sklearn_accuracy"] and (
            dig["bprop_seconds"] < dig["sklearn_seconds"]
        )
        lines.append(
            f"| demo digits: accuracy >= scikit-learn's default MLP, in less time "
            f"| {dig['bprop_accuracy']:.4f} in {dig['bprop_seconds']:.2f} s vs "
            f"{dig['sklearn_accuracy']:.4f} in {dig['sklearn_seconds']:.2f} s "
            f"| {'yes' if ok else '**no**'} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r["workload"] for r in rows]
    series = [
        ("bprop", "bprop"),
        ("torch", "PyTorch"),
        ("sklearn", "scikit-learn"),
        ("gemm", "GEMM limit"),
    ]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.2
    for i, (key, name) in enumerate(series):
        vals = [r[key] or 0 for r in rows]
        ax.bar(x + (i - 1.5) * width, vals, width, label=name)
    ax.set_yscale("log")
    ax.set_xticks(x, labels)
    ax.set_ylabel("training samples / second (log)")
    ax.set_title("bprop vs PyTorch vs scikit-learn (higher is better)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_docs(report: str, rows: list[dict]) -> None:
    doc = ROOT / "docs" / "performance.md"
    plot(rows, ROOT / "docs" / "performance.png")
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    text = doc.read_text() if doc.exists() else f"# Performance\n\n{begin}\n{end}\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    doc.write_text(f"{head}{begin}\n{report}\n{end}{tail}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a fifth of the data, for development")
    ap.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument(
        "--threads",
        default="1",
        help="threads of every library's BLAS / thread pool (default 1: see docs/performance.md)",
    )
    ap.add_argument("--skip-extras", action="store_true", help="no memory/digits/first-call")
    args = ap.parse_args(argv)
    use_torch = not args.no_torch
    if use_torch:
        try:
            import torch

            torch.set_num_threads(int(THREADS))
        except ImportError:
            print("PyTorch is not installed: pip install torch==2.13.0 (or --no-torch)")
            sys.exit(2)
    names = [s for s in args.only.split(",") if s] or list(WORKLOADS)
    started = time.perf_counter()
    info = machine()
    print("machine:", json.dumps(info))
    rows = []
    for name in names:
        w = WORKLOADS[name]
        if args.quick:
            w = w.scaled(0.2)
        row = run_workload(w, args.repeats, use_torch)
        rows.append(row)
        print(json.dumps(row), flush=True)
    extras = {}
    if not args.skip_extras:
        extras["first_call"] = first_call_cost()
        print("first call:", json.dumps(extras["first_call"]), flush=True)
        extras["memory"] = memory()
        print("memory:", json.dumps(extras["memory"]), flush=True)
        extras["digits"] = digits()
        print("digits:", json.dumps(extras["digits"]), flush=True)
    elapsed = time.perf_counter() - started
    command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = render(info, rows, extras, command.strip(), elapsed)
    print()
    print(report)
    out = HERE / "results.json"
    out.write_text(json.dumps({"machine": info, "rows": rows, **extras}, indent=1) + "\n")
    if not args.no_docs:
        write_docs(report, rows)
        print(f"\nwrote docs/performance.md and docs/performance.png ({elapsed:.0f} s)")


def render(info: dict, rows: list[dict], extras: dict, command: str, elapsed: float) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    parts = [
        f"Produced by `{command}` (`make bench`) on {when}, in {elapsed:.0f} s.",
        "",
        f"Machine: {info.get('cpu', '?')}, {info['cpus']} cores, shared with other jobs "
        "while it ran (numbers are noisy, take ratios as +-20%); "
        f"Python {info['python']}, NumPy {info['numpy']} ({info.get('numpy_blas', '?')}), "
        f"numba {info['numba']}, scikit-learn {info['scikit-learn']}, "
        f"PyTorch {info['torch']} CPU. Every library ran with {info['threads']} thread(s) "
        "(OMP/OPENBLAS/MKL_NUM_THREADS, torch.set_num_threads).",
        "",
        "Training samples per second (epochs x samples / seconds of the fit call; best of "
        "the repeats, after a warm-up):",
        "",
        table(rows),
        "",
    ]
    if extras:
        parts += [
            "Targets of issue 6:",
            "",
            targets(rows, extras.get("memory"), extras.get("digits")),
            "",
        ]
    fc = extras.get("first_call")
    if fc:
        parts += [
            f"First online fit in a new process: {fc['compile']:.2f} s when numba compiles "
            f"the kernel (empty cache), {fc['cached']:.2f} s with the on-disk cache "
            f"(importing numba and loading the machine code), {fc['warm'] * 1e3:.1f} ms "
            f"once loaded; the NumPy path's first fit: {fc['numpy_path'] * 1e3:.1f} ms.",
            "",
        ]
    mem = extras.get("memory")
    if mem:
        runs = "; ".join(
            f"{r['mode']}: peak {r['peak_rss_mb']:.0f} MB = "
            f"{r['peak_rss_mb'] / r['data_mb']:.2f}x the data"
            for r in mem["runs"]
        )
        parts += [
            f"Memory: training a 100-64-1 network for one epoch on 1,000,000 x 100 float32 "
            f"({mem['data_mb']:.0f} MB of X and y), peak resident memory of the whole "
            f"process, each mode in a process of its own: {runs} (minibatch: 64 rows, "
            f"momentum, compiled kernel; batch: iRprop-, NumPy in blocks). Before the data "
            f"existed the process held {mem['baseline_mb']:.0f} MB (Python, NumPy, SciPy, "
            "scikit-learn); importing numba and loading the compiled kernel adds about "
            "100 MB more.",
            "",
        ]
    dig = extras.get("digits")
    if dig:
        parts += [
            f"Demo digits model (`bprop demo`): test accuracy {dig['bprop_accuracy']:.4f} in "
            f"{dig['bprop_seconds']:.2f} s of training; scikit-learn's default MLPClassifier "
            f"on the same split and standardised inputs: {dig['sklearn_accuracy']:.4f} in "
            f"{dig['sklearn_seconds']:.2f} s.",
        ]
    return "\n".join(parts)


if __name__ == "__main__":
    main()
