"""The scalar functions of compiled forms (bprop.core.scalar), compiled with numba.

numba vectorises loops over them; these tests check their values in compiled code: 3 ulp
of the exact value (the polynomial/rational approximations are good to about 1 ulp and
each adds at most four roundings of 0.5 ulp; measured: 1.3 for tanh, 2.2 for the
logistic). The exact value comes from x86's 80-bit long double where there is one; else
from NumPy / SciPy in double, which adds their own 1 ulp.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit

from bprop.core import scalar

pytest.importorskip("numba", reason="compiling the scalar forms needs numba (bprop[fast])")

_EXTENDED = np.finfo(np.longdouble).nmant >= 63


def _compiled(fn):
    from bprop.training.fast import _kernels

    return _kernels.elementwise_array(fn)


def _ulps_from_exact(got, x, exact_long, reference_double):
    if _EXTENDED:
        ref = exact_long(x.astype(np.longdouble))
        bound = 3
    else:
        ref = reference_double(x)
        bound = 4
    ref64 = ref.astype(np.float64)
    normal = np.abs(ref64) > 1e-300
    err = np.abs(got[normal].astype(np.longdouble) - ref[normal])
    return float((err / np.spacing(np.abs(ref64[normal]))).max()), bound


def test_compiled_tanh_is_within_a_few_ulp():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(-1, 1, 100_000),
            rng.uniform(-30, 30, 100_000),
            rng.standard_normal(10_000) * 1e-6,
            [0.0, -0.0, 0.625, -0.625, np.nextafter(0.625, 0), 20.0, -20.0, 40.0, 1e300],
            [-1e300, 5e-324, -5e-324, np.inf, -np.inf],
        ]
    )
    out = np.empty_like(x)
    tanh = _compiled(scalar.tanh)
    tanh(x, out)
    worst, bound = _ulps_from_exact(out, x, np.tanh, np.tanh)
    assert worst <= bound
    assert out[x == np.inf][0] == 1.0 and out[x == -np.inf][0] == -1.0
    assert np.signbit(out[x == 0]).tolist() == np.signbit(x[x == 0]).tolist()
    nan = np.array([np.nan])
    tanh(nan, nan)
    assert np.isnan(nan[0])  # so that a diverging epoch is still detected


def test_compiled_logistic_is_within_a_few_ulp():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.uniform(-1, 1, 100_000),
            rng.uniform(-40, 40, 100_000),
            rng.uniform(-745, 745, 100_000),
            [0.0, -0.0, 708.0, -708.0, 709.0, -709.0, 800.0, -800.0, np.inf, -np.inf],
        ]
    )
    out = np.empty_like(x)
    logistic = _compiled(scalar.logistic)
    logistic(x, out)
    worst, bound = _ulps_from_exact(out, x, lambda v: 1 / (1 + np.exp(-v)), expit)
    assert worst <= bound
    below = expit(x) <= 1e-300  # x below -708: both all but 0
    assert np.abs(out - expit(x))[below].max() < 1e-307
    assert out[x == np.inf][0] == 1.0
    nan = np.array([np.nan])
    logistic(nan, nan)
    assert np.isnan(nan[0])


@pytest.mark.parametrize("x", [-30.0, -1.5, -0.3, 0.0, 0.2, 0.625, 3.0, 17.0])
def test_plain_python_gives_the_compiled_values(x):
    # The same functions run without numba (slowly), e.g. when reading them.
    for fn in (scalar.tanh, scalar.logistic):
        out = np.empty(1)
        _compiled(fn)(np.array([x]), out)
        assert fn(x) == out[0]
    assert scalar.tanh(x) == pytest.approx(math.tanh(x), rel=1e-15, abs=1e-300)
