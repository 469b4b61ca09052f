"""Inter-task affinity: the lookahead against a closed form, identical vs unrelated tasks, bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtl_keras as mk
from mtl_keras import diagnostics


def _linear_model(tasks, input_dim=5, width=3):
    body = keras.layers.Dense(width, use_bias=False, name="trunk")
    return mk.MultiTaskModel([mk.Task(n, kind="regression") for n in tasks], body=body, input_shape=(input_dim,))


def test_lookahead_matches_the_closed_form_and_restores_the_parameters():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(16, 5)).astype("float32")
    y = {"a": rng.normal(size=16).astype("float32"), "b": rng.normal(size=16).astype("float32")}
    model = _linear_model(["a", "b"])
    model.compile("sgd")
    before = [v.numpy().copy() for v in model.weights]
    lr = 0.3
    z = diagnostics.task_affinity(model, tf.data.Dataset.from_tensors((x, y)), learning_rate=lr)
    for v, w in zip(model.weights, before):
        np.testing.assert_array_equal(v.numpy(), w)  # restored exactly
    trunk = model.body.kernel.numpy().astype("float64")
    heads = [(v.numpy().astype("float64")) for v in model.heads.weights]
    kernels = {n: (heads[2 * i].reshape(-1), float(heads[2 * i + 1].reshape(-1)[0])) for i, n in enumerate("ab")}

    def loss(w, name):
        h, b = kernels[name]
        return np.mean((x @ w @ h + b - y[name]) ** 2)

    def grad(w, name):
        h, b = kernels[name]
        residual = x @ w @ h + b - y[name]
        return 2.0 / len(x) * x.T @ residual[:, None] @ h[None, :]

    expected = np.array([[1 - loss(trunk - lr * grad(trunk, i), j) / loss(trunk, j) for j in "ab"] for i in "ab"])
    np.testing.assert_allclose(z, expected, rtol=2e-3, atol=1e-5)
    assert np.all(np.diag(z) > 0)  # a small step on a task lowers its own loss


def _related_problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(512, 8)).astype("float32")
    w, u = rng.normal(size=8), rng.normal(size=8)
    target = (x @ w).astype("float32")
    labels = {"a": target, "b": target.copy(), "c": np.sin(2 * x @ u).astype("float32")}
    return x, labels


def _fit_with(callbacks, x, labels, epochs=2):
    keras.utils.set_random_seed(0)
    body = keras.Sequential([keras.layers.Dense(16, activation="relu")])
    model = mk.MultiTaskModel([mk.Task(n, kind="regression") for n in labels], body=body, input_shape=(8,))
    model.compile(optimizer=keras.optimizers.SGD(0.05))
    model.fit(mk.data.shared_input_dataset(x, labels, batch_size=64, seed=0), epochs=epochs, callbacks=callbacks, verbose=0)
    return model


def test_identical_tasks_have_higher_affinity_than_unrelated_ones_and_training_is_unchanged():
    x, labels = _related_problem()
    affinity = diagnostics.TaskAffinity((x, labels), every=2, learning_rate=0.05)
    model = _fit_with([affinity], x, labels, epochs=3)
    z = affinity.matrix
    assert affinity.task_names == ["a", "b", "c"] and len(affinity.history) == 12  # 24 steps / 2
    assert z[0, 1] > 0 and z[1, 0] > 0
    assert z[0, 1] > z[0, 2] and z[1, 0] > z[1, 2] and z[0, 1] > z[2, 1]
    grouping = diagnostics.group_tasks(z, 2, affinity.task_names)
    assert any({"a", "b"} <= set(served) for served in grouping.served)  # c's affinities are ≈ 0: it may go either way
    plain = _fit_with([], x, labels, epochs=3)
    for v, w in zip(model.weights, plain.weights):
        np.testing.assert_allclose(v.numpy(), w.numpy(), rtol=1e-6, atol=1e-7)  # the lookahead left no trace


def test_affinity_of_a_subset_of_tasks():
    x, labels = _related_problem()
    model = _fit_with([], x, labels, epochs=1)
    z = diagnostics.task_affinity(model, (x, labels), learning_rate=0.05, tasks=["c", "a"], steps=2)
    full = diagnostics.task_affinity(model, (x, labels), learning_rate=0.05, steps=2)
    np.testing.assert_allclose(z, full[np.ix_([2, 0], [2, 0])], rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("every", [0, -3, 2.5, True])
def test_bad_every(every):
    with pytest.raises(ValueError, match=f"every={every!r}"):
        diagnostics.TaskAffinity((None, None), every=every)


@pytest.mark.parametrize("rate", [0, -0.1, float("nan")])
def test_bad_learning_rate(rate):
    with pytest.raises(ValueError, match="learning_rate"):
        diagnostics.TaskAffinity((None, None), learning_rate=rate)


def test_unknown_task_names():
    model = _linear_model(["a", "b"])
    with pytest.raises(ValueError, match=r"Unknown task names in `tasks`: \['z'\]"):
        diagnostics.task_affinity(model, (np.zeros((4, 5), "float32"), {"a": np.zeros(4), "b": np.zeros(4)}), tasks=["a", "z"])


def test_model_without_shared_parameters():
    model = mk.MultiTaskModel([mk.Task("a", kind="regression"), mk.Task("b", kind="regression")], input_shape=(5,))
    model.compile("sgd")
    with pytest.raises(ValueError, match="no shared trainable parameters"):
        diagnostics.task_affinity(model, (np.zeros((4, 5), "float32"), {"a": np.zeros(4), "b": np.zeros(4)}))
    callback = diagnostics.TaskAffinity((np.zeros((4, 5), "float32"), {"a": np.zeros(4, "float32"), "b": np.zeros(4, "float32")}))
    with pytest.raises(ValueError, match="no shared trainable parameters"):
        model.fit(np.zeros((4, 5), "float32"), {"a": np.zeros(4, "float32"), "b": np.zeros(4, "float32")}, callbacks=[callback], verbose=0)


def test_bad_data():
    model = _linear_model(["a", "b"])
    with pytest.raises(ValueError, match="Received: str"):
        diagnostics.task_affinity(model, "data.csv")


def test_bad_steps():
    model = _linear_model(["a", "b"])
    with pytest.raises(ValueError, match="steps=0"):
        diagnostics.task_affinity(model, (np.zeros((4, 5), "float32"), {"a": np.zeros(4), "b": np.zeros(4)}), steps=0)


def _two_task_arrays(n=8):
    x = np.random.default_rng(0).normal(size=(n, 5)).astype("float32")
    return x, {"a": x[:, 0].copy(), "b": x[:, 1].copy()}


@pytest.mark.parametrize("labels, message", [
    (lambda y: {"a": y["a"]}, r"Tasks with no data: \['b'\]"),
    (lambda y: {**y, "z": y["a"]}, r"tasks the model does not have: \['z'\]"),
    (lambda y: {"a": np.r_[np.nan, y["a"][1:]], "b": y["b"]}, r"Task 'a': regression labels must be finite\. Received: label=nan"),
    (lambda y: {"a": y["a"][:5], "b": y["b"]}, r"Task 'a': x has 8 examples but y has 5 labels"),
])
def test_arrays_are_checked_against_the_model(labels, message):
    """Arrays with missing, unknown or non-finite labels used to fail deep in the compiled probe (or give a NaN matrix)."""
    model = _linear_model(["a", "b"])
    x, y = _two_task_arrays()
    with pytest.raises(ValueError, match=message):
        diagnostics.task_affinity(model, (x, labels(y)))
    model.compile("sgd")
    callback = diagnostics.TaskAffinity((x, labels(y)), every=1)
    with pytest.raises(ValueError, match=message):
        model.fit(x, y, batch_size=4, epochs=1, callbacks=[callback], verbose=0)


def test_class_ids_out_of_range_are_named():
    model = mk.MultiTaskModel([mk.Task("a", num_classes=2), mk.Task("b", kind="regression")], body=keras.layers.Dense(3), input_shape=(5,))
    x, y = _two_task_arrays()
    with pytest.raises(ValueError, match=r"Task 'a': labels must be in \[0, 2\)\. Received: label=5"):
        diagnostics.task_affinity(model, (x, {"a": np.full(8, 5), "b": y["b"]}))


@pytest.mark.parametrize("make", [
    lambda data: diagnostics.TaskAffinity(data),
    lambda data: diagnostics.TrainingDiagnostics("logs", data=data),
])
def test_data_is_checked_when_the_callback_is_made(make):
    with pytest.raises(ValueError, match=r"`data` must be a mtl_keras\.data stream.*Received: NoneType"):
        make(None)
    x, y = _two_task_arrays()
    with pytest.raises(ValueError, match=r"labels as a non-empty dict.*Received: y of type list"):
        make((x, [y["a"], y["b"]]))


def test_bad_batch_size_for_arrays():
    model = _linear_model(["a", "b"])
    with pytest.raises(ValueError, match=r"batch_size must be a positive integer\. Received: batch_size=0"):
        diagnostics.task_affinity(model, _two_task_arrays(), batch_size=0)
