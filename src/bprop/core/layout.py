"""The flat parameter layout: where each layer's W and b live in one vector.

All weights and biases of a network are stored in one flat array ``params`` (and the
gradient in ``grad``, with the same layout), layer after layer:

    params = [W_0 (row-major, n_0 x n_1), b_0 (n_1), W_1 (n_1 x n_2), b_1 (n_2), ...]

so that layer l's weight w_ij is ``params[weight_offset_l + i n_{l+1} + j]`` and its bias
b_j is ``params[bias_offset_l + j]``. Rules, the Jacobian, the compiled kernels and the
model files all address parameters through this one definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LayerSlice", "ParameterLayout"]


@dataclass(frozen=True)
class LayerSlice:
    """One layer's place in the flat vector: W at [weight_offset, bias_offset), b after it."""

    n_in: int
    n_out: int
    weight_offset: int
    bias_offset: int

    @property
    def end(self) -> int:
        """One past the layer's last bias."""
        return self.bias_offset + self.n_out


@dataclass(frozen=True)
class ParameterLayout:
    """The layout of a network with units ``sizes`` per layer (input first)."""

    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))

    @property
    def layers(self) -> tuple[LayerSlice, ...]:
        """(n_in, n_out, weight_offset, bias_offset) of every layer, first layer first."""
        out, pos = [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            out.append(LayerSlice(n_in, n_out, pos, pos + n_in * n_out))
            pos += n_in * n_out + n_out
        return tuple(out)

    @property
    def n_params(self) -> int:
        """Length of the flat vector: sum over layers of n_in n_out + n_out."""
        return sum(i * o + o for i, o in zip(self.sizes[:-1], self.sizes[1:], strict=True))

    def views(self, flat: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """Views of ``flat`` as the weight matrices (n_in, n_out) and the bias vectors."""
        if flat.shape != (self.n_params,):
            raise ValueError(f"expected a flat array of {self.n_params} values, got {flat.shape}")
        Ws = tuple(
            flat[s.weight_offset : s.bias_offset].reshape(s.n_in, s.n_out) for s in self.layers
        )
        bs = tuple(flat[s.bias_offset : s.end] for s in self.layers)
        return Ws, bs

    def weight_mask(self) -> np.ndarray:
        """A flat boolean array: True at weights, False at biases."""
        mask = np.zeros(self.n_params, bool)
        for s in self.layers:
            mask[s.weight_offset : s.bias_offset] = True
        return mask

    def offset_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weight offsets, bias offsets, sizes) as int64 arrays, for compiled loops."""
        layers = self.layers
        return (
            np.array([s.weight_offset for s in layers], np.int64),
            np.array([s.bias_offset for s in layers], np.int64),
            np.array(self.sizes, np.int64),
        )
