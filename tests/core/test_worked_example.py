"""A published worked example, reproduced to the digits it prints.

Matt Mazur, "A Step by Step Backpropagation Example" (2015,
mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/): a 2-2-2 logistic
network, E = sum 1/2 (t - o)^2, learning rate 0.5, one pattern x = (0.05, 0.10),
t = (0.01, 0.99). The post updates the weights w1..w8 but leaves the biases b1, b2 fixed
(and shares one bias per layer), so the last check updates the weights only.
"""

from __future__ import annotations

import numpy as np
import pytest

from bprop import GradientDescent, Network, get_loss

# Mazur's w1..w4 (input -> hidden) and w5..w8 (hidden -> output), in bprop's W[i, j] = w_ij.
W_HIDDEN = np.array([[0.15, 0.25], [0.20, 0.30]])  # w1: i1->h1, w2: i2->h1, w3: i1->h2, w4: i2->h2
W_OUTPUT = np.array([[0.40, 0.50], [0.45, 0.55]])  # w5: h1->o1, w6: h2->o1, w7: h1->o2, w8: h2->o2
X = np.array([[0.05, 0.10]])
T = np.array([[0.01, 0.99]])


@pytest.fixture
def net() -> Network:
    return Network.from_weights(
        [W_HIDDEN, W_OUTPUT], [np.full(2, 0.35), np.full(2, 0.60)], "logistic", "logistic"
    )


def agrees(value: float, printed: str) -> bool:
    """value rounded to as many decimals as the post prints equals the printed number."""
    decimals = len(printed.split(".")[1])
    return f"{value:.{decimals}f}" == printed


def test_forward_pass_matches_the_printed_numbers(net):
    out = net.forward(X)
    assert agrees(net.nets[0][0, 0], "0.3775")  # net_h1
    assert agrees(net.outputs[0][0, 0], "0.593269992")  # out_h1
    assert agrees(net.outputs[0][0, 1], "0.596884378")  # out_h2
    assert agrees(net.nets[1][0, 0], "1.105905967")  # net_o1
    assert agrees(out[0, 0], "0.75136507")  # out_o1
    assert agrees(out[0, 1], "0.772928465")  # out_o2


def test_total_error_and_gradients_match(net):
    E = net.gradient(X, T, get_loss("squared_error"))
    assert agrees(E, "0.298371109")  # E_total
    assert agrees(net.deltas[1][0, 0], "0.138498562")  # delta_o1 = dE/dnet_o1
    assert agrees(net.weight_grads[1][0, 0], "0.082167041")  # dE/dw5
    assert agrees(net.weight_grads[0][0, 0], "0.000438568")  # dE/dw1


def test_one_step_gives_the_printed_new_weights(net):
    E_before = net.gradient(X, T, get_loss("squared_error"))
    rule = GradientDescent(learning_rate=0.5)
    state = rule.init(net.n_params, net.dtype)
    step = rule.step(net.grad, state, E_before).copy()
    # Mazur updates w1..w8 only: apply the step to the weights, not the biases.
    step[~net.weight_mask()] = 0.0
    net.params += step
    w5_w8 = ["0.35891648", "0.408666186", "0.511301270", "0.561370121"]
    for value, text in zip(net.weights[1].T.ravel(), w5_w8, strict=True):
        assert agrees(value, text)
    w1_w4 = ["0.149780716", "0.19956143", "0.24975114", "0.29950229"]
    for value, text in zip(net.weights[0].T.ravel(), w1_w4, strict=True):
        assert agrees(value, text)
    # The post: "After this first round of backpropagation, the total error is now down to
    # 0.291027924". Exact arithmetic gives 0.2910277737; the post's figure differs from the
    # 7th decimal on, so we check the digits that the post and the arithmetic share.
    o = net.forward(X)
    E_after = get_loss("squared_error").total(o, T, net.nets[-1], net.output_activation)
    assert agrees(E_after, "0.291028")


def test_ten_thousand_rounds_reach_the_printed_error(net):
    # "After repeating this process 10,000 times, for example, the error plummets to
    # 0.0000351085": the error of the forward pass of the 10,000th round.
    loss = get_loss("squared_error")
    weights_only = net.weight_mask()
    for _ in range(10_000):
        E = net.gradient(X, T, loss)
        net.params[weights_only] -= 0.5 * net.grad[weights_only]
    assert agrees(E, "0.0000351085")
