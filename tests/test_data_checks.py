"""The data checks run before training (`mtl_keras.data.checks`): what passes, what is refused, and
the message (task and value named). The NumPy checks and the `tf.data` structure checks; the
in-pipeline value checks are tested through `fit` in tests/bad_input."""

import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk
from mtl_keras.data import checks

TASKS = [mk.Task("c", num_classes=3), mk.Task("b", kind="binary", units=2), mk.Task("r", kind="regression")]


def test_task_names():
    checks.check_task_names(["c", "b", "r"], TASKS)
    checks.check_task_names(["r", "c", "b"], TASKS)
    checks.check_task_names(["c"], TASKS, training=False)  # evaluation may leave tasks out
    checks.check_task_names(["anything"], None)
    with pytest.raises(ValueError) as info:
        checks.check_task_names(["c", "zz", "b", "aa", "r"], TASKS)
    assert str(info.value) == "Data given for tasks the model does not have: ['aa', 'zz']. Tasks: ['c', 'b', 'r']"
    with pytest.raises(ValueError) as info:
        checks.check_task_names(["b"], TASKS)
    assert str(info.value) == "Tasks with no data: ['c', 'r']. Every task needs data to train."


def test_batch_size():
    assert checks.check_batch_size(1) == 1 and checks.check_batch_size(np.int64(8)) == 8
    assert checks.check_batch_size(4.0) == 4 and isinstance(checks.check_batch_size(4.0), int)
    for bad in (0, -2, 2.5, True, "8", None):
        with pytest.raises(ValueError) as info:
            checks.check_batch_size(bad)
        assert str(info.value) == f"batch_size must be a positive integer. Received: batch_size={bad!r}"
    with pytest.raises(ValueError, match=r"^Task 'c': batch_size must be a positive integer\. Received: batch_size=0$"):
        checks.check_batch_size(0, "c")


def test_fractions():
    assert checks.check_fractions((0.8, 0.2)) == [0.8, 0.2]
    assert checks.check_fractions([1]) == [1.0]
    assert checks.check_fractions(["0.5", 0.5]) == [0.5, 0.5]
    assert checks.check_fractions([0.1] * 10) == pytest.approx([0.1] * 10)  # float round-off tolerated
    with pytest.raises(ValueError, match=r"^fractions must be a list of numbers\. Received: fractions=0\.5$"):
        checks.check_fractions(0.5)
    with pytest.raises(ValueError, match=r"^fractions must be a list of numbers\. Received: fractions=\['a'\]$"):
        checks.check_fractions(["a"])
    with pytest.raises(ValueError, match=r"^fractions must not be empty\. Received: fractions=\[\]$"):
        checks.check_fractions([])
    for bad in ([0.0, 1.0], [1.5, -0.5], [0.5, 1.5], [float("nan"), 1.0], [float("inf")]):
        with pytest.raises(ValueError, match=r"^Every fraction must be in \(0, 1\]\. Received: fractions="):
            checks.check_fractions(bad)
    with pytest.raises(ValueError) as info:
        checks.check_fractions([0.5, 0.4])
    assert str(info.value) == "fractions must sum to 1. Received: fractions=[0.5, 0.4] (sum 0.9)"
    with pytest.raises(ValueError, match="must sum to 1"):
        checks.check_fractions([0.5, 0.5 + 1e-5])


def test_inputs():
    assert checks.num_examples(np.zeros((5, 2))) == 5 and checks.num_examples({"u": np.zeros(3), "v": np.zeros(3)}) == 3
    checks.check_inputs("c", np.zeros((4, 2), "float32"))
    checks.check_inputs("c", np.array([["a"], ["b"]]))  # not floats: nothing to check
    checks.check_inputs("c", np.zeros((0, 2)))
    x = np.zeros((3, 2), "float32")  # any float width
    x[2, 1] = np.inf
    with pytest.raises(ValueError) as info:
        checks.check_inputs("c", x)
    assert str(info.value) == "Task 'c': the inputs must be finite. Received: x[2, 1]=inf"
    with pytest.raises(ValueError) as info:
        checks.check_inputs("c", {"u": np.zeros(3), "v": np.array([0.0, np.nan, 1.0])})
    assert str(info.value) == "Task 'c': the inputs (feature 'v') must be finite. Received: x[1]=nan"
    with pytest.raises(ValueError) as info:
        checks.check_inputs("c", {"u": np.zeros(3), "v": np.zeros(2)})
    assert str(info.value) == "Task 'c': the input features have different numbers of examples: {'u': 3, 'v': 2}"


def test_weights():
    weights = checks.check_weights("c", [1, 0, 2.5], 3)
    assert weights.dtype == np.float32 and weights.tolist() == [1.0, 0.0, 2.5]
    assert checks.check_weights("c", np.ones((2, 1)), 2).shape == (2,)
    with pytest.raises(ValueError) as info:
        checks.check_weights("c", [1, 1], 3)
    assert str(info.value) == "Task 'c': sample_weight has 2 entries for 3 examples."
    with pytest.raises(ValueError) as info:
        checks.check_weights("c", [1, -0.5, np.nan], 3)
    assert str(info.value) == "Task 'c': sample_weight must be finite and >= 0. Received: sample_weight[1]=-0.5"
    with pytest.raises(ValueError) as info:
        checks.check_weights("c", [1, np.inf], 2, what="mask")
    assert str(info.value) == "Task 'c': mask must be finite and >= 0. Received: mask[1]=inf"


def test_task_arrays():
    x = np.zeros((4, 2), "float32")
    assert checks.check_task_arrays("c", x, [0, 1, 2, 0], task=TASKS[0]) is None
    weights = checks.check_task_arrays("c", x, [0, 9, 2, 0], weights=[1, 0, 1, 1], task=TASKS[0])
    assert weights.tolist() == [1.0, 0.0, 1.0, 1.0]  # the masked label 9 is not checked
    checks.check_task_arrays("c", x, [9, 9, 9, 9], weights=[0, 0, 0, 0], task=TASKS[0])  # all masked: allowed
    with pytest.raises(ValueError, match=r"^Task 'c': labels must be in \[0, 3\)\. Received: label=9$"):
        checks.check_task_arrays("c", x, [0, 9, 2, 0], weights=[1, 1, 1, 1], task=TASKS[0])
    with pytest.raises(ValueError, match=r"^Task 'c': labels must be in \[0, 3\)\. Received: label=9$"):
        checks.check_task_arrays("c", x, [0, 9, 2, 0], task=TASKS[0])
    checks.check_task_arrays("c", x, [0, 9, 2, 0])  # no task: sizes and values only
    checks.check_task_arrays("c", x[:1], [0], task=TASKS[0])  # one example is enough
    with pytest.raises(ValueError) as info:
        checks.check_task_arrays("c", x, [0, 1, 2])
    assert str(info.value) == "Task 'c': x has 4 examples but y has 3 labels."
    with pytest.raises(ValueError) as info:
        checks.check_task_arrays("c", np.zeros((0, 2)), [])
    assert str(info.value) == "Task 'c': the data set is empty (x has 0 examples, y has 0)."
    with pytest.raises(ValueError, match=r"^Task 'c': the data set is empty \(x has 2 examples, y has 0\)\.$"):
        checks.check_task_arrays("c", np.zeros((2, 2)), [])
    with pytest.raises(ValueError, match="^Task 'c': sample_weight has 1 entries for 4 examples"):
        checks.check_task_arrays("c", x, [0, 1, 2, 0], weights=[1])
    with pytest.raises(ValueError, match="^Task 'c': the inputs must be finite"):
        checks.check_task_arrays("c", np.full((4, 2), np.nan), [0, 1, 2, 0])


def spec(shape, dtype=tf.float32):
    return tf.TensorSpec(shape, dtype)


def test_element_spec_structure():
    x = spec((None, 5))
    labels = {"c": spec((None,), tf.int32), "b": spec((None, 2)), "r": spec((None, 1))}
    checks.check_element_spec(TASKS, (x, labels), training=True, per_task_input=False)
    checks.check_element_spec(TASKS, (x, labels, {"c": spec((None,))}), training=True, per_task_input=False)
    checks.check_element_spec(TASKS, (x, {"r": labels["r"]}), training=False, per_task_input=False)
    with pytest.raises(ValueError, match=r"^A multi-task model expects a data set of \(x, y\) or \(x, y, sample_weight\) with y a dict by task\."):
        checks.check_element_spec(TASKS, x, training=True, per_task_input=False)
    with pytest.raises(ValueError, match="expects a data set of"):
        checks.check_element_spec(TASKS, (x,), training=True, per_task_input=False)
    with pytest.raises(ValueError, match=r"^Labels must be a dict \{task_name: labels\}\. Received label spec: "):
        checks.check_element_spec(TASKS, (x, spec((None,))), training=True, per_task_input=False)
    with pytest.raises(ValueError) as info:
        checks.check_element_spec(TASKS, (x, {**labels, "zz": spec((None,)), "aa": spec((None,))}), training=True, per_task_input=False)
    assert str(info.value) == "The data has labels for tasks the model does not have: ['aa', 'zz']. Model tasks: ['c', 'b', 'r']"
    with pytest.raises(ValueError) as info:
        checks.check_element_spec(TASKS, (x, {"b": labels["b"]}), training=True, per_task_input=False)
    assert str(info.value) == "Model tasks with no data: ['c', 'r']. Every task needs data to train."
    per_task_x = {"c": x, "b": x}
    checks.check_element_spec(TASKS[:2], (per_task_x, {"c": labels["c"], "b": labels["b"]}), training=True, per_task_input=True)
    with pytest.raises(ValueError) as info:
        checks.check_element_spec(TASKS, (per_task_x, labels), training=True, per_task_input=True)
    assert str(info.value) == "Tasks with labels but no inputs: ['r']."
    with pytest.raises(ValueError, match=r"^Task 'b': labels of shape \(None, 3\) do not fit"):  # each task's labels are checked
        checks.check_element_spec(TASKS, (x, {**labels, "b": spec((None, 3))}), training=True, per_task_input=False)


def test_label_specs():
    clf, binary, reg = TASKS
    for ok in (spec((None,), tf.int64), spec((None, 1), tf.int32), spec((None,)), spec((None, None), tf.int32), spec(None, tf.int32)):
        checks.check_label_spec(clf, ok)
    with pytest.raises(ValueError) as info:
        checks.check_label_spec(clf, spec((None,), tf.string))
    assert str(info.value) == "Task 'c': classification labels must be integer class ids. Received dtype=string"
    for bad in ((None, 3), (None, 1, 1)):
        with pytest.raises(ValueError) as info:
            checks.check_label_spec(clf, spec(bad, tf.int32))
        assert str(info.value) == (
            f"Task 'c': labels must be class ids of shape (batch,) or (batch, 1); got shape {bad}. (One-hot labels? Pass class ids.)"
        )
    for ok in (spec((None, 2)), spec((None, 2), tf.bool), spec((None, 2), tf.int32), spec((None, None)), spec(None)):
        checks.check_label_spec(binary, ok)
    checks.check_label_spec(reg, spec((None,)))
    checks.check_label_spec(reg, spec((None, 1), tf.float64))
    with pytest.raises(ValueError) as info:
        checks.check_label_spec(reg, spec((None,), tf.string))
    assert str(info.value) == "Task 'r': labels must be numeric. Received dtype=string"
    for task, bad in ((binary, (None,)), (binary, (None, 3)), (reg, (None, 2)), (reg, (None, 1, 1))):
        with pytest.raises(ValueError) as info:
            checks.check_label_spec(task, spec(bad))
        units = task.output_units
        assert str(info.value) == (
            f"Task '{task.name}': labels of shape {bad} do not fit a head of {units} unit(s); expected (batch,) or (batch, {units})."
        )


def test_pipeline_errors_become_value_errors():
    def failure(message, value):
        return tf.errors.InvalidArgumentError(None, None, f"assertion failed: [{checks.MARKER} {message}] [{value}]\n\t [[node]]")

    error = checks.as_value_error(failure("Task 'c': class labels must be integers in [0, 3). Received: label=", "7"))
    assert isinstance(error, ValueError) and str(error) == "Task 'c': class labels must be integers in [0, 3). Received: label=7"
    assert str(checks.as_value_error(failure("Task 'r': regression labels must be finite. Received: label=", "inf"))).endswith("label=inf")
    assert str(checks.as_value_error(failure("x=", "2.5"))) == "x=2.5"
    assert str(checks.as_value_error(failure("x=", "3.0"))) == "x=3"
    assert str(checks.as_value_error(failure("x=", "nan"))) == "x=nan"
    assert str(checks.as_value_error(failure("x=", "1e+30"))) == "x=1e+30"
    assert str(checks.as_value_error(failure("x=", " 4 "))) == "x=4"
    assert str(checks.as_value_error(failure("x=", "abc"))) == "x=abc"
    # TensorFlow's printing of a float is tidied to Python's shortest repr; integers stay as printed
    assert str(checks.as_value_error(failure("x=", "1.50"))) == "x=1.5"
    assert str(checks.as_value_error(failure("x=", "0.10000000000000001"))) == "x=0.1"
    assert str(checks.as_value_error(failure("x=", "5e-01"))) == "x=0.5"
    assert str(checks.as_value_error(failure("x=", "-nan"))) == "x=nan"
    assert str(checks.as_value_error(failure("x=", "12345678901234567890"))) == "x=12345678901234567890"
    quoted = tf.errors.InvalidArgumentError(None, None, f"[{checks.MARKER} Task \\'c\\': label=] [1]")
    assert str(checks.as_value_error(quoted)) == "Task 'c': label=1"
    assert checks.as_value_error(RuntimeError("something else")) is None
    assert checks.as_value_error(RuntimeError("[other: message] [1]")) is None
