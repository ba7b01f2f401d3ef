"""numba kernels: one call runs a whole epoch of online or mini-batch training.

Imported only by :mod:`bprop.training.fast` after it has checked that numba is installed. Every
function is compiled with ``cache=True``: the machine code is written next to this file
(or to ``NUMBA_CACHE_DIR``) on first use and loaded from there afterwards.

The arithmetic is the NumPy path's, operation for operation where it matters for
rounding (the gradient is scaled by the reciprocal 1/B before the rule, as
``Trainer._update`` does); sums of products (matrix products, the softmax normaliser)
may be added in another order, so weights agree to rounding error (about 1e-15
relative per update in float64), not bit for bit.

For one block B of patterns (rows), layers l = 1..L, the equations of
:mod:`bprop.core.network`:

    net^l = o^{l-1} W^l + b^l,   o^l = phi_l(net^l),   o^0 = x
    delta^L = dE/dnet^L          (from the loss; fused o - t for the natural pairs)
    delta^{l-1} = phi'_{l-1} * (delta^l W^l^T)
    dE/dW^l = o^{l-1}^T delta^l,  dE/db^l = sum_rows delta^l
    g = (1/|B|) dE/dw + lambda w_weights ;  w += rule step (gd, momentum, nesterov, adam)

Blocks of at most ``_SMALL`` rows use plain loops (a BLAS call costs more than the
arithmetic of one pattern); larger blocks call BLAS through ``np.dot``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba.core.errors import NumbaError

__all__ = ["NumbaError", "logistic", "logistic_array", "run_epoch", "tanh", "tanh_array"]

# Codes shared with bprop.training.fast (kept as plain ints so that one compiled kernel serves all).
IDENTITY, LOGISTIC, TANH, RELU, SOFTMAX = 0, 1, 2, 3, 4
SQUARED_ERROR, MSE, BCE_LOGISTIC, CCE_SOFTMAX = 0, 1, 2, 3
GD, MOMENTUM, NESTEROV, ADAM, ADAM_SKLEARN = 0, 1, 2, 3, 4
NO_METRIC, ARGMAX, THRESHOLD = 0, 1, 2

_SMALL = 4

# error_model="numpy": x / 0 gives inf or nan as in NumPy instead of raising
# ZeroDivisionError; without the check LLVM can vectorise loops that divide.
_JIT = {"cache": True, "error_model": "numpy"}

# tanh: for |x| < 0.625 the rational approximation x + x^3 P(x^2) / Q(x^2) of the Cephes
# library (S. L. Moshier, cephes/double/tanh.c, relative error 2.5e-16 there), else
# 1 - 2 / (e^{2|x|} + 1) with e^y by Cody-Waite reduction (the split of ln 2 of fdlibm's
# e_exp.c) and a Taylor polynomial; the sign is copied from x. Both branches are
# computed and one is selected, so that loops over tanh vectorise: numba's math.tanh calls
# libm once per element and was 9x slower than np.tanh (NumPy's own SIMD tanh); this one
# takes 1.3x its time (5.0 vs 3.8 us for 4096 values) and is within 2 ulp of its values
# (tests/test_fast.py checks 3 ulp of the exact value, from 80-bit long double, on a wide
# range, and signed zeros, infinities and NaN; measured 1.3 ulp).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
_ROUND = 6755399441055744.0  # 1.5 * 2^52: (y + _ROUND) - _ROUND rounds y to an integer


@nb.njit(inline="always", **_JIT)
def _exp_reduced(y):
    """(k, e^r) with y = k ln2 + r, |r| <= ln2 / 2 (Cody-Waite), e^r by Taylor to r^13
    (truncation error r^14 / 14! < 4e-18): e^y = e^r 2^k."""
    k = (y * _INV_LN2 + _ROUND) - _ROUND
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return k, p


@nb.njit(inline="always", **_JIT)
def _exp_0_40(y):
    """e^y for 0 <= y <= 40: e^r from _exp_reduced, times 2^k."""
    k, p = _exp_reduced(y)
    # 2^k for the integer 0 <= k <= 58, exactly: an integer shift, converted (vectorises)
    two_k = float(np.int64(1) << np.int64(k))
    return p * two_k


@nb.njit(inline="always", **_JIT)
def _exp_0_708(y):
    """e^y for 0 <= y <= 708, as _exp_0_40 but with 2^k (k <= 1022) built as
    (2^q)^32 2^(k - 32 q) from two shifts and five exact squarings."""
    k, p = _exp_reduced(y)
    q = math.floor(k * 0.03125)
    two_q = float(np.int64(1) << np.int64(q))
    two_q *= two_q
    two_q *= two_q
    two_q *= two_q
    two_q *= two_q
    two_q *= two_q
    return p * (two_q * float(np.int64(1) << np.int64(k - 32.0 * q)))


@nb.njit(inline="always", **_JIT)
def logistic(x):
    """1 / (1 + e^-x), vectorisable: with z = e^|x| (|x| clipped at 708), z / (z + 1) for
    x >= 0 and 1 / (1 + z) below. Agrees with scipy.special.expit to a few ulp down to
    x = -708 (below, both are under 1e-307), 2.2 ulp of the exact value; NaN stays NaN."""
    z = _exp_0_708(min(abs(x), 708.0))
    o = z / (z + 1.0) if x >= 0 else 1.0 / (1.0 + z)
    return o if x == x else x


@nb.njit(**_JIT)
def logistic_array(x, out):
    """out[i] = logistic(x[i]) for 1-D arrays (for tests)."""
    for i in range(x.shape[0]):
        out[i] = logistic(x[i])


@nb.njit(inline="always", **_JIT)
def tanh(x):
    """tanh(x), vectorisable (see the comment on _JIT)."""
    a = abs(x)
    z = x * x
    num = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
    num -= 1.61468768441708447952e3
    den = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
    den += 4.84406305325125486048e3
    small = a + a * z * (num / den)
    big = 1.0 - 2.0 / (_exp_0_40(min(2.0 * a, 40.0)) + 1.0)
    return math.copysign(small if a < 0.625 else big, x)  # tanh is odd; keeps -0.0


@nb.njit(**_JIT)
def tanh_array(x, out):
    """out[i] = tanh(x[i]) for 1-D arrays (for tests)."""
    for i in range(x.shape[0]):
        out[i] = tanh(x[i])


@nb.njit(**_JIT)
def _forward_layer(A, W, b, net, o, m, code, row_max, row_sum):
    """net = A[:m] W + b ; o = phi(net), the bias added in the activation's pass.

    For softmax, each row's max and sum of e^{net - max} are kept in ``row_max`` and
    ``row_sum`` for the loss (log-sum-exp = max + ln sum).
    """
    n_in, n_out = W.shape
    if m <= _SMALL:
        for r in range(m):
            for j in range(n_out):
                net[r, j] = 0.0
            for i in range(n_in):
                a = A[r, i]
                for j in range(n_out):
                    net[r, j] += a * W[i, j]
    else:
        np.dot(A[:m], W, net[:m])
    if code == SOFTMAX:
        for r in range(m):
            for j in range(n_out):
                net[r, j] += b[j]
            mx = net[r, 0]
            for j in range(1, n_out):
                mx = max(mx, net[r, j])
            s = 0.0
            for j in range(n_out):
                e = math.exp(net[r, j] - mx)
                o[r, j] = e
                s += e
            for j in range(n_out):
                o[r, j] /= s
            row_max[r] = mx
            row_sum[r] = s
    elif code == TANH:
        for r in range(m):
            for j in range(n_out):
                x = net[r, j] + b[j]
                net[r, j] = x
                o[r, j] = tanh(x)
    elif code == LOGISTIC:
        for r in range(m):
            for j in range(n_out):
                x = net[r, j] + b[j]
                net[r, j] = x
                o[r, j] = logistic(x)
    elif code == RELU:
        for r in range(m):
            for j in range(n_out):
                x = net[r, j] + b[j]
                net[r, j] = x
                o[r, j] = max(x, 0.0)
    else:
        for r in range(m):
            for j in range(n_out):
                x = net[r, j] + b[j]
                net[r, j] = x
                o[r, j] = x


@nb.njit(**_JIT)
def _derivative(code, net, o):
    """phi'(net) of an elementwise activation, from its output where cheaper."""
    if code == TANH:
        return 1.0 - o * o
    if code == LOGISTIC:
        return o * (1.0 - o)
    if code == RELU:
        return 1.0 if net > 0 else 0.0
    return 1.0


@nb.njit(**_JIT)
def _output_delta(o, net, t, delta, m, code, loss_code, row_max, row_sum):
    """Writes delta = dE_p/dnet into delta[:m] and returns sum_p E_p (see bprop.core.losses)."""
    K = o.shape[1]
    E = 0.0
    for r in range(m):
        if loss_code == CCE_SOFTMAX:
            # E_p = -sum_k t_k (net_k - logsumexp(net)),  delta_k = o_k sum_j t_j - t_k
            t_sum = 0.0
            for k in range(K):
                t_sum += t[r, k]
            lse = row_max[r] + math.log(row_sum[r])  # from the forward pass
            for k in range(K):
                E -= t[r, k] * (net[r, k] - lse)
                delta[r, k] = o[r, k] * t_sum - t[r, k]
        elif loss_code == BCE_LOGISTIC:
            # E_p = sum_k ln(1 + e^{net_k}) - t_k net_k,  delta_k = o_k - t_k
            for k in range(K):
                x = net[r, k]
                E += max(x, 0.0) + math.log1p(math.exp(-abs(x))) - t[r, k] * x
                delta[r, k] = o[r, k] - t[r, k]
        else:
            # squared error 1/2 sum_k d_k^2 (or mse 1/K sum_k d_k^2), d = o - t,
            # delta_k = dE/do_k phi'(net_k)
            scale = 1.0 if loss_code == SQUARED_ERROR else 2.0 / K
            for k in range(K):
                d = o[r, k] - t[r, k]
                if loss_code == SQUARED_ERROR:
                    E += 0.5 * d * d
                else:
                    E += d * d / K
                delta[r, k] = d * scale * _derivative(code, net[r, k], o[r, k])
    return E


@nb.njit(**_JIT)
def _count_correct(o, t, m, metric, threshold):
    correct = 0.0
    if metric == NO_METRIC:
        return correct
    K = o.shape[1]
    for r in range(m):
        if metric == ARGMAX:
            io = 0
            it = 0
            for k in range(1, K):
                if o[r, k] > o[r, io]:
                    io = k
                if t[r, k] > t[r, it]:
                    it = k
            if io == it:
                correct += 1.0
        else:
            ok = True
            for k in range(K):
                if (o[r, k] > threshold) != (t[r, k] > threshold):
                    ok = False
            if ok:
                correct += 1.0
    return correct


@nb.njit(**_JIT)
def _backward_layer(A, W, delta, gW, gb, own_gb, below, gb_below, net_below, o_below, m, code):
    """dE/dW = A[:m]^T delta; dE/db = sum delta if ``own_gb``; and, if ``below`` has rows,
    the delta of the layer below, phi'(net_below) * (delta W^T), with its bias gradient
    summed into ``gb_below`` in the same pass."""
    n_in, n_out = W.shape
    if m <= _SMALL:
        for i in range(n_in):
            for j in range(n_out):
                gW[i, j] = 0.0
        for r in range(m):
            for i in range(n_in):
                a = A[r, i]
                for j in range(n_out):
                    gW[i, j] += a * delta[r, j]
    else:
        np.dot(A[:m].T, delta[:m], gW)
    if own_gb:
        for j in range(n_out):
            gb[j] = 0.0
        for r in range(m):
            for j in range(n_out):
                gb[j] += delta[r, j]
    if below.shape[0] == 0:
        return
    if m <= _SMALL:
        for r in range(m):
            for i in range(n_in):
                s = 0.0
                for j in range(n_out):
                    s += delta[r, j] * W[i, j]
                below[r, i] = s
    else:
        np.dot(delta[:m], W.T, below[:m])
    for i in range(n_in):
        gb_below[i] = 0.0
    if code == TANH:
        for r in range(m):
            for i in range(n_in):
                v = below[r, i] * (1.0 - o_below[r, i] * o_below[r, i])
                below[r, i] = v
                gb_below[i] += v
    elif code == LOGISTIC:
        for r in range(m):
            for i in range(n_in):
                v = below[r, i] * (o_below[r, i] * (1.0 - o_below[r, i]))
                below[r, i] = v
                gb_below[i] += v
    elif code == RELU:
        for r in range(m):
            for i in range(n_in):
                v = below[r, i] * (1.0 if net_below[r, i] > 0 else 0.0)
                below[r, i] = v
                gb_below[i] += v
    else:
        for r in range(m):
            for i in range(n_in):
                gb_below[i] += below[r, i]


@nb.njit(**_JIT)
def _update(params, grad, inv_m, m, decay, decay_sum, rule, hp, hp64, s1, s2, delta_w, t, sc, last):
    """g from the gradient sum, then w += the rule's step; returns (L2 penalty term, t).

    Without decay g = grad / |B|. With decay (lambda on weights, 0 on biases) and the
    penalty P = lambda/2 ||w||^2 at the block's starting weights: 'mean' scaling
    (decay_sum False) g = grad / |B| + lambda w, returning P |B|; 'sum' scaling
    g = (grad + lambda w) / |B|, returning P (``Trainer._update``, ``epoch_penalty``).
    g is left in ``grad`` as the NumPy path leaves it. The rule's ``delta_w`` (the last
    step) is written on the ``last`` block only: no update reads it.

    ``hp`` = (eta, alpha, beta_1, beta_2, 1 - beta_1, 1 - beta_2, epsilon) in the network's
    dtype, ``hp64`` = (eta, beta_1, beta_2) in float64 for Adam's bias corrections (as the
    NumPy rules compute them in Python floats), ``s1``/``s2`` the rule's state arrays
    (momentum: velocity; Adam: m and v), ``t`` Adam's step count, ``sc`` dtype scratch.
    """
    penalty = 0.0
    scale = inv_m
    if decay.shape[0] > 0:
        for q in range(params.shape[0]):
            wd = decay[q] * params[q]
            penalty += wd * params[q]
            if decay_sum:
                grad[q] = (grad[q] + wd) * inv_m
            else:
                grad[q] = grad[q] * inv_m + wd
        penalty *= 0.5
        if not decay_sum:
            penalty *= m
        scale = inv_m / inv_m  # grad already holds g: 1, in the network's dtype
    n = params.shape[0]
    lr = hp[0]
    mom = hp[1]
    if rule == MOMENTUM:  # Delta w_t = alpha Delta w_{t-1} - eta g_t
        for q in range(n):
            g = grad[q] * scale
            grad[q] = g
            v = s1[q] * mom - lr * g
            s1[q] = v
            params[q] += v
        if last:
            delta_w[:] = s1
    elif rule == NESTEROV:  # v_t = alpha v_{t-1} - eta g_t ; Delta w_t = alpha v_t - eta g_t
        for q in range(n):
            g = grad[q] * scale
            grad[q] = g
            dw = g * -lr
            v = s1[q] * mom + dw
            s1[q] = v
            dw += mom * v
            params[q] += dw
            if last:
                delta_w[q] = dw
    elif rule >= ADAM:  # ADAM or ADAM_SKLEARN
        # m_t = b1 m + (1 - b1) g ;  v_t = b2 v + (1 - b2) g^2
        # ADAM:          Delta w = -eta / (1 - b1^t) m_t / (sqrt(v_t / (1 - b2^t)) + eps)
        # ADAM_SKLEARN:  Delta w = -eta sqrt(1 - b2^t) / (1 - b1^t) m_t / (sqrt(v_t) + eps)
        t += 1
        bc1 = 1.0 - hp64[1] ** t
        bc2 = 1.0 - hp64[2] ** t
        sc[0] = bc2
        if rule == ADAM:
            sc[1] = -hp64[0] / bc1
        else:
            sc[1] = -hp64[0] * math.sqrt(bc2) / bc1
        b1, b2, c1, c2, eps = hp[2], hp[3], hp[4], hp[5], hp[6]
        for q in range(n):
            g = grad[q] * scale
            grad[q] = g
            mq = s1[q] * b1 + c1 * g
            s1[q] = mq
            vq = s2[q] * b2 + c2 * (g * g)
            s2[q] = vq
            d = math.sqrt(vq / sc[0] if rule == ADAM else vq) + eps
            d = mq / d
            d *= sc[1]
            params[q] += d
            if last:
                delta_w[q] = d
    else:  # Delta w_t = -eta g_t
        for q in range(n):
            g = grad[q] * scale
            grad[q] = g
            dw = g * -lr
            params[q] += dw
            if last:
                delta_w[q] = dw
    return penalty, t


@nb.njit(**_JIT)
def run_epoch(
    X,
    T,
    order,
    batch,
    params,
    grad,
    w_off,
    b_off,
    sizes,
    acts,
    loss_code,
    rule,
    hp,
    hp64,
    decay,
    decay_sum,
    s1,
    s2,
    delta_w,
    t,
    metric,
    threshold,
):
    """One epoch over the patterns ``X[order]`` in blocks of ``batch`` rows.

    ``params``/``grad`` are the network's flat arrays, layer l's W at
    ``w_off[l]`` (shape sizes[l] x sizes[l+1]) and b at ``b_off[l]``. ``hp``, ``hp64``,
    ``s1``, ``s2``, ``delta_w`` and ``t`` carry the rule's hyperparameters and state (see
    ``_update``); ``decay``
    is lambda at weights and 0 at biases (empty: no decay), ``decay_sum`` its scaling.
    Returns (sum_p E_p, number of correctly classified patterns, sum of the blocks' L2
    penalties as ``Trainer.epoch_penalty`` counts them, Adam's step count t).
    """
    L = sizes.shape[0] - 1
    dtype = params.dtype
    n = order.shape[0]
    B = min(batch, n)
    Ws = [
        params[w_off[k] : w_off[k] + sizes[k] * sizes[k + 1]].reshape((sizes[k], sizes[k + 1]))
        for k in range(L)
    ]
    bs = [params[b_off[k] : b_off[k] + sizes[k + 1]] for k in range(L)]
    gWs = [
        grad[w_off[k] : w_off[k] + sizes[k] * sizes[k + 1]].reshape((sizes[k], sizes[k + 1]))
        for k in range(L)
    ]
    gbs = [grad[b_off[k] : b_off[k] + sizes[k + 1]] for k in range(L)]
    nets = [np.empty((B, sizes[k + 1]), dtype) for k in range(L)]
    outs = [np.empty((B, sizes[k + 1]), dtype) for k in range(L)]
    deltas = [np.empty((B, sizes[k + 1]), dtype) for k in range(L)]
    none = np.empty((0, 1), dtype)
    xb = np.empty((B, sizes[0]), dtype)
    tb = np.empty((B, sizes[L]), dtype)
    inv_m = np.empty(1, dtype)
    sc = np.empty(2, dtype)
    row_max = np.empty(B, np.float64)
    row_sum = np.empty(B, np.float64)
    no_gb = grad[0:0]
    E_sum = 0.0
    correct = 0.0
    penalty = 0.0
    for start in range(0, n, B):
        m = min(B, n - start)
        for r in range(m):
            p = order[start + r]
            for c in range(xb.shape[1]):
                xb[r, c] = X[p, c]
            for c in range(tb.shape[1]):
                tb[r, c] = T[p, c]
        A = xb
        for k in range(L):
            _forward_layer(A, Ws[k], bs[k], nets[k], outs[k], m, acts[k], row_max, row_sum)
            A = outs[k]
        E_sum += _output_delta(
            outs[L - 1],
            nets[L - 1],
            tb,
            deltas[L - 1],
            m,
            acts[L - 1],
            loss_code,
            row_max,
            row_sum,
        )
        correct += _count_correct(outs[L - 1], tb, m, metric, threshold)
        for k in range(L - 1, -1, -1):
            top = k == L - 1
            if k > 0:
                _backward_layer(
                    outs[k - 1],
                    Ws[k],
                    deltas[k],
                    gWs[k],
                    gbs[k],
                    top,
                    deltas[k - 1],
                    gbs[k - 1],
                    nets[k - 1],
                    outs[k - 1],
                    m,
                    acts[k - 1],
                )
            else:
                _backward_layer(
                    xb, Ws[k], deltas[k], gWs[k], gbs[k], top, none, no_gb, none, none, m, 0
                )
        inv_m[0] = 1.0 / m  # rounded to the network's dtype, as NumPy does
        p, t = _update(
            params,
            grad,
            inv_m[0],
            m,
            decay,
            decay_sum,
            rule,
            hp,
            hp64,
            s1,
            s2,
            delta_w,
            t,
            sc,
            start + B >= n,
        )
        penalty += p
    return E_sum, correct, penalty, t
