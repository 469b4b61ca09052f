"""Bad input to `Task`, `MultiTaskModel` and its `compile` / `fit` / `evaluate`: clear errors naming what and which."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk

TASKS = [mk.Task("cls", num_classes=2), mk.Task("reg", kind="regression")]
BINARY = [mk.Task("cls", num_classes=2), mk.Task("flag", kind="binary")]


def model(tasks=TASKS, compiled=True, **kwargs):
    body = keras.Sequential([keras.layers.Dense(4, activation="relu")])
    m = mk.MultiTaskModel(tasks, body=body, input_shape=(3,), **kwargs)
    if compiled:
        m.compile(optimizer="sgd")
    return m


def arrays(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, {"cls": (x[:, 0] > 0).astype("int32"), "reg": x[:, 1].copy()}


TASK_CASES = {
    "name starting with a digit": (dict(name="1a"), r"name='1a'"),
    "name with a space": (dict(name="a b"), r"name='a b'"),
    "unknown kind": (dict(name="a", kind="ranking"), r"Task 'a': kind must be one of.*kind='ranking'"),
    "one class": (dict(name="a", num_classes=1), r"Task 'a'.*num_classes=1"),
    "fractional classes": (dict(name="a", num_classes=2.5), r"Task 'a'.*num_classes=2\.5"),
    "num_classes on regression": (dict(name="a", kind="regression", num_classes=3), r"Task 'a'.*num_classes=3"),
    "negative weight": (dict(name="a", num_classes=2, weight=-1), r"Task 'a'.*weight=-1"),
    "NaN weight": (dict(name="a", num_classes=2, weight=float("nan")), r"Task 'a'.*weight=nan"),
    "text weight": (dict(name="a", num_classes=2, weight="big"), r"Task 'a'.*weight='big'"),
    "zero units": (dict(name="a", kind="regression", units=0), r"Task 'a'.*units=0"),
    "scaling a classification": (dict(name="a", num_classes=2, label_scaling="standard"), r"Task 'a'.*label_scaling='standard'"),
    "unknown scaling": (dict(name="a", kind="regression", label_scaling="minmax"), r"Task 'a'.*label_scaling='minmax'"),
    "missing label text": (dict(name="a", num_classes=2, missing_label="none"), r"Task 'a'.*missing_label='none'"),
    "NaN classes": (dict(name="a", num_classes=float("nan")), r"Task 'a': a classification task needs an integer num_classes >= 2\. Received: num_classes=nan"),
    "infinite classes": (dict(name="a", num_classes=float("inf")), r"Task 'a'.*num_classes=inf"),
    "bool classes": (dict(name="a", num_classes=True), r"Task 'a'.*num_classes=True"),
    "NaN units": (dict(name="a", kind="regression", units=float("nan")), r"Task 'a': units must be a positive integer\. Received: units=nan"),
    "bool units": (dict(name="a", kind="binary", units=True), r"Task 'a'.*units=True"),
    # A marker that is also a real label would drop every example of that label from training.
    "missing label is a class id": (dict(name="a", num_classes=3, missing_label=1), r"Task 'a': missing_label is a class id in \[0, 3\).*missing_label=1"),
    "missing label 0 on a binary task": (dict(name="a", kind="binary", missing_label=0), r"Task 'a': missing_label is a binary label.*missing_label=0"),
    "missing label 1.0 on a binary task": (dict(name="a", kind="binary", missing_label=1.0), r"Task 'a': missing_label is a binary label.*missing_label=1\.0"),
    "missing label a list": (dict(name="a", kind="regression", missing_label=[-1]), r"Task 'a': missing_label must be a number or 'nan'\. Received: missing_label=\[-1\]"),
    "missing label a bool": (dict(name="a", num_classes=2, missing_label=False), r"Task 'a'.*missing_label=False"),
    "metrics a string": (dict(name="a", kind="regression", metrics="mae"), r"Task 'a': metrics must be a list.*metrics='mae' \(write metrics=\['mae'\]\)"),
}


@pytest.mark.parametrize("case", sorted(TASK_CASES))
def test_task(case):
    options, message = TASK_CASES[case]
    with pytest.raises(ValueError, match=message):
        mk.Task(**options)


MODEL_CASES = {
    "tasks_per_step 0": (dict(tasks_per_step=0), r"tasks_per_step=0"),
    "tasks_per_step above T": (dict(tasks_per_step=3), r"number of tasks \(2\).*tasks_per_step=3"),
    "tasks_per_step fractional": (dict(tasks_per_step=1.5), r"tasks_per_step=1\.5"),
    "tasks_per_step bool": (dict(tasks_per_step=True), r"tasks_per_step=True"),
    "seed text": (dict(seed="seven"), r"seed='seven'"),
    "unknown sampler": (dict(sampler="unifrom"), r"unifrom"),
    "heads for another number of tasks": (dict(heads=mk.layers.TaskHeads([2, 1, 1])), r"heads was made for 3 tasks.*\['cls', 'reg'\]"),
    "duplicate task names": (dict(tasks=[TASKS[0], TASKS[0]]), r"duplicates: \['cls'\]"),
    "no tasks": (dict(tasks=[]), r"tasks=\[\]"),
}


def test_unknown_loss_name_names_the_task():
    with pytest.raises(ValueError, match=r"Task 'a': unknown loss\. Received: loss='msee'"):
        mk.Task("a", kind="regression", loss="msee").build_loss()


def test_missing_label_outside_the_classes_is_accepted():
    assert mk.Task("a", num_classes=3, missing_label=3).missing_label == 3
    assert mk.Task("a", num_classes=3, missing_label=-1).missing_label == -1
    assert mk.Task("a", kind="binary", missing_label=-1).missing_label == -1


def test_float_nan_missing_label_masks_nan_labels():
    """`missing_label=float("nan")` (or `np.nan`) means what `"nan"` means: NaN labels are masked, not refused."""
    task = mk.Task("reg", kind="regression", missing_label=np.nan)
    assert task.missing_label == "nan" and mk.Task.from_config(task.get_config()) == task
    x, y = arrays()
    labels = y["reg"].copy()
    labels[:3] = np.nan
    m = model([TASKS[0], task])
    history = m.fit(x, {"cls": y["cls"], "reg": labels}, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["reg_loss"][0])
    # Masking NaN labels gives the loss of the known labels alone.
    m2 = model([TASKS[0], mk.Task("reg", kind="regression")])
    m2.set_weights(m.get_weights())
    known = m.evaluate(x, {"cls": y["cls"], "reg": labels}, verbose=0, return_dict=True)["reg_loss"]
    alone = m2.evaluate(x[3:], {"cls": y["cls"][3:], "reg": labels[3:]}, verbose=0, return_dict=True)["reg_loss"]
    np.testing.assert_allclose(known, alone, rtol=1e-5)


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_model_constructor(case):
    options, message = MODEL_CASES[case]
    with pytest.raises(ValueError, match=message):
        model(**{"compiled": False, **options})


def test_unknown_input_dimensions():
    with pytest.raises(ValueError, match=r"unknown dimensions: \(None, None\)"):
        mk.MultiTaskModel(TASKS, input_shape=(None,))


COMPILE_CASES = {
    "unknown weighting": (dict(weighting="pcgard"), r"Unknown weighting strategy: 'pcgard'"),
    "a loss": (dict(loss="mse"), r"loss='mse'"),
    "metrics": (dict(metrics=["mae"]), r"metrics=\['mae'\]"),
    "every weight zero": (dict(weighting=mk.weighting.StaticWeighting([0.0, 0.0])), r"Every task weight is 0.*'cls': 0\.0, 'reg': 0\.0"),
    "a negative weight": (dict(weighting=mk.weighting.StaticWeighting([1.0, -2.0])), r"'reg'.*weight=-2\.0"),
    "weights for other tasks": (dict(weighting=mk.weighting.StaticWeighting({"cls": 1.0, "other": 1.0})), r"\['other'\]"),
    "too few weights": (dict(weighting=mk.weighting.StaticWeighting([1.0])), r"1 weights for 2 tasks"),
}


@pytest.mark.parametrize("case", sorted(COMPILE_CASES))
def test_compile(case):
    options, message = COMPILE_CASES[case]
    with pytest.raises(ValueError, match=message):
        model(compiled=False).compile(optimizer="sgd", **options)


def test_task_weights_all_zero_refused():
    tasks = [mk.Task("cls", num_classes=2, weight=0.0), mk.Task("reg", kind="regression", weight=0.0)]
    with pytest.raises(ValueError, match=r"Every task weight is 0"):
        model(tasks=tasks)


def test_fit_before_compile():
    x, y = arrays()
    with pytest.raises(RuntimeError, match="Call compile"):
        model(compiled=False).fit(mk.data.shared_input_dataset(x, y), verbose=0)


def stream_without_tasks(labels):
    x, y = arrays()
    return mk.data.shared_input_dataset(x, {**y, **labels}, batch_size=4)


STREAM_CASES = {
    "class id out of range": (TASKS, {"cls": np.r_[np.zeros(7), 5].astype("int32")}, r"Task 'cls': labels must be in \[0, 2\)\. Received: label=5"),
    "negative class id": (TASKS, {"cls": np.r_[-1, np.zeros(7)].astype("int32")}, r"Task 'cls'.*label=-1"),
    "fractional class id": (TASKS, {"cls": np.r_[0.5, np.zeros(7)].astype("float32")}, r"Task 'cls'.*integers.*label=0\.5"),
    "binary label 3": (BINARY, {"flag": np.r_[3.0, np.zeros(7)].astype("float32"), "reg": None}, r"Task 'flag': binary labels must be 0 or 1\. Received: label=3\.0"),
    "binary label -1": (BINARY, {"flag": np.r_[-1.0, np.ones(7)].astype("float32"), "reg": None}, r"Task 'flag'.*label=-1\.0"),
    "unknown task": (TASKS, {"other": np.zeros(8)}, r"tasks the model does not have: \['other'\]"),
}


@pytest.mark.parametrize("case", sorted(STREAM_CASES))
def test_fit_checks_a_stream_built_without_tasks(case):
    tasks, labels, message = STREAM_CASES[case]
    labels = {k: v for k, v in labels.items() if v is not None}
    x, y = arrays()
    y = {k: v for k, v in {**y, **labels}.items() if k in labels or k in [t.name for t in tasks]}
    with pytest.raises(ValueError, match=message):
        model(tasks=tasks).fit(mk.data.shared_input_dataset(x, y, batch_size=4), verbose=0)


def foreign(x, y, w=None):
    """A plain tf.data data set of (x, {task: y}[, {task: w}]) batches (not a mtl_keras stream)."""
    parts = (x, y) if w is None else (x, y, w)
    return tf.data.Dataset.from_tensor_slices(parts).batch(4)


PIPELINE_CASES = {
    "class id out of range": (lambda x, y: (x, {**y, "cls": np.r_[np.zeros(7), 9].astype("int32")}), r"Task 'cls': class labels must be integers in \[0, 2\)\. Received: label=9"),
    "fractional class id": (lambda x, y: (x, {**y, "cls": np.r_[1.5, np.zeros(7)].astype("float32")}), r"Task 'cls'.*Received: label=1\.5"),
    "NaN regression label": (lambda x, y: (x, {**y, "reg": np.r_[np.nan, np.zeros(7)].astype("float32")}), r"Task 'reg': regression labels must be finite\. Received: label=nan"),
    "NaN input": (lambda x, y: (np.where(np.arange(8)[:, None] == 6, np.nan, x).astype("float32"), y), r"The inputs must be finite\. Received: x=nan"),
    "inf input": (lambda x, y: (np.where(np.arange(8)[:, None] == 1, np.inf, x).astype("float32"), y), r"The inputs must be finite\. Received: x=inf"),
    "negative sample weight": (
        lambda x, y: (x, y, {"cls": np.r_[np.ones(7), -2].astype("float32"), "reg": np.ones(8, "float32")}),
        r"Task 'cls': sample weights must be finite and >= 0\. Received: sample_weight=-2",
    ),
    "NaN sample weight": (
        lambda x, y: (x, y, {"cls": np.ones(8, "float32"), "reg": np.r_[np.nan, np.ones(7)].astype("float32")}),
        r"Task 'reg': sample weights.*Received: sample_weight=nan",
    ),
}


@pytest.mark.parametrize("case", sorted(PIPELINE_CASES))
@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_a_plain_tf_data_set_is_checked_batch_by_batch(case, method):
    make, message = PIPELINE_CASES[case]
    x, y = arrays()
    data = foreign(*make(x, y))
    m = model()
    with pytest.raises(ValueError, match=message):
        if method == "fit":
            m.fit(data, verbose=0)
        else:
            m.evaluate(data, verbose=0)


def test_a_bad_value_stops_training_before_any_update():
    x, y = arrays()
    m = model()
    before = [v.numpy() for v in m.trainable_variables]
    labels = {**y, "cls": np.r_[np.zeros(7), 4].astype("int32")}
    with pytest.raises(ValueError):
        m.fit(tf.data.Dataset.from_tensor_slices((x, labels)).batch(8), verbose=0)
    for old, var in zip(before, m.trainable_variables):
        np.testing.assert_array_equal(old, var.numpy())


ARRAY_CASES = {
    "labels not a dict": (lambda x, y: (x, y["cls"]), r"labels as a dict.*Received: ndarray"),
    "class id out of range": (lambda x, y: (x, {**y, "cls": np.r_[np.zeros(7), 2].astype("int32")}), r"Task 'cls'.*label=2"),
    "NaN input": (lambda x, y: (np.where(np.arange(8)[:, None] == 0, np.nan, x).astype("float32"), y), r"Task 'cls': the inputs must be finite\. Received: x\[0, 0\]=nan"),
    "unknown task": (lambda x, y: (x, {**y, "other": y["reg"]}), r"\['other'\]"),
    "label count": (lambda x, y: (x, {**y, "reg": y["reg"][:3]}), r"Task 'reg': x has 8 examples but y has 3"),
}


@pytest.mark.parametrize("case", sorted(ARRAY_CASES))
def test_fit_on_arrays(case):
    make, message = ARRAY_CASES[case]
    x, y = make(*arrays())
    with pytest.raises(ValueError, match=message):
        model().fit(x, y, batch_size=4, verbose=0)


def test_representation_weighting_needs_a_shared_input():
    rng = np.random.default_rng(0)
    data = {name: (rng.normal(size=(8, 3)).astype("float32"), y) for name, y in arrays()[1].items()}
    m = mk.MultiTaskModel(TASKS, body=keras.layers.Dense(4), input_shape={"cls": (3,), "reg": (3,)})
    m.compile(weighting=mk.weighting.PCGrad(uses_representation=True))
    with pytest.raises(ValueError, match=r"PCGrad takes gradients with respect to the shared representation"):
        m.fit(mk.data.multitask_dataset(data, batch_size=4), verbose=0)


def test_label_scaling_refuses_non_finite_labels():
    tasks = [mk.Task("reg", kind="regression", label_scaling="standard")]
    m = mk.MultiTaskModel(tasks, input_shape=(3,))
    with pytest.raises(ValueError, match=r"Task 'reg': labels must be finite.*label=inf"):
        m.adapt_label_scaling({"reg": np.array([1.0, np.inf])})


def test_predict_on_inputs_of_unknown_tasks():
    m = mk.MultiTaskModel(TASKS, input_shape={"cls": (3,), "reg": (3,)})
    with pytest.raises(ValueError, match=r"tasks the model does not have: \['other'\]"):
        m.predict({"cls": np.zeros((2, 3)), "other": np.zeros((2, 3))}, verbose=0)


def test_evaluate_reports_nan_not_zero_for_a_task_without_examples():
    x, y = arrays()
    m = model()
    logs = m.evaluate(tf.data.Dataset.from_tensor_slices((x, {"cls": y["cls"]})).batch(4), return_dict=True, verbose=0)
    assert np.isnan(logs["reg_loss"]) and np.isnan(logs["reg_mae"])
    assert np.isfinite(logs["cls_loss"]) and np.isfinite(logs["cls_accuracy"])
    np.testing.assert_allclose(logs["loss"], logs["cls_loss"], rtol=1e-6)  # the objective over the tasks present


def test_terminate_on_nan_task_takes_a_bool():
    with pytest.raises(ValueError, match=r"raise_error must be True or False\. Received: raise_error='no'"):
        mk.callbacks.TerminateOnNaNTask(raise_error="no")  # a truthy string would raise instead of stopping
