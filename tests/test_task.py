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


# ---------------------------------------------------------------- the spec's rules, one by one


def test_names():
    for name in ("a", "Z", "a1", "left_digit", "A_1_b"):
        assert Task(name, kind="regression").name == name
    for name in ("", "1a", "_a", "a-b", "a b", "a.b", "é", "a\n", 3, None):
        with pytest.raises(ValueError, match=r"A task name must start with a letter and use only letters, digits and '_'\. Received: name="):
            Task(name, kind="regression")


def test_classes_and_units():
    assert Task("a", num_classes=2.0).num_classes == 2 and isinstance(Task("a", num_classes=2.0).num_classes, int)
    assert Task("a", num_classes=4, units=4).output_units == 4
    for bad in (2.5, 0, -3):
        with pytest.raises(ValueError, match=f"Task 'a': a classification task needs an integer num_classes >= 2. Received: num_classes={bad!r}"):
            Task("a", num_classes=bad)
    with pytest.raises(ValueError, match="Task 'a': give num_classes, not units, for a classification task. Received: units=3"):
        Task("a", num_classes=4, units=3)
    with pytest.raises(ValueError, match="num_classes only applies to classification tasks. Received: num_classes=2 for kind='binary'"):
        Task("a", kind="binary", num_classes=2)
    assert Task("a", kind="binary", units=3).output_units == 3 and Task("a", kind="regression").output_units == 1
    assert Task("a", kind="regression", units=1.0).units == 1
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match=f"Task 'a': units must be a positive integer. Received: units={bad!r}"):
            Task("a", kind="regression", units=bad)


def test_weights():
    assert Task("a", kind="regression", weight=0).weight == 0.0
    assert Task("a", kind="regression", weight="2.5").weight == 2.5
    with pytest.raises(ValueError, match=r"Task 'a': weight must be a number\. Received: weight='heavy'"):
        Task("a", kind="regression", weight="heavy")
    with pytest.raises(ValueError, match=r"Task 'a': weight must be a number\. Received: weight=None"):
        Task("a", kind="regression", weight=None)
    for bad in (float("inf"), float("-inf"), -1e-9):
        with pytest.raises(ValueError, match=r"Task 'a': weight must be finite and >= 0\."):
            Task("a", kind="regression", weight=bad)


def test_label_scaling_and_missing_label_options():
    assert Task("a", kind="regression", label_scaling="standard").label_scaling == "standard"
    with pytest.raises(ValueError, match=r"Task 'a': label_scaling applies to regression tasks only\. Received: label_scaling='standard' for kind='binary'"):
        Task("a", kind="binary", label_scaling="standard")
    with pytest.raises(ValueError, match=r"label_scaling must be one of \(None, 'standard'\)"):
        Task("a", kind="regression", label_scaling="minmax")
    assert Task("a", kind="regression", missing_label="nan").missing_label == "nan"
    assert Task("a", num_classes=2, missing_label=-1).missing_label == -1
    with pytest.raises(ValueError, match=r"Task 'a': missing_label must be a number or 'nan'\. Received: missing_label='NaN'"):
        Task("a", kind="regression", missing_label="NaN")
    with pytest.raises(ValueError, match=r"kind must be one of \('classification', 'binary', 'regression'\)"):
        Task("a", kind="Binary")


def test_losses_from_names_objects_and_callables():
    logits = np.array([[2.0, -1.0, 0.5]], "float32")
    labels = np.array([2])
    expected = -np.log(np.exp(0.5) / np.exp(logits).sum())
    by_name = Task("d", num_classes=3, loss="sparse_categorical_crossentropy").build_loss()
    np.testing.assert_allclose(np.asarray(by_name(labels, logits)), [expected], rtol=1e-5)  # from logits
    default = Task("d", num_classes=3).build_loss()
    np.testing.assert_allclose(np.asarray(default(labels, logits)), [expected], rtol=1e-5)
    binary = Task("b", kind="binary").build_loss()
    per_example = np.asarray(binary(np.array([[0.0], [1.0]]), np.array([[0.0], [0.0]])))
    np.testing.assert_allclose(per_example, [np.log(2.0)] * 2, rtol=1e-5)  # one loss per example, from logits
    probability = Task("p", kind="regression", loss="binary_crossentropy").build_loss()  # regression: not logits
    np.testing.assert_allclose(np.asarray(probability(np.array([[1.0]]), np.array([[0.25]]))), [-np.log(0.25)], rtol=1e-4)
    mae = Task("r", kind="regression", loss="mae").build_loss()  # regression names are used as they are
    np.testing.assert_allclose(np.asarray(mae(np.array([[1.0]]), np.array([[-2.0]]))), [3.0], rtol=1e-6)
    serialized = Task("r", kind="regression", loss=keras.losses.serialize(keras.losses.MeanAbsoluteError())).build_loss()
    np.testing.assert_allclose(np.asarray(serialized(np.array([[1.0]]), np.array([[-2.0]]))), [3.0], rtol=1e-6)

    def custom(y_true, y_raw):
        return y_true - y_raw

    assert Task("r", kind="regression", loss=custom).build_loss() is custom
    with pytest.raises(ValueError, match=r"Task 'r': cannot use this loss\. Received: loss=3"):
        Task("r", kind="regression", loss=3).build_loss()


def test_metrics_from_names_and_objects():
    binary = Task("b", kind="binary", metrics=["acc", "auc", "precision", "recall", "mse", "rmse", "mae"])
    built = binary.build_metrics()
    assert [m.name for m in built] == ["b_acc", "b_auc", "b_precision", "b_recall", "b_mse", "b_rmse", "b_mae"]
    kinds = (keras.metrics.BinaryAccuracy, keras.metrics.AUC, keras.metrics.Precision, keras.metrics.Recall,
             keras.metrics.MeanSquaredError, keras.metrics.RootMeanSquaredError, keras.metrics.MeanAbsoluteError)  # fmt: skip
    assert all(isinstance(m, k) for m, k in zip(built, kinds))
    assert built[0] is not binary.build_metrics()[0]  # fresh objects each time
    given = keras.metrics.AUC(num_thresholds=7, name="area")
    copy = Task("b", kind="binary", metrics=[given]).build_metrics()[0]
    assert copy is not given and copy.name == "b_area" and copy.num_thresholds == 7 and given.name == "area"
    wrapped = Task("r", kind="regression", metrics=["mean_squared_logarithmic_error"]).build_metrics()[0]
    assert wrapped.name == "r_mean_squared_logarithmic_error"
    wrapped.update_state(np.array([[np.e - 1.0]]), np.array([[0.0]]))
    assert float(wrapped.result()) == pytest.approx(1.0, rel=1e-5)  # log(e)² = 1: the named function is used
    with pytest.raises(ValueError, match=r"Task 'r': accuracy is not defined for regression\. Received: metric='accuracy'"):
        Task("r", kind="regression", metrics=["accuracy"]).build_metrics()
    with pytest.raises(ValueError, match=r"Task 'c': auc needs a binary task\. Received: metric='AUC'"):
        Task("c", num_classes=3, metrics=["AUC"]).build_metrics()
    with pytest.raises(ValueError, match=r"Task 'r': unknown metric\. Received: metric='nope'"):
        Task("r", kind="regression", metrics=["nope"]).build_metrics()
    with pytest.raises(ValueError, match=r"Task 'r': metrics must be names or keras.metrics.Metric objects\. Received: metric=3"):
        Task("r", kind="regression", metrics=[3]).build_metrics()
    names = ["mae"]
    task = Task("r", kind="regression", metrics=names)
    names.append("mse")
    assert [m.name for m in task.build_metrics()] == ["r_mae"]  # the task keeps its own list


def test_check_labels_by_kind():
    clf = Task("c", num_classes=3)
    clf.check_labels(np.array([0, 1, 2]))
    clf.check_labels(np.array([[0], [2]]))
    clf.check_labels(np.array([0.0, 1.0, 2.0]))  # whole numbers stored as floats are class ids
    for labels, message in (
        (np.array([-1, 0]), r"labels must be in \[0, 3\)\. Received: label=-1"),
        (np.array([0, 3]), r"labels must be in \[0, 3\)\. Received: label=3"),
        (np.array([0.0, 1.5]), r"classification labels must be integers\. Received: label=1\.5"),
        (np.array(["a", "b"]), "classification labels must be integer class ids. Received dtype=<U1"),
        (np.zeros((2, 2), "int32"), r"expected integer class ids of shape \(n,\) or \(n, 1\)\. Received: shape=\(2, 2\)"),
        (np.zeros((2, 1, 1), "int32"), r"expected integer class ids of shape .*Received: shape=\(2, 1, 1\)"),
    ):
        with pytest.raises(ValueError, match="Task 'c': " + message):
            clf.check_labels(labels)
    Task("c", num_classes=3, missing_label=7).check_labels(np.array([0, 7, 2]))  # the marker is skipped
    Task("c", num_classes=3, missing_label="nan").check_labels(np.array([0.0, np.nan]))
    binary = Task("b", kind="binary", units=2)
    binary.check_labels(np.array([[0, 1], [1, 1], [0, 0]]))
    Task("b", kind="binary", missing_label=-1).check_labels(np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"Task 'b': binary labels must be 0 or 1\. Received: label=-1"):
        binary.check_labels(np.array([[0, -1]]))
    with pytest.raises(ValueError, match=r"Task 'b': labels must have shape \(n,\) or \(n, 2\) to fit the head\. Received: shape=\(3,\)"):
        binary.check_labels(np.array([0, 1, 1]))
    reg = Task("r", kind="regression", missing_label="nan")
    reg.check_labels(np.array([1.0, np.nan, -2.0]))
    Task("r", kind="regression").check_labels(np.array([1, 2, 3]))  # integer labels are numbers
    reg.check_labels(np.zeros((0,)), allow_empty=True)
    with pytest.raises(ValueError, match=r"Task 'r': regression labels must be finite\. Received: label=inf"):
        reg.check_labels(np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match=r"Task 'r': regression labels must be numeric\. Received dtype=<U1"):
        reg.check_labels(np.array(["x"]))
    with pytest.raises(ValueError, match=r"Task 'r': the data set is empty \(no labels\)\."):
        reg.check_labels([])
    with pytest.raises(ValueError, match=r"shape=\(2, 1, 1\)"):
        reg.check_labels(np.zeros((2, 1, 1)))
    with pytest.raises(ValueError, match=r"Received: label=nan"):
        Task("r", kind="regression").check_labels(np.array([np.nan]))  # NaN is missing only when declared


def test_repr_equality_and_hash():
    assert repr(Task("c", num_classes=3)) == "Task('c', kind='classification', num_classes=3, weight=1.0)"
    assert repr(Task("r", kind="regression", weight=2)) == "Task('r', kind='regression', weight=2.0)"
    assert Task("r", kind="regression") == Task("r", kind="regression")
    assert Task("r", kind="regression") != Task("r", kind="regression", weight=2.0)
    assert Task("r", kind="regression") != "r"
    assert len({Task("r", kind="regression"), Task("r", kind="regression"), Task("s", kind="regression")}) == 2
    config = Task("r", kind="regression", loss="mae", metrics=["mse"]).get_config()
    assert config["loss"] == "mae" and config["metrics"] == ["mse"] and config["units"] is None
    assert Task("r", kind="regression").get_config()["metrics"] is None


def test_as_tasks():
    from mtl_keras.task import as_tasks

    one = Task("a", kind="regression")
    assert as_tasks(one) == [one]
    assert as_tasks([one.get_config(), Task("b", num_classes=2)]) == [one, Task("b", num_classes=2)]
    with pytest.raises(ValueError, match=r"^A multi-task model needs at least one Task\. Received: tasks=\[\]$"):
        as_tasks([])
    with pytest.raises(ValueError, match="Expected mtl_keras.Task objects. Received: 'a'"):
        as_tasks([one, "a"])
    with pytest.raises(ValueError, match=r"Task names must be unique\. Received duplicates: \['a', 'b'\]"):
        as_tasks([Task("b", kind="binary"), one, Task("a", kind="binary"), Task("b", kind="regression")])
