"""Absent tasks (not sampled, or no labelled example in the batch): no weight, no state update, no learning.

The model marks them with `sampled_i = 0` (loss 0) for loss-level strategies and with a zero row of
the gradient matrix (loss 0) for gradient-level ones.
"""

import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk
from mtl_keras import weighting as W

NUM_TASKS, SIZE, ABSENT = 3, 5, 1


def _make(name):
    strategy = W.STCH(warmup_steps=6) if name == "stch" else W.get(name)  # its nadir moves during warm-up
    strategy.configure([mk.Task(f"t{i}", kind="regression") for i in range(NUM_TASKS)])
    strategy.build((NUM_TASKS, SIZE))
    return strategy


def _step(strategy, step, rng, absent=None):
    grads = rng.normal(size=(NUM_TASKS, SIZE)).astype("float32")
    losses = rng.uniform(0.5, 2.0, size=NUM_TASKS).astype("float32")
    sampled = np.ones(NUM_TASKS, "float32")
    if absent is not None:
        grads[absent], losses[absent], sampled[absent] = 0.0, 0.0, 0.0
    grads, losses, sampled = tf.constant(grads), tf.constant(losses), tf.constant(sampled)
    step = tf.constant(step, tf.int64)
    if strategy.uses_gradients:
        return strategy.combine_gradients(grads, losses, step)
    with tf.GradientTape() as tape:
        tape.watch(losses)
        total, weights = strategy.combine_losses(losses, sampled, step)
    return tape.gradient(total, losses), weights


def _task_slices(value, index):
    """The entries of a state array that belong to task `index` (along every axis of size T)."""
    axes = [a for a, d in enumerate(value.shape) if d == NUM_TASKS]
    return [np.take(value, index, axis=a) for a in axes]


@pytest.mark.parametrize("name", W.WEIGHTINGS.names())
def test_an_absent_task_gets_no_weight_and_keeps_its_state_while_the_others_train(name):
    strategy = _make(name)
    rng = np.random.default_rng(0)
    for step in range(3):
        _step(strategy, step, rng)
    before = [v.numpy().copy() for v in strategy.weights]
    for step in range(3, 8):
        first, weights = _step(strategy, step, rng, absent=ABSENT)
        if strategy.uses_gradients:
            assert np.all(np.isfinite(first.numpy())) and np.any(first.numpy() != 0)  # the others still move
            if name not in ("pcgrad", "gradvac", "graddrop"):  # their weight multiplies a zero row
                assert weights.numpy()[ABSENT] == 0.0, weights
        else:  # the objective does not depend on the absent task's loss
            assert first.numpy()[ABSENT] == 0.0 and np.any(first.numpy() != 0), first
    after = [v.numpy() for v in strategy.weights]
    moved = False
    for variable, old, new in zip(strategy.weights, before, after):
        for old_slice, new_slice in zip(_task_slices(old, ABSENT), _task_slices(new, ABSENT)):
            np.testing.assert_array_equal(new_slice, old_slice, err_msg=f"{name}: {variable.path}")
        for present in (0, 2):
            moved |= any(np.any(a != b) for a, b in zip(_task_slices(old, present), _task_slices(new, present)))
    trainable_only = all(v.trainable for v in strategy.weights)  # uncertainty: moved by an optimizer
    assert moved or not strategy.weights or trainable_only or not strategy.adaptive, (
        f"{name}: the present tasks' state froze"
    )


@pytest.mark.parametrize("name", ["mgda", "imtl", "upgrad", "cagrad", "nash_mtl", "aligned_mtl", "fairgrad", "config"])
def test_a_zero_row_is_the_same_as_a_task_that_does_not_exist(name):
    rng = np.random.default_rng(4)
    grads = rng.normal(size=(3, 6))
    with_absent = grads.copy()
    with_absent[ABSENT] = 0.0
    got = W.get(name)(with_absent).direction.numpy()
    expected = W.get(name)(np.delete(grads, ABSENT, axis=0)).direction.numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9, err_msg=name)


def test_uncertainty_gives_no_gradient_to_an_absent_tasks_log_variance():
    strategy = _make("uncertainty")
    with tf.GradientTape() as tape:
        total, _ = strategy.combine_losses(tf.constant([3.0, 0.0, 2.0]), tf.constant([1.0, 0.0, 1.0]), 0)
    gradient = tape.gradient(total, strategy.log_variances).numpy()
    assert gradient[ABSENT] == 0.0 and np.all(gradient[[0, 2]] != 0.0)


def test_famo_keeps_adapting_the_present_tasks_and_freezes_the_absent_one():
    strategy = _make("famo")
    for step in range(5):
        strategy.combine_losses(tf.constant([1.0, 1.0, 1.0]) * 0.9**step, tf.ones([3]), step)
    frozen = strategy.state.numpy()[:, ABSENT].copy()
    logits = strategy.logits.numpy().copy()
    for step in range(5, 25):  # task 0 improves fast, task 2 slowly, task 1 is absent
        losses = tf.constant([0.6 * 0.8 ** (step - 5), 0.0, 0.6 * 0.99 ** (step - 5)])
        _, weights = strategy.combine_losses(losses, tf.constant([1.0, 0.0, 1.0]), step)
    np.testing.assert_array_equal(strategy.state.numpy()[:, ABSENT], frozen)
    new = strategy.logits.numpy()
    assert new[2] - logits[2] > new[0] - logits[0]  # the slow task gained weight
    assert weights.numpy()[ABSENT] == 0.0
    np.testing.assert_allclose(weights.numpy().sum(), 1.0, rtol=1e-5)


def test_gradnorm_renormalises_the_present_weights_among_themselves():
    strategy = _make(W.GradNorm(alpha=1.0, learning_rate=0.1))
    grads = tf.constant([[10.0, 0.0, 0.0, 0.0, 0.0], [0.0] * 5, [0.0, 1.0, 0.0, 0.0, 0.0]])
    for step in range(10):
        strategy.combine_gradients(
            grads, tf.constant([1.0, 0.0, 1.0]) * (1.0 - 0.02 * step), tf.constant(step, tf.int64)
        )
    weights = strategy.task_weight_values.numpy()
    assert weights[ABSENT] == 1.0
    np.testing.assert_allclose(weights[0] + weights[2], 2.0, rtol=1e-5)
    assert weights[0] < weights[2]
