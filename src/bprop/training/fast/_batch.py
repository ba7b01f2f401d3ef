"""numba: the full-batch block kernel, composed from the same compiled forms as the epoch kernel.

Imported only by :mod:`bprop.training.fast` after it has checked that numba is installed.
:func:`build_block` composes the per-layer loops of :mod:`bprop.training.fast._kernels`
(forward with the bias and activation in one pass, the output delta with E_p, the hidden
delta with its bias-gradient sum) into one function that, for one block of rows (X, T, s),
returns E = sum_p s_p E_p and the correct count and leaves

    g = sum_p s_p dE_p/dw        (dE/dW^l = o^{l-1}^T delta^l,  dE/db^l = sum_p delta^l)

in the network's ``grad``. The rows are worked through in sub-blocks of ``sub`` rows, small
enough that a sub-block's net inputs, outputs and deltas stay in the cache between the
forward and the backward pass; the matrix products of a sub-block go to BLAS (``np.dot``)
and are added to the gradient sub-block after sub-block, in the order of the rows. The
result is a function of the block's rows and ``sub`` only: every data source that hands
the kernel the same blocks gets the same bits. Against ``Network.gradient`` (one matrix
product over the whole block, NumPy's pairwise sums) it agrees to rounding error.

Sample weights: the output delta of row p and E_p are multiplied by s_p (as
``Network.backward`` and ``Loss.total`` do), the correct count is sum_p s_p [p correct].
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from bprop.training.fast._kernels import (
    _bias_gradient,
    _jitable,
    _times_transposed,
    _token,
    _weight_gradient,
    cached_kernel,
    compose,
)

__all__ = ["build_block"]


def _weigh(delta, s, start, m):
    """delta[r] *= s_p for the m rows of the sub-block at ``start``."""
    for r in range(m):
        w = s[start + r]
        for k in range(delta.shape[1]):
            delta[r, k] *= w


def _add(target, part):
    """target += part, for the flat views of one layer's gradient."""
    for q in range(target.shape[0]):
        target[q] += part[q]


_weigh = _jitable(_weigh, "never")
_add = _jitable(_add, "never")


def _block(hidden_forward, hidden_backward, output_forward, output_delta, count, token):
    def block_gradient(X, T, s, params, grad, w_off, b_off, sizes, hidden, threshold, sub):
        """E and the correct count of the rows X, T (sample weights s; empty: none), and
        g = sum_p s_p dE_p/dw in ``grad`` (flat, the layout of ``params``: layer l's W at
        ``w_off[l]``, shape sizes[l] x sizes[l+1], b at ``b_off[l]``), in sub-blocks of
        ``sub`` rows. ``hidden[l]`` numbers hidden layer l's activation among the distinct
        ones the kernel was built for."""
        version = token  # noqa: F841 - ties the machine code to the definitions
        L = sizes.shape[0] - 1
        dtype = params.dtype
        n = X.shape[0]
        B = max(1, min(sub, n))
        weighted = s.shape[0] > 0
        Ws = [
            params[w_off[k] : w_off[k] + sizes[k] * sizes[k + 1]].reshape((sizes[k], sizes[k + 1]))
            for k in range(L)
        ]
        bs = [params[b_off[k] : b_off[k] + sizes[k + 1]] for k in range(L)]
        gWs = [grad[w_off[k] : w_off[k] + sizes[k] * sizes[k + 1]] for k in range(L)]
        gbs = [grad[b_off[k] : b_off[k] + sizes[k + 1]] for k in range(L)]
        pWs = [np.empty((sizes[k], sizes[k + 1]), dtype) for k in range(L)]
        pbs = [np.empty(sizes[k + 1], dtype) for k in range(L)]
        nets = [np.empty((B, sizes[k + 1]), dtype) for k in range(L)]
        outs = [np.empty((B, sizes[k + 1]), dtype) for k in range(L)]
        deltas = [np.empty((B, sizes[k + 1]), dtype) for k in range(L)]
        aux = np.zeros(B, np.float64)
        for q in range(grad.shape[0]):
            grad[q] = 0.0
        E_sum = 0.0
        correct = 0.0
        top = L - 1
        for start in range(0, n, B):
            m = min(B, n - start)
            xb = X[start : start + m]
            tb = T[start : start + m]
            A = xb
            for k in range(top):
                hidden_forward(hidden[k], A, Ws[k], bs[k], nets[k], outs[k], m, aux)
                A = outs[k]
            output_forward(A, Ws[top], bs[top], nets[top], outs[top], m, aux)
            if weighted:
                for r in range(m):  # E_p one row at a time, to weigh it
                    E_sum += s[start + r] * output_delta(
                        outs[top][r : r + 1], nets[top][r : r + 1], tb[r : r + 1],
                        deltas[top][r : r + 1], 1, aux[r : r + 1],
                    )  # fmt: skip
                    correct += s[start + r] * count(
                        outs[top][r : r + 1], tb[r : r + 1], 1, threshold
                    )
                _weigh(deltas[top], s, start, m)
            else:
                E_sum += output_delta(outs[top], nets[top], tb, deltas[top], m, aux)
                correct += count(outs[top], tb, m, threshold)
            _bias_gradient(deltas[top], pbs[top], m)
            _add(gbs[top], pbs[top])
            for k in range(top, -1, -1):
                below = xb if k == 0 else outs[k - 1]
                _weight_gradient(below, deltas[k], pWs[k], m)
                _add(gWs[k], pWs[k].ravel())
                if k > 0:
                    _times_transposed(deltas[k], Ws[k], deltas[k - 1], m)
                    hidden_backward(
                        hidden[k - 1], deltas[k - 1], nets[k - 1], outs[k - 1], pbs[k - 1], m
                    )
                    _add(gbs[k - 1], pbs[k - 1])
        return E_sum, correct

    return cached_kernel(block_gradient, token)


@functools.cache
def build_block(hidden, output, loss_element, loss_fused, metric) -> Callable:
    """The compiled block-gradient kernel for these compiled forms (arguments as
    :func:`bprop.training.fast._kernels.build` takes them, without the rule)."""
    loops, definitions = compose(hidden, output, loss_element, loss_fused, metric)
    return _block(*loops, _token("block", definitions))
