import keras
import numpy as np
import pytest
from transfer_helpers import features, source_labels, trunk

import mtl_keras as mk
from mtl_keras import transfer


def _data(target_data, batch_size=16):
    x, y = target_data
    return mk.data.shared_input_dataset(x, y, batch_size=batch_size)


def _values(layer):
    return [np.array(w) for w in layer.get_weights()]


def test_keeps_body_and_adds_fresh_heads(pretrained, target_data):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2))
    body = tuner.model.body
    assert tuner.model.task_names == ["t"]
    assert body is not pretrained.body  # a copy: the source model is left alone
    for a, b in zip(pretrained.body.get_weights(), body.get_weights()):
        np.testing.assert_array_equal(a, b)
    x, _ = target_data
    np.testing.assert_allclose(body(x), pretrained.body(x), atol=1e-6)
    before = [w.copy() for w in pretrained.get_weights()]
    tuner.compile(learning_rate=1e-2).fit(_data(target_data), epochs=1, verbose=0)
    for a, b in zip(before, pretrained.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_frozen_layers_do_not_change(pretrained, target_data):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2), freeze=1)
    d1, d2 = tuner.model.body.layers
    assert not d1.trainable and d2.trainable
    frozen, free = _values(d1), _values(d2)
    tuner.compile(learning_rate=1e-2).fit(_data(target_data), epochs=2, verbose=0)
    for a, b in zip(frozen, _values(d1)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, b) for a, b in zip(free, _values(d2)))


def test_keep_old_heads_predicts_old_tasks_unchanged(pretrained, target_data):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2), keep_old_heads=True)
    x, _ = target_data
    assert tuner.full_model.task_names == ["s0", "s1", "s2", "t"]
    old = pretrained.predict(x, verbose=0)
    new = tuner.full_model.predict(x, verbose=0)
    for name in old:
        np.testing.assert_allclose(old[name], new[name], atol=1e-5)
    assert new["t"].shape == (len(x), 2)


def test_reinitialize_top_group(pretrained):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2), reinitialize=1)
    d1, d2 = tuner.model.body.layers
    np.testing.assert_array_equal(d1.get_weights()[0], pretrained.body.layers[0].get_weights()[0])
    assert not np.allclose(d2.get_weights()[0], pretrained.body.layers[1].get_weights()[0])


def test_task_specific_body_continues_from_chosen_copy(target_data):
    x, z = features(64, 3)
    labels = source_labels(z)
    body = mk.layers.TaskSpecific(keras.layers.Dense(8, activation="relu"), num_tasks=3)
    model = mk.MultiTaskModel([mk.Task(k, num_classes=2) for k in labels], body=body, input_shape=(12,))
    model.compile("adam")
    model.fit(mk.data.shared_input_dataset(x, labels, batch_size=32), epochs=1, verbose=0)
    tuner = transfer.FineTuner(model, mk.Task("t", num_classes=2), source_task="s2")
    np.testing.assert_allclose(tuner.model.body(x, task_index=0), model.body(x, task_index=2), atol=1e-6)
    owned = {id(v) for v in tuner.model.task_variables(0)}
    assert {id(v) for v in tuner.model.body.layer.copies[2].weights} <= owned
    tuner.compile(learning_rate=1e-3, decay=2.0).fit(_data(target_data), epochs=1, unfreeze="top_down", verbose=0)


@pytest.mark.parametrize("descriptor", ["one_hot", "learned"])
def test_conditioned_body_reuses_source_descriptor(descriptor, target_data):
    x, z = features(64, 4)
    labels = source_labels(z)
    body = mk.layers.SharedWithTaskId(trunk(), num_tasks=3, descriptor=descriptor)
    model = mk.MultiTaskModel([mk.Task(k, num_classes=2) for k in labels], body=body, input_shape=(12,))
    model.compile("adam")
    model.fit(mk.data.shared_input_dataset(x, labels, batch_size=32), epochs=1, verbose=0)
    tuned = transfer.fine_tune(model, mk.Task("t", num_classes=2), _data(target_data), epochs=1, source_task=1, keep_old_heads=True, verbose=0)
    np.testing.assert_allclose(
        tuned.body(x, task_index=3), tuned.body.layer(x, task_index=1), atol=1e-6
    )
    assert set(tuned.predict(x, verbose=0)) == {"s0", "s1", "s2", "t"}


def test_saves_and_reloads(pretrained, target_data, tmp_path):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2), keep_old_heads=True)
    tuner.compile(learning_rate=1e-3, decay=2.6).fit(_data(target_data), epochs=1, unfreeze="top_down", verbose=0)
    x, _ = target_data
    for model in (tuner.model, tuner.full_model):
        path = str(tmp_path / f"{model.name}.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
        expected, got = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
        for name in expected:
            np.testing.assert_allclose(expected[name], got[name], atol=1e-5)
    reloaded = keras.models.load_model(str(tmp_path / f"{tuner.model.name}.keras"))
    assert isinstance(reloaded.optimizer, transfer.DiscriminativeOptimizer)
    assert reloaded.optimizer.rates == tuner.model.optimizer.rates
    reloaded.fit(_data(target_data), epochs=1, verbose=0)


def test_fine_tuning_beats_training_from_scratch():
    x, z = features(2000, 5)
    labels = source_labels(z)
    source = mk.MultiTaskModel([mk.Task(k, num_classes=2) for k in labels], body=trunk(), input_shape=(12,))
    source.compile(keras.optimizers.Adam(3e-3))
    source.fit(mk.data.shared_input_dataset(x, labels, batch_size=64), epochs=4, verbose=0)
    xt, zt = features(24, 6)
    xv, zv = features(1000, 7)
    target = mk.Task("t", num_classes=2)
    train = mk.data.shared_input_dataset(xt, {"t": (zt[:, 0] - zt[:, 2] > 0).astype("int32")}, batch_size=8)
    test = mk.data.shared_input_dataset(xv, {"t": (zv[:, 0] - zv[:, 2] > 0).astype("int32")}, batch_size=500, shuffle=False)
    tuned = transfer.fine_tune(source, target, train, epochs=25, learning_rate=3e-3, verbose=0)
    scratch = mk.MultiTaskModel([target], body=trunk(), input_shape=(12,))
    scratch.compile(keras.optimizers.Adam(3e-3))
    scratch.fit(train, epochs=25, verbose=0)
    tuned_acc = tuned.evaluate(test, verbose=0, return_dict=True)["t_accuracy"]
    scratch_acc = scratch.evaluate(test, verbose=0, return_dict=True)["t_accuracy"]
    assert tuned_acc > scratch_acc + 0.03, (tuned_acc, scratch_acc)


def test_bad_input(pretrained):
    with pytest.raises(ValueError, match="clash"):
        transfer.FineTuner(pretrained, mk.Task("s1", num_classes=2))
    with pytest.raises(ValueError, match="source_task"):
        transfer.FineTuner(pretrained, mk.Task("t", num_classes=2), source_task="nope")
    with pytest.raises(ValueError, match="layer groups"):
        transfer.FineTuner(pretrained, mk.Task("t", num_classes=2)).compile(rates=[1.0, 0.5, 0.25, 0.1])
    with pytest.raises(ValueError, match="must be built"):
        transfer.FineTuner(mk.MultiTaskModel([mk.Task("a", num_classes=2)], body=trunk()), mk.Task("t", num_classes=2))
    with pytest.raises(ValueError, match="No layer named"):
        transfer.FineTuner(pretrained, mk.Task("t", num_classes=2), freeze=["d9"])


@pytest.mark.parametrize("rate", [-1e-3, 0.0, float("nan"), float("inf"), "fast", True])
def test_bad_learning_rate_is_refused(pretrained, rate):
    """A negative rate would silently climb the loss; NaN would wreck the weights."""
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2))
    with pytest.raises(ValueError, match=r"FineTuner\.compile: learning_rate must be a finite number > 0.*learning_rate="):
        tuner.compile(learning_rate=rate)


def test_fine_tunes_a_model_compiled_with_a_stateful_weighting(target_data):
    """The weighting's own state (here DB-MTL's gradient averages) belongs to training, not to the copy."""
    x, z = features(128, 3)
    labels = source_labels(z)
    model = mk.MultiTaskModel([mk.Task(k, num_classes=2) for k in labels], body=trunk(), input_shape=(12,))
    strategy = mk.weighting.DBMTL()
    strategy.build((len(labels), sum(int(np.prod(v.shape)) for v in model.shared_variables)))
    model.compile(keras.optimizers.Adam(3e-3), weighting=strategy)
    model.fit(mk.data.shared_input_dataset(x, labels, batch_size=64), epochs=1, verbose=0)
    assert len(model.weights) > len(model.body.weights) + len(model.heads.weights)  # the strategy's state is tracked
    tuner = transfer.FineTuner(model, mk.Task("t", num_classes=2))
    np.testing.assert_allclose(tuner.model.body(target_data[0]), model.body(target_data[0]), atol=1e-6)
    tuner.compile(learning_rate=1e-2).fit(_data(target_data), epochs=1, verbose=0)
