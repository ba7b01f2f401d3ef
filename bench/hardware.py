"""The machine's own limits: its BLAS kernels, and the FLOP peak of a large GEMM.

``blas_report()`` says which BLAS each library loaded and with which kernel
(threadpoolctl's ``threadpool_info``: internal_api, version, architecture / corename,
num_threads; PyTorch's own build information beside it). ``flop_peak()`` times a large
square GEMM in float64 and float32 with NumPy and with PyTorch at the thread count in
force and takes the faster library as the machine's peak per dtype. ``step_flops`` counts
a training step the way the peak fractions do:

    FLOPs per sample = 2 x [ sum_l n_{l-1} n_l        (forward o^{l-1} W^l)
                           + sum_l n_{l-1} n_l        (backward o^{l-1}^T delta^l)
                           + sum_{l>=2} n_{l-1} n_l ] (delta^l W^l^T, all layers but the first)
"""

from __future__ import annotations

import contextlib
import math
import os
import time

# Set by an older OpenBLAS setup to force an older core's kernel; the measured processes
# run without them (bench/run.py restarts itself without them, tests and CI keep theirs).
FORCING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def clean_env(env: dict[str, str] | None = None, *, threads: str | None = None) -> dict[str, str]:
    """A copy of the environment without the kernel-forcing variables.

    ``threads`` sets OMP/OPENBLAS/MKL_NUM_THREADS; ``threads=""`` removes them (the
    libraries' own defaults, as a user gets them).
    """
    env = dict(os.environ if env is None else env)
    for var in FORCING_VARIABLES:
        env.pop(var, None)
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            if threads:
                env[var] = threads
            else:
                env.pop(var, None)
    return env


def blas_report(use_torch: bool) -> list[dict]:
    """threadpoolctl's view of every thread pool loaded by NumPy, SciPy (and PyTorch)."""
    import scipy.linalg  # noqa: F401 - loads SciPy's OpenBLAS, which numba's np.dot calls
    from threadpoolctl import threadpool_info

    if use_torch:
        import torch  # noqa: F401

    keep = ("user_api", "internal_api", "version", "architecture", "corename", "num_threads")
    out = []
    for pool in threadpool_info():
        row = {k: pool[k] for k in keep if k in pool}
        path = pool.get("filepath", "")
        row["library"] = os.path.basename(path)
        row["owner"] = next(
            (lib for lib in ("numpy", "scipy", "torch", "scikit_learn") if f"/{lib}" in path), "?"
        )
        out.append(row)
    return out


def torch_build() -> dict:
    """PyTorch's BLAS and the CPU capability its kernels dispatch on."""
    import torch

    info = {"threads": torch.get_num_threads()}
    with contextlib.suppress(AttributeError):
        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    for line in torch.__config__.show().splitlines():
        line = line.strip()
        if line.startswith(("- BLAS_INFO", "- LAPACK_INFO")) or "Math Kernel" in line:
            key, _, val = line.lstrip("- ").partition("=")
            info[key.strip() or "mkl"] = (val or line).strip()
    return info


def _best(fn, repeats: int) -> float:
    fn()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def flop_peak(n: int = 2048, repeats: int = 5, use_torch: bool = True) -> dict:
    """GFLOP/s of an n x n x n GEMM (2 n^3 FLOPs) per dtype and library; 'peak' = the best."""
    import numpy as np

    out: dict = {"n": n}
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        A = rng.standard_normal((n, n)).astype(dtype)
        B = rng.standard_normal((n, n)).astype(dtype)
        C = np.empty((n, n), dtype)
        rates = {
            "numpy": 2 * n**3 / _best(lambda A=A, B=B, C=C: np.matmul(A, B, out=C), repeats) / 1e9
        }
        if use_torch:
            import torch

            At, Bt, Ct = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(C)
            rates["torch"] = (
                2
                * n**3
                / _best(lambda At=At, Bt=Bt, Ct=Ct: torch.mm(At, Bt, out=Ct), repeats)
                / 1e9
            )
        out[name] = {**rates, "peak": max(rates.values())}
    return out


def step_flops_per_sample(sizes: tuple[int, ...]) -> float:
    """FLOPs of one training step per sample (the module docstring's count)."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=False))
    return 2.0 * (2 * sum(a * b for a, b in pairs) + sum(a * b for a, b in pairs[1:]))


def peak_fraction(samples_per_second: float | None, sizes, dtype: str, peak: dict) -> float | None:
    """The fraction of the dtype's FLOP peak that a rate of training samples amounts to."""
    if not samples_per_second or dtype not in peak:
        return None
    return samples_per_second * step_flops_per_sample(tuple(sizes)) / (peak[dtype]["peak"] * 1e9)
