import keras
import numpy as np
import pytest

import mtl_keras as mk
from mtl_keras import transfer


class _Snapshots(keras.callbacks.Callback):
    def __init__(self, layers):
        super().__init__()
        self.layers = layers
        self.weights = []
        self.trainable = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([np.array(layer.get_weights()[0]) for layer in self.layers])
        self.trainable.append([layer.trainable for layer in self.layers])


def _fit(tuner, target_data, epochs, schedule, **kwargs):
    d1, d2 = tuner.model.body.layers
    start = [np.array(d1.get_weights()[0]), np.array(d2.get_weights()[0])]
    snapshots = _Snapshots([d1, d2])
    x, y = target_data
    tuner.fit(mk.data.shared_input_dataset(x, y, batch_size=16), epochs=epochs, unfreeze=schedule, callbacks=[snapshots], verbose=0, **kwargs)
    return start, snapshots


def _moved(a, b):
    return not np.allclose(a, b)


def test_schedule_unfreezes_on_time(pretrained, target_data):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2)).compile(learning_rate=1e-2)
    start, snap = _fit(tuner, target_data, 3, {1: ["d2"], 2: ["d1"]})
    assert snap.trainable == [[False, False], [False, True], [True, True]]
    # epoch 0: nothing in the body moves; epoch 1: d2 only; epoch 2: both
    assert not _moved(start[0], snap.weights[0][0]) and not _moved(start[1], snap.weights[0][1])
    assert not _moved(snap.weights[0][0], snap.weights[1][0]) and _moved(snap.weights[0][1], snap.weights[1][1])
    assert _moved(snap.weights[1][0], snap.weights[2][0])


def test_top_down_with_discriminative_rates(pretrained, target_data):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2)).compile(learning_rate=1e-2, decay=2.6)
    start, snap = _fit(tuner, target_data, 4, "top_down", epochs_per_stage=1)
    assert snap.trainable == [[False, False], [False, True], [True, True], [True, True]]
    assert not _moved(start[0], snap.weights[1][0]) and _moved(snap.weights[1][0], snap.weights[2][0])
    rates = sorted(r for r, _ in tuner.model.optimizer.group_optimizers())
    assert rates == pytest.approx([2.6**-2, 2.6**-1, 1.0])


def test_a_resumed_run_starts_with_the_stages_already_due(pretrained, target_data):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2)).compile(learning_rate=1e-2)
    start, snap = _fit(tuner, target_data, 4, {1: ["d2"], 2: ["d1"]}, initial_epoch=2)
    assert snap.trainable == [[True, True], [True, True]]  # epochs 2 and 3: both stages are due
    assert _moved(start[0], snap.weights[0][0]) and _moved(start[1], snap.weights[0][1])


def test_unknown_layer_names_raise(pretrained, target_data):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2)).compile()
    with pytest.raises(ValueError, match="No layer named"):
        _fit(tuner, target_data, 1, {1: ["d2", "conv9"]})


def test_needs_an_optimizer_that_takes_new_variables(pretrained, target_data):
    tuner = transfer.FineTuner(pretrained, mk.Task("t", num_classes=2))
    tuner.model.compile("adam")
    with pytest.raises(ValueError, match="DiscriminativeOptimizer"):
        _fit(tuner, target_data, 1, "top_down")


def test_bad_schedule():
    with pytest.raises(ValueError, match="schedule"):
        transfer.GradualUnfreezing("bottom_up")
    with pytest.raises(ValueError, match="epochs"):
        transfer.GradualUnfreezing({-1: ["d1"]})
