"""Small training runs, the same on every Keras backend, for the JAX tests (run in a subprocess per backend).

Usage: `KERAS_BACKEND=jax python tests/jax_backend/_cases.py DIR CASE [CASE ...]` writes each case's numbers
(the weights after training, the logs, predictions) to `DIR/<backend>.json`, by case; the tests
compare two backends' files. The cases `save` and `load` write `DIR/<backend>.keras` and load the
file the other backend saved.
"""

import json
import os
import sys

import keras
import numpy as np

import mtl_keras as mk


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    return x, {
        "digit": (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0).astype("int32"),
        "odd": (x[:, 2] > 0).astype("float32"),
        "size": (3.0 * x[:, 3] + 10.0).astype("float32"),
    }


def _tasks():
    return [
        mk.Task("digit", num_classes=3),
        mk.Task("odd", kind="binary"),
        mk.Task("size", kind="regression", label_scaling="standard", weight=0.5),
    ]


def _model(tasks_per_step=None, weighting=None, optimizer="sgd"):
    body = keras.Sequential([keras.layers.Dense(8, activation="tanh")])
    model = mk.MultiTaskModel(_tasks(), body=body, input_shape=(6,), tasks_per_step=tasks_per_step, seed=3)
    _same_start(model)
    opt = keras.optimizers.SGD(0.1) if optimizer == "sgd" else keras.optimizers.Adam(0.01)
    model.compile(optimizer=opt, weighting=weighting)
    return model


def _same_start(model):
    """Sets every trainable variable from NumPy (the backends' initializers draw different numbers)."""
    rng = np.random.default_rng(7)
    for variable in model.trainable_variables:
        variable.assign((0.4 * rng.normal(size=variable.shape)).astype("float32"))


def _summary(model, history, x):
    weights = {v.path: keras.ops.convert_to_numpy(v).tolist() for v in model.trainable_variables}
    predictions = {k: np.asarray(v).tolist() for k, v in model.predict(x[:8], verbose=0).items()}
    logs = {k: [float(a) for a in v] for k, v in history.history.items()}
    task_steps = [int(o.iterations) for o in model.task_optimizers]
    return {"weights": weights, "predictions": predictions, "logs": logs, "iterations": int(model.optimizer.iterations), "task_steps": task_steps}


def shared_stream():
    """Shared input, masked labels, label scaling, every task at every step (a stream of `mtl_keras.data`)."""
    x, y = _data()
    stream = mk.data.shared_input_dataset(x, y, masks={"odd": np.arange(48) % 3 != 0}, batch_size=16, tasks=_tasks(), seed=0)
    model = _model()
    history = model.fit(stream, epochs=2, verbose=0)
    return _summary(model, history, x)


def multi_input_sampled():
    """Multi-input stream, one task of three per step, Adam: tasks left out keep weights and optimizer state."""
    x, y = _data()
    data = {"digit": (x, y["digit"]), "odd": (x[:24], y["odd"][:24]), "size": (x[:30], y["size"][:30])}
    stream = mk.data.multitask_dataset(data, batch_size=8, tasks=_tasks(), seed=0, steps_per_epoch=6)
    model = _model(tasks_per_step=1, optimizer="adam")
    history = model.fit(stream, epochs=2, verbose=0)
    return _summary(model, history, x)


def arrays_sampled():
    """Shared-input arrays given to `fit` (every task has data), two tasks of three drawn per step."""
    x, y = _data()
    model = _model(tasks_per_step=2)
    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return _summary(model, history, x)


def evaluate_arrays():
    """`evaluate` on arrays after a short training: the per-task logs."""
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    logs = model.evaluate(x, y, batch_size=16, return_dict=True, verbose=0)
    return {"logs": {k: float(v) for k, v in logs.items()}}


def loss_level():
    """Loss-level weightings that run on JAX (uncertainty, GLS) on a shared stream."""
    x, y = _data()
    results = {}
    for weighting in ("uncertainty", "gls"):
        stream = mk.data.shared_input_dataset(x, y, batch_size=16, tasks=_tasks(), seed=0)
        model = _model(weighting=weighting)
        history = model.fit(stream, epochs=2, verbose=0)
        results[weighting] = _summary(model, history, x)
    return results


def gradient_level():
    """Gradient-level weightings (per-task gradients): PCGrad, MGDA and CAGrad on a shared stream, one sampled."""
    x, y = _data()
    results = {}
    for weighting, tasks_per_step in (("pcgrad", None), ("mgda", None), ("cagrad", 2)):
        stream = mk.data.shared_input_dataset(x, y, batch_size=16, tasks=_tasks(), seed=0)
        model = _model(tasks_per_step=tasks_per_step, weighting=weighting)
        history = model.fit(stream, epochs=2, verbose=0)
        results[weighting] = _summary(model, history, x)
    return results


#: One small zoo model per sharing family with its own layers (all 23 `test_*_mlp` / `test_*_conv` models
#: were checked equal across backends; these keep the test short).
ZOO = ("test_film_mlp", "test_mmoe_mlp", "test_ple_mlp", "test_cross_stitch_mlp", "test_dselect_k_mlp", "test_soft_sharing_mlp", "test_mtan_conv")


def zoo_models():
    """Zoo models (the sharing layers): predictions after building and after two SGD steps."""
    from mtl_keras import zoo

    rng = np.random.default_rng(0)
    vectors, images = rng.normal(size=(16, 32)).astype("float32"), rng.normal(size=(16, 16, 16, 1)).astype("float32")
    results = {}
    for name in ZOO:
        image = name.endswith("_conv")
        x = images if image else vectors
        y = {"digit": rng.integers(0, 3, size=16), "odd": rng.integers(0, 2, size=16).astype("float32"), "size": rng.normal(size=16).astype("float32")}
        model = zoo.create_model(name, tasks=_tasks(), input_shape=x.shape[1:])
        _same_start(model)
        model.compile(optimizer=keras.optimizers.SGD(0.05))
        before = {k: np.asarray(v).tolist() for k, v in model.predict(x, verbose=0).items()}
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        after = {k: np.asarray(v).tolist() for k, v in model.predict(x, verbose=0).items()}
        results[name] = {"before": before, "after": after}
    return results


def unavailable():
    """The errors of features the running backend does not have: their messages."""
    messages = {}
    for weighting in ("gradnorm", "dwa", mk.weighting.MGDAUB()):
        model = _model()
        try:
            model.compile(optimizer="sgd", weighting=weighting)
            messages[str(weighting)] = None
        except NotImplementedError as error:
            messages[str(weighting)] = str(error)
    import tensorflow as tf

    try:
        with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
            _model()
        messages["tf.distribute"] = None
    except NotImplementedError as error:
        messages["tf.distribute"] = str(error)
    return messages


def save(directory):
    """Trains a sampled model with Adam a little and saves it, with its predictions."""
    x, y = _data()
    model = _model(tasks_per_step=2, optimizer="adam")
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model.save(os.path.join(directory, f"{keras.backend.backend()}.keras"))
    predictions = {k: np.asarray(v).tolist() for k, v in model.predict(x, verbose=0).items()}
    return {"predictions": predictions, "task_steps": [int(o.iterations) for o in model.task_optimizers]}


def load(directory):
    """Loads the other backend's file: its predictions, its optimizer state, and one more epoch of training."""
    other = "tensorflow" if keras.backend.backend() == "jax" else "jax"
    model = keras.models.load_model(os.path.join(directory, f"{other}.keras"))
    x, y = _data()
    predictions = {k: np.asarray(v).tolist() for k, v in model.predict(x, verbose=0).items()}
    loaded_steps = [int(o.iterations) for o in model.task_optimizers]
    history = model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    return {"predictions": predictions, "loaded_task_steps": loaded_steps, "loss": history.history["loss"][-1]}


def export(directory):
    """Trains a little, exports to a SavedModel and serves it with plain `tf.saved_model.load`."""
    import tensorflow as tf

    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    path = mk.export.export_saved_model(model, os.path.join(directory, f"export_{keras.backend.backend()}"), version=1)
    served = tf.saved_model.load(path)
    expected = model.predict(x[:8], verbose=0)
    differences = {}
    for name in model.task_names:
        output = served.signatures[f"serve_{name}"](inputs=tf.constant(x[:8]))[name]
        differences[name] = float(np.abs(output.numpy() - expected[name]).max())
    everything = served.signatures["serving_default"](inputs=tf.constant(x[:8]))
    differences["serving_default"] = max(float(np.abs(everything[n].numpy() - expected[n]).max()) for n in model.task_names)
    return {"differences": differences, "path": path, "tasks": [t["name"] for t in mk.export.read_metadata(path)["tasks"]]}


def data_parallel():
    """`keras.distribution.DataParallel` over the devices (JAX; two forced CPU devices) against one device."""
    x, y = _data()
    results = {}
    for name, kwargs in {"all_tasks": {}, "sampled": {"tasks_per_step": 2, "optimizer": "adam"}}.items():
        keras.distribution.set_distribution(None)
        model = _model(**kwargs)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        single = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
        model = _model(**kwargs)
        start = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
        history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        parallel = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
        results[name] = {
            "difference": max(float(np.abs(a - b).max()) for a, b in zip(single, parallel)),
            "moved": max(float(np.abs(a - b).max()) for a, b in zip(start, parallel)),
            "loss": history.history["loss"][-1],
        }
    keras.distribution.set_distribution(None)
    results["devices"] = len(keras.distribution.list_devices())
    return results


CASES = {
    f.__name__: f
    for f in (
        shared_stream, multi_input_sampled, arrays_sampled, evaluate_arrays, loss_level, gradient_level, zoo_models, unavailable, data_parallel
    )
}
WITH_DIRECTORY = {"save": save, "load": load, "export": export}

if __name__ == "__main__":
    directory = sys.argv[1]
    results = {}
    for case in sys.argv[2:]:
        results[case] = WITH_DIRECTORY[case](directory) if case in WITH_DIRECTORY else CASES[case]()
    name = os.path.join(directory, f"{keras.backend.backend()}{'_load' if 'load' in sys.argv[2:] else ''}.json")
    with open(name, "w") as f:
        json.dump(results, f)
