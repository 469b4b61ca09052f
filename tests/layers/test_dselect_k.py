"""DSelect-k: the smooth-step, the binary-encoded selectors, sparse gates on the simplex, the regularisers."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras.layers import DSelectK
from mtl_keras.layers.dselect_k import binary_codes, selector_outputs, smooth_step


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_smooth_step_closed_form():
    gamma = 2.0
    t = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], "float32")
    expected = np.where(t <= -1, 0.0, np.where(t >= 1, 1.0, -2 / gamma**3 * t**3 + 3 / (2 * gamma) * t + 0.5))
    np.testing.assert_allclose(_np(smooth_step(t, gamma)), expected, atol=1e-7)
    assert _np(smooth_step(np.float32(0.5), gamma)) == pytest.approx(0.84375)
    # Continuous first derivative: S' = 3/(2γ) − 6t²/γ³ vanishes at ±γ/2, and S(t) + S(−t) = 1.
    x = tf.constant([-1.0, -0.999, 0.0, 0.999, 1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = smooth_step(x, gamma)
    slope = _np(tape.gradient(y, x))
    np.testing.assert_allclose(slope[[0, 4]], 0.0, atol=1e-6)
    np.testing.assert_allclose(slope[[1, 3]], 0.0, atol=1e-2)
    assert slope[2] == pytest.approx(3 / (2 * gamma))
    grid = np.linspace(-2, 2, 41).astype("float32")
    np.testing.assert_allclose(_np(smooth_step(grid, gamma)) + _np(smooth_step(-grid, gamma)), 1.0, atol=1e-6)


def test_binary_codes():
    np.testing.assert_array_equal(binary_codes(4), [[0, 0], [0, 1], [1, 0], [1, 1]])
    assert binary_codes(2).shape == (2, 1) and binary_codes(5).shape == (5, 3) and binary_codes(8).shape == (8, 3)
    np.testing.assert_array_equal(binary_codes(5)[4], [1, 0, 0])


def test_selectors_are_distributions_for_a_power_of_two():
    rng = np.random.default_rng(0)
    logits = rng.uniform(-0.6, 0.6, size=(10, 3, 3)).astype("float32")  # inside and outside the cubic region
    r = _np(selector_outputs(logits, binary_codes(8), gamma=1.0))
    assert r.shape == (10, 3, 8)
    assert (r >= 0).all()
    np.testing.assert_allclose(r.sum(-1), 1.0, atol=1e-6)
    # Each r is the product distribution of independent bits with P(bit j = 1) = S(z_j).
    s = _np(smooth_step(logits[0, 0]))
    for code in itertools.product([0, 1], repeat=3):
        index = int("".join(map(str, code)), 2)
        expected = np.prod([s[j] if b else 1 - s[j] for j, b in enumerate(code)])
        assert r[0, 0, index] == pytest.approx(expected, abs=1e-6)


def _set_static_gate(layer, task, logits, weights=None):
    layer.selector_logits[task].assign(np.asarray(logits, "float32"))
    if weights is not None:
        layer.selector_weights[task].assign(np.asarray(weights, "float32"))


def test_saturated_static_gate_selects_at_most_k_experts_and_sums_to_one():
    layer = DSelectK(num_tasks=2, num_experts=8, k=2, expert_units=[3], gating="static", gamma=1.0)
    x = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    layer(x)
    # Task 0: selector 1 -> code 101 (expert 5), selector 2 -> code 010 (expert 2); logits beyond ±γ/2.
    _set_static_gate(layer, 0, [[0.7, -0.6, 2.0], [-5.0, 0.5, -0.5]], [0.3, -0.2])
    # Task 1: both selectors on expert 3 (011): one non-zero weight.
    _set_static_gate(layer, 1, [[-1.0, 1.0, 1.0], [-0.5, 0.5, 3.0]], [1.0, 0.0])
    gates = [_np(g) for g in layer.gate_weights(x)]
    alpha = np.exp([0.3, -0.2]) / np.exp([0.3, -0.2]).sum()
    expected = np.zeros(8)
    expected[5], expected[2] = alpha
    np.testing.assert_allclose(gates[0], np.broadcast_to(expected, (5, 8)), atol=1e-6)
    np.testing.assert_allclose(gates[1][:, 3], 1.0, atol=1e-6)
    for gate in gates:
        assert ((gate > 0).sum(-1) <= layer.k).all()
        np.testing.assert_allclose(gate.sum(-1), 1.0, atol=1e-6)
    experts = np.stack([_np(e(x)) for e in layer.experts], axis=1)
    np.testing.assert_allclose(_np(layer(x, task_index=0)), alpha[0] * experts[:, 5] + alpha[1] * experts[:, 2], atol=1e-5)


def test_saturated_per_example_gates_are_sparse_per_example():
    layer = DSelectK(num_tasks=2, num_experts=4, k=2, expert_units=[2])
    x = np.random.default_rng(2).normal(size=(64, 3)).astype("float32")
    layer(x)
    for task in range(2):
        dense = layer.selector_logits[task]
        kernel = np.zeros(dense.kernel.shape, "float32")
        kernel[0, :] = 50.0  # every bit follows the sign of x_0 (|z| >= γ/2 unless x_0 is tiny)
        kernel[1, 1::2] = -90.0
        dense.kernel.assign(kernel)
        dense.bias.assign(np.zeros(dense.bias.shape, "float32"))
    saturated = np.abs(x[:, 0]) > 0.02
    for gate in layer.gate_weights(x):
        gate = _np(gate)[saturated]
        np.testing.assert_allclose(gate.sum(-1), 1.0, atol=1e-6)
        assert ((gate > 0).sum(-1) <= 2).all()
        assert len({tuple(np.flatnonzero(row)) for row in gate}) > 1  # different examples use different experts
    # Before saturation (initial logits near 0) every expert has weight ≈ 1/n.
    fresh = DSelectK(num_tasks=1, num_experts=4, k=2, expert_units=[2])
    np.testing.assert_allclose(_np(fresh.gate_weights(x, 0)), 0.25, atol=0.05)


def test_entropy_regulariser_is_a_training_layer_loss():
    layer = DSelectK(num_tasks=2, num_experts=4, k=3, expert_units=[2], entropy_weight=0.5)
    x = np.random.default_rng(3).normal(size=(6, 5)).astype("float32")
    layer(x, training=False)
    assert len(layer.losses) == 0
    layer(x, training=True)
    (loss,) = layer.losses
    expected = 0.0
    for task in range(2):
        r = _np(layer.selector_outputs(x, task))  # (batch, k, n)
        expected += 0.5 * np.mean(-(r * np.log(r + 1e-6)).sum(axis=(1, 2)))
    assert _np(loss) == pytest.approx(expected, rel=1e-5)
    assert DSelectK(num_tasks=1, num_experts=4, expert_units=[2]).regularization([np.full((2, 4), 0.25, "float32")]) == 0.0


def test_unreachable_codes_are_penalised_when_the_expert_count_is_not_a_power_of_two():
    layer = DSelectK(num_tasks=1, num_experts=3, k=1, expert_units=[2], gating="static")
    x = np.ones((2, 4), "float32")
    layer(x)
    assert layer.selector_weights == [] and len(layer.task_variables(0)) == 1  # one selector: no selector weights
    _set_static_gate(layer, 0, [[-1.0, 1.0]])  # code 01: expert 1, all mass on a real expert
    layer(x, training=True)
    assert _np(layer.losses[0]) == pytest.approx(0.0, abs=1e-6)
    _set_static_gate(layer, 0, [[0.0, 0.0]])  # a quarter of the mass on code 11, which names no expert
    layer(x, training=True)
    assert _np(layer.losses[0]) == pytest.approx(1 / 0.75 - 1, rel=1e-5)
    np.testing.assert_allclose(_np(layer.gate_weights(x, 0)), 0.25, atol=1e-6)


def test_gates_learn_to_select_the_right_expert_and_saturate():
    """Training a static gate toward one expert's output drives it to exactly that expert."""
    keras.utils.set_random_seed(0)
    layer = DSelectK(num_tasks=1, num_experts=4, k=1, expert_units=[3], gating="static", gamma=1.0)
    x = np.random.default_rng(4).normal(size=(32, 5)).astype("float32")
    layer(x)
    for expert in layer.experts:
        expert.trainable = False
    target = _np(layer.experts[2](x))
    optimizer = keras.optimizers.Adam(0.05)
    for _ in range(150):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean((layer(x, task_index=0) - target) ** 2)
        optimizer.apply(tape.gradient(loss, layer.trainable_weights), layer.trainable_weights)
    gate = _np(layer.gate_weights(x, 0))[0]
    np.testing.assert_array_equal(gate, np.eye(4)[2])  # exactly one-hot: the smooth-step saturated


def test_gate_parameters_belong_to_their_task():
    layer = DSelectK(num_tasks=3, num_experts=4, k=2, expert_units=[2])
    x = np.random.default_rng(5).normal(size=(4, 3)).astype("float32")
    layer(x)
    owned = [{id(v) for v in layer.task_variables(i)} for i in range(3)]
    assert all(len(o) == 4 for o in owned) and not (owned[0] & owned[1]) and not (owned[1] & owned[2])
    expert_ids = {id(v) for e in layer.experts for v in e.weights}
    assert not expert_ids & set().union(*owned)
    with tf.GradientTape() as tape:
        out = layer(x, task_index=0)
    grads = tape.gradient(out, layer.task_variables(1) + layer.task_variables(0))
    assert all(g is None for g in grads[:4]) and all(g is not None for g in grads[4:])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="num_experts=1"):
        DSelectK(num_tasks=2, num_experts=1)
    with pytest.raises(ValueError, match="k=0"):
        DSelectK(num_tasks=2, num_experts=4, k=0)
    with pytest.raises(ValueError, match="gating='sparse'"):
        DSelectK(num_tasks=2, num_experts=4, gating="sparse")
    with pytest.raises(ValueError, match="entropy_weight=-1"):
        DSelectK(num_tasks=2, num_experts=4, entropy_weight=-1)
    with pytest.raises(ValueError, match=r"\(batch, features\)"):
        DSelectK(num_tasks=2, num_experts=4)(np.ones((2, 3, 4), "float32"))
