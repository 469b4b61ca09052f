import keras
import numpy as np
import pytest

from mtl_keras import Task


def test_defaults_by_kind():
    clf = Task("digit", num_classes=10)
    assert clf.output_units == 10
    assert [m.name for m in clf.build_metrics()] == ["digit_accuracy"]
    assert isinstance(clf.build_metrics()[0], keras.metrics.SparseCategoricalAccuracy)
    binary = Task("odd", kind="binary")
    assert binary.output_units == 1
    assert isinstance(binary.build_metrics()[0], keras.metrics.BinaryAccuracy)
    reg = Task("age", kind="regression", units=2, metrics=["mae", "rmse"])
    assert reg.output_units == 2
    assert [m.name for m in reg.build_metrics()] == ["age_mae", "age_rmse"]


def test_default_losses_work_on_logits():
    clf = Task("digit", num_classes=3).build_loss()
    logits = np.array([[10.0, 0.0, 0.0], [0.0, 0.0, 10.0]], "float32")
    per_example = np.asarray(clf(np.array([0, 0]), logits))
    assert per_example.shape == (2,)
    assert per_example[0] < 1e-3 and per_example[1] > 9.0
    mse = Task("y", kind="regression").build_loss()
    np.testing.assert_allclose(np.asarray(mse(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]]))), [1.0, 9.0])
    huber = Task("y", kind="regression", loss=keras.losses.Huber(delta=2.0)).build_loss()
    np.testing.assert_allclose(np.asarray(huber(np.array([[3.0]]), np.array([[0.0]]))), [2.0 * 3.0 - 2.0], rtol=1e-6)
    named = Task("odd", kind="binary", loss="binary_crossentropy").build_loss()
    np.testing.assert_allclose(np.asarray(named(np.array([[1.0]]), np.array([[0.0]]))), [np.log(2.0)], rtol=1e-5)


def test_config_round_trip_with_objects():
    task = Task("t", kind="binary", loss=keras.losses.BinaryFocalCrossentropy(gamma=3.0, from_logits=True),
                metrics=[keras.metrics.AUC(num_thresholds=50)], weight=0.5, missing_label="nan")
    clone = Task.from_config(task.get_config())
    assert clone == task
    assert clone.loss.get_config()["gamma"] == 3.0
    assert clone.build_metrics()[0].num_thresholds == 50
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(task)) == task


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "1st"}, "name='1st'"),
        ({"name": "a", "kind": "ranking"}, "kind='ranking'"),
        ({"name": "a", "kind": "classification"}, "num_classes=None"),
        ({"name": "a", "num_classes": 1}, "num_classes=1"),
        ({"name": "a", "kind": "regression", "num_classes": 3}, "num_classes=3"),
        ({"name": "a", "kind": "regression", "weight": -1}, "weight=-1"),
        ({"name": "a", "kind": "regression", "weight": float("nan")}, "weight=nan"),
        ({"name": "a", "num_classes": 2, "label_scaling": "standard"}, "label_scaling='standard'"),
        ({"name": "a", "kind": "regression", "label_scaling": "minmax"}, "label_scaling='minmax'"),
        ({"name": "a", "kind": "binary", "units": 0}, "units=0"),
    ],
)
def test_bad_specs(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Task(**kwargs)


def test_check_labels():
    task = Task("digit", num_classes=3, missing_label=-1)
    task.check_labels(np.array([0, 2, -1]))
    with pytest.raises(ValueError, match="Task 'digit'.*label=3"):
        task.check_labels(np.array([0, 3]))
    with pytest.raises(ValueError, match="Task 'digit'.*integers"):
        task.check_labels(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="Task 'odd'.*label=2"):
        Task("odd", kind="binary").check_labels(np.array([0, 2]))
    with pytest.raises(ValueError, match=r"Task 'xy'.*shape=\(4, 3\)"):
        Task("xy", kind="regression", units=2).check_labels(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="Task 'xy'.*empty"):
        Task("xy", kind="regression").check_labels(np.zeros((0,)))
