"""What the diagnostics callbacks share: their own batches, per-task losses and argument checks.

A Keras callback does not see the training batches, so each diagnostic reads its own: a
`mtl_keras.data` stream (read in order, without touching the stream's training position), a
`tf.data.Dataset` of batches `(x, {task: y}[, {task: w}])`, or arrays `(x, {task: y})`.
"""

import keras
import tensorflow as tf

from mtl_keras.data import checks
from mtl_keras.data.multitask import as_inputs
from mtl_keras.training import forward


def check_every(every, name="every", meaning="steps between measurements"):
    """`every` as a positive integer, or a `ValueError` naming the value."""
    if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
        raise ValueError(f"`{name}` must be a positive integer ({meaning}). Received: {name}={every!r}")
    return every


def check_tasks(model, names, what="tasks"):
    """The indices of task `names` in `model`, or a `ValueError` naming the unknown ones."""
    unknown = [n for n in names if n not in model.task_names]
    if unknown:
        raise ValueError(f"Unknown task names in `{what}`: {unknown}. The model's tasks: {model.task_names}")
    return [model.task_names.index(n) for n in names]


def shared_variables(model):
    """The model's shared trainable variables `θ_sh`, or a `ValueError` when it has none."""
    variables = list(model.shared_variables)
    if not variables:
        raise ValueError(
            f"Model '{model.name}' has no shared trainable parameters (body={type(model.body).__name__}): "
            "task affinity and gradient diagnostics measure how tasks interact through shared parameters."
        )
    return variables


def check_data(data, batch_size=64):
    """Raises a `ValueError` unless `data` is a stream, a `tf.data.Dataset` or arrays `(x, {task: y}[, w])`.

    Also checks `batch_size` (used for arrays). Called by the diagnostics' constructors, so a wrong
    argument fails where it is given, not at the first measurement.
    """
    checks.check_batch_size(batch_size)
    stream = getattr(data, "mtl_stream", None) or (data if hasattr(data, "evaluation_dataset") else None)
    if stream is not None or isinstance(data, tf.data.Dataset):
        return
    if isinstance(data, (tuple, list)) and len(data) in (2, 3):
        if not isinstance(data[1], dict) or not data[1]:
            raise ValueError(
                f"`data` arrays must be (x, {{task: y}}): labels as a non-empty dict by task name. Received: y of type {type(data[1]).__name__}"
            )
        if len(data) == 3 and not isinstance(data[2], dict):
            raise ValueError(f"`data` sample weights must be a dict {{task: w}}. Received: {type(data[2]).__name__}")
        return
    raise ValueError(
        "`data` must be a mtl_keras.data stream, a tf.data.Dataset of batches (x, {task: y}) or a tuple "
        f"of arrays (x, {{task: y}}). Received: {type(data).__name__}"
    )


def check_arrays(model, data):
    """Checks arrays `(x, {task: y}[, {task: w}])` against `model`'s tasks: names, sizes, finite values, labels.

    Every task of the model needs labels (each measurement computes every task's loss).
    """
    x, labels = data[0], data[1]
    weights = data[2] if len(data) == 3 else {}
    checks.check_task_names(list(labels), model.tasks, training=True)
    unknown = sorted(set(weights) - set(labels))
    if unknown:
        raise ValueError(f"`data` sample weights name tasks without labels: {unknown}. Tasks: {list(labels)}")
    x = as_inputs(x)
    per_task = isinstance(x, dict) and set(x) == set(model.task_names)  # multi-input: one x per task
    for task in model.tasks:
        inputs = x[task.name] if per_task else x
        checks.check_task_arrays(task.name, inputs, labels[task.name], weights.get(task.name), task)


def batch_iterator(data, batch_size=64, seed=0, model=None):
    """An endless iterator of batches `(x, y, w)` from a stream, a `tf.data.Dataset` or arrays `(x, y)`.

    With `model`, arrays are first checked against its tasks (`check_arrays`).
    """
    check_data(data, batch_size)
    stream = getattr(data, "mtl_stream", None) or (data if hasattr(data, "evaluation_dataset") else None)
    if stream is not None:
        dataset = stream.evaluation_dataset()
    elif isinstance(data, tf.data.Dataset):
        dataset = data
    else:
        if model is not None:
            check_arrays(model, data)
        count = len(keras.tree.flatten(data[0])[0])
        dataset = tf.data.Dataset.from_tensor_slices(tuple(data)).shuffle(count, seed=seed).batch(int(batch_size))
    return iter(dataset.repeat())


def unpack(batch):
    """`(x, y, w)` from a batch of 2 or 3 parts."""
    x, y, w = keras.utils.unpack_x_y_sample_weight(batch)
    return x, y, w


def task_losses(model, x, y, sample_weight=None):
    """Each task's mean masked loss on a batch (inference mode), as a list of `T` scalars.

    Tasks with no labelled example in the batch get 0 (their count is returned alongside).
    """
    if model.is_per_task_input(x):
        features = [lambda i=i, name=name: model.features(x[name], i, training=False) for i, name in enumerate(model.task_names)]
    else:
        shared = model.features(x, None, training=False)
        features = list(shared) if isinstance(shared, (list, tuple)) else [shared] * len(model.tasks)
    outputs = forward.run_tasks(model, model.objective, features, y, sample_weight, None, False)
    counts = [o.count for o in outputs]
    return [tf.math.divide_no_nan(o.loss_sum, o.count) for o in outputs], counts
