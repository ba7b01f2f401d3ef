"""numba: the epoch kernel composed from the compiled forms of the definitions.

Imported only by :mod:`bprop.training.fast` after it has checked that numba is installed.
Nothing here defines an activation, a loss, a metric or a rule: :func:`build` takes their
compiled forms (plain functions declared next to the NumPy definitions in
:mod:`bprop.core.activations`, :mod:`bprop.core.losses`, :mod:`bprop.training.metrics`
and :mod:`bprop.optim`) and composes them, with the block loop of
``Trainer._run_blocks``, into one function compiled by numba. The plain functions are
made callable from compiled code with ``numba.extending.register_jitable``, so that they
stay plain Python where they are defined.

One kernel is compiled per combination (distinct hidden activations, output activation
and loss, metric, rule) and kept in numba's on-disk cache under a name of its own: the
kernel is renamed after ``token``, a digest of the composition (the definitions in their
roles, their code and what they call, and this package's source; see
:func:`cached_kernel`), so that editing a definition recompiles and no two compositions
share cache files.

For one block B of patterns (rows), layers l = 1..L, the equations of
:mod:`bprop.core.network`:

    net^l = o^{l-1} W^l + b^l,   o^l = phi_l(net^l),   o^0 = x
    delta^L = dE/dnet^L          (the loss's element form times phi_L', or its fused row)
    delta^{l-1} = phi'_{l-1} * (delta^l W^l^T)
    dE/dW^l = o^{l-1}^T delta^l,  dE/db^l = sum_rows delta^l
    g = (1/|B|) dE/dw + lambda w_weights ;  w += the rule's step (its element form)

The arithmetic is the NumPy path's, operation for operation where it matters for
rounding (the gradient is scaled by the reciprocal 1/B before the rule, as
``Trainer._update`` does); sums of products (matrix products, the softmax normaliser)
may be added in another order, so weights agree to rounding error (about 1e-15 relative
per update in float64), not bit for bit. Blocks of at most ``_SMALL`` rows use plain
loops (a BLAS call costs more than the arithmetic of one pattern); larger blocks call
BLAS through ``np.dot``.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path

import numba as nb
import numpy as np
from numba.core.errors import NumbaError
from numba.extending import register_jitable
from numba.np.unsafe.ndarray import to_fixed_tuple

from bprop.core.activations import ElementwiseForm

__all__ = ["NumbaError", "build", "cached_kernel", "compose", "elementwise_array"]

_SMALL = 4

# error_model="numpy": x / 0 gives inf or nan as in NumPy instead of raising
# ZeroDivisionError; without the check LLVM can vectorise loops that divide.
_OPTIONS = {"error_model": "numpy"}

_registered: set[Callable] = set()


def _bprop_functions(fn: Callable) -> list[Callable]:
    """The plain bprop functions ``fn`` calls: its globals, closure cells, and attributes
    of bprop modules it uses (``scalar.logistic``)."""
    names = fn.__code__.co_names
    found = [fn.__globals__.get(name) for name in names]
    found += [cell.cell_contents for cell in fn.__closure__ or ()]
    modules = [m for m in found if isinstance(m, types.ModuleType)]
    found += [
        getattr(m, name, None) for m in modules if m.__name__.startswith("bprop.") for name in names
    ]
    return [
        f
        for f in found
        if isinstance(f, types.FunctionType) and (f.__module__ or "").startswith("bprop.")
    ]


def _jitable(fn: Callable, inline: str = "always") -> Callable:
    """Make a plain function, and the bprop functions it calls, callable from numba code."""
    if fn not in _registered:
        _registered.add(fn)
        for dep in _bprop_functions(fn):
            _jitable(dep)
        module_level = getattr(sys.modules.get(fn.__module__), fn.__name__, None) is fn
        if fn.__closure__ and not module_level:  # a factory's closures differ by their cells
            fn.__name__ = fn.__qualname__ = f"{fn.__name__}_{_token('loop', [fn])[:16]}"
        register_jitable(inline=inline, **_OPTIONS)(fn)
    return fn


def _cell_text(value: object) -> str:
    """A closure cell's value as text that is the same in every process (functions by
    name: their code goes into the token separately)."""
    if isinstance(value, types.FunctionType):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, tuple | list):
        return "(" + ",".join(_cell_text(v) for v in value) + ")"
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    return type(value).__qualname__


def _token(kind: str, functions: Sequence[Callable]) -> str:
    """A digest of one composition: ``kind`` (the kernel), the names of ``functions`` in
    their order (their roles: hidden forms, loss, output, metric, rule), then the code
    (bytecode, names, constants) of them and of everything they call, and the source of
    this package's modules (the loops the kernels are built of).

    The kernel is named after it (:func:`cached_kernel`): numba files its on-disk cache by
    the function's qualified name, so each composition gets files of its own."""
    seen: dict[int, Callable] = {}
    todo = list(functions)
    while todo:
        f = todo.pop()
        if id(f) not in seen:
            seen[id(f)] = f
            todo += _bprop_functions(f)
    h = hashlib.sha256(kind.encode())
    h.update(_SOURCE_DIGEST)
    for f in functions:
        h.update(f"role {f.__module__}.{f.__qualname__};".encode())
    for f in sorted(seen.values(), key=lambda f: (f.__module__, f.__qualname__)):
        h.update(f"{f.__module__}.{f.__qualname__}".encode())
        h.update(marshal.dumps(f.__code__))
        h.update(_cell_text([c.cell_contents for c in f.__closure__ or ()]).encode())
    return h.hexdigest()


#: the source of this package's modules (the loops every kernel is built of)
_SOURCE_DIGEST = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))
).digest()


def _loop(fn: Callable) -> Callable:
    """A loop over a block: compiled as a function of its own (not inlined)."""
    return _jitable(fn, "never")


# ---------------------------------------------------------------- products of a block


@_loop
def _times(A, W, out, m):
    """out[:m] = A[:m] W."""
    n_in, n_out = W.shape
    if m <= _SMALL:
        for r in range(m):
            for j in range(n_out):
                out[r, j] = 0.0
            for i in range(n_in):
                a = A[r, i]
                for j in range(n_out):
                    out[r, j] += a * W[i, j]
    else:
        np.dot(A[:m], W, out[:m])


@_loop
def _weight_gradient(A, delta, gW, m):
    """gW = A[:m]^T delta[:m]."""
    n_in, n_out = gW.shape
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


@_loop
def _times_transposed(delta, W, below, m):
    """below[:m] = delta[:m] W^T (dE/do of the layer below)."""
    n_in, n_out = W.shape
    if m <= _SMALL:
        for r in range(m):
            for i in range(n_in):
                s = 0.0
                for j in range(n_out):
                    s += delta[r, j] * W[i, j]
                below[r, i] = s
    else:
        np.dot(delta[:m], W.T, below[:m])


@_loop
def _bias_gradient(delta, gb, m):
    """gb = sum over the block's rows of delta."""
    for j in range(gb.shape[0]):
        gb[j] = 0.0
    for r in range(m):
        for j in range(gb.shape[0]):
            gb[j] += delta[r, j]


def _coefficient_reader(n: int) -> Callable:
    """A module-level function c -> (c[0], ..., c[n-1]) (a tuple: in registers in loops).

    Module-level so that the kernels' closures hold it by reference: numba's cache key
    pickles the closures, and numba's own intrinsics pickle with a per-process uuid."""

    def read(c):
        return to_fixed_tuple(c, n)

    read.__name__ = read.__qualname__ = f"_coefficients_{n}"
    globals()[read.__name__] = read
    return _jitable(read)


_COEFFICIENTS = {n: _coefficient_reader(n) for n in range(1, 17)}


def _no_metric(o, t, r, threshold):
    return 0.0


def _nothing(x):
    return 0.0


def _zero_derivative(net, o):
    return 0.0


# ---------------------------------------------------------------- composition


@functools.cache
def _elementwise_forward(phi):
    def forward(A, W, b, net, o, m, aux):
        """net = A W + b ; o = phi(net), the bias added in the activation's pass."""
        _times(A, W, net, m)
        for r in range(m):
            for j in range(W.shape[1]):
                x = net[r, j] + b[j]
                net[r, j] = x
                o[r, j] = phi(x)

    return _jitable(forward, "never")


@functools.cache
def _row_forward(row):
    def forward(A, W, b, net, o, m, aux):
        """net = A W + b ; o[r] = phi(net[r]) per row, aux[r] the row form's value."""
        _times(A, W, net, m)
        for r in range(m):
            for j in range(W.shape[1]):
                net[r, j] += b[j]
            aux[r] = row(net, o, r)

    return _jitable(forward, "never")


@functools.cache
def _elementwise_backward(dphi):
    def backward(below, net, o, gb, m):
        """below = phi'(net) * below (dE/do -> delta), its row sum into gb in the same pass."""
        for i in range(gb.shape[0]):
            gb[i] = 0.0
        for r in range(m):
            for i in range(gb.shape[0]):
                v = below[r, i] * dphi(net[r, i], o[r, i])
                below[r, i] = v
                gb[i] += v

    return _jitable(backward, "never")


@functools.cache
def _select_forward(fns):
    """forward of hidden activation number i of the distinct ones (nested by two)."""
    first = fns[0]
    if len(fns) == 1:

        def forward(i, A, W, b, net, o, m, aux):
            first(A, W, b, net, o, m, aux)

    else:
        rest = _select_forward(fns[1:])

        def forward(i, A, W, b, net, o, m, aux):
            if i == 0:
                first(A, W, b, net, o, m, aux)
            else:
                rest(i - 1, A, W, b, net, o, m, aux)

    return _jitable(forward, "never")


@functools.cache
def _select_backward(fns):
    first = fns[0]
    if len(fns) == 1:

        def backward(i, below, net, o, gb, m):
            first(below, net, o, gb, m)

    else:
        rest = _select_backward(fns[1:])

        def backward(i, below, net, o, gb, m):
            if i == 0:
                first(below, net, o, gb, m)
            else:
                rest(i - 1, below, net, o, gb, m)

    return _jitable(backward, "never")


@functools.cache
def _element_delta(loss_element, dphi):
    def output_delta(o, net, t, delta, m, aux):
        """delta_k = dE_p/do_k phi'(net_k); returns sum_p E_p."""
        K = o.shape[1]
        E = 0.0
        for r in range(m):
            for k in range(K):
                e, g = loss_element(o[r, k], t[r, k], K)
                E += e
                delta[r, k] = g * dphi(net[r, k], o[r, k])
        return E

    return _jitable(output_delta, "never")


@functools.cache
def _fused_delta(row):
    def output_delta(o, net, t, delta, m, aux):
        """delta in closed form, row by row; returns sum_p E_p."""
        E = 0.0
        for r in range(m):
            E += row(o, t, net, delta, r, aux[r])
        return E

    return _jitable(output_delta, "never")


@functools.cache
def _count(row):
    def count(o, t, m, threshold):
        correct = 0.0
        for r in range(m):
            correct += row(o, t, r, threshold)
        return correct

    return _jitable(count, "never")


@functools.cache
def _update(begin, element, n_coefficients):
    coefficients = _COEFFICIENTS[n_coefficients]

    def update(params, grad, inv_m, m, decay, decay_sum, h, S, delta_w, t, c, last):
        """g from the gradient sum, then w += the rule's step; returns (L2 penalty term, t).

        Without decay g = grad / |B|. With decay (lambda on weights, 0 on biases) and the
        penalty P = lambda/2 ||w||^2 at the block's starting weights: 'mean' scaling
        (decay_sum False) g = grad / |B| + lambda w, returning P |B|; 'sum' scaling
        g = (grad + lambda w) / |B|, returning P (``Trainer._update``, ``epoch_penalty``).
        On the ``last`` block g is left in ``grad``, as the NumPy path leaves it, and the
        step in the rule's ``delta_w``; the blocks before write neither (the next block
        overwrites grad, and no update reads delta_w), which saves a pass over memory.
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
        t = begin(h, t, c)
        cc = coefficients(c)  # in registers through the loop
        if last:
            for q in range(params.shape[0]):
                g = grad[q] * scale
                grad[q] = g
                dw = element(g, q, S, cc)
                params[q] += dw
                delta_w[q] = dw
        else:  # the next block overwrites grad: g stays in a register
            for q in range(params.shape[0]):
                params[q] += element(grad[q] * scale, q, S, cc)
        return penalty, t

    return _jitable(update, "never")


def _epoch(
    hidden_forward, hidden_backward, output_forward, output_delta, count, update, n_coef, token
):
    def run_epoch(
        X, T, order, batch, params, grad, w_off, b_off, sizes, hidden, h, decay, decay_sum,
        S, delta_w, t, threshold,
    ):  # fmt: skip
        """One epoch over the patterns ``X[order]`` in blocks of ``batch`` rows.

        ``params``/``grad`` are the network's flat arrays, layer l's W at ``w_off[l]``
        (shape sizes[l] x sizes[l+1]) and b at ``b_off[l]``; ``hidden[l]`` numbers hidden
        layer l's activation among the distinct ones the kernel was built for. ``h``,
        ``S``, ``delta_w`` and ``t`` are the rule's scalars, state arrays, last step and
        step count; ``decay`` is lambda at weights and 0 at biases (empty: no decay),
        ``decay_sum`` its scaling. Returns (sum_p E_p, number of correctly classified
        patterns, sum of the blocks' L2 penalties as ``Trainer.epoch_penalty`` counts
        them, the rule's step count t).
        """
        version = token  # noqa: F841 - ties the cached machine code to the definitions
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
        xb = np.empty((B, sizes[0]), dtype)
        tb = np.empty((B, sizes[L]), dtype)
        inv_m = np.empty(1, dtype)
        c = np.zeros(n_coef, dtype)
        aux = np.zeros(B, np.float64)
        E_sum = 0.0
        correct = 0.0
        penalty = 0.0
        for start in range(0, n, B):
            m = min(B, n - start)
            for r in range(m):
                p = order[start + r]
                for col in range(xb.shape[1]):
                    xb[r, col] = X[p, col]
                for col in range(tb.shape[1]):
                    tb[r, col] = T[p, col]
            A = xb
            for k in range(L - 1):
                hidden_forward(hidden[k], A, Ws[k], bs[k], nets[k], outs[k], m, aux)
                A = outs[k]
            top = L - 1
            output_forward(A, Ws[top], bs[top], nets[top], outs[top], m, aux)
            E_sum += output_delta(outs[top], nets[top], tb, deltas[top], m, aux)
            correct += count(outs[top], tb, m, threshold)
            _bias_gradient(deltas[top], gbs[top], m)
            for k in range(top, -1, -1):
                if k > 0:
                    _weight_gradient(outs[k - 1], deltas[k], gWs[k], m)
                    _times_transposed(deltas[k], Ws[k], deltas[k - 1], m)
                    hidden_backward(
                        hidden[k - 1], deltas[k - 1], nets[k - 1], outs[k - 1], gbs[k - 1], m
                    )
                else:
                    _weight_gradient(xb, deltas[k], gWs[k], m)
            inv_m[0] = 1.0 / m  # rounded to the network's dtype, as NumPy does
            pen, t = update(
                params, grad, inv_m[0], m, decay, decay_sum, h, S, delta_w, t, c,
                start + B >= n,
            )  # fmt: skip
            penalty += pen
        return E_sum, correct, penalty, t

    return cached_kernel(run_epoch, token)


def cached_kernel(fn: Callable, token: str) -> Callable:
    """``fn`` compiled by numba with an on-disk cache of its own: renamed
    ``<name>_<token[:24]>`` first.

    numba names a function's cache files (an index and the machine code of each
    signature) after its qualified name and line. Every composition is the same inner
    function at the same line, so under one name the compositions shared one index, and
    two processes compiling different compositions at once (pytest-xdist workers) could
    each write machine code under the index entry of the other: a kernel of one
    composition was then loaded for another. With the token in the name, each
    composition has its own files; one composition compiled twice gives the same code."""
    fn.__name__ = fn.__qualname__ = f"{fn.__name__}_{token[:24]}"
    # nogil: the kernel touches arrays only, so other threads run meanwhile (the prefetch
    # thread decoding the next row group, a Dask worker's other tasks)
    return nb.njit(cache=True, nogil=True, **_OPTIONS)(fn)


def compose(hidden, output, loss_element, loss_fused, metric) -> tuple[tuple, list]:
    """The compiled loops of a network's forms, (hidden forward, hidden backward, output
    forward, output delta, count), and the definitions they come from (for the token)."""
    definitions: list[Callable] = [f for form in hidden for f in (form.forward, form.derivative)]
    hidden_fwd = tuple(_elementwise_forward(_jitable(f.forward)) for f in hidden)
    hidden_bwd = tuple(_elementwise_backward(_jitable(f.derivative)) for f in hidden)
    if not hidden:  # no hidden layer: never called, but the kernel must type
        hidden_fwd = (_elementwise_forward(_jitable(_nothing)),)
        hidden_bwd = (_elementwise_backward(_jitable(_zero_derivative)),)
    if loss_fused is not None:
        definitions.append(loss_fused)
        out_delta = _fused_delta(_jitable(loss_fused))
    else:
        definitions.append(loss_element)
        out_delta = _element_delta(_jitable(loss_element), _jitable(output.derivative))
    if isinstance(output, ElementwiseForm):
        definitions += [output.forward, output.derivative]
        out_fwd = _elementwise_forward(_jitable(output.forward))
    else:
        definitions.append(output.forward)
        out_fwd = _row_forward(_jitable(output.forward))
    metric = _no_metric if metric is None else metric
    definitions.append(metric)
    loops = (_select_forward(hidden_fwd), _select_backward(hidden_bwd), out_fwd, out_delta)
    return (*loops, _count(_jitable(metric))), definitions


def build(hidden, output, loss_element, loss_fused, metric, step) -> Callable:
    """The compiled epoch kernel for these compiled forms.

    ``hidden``: the distinct :class:`~bprop.core.activations.ElementwiseForm` of the hidden
    layers (possibly none); ``output``: the output layer's ElementwiseForm or RowForm;
    ``loss_element`` (with an elementwise output) or ``loss_fused`` (the loss's fused row
    for this output): one of them, the other None; ``metric``: the accuracy row function
    or None; ``step``: the rule's :class:`~bprop.optim.base.StepForm`.
    """
    loops, definitions = compose(hidden, output, loss_element, loss_fused, metric)
    definitions += [step.begin, step.element]
    update = _update(_jitable(step.begin), _jitable(step.element), step.n_coefficients)
    return _epoch(*loops, update, step.n_coefficients, _token("epoch", definitions))


def elementwise_array(fn: Callable) -> Callable:
    """A compiled ``f(x, out)``: out[i] = fn(x[i]) for 1-D arrays (to test scalar forms)."""
    element = _jitable(fn)

    def apply(x, out):
        for i in range(x.shape[0]):
            out[i] = element(x[i])

    return nb.njit(**_OPTIONS)(apply)
