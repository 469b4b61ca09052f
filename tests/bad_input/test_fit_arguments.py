"""Bad arguments to `MultiTaskModel(...)`, `compile`, `fit` and `predict` that Keras would take silently or unclearly."""

import keras
import numpy as np
import pytest

import mtl_keras as mk

TASKS = [mk.Task("cls", num_classes=2), mk.Task("reg", kind="regression")]


def model(optimizer="sgd", **kwargs):
    m = mk.MultiTaskModel(TASKS, body=keras.Sequential([keras.layers.Dense(4, activation="relu")]), input_shape=(3,), **kwargs)
    m.compile(optimizer=optimizer)
    return m


def arrays(n=8, width=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, width)).astype("float32")
    return x, {"cls": (x[:, 0] > 0).astype("int32"), "reg": x[:, 1].copy()}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(validation_split=1.5), r"validation_split=1\.5"),
        (dict(validation_split=-0.1), r"validation_split=-0\.1"),
        (dict(steps_per_epoch=0), r"steps_per_epoch=0"),
        (dict(batch_size=0), r"batch_size=0"),
        (dict(batch_size=2.5), r"batch_size=2\.5"),
        (dict(epochs=-1), r"epochs=-1"),
        (dict(class_weight={0: 1.0, 1: 2.0}), r"class_weight is not supported.*Task\(weight=\.\.\.\)"),
    ],
)
def test_fit_arguments_are_checked(kwargs, match):
    m = model()
    x, y = arrays()
    before = [w.copy() for w in m.get_weights()]
    with pytest.raises(ValueError, match=match):
        m.fit(x, y, verbose=0, **kwargs)
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights())), "nothing trains before the error"


@pytest.mark.parametrize(
    "sample_weight, match",
    [
        (-np.ones(8, "float32"), r"Task 'cls': sample_weight must be finite and >= 0\. Received: sample_weight\[0\]=-1\.0"),
        (np.full(8, np.nan, "float32"), r"Task 'cls': sample_weight must be finite"),
        ({"cls": np.ones(8), "zzz": np.ones(8)}, r"sample_weight names tasks with no labels here: \['zzz'\]"),
    ],
)
def test_sample_weight_of_fit_is_checked(sample_weight, match):
    x, y = arrays()
    with pytest.raises(ValueError, match=match):
        model().fit(x, y, sample_weight=sample_weight, epochs=1, verbose=0)


def test_one_sample_weight_array_weights_every_task():
    """A non-dict sample_weight applies to every task, as in Keras: zeros leave the model unchanged."""
    m = model()
    x, y = arrays()
    before = [w.copy() for w in m.get_weights()]
    m.fit(x, y, sample_weight=np.zeros(8, "float32"), epochs=1, batch_size=8, verbose=0)
    assert all(np.allclose(a, b) for a, b in zip(before, m.get_weights()))


@pytest.mark.parametrize("rate", [-0.1, float("nan"), float("inf")])
def test_a_negative_or_non_finite_learning_rate_is_refused_at_compile(rate):
    with pytest.raises(ValueError, match=r"learning rate must be a finite number >= 0.*SGD\(learning_rate="):
        model(optimizer=keras.optimizers.SGD(rate))


def test_a_learning_rate_schedule_is_accepted():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    m = model(optimizer=keras.optimizers.SGD(schedule))
    x, y = arrays()
    m.fit(x, y, epochs=1, verbose=0)


def test_inputs_of_another_width_than_the_model_name_the_task_and_shapes():
    x, y = arrays(width=5)
    with pytest.raises(ValueError, match=r"Task 'cls': inputs of shape \(8, 5\) for a model built for inputs of shape \(None, 3\)"):
        model().fit(x, y, epochs=1, verbose=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_shape=3), r"input_shape must be a tuple of positive integers.*input_shape=3"),
        (dict(input_shape=(-1,)), r"input_shape=\(-1,\)"),
        (dict(input_shape=(0,)), r"input_shape=\(0,\)"),
        (dict(input_shape={"cls": (3,), "zzz": (3,)}), r"input_shape mixes task names with other keys: \['zzz'\] are not tasks"),
        (dict(input_shape={"img": (3,), "meta": 2}), r"input_shape\['meta'\] must be a tuple.*input_shape\['meta'\]=2"),
        (dict(body="dense"), r"body must be a Keras layer or model.*body='dense'"),
    ],
)
def test_construction_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mk.MultiTaskModel(TASKS, **kwargs)


def test_a_dict_of_named_features_is_a_valid_shared_input_shape():
    inputs = {"img": keras.Input((3,), name="img"), "meta": keras.Input((2,), name="meta")}
    body = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Concatenate()([inputs["img"], inputs["meta"]])))
    model = mk.MultiTaskModel(TASKS, body=body, input_shape={"img": (3,), "meta": (2,)})
    assert model.built and model.built_input_shape == {"img": (None, 3), "meta": (None, 2)}


def test_predict_names_unknown_tasks_of_a_multi_input_model_and_refuses_empty_inputs():
    m = mk.MultiTaskModel(TASKS, body=keras.layers.Dense(4), input_shape={"cls": (3,), "reg": (3,)})
    m.compile(optimizer="sgd")
    x = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError, match=r"Inputs given for tasks the model does not have: \['zzz'\]"):
        m.predict({"zzz": x}, verbose=0)
    assert m.predict({"cls": x, "reg": x}, verbose=0)["cls"].shape == (2, 2)
    with pytest.raises(ValueError, match=r"no example \(0 rows\)"):
        model().predict(np.zeros((0, 3), "float32"), verbose=0)
