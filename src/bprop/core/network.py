"""The feedforward network: forward pass, and the backward pass of deltas.

Notation (the seeds' notation, used in names below where it reads well):

- ``o_i``      output of unit i (for the input layer, the input x_i itself);
- ``w_ij``     weight from unit i of one layer to unit j of the next; ``b_j`` bias of j;
- ``net_j``    net input of unit j:  net_j = sum_i w_ij o_i + b_j;
- ``o_j``      = phi(net_j), phi the layer's activation;
- ``delta_j``  **= dE/dnet_j**, the derivative of the error with respect to the net input
  of unit j. This is the one definition of delta in bprop.

The generalised delta rule, for a whole batch of patterns at once (rows are patterns):

- output layer: delta_k = dE/dnet_k, from the loss (``Loss.output_delta``);
- hidden layer: delta_j = phi'(net_j) * sum_l w_jl delta_l  (l over the layer above);
- gradient:     dE/dw_ij = sum_p o_i delta_j,   dE/db_j = sum_p delta_j.

Gradients are **sums over the patterns** of the batch (optionally weighted), so that
blocks can be added in any order; the trainer divides by the weight total.

Layout: all weights and biases live in one flat array ``params``; layer l's W (shape
(n_in, n_out), W[i, j] = w_ij) and b are views into it, in the order W_0, b_0, W_1, b_1,
... (:class:`~bprop.core.layout.ParameterLayout`, ``network.layout``). The gradient
``grad`` has the same layout. Activation and delta buffers are allocated
once per batch size and reused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from bprop.core.activations import Activation, get_activation
from bprop.core.init import get_initializer
from bprop.core.layout import ParameterLayout
from bprop.core.losses import Loss
from bprop.files import write_container

__all__ = ["Network", "as_float_dtype"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_dtype(dtype: object) -> np.dtype:
    """float32 or float64 from a dtype-like; anything else is a ValueError."""
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        dt = None
    if dt not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"a network needs at least an input and an output layer size, got {sizes!r}"
        )
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s <= 0:
            raise ValueError(f"layer sizes must be positive integers, got {s!r} in {sizes!r}")
    return tuple(int(s) for s in sizes)


class _Buffers:
    """Per-batch-size work arrays: net inputs, outputs and deltas of every layer."""

    def __init__(self, n: int, sizes: tuple[int, ...], dtype: np.dtype) -> None:
        self.net = [np.empty((n, s), dtype) for s in sizes[1:]]
        self.o = [np.empty((n, s), dtype) for s in sizes[1:]]
        self.delta = [np.empty((n, s), dtype) for s in sizes[1:]]


class Network:
    """A multilayer feedforward network with biases.

    Parameters
    ----------
    sizes:
        Units per layer, input first: ``(2, 2, 1)`` is the XOR network 2-2-1.
    hidden_activation:
        Activation of the hidden layers: a name ('logistic', 'tanh', 'identity', 'relu',
        'leaky_relu', 'softmax', 'gaussian', 'softplus'), an :class:`Activation`, or a list
        with one per hidden layer.
    output_activation:
        Activation of the output layer.
    init:
        Initialiser name (see :mod:`bprop.core.init`) or callable ``(rng, n_in, n_out, dtype)``.
    seed:
        Seed (or a ``numpy.random.Generator``) for the initial weights.
    dtype:
        float64 (default) or float32; every array of the network has it.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        hidden_activation: str | Activation | Sequence[str | Activation] = "logistic",
        output_activation: str | Activation = "logistic",
        *,
        init: str | object = "xavier_uniform",
        seed: int | np.random.Generator | None = None,
        dtype: object = np.float64,
    ) -> None:
        self.sizes = _check_sizes(sizes)
        self.dtype = as_float_dtype(dtype)
        n_hidden = len(self.sizes) - 2
        if isinstance(hidden_activation, str | Activation | dict):
            hidden = [get_activation(hidden_activation) for _ in range(n_hidden)]
        else:
            hidden = [get_activation(a) for a in hidden_activation]
            if len(hidden) != n_hidden:
                raise ValueError(
                    f"got {len(hidden)} hidden activations for {n_hidden} hidden layers"
                )
        self.activations: tuple[Activation, ...] = (*hidden, get_activation(output_activation))
        self._allocate()
        self.initialize(init, seed)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_weights(
        cls,
        weights: Sequence[np.ndarray],
        biases: Sequence[np.ndarray],
        hidden_activation: str | Activation | Sequence[str | Activation] = "logistic",
        output_activation: str | Activation = "logistic",
        *,
        dtype: object = None,
    ) -> Network:
        """A network with explicit weights: ``weights[l]`` has shape (n_in, n_out), W[i, j] = w_ij.

        This reproduces a worked example exactly. ``dtype`` defaults to float64.
        """
        Ws = [np.asarray(W) for W in weights]
        bs = [np.asarray(b) for b in biases]
        if len(Ws) == 0 or len(Ws) != len(bs):
            raise ValueError(f"need one bias vector per weight matrix, got {len(Ws)} and {len(bs)}")
        sizes = [Ws[0].shape[0] if Ws[0].ndim == 2 else -1]
        for layer, (W, b) in enumerate(zip(Ws, bs, strict=True)):
            if W.ndim != 2 or W.shape[0] != sizes[-1]:
                raise ValueError(
                    f"weights[{layer}] has shape {W.shape}; expected ({sizes[-1]}, n_out)"
                )
            if b.shape != (W.shape[1],):
                raise ValueError(f"biases[{layer}] has shape {b.shape}; expected ({W.shape[1]},)")
            sizes.append(W.shape[1])
        net = cls(
            sizes,
            hidden_activation,
            output_activation,
            init=_zeros_init,
            dtype=np.float64 if dtype is None else dtype,
        )
        for layer, (W, b) in enumerate(zip(Ws, bs, strict=True)):
            net.weights[layer][...] = W
            net.biases[layer][...] = b
        if not np.all(np.isfinite(net.params)):
            raise ValueError("weights and biases must be finite")
        return net

    def _allocate(self) -> None:
        self.layout = ParameterLayout(self.sizes)
        self.n_params = self.layout.n_params
        self.params = np.zeros(self.n_params, self.dtype)
        self.grad = np.zeros(self.n_params, self.dtype)
        self.weights, self.biases = self.layout.views(self.params)
        self.weight_grads, self.bias_grads = self.layout.views(self.grad)
        self._buffers: dict[int, _Buffers] = {}
        self._X: np.ndarray | None = None
        self._n = 0

    def _views(self, flat: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        return self.layout.views(flat)

    def initialize(self, init: str | object = "xavier_uniform", seed=None) -> None:
        """Draw new weights with an initialiser from a seed or Generator."""
        initializer = get_initializer(init)  # type: ignore[arg-type]
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        for layer, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            W, b = initializer(rng, n_in, n_out, self.dtype)
            self.weights[layer][...] = W
            self.biases[layer][...] = b

    # ------------------------------------------------------------------ properties
    @property
    def n_inputs(self) -> int:
        return self.sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    @property
    def n_layers(self) -> int:
        """Layers of weights (hidden layers + 1)."""
        return len(self.sizes) - 1

    @property
    def output_activation(self) -> Activation:
        return self.activations[-1]

    def weight_mask(self) -> np.ndarray:
        """A flat boolean array: True at weights, False at biases (for weight decay)."""
        return self.layout.weight_mask()

    def copy(self) -> Network:
        """An independent copy with the same architecture and weights."""
        new = Network.from_weights(
            self.weights, self.biases, self.activations[:-1], self.activations[-1], dtype=self.dtype
        )
        return new

    def config(self) -> dict:
        """The architecture as plain data (sizes, activations, dtype)."""
        return {
            "sizes": list(self.sizes),
            "activations": [a.config() for a in self.activations],
            "dtype": self.dtype.name,
        }

    def named_tensors(self) -> dict[str, np.ndarray]:
        """The parameters as model-file tensors: ``layers.{l}.weight`` and ``layers.{l}.bias``."""
        tensors: dict[str, np.ndarray] = {}
        for layer, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            tensors[f"layers.{layer}.weight"] = W
            tensors[f"layers.{layer}.bias"] = b
        return tensors

    def save(self, path: str | os.PathLike, loss: str | None = None) -> None:
        """Write the network to a model file (safetensors + JSON header; see :mod:`bprop.files`).

        Atomic: an interrupted save leaves any previous file intact. ``bprop.load`` reads it.
        """
        if not np.all(np.isfinite(self.params)):
            raise ValueError("cannot save a network with NaN or infinite weights")
        write_container(
            path, "network", {"network": self.config(), "loss": loss}, self.named_tensors()
        )

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict:
        """Without the views (NumPy pickles a view as a copy) and buffers: rebuilt on load."""
        state = dict(self.__dict__)
        for key in ("weights", "biases", "weight_grads", "bias_grads", "_buffers", "_X"):
            state.pop(key, None)
        state["_n"] = 0
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "layout" not in state:  # pickled before networks kept their layout
            self.layout = ParameterLayout(self.sizes)
        self.weights, self.biases = self._views(self.params)
        self.weight_grads, self.bias_grads = self._views(self.grad)
        self.release()

    def __repr__(self) -> str:
        acts = ", ".join(a.name for a in self.activations)
        return f"Network(sizes={self.sizes}, activations=[{acts}], dtype={self.dtype.name})"

    def release(self) -> None:
        """Drop the work arrays and the reference to the last input X (between fits: a
        fitted model holds no rows of its data)."""
        self._buffers = {}
        self._X = None
        self._n = 0

    # ------------------------------------------------------------------ forward
    def buffers(self, n: int) -> _Buffers:
        """The work arrays for a batch of n patterns (created once, then reused)."""
        buf = self._buffers.get(n)
        if buf is None:
            if len(self._buffers) >= 4:  # a few batch shapes at most; drop the oldest
                self._buffers.pop(next(iter(self._buffers)))
            buf = self._buffers[n] = _Buffers(n, self.sizes, self.dtype)
        return buf

    def forward(self, X: np.ndarray) -> np.ndarray:
        """net_j = sum_i w_ij o_i + b_j and o_j = phi(net_j), layer by layer.

        ``X`` has shape (n, n_inputs) and the network's dtype (not checked: this is the
        inner loop; :meth:`predict` checks). Returns the output layer's o, a buffer that
        the next call overwrites; net inputs and outputs of every layer stay available
        as ``nets`` and ``outputs`` until then, for :meth:`backward`.
        """
        n = X.shape[0]
        buf = self.buffers(n)
        o_prev = X
        for W, b, act, net, o in zip(
            self.weights, self.biases, self.activations, buf.net, buf.o, strict=True
        ):
            np.matmul(o_prev, W, out=net)
            net += b
            act.forward(net, o)
            o_prev = o
        self._X, self._n = X, n
        return o_prev

    @property
    def nets(self) -> list[np.ndarray]:
        """net inputs of each layer from the last forward pass."""
        return self.buffers(self._n).net

    @property
    def outputs(self) -> list[np.ndarray]:
        """Outputs o of each layer from the last forward pass."""
        return self.buffers(self._n).o

    @property
    def deltas(self) -> list[np.ndarray]:
        """delta = dE/dnet of each layer from the last backward pass."""
        return self.buffers(self._n).delta

    # ------------------------------------------------------------------ backward
    def backward(self, sample_weight: np.ndarray | None = None) -> np.ndarray:
        """The generalised delta rule, from the output deltas already in ``deltas[-1]``.

        Before calling, the output layer's delta (dE_p/dnet_k per pattern) must be in
        ``self.deltas[-1]`` (``Loss.output_delta`` writes it there via :meth:`gradient`).
        Computes delta_j = phi'(net_j) sum_l w_jl delta_l for every hidden layer, and the
        gradient dE/dw_ij = sum_p s_p o_i delta_j, dE/db_j = sum_p s_p delta_j into ``grad``
        (s_p the sample weights, 1 by default; the output deltas are scaled by them in
        place). Returns ``grad``.
        """
        buf = self.buffers(self._n)
        deltas = buf.delta
        if sample_weight is not None:
            deltas[-1] *= sample_weight[:, None]
        for layer in range(self.n_layers - 1, -1, -1):
            delta = deltas[layer]
            o_prev = self._X if layer == 0 else buf.o[layer - 1]
            np.matmul(o_prev.T, delta, out=self.weight_grads[layer])
            np.sum(delta, axis=0, out=self.bias_grads[layer])
            if layer > 0:
                below = deltas[layer - 1]
                W = self.weights[layer]
                if W.shape[1] == 1:  # one unit above: an outer product, 3x faster broadcast
                    np.multiply(delta, W.T, out=below)
                else:
                    np.matmul(delta, W.T, out=below)  # dE/do of the layer below
                self.activations[layer - 1].backward(
                    below, buf.net[layer - 1], buf.o[layer - 1], out=below
                )
        return self.grad

    def gradient(
        self,
        X: np.ndarray,
        T: np.ndarray,
        loss: Loss,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        """Forward, loss and backward for one block of patterns.

        Returns E = sum_p s_p E_p (a sum, not a mean) and leaves dE/dparams in ``grad``.
        """
        o = self.forward(X)
        buf = self.buffers(X.shape[0])
        E = loss.total(o, T, buf.net[-1], self.activations[-1], sample_weight)
        loss.output_delta(o, T, buf.net[-1], self.activations[-1], out=buf.delta[-1])
        self.backward(sample_weight)
        return E

    # ------------------------------------------------------------------ prediction
    def predict(self, X: np.ndarray, batch_size: int = 65536) -> np.ndarray:
        """The network's outputs for X, in a new array, computed in blocks of rows.

        Checks X (2-D, n_inputs columns, finite) and converts it to the network's dtype.
        """
        X = self.check_input(X)
        out = np.empty((X.shape[0], self.n_outputs), self.dtype)
        for start in range(0, X.shape[0], batch_size):
            stop = start + batch_size
            out[start:stop] = self.forward(X[start:stop])
        return out

    __call__ = predict

    def check_input(self, X: object, name: str = "X") -> np.ndarray:
        """X as a 2-D array of the network's dtype, or a ValueError saying what is wrong."""
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise ValueError(f"{name} must be numeric, got an array of dtype {X.dtype}")
        if X.ndim == 1 and self.n_inputs == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (patterns x inputs), got shape {X.shape}")
        if X.shape[1] != self.n_inputs:
            raise ValueError(
                f"{name} has {X.shape[1]} columns but the network has {self.n_inputs} inputs"
            )
        X = np.ascontiguousarray(X, dtype=self.dtype)
        # In blocks of rows: a boolean mask of all of X would cost a quarter of its size.
        rows = max(1, (1 << 20) // max(1, X.shape[1]))
        for start in range(0, X.shape[0], rows):
            if not np.all(np.isfinite(X[start : start + rows])):
                raise ValueError(f"{name} contains NaN or infinite values")
        return X


def _zeros_init(rng, n_in, n_out, dtype):
    return np.zeros((n_in, n_out), dtype), np.zeros(n_out, dtype)
