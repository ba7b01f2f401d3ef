"""The report's paragraphs for the measurements beside the workload table."""

from __future__ import annotations


def _first_call(fc: dict) -> list[str]:
    cold, warm = fc["cold"], fc["warm"]
    return [
        "First call, each in a new process (import of bprop, then the first online fit; "
        "the numba cache empty, then filled by the first process): "
        f"cold cache: import {cold['import']:.2f} s + first fit {cold['first_fit']:.2f} s "
        "(numba compiles the kernel); "
        f"warm cache: import {warm['import']:.2f} s + first fit {warm['first_fit']:.2f} s "
        "(importing numba and loading the machine code); "
        f"later fits in the same process {warm['second_fit'] * 1e3:.1f} ms; the NumPy path's "
        f"first fit (BPROP_FAST=0) {fc['numpy_path']['first_fit'] * 1e3:.1f} ms.",
        "",
    ]


def _memory(mem: dict) -> list[str]:
    runs = "; ".join(
        f"{r['mode']}: peak {r['peak_rss_mb']:.0f} MB = "
        f"{r['peak_rss_mb'] / r['data_mb']:.2f}x the data"
        + (
            f", {(r['peak_rss_mb'] - r['warm_mb']) / r['data_mb']:.2f}x over the warmed-up "
            f"process ({r['warm_mb']:.0f} MB)"
            if "warm_mb" in r
            else ""
        )
        for r in mem["runs"]
    )
    return [
        f"Memory: training a 100-64-1 network for one epoch on 1,000,000 x 100 float32 "
        f"({mem['data_mb']:.0f} MB of X and y), peak resident memory of the whole "
        f"process, each mode in a process of its own: {runs} (minibatch: 64 rows, "
        f"momentum, compiled kernel; batch: iRprop-, the compiled block kernel). Before the data "
        f"existed the process held {mem['baseline_mb']:.0f} MB (Python, NumPy, SciPy, "
        "scikit-learn), and more once a 64-row warm-up fit had loaded the kernels "
        "(numba and llvmlite, and the machine code from numba's on-disk cache, which an "
        "earlier process filled).",
        "",
    ]


def _fullgrad(fg: dict, spark: dict | None) -> list[str]:
    one, default = fg.get("one_thread"), fg.get("default")
    out = [
        "Full-batch gradient, 1,000,000 rows x 20-16-3 (logistic hidden, softmax output, "
        "float64; `bench/fullgrad.py`):",
        "",
        "| | BLAS threads | one gradient (`Network.gradient`) | its GEMMs alone | ratio "
        "| L-BFGS s/iteration | iterations | final loss | accuracy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in (("bprop, one thread", one), ("bprop, default threads", default)):
        if r:
            out.append(
                f"| {label} | {r['blas_threads']} | {r['gradient_seconds'] * 1e3:.0f} ms "
                f"| {r['gemm_seconds'] * 1e3:.0f} ms | {r['gradient_vs_gemm']:.2f}x "
                f"| {r['lbfgs_seconds_per_iteration']:.3f} | {r['lbfgs_iterations']} "
                f"| {r['loss']:.4f} | {r['accuracy']:.4f} |"
            )
    if spark and "lbfgs_seconds_per_iteration" in spark:
        out.append(
            f"| Spark {spark.get('spark', '')} MLlib `MultilayerPerceptronClassifier`, "
            f"local[2] | - | - | - | - | {spark['lbfgs_seconds_per_iteration']:.3f} "
            f"| {spark['lbfgs_iterations']} | {spark['loss']:.4f} | {spark['accuracy']:.4f} |"
        )
    loads = [
        f"{label} {r['load_average']:.1f}"
        for label, r in (("bprop one thread", one), ("default", default), ("Spark", spark))
        if r and "load_average" in r
    ]
    out.append("")
    if loads:
        out += ["Load average of the machine when each was measured: " + ", ".join(loads) + ".", ""]
    if spark and "skipped" in spark:
        out += [f"Spark was not measured: {spark['skipped']}.", ""]
    return out


def _threads(th: dict) -> list[str]:
    out = [
        "Threads as a user gets them (`bench/threads_bench.py`, seconds, best of the "
        "repeats; each in a process of its own, in the default environment, where bprop's "
        "estimators choose their BLAS threads, and with OMP_NUM_THREADS=1):",
        "",
        "| workload | library | default environment | OMP_NUM_THREADS=1 | ratio |",
        "|---|---|---|---|---|",
    ]
    rows = (
        ("cv1024", "bprop", "1024 units, 5-fold cross_val_score"),
        ("cv1024", "sklearn", "1024 units, 5-fold cross_val_score"),
        ("small", "bprop_cv", "64 units, 5-fold cross_val_score"),
        ("small", "sklearn_cv", "64 units, 5-fold cross_val_score"),
        ("small", "bprop_grid_n_jobs_1", "GridSearchCV n_jobs=1"),
        ("small", "bprop_grid_n_jobs_2", "GridSearchCV n_jobs=2"),
        ("small", "sklearn_grid_n_jobs_1", "GridSearchCV n_jobs=1"),
        ("small", "sklearn_grid_n_jobs_2", "GridSearchCV n_jobs=2"),
        ("wide", "bprop", "wide 784-512-256-10, fit"),
        ("wide", "bprop_n_threads_2", "wide 784-512-256-10, fit, n_threads=2"),
    )
    for part, key, label in rows:
        d = th.get(part, {})
        a, b = d.get("default", {}).get(key), d.get("one_thread", {}).get(key)
        if a is None or b is None:
            continue
        lib = "scikit-learn" if key.startswith("sklearn") else "bprop"
        out.append(f"| {label} | {lib} | {a:.2f} | {b:.2f} | {a / b:.2f} |")
    out.append("")
    return out


def extras_text(res: dict) -> list[str]:
    parts: list[str] = []
    if res.get("fullgrad"):
        parts += _fullgrad(res["fullgrad"], res.get("spark"))
    if res.get("threads"):
        parts += _threads(res["threads"])
    if res.get("first_call"):
        parts += _first_call(res["first_call"])
    if res.get("memory"):
        parts += _memory(res["memory"])
    dig = res.get("digits")
    if dig:
        parts += [
            f"Demo digits model (`bprop demo`): test accuracy {dig['bprop_accuracy']:.4f} in "
            f"{dig['bprop_seconds']:.2f} s of training; scikit-learn's default MLPClassifier "
            f"on the same split and standardised inputs: {dig['sklearn_accuracy']:.4f} in "
            f"{dig['sklearn_seconds']:.2f} s.",
            "",
        ]
    return parts
