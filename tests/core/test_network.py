"""Network construction, the flat parameter layout, forward pass and input checks."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from bprop import Network


def test_parameters_live_in_one_flat_array_with_layer_views():
    net = Network([3, 4, 2], "tanh", "identity", seed=0)
    assert net.n_params == 3 * 4 + 4 + 4 * 2 + 2
    assert [W.shape for W in net.weights] == [(3, 4), (4, 2)]
    assert [b.shape for b in net.biases] == [(4,), (2,)]
    for view in (*net.weights, *net.biases, *net.weight_grads, *net.bias_grads):
        assert view.base is net.params or view.base is net.grad
    net.weights[1][2, 1] = 7.0  # writing a view writes the flat array
    assert 7.0 in net.params
    net.params[:] = 0.0  # and the other way round
    assert not np.any(net.weights[0])


def test_layer_views_cannot_be_replaced_by_accident():
    net = Network([2, 2, 1])
    with pytest.raises(TypeError):
        net.weights[0] = np.zeros((2, 2))  # tuple: assign into the view instead


def test_forward_computes_net_and_outputs_layer_by_layer(rng):
    net = Network([3, 4, 2], "tanh", "logistic", seed=1)
    X = rng.normal(size=(5, 3))
    out = net.forward(X)
    net1 = X @ net.weights[0] + net.biases[0]
    o1 = np.tanh(net1)
    net2 = o1 @ net.weights[1] + net.biases[1]
    np.testing.assert_allclose(net.nets[0], net1, rtol=1e-14)
    np.testing.assert_allclose(net.outputs[0], o1, rtol=1e-14)
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-net2)), rtol=1e-14)


def test_any_depth_and_per_layer_activations(rng):
    net = Network([4, 8, 7, 6, 5, 3], ["relu", "tanh", "softplus", "gaussian"], "softmax", seed=2)
    out = net.predict(rng.normal(size=(10, 4)))
    assert out.shape == (10, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert [a.name for a in net.activations] == ["relu", "tanh", "softplus", "gaussian", "softmax"]


def test_from_weights_round_trips_and_copies():
    net = Network([2, 3, 1], "tanh", "identity", seed=3)
    clone = Network.from_weights(net.weights, net.biases, "tanh", "identity")
    np.testing.assert_array_equal(clone.params, net.params)
    copy = net.copy()
    copy.params[0] += 1
    assert copy.params[0] != net.params[0]


def test_same_seed_same_weights_and_different_seed_different():
    a, b, c = (Network([5, 6, 2], seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)


def test_float32_end_to_end(rng):
    net = Network([3, 4, 2], "tanh", "softmax", dtype=np.float32, seed=0)
    assert net.params.dtype == np.float32 and net.grad.dtype == np.float32
    assert net.predict(rng.normal(size=(4, 3))).dtype == np.float32


def test_predict_in_blocks_equals_one_block(rng):
    net = Network([3, 5, 2], "tanh", "identity", seed=0)
    X = rng.normal(size=(103, 3))
    np.testing.assert_array_equal(net.predict(X, batch_size=10), net.predict(X))


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ([3], "at least an input and an output"),
        ([3, 0, 1], "positive integers"),
        ([3, -2, 1], "positive integers"),
        ([3, 2.5, 1], "positive integers"),
    ],
)
def test_bad_sizes(sizes, message):
    with pytest.raises(ValueError, match=message):
        Network(sizes)


def test_unknown_names_are_named_in_the_error():
    with pytest.raises(ValueError, match="unknown activation 'sigmod'.*logistic"):
        Network([2, 2, 1], "sigmod")
    with pytest.raises(ValueError, match="unknown initializer 'xavir'"):
        Network([2, 2, 1], init="xavir")
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        Network([2, 2, 1], dtype=np.int32)
    with pytest.raises(ValueError, match="2 hidden activations for 1 hidden layers"):
        Network([2, 2, 1], ["tanh", "relu"])


def test_from_weights_checks_shapes():
    with pytest.raises(ValueError, match=r"weights\[1\] has shape \(3, 1\); expected \(2, n_out\)"):
        Network.from_weights([np.zeros((2, 2)), np.zeros((3, 1))], [np.zeros(2), np.zeros(1)])
    with pytest.raises(ValueError, match=r"biases\[0\] has shape"):
        Network.from_weights([np.zeros((2, 2))], [np.zeros(3)])
    with pytest.raises(ValueError, match="finite"):
        Network.from_weights([np.full((2, 1), np.nan)], [np.zeros(1)])


def test_predict_checks_its_input():
    net = Network([3, 2, 1])
    with pytest.raises(ValueError, match="X has 2 columns but the network has 3 inputs"):
        net.predict(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.predict(np.array([[0.0, np.inf, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        net.predict(np.zeros((2, 3, 1)))
    with pytest.raises(ValueError, match="numeric"):
        net.predict(np.array([["a", "b", "c"]]))


def test_weight_mask_marks_weights_not_biases():
    net = Network([2, 3, 1])
    mask = net.weight_mask()
    assert mask.sum() == 2 * 3 + 3 * 1
    net.params[:] = 0
    net.params[~mask] = 1
    assert all(np.all(b == 1) for b in net.biases)
    assert all(np.all(W == 0) for W in net.weights)


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_pickled_and_deep_copied_networks_keep_their_layer_views(rng, how):
    """NumPy copies views one by one: a restored network must rebuild them on params."""
    net = Network([3, 4, 2], "tanh", "identity", seed=0)
    X = rng.normal(size=(5, 3))
    net.predict(X)  # fill the work buffers
    back = pickle.loads(pickle.dumps(net)) if how == "pickle" else copy.deepcopy(net)
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    for view in (*back.weights, *back.biases):
        assert np.shares_memory(view, back.params)
    for view in (*back.weight_grads, *back.bias_grads):
        assert np.shares_memory(view, back.grad)
    back.params[:] = 0.0  # an update to params changes the predictions
    np.testing.assert_array_equal(back.predict(X), np.zeros((5, 2)))
    assert not np.shares_memory(back.params, net.params)


def test_release_drops_the_last_input_and_the_work_arrays():
    net = Network([3, 4, 2], "tanh", "identity", seed=0)
    X = np.random.default_rng(0).normal(size=(5, 3))
    before = net.forward(X).copy()
    net.release()
    assert net._X is None and net._buffers == {}
    np.testing.assert_array_equal(net.forward(X), before)  # the next pass rebuilds them
