"""MTAN: masks in (0, 1), the attended-feature recursion, task ownership of the attention modules."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtl_keras.layers import MTAN


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _conv(filters, strides=2):
    return keras.layers.Conv2D(filters, 3, strides=strides, padding="same", activation="relu")


def _layer(num_tasks=3, **kwargs):
    layer = MTAN(num_tasks, [_conv(4), _conv(6), _conv(6, strides=1)], **kwargs)
    x = np.random.default_rng(0).normal(size=(5, 10, 14, 1)).astype("float32")
    layer(x)
    return layer, x


def test_masks_are_in_the_open_unit_interval_with_the_stage_shapes():
    layer, x = _layer()
    features = layer.shared_features(x)
    assert [tuple(f.shape) for f in features] == [(5, 5, 7, 4), (5, 3, 4, 6), (5, 3, 4, 6)]
    for task in range(3):
        masks = [_np(m) for m in layer.attention_masks(x, task)]
        assert [m.shape for m in masks] == [tuple(f.shape) for f in features]
        for mask in masks:
            assert (mask > 0).all() and (mask < 1).all()


def test_output_is_the_pooled_attended_feature_of_the_recursion():
    layer, x = _layer(num_tasks=2)
    p = layer.shared_features(x)
    task = 1
    attended = None
    for j, feature in enumerate(p):
        if j == 0:
            mask = layer.attention[task][0](feature)
        else:
            mask = layer.attention[task][j](keras.ops.concatenate([feature, layer.transfers[j - 1](attended)], axis=-1))
        attended = mask * feature
    np.testing.assert_allclose(_np(layer(x, task_index=task)), _np(attended).mean(axis=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(_np(layer(x)[task]), _np(layer(x, task_index=task)), atol=1e-6)
    unpooled = MTAN(2, [_conv(4)], pooling=None)
    assert tuple(unpooled(x, task_index=0).shape) == (5, 5, 7, 4)
    flat = MTAN(2, [_conv(4)], pooling="flatten")
    assert tuple(flat(x, task_index=1).shape) == (5, 140) and flat.compute_output_shape((None, 10, 14, 1), 1) == (None, 140)


def test_a_task_depends_only_on_the_shared_parameters_and_its_own_attention():
    layer, x = _layer()
    owned = [{id(v) for v in layer.task_variables(i)} for i in range(3)]
    shared = {id(v) for s in layer.stages for v in s.weights} | {id(v) for t in layer.transfers for v in t.weights}
    assert all(owned) and not (owned[0] & owned[1]) and not (owned[0] & owned[2]) and not (owned[1] & owned[2])
    assert not shared & set().union(*owned)
    assert shared | set().union(*owned) == {id(v) for v in layer.weights}

    with tf.GradientTape() as tape:
        out = layer(x, task_index=0, training=True)
    others = layer.task_variables(1) + layer.task_variables(2)
    trainable_own = [v for v in layer.task_variables(0) if v.trainable]
    grads = tape.gradient(out, others + trainable_own + layer.stages[0].trainable_weights)
    assert all(g is None for g in grads[: len(others)])
    assert all(g is not None for g in grads[len(others) :])

    before = [_np(y) for y in layer(x)]
    for v in layer.task_variables(2):
        if v.trainable:
            v.assign(v + 0.5)
    after = [_np(y) for y in layer(x)]
    np.testing.assert_allclose(after[0], before[0], atol=1e-7)
    np.testing.assert_allclose(after[1], before[1], atol=1e-7)
    assert np.abs(after[2] - before[2]).max() > 1e-3


def test_masks_learn_to_switch_channels_off_for_one_task():
    """Task 0's target ignores channel 0 of the feature; its mask on that channel moves toward 0."""
    keras.utils.set_random_seed(0)
    layer = MTAN(1, [keras.layers.Conv2D(2, 1, use_bias=False, trainable=False)], pooling=None)
    x = np.random.default_rng(1).uniform(0.5, 1.5, size=(32, 4, 4, 1)).astype("float32")
    layer(x)
    layer.stages[0].kernel.assign(np.ones((1, 1, 1, 2), "float32"))  # p = (x, x)
    target = np.concatenate([np.zeros_like(x), x], axis=-1)  # keep channel 1, drop channel 0
    optimizer = keras.optimizers.Adam(0.05)
    start = _np(layer.attention_masks(x, 0)[0]).mean(axis=(0, 1, 2))
    for _ in range(60):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean((layer(x, task_index=0, training=True) - target) ** 2)
        optimizer.apply(tape.gradient(loss, layer.trainable_weights), layer.trainable_weights)
    end = _np(layer.attention_masks(x, 0)[0]).mean(axis=(0, 1, 2))
    assert end[0] < 0.2 < start[0] and end[1] > 0.8 > start[1]


def test_bad_stages_are_named():
    with pytest.raises(ValueError, match="stages must be a non-empty list"):
        MTAN(2, [])
    with pytest.raises(ValueError, match="pooling='sum'"):
        MTAN(2, [_conv(2)], pooling="sum")
    with pytest.raises(ValueError, match=r"images \(batch, height, width, channels\)"):
        MTAN(2, [keras.layers.Dense(3)])(np.ones((2, 4), "float32"))
    upsample = keras.layers.UpSampling2D(2)
    with pytest.raises(ValueError, match="integer factor"):
        MTAN(2, [_conv(2), upsample])(np.ones((2, 8, 8, 1), "float32"))
