"""The flat parameter layout: one definition of where W_l and b_l live."""

from __future__ import annotations

import numpy as np
import pytest

from bprop import Network
from bprop.core.jacobian import output_jacobian
from bprop.core.layout import LayerSlice, ParameterLayout


def test_offsets_of_a_three_layer_network():
    layout = ParameterLayout((3, 4, 2))
    assert layout.layers == (LayerSlice(3, 4, 0, 12), LayerSlice(4, 2, 16, 24))
    assert layout.layers[1].end == 26 == layout.n_params
    w, b, sizes = layout.offset_arrays()
    assert w.tolist() == [0, 16] and b.tolist() == [12, 24] and sizes.tolist() == [3, 4, 2]
    assert w.dtype == b.dtype == sizes.dtype == np.int64
    mask = layout.weight_mask()
    assert mask.sum() == 12 + 8 and not mask[12:16].any() and not mask[24:].any()


def test_views_are_row_major_windows_of_the_flat_vector():
    layout = ParameterLayout((2, 3, 1))
    flat = np.arange(layout.n_params, dtype=float)
    (W0, W1), (b0, b1) = layout.views(flat)
    assert W0.tolist() == [[0, 1, 2], [3, 4, 5]] and b0.tolist() == [6, 7, 8]
    assert W1.tolist() == [[9], [10], [11]] and b1.tolist() == [12]
    W0[1, 2] = -1.0
    assert flat[5] == -1.0  # a view, not a copy
    with pytest.raises(ValueError, match="flat array of 13 values"):
        layout.views(np.zeros(12))


def test_the_network_and_the_jacobian_use_the_layout():
    net = Network([3, 4, 2], "tanh", "identity", seed=0)
    layout = net.layout
    assert layout == ParameterLayout((3, 4, 2)) and net.n_params == layout.n_params
    for W, b, s in zip(net.weights, net.biases, layout.layers, strict=True):
        np.testing.assert_array_equal(W.ravel(), net.params[s.weight_offset : s.bias_offset])
        np.testing.assert_array_equal(b, net.params[s.bias_offset : s.end])
    np.testing.assert_array_equal(net.weight_mask(), layout.weight_mask())
    # Jacobian columns: the bias of output k of the last layer has d o_k / d b_k = 1.
    X = np.random.default_rng(0).standard_normal((5, 3))
    _, J = output_jacobian(net, X)
    last = layout.layers[-1]
    np.testing.assert_array_equal(J[:, 0, last.bias_offset], 1.0)
    np.testing.assert_array_equal(J[:, 0, last.bias_offset + 1], 0.0)
