"""Whole-block sharing layers: soft sharing limits, MMoE gates, CGC/PLE, cross-stitch, the two extremes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras.layers import CGC, PLE, CrossStitch, MMoE, SharedWithTaskId, SoftSharing, TaskSpecific


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _flat(layer):
    return np.concatenate([_np(w).ravel() for w in layer.trainable_weights])


def _set_copies(block, kernels):
    for copy, kernel in zip(block.copies, kernels, strict=True):
        copy.kernel.assign(kernel)


# ---------------------------------------------------------------- soft sharing
@pytest.mark.parametrize("pairing", ["mean", "all_pairs"])
@pytest.mark.parametrize("norm", ["squared_l2", "l2"])
def test_soft_sharing_penalty_closed_form(pairing, norm):
    block = SoftSharing(keras.layers.Dense(1, use_bias=False), num_tasks=3, penalty_weight=0.5, pairing=pairing, norm=norm)
    block.build((None, 2))
    thetas = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]], "float32")
    _set_copies(block, thetas[:, :, None])
    if pairing == "mean":
        diffs = thetas - thetas.mean(axis=0)
    else:
        diffs = np.array([thetas[0] - thetas[1], thetas[0] - thetas[2], thetas[1] - thetas[2]])
    squared = (diffs**2).sum(axis=1)
    distances = squared if norm == "squared_l2" else np.sqrt(squared)
    np.testing.assert_allclose(_np(block.penalty()), 0.5 * distances.sum(), rtol=1e-5)
    np.testing.assert_allclose(_np(block.coupling()), distances.sum(), rtol=1e-5)


def test_soft_sharing_lambda_zero_trains_the_copies_independently():
    block = SoftSharing(keras.layers.Dense(2), num_tasks=2, penalty_weight=0.0)
    x = np.random.default_rng(0).standard_normal((8, 3)).astype("float32")
    block(x)
    assert float(_np(block.penalty())) == 0.0
    with tf.GradientTape() as tape:
        objective = keras.ops.sum(keras.ops.square(block(x, task_index=0))) + block.penalty()
    grads = tape.gradient(objective, block.copies[1].trainable_weights, unconnected_gradients="zero")
    for g in grads:  # task 0's loss plus the penalty does not move task 1's copy
        np.testing.assert_array_equal(_np(g), 0.0)
    with tf.GradientTape() as tape:
        penalty = block.penalty()
    for g in tape.gradient(penalty, block.trainable_weights, unconnected_gradients="zero"):
        np.testing.assert_array_equal(_np(g), 0.0)
    assert np.abs(_np(block.copies[0].kernel) - _np(block.copies[1].kernel)).max() > 1e-2  # the copies do differ


def _train(block, steps, learning_rate):
    """Gradient descent on two regression tasks with different targets, plus the penalty."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3)).astype("float32")
    targets = [x @ np.array([[1.0], [2.0], [0.0]], "float32"), x @ np.array([[-1.0], [0.0], [3.0]], "float32")]
    block(x)
    optimizer = keras.optimizers.SGD(learning_rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = sum(keras.ops.mean(keras.ops.square(block(x, task_index=i) - y)) for i, y in enumerate(targets))
            loss = loss + block.penalty()
        optimizer.apply(tape.gradient(loss, block.trainable_weights), block.trainable_weights)

    for _ in range(steps):
        step()
    return step


def test_soft_sharing_large_lambda_gives_hard_sharing():
    independent = SoftSharing(keras.layers.Dense(1), num_tasks=2, penalty_weight=0.0)
    _train(independent, 200, 0.05)
    gap = np.abs(_flat(independent.copies[0]) - _flat(independent.copies[1])).max()
    assert gap > 1.0  # each copy fits its own task
    coupled = SoftSharing(keras.layers.Dense(1), num_tasks=2, penalty_weight=1e4)
    _train(coupled, 200, 4e-5)  # 2·lr·λ < 1: stable gradient descent on the penalty
    gap = np.abs(_flat(coupled.copies[0]) - _flat(coupled.copies[1])).max()
    assert gap < 1e-3  # numerically one shared set of weights


def test_soft_sharing_lambda_is_settable_without_retracing():
    block = SoftSharing(keras.layers.Dense(2), num_tasks=2, penalty_weight=1.0)
    block(np.ones((1, 3), "float32"))
    traced = []

    @tf.function
    def penalty():
        traced.append(1)
        return block.penalty()

    first = float(penalty())
    block.penalty_weight = 3.0
    assert block.penalty_weight == 3.0
    np.testing.assert_allclose(float(penalty()), 3.0 * first, rtol=1e-5)
    assert len(traced) == 1
    assert block.get_config()["penalty_weight"] == 3.0
    with pytest.raises(ValueError, match="penalty_weight=-0.5"):
        block.penalty_weight = -0.5
    with pytest.raises(ValueError, match="penalty_weight=-1"):
        SoftSharing(keras.layers.Dense(2), num_tasks=2, penalty_weight=-1)
    with pytest.raises(ValueError, match="pairing='ring'"):
        SoftSharing(keras.layers.Dense(2), num_tasks=2, pairing="ring")


def test_soft_sharing_penalty_with_l2_norm_has_finite_gradient_at_equality():
    block = SoftSharing(keras.layers.Dense(1, use_bias=False), num_tasks=2, norm="l2")
    block.build((None, 2))
    _set_copies(block, [np.ones((2, 1), "float32")] * 2)
    with tf.GradientTape() as tape:
        penalty = block.penalty()
    for g in tape.gradient(penalty, block.trainable_weights):
        assert np.all(np.isfinite(_np(g)))


# ---------------------------------------------------------------- the two extremes
def test_task_specific_copies_are_independent_and_task_owned():
    template = keras.layers.Dense(2)
    block = TaskSpecific(template, num_tasks=3)
    x = np.ones((2, 4), "float32")
    outputs = block(x)
    assert not template.built  # the template's weights are never used
    kernels = [_np(c.kernel) for c in block.copies]
    assert not np.allclose(kernels[0], kernels[1])
    np.testing.assert_allclose(_np(outputs[2]), x @ kernels[2] + _np(block.copies[2].bias), atol=1e-6)
    assert block.task_variables(1) == block.copies[1].weights
    with pytest.raises(ValueError, match="task_index=3"):
        block(x, task_index=3)
    with pytest.raises(ValueError, match="Received: 2 inputs"):
        block([x, x])


def test_shared_with_task_id_is_one_network_on_the_concatenation():
    dense = keras.layers.Dense(2)
    block = SharedWithTaskId(dense, num_tasks=3)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    y = _np(block(x, task_index=2))
    hz = np.concatenate([x, np.tile([[0.0, 0.0, 1.0]], (4, 1))], axis=1)
    np.testing.assert_allclose(y, hz @ _np(dense.kernel) + _np(dense.bias), atol=1e-5)
    assert dense.kernel.shape == (8, 2)
    assert all(block.task_variables(i) == [] for i in range(3))  # everything is shared


# ---------------------------------------------------------------- MMoE / CGC / PLE
def test_mmoe_gates_sum_to_one_and_mix_the_experts():
    mmoe = MMoE(num_tasks=3, num_experts=4, expert_units=[5, 2])
    x = np.random.default_rng(0).standard_normal((6, 3)).astype("float32")
    outputs = mmoe(x)
    gates = mmoe.gate_weights(x)
    experts = np.stack([_np(e(x)) for e in mmoe.experts], axis=1)  # (batch, E, units)
    for gate, y in zip(gates, outputs, strict=True):
        gate = _np(gate)
        assert gate.shape == (6, 4)
        np.testing.assert_allclose(gate.sum(axis=-1), 1.0, atol=1e-6)
        assert np.all(gate > 0)
        np.testing.assert_allclose(_np(y), np.einsum("be,beu->bu", gate, experts), atol=1e-5)
    np.testing.assert_allclose(_np(mmoe(x, task_index=1)), _np(outputs[1]), atol=1e-6)
    assert mmoe.task_variables(2) == mmoe.gates[2].weights


def test_expert_counts_are_checked():
    with pytest.raises(ValueError, match="num_experts=0"):
        MMoE(num_tasks=2, num_experts=0)
    with pytest.raises(ValueError, match="num_task_experts=0, num_shared_experts=0"):
        CGC(num_tasks=2, num_task_experts=0, num_shared_experts=0)
    with pytest.raises(ValueError, match="num_levels=0"):
        PLE(num_tasks=2, num_levels=0)
    with pytest.raises(ValueError, match=r"expert_units=\[\]"):
        MMoE(num_tasks=2, num_experts=2, expert_units=[])


def test_cgc_task_gate_mixes_own_and_shared_experts_only():
    cgc = CGC(num_tasks=2, num_task_experts=2, num_shared_experts=1, expert_units=[3])
    x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    y1 = _np(cgc(x, task_index=1))
    gate = _np(keras.ops.softmax(cgc.gates[1](x), axis=-1))
    experts = np.stack([_np(e(x)) for e in cgc.own_experts(1) + cgc.shared_experts], axis=1)
    np.testing.assert_allclose(y1, np.einsum("be,beu->bu", gate, experts), atol=1e-5)
    owned = {v.path for v in cgc.task_variables(1)}
    assert owned == {v.path for e in cgc.own_experts(1) for v in e.weights} | {v.path for v in cgc.gates[1].weights}
    assert not owned & {v.path for v in cgc.shared_experts[0].weights}


def test_ple_levels_and_single_level_equals_cgc():
    ple = PLE(num_tasks=2, num_levels=3, expert_units=[4])
    assert [level.shared_gate for level in ple.levels] == [True, True, False]
    x = np.random.default_rng(0).standard_normal((4, 5)).astype("float32")
    outputs = ple(x)
    np.testing.assert_allclose(_np(ple(x, task_index=1)), _np(outputs[1]), atol=1e-6)
    one = PLE(num_tasks=2, num_levels=1, expert_units=[4])
    one(x)
    cgc = CGC(num_tasks=2, expert_units=[4])
    cgc(x)
    cgc.set_weights(one.levels[0].get_weights())
    for a, b in zip(one(x), cgc(x), strict=True):
        np.testing.assert_allclose(_np(a), _np(b), atol=1e-6)
    with pytest.raises(ValueError, match="one input shared by all tasks"):
        ple([x, x])


# ---------------------------------------------------------------- cross-stitch
def test_cross_stitch_closed_form():
    stitch = CrossStitch(num_tasks=2, self_weight=0.9)
    a = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    b = np.random.default_rng(1).standard_normal((3, 4)).astype("float32")
    ya, yb = stitch([a, b])
    np.testing.assert_allclose(_np(ya), 0.9 * a + 0.1 * b, atol=1e-6)
    np.testing.assert_allclose(_np(yb), 0.1 * a + 0.9 * b, atol=1e-6)
    stitch.alphas[0].assign([0.5, 0.5])
    np.testing.assert_allclose(_np(stitch([a, b], task_index=0)), 0.5 * (a + b), atol=1e-6)
    assert stitch.task_variables(1) == [stitch.alphas[1]]
    with pytest.raises(ValueError, match="same shape"):
        stitch([a, np.ones((3, 5), "float32")])


def test_cross_stitch_per_channel_on_feature_maps():
    stitch = CrossStitch(num_tasks=3, per_channel=True, self_weight=0.8)
    maps = [np.full((2, 2, 2, 3), float(i + 1), "float32") for i in range(3)]
    y0 = _np(stitch(maps, task_index=0))
    np.testing.assert_allclose(y0, 0.8 * 1 + 0.1 * 2 + 0.1 * 3, atol=1e-6)
    stitch.alphas[0].assign(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], "float32"))
    np.testing.assert_allclose(_np(stitch(maps, task_index=0))[0, 0, 0], [1.0, 2.0, 3.0], atol=1e-6)
